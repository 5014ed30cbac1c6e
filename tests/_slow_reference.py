"""Slow, obvious reference implementations used as independent oracles in the tests.

Nothing here imports the code under test. Everything is plain Python loops over
positions, ``np.polyfit`` for OLS and explicit matrices for variances, so a
mismatch with the vectorised engine points at the engine (or at this file, which
is short enough to check by eye).
"""

from __future__ import annotations

import math

import numpy as np

EST_FIRST, EST_LAST = -260, -11  # default StudyConfig: 250 sessions, gap 10
WIN_FIRST, WIN_LAST = -5, 10  # default event window


def total_return_at(close, dividend, t):
    """``(C_t + D_t) / C_{t-1} - 1`` at position ``t`` (NaN if either close is missing)."""
    if t < 1 or t >= len(close):
        return math.nan
    c, c_prev = float(close[t]), float(close[t - 1])
    if math.isnan(c) or math.isnan(c_prev):
        return math.nan
    return (c + float(dividend[t])) / c_prev - 1.0


class SlowPair:
    """Market model for one (stock, day 0) pair, by hand.

    ``close``/``dividend`` are 1-d arrays of the stock, ``mclose``/``mdiv`` of
    the market, all aligned on the same session positions; ``pos0`` is day 0.
    ``excluded`` is a set of absolute session positions left out of the
    estimation window (e.g. the event windows of the ticker's other events).
    """

    def __init__(self, close, dividend, mclose, mdiv, pos0,
                 est=(EST_FIRST, EST_LAST), window=(WIN_FIRST, WIN_LAST), excluded=()):
        self.pos0 = pos0
        self.window = window
        excluded = set(excluded)
        ys, xs = [], []
        for k in range(est[0], est[1] + 1):
            if pos0 + k in excluded:
                continue
            y = total_return_at(close, dividend, pos0 + k)
            x = total_return_at(mclose, mdiv, pos0 + k)
            if not (math.isnan(y) or math.isnan(x)):
                ys.append(y)
                xs.append(x)
        self.est_y, self.est_x = np.array(ys), np.array(xs)
        self.n = len(ys)
        if self.n >= 3:
            self.beta, self.alpha = np.polyfit(self.est_x, self.est_y, 1)
            resid = self.est_y - (self.alpha + self.beta * self.est_x)
            self.s2 = float(resid @ resid) / (self.n - 2)
        else:
            self.beta = self.alpha = self.s2 = math.nan
        self.ret, self.mret, self.ar = {}, {}, {}
        for k in range(window[0], window[1] + 1):
            y = total_return_at(close, dividend, pos0 + k)
            x = total_return_at(mclose, mdiv, pos0 + k)
            self.ret[k], self.mret[k] = y, x
            self.ar[k] = y - (self.alpha + self.beta * x)

    def car(self, start, end):
        """Sum of ARs over ``start..end`` (NaN if any is missing)."""
        return sum(self.ar[k] for k in range(start, end + 1))

    def cum_from_window_start(self, tau):
        """CAR(window start, tau)."""
        return self.car(self.window[0], tau)

    def car_variance_matrix(self, start, end):
        """``s^2 gamma' (I + X*(X'X)^-1 X*') gamma`` (Campbell-Lo-MacKinlay 1997, 4.4.3)."""
        X = np.column_stack([np.ones(self.n), self.est_x])
        xs = np.array([self.mret[k] for k in range(start, end + 1)])
        Xstar = np.column_stack([np.ones(len(xs)), xs])
        V = self.s2 * (np.eye(len(xs)) + Xstar @ np.linalg.inv(X.T @ X) @ Xstar.T)
        gamma = np.ones(len(xs))
        return float(gamma @ V @ gamma)

    def car_t(self, start, end):
        return self.car(start, end) / math.sqrt(self.car_variance_matrix(start, end))


def other_event_positions(pos0_of_event, ticker_events, event_id, ticker, first=WIN_FIRST,
                          last=WIN_LAST):
    """Session positions inside the event window ``first..last`` of every *other* event
    listing ``ticker``. ``pos0_of_event`` maps event id -> day-0 position and
    ``ticker_events`` maps ticker -> the event ids that list it."""
    out = set()
    for other in ticker_events[ticker]:
        if other == event_id:
            continue
        p = pos0_of_event[other]
        for k in range(first, last + 1):
            out.add(p + k)
    return out


def slow_mean_drop_nan(values):
    """Mean of the finite values (NaN if none), and how many there were."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return math.nan, 0
    return sum(finite) / len(finite), len(finite)
