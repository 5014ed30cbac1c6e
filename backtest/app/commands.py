"""One function per ``backtest`` command; :func:`dispatch` picks it from the parsed arguments.

Each command returns what :func:`backtest.app.cli.main` reports: the results
folder (its report path is printed), an exit code, or None.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

from events.errors import ConfigError, PriceDataError

DEFAULT_OUT = Path("reports")


def default_out(*parts: str, settings: object = None) -> Path:
    """``reports/<name>``, the name made of ``parts`` (a command, a calendar's name, ...)
    and, with ``settings``, a short hash of them, so that runs with other settings
    (another model, another parameter) get their own folder instead of replacing each
    other. The name is safe as one folder name (:func:`backtest.io.path_name`): a
    calendar named ``../x`` still lands inside reports/."""
    import hashlib

    from backtest.io import dumps, path_name

    if settings is not None:
        parts = (*parts, hashlib.sha256(dumps(settings).encode()).hexdigest()[:6])
    return DEFAULT_OUT / path_name("-".join(parts), "out")


def _sources(args: argparse.Namespace) -> dict:
    """The input files a run's numbers depend on, for the default folder's settings hash."""
    out = {k: str(getattr(args, k)) for k in ("prices", "returns_csv", "factors_csv", "universe")
           if getattr(args, k, None)}
    if "returns_csv" in out:  # the same file read as log returns gives other numbers
        out["returns_kind"] = args.returns_kind or "simple"
    return out


# --------------------------------------------------------------------------------------
# option values
# --------------------------------------------------------------------------------------


def key_values(items: list[str], option: str, value: str = "VALUE") -> dict[str, str]:
    """``["k=v", ...]`` of a repeatable ``--option`` as a mapping (an empty value is kept);
    a key given twice, or an item without ``=`` or a key, is refused."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, val = item.partition("=")
        key, val = key.strip(), val.strip()
        if not sep or not key:
            raise ConfigError(f"--{option} expects KEY={value}, got {item!r}", field=option)
        if key in out:
            raise ConfigError(f"--{option} {key} given twice", field=option)
        out[key] = val
    return out


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """``["hold=1,3,5", "threshold=50,60"]`` -> ``{"hold": [...], "threshold": [...]}``."""
    grid = {}
    for key, values in key_values(items, "grid", "V1,V2,...").items():
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not parts:
            raise ConfigError(f"--grid expects KEY=V1,V2,..., got {key}={values!r}",
                              field="grid")
        grid[key] = parts
    return grid


def study_config(args: argparse.Namespace):
    """The :class:`~backtest.eventstudy.config.StudyConfig` of the study options."""
    from backtest.eventstudy import StudyConfig

    windows = tuple(tuple(w) for w in args.car_window) if args.car_window else None
    return StudyConfig(
        model=args.model, market=args.market.upper(),
        factors=tuple(t.strip().upper() for t in args.factors.split(",") if t.strip()),
        returns=args.returns, estimation_length=args.estimation, gap=args.gap,
        event_window=tuple(args.window), min_estimation_obs=args.min_obs,
        exclude_other_events=not args.keep_other_events,
        group_by=tuple(g.strip() for g in args.group_by.split(",") if g.strip()),
        pseudo_draws=args.pseudo_draws, seed=args.seed,
        measure=getattr(args, "measure", "return"),
        # a universe has thousands of tickers and a few bad ticks: robust by default
        exclude_flagged=bool(args.exclude_flagged
                             or (getattr(args, "universe", None) and not args.keep_flagged)),
        winsorize=args.winsorize, trim=args.trim,
        estimation_dates=tuple(args.estimation_dates or ()),
        **({"car_windows": windows} if windows else {}))


def _explain(args: argparse.Namespace) -> tuple[str, ...]:
    """The --explain terms (checked against the pairs when the study runs)."""
    return tuple(t.strip() for t in (getattr(args, "explain", "") or "").split(",")
                 if t.strip())


def costs(args: argparse.Namespace):
    """The :class:`~backtest.sim.costs.Costs` of the cost options."""
    from backtest.sim.costs import Costs

    overrides = {}
    for ticker, rate in key_values(args.borrow, "borrow", "RATE").items():
        try:
            overrides[ticker.upper()] = float(rate)
        except ValueError:
            raise ConfigError(f"--borrow expects TICKER=RATE, got {ticker}={rate!r}",
                              field="borrow") from None
    return Costs(fees=args.fees, fixed_fees=args.fixed_fees, slippage=args.slippage,
                 borrow_rate=args.borrow_rate, borrow_overrides=tuple(overrides.items()))


def executor(args: argparse.Namespace, label: str):
    """A context giving the ``map_blocks`` of ``--cluster``/``--scheduler`` (a Dask
    executor), of ``--threads`` (a :class:`~backtest.parallel.ThreadExecutor`), or None
    for the default one."""
    from contextlib import contextmanager

    threads = getattr(args, "threads", None)
    if not (getattr(args, "cluster", None) or getattr(args, "scheduler", None)):
        if threads is None:
            return nullcontext(None)
        from backtest.parallel import ThreadExecutor

        return nullcontext(ThreadExecutor(threads))
    if threads is not None:
        raise ConfigError("--threads is for a run on this machine; with --cluster or "
                          "--scheduler the workers decide", field="threads")

    @contextmanager
    def dask():
        from backtest.parallel import DaskExecutor, open_client

        with open_client(args.cluster, args.scheduler) as client:
            yield DaskExecutor(client, label)

    return dask()


def _inputs(args: argparse.Namespace, trades: bool = False):
    """(price store, user prices or returns or None) of the common options; warnings
    printed. ``--prices`` and ``--returns-csv`` are two answers to one question: refused
    together. ``trades``: a strategy will be simulated (returns have no opens to fill at)."""
    from backtest.data import PriceStore, read_price_csv, read_returns_csv

    if args.prices and args.returns_csv:
        raise ConfigError("give --prices or --returns-csv, not both", field="returns_csv")
    if args.returns_kind and not args.returns_csv:
        raise ConfigError("--returns-kind is for --returns-csv (give the file too)",
                          field="returns_kind")
    store = PriceStore(cache_dir=args.cache_dir, offline=args.offline)
    if args.returns_csv:
        panel, notes = read_returns_csv(args.returns_csv, args.returns_kind or "simple",
                                        args.drop_non_sessions)
        if trades:  # the simulator's usual rule for a missing open; say it once up front
            notes.append(f"{args.returns_csv} holds returns, no open prices: fills at an open "
                         f"move to that session's close (listed in the execution notes); "
                         f"give --prices with opens to trade at the open")
    else:
        panel, notes = (read_price_csv(args.prices, args.drop_non_sessions) if args.prices
                        else (None, []))
    for note in notes:
        print(f"backtest: warning: {note}", file=sys.stderr)
    return store, panel


def _calendar(args: argparse.Namespace):
    from events.loader import resolve_calendar

    return resolve_calendar(args.calendar, roll_non_sessions=args.roll_non_sessions)


def _factor_data(args: argparse.Namespace):
    from backtest.data import load_factor_csv

    return load_factor_csv(args.factors_csv, args.factor_units) if args.factors_csv else None


# --------------------------------------------------------------------------------------
# the commands
# --------------------------------------------------------------------------------------


def demo(args: argparse.Namespace) -> Path:
    """``backtest demo``: the bundled calendar and data, study and default strategy."""
    from backtest.app.jobs import run_job
    from strategies import get_strategy

    store, panel = _inputs(args, trades=True)
    return run_job("openai", args.out or default_out("demo"),
                   strategy=get_strategy("short_partners_on_bad_news"), store=store,
                   panel=panel, seed_event=args.event, car_from=args.car_from, strict=args.strict,
                   title="Demo: OpenAI compute-chain news, study and short-partners strategy",
                   table_format=args.table_format)


def study(args: argparse.Namespace) -> Path:
    """``backtest study CALENDAR``: the event study and its report."""
    from backtest.app.jobs import run_job

    if args.interval or args.bars:
        return intraday_study(args)
    for name in ("window_minutes", "window_bars", "horizons", "estimation_sessions"):
        if getattr(args, name) is not None:
            raise ConfigError(f"--{name.replace('_', '-')} is for an intraday study (give "
                              f"--interval)", field=name)
    store, panel = _inputs(args)
    calendar = _calendar(args)
    config, factor_data = study_config(args), _factor_data(args)
    out = args.out or default_out("study", calendar.name,
                                  settings=[config.as_dict(), _sources(args),
                                            *([list(_explain(args))] if _explain(args) else [])])
    if args.universe:
        from backtest.data.universe import expand_calendar, load_universe

        panel = load_universe(args.universe)
        calendar = expand_calendar(calendar, panel.tickers)
    with executor(args, "study") as map_blocks:
        extra = {"map_blocks": map_blocks} if map_blocks is not None else {}
        return run_job(calendar, out, config=config, factor_data=factor_data, store=store,
                       panel=panel, seed_event=args.event, car_from=args.car_from, block=args.block,
                       strict=args.strict, title=f"Event study: {calendar.name}",
                       explain=_explain(args), table_format=args.table_format, **extra)


def intraday_config(args: argparse.Namespace, interval):
    """The :class:`IntradayConfig` of ``backtest study --interval``'s options."""
    import pandas as pd

    from backtest.intraday.bars import interval_text
    from backtest.intraday.study import IntradayConfig

    d = IntradayConfig()
    window = d.window
    if args.window_minutes and args.window_bars:
        raise ConfigError("give --window-minutes or --window-bars, not both",
                          field="window_minutes")
    if args.window_bars:
        window = tuple(args.window_bars)
    elif args.window_minutes:
        size = interval / pd.Timedelta(minutes=1)
        if any(m % size for m in args.window_minutes):
            raise ConfigError(f"--window-minutes {args.window_minutes[0]} "
                              f"{args.window_minutes[1]} is not whole {interval_text(interval)}"
                              f" bars", field="window_minutes")
        window = tuple(int(m // size) for m in args.window_minutes)
    elif interval != pd.Timedelta(minutes=1):  # the default path spans the same minutes
        size = int(interval / pd.Timedelta(minutes=1))
        window = (-max(1, 30 // size), max(1, 120 // size))
    horizons = (tuple(h.strip() for h in args.horizons.split(",") if h.strip())
                if args.horizons else d.horizons)
    if args.model not in ("market", "market_adjusted"):
        raise ConfigError(f"an intraday study supports --model market or market_adjusted, "
                          f"got {args.model!r}", field="model")
    return IntradayConfig(window=window, horizons=horizons, model=args.model,
                          market=args.market,
                          estimation=(d.estimation if args.estimation_sessions is None
                                      else args.estimation_sessions),
                          exclude_other_events=not args.keep_other_events,
                          min_sessions=(d.min_sessions if args.estimation_sessions is None
                                        else max(1, min(d.min_sessions,
                                                        args.estimation_sessions))))


def _bars(args: argparse.Namespace, calendar, config, interval):
    """The calendar's tickers' bars (and the market's): from --bars, else the bar cache and
    yfinance, over the estimation sessions before the first event to the last event's next
    session."""
    if args.bars:
        from backtest.intraday.barfiles import read_bar_file

        bars, notes = read_bar_file(args.bars, interval)  # refuses coarser bars
        for note in notes:
            print(f"backtest: warning: {note}", file=sys.stderr)
        return bars, str(args.bars)
    import pandas as pd

    from backtest.intraday.bar_store import BarStore

    tickers = list(dict.fromkeys([*calendar.tickers, config.market]))
    times = [e.timestamp for e in calendar if e.timestamp is not None]
    start = end = None
    if times:  # calendar days enough for the estimation sessions, and the next open
        start = (min(times) - pd.Timedelta(days=int(config.estimation * 1.6) + 7)).date()
        end = (max(times) + pd.Timedelta(days=5)).date()
    store = BarStore(cache_dir=args.cache_dir, offline=args.offline)
    bars = store.load(tickers, interval, start=start, end=end,
                      optional=[] if args.strict else [t for t in tickers
                                                       if t != config.market])
    return bars, "bar cache / yfinance"


def intraday_study(args: argparse.Namespace) -> Path:
    """``backtest study CALENDAR --interval 1m``: the intraday study and its report."""
    from backtest.app.jobs import intraday_job
    from backtest.intraday.bars import parse_interval

    interval = parse_interval(args.interval or "1m")
    if args.universe:
        raise ConfigError("--universe holds daily closes: an intraday study needs bars",
                          field="universe")
    calendar = _calendar(args)
    config = intraday_config(args, interval)
    bars, source = _bars(args, calendar, config, interval)
    store, panel = _inputs(args)
    out = args.out or default_out("intraday", calendar.name,
                                  settings=[config.as_dict(), str(args.bars or "")])
    out = intraday_job(calendar, bars, out, config=config, store=store, panel=panel,
                       seed_event=args.event, table_format=args.table_format,
                       bars_source=source)
    _print_intraday(out)
    return out


def _print_intraday(out: Path) -> None:
    """The answer in a few lines: pairs studied and the pooled signed CAR by horizon."""
    import pandas as pd

    pairs = pd.read_csv(out / "intraday_pairs.csv")
    pooled = pd.read_csv(out / "intraday_pooled.csv")
    kept = pairs[pairs["skipped"].isna()]
    print(f"{len(kept)} of {len(pairs)} pairs studied, {kept['event_id'].nunique()} news "
          f"event(s) with bars ({len(pairs) - len(kept)} skipped: see intraday_pairs.csv)")
    rows = pooled[pooled["group"] == "all"]
    if len(rows):
        print("all pairs, signed by expected direction: " + ", ".join(
            f"{r.horizon} {r.signed_car:+.2%} (z {r.z:+.1f})" for r in rows.itertuples()))
        print(rows["note"].iloc[0])


def run(args: argparse.Namespace) -> Path:
    """``backtest run CALENDAR --strategy NAME`` or ``backtest run EXPERIMENT.yaml``."""
    from backtest.app.experiments import is_experiment
    from backtest.app.jobs import run_job
    from strategies import get_strategy

    if len(args.calendar) == 1 and is_experiment(args.calendar[0]):
        return run_experiment(args)
    if args.interval or args.bars:
        return intraday_run(args)
    _no_intraday_trading(args)
    if not args.strategy:
        raise ConfigError("--strategy is required when running a calendar (or pass an "
                          "experiment file)", field="strategy")
    store, panel = _inputs(args, trades=True)
    calendar = _calendar(args)
    config, factor_data = study_config(args), _factor_data(args)
    strategy = get_strategy(args.strategy, folder=args.strategies_dir,
                            **key_values(args.param, "param"))
    run_costs = costs(args)
    out = args.out or default_out(
        "run", calendar.name, strategy.name,
        settings=[config.as_dict(), strategy.params, run_costs, args.init_cash, _sources(args),
                  *([list(_explain(args))] if _explain(args) else [])])
    return run_job(calendar, out, strategy=strategy, config=config, costs=run_costs,
                   init_cash=args.init_cash, factor_data=factor_data, store=store,
                   panel=panel, seed_event=args.event, car_from=args.car_from, strict=args.strict,
                   title=f"{strategy.name} on {calendar.name}", explain=_explain(args),
                   table_format=args.table_format)


def _no_intraday_trading(args: argparse.Namespace) -> None:
    """--latency and --exit mean nothing to a daily run: refused, not ignored."""
    for name, option in (("latency", "--latency"), ("exit_rule", "--exit")):
        if getattr(args, name, None) is not None:
            raise ConfigError(f"{option} is for trading minute bars (give --interval)",
                              field=name)


def _intraday_trading(args: argparse.Namespace):
    """(calendar, strategy, execution, bars, bars source, daily context) of an intraday
    run or audit."""
    from backtest.data import load_panel
    from backtest.intraday.bars import parse_interval
    from backtest.intraday.study import IntradayConfig
    from backtest.intraday.trading import IntradayExecution
    from backtest.sim.runs import strategy_context
    from strategies import get_strategy

    interval = parse_interval(args.interval or "1m")
    execution = IntradayExecution.parse(latency=args.latency or "60s",
                                        exit=args.exit_rule or "close")
    calendar = _calendar(args)
    strategy = get_strategy(args.strategy, folder=args.strategies_dir,
                            **key_values(args.param, "param"))
    market = args.market.upper()
    # the bars of the news sessions (a few days of estimation are loaded for nothing: cheap)
    bars, source = _bars(args, calendar, IntradayConfig(market=market, estimation=1,
                                                        min_sessions=1), interval)
    store, panel = _inputs(args, trades=True)
    panel = panel if panel is not None else load_panel(calendar, market, store=store,
                                                       strict=args.strict)
    return calendar, strategy, execution, bars, source, strategy_context(calendar, panel)


def intraday_run(args: argparse.Namespace) -> Path:
    """``backtest run CALENDAR --strategy NAME --interval 1m --latency 60s --exit 30m``."""
    from backtest.app.jobs import intraday_run_job

    if not args.strategy:
        raise ConfigError("--strategy is required", field="strategy")
    calendar, strategy, execution, bars, source, ctx = _intraday_trading(args)
    run_costs = costs(args)
    out = args.out or default_out(
        "intraday-run", calendar.name, strategy.name,
        settings=[strategy.params, execution.text(), run_costs, args.init_cash,
                  str(args.bars or "")])
    out = intraday_run_job(calendar, strategy, ctx, bars, out, execution=execution,
                           costs=run_costs, init_cash=args.init_cash, bars_source=source)
    from backtest.io import read_json

    print("\n".join(read_json(out / "run.json")["intraday_run"]["summary"]))
    return out


def intraday_audit_command(args: argparse.Namespace) -> int:
    """``backtest audit CALENDAR --strategy NAME --interval 1m``: exit 1 on a leak."""
    from backtest.intraday.trading import intraday_audit

    calendar, strategy, execution, bars, _, ctx = _intraday_trading(args)
    leaks = intraday_audit(strategy, ctx, bars, execution)
    if leaks.empty:
        print(f"no look-ahead: {strategy.name} made the same intraday decisions for all "
              f"{len(calendar)} events on bars and prices cut at each news time plus "
              f"{execution.text().split(',')[0].replace('latency ', '')}")
        return 0
    print(leaks.to_string(index=False))
    print(f"backtest: {len(leaks)} look-ahead leak(s) in {strategy.name}", file=sys.stderr)
    return 1


def run_experiment(args: argparse.Namespace) -> Path:
    """``backtest run EXPERIMENT.yaml``: the experiment's run, with its report."""
    from backtest.app.experiments import experiment_inputs, experiment_sweep, load_experiment
    from backtest.app.jobs import run_job

    exp = load_experiment(args.calendar[0])
    cal, panel, strategy, exp_costs, market = experiment_inputs(exp)
    sweep = None
    if exp.sweep is not None:
        result, inference, strategy = experiment_sweep(exp, cal, panel, strategy, exp_costs,
                                                       market)
        sweep = (result, inference)
    out = args.out or default_out("experiment", exp.name)
    return run_job(cal, out, strategy=strategy, costs=exp_costs, panel=panel,
                   config=exp.study, init_cash=exp.init_cash, title=f"Experiment {exp.name}",
                   seed_event=args.event, sweep=sweep, table_format=args.table_format)


def sweep(args: argparse.Namespace) -> Path:
    """``backtest sweep CALENDAR --strategy NAME --grid k=v1,v2 ...``."""
    from backtest.app.jobs import run_job
    from backtest.data import load_panel
    from backtest.sim.metrics import BENCHMARK_METRICS, METRICS
    from backtest.sim.sweeps import expand_grid, run_sweep
    from strategies import get_strategy

    import time

    from backtest.eventstudy import StudyConfig

    started = time.time()
    store, panel = _inputs(args, trades=True)
    calendar = _calendar(args)
    sweep_costs = costs(args)
    market = args.market.upper()
    grid = parse_grid(args.grid)
    fixed = key_values(args.param, "param")
    known = METRICS + BENCHMARK_METRICS
    if args.metric not in known:
        raise ConfigError(f"unknown metric {args.metric!r} (one of {', '.join(known)})",
                          field="metric")
    if args.walk_forward is not None and args.walk_forward < 1:
        raise ConfigError(f"--walk-forward needs a positive number of folds, got "
                          f"{args.walk_forward}", field="walk_forward")
    probe = get_strategy(args.strategy, folder=args.strategies_dir, **fixed,
                         **{k: v[0] for k, v in grid.items()})
    panel = panel if panel is not None else load_panel(calendar, market, store=store,
                                                       strict=args.strict)
    with executor(args, "sweep") as map_blocks:
        extra = ({"map_blocks": map_blocks, "block": args.block or 100}
                 if map_blocks is not None else {})
        result = run_sweep(calendar, panel, type(probe), grid, fixed, sweep_costs,
                           args.init_cash, benchmark=market,
                           max_combinations=args.max_combinations, **extra)
    out = args.out or default_out("sweep", calendar.name, probe.name,
                                  settings=[grid, fixed, sweep_costs, args.init_cash, market,
                                            args.metric, args.walk_forward, _sources(args)])
    inference = result.inference(args.metric, folds=args.walk_forward)
    best = type(probe)(**fixed, **expand_grid(grid)[inference.best])
    return run_job(calendar, out, do_study=False, strategy=best, costs=sweep_costs,
                   config=StudyConfig(market=market), panel=panel, init_cash=args.init_cash,
                   seed_event=args.event, car_from=args.car_from,
                   title=f"Sweep: {probe.name} on {calendar.name}", started=started,
                   sweep=(result, inference))


def audit(args: argparse.Namespace) -> int:
    """``backtest audit CALENDAR --strategy NAME``: exit 1 on a look-ahead leak."""
    from backtest.data import load_panel
    from backtest.sim.audit import audit as run_audit
    from backtest.sim.runs import strategy_context
    from strategies import get_strategy

    if args.interval or args.bars:
        return intraday_audit_command(args)
    _no_intraday_trading(args)
    store, panel = _inputs(args, trades=True)
    calendar = _calendar(args)
    strategy = get_strategy(args.strategy, folder=args.strategies_dir,
                            **key_values(args.param, "param"))
    panel = panel if panel is not None else load_panel(calendar, args.market.upper(),
                                                       store=store, strict=args.strict)
    leaks = run_audit(strategy, strategy_context(calendar, panel))
    if leaks.empty:
        print(f"no look-ahead: {strategy.name} gave identical intents for all "
              f"{len(calendar)} events on data cut at each decision time")
        return 0
    print(leaks.to_string(index=False))
    print(f"backtest: {len(leaks)} look-ahead leak(s) in {strategy.name}", file=sys.stderr)
    return 1


def events_show(args: argparse.Namespace) -> None:
    """``backtest events show CALENDAR``: the event audit table."""
    import pandas as pd

    from events.timing import timing_table

    table = timing_table(_calendar(args))
    if args.format == "csv":
        table.to_csv(sys.stdout, index=False)
        return
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_rows", 10_000):
        print(table.to_string(index=False))


def events_score(args: argparse.Namespace) -> None:
    """``backtest events score TEXT...``: label and strength of each headline."""
    from events.scoring import get_scorer

    scorer = get_scorer(args.scorer)
    for text in args.text:
        s = scorer.score(text)
        print(f"{s.label:8s} {s.strength:3d}  {s.value:+.3f}  {text}")


def events_import(args: argparse.Namespace) -> None:
    """``backtest events import HEADLINES.csv``: scored headlines as a calendar."""
    from backtest.io import check_output_file, starts_with, write_atomic
    from events.files import bundled_names
    from events.importer import (CALENDAR_HEADER, calendar_yaml, headlines_to_calendar,
                                 load_exposure)
    from events.scoring import get_scorer

    maps = [load_exposure(m) for m in (args.map or bundled_names("exposure map"))]
    if args.out:  # refuse a bad target before scoring anything
        check_output_file(args.out, starts_with(CALENDAR_HEADER))
    doc, notes = headlines_to_calendar(args.headlines, maps, get_scorer(args.scorer), args.name)
    for note in notes:
        print(f"backtest: warning: {note}", file=sys.stderr)
    text = calendar_yaml(doc)
    if args.out:
        write_atomic(args.out, text, ours=starts_with(CALENDAR_HEADER))
        print(f"wrote {args.out}: {len(doc['events'])} events", file=sys.stderr)
    else:
        print(text, end="")


def data_fetch(args: argparse.Namespace) -> None:
    """``backtest data fetch TICKER...``: yfinance into the cache (``--interval``: bars)."""
    from backtest.data import DownloadError, PriceStore
    from backtest.data.yahoo import OFFLINE_HINT

    start, end = _day(args.start, "--start"), _day(args.end, "--end")
    if args.interval:
        return _bars_fetch(args, start, end)
    store = PriceStore(cache_dir=args.cache_dir)
    wanted = list(dict.fromkeys(t.upper() for t in args.tickers))
    bundled = [t for t in wanted if store.is_bundled(t)]
    for ticker in bundled:
        print(f"{ticker}: bundled with the package, and runs always read it from there; not "
              f"downloaded", file=sys.stderr)
    rest = [t for t in wanted if t not in bundled]
    if not rest:
        return
    try:
        counts = store.fetch(rest, start, end)
    except DownloadError as exc:
        raise PriceDataError(f"download failed: {exc}; {OFFLINE_HINT}", field="tickers") from None
    _fetched(rest, counts, store.cache.path, "rows")


def _bars_fetch(args: argparse.Namespace, start: str | None, end: str | None) -> None:
    """``backtest data fetch --interval 5m TICKER...``: yfinance's bars into the bar cache."""
    from backtest.intraday.bar_store import BAR_HINT, BarStore
    from backtest.data.yahoo import DownloadError

    store = BarStore(cache_dir=args.cache_dir)
    wanted = list(dict.fromkeys(t.upper() for t in args.tickers))
    cache = store.cache(args.interval)
    try:
        counts = store.fetch(wanted, args.interval, start, end)
    except DownloadError as exc:
        raise PriceDataError(f"download failed: {exc}; {BAR_HINT}", field="tickers") from None
    _fetched(wanted, counts, cache.path, f"{args.interval} bars")


def _fetched(wanted: list[str], counts: dict[str, int], path, what: str) -> None:
    """Print where each download went; refuse the tickers yfinance had nothing for."""
    for ticker, n in counts.items():
        print(f"{ticker}: {n} {what} in {path(ticker)}")
    empty = [t for t in wanted if t not in counts]
    if empty:
        raise PriceDataError(f"yfinance returned no {what} for {', '.join(empty)}",
                             field="tickers")


def data_import(args: argparse.Namespace) -> None:
    """``backtest data import FILE``: a user's prices (or ``--interval``: bars) into the
    cache. The whole file is checked before anything is written."""
    from backtest.data import PriceStore, read_price_csv

    if args.interval:
        return _bars_import(args)
    if args.keep_extended:
        raise ConfigError("--keep-extended is for bar files: give --interval too (e.g. "
                          "--interval 1m)", field="--keep-extended")
    store = PriceStore(cache_dir=args.cache_dir)
    panel, notes = read_price_csv(args.file, args.drop_non_sessions)
    for note in notes:
        print(f"backtest: warning: {note}", file=sys.stderr)
    for ticker, n in store.import_frame(panel.to_long(), f"import:{args.file.name}").items():
        print(f"{ticker}: {n} rows imported into {store.cache.path(ticker)}")


def _bars_import(args: argparse.Namespace) -> None:
    """``backtest data import --interval 1m FILE``: a user's bars into the bar cache."""
    from backtest.intraday.bar_store import BarStore
    from backtest.intraday.barfiles import read_bar_table

    if args.drop_non_sessions:
        raise ConfigError("--drop-non-sessions is for daily prices; a bar file must hold "
                          "session bars only (--keep-extended keeps pre- and post-market "
                          "bars)", field="--drop-non-sessions")
    store = BarStore(cache_dir=args.cache_dir)
    cache = store.cache(args.interval)  # refuses a bad interval before the file is read
    long, notes = read_bar_table(args.file, args.interval, store.exchange, args.keep_extended)
    for note in notes:
        print(f"backtest: warning: {note}", file=sys.stderr)
    for ticker, n in store.import_frame(long, args.interval, f"import:{args.file.name}").items():
        print(f"{ticker}: {n} {args.interval} bars in {cache.path(ticker)}")


def data_info(args: argparse.Namespace) -> None:
    """``backtest data info``: the bundled snapshot, the price cache and the bar cache."""
    from backtest.data import PriceStore, bundled_path
    from backtest.intraday.bar_store import BarStore
    from backtest.data.store import read_bundled

    store = PriceStore(cache_dir=args.cache_dir)
    bundled = read_bundled()
    summary = bundled.groupby("ticker")["date"].agg(["min", "max", "count"])
    print(f"bundled snapshot {bundled_path()} ({len(summary)} tickers, "
          f"{summary['min'].min()} to {summary['max'].max()}, daily; see SOURCES.md beside it)")
    kind = bundled.groupby("ticker")["close_is_adjusted"].first().map(
        {True: "adjusted close", False: "OHLCV + dividends"})
    table = summary.assign(kind=kind).rename(columns={"min": "first", "max": "last",
                                                      "count": "rows"})
    print(table.rename_axis("ticker").reset_index().to_string(index=False))
    info = store.cache.info()
    print(f"cache {store.cache.dir}: {len(info)} tickers")
    if len(info):
        print(info.to_string(index=False))
    bars = BarStore(cache_dir=args.cache_dir).info()
    print(f"bar cache {store.cache_dir / 'bars'}: {len(bars)} files (first and last bar in "
          f"exchange time; extended: bars outside regular hours, never used by a study)")
    if len(bars):
        print(bars.to_string(index=False))


def strategies_list(args: argparse.Namespace) -> None:
    """``backtest strategies list``: every strategy found, where from, its parameters."""
    from strategies import discover

    for f in discover(args.strategies_dir):
        status = "ok" if f.ok else f"FAILED: {f.error}"
        print(f"{f.name}  [{f.source}: {f.origin}]  {status}")
        if f.ok:
            print(f"    {f.cls.describe()}")
            for p in f.cls.parameters():
                values = f"  sweep {','.join(map(str, p['sweep']))}" if p["sweep"] else ""
                print(f"    --param {p['name']}={p['default']!r}  ({p['type']}){values}"
                      f"  {p['help']}")


def check(args: argparse.Namespace) -> int:
    """``backtest check EXPERIMENT.yaml...``: exit 1 when a guarded metric regressed."""
    from backtest.app.experiments import check as run_check
    from backtest.app.experiments import format_json, format_junit, format_table
    from backtest.io import check_output_file, starts_with, write_atomic

    junit_ours = starts_with('<testsuites name="backtest check"')
    if args.junit:  # refuse a bad target before running anything
        check_output_file(args.junit, junit_ours)
    results = run_check(args.experiments, args.baselines, args.update)
    print(format_json(results) if args.format == "json" else format_table(results), end=""
          if args.format == "json" else "\n")
    if args.junit:
        write_atomic(args.junit, format_junit(results), ours=junit_ours)
    if args.update:
        for r in results:
            print(f"{'wrote' if r.written else 'unchanged'} {r.baseline_file}", file=sys.stderr)
        return 0
    return 0 if all(r.passed for r in results) else 1


def _day(text: str | None, option: str):
    """A YYYY-MM-DD option value, or None."""
    if text is None:
        return None
    import datetime as dt

    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ConfigError(f"not a date (YYYY-MM-DD): {text!r}", field=option) from None


def chains_compare(args: argparse.Namespace) -> Path:
    """``backtest chains compare A B``: chain indices, spread and contributions."""
    from backtest.app.jobs import chains_job
    from events.chains import load_chain
    from events.loader import resolve_calendar

    chains = [load_chain(c) for c in args.chains]
    names = [c.name for c in chains]
    if len(set(names)) != len(names):
        raise ConfigError(f"a chain is named twice: {', '.join(names)}", field="chains")
    start, end = _day(args.start, "--start"), _day(args.end, "--end")
    if start and end and end <= start:
        raise ConfigError(f"--end ({end}) must come after --start ({start})", field="--end")
    a, b = args.window
    if a > b or max(abs(a), abs(b)) > 250:
        raise ConfigError(f"the event days A..B need A <= B within 250 sessions of day 0, "
                          f"got {a} {b}", field="--window")
    calendar = resolve_calendar(args.calendar) if args.calendar else None
    store, panel = _inputs(args)
    settings = [start, end, args.benchmark, list(args.calendar or []), [a, b], _sources(args)]
    out = args.out or default_out("chains", *names, settings=settings)
    folder, comparison = chains_job(chains, out, store=store, panel=panel,
                                    benchmark=args.benchmark.upper(), start=start, end=end,
                                    calendar=calendar, window=(a, b))
    print(comparison.summary().to_string())
    return folder


def chains_show(args: argparse.Namespace) -> None:
    """``backtest chains show NAME``: members, weights and membership dates."""
    from events.chains import load_chain

    for ref in args.chains:
        chain = load_chain(ref)
        how = "buy and hold" if chain.rebalance == "none" else "rebalanced daily"
        print(f"{chain.name}: {chain.weighting} weights, {how}"
              f"{' - ' + chain.description if chain.description else ''}")
        for m in chain.members:
            dates = f"from {m.start or 'the start'} until {m.end or 'today'}"
            weight = "" if chain.weighting == "equal" else f"  {chain.weighting} {m.weight:g}"
            print(f"  {m.ticker:<8} {dates}{weight}")


def report(args: argparse.Namespace) -> Path:
    """``backtest report RESULTS_DIR``: render a saved run's report again."""
    from backtest.app.jobs import rerender

    return rerender(args.results)


COMMANDS = {
    ("demo",): demo, ("study",): study, ("run",): run, ("sweep",): sweep, ("audit",): audit,
    ("events", "show"): events_show, ("events", "score"): events_score,
    ("events", "import"): events_import, ("data", "fetch"): data_fetch,
    ("data", "import"): data_import, ("data", "info"): data_info,
    ("strategies", "list"): strategies_list, ("check",): check, ("report",): report,
    ("chains", "compare"): chains_compare, ("chains", "show"): chains_show,
}


def dispatch(args: argparse.Namespace) -> Path | int | None:
    """Run the command the arguments name."""
    sub = getattr(args, f"{args.command}_command", None)
    key = (args.command, sub) if sub else (args.command,)
    return COMMANDS[key](args)
