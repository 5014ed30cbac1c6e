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
    backtest data fetch|info|import                the price and bar store
    backtest chains compare A B [--start --end]    chain indices, spread, contributions

CALENDAR is a YAML file or the name of a bundled calendar (``openai``). Bad
input exits with code 2 and one line on stderr. Heavy libraries (vectorbt, arch,
matplotlib, scipy.stats, numba) are imported only by the commands that need them,
not by ``--help`` (``tests/test_startup.py``). This module builds the parser;
:mod:`backtest.app.commands` has one function per command.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from backtest.eventstudy.config import MEASURES, RETURNS
from backtest.io import TABLE_FORMATS
from events.errors import InputError


def _study_options(p: argparse.ArgumentParser) -> None:
    from backtest.eventstudy.config import StudyConfig
    from backtest.eventstudy.models import MODELS  # light module: numpy only

    d = StudyConfig()
    g = p.add_argument_group("event study")
    g.add_argument("--model", default=d.model, choices=MODELS,
                   help=f"normal-return model (default {d.model})")
    g.add_argument("--market", default=d.market,
                   help=f"benchmark ticker of the study and the strategy (default {d.market})")
    g.add_argument("--factors", default="", metavar="T1,T2",
                   help="tickers used as factors by --model factors (e.g. SPY,SMH)")
    g.add_argument("--factors-csv", type=Path, metavar="FILE",
                   help="factor returns CSV for --model factors (date column, factor "
                        "columns, optional RF; see README)")
    g.add_argument("--factor-units", choices=("decimal", "percent"), default="decimal",
                   help="units of --factors-csv values (Kenneth French files: percent)")
    g.add_argument("--returns", choices=RETURNS, default=d.returns,
                   help=f"return type (default {d.returns})")
    g.add_argument("--measure", choices=MEASURES, default=d.measure,
                   help=f"what to study (default {d.measure}): abnormal returns, or abnormal "
                        f"log volume ln(volume + 0.000255) after Campbell and Wasley (1996), "
                        f"with --model constant_mean or market (on the market's log "
                        f"volume); needs share volume (not in a --universe panel); or "
                        f"abnormal volatility SAR^2 - 1 (any return model; with --model "
                        f"garch against the GARCH forecast)")
    g.add_argument("--estimation", type=int, default=d.estimation_length, metavar="L",
                   help=f"estimation window length in sessions (default {d.estimation_length})")
    g.add_argument("--estimation-dates", nargs=2, metavar=("FIRST", "LAST"),
                   help="one estimation window for every pair, by dates (YYYY-MM-DD), "
                        "instead of --estimation/--gap; pairs whose event window meets it "
                        "are skipped")
    g.add_argument("--gap", type=int, default=d.gap,
                   help=f"sessions between estimation window and day 0, exclusive "
                        f"(default {d.gap})")
    g.add_argument("--window", type=int, nargs=2, default=d.event_window, metavar=("A", "B"),
                   help=f"event window in sessions relative to day 0 (default "
                        f"{d.event_window[0]} {d.event_window[1]})")
    g.add_argument("--min-obs", type=int, default=d.min_estimation_obs,
                   help=f"minimum estimation returns for a pair (default "
                        f"{d.min_estimation_obs})")
    windows = ", ".join(f"{a} {b}" for a, b in d.car_windows)
    g.add_argument("--car-window", type=int, nargs=2, action="append", metavar=("S", "E"),
                   help=f"CAR window, repeatable (default: {windows})")
    g.add_argument("--group-by", default=",".join(d.group_by), metavar="COLS",
                   help="CAAR/test groups: any of role, label, direction, event_id, ticker "
                        "or an event tag, comma-separated ('' for all pairs only)")
    g.add_argument("--explain", default="", metavar="TERMS",
                   help="regress the CARs (in expected direction) on these pair "
                        "characteristics, clustered by news day: score, beta, role, "
                        "direction, label, ticker or an event tag (writes xsection.csv)")
    flags = g.add_mutually_exclusive_group()
    flags.add_argument("--exclude-flagged", action="store_true",
                       help="leave out pairs with a bad tick (five-fold up or 80%% down in a "
                            "day) in their estimation or event window (on with --universe)")
    flags.add_argument("--keep-flagged", action="store_true",
                       help="keep them (a universe study leaves them out by default)")
    # not an argparse group: its refusal would print the whole usage, not one line
    g.add_argument("--winsorize", type=float, default=d.winsorize, metavar="P",
                   help="set each group's CARs beyond the P and 1-P shares to the "
                        "nearest CAR inside before its CAR tests (e.g. 0.01)")
    g.add_argument("--trim", type=float, default=d.trim, metavar="P",
                   help="leave each group's CARs beyond the P and 1-P shares out of "
                        "its CAR tests (e.g. 0.01)")
    g.add_argument("--keep-other-events", action="store_true",
                   help="keep other events' windows inside a ticker's estimation window")
    g.add_argument("--pseudo-draws", type=int, default=d.pseudo_draws,
                   help="draws of the random pseudo-event-date test (0: off)")
    g.add_argument("--seed", type=int, default=d.seed, help="seed of the pseudo-event draws")


