"""Look-ahead audit: does a strategy's decision on an event change when the future is cut off?

For every event, the strategy is rerun on data truncated just before the
event's decision time (the first fill of its intents, or the moment the news
became tradable if it has none) and on a calendar holding only the events
known by then. Its intents for that event must be identical; any difference
is a look-ahead leak. An intent filled before its news was public is a leak too.
Future session *dates* stay visible: the exchange calendar is known in advance.
"""

from __future__ import annotations

import pandas as pd

from events.model import Calendar
from strategies.base import Strategy, StrategyContext

KEY = ["ticker", "direction", "weight", "entry_session", "entry_at", "exit_session", "exit_at",
       "leg"]
LEAK_COLUMNS = ["event_id", "ticker", "kind", "detail"]


def _keys(intents: pd.DataFrame, key: list[str] = KEY) -> set[tuple]:
    frame = intents[key].copy()
    frame["weight"] = frame["weight"].round(12)
    return set(map(tuple, frame.itertuples(index=False)))


def known_calendar(ctx: StrategyContext, cut: pd.Timestamp, known_at=None) -> Calendar:
    """The calendar as known at ``cut``: the events whose ``known_at(event)`` (default:
    when the news became tradable) is at or before it."""
    known_at = known_at or (lambda e: ctx.timings[e.id].available)
    return Calendar(ctx.calendar.name, tuple(e for e in ctx.calendar if known_at(e) <= cut),
                    ctx.calendar.path)


def differences(event_id: str, before: pd.DataFrame, after: pd.DataFrame, key: list[str],
                cut: pd.Timestamp, what: str = "intent") -> list[dict]:
    """Leak rows for one event: each decision (the ``key`` columns, weights to 12 decimals)
    made on the full data but not on the data cut at ``cut`` (``changed_or_missing``),
    and each made only on the cut data (``extra``)."""
    old, new = _keys(before, key), _keys(after, key)
    rows = []
    for kind, diff in (("changed_or_missing", old - new), ("extra", new - old)):
        for k in sorted(diff, key=str):
            rows.append({"event_id": event_id, "ticker": k[0], "kind": kind,
                         "detail": f"{what} {dict(zip(key, k))} differs when data end "
                                   f"at {cut}"})
    return rows


def audit(strategy: Strategy, ctx: StrategyContext) -> pd.DataFrame:
    """Leaks found: event_id, ticker, kind, detail (empty frame: no leak)."""
    full = strategy.intents(ctx)
    rows = []
    for event in ctx.calendar:
        timing = ctx.timings[event.id]
        mine = full[full["event_id"] == event.id]
        fills = [ctx.bar_time(s, a) for s, a in zip(mine["entry_session"], mine["entry_at"])]
        for fill, ticker in zip(fills, mine["ticker"]):
            if fill < timing.available:
                rows.append({"event_id": event.id, "ticker": ticker, "kind": "before_news",
                             "detail": f"fills at {fill} before the news was tradable at "
                                       f"{timing.available}"})
        cut = min(fills) if fills else timing.available
        truncated = StrategyContext(known_calendar(ctx, cut), ctx.timings, ctx.data.asof(cut),
                                    calendar_sessions=ctx.sessions)
        again = strategy.intents(truncated)
        rows += differences(event.id, mine, again[again["event_id"] == event.id], KEY, cut)
    return pd.DataFrame(rows, columns=LEAK_COLUMNS)
