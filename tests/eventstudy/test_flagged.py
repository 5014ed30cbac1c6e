"""--exclude-flagged: which pairs a bad tick removes, against the obvious loop."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.eventstudy import StudyConfig
from backtest.eventstudy.engine import _drop_flagged


def _by_loop(pairs, bad, sessions, config):
    """Each bad tick in the quality table's order marks the pairs of its ticker whose
    estimation or event window holds its day, unless an earlier tick did."""
    est0, (a, b) = int(config.estimation_offsets[0]), config.event_window
    reason = [None] * len(pairs)
    for ticker, day in zip(bad["ticker"], pd.to_datetime(bad["date"])):
        p = sessions.get_loc(day)
        for k, (t, pos0) in enumerate(zip(pairs["ticker"], pairs["pos0"])):
            lo = pos0 + est0
            inside = lo <= p <= lo + config.estimation_length - 1 or pos0 + a <= p <= pos0 + b
            if t == ticker and inside and reason[k] is None:
                reason[k] = day.date()
    return reason


def test_drop_flagged_equals_the_loop():
    rng = np.random.default_rng(3)
    sessions = pd.DatetimeIndex(pd.bdate_range("2024-01-01", periods=600))
    config = StudyConfig(estimation_length=120, gap=5, event_window=(-3, 5), car_windows=((0, 1),))
    for _ in range(20):
        n = int(rng.integers(1, 60))
        tickers = np.array(["A", "B", "C", "NA"])[rng.integers(0, 4, n)]
        pairs = pd.DataFrame({"event_id": [f"e{i}" for i in range(n)], "ticker": tickers,
                              "pos0": rng.integers(130, 590, n)})
        k = int(rng.integers(1, 12))
        bad = pd.DataFrame({"check": "bad_tick",
                            "ticker": np.array(["A", "B", "NA", "Z"])[rng.integers(0, 4, k)],
                            "date": sessions[rng.integers(0, 600, k)].date, "detail": ""})
        quality = pd.concat([bad, pd.DataFrame({"check": ["big_move"], "ticker": ["C"],
                                                "date": [sessions[300].date()],
                                                "detail": [""]})], ignore_index=True)
        kept, rows = _drop_flagged(pairs, quality, sessions, config)
        expected = _by_loop(pairs, bad, sessions, config)
        gone = [k for k, r in enumerate(expected) if r is not None]
        assert [r["event_id"] for r in rows] == [f"e{k}" for k in gone]
        assert [r["reason"] for r in rows] == [
            f"data quality: bad tick on {expected[k]} in its window (exclude_flagged; "
            f"--keep-flagged keeps it)" for k in gone]
        assert list(kept["event_id"]) == [f"e{k}" for k in range(n) if k not in gone]
