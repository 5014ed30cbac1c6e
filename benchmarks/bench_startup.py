"""Start-up cost of the ``backtest`` command: demo cold and warm, import time, --help.

Question: how long does a user wait for ``backtest demo`` the first time and the
second time, what does importing the CLI cost, and does ``backtest --help`` stay
light (no vectorbt import)?

Definitions (every command runs in a fresh interpreter via subprocess):

* demo cold: ``backtest demo --offline --out TMP`` with ``NUMBA_CACHE_DIR`` set to a
  new, empty temporary directory, so every numba function vectorbt uses is
  JIT-compiled (Python's own .pyc files are not cleared);
* demo warm: the same command again with the same ``NUMBA_CACHE_DIR`` (numba
  functions load from that cache); run twice, both shown;
* the same three runs of ``backtest demo --compile`` from another empty cache: the demo
  runs numba's functions as plain Python unless told to compile them (issue 21), so this
  is what compiling costs a first run and saves a later one;
* ``BACKTEST_CACHE_DIR`` points at an empty temporary directory for the demo runs
  (the demo reads only the bundled prices, ``--offline``);
* import time: ``python -X importtime -c "import backtest.app.cli"``; total = sum of
  the "self" column over every module imported (what the interpreter spent
  importing), also the cumulative time of the ``backtest.app.cli`` line and the
  process wall time; median of ``--repeats`` runs after one untimed run;
* ``backtest --help``: wall time of the console script, median of ``--repeats``;
* a refusal: ``backtest study tests/fixtures/bad/bad_timestamp.yaml --offline --out TMP``
  (exit 2 expected), wall time, median of ``--repeats``: what a user waits to learn
  that line 5 of their calendar is wrong;
* vectorbt check: ``python -c "import sys, backtest.app.cli; backtest.app.cli.build_parser();
  print('vectorbt' in sys.modules)"``, and the same after ``main(['--help'])``,
  which is what ``backtest --help`` runs.

Exit status 1 if ``backtest --help`` imports vectorbt or a command fails.

Run: ``python benchmarks/bench_startup.py`` (about 2-3 minutes).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("vectorbt", "numba", "matplotlib", "scipy", "pandas", "yfinance", "exchange_calendars")
HELP_PROBE = """
import sys, backtest.app.cli
try:
    backtest.app.cli.main(["--help"])
except SystemExit:
    pass
