"""The ``backtest`` command.

    backtest demo                                  bundled calendar + data -> report
    backtest study CALENDAR [--out DIR]            event study -> CSVs + report
    backtest run CALENDAR --strategy NAME [--param k=v ...] [--out DIR]
    backtest sweep CALENDAR --strategy NAME --grid hold=1,3,5 --grid threshold=50,60
    backtest audit CALENDAR --strategy NAME        look-ahead audit (exit 1 on a leak)
    backtest strategies list                       strategies found, parameters, status
    backtest report RESULTS_DIR                    render a saved run's report again
    backtest check EXPERIMENT.yaml... [--update]   compare metrics with baselines (exit 1)
    backtest events show CALENDAR                  when each event became tradable
    backtest events import HEADLINES.csv --map M   score headlines into a calendar
    backtest data fetch|info|import                the price store

CALENDAR is a YAML file or the name of a bundled calendar (``openai``). Bad
input exits with code 2 and one line on stderr. Heavy libraries (vectorbt,
matplotlib) are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from events.errors import InputError

DEFAULT_OUT = Path("reports")


def _study_options(p: argparse.ArgumentParser) -> None:
    from backtest.models import MODELS  # light module: numpy only

    g = p.add_argument_group("event study")
    g.add_argument("--model", default="market", choices=MODELS,
                   help="normal-return model (default market)")
    g.add_argument("--market", default="SPY", help="benchmark ticker (default SPY)")
    g.add_argument("--factors", default="", metavar="T1,T2",
                   help="tickers used as factors by --model factors (e.g. SPY,SMH)")
    g.add_argument("--factors-csv", type=Path, metavar="FILE",
                   help="factor returns CSV for --model factors (date column, factor "
                        "columns, optional RF; see README)")
    g.add_argument("--factor-units", choices=("decimal", "percent"), default="decimal",
                   help="units of --factors-csv values (Kenneth French files: percent)")
    g.add_argument("--returns", choices=("simple", "log"), default="simple",
                   help="return type (default simple)")
    g.add_argument("--estimation", type=int, default=250, metavar="L",
                   help="estimation window length in sessions (default 250)")
    g.add_argument("--gap", type=int, default=10,
                   help="sessions between estimation window and day 0, exclusive (default 10)")
    g.add_argument("--window", type=int, nargs=2, default=(-5, 10), metavar=("A", "B"),
                   help="event window in sessions relative to day 0 (default -5 10)")
    g.add_argument("--min-obs", type=int, default=120,
                   help="minimum estimation returns for a pair (default 120)")
    g.add_argument("--car-window", type=int, nargs=2, action="append", metavar=("S", "E"),
                   help="CAR window, repeatable (default: -1 1, 0 0, 0 1, 0 5, 2 10, -5 10)")
    g.add_argument("--group-by", default="label,role", metavar="COLS",
                   help="CAAR/test groups: any of role, label, direction, event_id, ticker "
                        "or an event tag, comma-separated ('' for all pairs only)")
    g.add_argument("--keep-other-events", action="store_true",
                   help="keep other events' windows inside a ticker's estimation window")
    g.add_argument("--pseudo-draws", type=int, default=999,
                   help="draws of the random pseudo-event-date test (0: off)")
    g.add_argument("--seed", type=int, default=20260428, help="seed of the pseudo-event draws")


def _run_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_argument_group("strategy and costs")
    g.add_argument("--strategy", required=required,
                   help="strategy name (see `backtest strategies list`) or module:Class")
    g.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter, repeatable (e.g. --param hold=3)")
    g.add_argument("--fees", type=float, default=0.0005, help="fees, fraction of notional")
    g.add_argument("--fixed-fees", type=float, default=0.0, help="fixed fee per fill")
    g.add_argument("--slippage", type=float, default=0.0005, help="slippage, fraction of price")
    g.add_argument("--borrow-rate", type=float, default=0.0,
                   help="annual borrow rate on short notional, ACT/360 (default 0)")
    g.add_argument("--borrow", action="append", default=[], metavar="TICKER=RATE",
                   help="per-ticker annual borrow rate, repeatable (e.g. --borrow CRWV=0.08)")
    g.add_argument("--init-cash", type=float, default=100_000.0, help="starting cash")


def _cluster_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scale out (Dask; pip install event-backtester[cluster])")
    g.add_argument("--cluster", metavar="local[:N]",
                   help="run on a local Dask cluster of N worker processes")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on an existing Dask cluster")
    g.add_argument("--block", type=int, default=None,
                   help="pairs (study) or combinations (sweep) per task")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, help="output folder (default reports/<run-name>)")
    p.add_argument("--prices", type=Path, metavar="FILE.csv",
                   help="use your own prices (long or wide CSV; see README) instead of the store")
    p.add_argument("--drop-non-sessions", action="store_true",
                   help="drop --prices rows dated on weekends/holidays instead of refusing")
    p.add_argument("--roll-non-sessions", action="store_true",
                   help="roll 'during_session' events dated on a non-session to the next open")
    p.add_argument("--offline", action="store_true", help="never touch the network")
    p.add_argument("--cache-dir", type=Path, help="price cache (default $BACKTEST_CACHE_DIR "
                   "or ~/.cache/event-backtester)")
    p.add_argument("--event", help="event to chart per ticker (default: the latest)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backtest", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="study + default strategy on the bundled OpenAI calendar")
    _common(demo)

    study = sub.add_parser("study", help="event study of a calendar")
    study.add_argument("calendar", help="calendar YAML file, or a bundled name (openai)")
    study.add_argument("--universe", type=Path, metavar="PANEL.parquet",
                       help="link every event to every ticker of this wide parquet of "
                            "adjusted closes (e.g. ../shared/data/universe/...)")
    _common(study)
    _study_options(study)
    _cluster_options(study)

    ev = sub.add_parser("events", help="inspect a calendar").add_subparsers(
        dest="events_command", required=True, metavar="ACTION")
    show = ev.add_parser("show", help="the event audit table: when each event became tradable")
    show.add_argument("calendar", help="calendar YAML file, or a bundled name (openai)")
    show.add_argument("--format", choices=("table", "csv"), default="table")
    show.add_argument("--roll-non-sessions", action="store_true",
                      help="roll 'during_session' events dated on a non-session to the next open")

    imp_ev = ev.add_parser("import", help="score timestamped headlines into a calendar")
    imp_ev.add_argument("headlines", type=Path, metavar="HEADLINES.csv")
    imp_ev.add_argument("--map", action="append", default=[], metavar="MAP",
                        help="exposure map YAML or bundled name (openai, anthropic, google, "
                             "nvidia), repeatable (default: all four)")
    imp_ev.add_argument("--scorer", default="finance-lexicon",
                        help="scorer name or module:Class (default finance-lexicon)")
    imp_ev.add_argument("--out", type=Path, help="calendar YAML to write (default: stdout)")
    imp_ev.add_argument("--name", help="calendar name (default: the CSV's name)")
    score = ev.add_parser("score", help="score headlines given as arguments")
    score.add_argument("text", nargs="+")
    score.add_argument("--scorer", default="finance-lexicon")

    data = sub.add_parser("data", help="the price store: fetch, inspect, import").add_subparsers(
        dest="data_command", required=True, metavar="ACTION")
    fetch = data.add_parser("fetch", help="download tickers with yfinance into the cache")
    fetch.add_argument("tickers", nargs="+", metavar="TICKER")
    fetch.add_argument("--start", help="first date, YYYY-MM-DD (default: full history)")
    fetch.add_argument("--end", help="last date, YYYY-MM-DD, inclusive (default: today)")
    info = data.add_parser("info", help="what is bundled and cached: ranges, rows, hashes")
    imp = data.add_parser("import", help="put your own prices (CSV, long or wide) in the cache")
    imp.add_argument("file", type=Path, metavar="FILE.csv")
    imp.add_argument("--drop-non-sessions", action="store_true",
                     help="drop rows dated on weekends/holidays instead of refusing the file")
    for p in (fetch, info, imp):
        p.add_argument("--cache-dir", type=Path, help="price cache (default $BACKTEST_CACHE_DIR "
                       "or ~/.cache/event-backtester)")

    run = sub.add_parser("run", help="backtest a strategy on a calendar, or run an experiment")
    run.add_argument("calendar", help="calendar YAML file, a bundled name (openai), or an "
                                      "experiment YAML")
    _common(run)
    _study_options(run)
    _run_options(run, required=False)

    sweep = sub.add_parser("sweep", help="run every combination of a parameter grid")
    sweep.add_argument("calendar", help="calendar YAML file, or a bundled name (openai)")
    sweep.add_argument("--grid", action="append", default=[], required=True,
                       metavar="KEY=V1,V2", help="values of one parameter, repeatable")
    sweep.add_argument("--metric", default="sharpe",
                       help="metric for the heatmap and the best combination (default sharpe)")
    _common(sweep)
    _run_options(sweep)
    _cluster_options(sweep)

    aud = sub.add_parser("audit", help="look-ahead audit: rerun on data cut at each event")
    aud.add_argument("calendar", help="calendar YAML file, or a bundled name (openai)")
    _common(aud)
    _run_options(aud)

    strat = sub.add_parser("strategies", help="list strategies").add_subparsers(
        dest="strategies_command", required=True, metavar="ACTION")
    strat.add_parser("list", help="every strategy found, where from, its parameters, status")

    chk = sub.add_parser("check", help="run experiments and compare their metrics with baselines")
    chk.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT.yaml")
    chk.add_argument("--baselines", type=Path, metavar="DIR",
                     help="baseline folder (default: baselines/ beside each experiment)")
    chk.add_argument("--update", action="store_true",
                     help="write new baselines (atomically) and show what changed")
    chk.add_argument("--format", choices=("table", "json"), default="table")
    chk.add_argument("--junit", type=Path, metavar="FILE.xml", help="also write JUnit XML")

    rep = sub.add_parser("report", help="render the report of a results folder again")
    rep.add_argument("results", type=Path, metavar="RESULTS_DIR")
    return parser


def _params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--param expects KEY=VALUE, got {item!r}", field="param")
        out[key.strip()] = value.strip()
    return out


def _events(args: argparse.Namespace) -> None:
    import pandas as pd

    if args.events_command == "import":
        return _events_import(args)
    if args.events_command == "score":
        from events.scoring import get_scorer

        scorer = get_scorer(args.scorer)
        for text in args.text:
            s = scorer.score(text)
            print(f"{s.label:8s} {s.strength:3d}  {s.value:+.3f}  {text}")
        return None

    from backtest.runner import resolve_calendar
    from events.timing import timing_table

    table = timing_table(resolve_calendar(args.calendar, args.roll_non_sessions))
    if args.format == "csv":
        table.to_csv(sys.stdout, index=False)
        return
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_rows", 10_000):
        print(table.to_string(index=False))


def _events_import(args: argparse.Namespace) -> None:
    from backtest.jsonio import write_atomic
    from events.importer import calendar_yaml, headlines_to_calendar, load_exposure
    from events.scoring import get_scorer

    maps = [load_exposure(m) for m in (args.map or ["openai", "anthropic", "google", "nvidia"])]
    doc, notes = headlines_to_calendar(args.headlines, maps, get_scorer(args.scorer), args.name)
    for note in notes:
        print(f"backtest: warning: {note}", file=sys.stderr)
    text = calendar_yaml(doc)
    if args.out:
        write_atomic(args.out, text)
        print(f"wrote {args.out}: {len(doc['events'])} events", file=sys.stderr)
    else:
        print(text, end="")


def _data(args: argparse.Namespace) -> None:
    import pandas as pd

    from backtest.csvdata import read_price_csv
    from backtest.prices import DownloadError, PriceStore, bundled_path

    store = PriceStore(cache_dir=args.cache_dir)
    if args.data_command == "fetch":
        try:
            counts = store.fetch(args.tickers, args.start, args.end)
        except DownloadError as exc:
            raise InputError(f"download failed: {exc}", field="tickers") from None
        empty = [t.upper() for t in args.tickers if t.upper() not in counts]
        for ticker, n in counts.items():
            print(f"{ticker}: {n} rows in {store.cache.path(ticker)}")
        if empty:
            raise InputError(f"yfinance returned no rows for {', '.join(empty)}",
                             field="tickers")
    elif args.data_command == "import":
        panel, notes = read_price_csv(args.file, args.drop_non_sessions)
        for note in notes:
            print(f"backtest: warning: {note}", file=sys.stderr)
        long = _panel_to_long(panel)
        for ticker, n in store.import_frame(long, f"import:{args.file.name}").items():
            print(f"{ticker}: {n} rows imported into {store.cache.path(ticker)}")
    else:
        bundled = pd.read_parquet(bundled_path())
        summary = bundled.groupby("ticker")["date"].agg(["min", "max", "count"])
        print(f"bundled snapshot {bundled_path()} ({len(summary)} tickers, "
              f"{summary['min'].min()} to {summary['max'].max()})")
        info = store.cache.info()
        print(f"cache {store.cache.dir}: {len(info)} tickers")
        if len(info):
            print(info.to_string(index=False))


def _panel_to_long(panel):
    """A PricePanel back to the long schema (for the cache)."""
    import pandas as pd

    from backtest.prices import COLUMNS

    frames = []
    for ticker in panel.tickers:
        part = pd.DataFrame({"date": panel.sessions, "ticker": ticker,
                             "open": panel.open[ticker].to_numpy(),
                             "close": panel.close[ticker].to_numpy(),
                             "dividend": panel.dividend[ticker].to_numpy()})
        part = part.dropna(subset=["close"])
        part["high"] = part["low"] = part["volume"] = float("nan")
        part["close_is_adjusted"] = bool(panel.close_is_adjusted[ticker])
        frames.append(part)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def _client(args: argparse.Namespace):
    """A Dask client if --cluster or --scheduler was given, else a no-op context."""
    from contextlib import nullcontext

    if getattr(args, "cluster", None) or getattr(args, "scheduler", None):
        from backtest.cluster import open_client

        return open_client(args.cluster, args.scheduler)
    return nullcontext(None)


def _costs(args: argparse.Namespace):
    from backtest.simulate import Costs

    overrides = {}
    for item in args.borrow:
        ticker, sep, rate = item.partition("=")
        try:
            overrides[ticker.strip().upper()] = float(rate)
        except ValueError:
            sep = ""
        if not sep or not ticker.strip():
            raise InputError(f"--borrow expects TICKER=RATE, got {item!r}", field="borrow")
    return Costs(fees=args.fees, fixed_fees=args.fixed_fees, slippage=args.slippage,
                 borrow_rate=args.borrow_rate, borrow_overrides=tuple(overrides.items()))


def _strategies_list() -> None:
    from strategies import discover

    for f in discover():
        status = "ok" if f.ok else f"FAILED: {f.error}"
        print(f"{f.name}  [{f.source}: {f.origin}]  {status}")
        if f.ok:
            print(f"    {f.cls.describe()}")
            for p in f.cls.parameters():
                sweep = f"  sweep {','.join(map(str, p['sweep']))}" if p["sweep"] else ""
                print(f"    --param {p['name']}={p['default']!r}  ({p['type']}){sweep}"
                      f"  {p['help']}")


def _sweep(args, calendar, panel, store, costs) -> Path:
    from backtest.runner import load_panel, run_job
    from backtest.sweep import expand_grid, parse_grid, run_sweep
    from strategies import get_strategy

    grid = parse_grid(args.grid)
    fixed = _params(args.param)
    probe = get_strategy(args.strategy, **fixed, **{k: v[0] for k, v in grid.items()})
    panel = panel if panel is not None else load_panel(calendar, store=store)
    with _client(args) as client:
        table = run_sweep(calendar, panel, type(probe), grid, fixed, costs, args.init_cash,
                          client=client, block=args.block or 100)
    out = args.out or DEFAULT_OUT / f"sweep-{calendar.name}-{probe.name}"
    ranked = table.sort_values([args.metric, "combo"], ascending=[False, True],
                               na_position="last")
    best = get_strategy(args.strategy, **fixed,
                        **expand_grid(grid)[int(ranked["combo"].iloc[0])])
    return run_job(calendar, out, do_study=False, strategy=best, costs=costs, panel=panel,
                   init_cash=args.init_cash, seed_event=args.event,
                   title=f"Sweep: {probe.name} on {calendar.name}",
                   sweep=(table, list(grid), args.metric))


def _audit(args, calendar, panel, store) -> int:
    from backtest.audit import audit
    from backtest.runner import load_panel, strategy_context
    from strategies import get_strategy

    strategy = get_strategy(args.strategy, **_params(args.param))
    panel = panel if panel is not None else load_panel(calendar, store=store)
    leaks = audit(strategy, strategy_context(calendar, panel))
    if leaks.empty:
        print(f"no look-ahead: {strategy.name} gave identical intents for all "
              f"{len(calendar)} events on data cut at each decision time")
        return 0
    print(leaks.to_string(index=False))
    print(f"backtest: {len(leaks)} look-ahead leak(s) in {strategy.name}", file=sys.stderr)
    return 1


def _check(args: argparse.Namespace) -> int:
    from backtest.experiment import check, format_json, format_junit, format_table, write_atomic

    results = check(args.experiments, args.baselines, args.update)
    print(format_json(results) if args.format == "json" else format_table(results), end=""
          if args.format == "json" else "\n")
    if args.junit:
        write_atomic(args.junit, format_junit(results))
    if args.update:
        for r in results:
            print(f"{'wrote' if r.written else 'unchanged'} {r.baseline_file}", file=sys.stderr)
        return 0
    return 0 if all(r.passed for r in results) else 1


def _experiment_run(args: argparse.Namespace) -> Path:
    """`backtest run EXPERIMENT.yaml`: the experiment's run, with its report."""
    from backtest.experiment import experiment_inputs, load_experiment
    from backtest.runner import run_job

    exp = load_experiment(args.calendar)
    cal, panel, strategy, costs, _ = experiment_inputs(exp)
    out = args.out or DEFAULT_OUT / f"experiment-{exp.name}"
    return run_job(cal, out, strategy=strategy, costs=costs, panel=panel,
                   init_cash=exp.init_cash, title=f"Experiment {exp.name}", seed_event=args.event)


