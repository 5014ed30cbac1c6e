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


def _slow_pair_rows(calendar, frame_day0):
    """The pairs as one dict per (event, linked ticker) kept, built by a loop over the
    calendar (the pair rows as they were once built), tags as further columns."""
    rows = []
    for event in calendar.events:
        for lt in event.tickers:
            if lt.ticker not in frame_day0:
                continue
            rows.append({"event_id": event.id, "ticker": lt.ticker, "role": lt.role,
                         "label": event.sentiment.label, "direction": lt.direction,
                         "score": event.sentiment.score, **event.tags})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("scores", [(65, 70, 85), (65, 70.5, 85)])
def test_pair_columns_equal_a_loop_over_the_calendar(scores):
    """resolve_pairs repeats each event's columns per pair without a Python object per
    pair: the same values and dtypes as rows built one by one (ints, a float score among
    ints, tags on some events only, a ticker without prices skipped)."""
    import dataclasses

    from backtest.data.store import load_panel
    from backtest.eventstudy.pairs import resolve_pairs
    from events.loader import resolve_calendar
    from events.model import Calendar, LinkedTicker, Sentiment

    cal = resolve_calendar("openai")
    events = []
    for k, e in enumerate(cal.events):
        tags = {"theme": "chips", "n": str(k)} if k % 3 == 0 else ({"desk": "x"} if k == 4 else {})
        extra = (LinkedTicker("ZZZZ", "partner", "down"),) if k == 2 else ()  # no prices
        events.append(dataclasses.replace(e, tags=tags, tickers=e.tickers + extra,
                                          sentiment=Sentiment(e.sentiment.label,
                                                              scores[k % 3])))
    cal = Calendar("t", tuple(events))
    panel = load_panel(cal)
    pairs, skipped = resolve_pairs(cal, panel, StudyConfig())
    assert any(s["ticker"] == "ZZZZ" for s in skipped)
    slow = _slow_pair_rows(cal, set(pairs["ticker"]))
    got = pairs.drop(columns=["day0", "pos0"])
    assert list(got.columns) == [c for c in ("event_id", "ticker", "role", "label", "direction",
                                             "score", "theme", "n", "desk")]
    pd.testing.assert_frame_equal(got, slow[got.columns], check_exact=True)
    assert pairs["pos0"].dtype == np.int64
    # day 0 per pair: the session of its event's day 0, as a Timestamp column
    from events.timing import event_day0

    want = pd.Series([event_day0(cal.get(e), "XNYS") for e in pairs["event_id"]], name="day0")
    pd.testing.assert_series_equal(pairs["day0"], want)


def test_day0_dtype_comes_from_the_events_that_keep_pairs():
    """Day 0 of an event whose links are all skipped (here after the close: day 0 from the
    exchange calendar, in ns) does not change the resolution of the kept pairs' column
    (a date before the open: the date itself, in s), as a loop over the kept pairs gives."""
    import datetime as dt

    from backtest.data.store import load_panel
    from backtest.eventstudy.pairs import resolve_pairs
    from events.model import Calendar, Event, LinkedTicker, Sentiment
    from events.timing import event_day0

    bear = Sentiment("bearish", 60)
    kept = Event("a", "h", "s", bear, (LinkedTicker("ORCL", "partner", "down"),),
                 date=dt.date(2025, 1, 21), session="before_open")
    gone = Event("b", "h", "s", bear, (LinkedTicker("ZZZZ", "partner", "down"),),
                 date=dt.date(2025, 1, 22), session="after_close")
    cal = Calendar("t", (kept, gone))
    pairs, skipped = resolve_pairs(cal, load_panel(Calendar("p", (kept,))), StudyConfig())
    assert [s["event_id"] for s in skipped] == ["b"] and event_day0(gone).unit == "ns"
    want = pd.Series([event_day0(kept)], name="day0")
    assert want.dtype == "datetime64[s]"
    pd.testing.assert_series_equal(pairs["day0"], want)
