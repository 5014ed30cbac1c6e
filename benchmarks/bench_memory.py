"""Peak memory of a million-pair study, its AR table streamed to parquet parts.

    python benchmarks/bench_memory.py [--events 1000] [--tickers 1000] [--cluster local:2]
                                      [--no-parts] [--threads N] [--seed 1]
                                      [--event-window -10 10] [--car-windows-only]

Question: does a study of 1,000 events x 1,000 linked tickers (1M pairs) stay under 4 GB
of resident memory (issue 21) when its blocks write the AR table's parts themselves
(``run_study(ar_parts=...)``), and what does it take without them (``--no-parts``: the AR
arrays gathered, as with ``--format csv``)?

Data: the ``../shared`` universe panel (:mod:`benchmarks._universe`), tickers with at least
880 closes; each event links ``--tickers`` distinct tickers drawn by a seeded RNG, day 0 a
random session with 270 before it and 11 after (one event per draw, so every ticker is in
about as many events as the others). Model: market, estimation 250 days, gap 10, event
window (-10, 10), six CAR windows, one group ("all"), ``pseudo_draws=199``, and
``exclude_other_events=False``: with 1,000 events a ticker's other events would cover its
whole estimation window and most pairs would be skipped, which is not the load to measure.
``--event-window -1 1`` (the three-day window, CAR windows (-1, 1), (0, 0), (0, 1)) is the
10M-pair run of the README: on 3.5 years of sessions, 10M pairs put about 1,200 events on
each ticker, and a 21-day window would confound each pair with some 85 others.

Printed: pairs, seconds of run_study and of ``result.write`` (every table, parquet), and the
process's peak resident memory (VmHWM, including the panel and the imports, printed apart
as "before") after each. ``--cluster local:N``: the blocks run on N Dask worker processes
that write the parts; the peak is this (client) process's own. Without it the blocks run
on this process's threads (the study's default, one per CPU; ``--threads 1``: serially).
Writes into a temporary
folder, removed at the end. Run in a fresh process (the peak is the process's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _universe import MARKET, eligible_tickers, load_panel, require_universe  # noqa: E402


def _kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":"))


def calendar(panel, n_events: int, n_tickers: int, seed: int):
    from events.model import Calendar, Event, LinkedTicker, Sentiment

    tickers = eligible_tickers(panel, 880)
    rng = np.random.default_rng(seed)
    day0 = 270 + rng.integers(0, len(panel.sessions) - 281, n_events)  # room for (-10, 10)
    sentiment = Sentiment("bearish", 60)
    events = tuple(
        Event(f"E{i:05d}", "benchmark event", "benchmarks/bench_memory.py", sentiment,
              tuple(LinkedTicker(t, "partner", "down")
                    for t in rng.choice(tickers, n_tickers, replace=False)),
              date=panel.sessions[p].date(), session="before_open")
        for i, p in enumerate(day0))
    return Calendar("memory", events)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--tickers", type=int, default=1000)
    ap.add_argument("--cluster", default=None, help="local:N (Dask workers write the parts)")
    ap.add_argument("--no-parts", action="store_true", help="gather the AR arrays instead")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads of this process (default: the study's, one per CPU; 1: serial)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--event-window", type=int, nargs=2, default=(-10, 10), metavar=("A", "B"),
                    help="event window (default -10 10); the CAR windows are the six "
                         "defaults that fit in it")
    ap.add_argument("--car-windows-only", action="store_true",
                    help="the statistics of the six CAR windows only, not also of the 21 "
                         "single event days (run_study(single_days=False))")
    args = ap.parse_args()
    require_universe()

    from backtest.eventstudy import StudyConfig, run_study
    from backtest.parallel import DaskExecutor, ThreadExecutor, open_client

    panel = load_panel()
    panel.returns, panel.data_hash  # the panel's one-off cached properties
    cal = calendar(panel, args.events, args.tickers, args.seed)
    a, b = args.event_window
    car_windows = tuple(w for w in ((-1, 1), (0, 0), (0, 1), (0, 5), (2, 10), (-10, 10))
                        if a <= w[0] and w[1] <= b)
    config = StudyConfig(model="market", market=MARKET, estimation_length=250, gap=10,
                         event_window=(a, b), pseudo_draws=199, group_by=(),
                         car_windows=car_windows, exclude_other_events=False)
    folder = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    try:
        with (open_client(args.cluster) if args.cluster else nullcontext()) as client:
            map_blocks = (DaskExecutor(client) if client is not None
                          else ThreadExecutor(args.threads))
            warm = type(cal)("warm", cal.events[:2])
            run_study(warm, panel, config, map_blocks=map_blocks)  # numba loads its cache
            before = _kb("VmRSS")
            with open("/proc/self/clear_refs", "w") as fh:  # reset VmHWM to the current RSS
                fh.write("5")
            t = time.perf_counter()
            res = run_study(cal, panel, config, map_blocks=map_blocks,
                            ar_parts=None if args.no_parts else folder / "out" / "ar.parquet",
                            single_days=not args.car_windows_only)
            study = time.perf_counter() - t
            peak_study = _kb("VmHWM")
            t = time.perf_counter()
            res.write(folder / "out")
            write = time.perf_counter() - t
            peak = _kb("VmHWM")
        pairs = len(res.car) // len(config.car_windows)
        threads = map_blocks.workers if isinstance(map_blocks, ThreadExecutor) else None
        where = ("serial" if threads == 1 else
                 f"{threads or os.cpu_count()} threads of this process")
        print(f"pairs {pairs:,} (skipped {len(res.skipped):,}), "
              f"{'Dask ' + args.cluster if args.cluster else where}, "
              f"AR {'gathered' if args.no_parts else 'parts written by the blocks'}")
        print(f"run_study {study:.1f} s, peak {peak_study / 1e6:.2f} GB; write {write:.1f} s, "
              f"peak {peak / 1e6:.2f} GB (before the study: {before / 1e6:.2f} GB: panel and "
              f"imports)")
        print(f"target < 4 GB: {'met' if peak < 4e6 else 'missed'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
