"""The compute floor of an event study: the least work any market-model study must do.

For every pair: read its estimation returns and the market's (``L`` sessions ending
``gap + 1`` before day 0), skip missing days, fit ``R = a + b M`` by ordinary least
squares in closed form (``b = Sxy / Sxx``, ``a = ybar - b xbar``), and write the event
window's abnormal returns ``AR = R - a - b M``. One serial compiled loop, no tests, no
tables, nothing written: a study's time over this one (the same pairs, in the same run)
is the ratio the benchmarks report, so it stays comparable across machines.
"""

from __future__ import annotations

import time

import numba as nb
import numpy as np


@nb.njit(cache=True)
def _floor(rT, market, col, pos0, est_first, est_last, evt_first, evt_last):
    n = col.shape[0]
    k = evt_last - evt_first + 1
    out = np.full((n, k), np.nan)
    for i in range(n):
        c, p = col[i], pos0[i]
        lo, hi = p + est_first, p + est_last
        if lo < 0 or p + evt_last >= rT.shape[1]:
            continue
        sx = sy = sxx = sxy = 0.0
        m = 0
        for t in range(lo, hi + 1):
            y, x = rT[c, t], market[t]
            if np.isfinite(y) and np.isfinite(x):
                sx += x
                sy += y
                sxx += x * x
                sxy += x * y
                m += 1
        if m < 3:
            continue
        xbar, ybar = sx / m, sy / m
        vxx = sxx - m * xbar * xbar
        if vxx <= 0.0:
            continue
        b = (sxy - m * xbar * ybar) / vxx
        a = ybar - b * xbar
        for j in range(k):
            t = p + evt_first + j
            out[i, j] = rT[c, t] - a - b * market[t]
    return out


def floor_seconds(returns: np.ndarray, market: np.ndarray, col: np.ndarray, pos0: np.ndarray,
                  estimation_length: int = 250, gap: int = 10,
                  event_window: tuple[int, int] = (-10, 10), repeats: int = 3
                  ) -> tuple[float, np.ndarray]:
    """Best of ``repeats`` wall seconds of the floor over the pairs (``col``: the ticker's
    column of ``returns`` (T, N), ``pos0``: day 0's row), after one untimed call that
    loads or compiles the kernel; and the ARs (P, K) of the last call."""
    rT = np.ascontiguousarray(np.asarray(returns, dtype="float64").T)
    market = np.ascontiguousarray(market, dtype="float64")
    col = np.ascontiguousarray(col, dtype=np.int64)
    pos0 = np.ascontiguousarray(pos0, dtype=np.int64)
    args = (rT, market, col, pos0, -(gap + estimation_length), -(gap + 1), *event_window)
    _floor(rT, market, col[:10], pos0[:10], *args[4:])
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = _floor(*args)
        best = min(best, time.perf_counter() - t)
    return best, out
