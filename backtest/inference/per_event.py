"""Inference on a strategy's per-event returns that respects news days.

A strategy's return on one event (:func:`backtest.sim.metrics.event_returns`) is the
P&L of the trades it opened on that news over the portfolio's value before them.
Events that share a news day (day 0) move together, so they are not independent
draws: the t statistic is clustered by news day, and the bootstrap resamples whole
news days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class EventInference:
    """Mean per-event return with a t clustered by news day and a bootstrap interval.

    ``n_events`` events on ``n_days`` distinct news days; ``t``/``p``: the mean against 0
    with cluster-robust errors by news day (Student-t, ``n_days - 1`` df); ``ci_lo``,
    ``ci_hi``: the percentile interval at ``level`` of ``reps`` bootstrap means, each
    from news days drawn with replacement.
    """

    n_events: int
    n_days: int
    mean: float
    t: float
    p: float
    ci_lo: float
    ci_hi: float
    level: float
    reps: int

    def as_metrics(self) -> dict[str, float]:
        return {"event_mean_return": self.mean, "event_t": self.t, "event_p": self.p,
                "event_ci_lo": self.ci_lo, "event_ci_hi": self.ci_hi,
                "events_traded": self.n_events, "news_days": self.n_days}


MIN_BOOTSTRAP_DAYS = 5  # fewer news days give so few distinct resampled means that the
# percentile interval says nothing (two days: the interval is just their two returns)


def event_inference(returns: np.ndarray, days: np.ndarray, reps: int = 2000,
                    level: float = 0.95, seed: int = 20260428) -> EventInference:
    """Inference on the mean of per-event ``returns`` whose news days are ``days``.

    * t: OLS of the returns on a constant with errors clustered by news day
      (statsmodels, Cameron and Miller 2015 small-sample correction), Student-t with
      G - 1 degrees of freedom for G news days;
    * interval: a nonparametric bootstrap over news days (``arch.bootstrap.IIDBootstrap``
      on the per-day sums and counts; each replicate's mean is its summed returns over
      its summed event count), percentile method (Efron and Tibshirani 1993, ch. 13),
      which keeps events of one day together (Cameron, Gelbach and Miller 2008);
      NaN with fewer than :data:`MIN_BOOTSTRAP_DAYS` news days.
    """
    from statsmodels.regression.linear_model import OLS  # not statsmodels.api: all of it

    r = np.asarray(returns, dtype="float64")
    d = np.asarray(days)
    n = r.size
    codes, uniq = pd.factorize(pd.Series(d))
    g = len(uniq)
    mean = float(r.mean()) if n else np.nan
    t = p = lo = hi = np.nan
    if n >= 2 and g >= 2 and np.ptp(r) > 0:
        fit = OLS(r, np.ones(n)).fit(cov_type="cluster", cov_kwds={"groups": codes},
                                     use_t=True)
        t, p = float(fit.tvalues[0]), float(fit.pvalues[0])
    if n >= 2 and g >= MIN_BOOTSTRAP_DAYS and np.ptp(r) > 0:
        from arch.bootstrap import IIDBootstrap  # arch's import (0.5-0.8 s) only when used

        sums = np.bincount(codes, weights=r, minlength=g)
        counts = np.bincount(codes, minlength=g).astype("float64")
        boot = IIDBootstrap(sums, counts, seed=seed)
        ci = boot.conf_int(lambda s, c: np.array([s.sum() / c.sum()]), reps=reps,
                           method="percentile", size=level)
        lo, hi = float(ci[0, 0]), float(ci[1, 0])
    return EventInference(n, g, mean, t, p, lo, hi, level, reps)
