"""The ``backtest`` command.

    backtest demo                                  bundled calendar + data -> report
    backtest study CALENDAR [--out DIR]            event study -> CSVs + report
    backtest run CALENDAR --strategy NAME [--param k=v ...] [--out DIR]

CALENDAR is a YAML file or the name of a bundled calendar (``openai``). Bad
input exits with code 2 and one line on stderr. Heavy libraries (vectorbt,
matplotlib) are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from events.errors import InputError

DEFAULT_OUT = Path("reports")


def _study_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("event study")
    g.add_argument("--market", default="SPY", help="benchmark ticker (default SPY)")
    g.add_argument("--estimation", type=int, default=250, metavar="L",
                   help="estimation window length in sessions (default 250)")
    g.add_argument("--gap", type=int, default=10,
                   help="sessions between estimation window and day 0, exclusive (default 10)")
    g.add_argument("--window", type=int, nargs=2, default=(-5, 10), metavar=("A", "B"),
                   help="event window in sessions relative to day 0 (default -5 10)")
    g.add_argument("--min-obs", type=int, default=120,
                   help="minimum estimation returns for a pair (default 120)")


def _run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("strategy")
    g.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="strategy parameter, repeatable (e.g. --param hold=3)")
    g.add_argument("--fees", type=float, default=0.0005, help="fees, fraction of notional")
    g.add_argument("--fixed-fees", type=float, default=0.0, help="fixed fee per fill")
    g.add_argument("--slippage", type=float, default=0.0005, help="slippage, fraction of price")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, help="output folder (default reports/<run-name>)")
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
    _common(study)
    _study_options(study)

    run = sub.add_parser("run", help="backtest a strategy on a calendar")
    run.add_argument("calendar", help="calendar YAML file, or a bundled name (openai)")
    run.add_argument("--strategy", required=True, help="strategy name")
    _common(run)
    _study_options(run)
    _run_options(run)
    return parser


def _params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--param expects KEY=VALUE, got {item!r}", field="param")
        out[key.strip()] = value.strip()
    return out


def _dispatch(args: argparse.Namespace) -> Path:
    from backtest.prices import PriceStore
    from backtest.runner import resolve_calendar, run_job
    from backtest.simulate import Costs
    from backtest.study import StudyConfig
    from strategies import get_strategy

    store = PriceStore(cache_dir=args.cache_dir, offline=args.offline)
    if args.command == "demo":
        strategy = get_strategy("short_partners_on_bad_news")
        out = args.out or DEFAULT_OUT / "demo"
        return run_job("openai", out, strategy=strategy, store=store, seed_event=args.event,
                       title="Demo: OpenAI compute-chain news, study and short-partners strategy")
    calendar = resolve_calendar(args.calendar)
    config = StudyConfig(market=args.market.upper(), estimation_length=args.estimation,
                         gap=args.gap, event_window=tuple(args.window),
                         min_estimation_obs=args.min_obs)
    if args.command == "study":
        out = args.out or DEFAULT_OUT / f"study-{calendar.name}"
        return run_job(calendar, out, config=config, store=store, seed_event=args.event,
                       title=f"Event study: {calendar.name}")
    strategy = get_strategy(args.strategy, **_params(args.param))
    costs = Costs(fees=args.fees, fixed_fees=args.fixed_fees, slippage=args.slippage)
    out = args.out or DEFAULT_OUT / f"run-{calendar.name}-{strategy.name}"
    return run_job(calendar, out, strategy=strategy, config=config, costs=costs, store=store,
                   seed_event=args.event, title=f"{strategy.name} on {calendar.name}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = _dispatch(args)
    except InputError as exc:
        print(f"backtest: error: {exc}", file=sys.stderr)
        return 2
    print(f"report: {(out / 'index.html').resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
