"""Glue for the command line and the Python API: load, study, simulate, write.

Each job writes into a temporary folder beside its target and swaps it in at
the end, so an interrupted run never leaves a half-written report and the
previous one stays intact until the new one is complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from backtest.jsonio import dumps
from backtest.metrics import drawdown, summarize
from backtest.prices import PricePanel, PriceStore
from backtest.simulate import Costs, SimulationResult, simulate
from backtest.study import StudyConfig, StudyResult, run_study
from events.errors import InputError
from events.loader import bundled_calendar_path, load_calendar
from events.model import Calendar
from events.timing import event_timing
from strategies import MarketData, Strategy, StrategyContext


@dataclass
class StrategyRun:
    """A strategy's intents, its simulation and its metrics."""

    strategy: str
    params: dict
    intents: pd.DataFrame
    simulation: SimulationResult
    metrics: dict = field(default_factory=dict)
    data_hash: str = ""


def resolve_calendar(calendar: str | Path | Calendar, roll_non_sessions: bool = False
                     ) -> Calendar:
    """A Calendar, a path to a YAML file, or the name of a bundled calendar ("openai")."""
    if isinstance(calendar, Calendar):
        return calendar
    path = Path(calendar)
    if not path.exists() and path.suffix == "" and bundled_calendar_path(str(calendar)).exists():
        path = bundled_calendar_path(str(calendar))
    return load_calendar(path, roll_non_sessions=roll_non_sessions)


def load_panel(calendar: Calendar, market: str = "SPY", store: PriceStore | None = None,
               extra: tuple[str, ...] = ()) -> PricePanel:
    """Prices for every ticker of the calendar, the market benchmark and ``extra`` tickers."""
    store = store or PriceStore()
    try:
        return store.load([*calendar.tickers, market, *extra])
    except InputError as exc:
        # Name the calendar line that asked for the first missing ticker.
        missing = set(exc.reason.split(" (")[0].removeprefix("no price data for ").split(", "))
        for i, event in enumerate(calendar):
            for j, link in enumerate(event.tickers):
                if link.ticker in missing:
                    raise InputError(exc.reason, path=calendar.path, line=link.line,
                                     field=f"events[{i}].tickers[{j}].ticker") from None
        raise


def check_calendar_in_data(calendar: Calendar, panel: PricePanel) -> None:
    """Refuse events whose day 0 lies outside the price data, naming their line."""
    first, last = panel.sessions[0], panel.sessions[-1]
    for i, event in enumerate(calendar):
        day0 = event_timing(event).day0
        if not first <= day0 <= last:
            raise InputError(f"day 0 {day0.date()} is outside the price data ({first.date()} "
                             f"to {last.date()})", path=calendar.path, line=event.line,
                             field=f"events[{i}]")


def strategy_context(calendar: Calendar, panel: PricePanel) -> StrategyContext:
    """The context a strategy sees: calendar, timings and total-return prices."""
    return StrategyContext(calendar, {e.id: event_timing(e) for e in calendar},
                           MarketData.from_frames(*panel.tr_prices))


def execution_of(strategy: Strategy) -> dict:
    """Simulator options a strategy's parameters select (overlap rule, notional sizing)."""
    p = strategy.params
    return {"overlap": getattr(p, "overlap", "extend"),
            "notional": getattr(p, "sizing", "equal") == "notional"}


def benchmark_returns(panel: PricePanel, ticker: str = "SPY") -> pd.Series | None:
    return panel.returns[ticker] if ticker in panel.tickers else None


def run_strategy(calendar: Calendar, panel: PricePanel, strategy: Strategy,
                 costs: Costs | None = None, init_cash: float = 100_000.0,
                 benchmark: str = "SPY") -> StrategyRun:
    """Ask the strategy for intents and simulate them."""
    intents = strategy.intents(strategy_context(calendar, panel))
    sim = simulate(intents, panel, costs or Costs(), init_cash, **execution_of(strategy))
    return StrategyRun(strategy.name, asdict(strategy.params), intents, sim,
                       summarize(sim, benchmark_returns(panel, benchmark)), panel.data_hash)


@contextmanager
def atomic_dir(target: Path):
    """Yield a temporary folder; on success it replaces ``target`` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the report should not be
    try:
        yield tmp
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
        tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, float_format="%.10g")


def write_study(result: StudyResult, out: Path) -> None:
    """ar, car, caar, tests, estimates, skipped, quality and timing CSVs."""
    for name in ("ar", "car", "caar", "tests", "estimates", "skipped", "quality"):
        _csv(getattr(result, name), out / f"{name}.csv")
    result.timing.to_csv(out / "timing.csv", index=False)


def versions() -> dict[str, str]:
    """Versions of this package and of the libraries that change numbers."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("event-backtester", "vectorbt", "pandas", "numpy", "scipy",
                 "exchange_calendars"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def per_event(trades: pd.DataFrame) -> pd.DataFrame:
    """P&L per (event, ticker): entry, exit, return, pnl and costs (fees + borrow)."""
    cols = ["event_id", "ticker", "direction", "entry_time", "exit_time", "return", "pnl",
            "fees", "borrow"]
    out = trades[cols].copy()
    out["costs"] = out["fees"] + out["borrow"]
    return out