def _bar_source(p: argparse.ArgumentParser, what: str, doing: str):
    """The group of an intraday command with ``--interval`` and ``--bars`` (study, run,
    audit): where the minute bars come from."""
    g = p.add_argument_group(f"intraday {what} (minute bars; see README, Intraday)")
    g.add_argument("--interval", metavar="1m",
                   help=f"{doing} sub-daily bars at this interval (1m, 2m, 5m, 10m, 15m, 30m, "
                        f"60m): bars from --bars or the bar cache (`backtest data import "
                        f"--interval 1m FILE`, or yfinance)")
    g.add_argument("--bars", type=Path, metavar="FILE",
                   help="minute bars from this long CSV or parquet file (timestamp with "
                        "timezone, ticker, open, high, low, close, volume)")
    return g


def _intraday_options(p: argparse.ArgumentParser) -> None:
    g = _bar_source(p, "study", "study")
    g.add_argument("--window-minutes", type=int, nargs=2, metavar=("A", "B"),
                   help="minute path from A to B minutes of trading time around bar 0 "
                        "(default -30 120 at 1m; whole bars)")
    g.add_argument("--window-bars", type=int, nargs=2, metavar=("A", "B"),
                   help="the same in bars, for any interval")
    g.add_argument("--horizons", metavar="LIST",
                   help="tested horizons (default 5m,15m,30m,60m,close,next_open)")
    g.add_argument("--estimation-sessions", type=int, default=None, metavar="N",
                   help="sessions of bars before the news session fitting the model and the "
                        "time-of-day variances (default 20)")


def _intraday_trading_options(p: argparse.ArgumentParser) -> None:
    g = _bar_source(p, "trading", "trade (fill at the first bar opening at or after the news "
                                  "plus --latency)")
    g.add_argument("--latency", default=None, metavar="60s",
                   help="time from the news to the order (default 60s)")
    g.add_argument("--exit", default=None, metavar="30m|close", dest="exit_rule",
                   help="exit after this horizon, or at the session's close (default close)")


