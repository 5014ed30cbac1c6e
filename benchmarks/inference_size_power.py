"""Size and power of a sweep's inference (reality check, deflated Sharpe ratio, PBO,
walk-forward) on synthetic markets.

Question: when no combination of a parameter grid has an edge, do the reality check
and the deflated Sharpe ratio reject at about their nominal 5%, and is the probability
of backtest overfitting near 0.5 or above? With an edge planted in the events, do
they find it?

Design (one replication; seeded numpy RNG):

* T = 500 sessions and E = 40 events on distinct random sessions, each with an
  expected direction d_e = +1 or -1 (the calendar's) and one traded stock whose daily
  returns are independent N(0, 2%).
* N = 50 combinations, like a grid of (hold, threshold): combination k holds each
  event it trades for h_k = 1..5 sessions from day 0 and trades an event when the
  event's score (uniform 0..100) is at least its threshold (0, 20, ..., 80), in the
  event's direction, with the whole portfolio (daily return = the mean of the open
  positions' signed returns). Combinations share events, so they are correlated as a
  real grid is.
* ``edge``: the traded stock's day-0 return moves ``edge`` in the expected direction
  (0 under the null).

Each replication runs the library's functions on the combinations' daily returns
(:func:`backtest.inference.reality_check`, :func:`~backtest.inference.deflated_sharpe`
of the best by Sharpe, with N = 50 trials) and per-event returns (the sum of each
event's signed daily returns while held: :func:`~backtest.inference.probability_of_overfitting`
over 16 blocks of news days, :func:`~backtest.inference.walk_forward` with 4 folds). A
rejection: SPA p < 0.05; DSR > 0.95; walk-forward out-of-sample mean with p < 0.05 and
positive.

Run ``python benchmarks/inference_size_power.py [--reps 1000]``; it prints a markdown
table and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backtest.inference import (deflated_sharpe, probability_of_overfitting,  # noqa: E402
                                reality_check, walk_forward)

T, E, SD = 500, 40, 0.02
HOLDS = (1, 2, 3, 4, 5)
THRESHOLDS = (0, 20, 40, 60, 80, 90, 95, 10, 30, 50)  # 5 x 10 = 50 combinations


def market(rng: np.random.Generator, edge: float):
    """One synthetic market: (daily returns T x N, per-event returns E x N, news days)."""
    day0 = np.sort(rng.choice(T - 10, E, replace=False))
    direction = rng.choice([-1.0, 1.0], E)
    score = rng.uniform(0, 100, E)
    stock = rng.normal(0.0, SD, (E, max(HOLDS)))
    stock[:, 0] += direction * edge
    signed = stock * direction[:, None]  # each event's signed daily returns while held
    combos = [(h, th) for h in HOLDS for th in THRESHOLDS]
    daily = np.zeros((T, len(combos)))
    per_event = np.zeros((E, len(combos)))
    for k, (h, th) in enumerate(combos):
        total = np.zeros(T)
        count = np.zeros(T)
        for e in np.flatnonzero(score >= th):
            total[day0[e]:day0[e] + h] += signed[e, :h]
            count[day0[e]:day0[e] + h] += 1
        daily[:, k] = np.divide(total, count, out=np.zeros(T), where=count > 0)
        traded = score >= th
        per_event[traded, k] = signed[traded, :h].sum(axis=1)
    return daily, per_event, day0


def replicate(rng: np.random.Generator, edge: float, spa_reps: int) -> dict:
    daily, per_event, days = market(rng, edge)
    with np.errstate(invalid="ignore"):  # a combination that never trades has no Sharpe
        sharpe = daily.mean(axis=0) / daily.std(axis=0, ddof=1)
    best = int(np.nanargmax(sharpe))
    dsr, _ = deflated_sharpe(daily[:, best], sharpe)
    rc = reality_check(daily, reps=spa_reps, seed=int(rng.integers(2 ** 31)))
    pbo = probability_of_overfitting(per_event, days).pbo
    wf = walk_forward(per_event, days, 4).out_of_sample
    return {"spa": rc.spa_p < 0.05, "white": rc.rc_p < 0.05, "dsr": dsr > 0.95, "pbo": pbo,
            "wf": bool(wf.p < 0.05 and wf.mean > 0)}


def simulate(reps: int, edge: float, seed: int = 20260428, spa_reps: int = 500) -> dict:
    """Rejection rates (and mean PBO) over ``reps`` replications."""
    rng = np.random.default_rng(seed)
    rows = [replicate(rng, edge, spa_reps) for _ in range(reps)]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=1000)
    args = ap.parse_args()
    print(f"R = {args.reps} replications per design; T = {T}, E = {E} events, N = "
          f"{len(HOLDS) * len(THRESHOLDS)} combinations, daily sd {SD:.0%}\n")
    print("| design | SPA p<0.05 | White p<0.05 | DSR>0.95 | mean PBO | walk-forward p<0.05 | s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, edge in (("null (no edge)", 0.0), ("edge 0.5% on day 0", 0.005),
                       ("edge 1% on day 0", 0.01), ("edge 2% on day 0", 0.02)):
        t0 = time.time()
        r = simulate(args.reps, edge)
        print(f"| {name} | {r['spa']:.3f} | {r['white']:.3f} | {r['dsr']:.3f} | "
              f"{r['pbo']:.3f} | {r['wf']:.3f} | {time.time() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    main()
