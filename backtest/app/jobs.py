"""A job: load, study and/or simulate, write every result file, render the report.

Each job writes into a temporary folder beside its target and swaps it in at
the end (:func:`backtest.io.atomic_dir`), so an interrupted run never leaves a
half-written report and the previous one stays intact until the new one is complete.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from backtest.app.story import build_story
from backtest.data import DEFAULT_MARKET, PricePanel, PriceStore, load_panel
from backtest.eventstudy import StudyConfig, run_study
from backtest.io import (
    TABLE_FORMATS,
    atomic_dir,
    check_output_dir,
    is_results_dir,
    write_csv,
    write_json,
)
from backtest.parallel import local_map_blocks
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


def strategy_factors(panel: PricePanel, config: StudyConfig,
                     factor_data: pd.DataFrame | None) -> pd.DataFrame | None:
    """The factors of the calendar-time regression beside the benchmark: the study's
    factor tickers (``config.factors``) and a factor file's columns, when given."""
    frames = [panel.returns[list(config.factors)]] if config.factors else []
    if factor_data is not None:
        frames.append(factor_data)
    return pd.concat(frames, axis=1) if frames else None


def write_sweep(folder: Path, result, inference) -> None:
    """sweep.csv, sweep.json (with the inference figures), pbo_logits.csv and, with a
    walk-forward, walkforward.csv."""
    write_csv(result.table, folder / "sweep.csv")
    wf = inference.walkforward
    write_json(folder / "sweep.json", {
        "params": result.params, "metric": inference.metric, "best": inference.best,
        "inference": inference.as_metrics(),
        "reasons": {"pbo": inference.overfitting.reason,
                    "reality_check": inference.reality.reason},
        "luck": inference.luck(),
        "walk_forward": None if wf is None else {
            "folds": len(wf.folds), "best_in_sample": wf.best,
            "out_of_sample": asdict(wf.out_of_sample), "in_sample": asdict(wf.in_sample)}})
    write_csv(pd.DataFrame({"logit": inference.overfitting.logits}), folder / "pbo_logits.csv")
    if wf is not None:
        write_csv(wf.folds, folder / "walkforward.csv")


