"""Built-in news strategies, on one shared signal-and-execution skeleton.

How an event becomes trades:

* the event's **label and score** choose whether it is traded at all (the strategy's
  ``labels`` and ``threshold``);
* each linked ticker's **role** chooses whether that ticker is traded (``roles``);
* each linked ticker's **expected direction** chooses the side: a ticker the calendar
  expects to fall is shorted, one it expects to rise is bought. So one event can be
  bad news for one ticker and good news for another (a competitor's launch), and a
  strategy never trades a ticker against the calendar's own expectation.

:class:`NewsStrategy` turns each pick into an intent: entry at the first price
after the news (``fill``), exit ``hold`` sessions later at the same point of the
session, sized equally, by inverse volatility or by a fixed notional, optionally
beta-hedged with SPY. Subclasses only say which tickers to trade, and which way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from events.errors import ConfigError
from events.model import DIRECTIONS, LABELS, ROLES, Event, LinkedTicker, check_ticker
from strategies.base import OVERLAP_RULES, MarketData, Strategy, StrategyContext, param

FILLS = ("auto", "next_open", "next_close")
SIZINGS = ("equal", "vol", "notional")


@dataclass(frozen=True)
class NewsParams:
    """Parameters shared by the news strategies (each has a default and sweep values)."""

    threshold: float = param(60.0, sweep=(50, 60, 70, 80), help="minimum sentiment score 0-100")
    labels: tuple[str, ...] = param((), help="sentiment labels traded (bearish, bullish, "
                                             "neutral); empty: the strategy's own")
    hold: int = param(5, sweep=(1, 3, 5, 10), help="sessions held")
    roles: tuple[str, ...] = param(("partner",), help="roles traded (partner, supplier, ...)")
    directions: tuple[str, ...] = param((), help="expected directions traded (up, down); "
                                                 "empty: any")
    fill: str = param("auto", help="auto: day-0 close for news during the session, else the "
                                   "next open; next_open; next_close")
    sizing: str = param("equal", help="equal weight, vol (inverse volatility) or notional")
    gross: float = param(1.0, sweep=(0.5, 1.0), help="exposure per event, fraction of equity")
    notional: float = param(10_000.0, help="currency per position with sizing=notional")
    vol_lookback: int = param(60, help="sessions of returns for sizing=vol")
    stop: float = param(0.0, sweep=(0.0, 0.05, 0.1), help="adverse move that exits early "
                                                           "(0: none)")
    overlap: str = param("extend", help="a second signal on a held ticker: extend, add or skip")
    hedge: bool = param(False, help="beta-hedge each event with the hedge ticker")
    hedge_ticker: str = param("SPY", help="hedge instrument")
    beta_lookback: int = param(250, help="sessions of returns for the hedge beta")

    def validate(self) -> None:
        for name, allowed in (("fill", FILLS), ("sizing", SIZINGS), ("overlap", OVERLAP_RULES)):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"parameter {name} must be one of {', '.join(allowed)}, got "
                                  f"{getattr(self, name)!r}", field=name)
        for name, allowed in (("roles", ROLES), ("labels", LABELS), ("directions", DIRECTIONS)):
            unknown = [v for v in getattr(self, name, ()) if v not in allowed]
            if unknown:
                raise ConfigError(f"parameter {name}: unknown {unknown[0]!r} (one of "
                                  f"{', '.join(allowed)})", field=name)
        if not 1 <= self.hold <= 10_000:
            raise ConfigError(f"parameter hold must be between 1 and 10000 sessions, got "
                              f"{self.hold}", field="hold")
        if not 0 <= self.threshold <= 100:
            raise ConfigError("parameter threshold must be between 0 and 100", field="threshold")
        if not 0 <= self.stop < 1:
            raise ConfigError(f"parameter stop must be >= 0 and < 1 (a fraction), got "
                              f"{self.stop}", field="stop")
        for name in ("gross", "notional"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"parameter {name} must be > 0, got {getattr(self, name)}",
                                  field=name)
        for name in ("vol_lookback", "beta_lookback"):
            if not 2 <= getattr(self, name) <= 10_000:
                raise ConfigError(f"parameter {name} must be between 2 and 10000 sessions, got "
                                  f"{getattr(self, name)}", field=name)
        try:
            check_ticker(self.hedge_ticker)
        except ValueError as exc:
            raise ConfigError(f"parameter hedge_ticker: {exc}", field="hedge_ticker") from None


class NewsStrategy(Strategy):
    """Skeleton: subclasses implement :meth:`picks` (which tickers, which way)."""

    labels: tuple[str, ...] = ("bearish",)
    Params = NewsParams
    # Decides at the news, so it can trade minute bars after it (backtest.intraday.trading);
    # False for a strategy whose decision waits for later prices (fade_the_reaction).
    intraday: ClassVar[bool] = True

    def picks(self, event: Event, ctx: StrategyContext) -> list[tuple[LinkedTicker, int]]:
        """(ticker, direction) pairs to trade for an event that passed the sentiment filter."""
        raise NotImplementedError

    # -- shared machinery -------------------------------------------------------------

    def selected(self, event: Event) -> list[LinkedTicker]:
        """Linked tickers passing the role and expected-direction filters."""
        p = self.params
        return [lt for lt in event.tickers if lt.role in p.roles
                and (not p.directions or lt.direction in p.directions)]

    def entry(self, ctx: StrategyContext, event: Event) -> tuple[pd.Timestamp, str] | None:
        """(session, "open"/"close") of the first fill allowed by ``fill``."""
        t = ctx.timings[event.id]
        if not ctx.is_session(t.day0):
            return None
        if self.params.fill == "next_close":
            return t.day0, "close"
        if self.params.fill == "next_open" and t.first_fill == "close":
            nxt = ctx.session_after(t.day0, 1)
            return (nxt, "open") if nxt is not None else None
        return t.day0, t.first_fill

    def traded(self, event: Event) -> bool:
        """Whether the sentiment filter trades ``event``: its label is one of ``labels``
        (the strategy's own when the parameter is empty) and its score is at least
        ``threshold``."""
        s, p = event.sentiment, self.params
        return s.label in (p.labels or self.labels) and s.score >= p.threshold

    def positions(self, chosen: list[tuple[LinkedTicker, int]], ctx: StrategyContext,
                  when: Callable[[], pd.Timestamp]) -> list[dict]:
        """The positions an event's picks become: dicts of ticker, direction, weight and
        leg ("main", then "hedge" with ``hedge``), sized by :meth:`weights`.

        Sizing by volatility and hedging read the daily prices known before the
        decision, ``ctx.history(when())``; ``when`` is only called then. The daily
        intents and the intraday orders (:mod:`backtest.intraday.trading`) both come
        from here, so an event is sized the same way at either frequency.
        """
        p = self.params
        needs = p.sizing == "vol" or p.hedge
        decided = ctx.history(when()) if needs else None
        legs = [{"ticker": link.ticker, "direction": direction, "weight": w, "leg": "main"}
                for (link, direction), w in zip(chosen, self.weights(chosen, decided))]
        if p.hedge:
            legs += [{k: h[k] for k in ("ticker", "direction", "weight", "leg")}
                     for h in self.hedge_rows(legs, decided)]
        return legs

    def intent_rows(self, ctx: StrategyContext) -> list[dict]:
        """One intent per pick of every event that passes the sentiment filter."""
        p, rows = self.params, []
        stop = p.stop if p.stop > 0 else np.nan
        for event in ctx.calendar:
            if not self.traded(event):
                continue
            chosen = [(lt, d) for lt, d in self.picks(event, ctx) if lt.ticker in
                      ctx.data.close.columns]
            start = self.entry_for(ctx, event)
            if not chosen or start is None:
                continue
            session, at = start
            exit_session = ctx.session_after(session, p.hold)
            if exit_session is None:
                continue
            # What is known before the fill; only sizing by volatility and hedging read it.
            for leg in self.positions(chosen, ctx, lambda: ctx.bar_time(session, at)):
                rows.append({"event_id": event.id, "ticker": leg["ticker"],
                             "direction": leg["direction"], "weight": leg["weight"],
                             "entry_session": session, "entry_at": at,
                             "exit_session": exit_session, "exit_at": at,
                             "stop": stop if leg["leg"] == "main" else np.nan,
                             "leg": leg["leg"]})
        return rows

    def entry_for(self, ctx: StrategyContext, event: Event):
        return self.entry(ctx, event)

    def weights(self, chosen: list[tuple[LinkedTicker, int]], history: MarketData
                ) -> list[float]:
        """Per-position weight for an event's picks (see :meth:`split`)."""
        return self.split([lt.ticker for lt, _ in chosen], history, self.params.gross)

    def split(self, tickers: list[str], history: MarketData, gross: float) -> list[float]:
        """``gross`` split equally or by inverse volatility; a fixed notional each otherwise."""
        p = self.params
        n = len(tickers)
        if p.sizing == "notional":
            return [p.notional] * n
        if p.sizing == "equal":
            return [gross / n] * n
        rets = history.known_returns[tickers].iloc[-p.vol_lookback:]
        vol = rets.std(ddof=1).to_numpy()
        inv = np.where(np.isfinite(vol) & (vol > 0), 1.0 / vol, np.nan)
        if np.isnan(inv).all():
            return [gross / n] * n
        inv = np.where(np.isnan(inv), np.nanmean(inv), inv)
        return list(gross * inv / inv.sum())

    def hedge_rows(self, legs: list[dict], history: MarketData) -> list[dict]:
        """One hedge intent per event: minus the sum of beta x signed weight, on the hedge ticker.

        Beta is the OLS slope of the ticker's returns on the hedge's over the last
        ``beta_lookback`` sessions known before the entry.
        """
        p = self.params
        if p.hedge_ticker not in history.returns.columns:
            raise ConfigError(f"hedge ticker {p.hedge_ticker} is not in the price data",
                              field="hedge_ticker")
        known = history.known_returns
        x = known[p.hedge_ticker].iloc[-p.beta_lookback:]
        exposure = 0.0
        for leg in legs:
            y = known[leg["ticker"]].iloc[-p.beta_lookback:]
            ok = x.notna() & y.notna()
            if ok.sum() < 20:
                continue
            beta = np.polyfit(x[ok].to_numpy(), y[ok].to_numpy(), 1)[0]
            exposure += beta * leg["direction"] * leg["weight"]
        if exposure == 0.0:
            return []
        first = legs[0]
        return [{**first, "ticker": p.hedge_ticker, "direction": -int(np.sign(exposure)),
                 "weight": abs(exposure), "stop": np.nan, "leg": "hedge"}]


class ShortPartnersOnBadNews(NewsStrategy):
    """Short an event's partners expected to fall after bearish news, equal weight, hold N
    sessions (a partner the calendar expects to rise is not traded)."""

    name = "short_partners_on_bad_news"
    labels = ("bearish",)

    def picks(self, event, ctx):
        return [(lt, -1) for lt in self.selected(event) if lt.sign < 0]


class LongOnGoodNews(NewsStrategy):
    """Buy an event's partners expected to rise after bullish news, equal weight, hold N
    sessions (a partner the calendar expects to fall is not traded)."""

    name = "long_on_good_news"
    labels = ("bullish",)

    def picks(self, event, ctx):
        return [(lt, +1) for lt in self.selected(event) if lt.sign > 0]


@dataclass(frozen=True)
class PairParams(NewsParams):
    roles: tuple[str, ...] = param(("partner", "competitor"),
                                   help="roles traded, each on the side of its expected move")


class PairTrade(NewsStrategy):
    """Buy the linked tickers expected to rise and short those expected to fall, when the
    news has both (bearish OpenAI news: short its partners, buy its competitors, e.g.
    ORCL vs GOOGL). Each side gets half the gross."""

    name = "pair_trade"
    labels = ("bearish", "bullish")
    Params = PairParams

    def picks(self, event, ctx):
        chosen = [(lt, lt.sign) for lt in self.selected(event)]
        if len({side for _, side in chosen}) < 2:  # a pair needs both sides
            return []
        return chosen

    def weights(self, chosen, history):
        # Half the gross per side, split within each side by the sizing rule.
        out = [0.0] * len(chosen)
        for side in (-1, +1):
            idx = [i for i, (_, d) in enumerate(chosen) if d == side]
            part = self.split([chosen[i][0].ticker for i in idx], history,
                              self.params.gross / 2) if idx else []
            for i, w in zip(idx, part):
                out[i] = w
        return out


class FadeTheReaction(NewsStrategy):
    """Trade against the day-0 move: from day +1, short what rose and buy what fell.

    The day-0 move is the close-to-close total return of day 0, known after its
    close; the entry is day +1's open (``fill`` is ignored).
    """

    name = "fade_the_reaction"
    labels = ("bearish", "bullish", "neutral")
    intraday = False  # it decides at day +1's open, on the day-0 close

    def entry_for(self, ctx, event):
        t = ctx.timings[event.id]
        nxt = ctx.session_after(t.day0, 1) if ctx.is_session(t.day0) else None
        return (nxt, "open") if nxt is not None else None

    def picks(self, event, ctx):
        t = ctx.timings[event.id]
        nxt = ctx.session_after(t.day0, 1)
        if nxt is None:
            return []
        known = ctx.history(ctx.bar_time(nxt, "open"))
        out = []
        for lt in self.selected(event):
            if lt.ticker not in known.returns.columns:
                continue
            move = known.returns[lt.ticker].get(t.day0, np.nan)
            if np.isfinite(move) and move != 0:
                out.append((lt, -int(np.sign(move))))
        return out


BUILTINS = (ShortPartnersOnBadNews, LongOnGoodNews, PairTrade, FadeTheReaction)
