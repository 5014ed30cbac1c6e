"""Pair bookkeeping of :mod:`backtest.eventstudy.pairs` against slow, obvious loops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.eventstudy.config import StudyConfig
from backtest.eventstudy.pairs import confounded_with


def ref_confounded_with(tickers, pos, ids, window):
    """For each pair, the other pairs of its ticker whose day 0 is within b - a sessions
    (their windows overlap), by day 0 and then calendar order, joined by "+"."""
    a, b = window
    out = []
    for i in range(len(ids)):
        near = [(pos[j], j) for j in range(len(ids))
                if j != i and tickers[j] == tickers[i] and abs(pos[j] - pos[i]) <= b - a]
        out.append("+".join(ids[j] for _, j in sorted(near)))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_confounded_with_matches_the_loop(seed):
    """Random pairs on few tickers and days: overlapping windows, exactly b - a apart,
    the same ticker and day 0 twice, and pairs with no neighbour at all."""
    rng = np.random.default_rng(seed)
    n = 300
    window = [(-5, 10), (0, 0), (-2, 3)][seed % 3]
    tickers = rng.integers(0, 30, n)
    pos = rng.integers(0, 200, n)
    ids = [f"e{i}" for i in range(n)]
    pairs = pd.DataFrame({"event_id": pd.array(ids, dtype="str"), "pos0": pos})
    config = StudyConfig(event_window=window, car_windows=((0, 0),))
    got = confounded_with(pairs, config, tickers)
    expected = ref_confounded_with(tickers, pos, ids, window)
    assert sum(map(bool, expected)) > 5 and not all(expected)
    assert got == expected