def run_job(calendar: str | Path | Calendar, out: str | Path, *, do_study: bool = True,
            strategy: Strategy | None = None, config: StudyConfig | None = None,
            costs: Costs | None = None, store: PriceStore | None = None,
            panel: PricePanel | None = None, factor_data: pd.DataFrame | None = None,
            seed_event: str | None = None, title: str | None = None,
            init_cash: float = DEFAULT_INIT_CASH,
            sweep: tuple | None = None,
            map_blocks=local_map_blocks, block: int | None = None,
            strict: bool = False, car_from: str = "day-1",
            started: float | None = None, explain: tuple[str, ...] = (),
            table_format: str = "parquet") -> Path:
    """Run a study and/or a strategy on a calendar, write every result file, then the report.

    ``config.market`` is the benchmark of the study and of the strategy's metrics.
    ``sweep`` (a :class:`~backtest.sim.sweeps.SweepResult` and its
    :class:`~backtest.sim.sweeps.SweepInference`) adds ``sweep.csv``, ``sweep.json``
    (parameters, metric and the inference figures, also in ``metrics.json``),
    ``pbo_logits.csv`` and, with a walk-forward, ``walkforward.csv``.
    ``panel`` replaces the price store (e.g. prices read from a user's CSV). The
    report is rendered from the written files only (:func:`reports.render_report`),
    so ``backtest report DIR`` can redo it later. ``car_from`` is where the per-ticker CAR
    chart starts (``day-1`` or the window ``start``); ``started`` the time the work began
    (a sweep's, before its combinations ran), for the reported run time.
    ``table_format`` ("parquet" or "csv"): the format of the per-pair tables (ar, car,
    estimates, timing; :meth:`StudyResult.write`); the small tables are CSV either way.
    """
    started = time.time() if started is None else started
    if table_format not in TABLE_FORMATS:
        raise ConfigError(f"format must be one of {', '.join(TABLE_FORMATS)}, got "
                          f"{table_format!r}", field="format")
    check_output_dir(out)  # refuse a target that is not ours before doing any work
    cal = resolve_calendar(calendar)
    config = config or StudyConfig()
    if panel is None:
        panel = load_panel(cal, config.market, store, extra=config.factors, strict=strict)
    check_calendar_in_data(cal, panel)
    if seed_event is not None and seed_event not in {e.id for e in cal}:
        raise ConfigError(f"no event {seed_event!r} in the calendar", field="event")
    out = Path(out)
    # The study runs inside the folder being built: its blocks write the AR table's parquet
    # parts there themselves (on a cluster, each worker its own), so no per-pair-day row
    # is gathered here; a failure leaves nothing (atomic_dir removes the folder).
    with atomic_dir(out) as tmp:
        parts = tmp / "ar.parquet" if do_study and table_format == "parquet" else None
        study_result = (run_study(cal, panel, config, factor_data, map_blocks=map_blocks,
                                  explain=explain, ar_parts=parts,
                                  **({"block": block} if block else {}))
                        if do_study else None)
        if study_result is not None and any(e.chains for e in cal):
            from backtest.chains import chain_event_study

            study_result.chains, chain_skipped = chain_event_study(cal, panel, config, factor_data,
                                                                   map_blocks)
            if len(chain_skipped):  # a chain security skipped (its members' are already listed)
                study_result.skipped = pd.concat([study_result.skipped, chain_skipped],
                                                 ignore_index=True)
        strategy_run = (run_strategy(cal, panel, strategy, costs, init_cash, config.market,
                                     factors=strategy_factors(panel, config, factor_data))
                        if strategy is not None else None)
        if sweep is not None and strategy_run is not None:
            strategy_run.metrics.update(sweep[1].as_metrics())
        run_info = {
            "title": title or f"{cal.name} event study",
            "calendar": cal.name, "calendar_path": cal.path,
            "data_hash": panel.data_hash, "data_source": panel.source_text(),
            "data_sources": dict(sorted(panel.sources.items())),
            "data_range": f"{panel.sessions[0].date()} to {panel.sessions[-1].date()}",
            # an abnormal-volume study depends on the volume too (data_hash: the prices)
            **({"volume_hash": panel.volume_hash, "measure": "abnormal log volume"}
               if do_study and config.measure == "volume" else {}),
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
            **({"explain": list(explain)} if explain else {}),
            "run_seconds": round(time.time() - started, 2),
        }
        story = build_story(cal, study_result, strategy_run, seed_event, sweep)
        write_json(tmp / "run.json", run_info)
        write_json(tmp / "story.json", story)
        write_calendar(cal, tmp)
        if study_result is not None:
            study_result.write(tmp, table_format)
        if strategy_run is not None:
            strategy_run.write(tmp)
        if sweep is not None:
            write_sweep(tmp, *sweep)
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
            if f.is_file() and f.suffix in (".csv", ".json", ".parquet"):
                shutil.copy2(f, tmp / f.name)
            elif f.suffix == ".parquet" and f.is_dir() and not f.is_symlink():
                # a table written as parts (ar.parquet): its parts, nothing else in it
                (tmp / f.name).mkdir()
                for part in f.glob("part-*.parquet"):
                    if part.is_file() and not part.is_symlink():
                        shutil.copy2(part, tmp / f.name / part.name)
        kind = json.loads((src / "run.json").read_text()) or {}
        if "chains" in kind:
            from reports.chains import render_chains_report

            render_chains_report(tmp, shown=src)
        elif "intraday" in kind:
            from reports.intraday import render_intraday_report

            render_intraday_report(tmp, shown=src)
        elif "intraday_run" in kind:
            from reports.intraday import render_intraday_run_report

            render_intraday_run_report(tmp, shown=src)
        else:
            render_report(tmp, shown=src)
    return src


