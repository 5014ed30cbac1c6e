"""A job: load, study and/or simulate, write every result file, render the report.

Each job writes into a temporary folder beside its target and swaps it in at
the end (:func:`backtest.io.atomic_dir`), so an interrupted run never leaves a
half-written report and the previous one stays intact until the new one is complete.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from backtest.app.story import build_story
from backtest.data import PricePanel, PriceStore, load_panel
from backtest.eventstudy import StudyConfig, run_study
from backtest.io import atomic_dir, check_output_dir, is_results_dir, write_csv, write_json
from backtest.parallel import serial_map_blocks
from backtest.sim.costs import DEFAULT_INIT_CASH, Costs
from backtest.sim.runs import run_strategy
from events.errors import ConfigError, OutputError, PriceDataError
from events.loader import resolve_calendar
from events.model import Calendar
from events.timing import event_timing
from strategies import Strategy


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


def check_calendar_in_data(calendar: Calendar, panel: PricePanel) -> None:
    """Refuse events whose day 0 lies outside the price data, naming their line."""
    first, last = panel.sessions[0], panel.sessions[-1]
    for i, event in enumerate(calendar):
        day0 = event_timing(event).day0
        if not first <= day0 <= last:
            raise PriceDataError(f"day 0 {day0.date()} is outside the price data "
                                 f"({first.date()} to {last.date()})",
                                 path=event.path or calendar.path, line=event.line,
                                 field=f"events[{i}]")


def write_calendar(calendar: Calendar, out: Path) -> None:
    """events.csv: one row per event (id, time, headline, source, sentiment, tickers)."""
    rows = [{"event_id": e.id, "time": e.time_text, "headline": e.headline, "source": e.source,
             "label": e.sentiment.label, "score": e.sentiment.score,
             "tickers": " ".join(f"{t.ticker}:{t.role}" for t in e.tickers)} for e in calendar]
    write_csv(pd.DataFrame(rows), out / "events.csv")


def run_job(calendar: str | Path | Calendar, out: str | Path, *, do_study: bool = True,
            strategy: Strategy | None = None, config: StudyConfig | None = None,
            costs: Costs | None = None, store: PriceStore | None = None,
            panel: PricePanel | None = None, factor_data: pd.DataFrame | None = None,
            seed_event: str | None = None, title: str | None = None,
            init_cash: float = DEFAULT_INIT_CASH,
            sweep: tuple[pd.DataFrame, list[str], str] | None = None,
            map_blocks=serial_map_blocks, block: int | None = None,
            strict: bool = False, car_from: str = "day-1",
            started: float | None = None) -> Path:
    """Run a study and/or a strategy on a calendar, write every result file, then the report.

    ``config.market`` is the benchmark of the study and of the strategy's metrics.
    ``sweep`` (table, swept parameters, metric) adds ``sweep.csv`` and ``sweep.json``.
    ``panel`` replaces the price store (e.g. prices read from a user's CSV). The
    report is rendered from the written files only (:func:`reports.render_report`),
    so ``backtest report DIR`` can redo it later. ``car_from`` is where the per-ticker CAR
    chart starts (``day-1`` or the window ``start``); ``started`` the time the work began
    (a sweep's, before its combinations ran), for the reported run time.
    """
    started = time.time() if started is None else started
    check_output_dir(out)  # refuse a target that is not ours before doing any work
    cal = resolve_calendar(calendar)
    config = config or StudyConfig()
    if panel is None:
        panel = load_panel(cal, config.market, store, extra=config.factors, strict=strict)
    check_calendar_in_data(cal, panel)
    if seed_event is not None and seed_event not in {e.id for e in cal}:
        raise ConfigError(f"no event {seed_event!r} in the calendar", field="event")
    study_result = (run_study(cal, panel, config, factor_data, map_blocks=map_blocks,
                              **({"block": block} if block else {}))
                    if do_study else None)
    strategy_run = (run_strategy(cal, panel, strategy, costs, init_cash, config.market)
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
                      "benchmark": strategy_run.benchmark,
                      "params_text": strategy_run.params_text,
                      "notes": strategy_run.simulation.notes}
                     if strategy_run is not None else None),
        "report": {"car_from": car_from},
        "run_seconds": round(time.time() - started, 2),
    }
    story = build_story(cal, study_result, strategy_run, seed_event)
    out = Path(out)
    with atomic_dir(out) as tmp:
        write_json(tmp / "run.json", run_info)
        write_json(tmp / "story.json", story)
        write_calendar(cal, tmp)
        if study_result is not None:
            study_result.write(tmp)
        if strategy_run is not None:
            strategy_run.write(tmp)
        if sweep is not None:
            table, params, metric = sweep
            write_csv(table, tmp / "sweep.csv")
            write_json(tmp / "sweep.json", {"params": params, "metric": metric})
        from reports import render_report  # matplotlib loads only when a report is drawn

        render_report(tmp)
    return out


def rerender(results_dir: str | Path) -> Path:
    """Render the report of a results folder again, atomically (``backtest report DIR``)."""
    from reports import render_report

    src = Path(results_dir)
    if not is_results_dir(src) or not (src / "run.json").is_file():
        raise OutputError("not a results folder of this tool (no run.json or marker)",
                          path=str(src))
    with atomic_dir(src) as tmp:
        for f in src.iterdir():
            if f.is_file() and f.suffix in (".csv", ".json"):
                shutil.copy2(f, tmp / f.name)
        render_report(tmp, shown=src)
    return src
