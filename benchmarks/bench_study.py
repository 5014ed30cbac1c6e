"""Event-study throughput on the real US universe, side by side with PyPI ``eventstudy``.

    python benchmarks/bench_study.py [--sizes 1000,10000,100000] [--es-sizes 1000,10000]
                                     [--seed 20260501] [--pseudo-draws 199] [--timeout 300]
                                     [--rounds 1]

Data: ``../shared/data/universe/us_adjclose_2023-01_2026-07.parquet`` (897 sessions x
11,386 tickers of adjusted closes with NaN runs; see SOURCES.md there), put into a
:class:`backtest.data.PricePanel` (open = close, dividend = 0, close_is_adjusted) on
the XNYS sessions of its date range (:mod:`benchmarks._universe`).

Pairs: a seeded numpy RNG draws (ticker, day 0) with replacement: a ticker with at
least 271 closes in the panel (not SPY, not an ^index level) and a day 0 with >= 270
sessions before it and 11 after. Nothing else is filtered: a pair's windows may sit in
a NaN run (before listing, after delisting, halts) and run_study skips or keeps it by
its own rules. Draws are nested (the 1k pairs are the first 1k of the 10k, and so on).
The calendar is built from events.model dataclasses directly, one event per pair
(date = day 0, before_open, so day 0 is that session).

Ours: ``backtest.eventstudy.run_study`` with StudyConfig(model="market", estimation_length=250,
gap=10, event_window=(-10, 10), six CAR windows, group_by=(), pseudo_draws=199): AR,
SAR, CAR, BHAR, CAAR and the full test battery for the single group "all" on every
CAR window and every event day. Each size runs in a fresh subprocess (memory isolated,
timed out, a MemoryError or an OOM kill reported rather than crashing this script).
Timed: the run_study call alone, after the panel's one-off cached properties
(``returns``, ``data_hash``) were computed and after a warm-up run_study on 200 of the
pairs (numba loads the compiled kernels from its disk cache on a process's first call):
eventstudy is likewise handed precomputed returns and runs warm. Those one-off seconds,
the panel load and the calendar build are printed apart.

Rounds: the ratio of one run moves with the hour (eventstudy's 10k run took 6.6-8.2 s one
afternoon and 1.8-2.4 s the next evening, ours 1.0-1.2 s and 0.4-1.0 s), so ``--rounds K``
runs K-1 more rounds per size both ran at, ours in a fresh worker then eventstudy, and
prints each round's seconds and the median ratio.

Floor: in the same worker, after the study, the compute floor on the same pairs
(:mod:`benchmarks._floor`: a serial compiled market model, estimation sums and the event
window's ARs, nothing else; best of 3): "ours / floor" is the study's seconds over it.

Memory: the peak resident set size during run_study minus the RSS just before it. The
kernel's high-water mark (VmHWM) is reset through ``/proc/self/clear_refs`` right before
the call, so this is a getrusage-maxrss-style peak of the study alone, not of the data
loading; where that reset is not possible, the plain ``ru_maxrss`` delta is used (the
output says which). ``--memory tracemalloc`` uses tracemalloc's peak instead (Python and
numpy allocations only; slower).

eventstudy 0.1a12 (``pip install eventstudy==0.1a12``; MIT): ``Multiple.from_list`` of
``Single.market_model`` with event_window=(-10, 10), estimation_size=250, buffer_size=0.
Its rows are ``[day0 + event_window[0] - buffer - estimation_size, day0 + event_window[1]]``,
so buffer_size=0 puts its 250 estimation rows on days -260..-11, exactly our
estimation_length=250 with gap=10 (our gap is counted from day 0, its buffer from the
start of the event window). Returns: it is handed our own simple returns
``panel.returns`` (close_t / close_{t-1} - 1 per session, NaN where a close is missing)
through ``Single._save_parameter("returns", ...)``, which is what ``import_returns``
does after reading a CSV; its ``is_price=True`` path would compute *log* returns by
default, so it is not used. Same model: OLS of the stock on an intercept and SPY
(statsmodels). The timed part includes the Multiple aggregation (AAR, CAAR, t-test),
its whole output.

AR check, two ways:

A. the timed run itself, on the pairs whose 250 estimation rows are complete for both
   (our n_est == 250: no missing return and no day excluded as another event's window).
   eventstudy cannot drop rows: one NaN in a stock's estimation window makes its OLS,
   and so all 21 ARs of that pair, NaN (and its Multiple AAR then NaN too); our study
   drops those days (and days inside other events' windows of the same ticker). Those
   pairs are counted, not compared.
B. every pair we kept, through eventstudy's low-level ``Single(market_model, {...},
   estimation_size=n)`` fed exactly the estimation rows our study used (the usable days
   of -260..-11 minus other events' windows, recomputed here and checked against our
   n_est) followed by the 21 event-window rows. Untimed in the table (its rate is
   printed as a note).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _floor import floor_seconds  # noqa: E402
from _universe import MARKET, build_calendar, draw_pairs, load_panel, require_universe  # noqa: E402

from backtest.eventstudy import StudyConfig, run_study  # noqa: E402

EVENT_WINDOW = (-10, 10)
CAR_WINDOWS = ((-1, 1), (0, 0), (0, 1), (0, 5), (2, 10), (-10, 10))
ESTIMATION_LENGTH = 250
GAP = 10
RESULT_TAG = "BENCH_RESULT "
ROOT = Path(__file__).resolve().parents[1]


def make_config(pseudo_draws: int) -> StudyConfig:
    return StudyConfig(model="market", market=MARKET, estimation_length=ESTIMATION_LENGTH,
                       gap=GAP, event_window=EVENT_WINDOW, car_windows=CAR_WINDOWS,
                       group_by=(), pseudo_draws=pseudo_draws)


# --------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _maxrss_kb() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


class PeakMemory:
    """Peak memory of one block: ``rss`` (VmHWM reset, else ru_maxrss delta) or
    ``tracemalloc``."""

    def __init__(self, method: str):
        self.method = method
        self.label = ""
        self.peak_mb = float("nan")

    def __enter__(self):
        gc.collect()
        if self.method == "tracemalloc":
            import tracemalloc

            tracemalloc.start()
            self.label = "tracemalloc peak"
            return self
        self.rss0 = _status_kb("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset VmHWM (peak RSS) to the current RSS
            self.reset = _status_kb("VmHWM") is not None and self.rss0 is not None
        except OSError:
            self.reset = False
        if self.reset:
            self.label = "peak RSS - RSS before (VmHWM reset via /proc/self/clear_refs)"
        else:
            self.base = _maxrss_kb()
            self.label = "getrusage ru_maxrss delta (no VmHWM reset; 0 if below load peak)"
        return self

    def stop(self):
        if self.method == "tracemalloc":
            import tracemalloc

            self.peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        elif self.reset:
            self.peak_mb = (_status_kb("VmHWM") - self.rss0) / 1024
        else:
            self.peak_mb = (_maxrss_kb() - self.base) / 1024

    def __exit__(self, *exc):
        self.stop()
        return False


def _limit_address_space(fraction: float = 0.9) -> str:
    """Cap this process's address space so running out of RAM raises MemoryError here
    instead of the kernel OOM-killing something: current VmSize + 90% of MemAvailable."""
    import resource

    try:
        avail = None
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
        size = (_status_kb("VmSize") or 0) * 1024
        if avail is None:
            return "no limit (MemAvailable unknown)"
        limit = size + int(avail * fraction)
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
        return f"RLIMIT_AS {limit / 2**30:.1f} GiB"
    except (OSError, ValueError) as exc:
        return f"no limit ({exc})"


# --------------------------------------------------------------------------------------
# worker: one run_study in its own process
# --------------------------------------------------------------------------------------


class StudyTimeout(Exception):
    pass


def code_fingerprint() -> str:
    """SHA-256 (12 hex) of the source of every backtest/events module loaded in this
    process: which version of the (concurrently edited) engine a number belongs to."""
    files = sorted({m.__file__ for name, m in list(sys.modules.items())
                    if name.split(".")[0] in ("backtest", "events")
                    and getattr(m, "__file__", None)})
    h = hashlib.sha256()
    for f in files:
        h.update(f.encode())
        try:
            h.update(Path(f).read_bytes())
        except OSError:
            h.update(b"?")
    return f"{h.hexdigest()[:12]} ({len(files)} modules)"


def worker(args) -> int:
    n = args.worker
    out: dict = {"n": n, "status": "ok", "code": code_fingerprint()}
    t = time.perf_counter()
    panel = load_panel()
    pairs = draw_pairs(panel, n, args.seed)
    out["load_s"] = time.perf_counter() - t
    t = time.perf_counter()
    calendar = build_calendar(pairs)
    out["calendar_s"] = time.perf_counter() - t
    t = time.perf_counter()
    _ = panel.returns, panel.data_hash  # one-off per panel, cached on it
    out["prep_s"] = time.perf_counter() - t
    config = make_config(args.pseudo_draws)
    # Warm-up on 200 pairs: numba loads the compiled kernels from its on-disk cache on the
    # first call of a process; that one-off cost is reported apart (bench_startup.py times
    # a cold start).
    t = time.perf_counter()
    run_study(build_calendar(pairs.iloc[:200]), panel, config)
    out["warmup_s"] = time.perf_counter() - t
    out["memory_limit"] = _limit_address_space()

    def on_alarm(signum, frame):
        raise StudyTimeout()

    signal.signal(signal.SIGALRM, on_alarm)
    result = None
    mem = PeakMemory(args.memory)
    with mem:
        signal.setitimer(signal.ITIMER_REAL, args.timeout)
        t, cpu = time.perf_counter(), time.process_time()
        try:
            result = run_study(calendar, panel, config)
            out["seconds"] = time.perf_counter() - t
            out["cpu_s"] = time.process_time() - cpu
        except StudyTimeout:
            out["status"] = f"timeout: run_study still running after {args.timeout:g} s"
            out["seconds"] = time.perf_counter() - t
        except MemoryError:
            out["status"] = "MemoryError in run_study"
            out["seconds"] = time.perf_counter() - t
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    out["peak_mb"], out["peak_method"] = mem.peak_mb, mem.label
    # The compute floor on the same pairs, in the same process (benchmarks/_floor.py).
    columns = {t: j for j, t in enumerate(panel.returns.columns)}
    out["floor_s"], _ = floor_seconds(panel.returns.to_numpy(dtype="float64"),
                                      panel.returns[MARKET].to_numpy(dtype="float64"),
                                      pairs["ticker"].map(columns).to_numpy(),
                                      pairs["pos0"].to_numpy(), ESTIMATION_LENGTH, GAP,
                                      EVENT_WINDOW)
    out["hwm_total_mb"] = (_status_kb("VmHWM") or 0) / 1024
    if result is not None:
        sk = result.skipped
        out["n_kept"] = len(result.estimates)
        out["n_skipped"] = len(sk)
        out["skip_reasons"] = (sk["reason"].str.split(":").str[0].value_counts().to_dict()
                               if len(sk) else {})
        out["n_ar_rows"] = len(result.ar)
        out["n_tests_rows"] = len(result.tests)
        out["statistics"] = int(result.tests["statistic"].nunique()) if len(result.tests) else 0
        out["windows_tested"] = (int(result.tests[["window_start", "window_end"]]
                                     .drop_duplicates().shape[0]) if len(result.tests) else 0)
        if len(result.tests):
            pe = result.tests[(result.tests["statistic"] == "pseudo_event_z")
                              & result.tests["value"].notna()]
            out["pseudo_windows"] = int(len(pe))
        if args.ar_out:
            result.ar[["event_id", "ticker", "rel_day", "ar"]].to_parquet(args.ar_out + ".ar")
            result.estimates[["event_id", "ticker", "n_est", "n_excluded"]].to_parquet(
                args.ar_out + ".est")
    print(RESULT_TAG + json.dumps(out, default=float), flush=True)
    return 0


def run_ours(n: int, args, ar_out: str | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(n), "--seed",
           str(args.seed), "--pseudo-draws", str(args.pseudo_draws), "--timeout",
           str(args.timeout), "--memory", args.memory]
    if ar_out:
        cmd += ["--ar-out", ar_out]
    hard = args.timeout + args.setup_allowance
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=hard)
    except subprocess.TimeoutExpired:
        return {"n": n, "status": f"killed: no result within {hard:.0f} s (run_study limit "
                f"{args.timeout:.0f} s + {args.setup_allowance:.0f} s for loading)"}
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    if proc.returncode == -signal.SIGKILL:
        why = "worker killed by SIGKILL (most likely the kernel OOM killer: out of memory)"
    else:
        why = f"worker exited with status {proc.returncode}"
    tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
    return {"n": n, "status": why, "stderr": tail}


# --------------------------------------------------------------------------------------
# eventstudy 0.1a12
# --------------------------------------------------------------------------------------


def eventstudy_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("eventstudy")
    except Exception:
        return None


def install_returns(es, panel) -> np.ndarray:
    """Hand eventstudy our simple returns, as ``Single.import_returns`` stores them."""
    r = np.ascontiguousarray(panel.returns.to_numpy(dtype="float64").T)  # (tickers, T)
    data = {"date": panel.sessions.to_numpy()}
    data.update({t: r[j] for j, t in enumerate(panel.returns.columns)})
    es.Single._save_parameter("returns", data)
    return r


def run_eventstudy(es, pairs: pd.DataFrame) -> dict:
    """Time Multiple.from_list(Single.market_model) on the pairs; their ARs (n, 21)."""
    params = [{"security_ticker": t, "market_ticker": MARKET,
               "event_date": np.datetime64(d.date())}
              for t, d in zip(pairs["ticker"], pairs["day0"])]
    import logging

    logging.disable(logging.WARNING)  # Multiple logs a warning when some events failed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN windows: numpy/statsmodels RuntimeWarnings
        t, cpu = time.perf_counter(), time.process_time()
        multi = es.Multiple.from_list(params, es.Single.market_model,
                                      event_window=EVENT_WINDOW,
                                      estimation_size=ESTIMATION_LENGTH, buffer_size=0,
                                      ignore_errors=True)
        seconds = time.perf_counter() - t
        cpu = time.process_time() - cpu
    logging.disable(logging.NOTSET)
    ok = np.array(["error_type" not in p for p in params])
    ar = np.full((len(pairs), EVENT_WINDOW[1] - EVENT_WINDOW[0] + 1), np.nan)
    ar[ok] = np.array([np.asarray(ev.AR, dtype="float64") for ev in multi.sample])
    return {"seconds": seconds, "cpu_s": cpu, "ar": ar, "ok": ok, "errors": int((~ok).sum()),
            "aar_all_nan": bool(np.isnan(multi.AAR).all()),
            "aar_any_nan": bool(np.isnan(multi.AAR).any())}


# --------------------------------------------------------------------------------------
# AR comparison
# --------------------------------------------------------------------------------------


def ours_matrix(ar_out: str, n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Our ARs as (n, 21) by pair number (NaN rows for skipped pairs), and estimates."""
    ar = pd.read_parquet(ar_out + ".ar")
    est = pd.read_parquet(ar_out + ".est")
    mat = np.full((n, EVENT_WINDOW[1] - EVENT_WINDOW[0] + 1), np.nan)
    rows = ar["event_id"].str[1:].astype(int).to_numpy()
    cols = ar["rel_day"].to_numpy() - EVENT_WINDOW[0]
    mat[rows, cols] = ar["ar"].to_numpy()
    est = est.assign(i=est["event_id"].str[1:].astype(int)).set_index("i").sort_index()
    return mat, est


