"""Look-ahead audit of an intraday run: is each order decided on what was known at
``published + latency``?

For every event with a publication minute, the decision (:func:`~backtest.intraday.trading.
orders.event_decisions`: ticker, side, weight, entry time, leg) is made again on data cut
at ``cut = published + latency``: the minute bars that closed by then
(:meth:`IntradayBars.asof`), the daily prices printed before then
(:meth:`MarketData.asof`), and a calendar of the events published by then (date+session
events: tradable by then). It must be identical; any difference is a leak. An entry
before ``cut`` is a leak too. The entry and exit prices are later bars, unknown at the
cut by construction: only the decision is compared. Session dates and the bar grid stay
visible: the exchange calendar is known in advance.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from backtest.intraday.bars import IntradayBars
from backtest.sim.audit import LEAK_COLUMNS, differences, known_calendar
from backtest.intraday.trading.orders import (IntradayExecution, event_decisions,
                                          intraday_decisions, published)
from strategies.base import StrategyContext

DECISION_KEY = ["ticker", "side", "weight", "entry_time", "leg"]


def intraday_audit(strategy, ctx: StrategyContext, bars: IntradayBars,
                   execution: IntradayExecution | None = None) -> pd.DataFrame:
    """Leaks found: event_id, ticker, kind (``before_news``, ``changed_or_missing``,
    ``extra``), detail; an empty frame means none."""
    execution = execution or IntradayExecution()
    full, _ = intraday_decisions(strategy, ctx, bars, execution)
    rows = []

    def known_at(e):
        when = published(e)
        return ctx.timings[e.id].available if when is None else when

    for event in ctx.calendar:
        when = published(event)
        if when is None:  # no minute: no intraday order to audit
            continue
        cut = when + execution.latency
        mine = full[full["event_id"] == event.id]
        for t, ticker in zip(mine["entry_time"], mine["ticker"]):
            if t < cut:
                rows.append({"event_id": event.id, "ticker": ticker, "kind": "before_news",
                             "detail": f"enters at {t}, before the news plus latency {cut}"})
        cut_bars = bars.asof(cut)
        truncated = dataclasses.replace(
            ctx, calendar=known_calendar(ctx, cut, known_at), data=ctx.data.asof(cut),
            calendar_sessions=ctx.sessions, bars=cut_bars)
        again, _ = event_decisions(strategy, truncated, event, execution)
        rows += differences(event.id, mine, pd.DataFrame(again, columns=full.columns),
                            DECISION_KEY, cut, what="decision")
    return pd.DataFrame(rows, columns=LEAK_COLUMNS)
