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


def _keys(intents: pd.DataFrame) -> set[tuple]:
    frame = intents[KEY].copy()
    frame["weight"] = frame["weight"].round(12)
    return set(map(tuple, frame.itertuples(index=False)))


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
        known = Calendar(ctx.calendar.name,
                         tuple(e for e in ctx.calendar if ctx.timings[e.id].available <= cut),
                         ctx.calendar.path)
        truncated = StrategyContext(known, ctx.timings, ctx.data.asof(cut),
                                    calendar_sessions=ctx.sessions)
        again = strategy.intents(truncated)
        again = again[again["event_id"] == event.id]
        before, after = _keys(mine), _keys(again)
        for kind, diff in (("changed_or_missing", before - after), ("extra", after - before)):
            for key in sorted(diff, key=str):
                rows.append({"event_id": event.id, "ticker": key[0], "kind": kind,
                             "detail": f"intent {dict(zip(KEY, key))} differs when data end "
                                       f"at {cut}"})
    return pd.DataFrame(rows, columns=["event_id", "ticker", "kind", "detail"])