def write_strategy(run: StrategyRun, out: Path, benchmark: pd.Series | None = None) -> None:
    """metrics.json, trades.csv, per_event.csv, equity.csv, intents.csv.

    equity.csv: date, equity, drawdown and, with a benchmark, its buy-and-hold
    value from the same initial cash (e.g. SPY, total return).
    """
    sim = run.simulation
    _csv(sim.trades, out / "trades.csv")
    _csv(per_event(sim.trades), out / "per_event.csv")
    _csv(run.intents, out / "intents.csv")
    frame = pd.DataFrame({"equity": sim.equity, "drawdown": drawdown(sim.equity)})
    if benchmark is not None:
        b = benchmark.reindex(sim.equity.index).fillna(0.0)
        frame["benchmark"] = sim.init_cash * (1.0 + b).cumprod()
    frame.rename_axis("date").to_csv(out / "equity.csv", float_format="%.10g")
    (out / "metrics.json").write_text(dumps(
        {"strategy": run.strategy, "params": run.params, "metrics": run.metrics,
         "data_hash": run.data_hash}))


def write_calendar(calendar: Calendar, out: Path) -> None:
    """events.csv: one row per event (id, time, headline, source, sentiment, tickers)."""
    rows = [{"event_id": e.id, "time": e.time_text, "headline": e.headline, "source": e.source,
             "label": e.sentiment.label, "score": e.sentiment.score,
             "tickers": " ".join(f"{t.ticker}:{t.role}" for t in e.tickers)} for e in calendar]
    _csv(pd.DataFrame(rows), out / "events.csv")


def run_job(calendar: str | Path | Calendar, out: str | Path, *, do_study: bool = True,
            strategy: Strategy | None = None, config: StudyConfig | None = None,
            costs: Costs | None = None, store: PriceStore | None = None,
            panel: PricePanel | None = None, factor_data: pd.DataFrame | None = None,
            seed_event: str | None = None, title: str | None = None,
            init_cash: float = 100_000.0,
            sweep: tuple[pd.DataFrame, list[str], str] | None = None, client=None,
            block: int | None = None) -> Path:
    """Run a study and/or a strategy on a calendar, write every result file, then the report.

    ``sweep`` (table, swept parameters, metric) adds ``sweep.csv`` and ``sweep.json``.

    ``panel`` replaces the price store (e.g. prices read from a user's CSV). The
    report is rendered from the written files only (:func:`reports.render_report`),
    so ``backtest report DIR`` can redo it later.
    """
    from reports import render_report  # reports renders; it is only needed here

    started = time.time()
    cal = resolve_calendar(calendar)
    config = config or StudyConfig()
    if panel is None:
        panel = load_panel(cal, config.market, store, extra=config.factors)
    check_calendar_in_data(cal, panel)
    if seed_event is not None and seed_event not in {e.id for e in cal}:
        raise InputError(f"no event {seed_event!r} in the calendar", field="event")
    study_result = (run_study(cal, panel, config, factor_data, client=client,
                              **({"block": block} if block else {}))
                    if do_study else None)
    strategy_run = (run_strategy(cal, panel, strategy, costs, init_cash)
                    if strategy is not None else None)
    run_info = {
        "title": title or f"{cal.name} event study",
        "calendar": cal.name, "calendar_path": cal.path,
        "data_hash": panel.data_hash, "data_source": panel.source_text(),
        "data_sources": dict(sorted(panel.sources.items())),
        "data_range": f"{panel.sessions[0].date()} to {panel.sessions[-1].date()}",
        "seed_event": seed_event or max(cal, key=lambda e: event_timing(e).day0).id,
        "versions": versions(),
        "study": study_result.settings() if study_result is not None else None,
        "strategy": ({"name": strategy_run.strategy, "params": strategy_run.params,
                      "costs": asdict(strategy_run.simulation.costs),
                      "init_cash": strategy_run.simulation.init_cash,
                      "notes": strategy_run.simulation.notes}
                     if strategy_run is not None else None),
        "run_seconds": round(time.time() - started, 2),
    }
    out = Path(out)
    with atomic_dir(out) as tmp:
        (tmp / "run.json").write_text(dumps(run_info))
        write_calendar(cal, tmp)
        if study_result is not None:
            write_study(study_result, tmp)
        if strategy_run is not None:
            write_strategy(strategy_run, tmp, benchmark_returns(panel))
        if sweep is not None:
            table, params, metric = sweep
            _csv(table, tmp / "sweep.csv")
            (tmp / "sweep.json").write_text(dumps({"params": params, "metric": metric}))
        render_report(tmp)
    return out


def rerender(results_dir: str | Path) -> Path:
    """Render the report of a results folder again, atomically (``backtest report DIR``)."""
    from reports import render_report

    src = Path(results_dir)
    if not (src / "run.json").is_file():
        raise InputError("not a results folder (no run.json)", path=str(src))
    with atomic_dir(src) as tmp:
        for f in src.iterdir():
            if f.is_file() and f.suffix in (".csv", ".json"):
                shutil.copy2(f, tmp / f.name)
        render_report(tmp)
    return src
