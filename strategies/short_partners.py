"""Short the partners on bad news: the seed idea."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from strategies.base import Strategy, StrategyContext, intents_frame


class ShortPartnersOnBadNews(Strategy):
    """For each bearish event with score >= ``threshold``, short its linked tickers
    whose role is in ``roles`` (default: partners), equal weight within the event.

    Entry is at the first price after the news (:class:`events.timing.EventTiming`:
    day-0 close for news during the session, day-0 open otherwise); the position
    is closed ``hold`` sessions later at the same point of the session (open or
    close), so it is held for exactly ``hold`` sessions.
    """

    name = "short_partners_on_bad_news"
    description = "Short an event's partners after bearish news, equal weight, hold N sessions."

    @dataclass(frozen=True)
    class Params:
        threshold: float = 60.0
        hold: int = 5
        roles: tuple[str, ...] = ("partner",)
        gross: float = 1.0  # total short exposure per event, as a fraction of equity

    def intents(self, ctx: StrategyContext) -> pd.DataFrame:
        p, rows = self.params, []
        for event in ctx.calendar:
            if event.sentiment.label != "bearish" or event.sentiment.score < p.threshold:
                continue
            links = [lt for lt in event.tickers if lt.role in p.roles]
            timing = ctx.timings[event.id]
            if not links or timing.day0 not in ctx.sessions:
                continue
            exit_session = ctx.session_after(timing.day0, p.hold)
            if exit_session is None:
                continue
            for link in links:
                rows.append({"event_id": event.id, "ticker": link.ticker, "direction": -1,
                             "weight": p.gross / len(links), "entry_session": timing.day0,
                             "entry_at": timing.first_fill, "exit_session": exit_session,
                             "exit_at": timing.first_fill})
        return intents_frame(rows)