def _run_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    from backtest.sim.costs import DEFAULT_INIT_CASH, Costs

    c = Costs()
    g = p.add_argument_group("strategy and costs")
    g.add_argument("--strategy", required=required,
                   help="strategy name (see `backtest strategies list`), module:Class or "
                        "path/to/file.py:Class")
    g.add_argument("--strategies-dir", type=Path, metavar="DIR",
                   help="load plug-in strategies from the .py files of DIR")
    g.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter, repeatable (e.g. --param hold=3)")
    g.add_argument("--fees", type=float, default=c.fees,
                   help=f"fees, fraction of notional (default {c.fees:g})")
    g.add_argument("--fixed-fees", type=float, default=c.fixed_fees,
                   help=f"fixed fee per fill (default {c.fixed_fees:g})")
    g.add_argument("--slippage", type=float, default=c.slippage,
                   help=f"slippage, fraction of price (default {c.slippage:g})")
    g.add_argument("--borrow-rate", type=float, default=c.borrow_rate,
                   help=f"annual borrow rate on short notional, ACT/360 "
                        f"(default {c.borrow_rate:g})")
    g.add_argument("--borrow", action="append", default=[], metavar="TICKER=RATE",
                   help="per-ticker annual borrow rate, repeatable (e.g. --borrow CRWV=0.08)")
    g.add_argument("--init-cash", type=float, default=DEFAULT_INIT_CASH,
                   help=f"starting cash (default {DEFAULT_INIT_CASH:,.0f})")


def _market_option(p: argparse.ArgumentParser) -> None:
    """``--market`` for commands without the study options (sweep, audit)."""
    from backtest.data import DEFAULT_MARKET

    p.add_argument("--market", default=DEFAULT_MARKET,
                   help=f"benchmark ticker of the strategy metrics (default {DEFAULT_MARKET})")


def _cluster_options(p: argparse.ArgumentParser, threads: bool = False) -> None:
    g = p.add_argument_group("scale out (Dask; pip install event-backtester[cluster])")
    if threads:
        g.add_argument("--threads", type=int, default=None, metavar="N",
                       help="threads of this process for the study's blocks (default: one "
                            "per CPU; 1 runs them one after another); results are identical")
    g.add_argument("--cluster", metavar="local[:N]",
                   help="run on a local Dask cluster of N worker processes")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on an existing Dask cluster")
    g.add_argument("--block", type=int, default=None,
                   help="pairs (study) or combinations (sweep) per task")


def _price_options(p: argparse.ArgumentParser) -> None:
    """Where prices come from: ``--out``, ``--prices``, ``--returns-csv`` and
    ``--returns-kind``, ``--drop-non-sessions``, ``--offline`` and ``--cache-dir`` (every
    command that loads prices and writes a folder)."""
    p.add_argument("--out", type=Path, help="output folder (default reports/<run-name>)")
    p.add_argument("--prices", type=Path, metavar="FILE.csv",
                   help="use your own prices (long or wide CSV; see README) instead of the store")
    # not an argparse exclusive group: its refusal would print the usage too, not one line
    p.add_argument("--returns-csv", type=Path, metavar="FILE.csv",
                   help="use your own daily returns (long date,ticker,ret or wide CSV; see "
                        "README) instead of prices; there are no opens")
    p.add_argument("--returns-kind", choices=("simple", "log"), default=None,
                   help="--returns-csv values are simple (default) or log returns, decimals")
    p.add_argument("--drop-non-sessions", action="store_true",
                   help="drop --prices/--returns-csv rows dated on weekends/holidays instead "
                        "of refusing")
    p.add_argument("--offline", action="store_true", help="never touch the network")
    p.add_argument("--cache-dir", type=Path, help="price cache (default $BACKTEST_CACHE_DIR "
                   "or ~/.cache/event-backtester)")


