"""The reality check against closed forms: one independent series is a one-sided test of
its mean; an edge is found; poor and flat combinations do not hide it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from backtest.inference import reality_check
from backtest.inference.reality import distinct_columns


def test_one_iid_series_is_a_one_sided_test_of_its_mean():
    """With one combination and blocks of one day the bootstrap p-value of the maximum
    mean is the bootstrap p-value of one mean: close to 1 - Phi(sqrt(T) mean / sd)."""
    rng = np.random.default_rng(12)
    for shift in (0.0005, 0.001, 0.002):
        r = rng.normal(shift, 0.01, 600)
        res = reality_check(r[:, None], reps=4000, block=1)
        z = np.sqrt(600) * r.mean() / r.std(ddof=1)
        assert res.rc_p == pytest.approx(sps.norm.sf(z), abs=0.025)
        assert res.spa_p == res.rc_p  # one combination: nothing to re-centre
        assert res.block == 1 and res.reps == 4000 and res.n_used == 1


def test_an_edge_is_found_among_many_and_the_sign_is_right():
    rng = np.random.default_rng(13)
    x = rng.normal(0, 0.01, (500, 30))
    assert reality_check(x).rc_p > 0.05
    x[:, 7] += 0.003  # one combination earns 0.3% a day
    found = reality_check(x)
    assert found.spa_p < 0.01 and found.rc_p < 0.01
    losing = reality_check(-np.abs(x))  # every combination loses every day
    assert losing.rc_p > 0.99


def test_poor_combinations_inflate_white_but_not_hansen():
    """Many clearly losing combinations beside a mild winner: White's p-value re-centres
    them and grows; Hansen's consistent p-value leaves them out (Hansen 2005, Sec. 2)."""
    rng = np.random.default_rng(14)
    x = rng.normal(-0.004, 0.01, (500, 40))
    x[:, 0] = rng.normal(0.0009, 0.01, 500)
    res = reality_check(x, reps=2000)
    assert res.spa_p < res.rc_p


def test_flat_and_identical_combinations_are_counted_once_or_not_at_all():
    rng = np.random.default_rng(15)
    a = rng.normal(0, 0.01, 200)
    x = np.column_stack([a, a, np.zeros(200), rng.normal(0, 0.01, 200)])
    res = reality_check(x)
    assert res.n_combos == 4 and res.n_used == 2
    assert distinct_columns(x).tolist() == [0, 2, 3]
    flat = reality_check(np.zeros((200, 3)))
    assert np.isnan(flat.spa_p) and "ever differs" in flat.reason


def test_reps_are_lowered_for_very_many_combinations_and_said():
    rng = np.random.default_rng(16)
    x = rng.normal(0, 0.01, (60, 50_000))
    res = reality_check(x, reps=1000)
    assert res.reps == 100 and res.n_used == 50_000


def test_deterministic():
    rng = np.random.default_rng(17)
    x = rng.normal(0, 0.01, (300, 5))
    assert reality_check(x) == reality_check(x)
