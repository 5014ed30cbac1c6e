"""Parameter-sweep speed: 1,000 (or 10,000) combinations on the bundled calendar via run_sweep.

Question: does :func:`backtest.sim.sweeps.run_sweep` evaluate 1,000 parameter
combinations of a news strategy in at most 5 s once warm?

Setup: the bundled ``openai`` calendar and its bundled prices, strategy
:class:`strategies.news.ShortPartnersOnBadNews`, default costs (:class:`backtest.sim.costs.Costs`:
fees 5 bp, slippage 5 bp), 100,000 initial cash. Grid (10 x 10 x 5 x 2 = 1,000,
every value valid and every combination trades at least one event, since the
calendar's bearish scores are 65, 70 and 85):

* threshold: 40, 45, ..., 85
* hold: 1, 2, ..., 10 sessions
* gross: 0.2, 0.4, 0.6, 0.8, 1.0
* stop: 0 (none), 0.05

Measured:

* cold: the first sweep in this process (vectorbt import, numba functions loaded
  from the on-disk cache);
* warm: best and median of ``--repeats`` sweeps after that, each from the calendar
  and panel already in memory (what ``backtest sweep`` does after loading data);
* combinations/s = 1,000 / warm best;
* peak memory: the process's RSS sampled every 5 ms during the warm sweeps (peak,
  and peak minus the RSS just before them), and tracemalloc's peak of Python and
  numpy allocations during one extra, untimed sweep (tracemalloc slows code down).

Run: ``python benchmarks/bench_sweep.py`` (under a minute warm on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import code_version  # noqa: E402

GRID = {
    "threshold": [40, 45, 50, 55, 60, 65, 70, 75, 80, 85],
    "hold": list(range(1, 11)),
    "gross": [0.2, 0.4, 0.6, 0.8, 1.0],
    "stop": [0.0, 0.05],
}
# --combinations 10000 (issue 21): the same axes, gross and stop ten values each.
GRID_10K = {**GRID, "gross": [round(0.1 * k, 1) for k in range(1, 11)],
            "stop": [0.0] + [round(0.01 * k, 2) for k in range(1, 10)]}
TARGETS = {1000: 5.0, 10000: 3.0}  # warm seconds: issue 9's for 1,000, issue 21's for 10,000


class RssSampler:
    """Peak resident set size of this process, sampled in a background thread."""

    def __init__(self, every: float = 0.005):
        import psutil

        self.proc, self.every, self.peak = psutil.Process(), every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self):
        self.start_rss = self.proc.memory_info().rss
        self.peak = self.start_rss
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed warm sweeps (default 3)")
    ap.add_argument("--combinations", type=int, choices=sorted(TARGETS), default=1000,
                    help="grid size: 1000 (default) or 10000")
    args = ap.parse_args()
    grid = GRID if args.combinations == 1000 else GRID_10K
    target = TARGETS[args.combinations]

    from backtest.data.store import load_panel
    from backtest.sim.sweeps import expand_grid, run_sweep
    from events.loader import resolve_calendar
    from strategies.news import ShortPartnersOnBadNews

    n = len(expand_grid(grid))
    for params in expand_grid(grid):  # every combination is a valid strategy
        ShortPartnersOnBadNews(**params)
    cal = resolve_calendar("openai")
    panel = load_panel(cal)

    def sweep():
        return run_sweep(cal, panel, ShortPartnersOnBadNews, grid, progress=False).table

    t0 = time.perf_counter()
    table = sweep()
    cold = time.perf_counter() - t0
    assert len(table) == n, (len(table), n)
    no_trades = int((table["trades"] == 0).sum())

    times = []
    with RssSampler() as rss:
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            again = sweep()
            times.append(time.perf_counter() - t0)
    same = table.equals(again)

    tracemalloc.start()
    sweep()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    best, median = min(times), statistics.median(times)
    meets = best <= target
    mib = 1024 ** 2
    print(f"| combinations | grid | cold s | warm best s | warm median s | combinations/s "
          f"| peak RSS MiB | RSS growth during sweep MiB | tracemalloc peak MiB "
          f"| <= {target:g} s warm |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    grid_text = " x ".join(f"{k} {len(v)}" for k, v in grid.items())
    print(f"| {n:,} | {grid_text} | {cold:.2f} | {best:.2f} | {median:.2f} | "
          f"{n / best:,.0f} | {rss.peak / mib:,.0f} | {(rss.peak - rss.start_rss) / mib:,.0f} "
          f"| {traced_peak / mib:,.0f} | {'yes' if meets else 'NO'} |")
    print()
    print(f"- calendar openai: {len(cal)} events, prices {panel.close.shape[0]} sessions x "
          f"{panel.close.shape[1]} tickers; strategy short_partners_on_bad_news, default "
          f"costs; warm = {args.repeats} sweeps after one cold sweep")
    print("- grid: " + "; ".join(f"{k} = {v}" for k, v in grid.items()))
    print(f"- combinations without trades: {no_trades}; total trades over all combinations: "
          f"{int(table['trades'].sum()):,}; warm result identical to the cold one: "
          f"{'yes' if same else 'NO'}")
    print(f"- warm sweep times s: {', '.join(f'{t:.2f}' for t in times)}")
    print(f"- code measured: {code_version()}")
    print(f"- machine: {os.cpu_count()} cores; 1-min load average at the end "
          f"{os.getloadavg()[0]:.2f} (other processes running make timings noisier)")
    print(f"\nmeets {n:,} combinations <= {target:g} s warm: "
          f"{'yes' if meets else 'NO'} ({best:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
