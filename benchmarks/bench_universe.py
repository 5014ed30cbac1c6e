"""The universe study end to end through the command line, against the compute floor.

    python benchmarks/bench_universe.py [--formats parquet,csv] [--timeout 900] [--repeats 1]

Question: how long does ``backtest study openai --universe PANEL --offline`` take, report
included (every table written, every chart drawn), as a multiple of the compute floor
measured in the same run (:mod:`benchmarks._floor`: a serial compiled market model over
the same pairs: the bundled calendar's 9 events x every universe ticker)? Each format of
the per-pair tables (``--format parquet``, the default, and ``csv``) runs once in a fresh
process (warm numba cache: one untimed small study first loads the kernels from disk).
``--repeats N`` runs each format N times, the formats taking turns, and prints the median
and range: on this 2-core VM one run's wall time varies by a third from minute to minute.

Printed: wall seconds, the ratio to the floor, the study's own ``run_seconds`` (run.json:
loading to the last table, before the report), the size of the results folder, and the
peak resident memory of the child process (getrusage). Writes only into a temporary
folder, removed at the end. Issue 21's target: <= 60x the floor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _floor import floor_seconds  # noqa: E402
from _universe import UNIVERSE_PATH, require_universe  # noqa: E402


def backtest_cmd() -> list[str]:
    script = Path(sys.executable).parent / "backtest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "backtest"]


def floor_for_universe(path: Path) -> tuple[float, int]:
    """Floor seconds for every (bundled event, universe ticker) pair, and the pair count."""
    from backtest.data.universe import load_universe
    from events.loader import resolve_calendar
    from events.timing import event_timing

    panel = load_universe(path)
    returns = panel.returns.to_numpy(dtype="float64")
    market = returns[:, list(panel.returns.columns).index("SPY")]
    pos = {d: i for i, d in enumerate(panel.sessions)}
    day0 = [pos[event_timing(e).day0] for e in resolve_calendar("openai")]
    cols = np.arange(returns.shape[1])
    col = np.tile(cols, len(day0))
    pos0 = np.repeat(day0, len(cols))
    seconds, _ = floor_seconds(returns, market, col, pos0, 250, 10, (-5, 10))
    return seconds, len(col)


# A wrapper process per command, so RUSAGE_CHILDREN's peak is that command's alone.
_WRAP = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
         "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
         "file=sys.stderr); sys.exit(p.returncode)")


def run_cli(args: list[str], timeout: float) -> tuple[float, int, int]:
    """Wall seconds, exit status and the command's peak RSS (KiB)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAP, *backtest_cmd(), *args],
                          capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines()
            if line.startswith("PEAK_KB ")]
    return seconds, proc.returncode, peak[-1] if peak else -1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--formats", default="parquet,csv")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--repeats", type=int, default=1,
                    help="runs of each format, the formats taking turns (default 1); the "
                         "median and range are printed after the table")
    args = ap.parse_args()
    path = require_universe(UNIVERSE_PATH)
    floor, n_pairs = floor_for_universe(path)
    print(f"- compute floor: {floor * 1000:.0f} ms for {n_pairs:,} pairs (serial numba "
          f"market model, best of 3)")
    print(f"- load average at start: {os.getloadavg()[0]:.2f}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-universe-"))
    rows = []
    try:
        warm = ["study", "openai", "--offline", "--pseudo-draws", "0", "--out",
                str(tmp / "warm")]
        run_cli(warm, args.timeout)  # loads the compiled kernels into numba's cache
        for fmt in [f for _ in range(max(args.repeats, 1)) for f in args.formats.split(",")]:
            out = tmp / fmt
            seconds, status, peak = run_cli(["study", "openai", "--universe", str(path),
                                             "--offline", "--format", fmt, "--out", str(out)],
                                            args.timeout)
            run = json.loads((out / "run.json").read_text()) if status == 0 else {}
            size = (sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
                    if status == 0 else 0)  # ar.parquet is a folder of parts
            rows.append((fmt, seconds, status, run.get("run_seconds"), size, peak))
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n| --format | exit | wall s | x floor | study s (run.json) | folder MB | "
          "peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for fmt, seconds, status, study_s, size, peak in rows:
        peak_text = f"{peak / 1024:,.0f}" if peak > 0 else "-"
        print(f"| {fmt} | {status} | {seconds:.1f} | {seconds / floor:,.0f}x | "
              f"{study_s if study_s is not None else '-'} | {size / 2**20:,.0f} | "
              f"{peak_text} |")
    if args.repeats > 1:
        print()
        for fmt in args.formats.split(","):
            walls = [r[1] for r in rows if r[0] == fmt and r[2] == 0]
            if walls:
                med = statistics.median(walls)
                print(f"- {fmt}: median {med:.1f} s ({med / floor:,.0f}x the floor), range "
                      f"{min(walls):.1f}-{max(walls):.1f} s over {len(walls)} runs")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    return 0 if all(r[2] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