print(",".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


def backtest_cmd() -> list[str]:
    script = Path(sys.executable).parent / "backtest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "backtest"]


def run(cmd: list[str], env: dict | None = None,
        expect: int = 0) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    # the demo's two modes are chosen by --compile: a NUMBA_DISABLE_JIT of the caller's
    # would make both the same
    mine = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    proc = subprocess.run(cmd, env={**mine, **(env or {})}, capture_output=True,
                          text=True, cwd=ROOT, check=False)
    dt = time.perf_counter() - t0
    if proc.returncode != expect:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return dt, proc


def importtime(repeats: int) -> dict[str, float]:
    """Median total self time, backtest.app.cli cumulative time and wall time (seconds)."""
    cmd = [sys.executable, "-X", "importtime", "-c", "import backtest.app.cli"]
    run(cmd)  # untimed: writes any missing .pyc
    totals, cumulative, walls = [], [], []
    line = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")
    for _ in range(repeats):
        wall, proc = run(cmd)
        self_us, cli_us = 0, None
        for text in proc.stderr.splitlines():
            m = line.match(text)
            if not m:
                continue
            self_us += int(m.group(1))
            if m.group(4) == "backtest.app.cli":
                cli_us = int(m.group(2))
        totals.append(self_us / 1e6)
        cumulative.append((cli_us or 0) / 1e6)
        walls.append(wall)
    return {"total": statistics.median(totals), "cli": statistics.median(cumulative),
            "wall": statistics.median(walls)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="runs of the short commands")
    args = ap.parse_args()
    bt = backtest_cmd()
    rows = []
    failed = False

    tmp = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        price_dir = tmp / "price-cache"
        price_dir.mkdir()
        # the demo as shipped (kernels run as Python), then with --compile (numba compiles
        # them, as every other command does): each from its own empty numba cache
        for mode, flags in (("", []), (" --compile", ["--compile"])):
            numba_dir = tmp / f"numba-cache{mode.strip()}"
            numba_dir.mkdir()
            env = {"NUMBA_CACHE_DIR": str(numba_dir), "BACKTEST_CACHE_DIR": str(price_dir)}
            for k, label in enumerate(("cold (empty NUMBA_CACHE_DIR)",
                                       "warm (2nd run, same NUMBA_CACHE_DIR)",
                                       "warm (3rd run, same NUMBA_CACHE_DIR)")):
                out = tmp / f"demo{mode.strip()}-{k}"
                dt, _ = run([*bt, "demo", "--offline", *flags, "--out", str(out)], env)
                if not (out / "index.html").is_file():
                    failed = True
                cached = sum(1 for _ in numba_dir.rglob("*.nbi"))
                target = 20 if k == 0 else 5
                rows.append((f"backtest demo{mode}, {label}", f"{dt:.2f}",
                             (f"{dt / target:.2f}x the target ({target} s); report written: "
                              f"{(out / 'index.html').is_file()}; numba cache index files "
                              f"after run: {cached}")))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    imp = importtime(args.repeats)
    rows.append(("python -X importtime -c 'import backtest.app.cli': total import time",
                 f"{imp['total']:.3f}",
                 (f"sum of 'self' over all modules; backtest.app.cli cumulative "
                  f"{imp['cli']:.3f} s; process wall {imp['wall']:.3f} s; "
                  f"median of {args.repeats}")))

    help_times = [run([*bt, "--help"])[0] for _ in range(args.repeats)]
    rows.append(("backtest --help", f"{statistics.median(help_times):.3f}",
                 (f"median of {args.repeats} (min {min(help_times):.3f}, "
                  f"max {max(help_times):.3f}); {' '.join(bt)}")))

    bad = ROOT / "tests" / "fixtures" / "bad" / "bad_timestamp.yaml"
    refusals = []
    for _ in range(args.repeats):
        dt, proc = run([*bt, "study", str(bad), "--offline", "--out",
                        str(Path(tempfile.gettempdir()) / "bench-startup-never-written")],
                       expect=2)
        refusals.append(dt)
    rows.append(("backtest study BAD.yaml (refused, exit 2)",
                 f"{statistics.median(refusals):.3f}",
                 (f"median of {args.repeats} (min {min(refusals):.3f}, "
                  f"max {max(refusals):.3f}); {bad.name}, exit code {proc.returncode}")))

    _, proc = run([sys.executable, "-c", ("import sys, backtest.app.cli; "
                                          "backtest.app.cli.build_parser(); "
                                          "print('vectorbt' in sys.modules)")])
    parser_vbt = proc.stdout.strip() == "True"
    _, proc = run([sys.executable, "-c", HELP_PROBE.format(heavy=HEAVY)])
    heavy = [m for m in proc.stderr.strip().splitlines()[-1].split(",") if m] \
        if proc.stderr.strip() else []
    help_vbt = "vectorbt" in heavy
    rows.append(("build_parser() imports vectorbt", str(parser_vbt),
                 ("python -c \"import sys, backtest.app.cli; backtest.app.cli.build_parser(); "
                  "print('vectorbt' in sys.modules)\"")))
    rows.append(("backtest --help imports vectorbt", str(help_vbt),
                 f"after main(['--help']), heavy modules loaded: {', '.join(heavy) or 'none'}"))

    print("| measurement | seconds / result | notes |")
    print("|---|---:|---|")
    for name, value, note in rows:
        print(f"| {name} | {value} | {note} |")
    print(f"\n- machine: {os.cpu_count()} cores; 1-min load average at the end "
          f"{os.getloadavg()[0]:.2f} (other processes running make timings noisier)")
    ok = not (parser_vbt or help_vbt or failed)
    print(f"\nbacktest --help stays free of vectorbt: {'yes' if not help_vbt else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
