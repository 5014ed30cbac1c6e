"""Per-event inference against a by-hand cluster-robust t and a slow bootstrap loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from backtest.inference import event_inference
from backtest.inference.per_event import MIN_BOOTSTRAP_DAYS


def _cluster_t(r: np.ndarray, days: np.ndarray) -> tuple[float, float]:
    """Intercept-only OLS with errors clustered by day, written out (Cameron and Miller
    2015, eq. 12 with the G/(G-1) (N-1)/(N-K) correction), Student-t with G-1 df."""
    n, mean = len(r), r.mean()
    groups = sorted(set(days))
    g = len(groups)
    meat = sum((r[days == d] - mean).sum() ** 2 for d in groups)
    var = meat / n ** 2 * g / (g - 1) * (n - 1) / (n - 1)
    t = mean / np.sqrt(var)
    return t, 2 * sps.t.sf(abs(t), g - 1)


def test_cluster_t_equals_the_formula_written_out():
    r = np.array([0.02, 0.03, -0.01, 0.04, 0.05, 0.01, -0.02, 0.03])
    days = np.array(["a", "a", "b", "c", "c", "c", "d", "e"])
    res = event_inference(r, days)
    t, p = _cluster_t(r, days)
    assert res.n_events == 8 and res.n_days == 5
    assert res.mean == pytest.approx(r.mean(), rel=1e-12)
    assert res.t == pytest.approx(t, rel=1e-10)
    assert res.p == pytest.approx(p, rel=1e-8)


def test_events_on_one_day_are_not_independent():
    """The same returns counted as eight events on eight days or as four pairs on four
    days: the clustered t is smaller for the pairs (same-day events move together)."""
    r = np.array([0.03, 0.03, 0.01, 0.01, 0.04, 0.04, -0.01, -0.01])
    apart = event_inference(r, np.arange(8))
    paired = event_inference(r, np.repeat(np.arange(4), 2))
    assert paired.n_days == 4 and apart.n_days == 8
    assert abs(paired.t) < abs(apart.t)
    assert paired.p > apart.p


def test_bootstrap_interval_matches_a_slow_loop_over_news_days():
    """The percentile interval equals, within Monte Carlo error, a plain loop that draws
    news days with replacement and averages the returns of the events on them."""
    rng = np.random.default_rng(3)
    days = np.repeat(np.arange(20), rng.integers(1, 4, 20))
    r = rng.normal(0.01, 0.03, len(days)) + np.repeat(rng.normal(0, 0.02, 20),
                                                      np.bincount(days))
    res = event_inference(r, days, reps=4000)
    loop = []
    gen = np.random.default_rng(11)
    for _ in range(4000):
        picked = gen.integers(0, 20, 20)
        values = np.concatenate([r[days == d] for d in picked])
        loop.append(values.mean())
    lo, hi = np.percentile(loop, [2.5, 97.5])
    sd = np.std(loop)
    assert res.ci_lo == pytest.approx(lo, abs=0.15 * sd)
    assert res.ci_hi == pytest.approx(hi, abs=0.15 * sd)
    assert res.ci_lo < res.mean < res.ci_hi


def test_too_few_news_days_give_no_interval_and_one_event_no_t():
    r = np.array([0.05, -0.02, 0.03])
    res = event_inference(r, np.array(["a", "b", "c"]))
    assert MIN_BOOTSTRAP_DAYS > 3
    assert np.isnan(res.ci_lo) and np.isnan(res.ci_hi) and np.isfinite(res.t)
    one = event_inference(np.array([0.05]), np.array(["a"]))
    assert one.mean == 0.05 and np.isnan(one.t) and np.isnan(one.p)
    none = event_inference(np.array([]), np.array([]))
    assert none.n_events == 0 and np.isnan(none.mean)


def test_deterministic():
    rng = np.random.default_rng(0)
    r, days = rng.normal(0, 0.02, 30), pd.date_range("2025-01-01", periods=30).repeat(1)
    assert event_inference(r, days) == event_inference(r, days)