def _diff(a: np.ndarray, b: np.ndarray) -> tuple[float, int, int]:
    """(max |a - b| where both finite, cells compared, cells finite in only one)."""
    fa, fb = np.isfinite(a), np.isfinite(b)
    both = fa & fb
    mx = float(np.abs(a[both] - b[both]).max()) if both.any() else float("nan")
    return mx, int(both.sum()), int((fa ^ fb).sum())


def estimation_masks(pairs: pd.DataFrame, r: np.ndarray, col: dict, m: np.ndarray
                     ) -> np.ndarray:
    """Which of days -260..-11 our study uses per pair: the stock's and the market's
    return exist and the day is not inside another event window of the same ticker."""
    est_off = np.arange(-(GAP + ESTIMATION_LENGTH), -GAP)
    a, b = EVENT_WINDOW
    pos = pairs["pos0"].to_numpy()
    cols = pairs["ticker"].map(col).to_numpy()
    days = pos[:, None] + est_off[None, :]
    mask = np.isfinite(r[cols[:, None], days]) & np.isfinite(m[days])
    for _, idx in pairs.groupby("ticker").indices.items():
        if len(idx) < 2:
            continue
        p = pos[idx]
        for j, i in enumerate(idx):
            others = np.delete(p, j)
            d = days[i][:, None]
            mask[i] &= ~((d >= others + a) & (d <= others + b)).any(axis=1)
    return mask


