"""The probability of backtest overfitting against a slow loop over every split, and its
behaviour with and without an edge."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from backtest.inference import probability_of_overfitting
from backtest.inference.overfitting import news_day_blocks


def _slow_pbo(r: np.ndarray, days: np.ndarray, s: int) -> tuple[float, list[float]]:
    """CSCV written plainly (Bailey et al. 2017, Sec. 2.2): blocks of consecutive news
    days; every half of the blocks trains, the rest tests; rank by scipy's average ranks."""
    uniq = sorted(set(days.tolist()))
    per = np.array_split(np.arange(len(uniq)), s)
    block_of = {uniq[i]: b for b, part in enumerate(per) for i in part}
    blocks = np.array([block_of[d] for d in days.tolist()])
    logits = []
    for train in itertools.combinations(range(s), s // 2):
        tr = np.isin(blocks, train)
        is_perf = [r[tr, k].mean() for k in range(r.shape[1])]
        best = int(np.argmax(is_perf))
        oos = [r[~tr, k].mean() for k in range(r.shape[1])]
        w = sps.rankdata(oos)[best] / (r.shape[1] + 1)
        logits.append(math.log(w / (1 - w)))
    return float(np.mean(np.array(logits) <= 0)), logits


def test_pbo_equals_the_slow_loop():
    rng = np.random.default_rng(6)
    days = np.sort(rng.integers(0, 12, 40))
    r = rng.normal(0, 0.02, (40, 7))
    r[:, 3] = r[:, 2]  # a tie: two combinations with the same returns
    res = probability_of_overfitting(r, days, n_blocks=6)
    pbo, logits = _slow_pbo(r, days, 6)
    assert res.n_splits == math.comb(6, 3) == len(logits)
    assert res.pbo == pytest.approx(pbo, abs=1e-12)
    assert sorted(res.logits) == pytest.approx(sorted(logits), abs=1e-12)


def test_default_blocks_and_chunking_do_not_change_the_answer():
    rng = np.random.default_rng(7)
    days = np.repeat(np.arange(10), 3)
    r = rng.normal(0, 0.02, (30, 12))
    a = probability_of_overfitting(r, days)
    b = probability_of_overfitting(r, days, chunk=7)
    assert a.n_blocks == 10 and a.n_splits == math.comb(10, 5)
    assert a.pbo == b.pbo and np.array_equal(np.sort(a.logits), np.sort(b.logits))


def test_blocks_are_runs_of_whole_news_days():
    days = np.array([5, 1, 1, 2, 3, 3, 3, 4, 6, 6])
    blocks = news_day_blocks(days, 3)
    assert blocks.tolist() == [2, 0, 0, 0, 1, 1, 1, 1, 2, 2]


def test_no_edge_gives_pbo_near_one_half_and_an_edge_near_zero():
    rng = np.random.default_rng(9)
    days = np.arange(32)
    noise = [probability_of_overfitting(rng.normal(0, 0.02, (32, 20)), days, n_blocks=8).pbo
             for _ in range(30)]
    assert 0.35 < np.mean(noise) < 0.75
    edge = rng.normal(0, 0.02, (32, 20))
    edge[:, 0] += 0.03
    assert probability_of_overfitting(edge, days, n_blocks=8).pbo < 0.05


def test_too_few_news_days_or_combinations_say_why():
    r = np.zeros((3, 4))
    res = probability_of_overfitting(r, np.array([1, 2, 3]))
    assert np.isnan(res.pbo) and "4 news days" in res.reason
    one = probability_of_overfitting(np.zeros((10, 1)), np.arange(10))
    assert np.isnan(one.pbo) and "2 combinations" in one.reason