def chains_job(chains: list, out: str | Path, *, store: PriceStore | None = None,
               panel: PricePanel | None = None, benchmark: str = DEFAULT_MARKET,
               start: str | None = None, end: str | None = None,
               calendar: Calendar | None = None, window: tuple[int, int] = (0, 1),
               started: float | None = None):
    """Compare chains (:func:`backtest.chains.compare_chains`) and write ``chains.csv``,
    ``chain_members.csv``, ``chain_index.csv``, ``run.json`` and the report into ``out``.
    Returns (folder, comparison)."""
    from backtest.chains import compare_chains

    started = time.time() if started is None else started
    check_output_dir(out)
    tickers = [t for c in chains for t in c.tickers]
    if panel is None:
        store = store or PriceStore()
        panel = store.load([*dict.fromkeys(tickers), benchmark])
    comparison = compare_chains(chains, panel, benchmark, start, end, calendar, window)
    names = [c.name for c in chains]
    spread = f"{names[0]} - {names[1]}" if len(names) >= 2 else None
    rebalance = {c.rebalance for c in chains}
    run_info = {
        "title": f"Chains: {' vs '.join(names)}",
        "data_hash": panel.data_hash, "data_source": panel.source_text(),
        "data_sources": dict(sorted(panel.sources.items())),
        "data_range": f"{comparison.lines.index[0].date()} to {comparison.lines.index[-1].date()}",
        "versions": versions(),
        "chains": {
            "names": names, "benchmark": benchmark, "spread": spread,
            "calendar": comparison.calendar,
            "window": (f"[{_day_text(window[0])}, {_day_text(window[1])}]"
                       if comparison.calendar else None),
            "rebalance_text": ("held as bought and rebalanced only when a member joins or "
                               "leaves" if rebalance == {"none"} else
                               "rebalanced to its weights every day" if rebalance == {"daily"}
                               else "each with its own rebalancing (see below)"),
            "definitions": [{"name": c.name, "weighting": c.weighting,
                             "rebalance": ("buy and hold" if c.rebalance == "none"
                                           else "daily"),
                             "description": c.description, "path": _chain_source(c.path),
                             "members": [_member_text(m) for m in c.members]}
                            for c in chains],
            "notes": comparison.notes,
        },
        "run_seconds": round(time.time() - started, 2),
    }
    out = Path(out)
    with atomic_dir(out) as tmp:
        write_json(tmp / "run.json", run_info)
        write_csv(comparison.table, tmp / "chains.csv")
        write_csv(comparison.members, tmp / "chain_members.csv")
        write_csv(comparison.lines.reset_index(), tmp / "chain_index.csv")
        from reports.chains import render_chains_report

        render_chains_report(tmp)
    return out, comparison


def _member_text(member) -> str:
    """``CRWV (from 2025-03-28)``, ``MSFT 0.2 (until 2026-01-30)``."""
    dates = " and ".join(f"{word} {day}" for word, day in (("from", member.start),
                                                          ("until", member.end)) if day)
    weight = "" if member.weight == 1.0 else f" {member.weight:g}"
    return f"{member.ticker}{weight}" + (f" ({dates})" if dates else "")


def _day_text(k: int) -> str:
    return "0" if k == 0 else f"{k:+d}"


def _chain_source(path: str | None) -> str | None:
    """A bundled chain by its name (the same on every machine), a user's by its path."""
    from events.files import bundled_path

    if path is not None and Path(path) == bundled_path("chain", Path(path).stem):
        return f"bundled events/chains/{Path(path).name}"
    return path


def _local_text(values: pd.Series) -> pd.Series:
    """Exchange-time stamps as text with their zone (``2026-04-28 11:36 EDT``): the tables
    keep UTC as data, the *_local columns are for reading."""
    stamps = pd.to_datetime(values)
    return stamps.dt.strftime("%Y-%m-%d %H:%M %Z").where(stamps.notna(), "")