def check_adapted(es, pairs: pd.DataFrame, r: np.ndarray, col: dict, m: np.ndarray,
                  ours: np.ndarray, est: pd.DataFrame) -> dict:
    """Check B: eventstudy's low-level Single fed exactly our estimation rows."""
    from eventstudy.models import market_model

    mask = estimation_masks(pairs, r, col, m)
    evt_off = np.arange(EVENT_WINDOW[0], EVENT_WINDOW[1] + 1)
    est_off = np.arange(-(GAP + ESTIMATION_LENGTH), -GAP)
    kept = est.index.to_numpy()
    n_used = mask[kept].sum(axis=1)
    mismatch = int((n_used != est["n_est"].to_numpy()).sum())
    theirs = np.full_like(ours, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        for i in kept:
            p, c = int(pairs["pos0"].iat[i]), col[pairs["ticker"].iat[i]]
            rows = np.concatenate([(p + est_off)[mask[i]], p + evt_off])
            single = es.Single(market_model, {"security_returns": r[c, rows],
                                              "market_returns": m[rows]},
                               event_window=EVENT_WINDOW, estimation_size=int(mask[i].sum()),
                               buffer_size=0)
            theirs[i] = single.AR
        seconds = time.perf_counter() - t
    mx, cells, xor = _diff(ours[kept], theirs[kept])
    return {"pairs": len(kept), "n_est_mismatch": mismatch, "max_diff": mx, "cells": cells,
            "nan_mismatch": xor, "seconds": seconds}


def compare(es, es_run: dict, pairs: pd.DataFrame, ar_out: str, r: np.ndarray, col: dict,
            m: np.ndarray) -> dict:
    n = len(pairs)
    ours, est = ours_matrix(ar_out, n)
    n_est = np.zeros(n)
    n_est[est.index.to_numpy()] = est["n_est"].to_numpy()
    excl = np.zeros(n)
    excl[est.index.to_numpy()] = est["n_excluded"].to_numpy()
    es_ar, es_ok = es_run["ar"], es_run["ok"]
    es_nan = es_ok & np.isnan(es_ar).all(axis=1)
    kept = np.zeros(n, bool)
    kept[est.index.to_numpy()] = True
    full = kept & es_ok & (n_est == ESTIMATION_LENGTH)
    mx, cells, xor = _diff(ours[full], es_ar[full])
    out = {"A": {"pairs": int(full.sum()), "max_diff": mx, "cells": cells, "nan_mismatch": xor},
           "es_all_nan": int(es_nan.sum()),
           "es_all_nan_ours_kept": int((es_nan & kept).sum()),
           "ours_skipped": int((~kept).sum()),
           "ours_kept_with_exclusions": int((kept & (excl > 0)).sum()),
           "es_finite_ours_rows_differ": int((kept & es_ok & ~es_nan
                                              & (n_est != ESTIMATION_LENGTH)).sum())}
    out["B"] = check_adapted(es, pairs, r, col, m, ours, est)
    return out


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_info() -> list[str]:
    import numpy
    import pandas
    import scipy

    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh
                        if line.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        pass
    try:
        import statsmodels

        sm = statsmodels.__version__
    except ImportError:
        sm = "not installed"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    code = []
    for rel in ("backtest/study.py", "backtest/stats.py", "backtest/models.py"):
        p = ROOT / rel
        if p.is_file():
            code.append(f"{rel} sha256:{hashlib.sha256(p.read_bytes()).hexdigest()[:12]}")
    now = dt.datetime.now(dt.timezone.utc)
    return [
        f"- date: {now:%Y-%m-%d %H:%M:%S} UTC",
        f"- load average at start: {loadavg()} (other processes share these CPUs: wall "
        f"times below are as measured, CPU seconds are printed beside them)",
        f"- machine: {platform.machine()}, {cpu or 'cpu model unknown'}; "
        f"os.cpu_count() = {os.cpu_count()}, usable CPUs (affinity) = {affinity}; RAM {mem}",
        f"- python {platform.python_version()}, numpy {numpy.__version__}, "
        f"pandas {pandas.__version__}, scipy {scipy.__version__}, statsmodels {sm}, "
        f"eventstudy {eventstudy_version() or 'not installed'}",
        f"- engine code at start: {code_fingerprint()}, of which {'; '.join(code)}",
    ]


def _fmt_s(x) -> str:
    return f"{x:.2f}" if x is not None and np.isfinite(x) else "-"


def _fmt_rate(x) -> str:
    return f"{x:,.0f}" if x is not None and np.isfinite(x) else "-"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--es-sizes", default="1000,10000")
    ap.add_argument("--seed", type=int, default=20260501)
    ap.add_argument("--pseudo-draws", type=int, default=199)
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds allowed for one run_study call (default 300)")
    ap.add_argument("--setup-allowance", type=float, default=180.0,
                    help="extra seconds a worker may spend loading data before it is killed")
    ap.add_argument("--es-budget", type=float, default=300.0,
                    help="if eventstudy's projected time for a size exceeds this, time a 2k "
                         "subset and extrapolate")
    ap.add_argument("--memory", choices=("rss", "tracemalloc"), default="rss")
    ap.add_argument("--rounds", type=int, default=1,
                    help="for each size both ran at: this many rounds in all, ours and "
                         "eventstudy alternating, and the median ratio (default 1: the "
                         "table's run only)")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--ar-out", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    require_universe()
    if args.worker:
        return worker(args)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    es_sizes = [int(s) for s in args.es_sizes.split(",") if s]
    print("# Event-study throughput: run_study vs eventstudy 0.1a12\n")
    print("\n".join(machine_info()))
    cfg = make_config(args.pseudo_draws)
    print(f"- config: model={cfg.model}, market={cfg.market}, estimation_length="
          f"{cfg.estimation_length}, gap={cfg.gap} (estimation days -260..-11), event_window="
          f"{cfg.event_window}, car_windows={cfg.car_windows}, group_by={cfg.group_by}, "
          f"pseudo_draws={cfg.pseudo_draws}, min_estimation_obs={cfg.min_estimation_obs}, "
          f"exclude_other_events={cfg.exclude_other_events}")
    print(f"- pairs: seed {args.seed}, nested draws; per-size run_study limit "
          f"{args.timeout:.0f} s, in a fresh subprocess")

    t = time.perf_counter()
    panel = load_panel()
    all_pairs = draw_pairs(panel, max(sizes + es_sizes), args.seed)
    print(f"- universe: {panel.close.shape[0]} sessions x {panel.close.shape[1]} tickers, "
          f"{panel.sessions[0].date()} to {panel.sessions[-1].date()}, "
          f"{float(panel.close.isna().to_numpy().mean()):.1%} of cells NaN; loaded in "
          f"{time.perf_counter() - t:.1f} s\n", flush=True)

    try:
        import eventstudy as es
    except ImportError:
        es = None
        print("eventstudy is not installed (pip install eventstudy==0.1a12): its columns "
              "are left empty\n")
    r = m = col = None
    if es is not None:
        r = install_returns(es, panel)
        col = {tk: j for j, tk in enumerate(panel.returns.columns)}
        m = r[col[MARKET]]

    rows, notes = [], []
    es_rate_prev = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            ar_out = os.path.join(tmp, f"ours_{n}") if (es is not None and n in es_sizes) \
                else None
            print(f"running run_study on {n:,} pairs ...", file=sys.stderr, flush=True)
            ours = run_ours(n, args, ar_out)
            ok = ours.get("status") == "ok"
            row = {"n": n, "ours": ours, "es_rate": None, "ratio": None, "diff": None,
                   "es_note": ""}
            if ok:
                notes.append(
                    f"- {n:,} pairs, ours: run_study {ours['seconds']:.2f} s wall, "
                    f"{ours['cpu_s']:.2f} s CPU; kept "
                    f"{ours['n_kept']:,}, skipped {ours['n_skipped']:,} "
                    f"{ours['skip_reasons'] or ''}; {ours['n_ar_rows']:,} AR rows, "
                    f"{ours['n_tests_rows']:,} test rows ({ours['statistics']} statistics x "
                    f"{ours['windows_tested']} windows, group 'all'; pseudo-event test on "
                    f"{ours.get('pseudo_windows', 0)} multi-day windows); not timed: panel "
                    f"load + pair draw {ours['load_s']:.1f} s, calendar build "
                    f"{ours['calendar_s']:.2f} s, panel returns + data_hash "
                    f"{ours['prep_s']:.2f} s, warm-up run_study on 200 pairs (loads the "
                    f"compiled kernels) {ours['warmup_s']:.2f} s; worker peak RSS overall "
                    f"{ours['hwm_total_mb']:,.0f} MB; {ours['memory_limit']}; engine code "
                    f"{ours['code']}")
            else:
                notes.append(f"- {n:,} pairs, ours: NOT MEASURED: {ours['status']}"
                             + (f"\n  stderr tail:\n  {ours['stderr']}" if ours.get("stderr")
                                else ""))
            if es is not None and n in es_sizes:
                projected = n / es_rate_prev if es_rate_prev else 0.0
                sub = n
                if projected > args.es_budget:
                    sub = min(2000, n)
                    row["es_note"] = (f"extrapolated: timed on the first {sub:,} pairs "
                                      f"(projected {projected:.1f} s for {n:,} from the previous size's rate)")
                print(f"running eventstudy on {sub:,} pairs ...", file=sys.stderr, flush=True)
                pairs = all_pairs.iloc[:sub].reset_index(drop=True)
                es_run = run_eventstudy(es, pairs)
                rate = sub / es_run["seconds"]
                es_rate_prev = rate
                row["es_rate"] = rate
                if ok:
                    row["ratio"] = (n / ours["seconds"]) / rate
                note = (f"- {n:,} pairs, eventstudy: {es_run['seconds']:.2f} s wall, "
                        f"{es_run['cpu_s']:.2f} s CPU for {sub:,} "
                        f"pairs ({rate:,.0f} pairs/s){'; ' + row['es_note'] if row['es_note'] else ''}; "
                        f"{es_run['errors']} pairs raised (date/data missing); "
                        f"{int((np.isnan(es_run['ar']).all(axis=1) & es_run['ok']).sum()):,} "
                        f"pairs came back with all-NaN ARs; its Multiple AAR is "
                        f"{'all NaN' if es_run['aar_all_nan'] else 'partly NaN' if es_run['aar_any_nan'] else 'finite'}")
                notes.append(note)
                if ok and ar_out:
                    if sub < n:  # compare on the subset eventstudy ran on
                        ours_sub_out = os.path.join(tmp, f"ours_{n}_sub")
                        # the study of n pairs excludes other-event windows among all n
                        # pairs; the subset's own study is the one to compare with
                        print(f"running run_study on the {sub:,}-pair subset for the AR "
                              f"check ...", file=sys.stderr, flush=True)
                        sub_run = run_ours(sub, args, ours_sub_out)
                        cmp_out = ours_sub_out if sub_run.get("status") == "ok" else None
                    else:
                        cmp_out = ar_out
                    if cmp_out:
                        c = compare(es, es_run, pairs, cmp_out, r, col, m)
                        a, b = c["A"], c["B"]
                        vals = [v for v in (a["max_diff"], b["max_diff"]) if np.isfinite(v)]
                        row["diff"] = max(vals) if vals else float("nan")
                        notes.append(
                            f"  - AR check A (timed eventstudy run, pairs with all 250 "
                            f"estimation rows usable for both): {a['pairs']:,} pairs, "
                            f"{a['cells']:,} AR cells, max |diff| {a['max_diff']:.2e}, "
                            f"{a['nan_mismatch']} cells finite in only one. Not comparable: "
                            f"{c['es_all_nan']:,} pairs all-NaN in eventstudy (NaN in the "
                            f"estimation window; {c['es_all_nan_ours_kept']:,} of them "
                            f"estimated by ours on the usable days), "
                            f"{c['es_finite_ours_rows_differ']:,} finite in both but our rows "
                            f"differ (other-event exclusions: {c['ours_kept_with_exclusions']:,} "
                            f"kept pairs have some), {c['ours_skipped']:,} skipped by ours.")
                        notes.append(
                            f"  - AR check B (eventstudy low-level Single fed exactly our "
                            f"estimation rows): {b['pairs']:,} pairs, {b['cells']:,} AR cells, "
                            f"max |diff| {b['max_diff']:.2e}, {b['nan_mismatch']} cells finite "
                            f"in only one; our n_est reproduced for all but "
                            f"{b['n_est_mismatch']} pairs; {b['seconds']:.2f} s "
                            f"({b['pairs'] / b['seconds']:,.0f} pairs/s, untimed in the table)")
                        if sub < n:
                            notes.append(f"  - the check at {n:,} ran on the {sub:,}-pair "
                                         f"subset (a separate run_study of those pairs)")
            rows.append(row)

    print("\n| pairs | ours seconds | floor ms | ours / floor | ours pairs/s | peak MB | "
          "eventstudy pairs/s | "
          "ratio (ours/eventstudy) | max abs AR diff |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        o = row["ours"]
        ok = o.get("status") == "ok"
        secs = _fmt_s(o["seconds"]) if ok else (
            f"> {args.timeout:g} (timed out)" if o.get("status", "").startswith("timeout")
            else "failed")
        rate = _fmt_rate(row["n"] / o["seconds"]) if ok else "-"
        peak = f"{o['peak_mb']:,.0f}" if ok else "-"
        es_rate = _fmt_rate(row["es_rate"]) + (" (extrapolated)" if row["es_note"] else "") \
            if row["es_rate"] else "not run"
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] else "-"
        diff = f"{row['diff']:.1e}" if row["diff"] is not None else "-"
        floor = (f"{o['floor_s'] * 1000:.1f}", f"{o['seconds'] / o['floor_s']:,.0f}x") \
            if ok and o.get("floor_s") else ("-", "-")
        print(f"| {row['n']:,} | {secs} | {floor[0]} | {floor[1]} | {rate} | {peak} | "
              f"{es_rate} | {ratio} | {diff} |")
    method = next((r_["ours"]["peak_method"] for r_ in rows if "peak_method" in r_["ours"]),
                  args.memory)
    print(f"\npeak MB: {method}, during the run_study call only, in a fresh worker process "
          f"(small sizes are noisy: freed allocator arenas from loading get reused).")
    print("pairs/s: pairs requested / seconds (pairs the engine skips or returns as NaN "
          "count too). max abs AR diff: the larger of AR checks A and B below.\n")
    print("\n".join(notes))
    if args.rounds > 1 and es is not None:
        print(f"\nRatio over {args.rounds} alternating rounds (the table's run first; each "
              f"later round: ours in a fresh worker, then eventstudy on the same pairs, "
              f"so both see the machine of the same minute):\n")
        for row in rows:
            if row["ratio"] is None or row["es_note"]:
                continue
            n = row["n"]
            ours_s, es_s = [row["ours"]["seconds"]], [n / row["es_rate"]]
            for _ in range(args.rounds - 1):
                print(f"round: run_study, then eventstudy, on {n:,} pairs ...",
                      file=sys.stderr, flush=True)
                again = run_ours(n, args, None)
                if again.get("status") != "ok":
                    break
                ours_s.append(again["seconds"])
                es_s.append(run_eventstudy(es, all_pairs.iloc[:n].reset_index(drop=True))
                            ["seconds"])
            ratios = [e / o for o, e in zip(ours_s, es_s)]
            print(f"- {n:,} pairs: ratio median {statistics.median(ratios):.2f}x (range "
                  f"{min(ratios):.2f}x-{max(ratios):.2f}x over {len(ratios)} rounds); ours "
                  f"{', '.join(f'{x:.2f}' for x in ours_s)} s; eventstudy "
                  f"{', '.join(f'{x:.2f}' for x in es_s)} s")
    codes = {r_["ours"]["code"] for r_ in rows if "code" in r_["ours"]}
    if len(codes) > 1:
        print(f"\nWARNING: the engine code changed between sizes during this run "
              f"({', '.join(sorted(codes))}): the rows measure different versions.")
    print(f"\nload average at end: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
