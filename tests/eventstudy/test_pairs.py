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
    assert got.dtype == "str" and list(got) == expected


def test_a_panel_with_a_session_twice_is_refused():
    """Day 0 cannot be placed on a panel holding one session twice: one clear error."""
    import pandas as pd

    from backtest.data.panel import PricePanel
    from backtest.eventstudy import StudyConfig
    from backtest.eventstudy.pairs import resolve_pairs
    from events.errors import PriceDataError
    from events.loader import resolve_calendar

    days = pd.DatetimeIndex(["2025-01-02", "2025-01-03", "2025-01-03", "2025-01-06"])
    returns = pd.DataFrame(0.01, index=days, columns=["ORCL", "SPY"])
    with pytest.raises(PriceDataError, match="session 2025-01-03 more than once"):
        resolve_pairs(resolve_calendar("openai"), PricePanel.from_returns(returns, "t"),
                      StudyConfig())