def daily_next_to_intraday(cal: Calendar, store: PriceStore | None, panel: PricePanel | None,
                           market: str) -> tuple[pd.DataFrame, list[str]]:
    """Each pair's daily day-0 AR and CAR(0, +1) from the daily study (market model, the
    engine's defaults), to set beside its minute path; empty with a note when no daily
    prices are found."""
    cols = ["event_id", "ticker", "day0", "daily_ar0", "daily_ar0_p", "daily_car01",
            "daily_car01_p"]
    try:
        if panel is None:
            panel = load_panel(cal, market, store)
        daily = run_study(cal, panel, StudyConfig(market=market, car_windows=((0, 0), (0, 1))))
    except PriceDataError as exc:
        return pd.DataFrame(columns=cols), [f"No daily study beside the minutes: {exc.reason}"]
    car = daily.car
    out = []
    for (event_id, ticker), rows in car.groupby(["event_id", "ticker"], sort=False):
        w = rows.set_index(["window_start", "window_end"])
        day0 = event_timing(cal.get(event_id)).day0
        out.append({"event_id": event_id, "ticker": ticker, "day0": str(day0.date()),
                    "daily_ar0": w.loc[(0, 0), "car"], "daily_ar0_p": w.loc[(0, 0), "car_p"],
                    "daily_car01": w.loc[(0, 1), "car"],
                    "daily_car01_p": w.loc[(0, 1), "car_p"]})
    return pd.DataFrame(out, columns=cols), []


def intraday_job(calendar: str | Path | Calendar, bars, out: str | Path, *, config=None,
                 store: PriceStore | None = None, panel: PricePanel | None = None,
                 seed_event: str | None = None, title: str | None = None,
                 table_format: str = "parquet", bars_source: str = "",
                 started: float | None = None) -> Path:
    """Intraday study of ``calendar`` on ``bars`` (:class:`~backtest.intraday.bars.IntradayBars`),
    with each pair's daily AR beside it (from ``panel`` or the daily store), written into
    ``out``: ``intraday_pairs.csv``, ``intraday_horizons.csv``, ``intraday_pooled.csv``,
    ``intraday_daily.csv``, the minute path ``intraday_path`` (parquet or CSV), ``run.json``
    and the report (:func:`reports.intraday.render_intraday_report`)."""
    from backtest.intraday.bars import interval_text
    from backtest.intraday.study import IntradayConfig, run_intraday_study
    from backtest.io import write_table

    started = time.time() if started is None else started
    check_output_dir(out)
    cal = resolve_calendar(calendar)
    config = config or IntradayConfig()
    if seed_event is not None and seed_event not in {e.id for e in cal}:
        raise ConfigError(f"no event {seed_event!r} in the calendar", field="event")
    result = run_intraday_study(cal, bars, config)
    daily, daily_notes = daily_next_to_intraday(cal, store, panel, config.market)
    kept = result.pairs[result.pairs["skipped"] == ""]
    if seed_event is None:
        timed = kept.sort_values("bar0")
        seed_event = timed["event_id"].iloc[-1] if len(timed) else cal.events[-1].id
    tz = _exchange_tz(bars.exchange)
    news = pd.to_datetime(result.pairs["news_time"], utc=True).dt.tz_convert(tz)
    pairs = result.pairs.assign(
        bar0_local=_local_text(result.pairs["bar0_local"]),
        news_local=news.dt.strftime("%Y-%m-%d %H:%M:%S %Z").where(news.notna(), ""))
    horizons = result.horizons.assign(end_local=_local_text(result.horizons["end_local"]))
    path = result.path.assign(time_local=_local_text(result.path["time_local"]))
    run_info = {
        "title": title or f"Intraday study: {cal.name}",
        "calendar": cal.name, "calendar_path": cal.path,
        "data_source": bars_source or ", ".join(sorted(set(bars.sources.values()))) or "bars",
        "data_range": (f"{bars.index[0]:%Y-%m-%d %H:%M} to "
                       f"{bars.index[-1] + bars.interval:%Y-%m-%d %H:%M} UTC"
                       if len(bars.index) else ""),
        "seed_event": seed_event, "versions": versions(),
        "intraday": {"interval": interval_text(bars.interval), "exchange": bars.exchange,
                     "timezone": str(_exchange_tz(bars.exchange)), **config.as_dict(),
                     "notes": result.notes + daily_notes},
        "run_seconds": round(time.time() - started, 2),
    }
    out = Path(out)
    with atomic_dir(out) as tmp:
        write_json(tmp / "run.json", run_info)
        write_calendar(cal, tmp)
        write_csv(pairs, tmp / "intraday_pairs.csv")
        write_csv(horizons, tmp / "intraday_horizons.csv")
        write_csv(result.pooled, tmp / "intraday_pooled.csv")
        write_csv(daily, tmp / "intraday_daily.csv")
        write_table(path, tmp, "intraday_path", table_format)
        from reports.intraday import render_intraday_report

        render_intraday_report(tmp)
    return out