def _common(p: argparse.ArgumentParser, writes_tables: bool = True) -> None:
    _price_options(p)
    p.add_argument("--roll-non-sessions", action="store_true",
                   help="roll 'during_session' events dated on a non-session to the next open")
    p.add_argument("--strict", action="store_true",
                   help="refuse a calendar ticker with no price data (default: skip its pairs)")
    p.add_argument("--event", help="the event the summary and per-ticker charts are about "
                                   "(default: the latest)")
    p.add_argument("--car-from", choices=("day-1", "start"), default="day-1",
                   help="per-ticker CAR chart cumulates from the close before day 0 (default) "
                        "or from the window start")
    if writes_tables:
        p.add_argument("--format", choices=TABLE_FORMATS, default="parquet", dest="table_format",
                       help="the per-pair tables (ar, car, estimates, timing) as parquet "
                            "(default: exact, fast at millions of rows) or csv; the small "
                            "tables are always csv")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backtest", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="study + default strategy on the bundled OpenAI calendar")
    _common(demo)
    demo.add_argument("--compile", action="store_true",
                      help="compile the numerical kernels with numba (about 30 s on a fresh "
                           "install, cached after) instead of running them as plain Python, "
                           "which is as fast for the demo's few pairs; a NUMBA_DISABLE_JIT "
                           "of your own decides instead")

    study = sub.add_parser("study", help="event study of a calendar")
    study.add_argument("calendar", nargs="+", help="calendar YAML file(s) or bundled name(s) "
                                                   "(openai); several are merged")
    study.add_argument("--universe", type=Path, metavar="PANEL.parquet",
                       help="link every event to every ticker of this wide parquet of "
                            "adjusted closes (e.g. ../shared/data/universe/...)")
    _common(study)
    _study_options(study)
    _intraday_options(study)
    _cluster_options(study, threads=True)

    ev = sub.add_parser("events", help="inspect a calendar").add_subparsers(
        dest="events_command", required=True, metavar="ACTION")
    show = ev.add_parser("show", help="the event audit table: when each event became tradable")
    show.add_argument("calendar", nargs="+", help="calendar YAML file(s) or bundled name(s)")
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
    fetch.add_argument("--start", help="first date, YYYY-MM-DD (default: full history; for "
                                       "bars, as far back as Yahoo keeps them)")
    fetch.add_argument("--end", help="last date, YYYY-MM-DD, inclusive (default: today)")
    fetch.add_argument("--interval", metavar="1m|5m|...",
                       help="download regular-session bars at this interval (1m, 2m, 5m, 15m, "
                            "30m, 60m) instead of daily prices; Yahoo keeps 1m bars for 30 "
                            "days, 2m-30m for 60, 60m for 730")
    info = data.add_parser("info", help="what is bundled and cached: ranges, rows, hashes")
    imp = data.add_parser("import", help="put your own prices (CSV, long or wide) or bars "
                                         "(--interval; CSV or parquet) in the cache")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--drop-non-sessions", action="store_true",
                     help="drop rows dated on weekends/holidays instead of refusing the file "
                          "(daily prices)")
    imp.add_argument("--interval", metavar="1m|5m|...",
                     help="the file holds bars at this interval (1m, 2m, 5m, 10m, 15m, 30m, "
                          "60m): long timestamp,ticker,open,high,low,close,volume with a "
                          "timezone on every timestamp")
    imp.add_argument("--keep-extended", action="store_true",
                     help="with --interval: keep bars outside regular hours on session days "
                          "in the cache, flagged (studies use regular-session bars only) "
                          "instead of refusing the file")
    for p in (fetch, info, imp):
        p.add_argument("--cache-dir", type=Path, help="price cache (default $BACKTEST_CACHE_DIR "
                       "or ~/.cache/event-backtester)")

    run = sub.add_parser("run", help="backtest a strategy on a calendar, or run an experiment")
    run.add_argument("calendar", nargs="+", help="calendar YAML file(s) or bundled name(s) "
                                                 "(openai), merged; or one experiment YAML")
    _common(run)
    _study_options(run)
    _run_options(run, required=False)
    _intraday_trading_options(run)

    sweep = sub.add_parser("sweep", help="run every combination of a parameter grid")
    sweep.add_argument("calendar", nargs="+", help="calendar YAML file(s) or bundled name(s) "
                                                   "(openai); several are merged")
    sweep.add_argument("--grid", action="append", default=[], required=True,
                       metavar="KEY=V1,V2", help="values of one parameter, repeatable")
    sweep.add_argument("--metric", default="sharpe",
                       help="metric for the heatmap and the best combination (default sharpe)")
    sweep.add_argument("--walk-forward", type=int, default=None, metavar="K",
                       help="also choose the best on earlier events and score it on the next "
                            "ones, in K folds of news days (time order)")
    from backtest.sim.sweeps import MAX_COMBINATIONS

    sweep.add_argument("--max-combinations", type=int, default=MAX_COMBINATIONS, metavar="N",
                       help=f"refuse a grid of more combinations (default {MAX_COMBINATIONS})")
    _common(sweep, writes_tables=False)
    _run_options(sweep)
    _market_option(sweep)
    _cluster_options(sweep)

    aud = sub.add_parser("audit", help="look-ahead audit: rerun on data cut at each event")
    aud.add_argument("calendar", nargs="+", help="calendar YAML file(s) or bundled name(s) "
                                                   "(openai); several are merged")
    _common(aud, writes_tables=False)
    _run_options(aud)
    _market_option(aud)
    _intraday_trading_options(aud)

    strat = sub.add_parser("strategies", help="list strategies").add_subparsers(
        dest="strategies_command", required=True, metavar="ACTION")
    lst = strat.add_parser("list", help="every strategy found, where from, its parameters, "
                                        "status")
    lst.add_argument("--strategies-dir", type=Path, metavar="DIR",
                     help="also load and list the plug-ins of DIR (e.g. ./strategies)")

    chk = sub.add_parser("check", help="run experiments and compare their metrics with baselines")
    chk.add_argument("experiments", nargs="+", type=Path, metavar="EXPERIMENT.yaml")
    chk.add_argument("--baselines", type=Path, metavar="DIR",
                     help="baseline folder (default: baselines/ beside each experiment)")
    chk.add_argument("--update", action="store_true",
                     help="write new baselines (atomically) and show what changed")
    chk.add_argument("--format", choices=("table", "json"), default="table")
    chk.add_argument("--junit", type=Path, metavar="FILE.xml", help="also write JUnit XML")

    ch = sub.add_parser("chains", help="baskets of linked tickers: index, compare, "
                                       "contributions").add_subparsers(
        dest="chains_command", required=True, metavar="ACTION")
    cmp = ch.add_parser("compare", help="index chains over a period: returns, spread, alpha, "
                                        "contributions, moves on news days")
    cmp.add_argument("chains", nargs="+", metavar="CHAIN",
                     help="chain YAML files or bundled names (openai, google); the spread is "
                          "long the first, short the second")
    cmp.add_argument("--start", metavar="YYYY-MM-DD",
                     help="the base close (default: the first session with prices)")
    cmp.add_argument("--end", metavar="YYYY-MM-DD",
                     help="the last close (default: the last session with prices)")
    from backtest.data import DEFAULT_MARKET

    cmp.add_argument("--benchmark", default=DEFAULT_MARKET,
                     help=f"benchmark of returns, alpha and beta (default {DEFAULT_MARKET})")
    cmp.add_argument("--calendar", nargs="+", metavar="CALENDAR",
                     help="calendar(s) whose events split each chain's move into event "
                          "days and other days")
    cmp.add_argument("--window", type=int, nargs=2, default=(0, 1), metavar=("A", "B"),
                     help="event days: sessions A..B around day 0 (default 0 1)")
    _price_options(cmp)
    chs = ch.add_parser("show", help="a chain's members, weights and dates")
    chs.add_argument("chains", nargs="+", metavar="CHAIN", help="chain files or bundled names")

    rep = sub.add_parser("report", help="render the report of a results folder again")
    rep.add_argument("results", type=Path, metavar="RESULTS_DIR")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``backtest`` command; returns its exit code (2 for refused input)."""
    import warnings

    from backtest import io
    from backtest.app import commands

    # Libraries' deprecation notices are theirs to fix, not the user's to read.
    for module in ("exchange_calendars", "vectorbt", "yfinance"):
        warnings.filterwarnings("ignore", module=module)
    args = build_parser().parse_args(argv)
    restore = _record_ctrl_c()
    try:
        out = commands.dispatch(args)
        if io.interrupted():  # the KeyboardInterrupt was lost on its way up
            raise KeyboardInterrupt
    except InputError as exc:
        print(f"backtest: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("backtest: interrupted; previous outputs are untouched", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `backtest events show ... | head`
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the final flush
        return 0
    finally:
        restore()
    if isinstance(out, int):
        return out
    if out is not None:
        _print_story(out)
        print(f"report: {(out / 'index.html').resolve()}")
    return 0


def _record_ctrl_c():
    """Make Ctrl-C (SIGINT) also record itself (:func:`backtest.io.note_interrupt`) before
    it raises KeyboardInterrupt, so that no atomic write swaps its result in afterwards
    even if the exception is lost (raised inside C code that clears errors, the run would
    go on and replace the previous outputs). Returns the function that puts the previous
    handler back. Only Python's own handler is replaced, and only on the main thread."""
    import signal
    import threading

    from backtest import io

    io.clear_interrupt()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        return lambda: None

    def on_ctrl_c(signum, frame):
        io.note_interrupt()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_ctrl_c)
    return lambda: signal.signal(signal.SIGINT, signal.default_int_handler)