def _dispatch(args: argparse.Namespace) -> Path | int | None:
    from backtest.prices import PriceStore
    from backtest.runner import resolve_calendar, run_job
    from backtest.study import StudyConfig
    from strategies import get_strategy

    from backtest.csvdata import load_factor_csv, read_price_csv

    if args.command == "events":
        return _events(args)
    if args.command == "data":
        return _data(args)
    if args.command == "strategies":
        return _strategies_list()
    if args.command == "check":
        return _check(args)
    if args.command == "report":
        from backtest.runner import rerender

        return rerender(args.results)
    store = PriceStore(cache_dir=args.cache_dir, offline=args.offline)
    panel, notes = (read_price_csv(args.prices, args.drop_non_sessions) if args.prices
                    else (None, []))
    for note in notes:
        print(f"backtest: warning: {note}", file=sys.stderr)
    common = {"store": store, "panel": panel, "seed_event": args.event}
    if args.command == "demo":
        strategy = get_strategy("short_partners_on_bad_news")
        out = args.out or DEFAULT_OUT / "demo"
        return run_job("openai", out, strategy=strategy, **common,
                       title="Demo: OpenAI compute-chain news, study and short-partners strategy")
    if args.command == "run":
        from backtest.experiment import is_experiment

        if is_experiment(args.calendar):
            return _experiment_run(args)
        if not args.strategy:
            raise InputError("--strategy is required when running a calendar (or pass an "
                             "experiment file)", field="strategy")
    calendar = resolve_calendar(args.calendar, roll_non_sessions=args.roll_non_sessions)
    if args.command == "sweep":
        return _sweep(args, calendar, panel, store, _costs(args))
    if args.command == "audit":
        return _audit(args, calendar, panel, store)
    windows = tuple(tuple(w) for w in args.car_window) if args.car_window else None
    config = StudyConfig(
        model=args.model, market=args.market.upper(),
        factors=tuple(t.strip().upper() for t in args.factors.split(",") if t.strip()),
        returns=args.returns, estimation_length=args.estimation, gap=args.gap,
        event_window=tuple(args.window), min_estimation_obs=args.min_obs,
        exclude_other_events=not args.keep_other_events,
        group_by=tuple(g.strip() for g in args.group_by.split(",") if g.strip()),
        pseudo_draws=args.pseudo_draws, seed=args.seed,
        **({"car_windows": windows} if windows else {}))
    factor_data = (load_factor_csv(args.factors_csv, args.factor_units) if args.factors_csv
                   else None)
    if args.command == "study":
        out = args.out or DEFAULT_OUT / f"study-{calendar.name}"
        if args.universe:
            from backtest.universe import expand_calendar, load_universe

            common["panel"] = load_universe(args.universe)
            calendar = expand_calendar(calendar, common["panel"].tickers)
        with _client(args) as client:
            return run_job(calendar, out, config=config, factor_data=factor_data, **common,
                           client=client, block=args.block,
                           title=f"Event study: {calendar.name}")
    strategy = get_strategy(args.strategy, **_params(args.param))
    out = args.out or DEFAULT_OUT / f"run-{calendar.name}-{strategy.name}"
    return run_job(calendar, out, strategy=strategy, config=config, costs=_costs(args),
                   init_cash=args.init_cash, factor_data=factor_data, **common,
                   title=f"{strategy.name} on {calendar.name}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = _dispatch(args)
    except InputError as exc:
        print(f"backtest: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("backtest: interrupted; previous outputs are untouched", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `backtest events show ... | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        return 0
    if isinstance(out, int):
        return out
    if out is not None:
        print(f"report: {(out / 'index.html').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