def _exchange_tz(exchange: str):
    from events.timing import exchange_calendar

    return exchange_calendar(exchange).tz


def intraday_run_job(calendar: str | Path | Calendar, strategy: Strategy, ctx, bars,
                     out: str | Path, *, execution=None, costs: Costs | None = None,
                     init_cash: float = DEFAULT_INIT_CASH, bars_source: str = "",
                     started: float | None = None) -> Path:
    """A news strategy traded on minute bars (:func:`backtest.intraday.trading.run_intraday`)
    written into ``out``: ``intraday_orders.csv``, ``intraday_trades.csv``,
    ``intraday_skipped.csv``, ``intraday_events.csv``, ``intraday_equity.csv``,
    ``metrics.json``, ``run.json`` and the report
    (:func:`reports.intraday.render_intraday_run_report`)."""
    from backtest.intraday.bars import interval_text
    from backtest.intraday.trading import run_intraday

    started = time.time() if started is None else started
    check_output_dir(out)
    cal = resolve_calendar(calendar)
    run = run_intraday(strategy, ctx, bars, execution, costs, init_cash)
    equity = run.equity.rename("equity").rename_axis("time").reset_index()
    equity["time_local"] = _local_text(equity["time"].dt.tz_convert(_exchange_tz(bars.exchange)))
    local = {}
    for name, frame in (("orders", run.orders), ("trades", run.trades)):
        frame = frame.copy()
        for col in ("entry_time", "exit_time"):
            if col in frame:
                frame[f"{col}_local"] = _local_text(
                    pd.to_datetime(frame[col]).dt.tz_convert(_exchange_tz(bars.exchange)))
        local[name] = frame
    run_info = {
        "title": f"{run.strategy} on {cal.name}, {interval_text(bars.interval)} bars",
        "calendar": cal.name, "calendar_path": cal.path,
        "data_source": bars_source or "bars",
        "data_range": (f"{bars.index[0]:%Y-%m-%d %H:%M} to "
                       f"{bars.index[-1] + bars.interval:%Y-%m-%d %H:%M} UTC"
                       if len(bars.index) else ""),
        "versions": versions(),
        "intraday_run": {"strategy": run.strategy, "params": run.params,
                         "params_text": run.params_text, "execution": run.execution.text(),
                         "costs": asdict(run.costs), "init_cash": run.init_cash,
                         "interval": interval_text(bars.interval), "exchange": bars.exchange,
                         "timezone": str(_exchange_tz(bars.exchange)),
                         "summary": run.summary().splitlines(), "notes": run.notes},
        "run_seconds": round(time.time() - started, 2),
    }
    out = Path(out)
    with atomic_dir(out) as tmp:
        write_json(tmp / "run.json", run_info)
        write_json(tmp / "metrics.json", run.metrics)
        write_calendar(cal, tmp)
        write_csv(local["orders"], tmp / "intraday_orders.csv")
        write_csv(local["trades"], tmp / "intraday_trades.csv")
        write_csv(run.skipped, tmp / "intraday_skipped.csv")
        write_csv(run.event_table, tmp / "intraday_events.csv")
        write_csv(equity, tmp / "intraday_equity.csv")
        from reports.intraday import render_intraday_run_report

        render_intraday_run_report(tmp)
    return out