def _plain_python_for_demo(argv: list[str]) -> None:
    """``backtest demo`` runs numba's functions (ours and vectorbt's) as plain Python unless
    ``--compile`` is given or the user set ``NUMBA_DISABLE_JIT`` either way.

    The demo studies 32 pairs and simulates 16 tickers: interpreted, its kernels take about
    0.6 s more than compiled ones, while compiling them on a fresh install (an empty numba
    cache) takes about 30 s (BENCHMARKS.md, issue 21). The numbers are the same bit for bit
    (a test compares every table). numba reads the variable when it is imported (and again
    when it compiles): so only before anything has imported it, lest some functions be
    compiled and others not; only this console process sees it, never a caller of
    :func:`main`. A user's own ``NUMBA_DISABLE_JIT`` wins over ``--compile``.
    """
    # argparse takes any unambiguous prefix of an option (--comp): so does this
    asked = any(len(a) > 2 and "--compile".startswith(a) for a in argv[1:])
    if argv[:1] == ["demo"] and not asked and "numba" not in sys.modules:
        os.environ.setdefault("NUMBA_DISABLE_JIT", "1")


def run() -> None:
    """The console command (``backtest``, ``python -m backtest``): :func:`main`, then exit
    without tearing the interpreter down.

    Freeing every module of pandas, scipy, numba, vectorbt and matplotlib at exit took
    1.2-1.4 s of a warm ``backtest demo`` (0.3-0.9 s for lighter commands), after all the
    work was done. Every result is written and closed by the time ``main`` returns, so
    the exit handlers (atexit: logging, temporary files) run and the streams are flushed
    here, then the process ends with ``main``'s code. A thread still running (none of
    ours is), a profiler or a coverage tracer gets the normal exit instead.
    """
    import atexit
    import threading

    _plain_python_for_demo(sys.argv[1:])
    code = main()
    others = [t for t in threading.enumerate()
              if t is not threading.current_thread() and not t.daemon]
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    # under a profiler or coverage (``python -m cProfile -m backtest ...``) the tool writes
    # its results after this returns: the normal exit
    watched = sys.gettrace() is not None or sys.getprofile() is not None
    if others or watched or run_exit_handlers is None:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (BrokenPipeError, ValueError):  # a closed pipe (`| head`) or stream
            pass
    run_exit_handlers()
    os._exit(code)


def _print_story(out: Path) -> None:
    """The run's answer in a few lines (the first screen of the report), from story.json."""
    import json

    from backtest.app.story import terminal_lines

    path = out / "story.json"
    if path.is_file():
        print("\n".join(terminal_lines(json.loads(path.read_text()))))


if __name__ == "__main__":
    sys.exit(main())
