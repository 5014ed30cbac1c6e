"""From news to intraday orders: the execution settings, the decision, the fill rule, exits.

An order is made in two steps, kept apart so the look-ahead audit can redo the first:

1. **Decision** (:func:`event_decisions`), at ``decided_at = published + latency``: the
   news strategy's sentiment filter, its picks (ticker and side, from each link's
   expected direction) and its weights (:meth:`strategies.news.NewsStrategy.positions`),
   and the entry bar: the first bar of the exchange's regular-session grid that opens
   at or after ``decided_at`` (:func:`backtest.intraday.bars.first_bar_at_or_after`, the one
   rule). The grid comes from the exchange calendar, not from the bars, so the entry
   time is known before any price of it is.
2. **Pricing** (:func:`price_orders`): the entry bar's open, and the exit, from the bars.

Exits: with a horizon ``h``, the open of the first bar at or after ``entry_time + h``
(or the next bar with a price for the ticker); with ``exit="close"``, or when the
horizon runs past the session's last bar, the close of the session's last bar (its
close time is the exchange's close, early closes included). Positions never stay open
overnight.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.intraday.bars import IntradayBars, first_bar_at_or_after, session_grid
from events.errors import ConfigError
from events.model import Event
from events.timing import exchange_calendar
from strategies.base import StrategyContext
from strategies.news import NewsStrategy

DEFAULT_LATENCY = pd.Timedelta(seconds=60)
MAX_DELAY = pd.Timedelta(days=1)  # a latency or horizon beyond a day leaves the session
DECISION_COLUMNS = ["event_id", "ticker", "side", "weight", "entry_time", "leg", "decided_at"]
ORDER_COLUMNS = ["event_id", "ticker", "side", "weight", "entry_time", "entry_price",
                 "exit_time", "exit_price", "exit_reason", "leg", "decided_at"]
SKIPPED_COLUMNS = ["event_id", "ticker", "reason"]
# "horizon": the open at entry + horizon; "close": exit="close"; "session_end": the
# horizon ran past the session's last bar (or no price came before it), so the close.
EXIT_REASONS = ("horizon", "close", "session_end")
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?|h|"
                       r"hr|hrs|hours?)\s*")
_UNIT = {"ms": "ms", "s": "s", "m": "min", "h": "h"}


def parse_duration(value, field: str) -> pd.Timedelta:
    """``"60s"``, ``"1min"``, ``"30m"``, ``"1h"``, ``"0"`` or a Timedelta -> a Timedelta.

    A bare number other than 0 is refused: seconds or minutes would be a guess.
    """
    if isinstance(value, (datetime.timedelta, np.timedelta64)):
        value = pd.Timedelta(value)
        if value is not pd.NaT:
            return value
    if isinstance(value, str):
        if value.strip() == "0":
            return pd.Timedelta(0)
        m = _DURATION.fullmatch(value.lower())
        if m:
            unit = _UNIT["ms" if m.group(2) == "ms" else m.group(2)[0]]
            try:
                return pd.Timedelta(float(m.group(1)), unit=unit).round("ms")
            except (OverflowError, ValueError):  # beyond pandas' range: refused below
                pass
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return pd.Timedelta(0)
    raise ConfigError(f"must be a duration such as 60s, 30m or 1h, got {value!r}"[:200],
                      field=field)


@dataclass(frozen=True)
class IntradayExecution:
    """How an intraday run fills: ``latency`` after the news, then ``exit``.

    ``latency`` (>= 0, at most a day; default 60 s): the delay between the news and the
    moment an order can be placed; the entry is the open of the first bar opening at or
    after ``published + latency``. ``exit``: ``"close"`` (the session's last bar's close)
    or a horizon (> 0, at most a day) after the entry. Text is read as in
    :meth:`parse`; a bad value raises :class:`~events.errors.ConfigError` naming the field.
    """

    latency: pd.Timedelta = DEFAULT_LATENCY
    exit: pd.Timedelta | str = "close"

    def __post_init__(self):
        latency = parse_duration(self.latency, "latency")
        if latency < pd.Timedelta(0) or latency > MAX_DELAY:
            raise ConfigError(f"must be between 0 and 1 day, got {latency}", field="latency")
        exit_ = self.exit
        if not (isinstance(exit_, str) and exit_.strip().lower() == "close"):
            exit_ = parse_duration(exit_, "exit")
            if exit_ <= pd.Timedelta(0) or exit_ > MAX_DELAY:
                raise ConfigError(f"a horizon must be > 0 and at most 1 day (positions close "
                                  f"at the session's close), got {exit_}", field="exit")
        else:
            exit_ = "close"
        object.__setattr__(self, "latency", latency)
        object.__setattr__(self, "exit", exit_)

    @classmethod
    def parse(cls, latency: str | pd.Timedelta = "60s", exit: str | pd.Timedelta = "close"
              ) -> "IntradayExecution":
        """From command-line text: ``parse(latency="60s", exit="30m")``."""
        return cls(latency, exit)

    @property
    def horizon(self) -> pd.Timedelta | None:
        """The holding horizon, or None for ``exit="close"``."""
        return None if self.exit == "close" else self.exit

    def text(self) -> str:
        """``"latency 60s, exit 30m"`` (or ``exit at the close``)."""
        def short(t):
            s = t.total_seconds()
            return f"{s:g}s" if s < 120 or s % 60 else f"{s / 60:g}m"
        return (f"latency {short(self.latency)}, exit "
                + ("at the close" if self.horizon is None else f"after {short(self.horizon)}"))


def check_strategy(strategy) -> NewsStrategy:
    """The strategy, refused unless it is a news strategy that decides at the news."""
    if not isinstance(strategy, NewsStrategy):
        raise ConfigError(f"{getattr(strategy, 'name', strategy)!r} is not a news strategy "
                          f"(picks and weights): it has no intraday form", field="strategy")
    if not strategy.intraday:
        raise ConfigError(f"{strategy.name} decides after the news (on later prices): it has "
                          f"no intraday form", field="strategy")
    return strategy


def published(event: Event) -> pd.Timestamp | None:
    """The event's publication minute in UTC, or None for a date+session event."""
    return None if event.timestamp is None else event.timestamp.tz_convert("UTC")


def entry_bar(exchange: str, interval: pd.Timedelta, when: pd.Timestamp
              ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """(bar open, session) of the first regular-session bar opening at or after ``when``,
    on the exchange's grid (known in advance, like session dates), or None past the
    calendar's end. After the close or before the open this is the next session's first
    bar; news at 09:29:30 with 60 s latency enters at 09:31."""
    cal = exchange_calendar(exchange)
    first = when.tz_convert(cal.tz).normalize().tz_localize(None)
    if first > cal.last_session:
        return None
    # two weeks hold the next session after any holiday run
    last = min(first + pd.Timedelta(days=14), cal.last_session)
    grid, session_of = session_grid(exchange, interval, first, last)
    k = first_bar_at_or_after(grid, when)
    return None if k is None else (grid[k], session_of[k])


def event_decisions(strategy: NewsStrategy, ctx: StrategyContext, event: Event,
                    execution: IntradayExecution) -> tuple[list[dict], list[dict]]:
    """One event's decisions (rows of :data:`DECISION_COLUMNS`) and skipped picks
    (:data:`SKIPPED_COLUMNS`), from what ``ctx`` holds (its ``bars`` the minute bars).

    The sentiment filter first (an event it refuses is simply not traded); an event
    without a publication minute, a pick without minute bars, a decision with no session
    after it are skipped with the reason.
    """
    if not strategy.traded(event):
        return [], []
    when = published(event)
    if when is None:
        return [], [{"event_id": event.id, "ticker": "",
                     "reason": f"no publication minute ({event.time_text}): date and "
                               f"session only"}]
    decided = when + execution.latency
    bars: IntradayBars = ctx.bars
    chosen, skipped = [], []
    for link, side in strategy.picks(event, ctx):
        if link.ticker in bars.close.columns:
            chosen.append((link, side))
        else:
            skipped.append({"event_id": event.id, "ticker": link.ticker,
                            "reason": "no minute bars"})
    if not chosen:
        return [], skipped
    entry = entry_bar(bars.exchange, bars.interval, decided)
    if entry is None:
        return [], skipped + [{"event_id": event.id, "ticker": lt.ticker,
                               "reason": f"no {bars.exchange} session after {decided}"}
                              for lt, _ in chosen]
    rows = [{"event_id": event.id, "ticker": leg["ticker"], "side": int(leg["direction"]),
             "weight": float(leg["weight"]), "entry_time": entry[0], "leg": leg["leg"],
             "decided_at": decided}
            for leg in strategy.positions(chosen, ctx, lambda: decided)]
    return rows, skipped


def intraday_decisions(strategy, ctx: StrategyContext, bars: IntradayBars,
                       execution: IntradayExecution) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every event's decisions and skipped picks, as frames (see :func:`event_decisions`);
    the strategy sees ``ctx`` with ``bars`` as its minute bars."""
    strategy = check_strategy(strategy)
    ctx = dataclasses.replace(ctx, bars=bars)
    rows, skipped = [], []
    for event in ctx.calendar:
        mine, skip = event_decisions(strategy, ctx, event, execution)
        rows += mine
        skipped += skip
    return (pd.DataFrame(rows, columns=DECISION_COLUMNS),
            pd.DataFrame(skipped, columns=SKIPPED_COLUMNS))


def price_orders(decisions: pd.DataFrame, bars: IntradayBars, execution: IntradayExecution
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Entry and exit of each decision, from the bars: orders (:data:`ORDER_COLUMNS`) and
    the decisions that cannot fill (:data:`SKIPPED_COLUMNS`).

    ``entry_price`` and ``exit_price`` are the quotes (bar open, or the last bar's
    close); slippage and fees are the simulator's (:mod:`backtest.intraday.trading.run`).
    A decision whose entry bar the bars do not hold, or whose ticker has no open there,
    is skipped; an exit at a bar without an open moves to the next bar with one, else to
    the last close of the session.
    """
    index = bars.index
    opens, closes = bars.open.to_numpy(), bars.close.to_numpy()
    column = {t: j for j, t in enumerate(bars.close.columns)}
    session = bars.session.to_numpy()
    cal = exchange_calendar(bars.exchange)
    rows, skipped = [], []
    for d in decisions.itertuples(index=False):
        def skip(reason):
            skipped.append({"event_id": d.event_id, "ticker": d.ticker, "reason": reason})
        k = index.get_indexer([d.entry_time])[0]
        j = column.get(d.ticker)
        if j is None:
            skip("no minute bars")
            continue
        if k < 0:
            skip(f"the minute bars do not hold the entry bar {d.entry_time}")
            continue
        if not np.isfinite(opens[k, j]):
            skip(f"no price at the entry bar {d.entry_time} (open missing)")
            continue
        # the session's bars are contiguous on the grid: [k, end)
        end = int(np.searchsorted(session, session[k], side="right"))
        exit_ = None
        if execution.horizon is not None:
            m = first_bar_at_or_after(index[:end], d.entry_time + execution.horizon)
            priced = [] if m is None else np.flatnonzero(np.isfinite(opens[m:end, j]))
            if len(priced):
                m += int(priced[0])
                exit_ = (index[m], opens[m, j], "horizon")
        if exit_ is None:
            priced = np.flatnonzero(np.isfinite(closes[k:end, j]))
            if not len(priced):
                skip(f"no close after the entry bar {d.entry_time} in its session")
                continue
            m = k + int(priced[-1])
            done = min(index[m] + bars.interval, cal.session_close(pd.Timestamp(session[k])))
            exit_ = (done, closes[m, j], "close" if execution.horizon is None
                     else "session_end")
        rows.append({"event_id": d.event_id, "ticker": d.ticker, "side": d.side,
                     "weight": d.weight, "entry_time": d.entry_time,
                     "entry_price": float(opens[k, j]), "exit_time": exit_[0],
                     "exit_price": float(exit_[1]), "exit_reason": exit_[2], "leg": d.leg,
                     "decided_at": d.decided_at})
    return (pd.DataFrame(rows, columns=ORDER_COLUMNS),
            pd.DataFrame(skipped, columns=SKIPPED_COLUMNS))


def intraday_orders(strategy, ctx: StrategyContext, bars: IntradayBars,
                    execution: IntradayExecution | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The orders of a news strategy on minute bars, and what was skipped and why.

    ``strategy``: a :class:`~strategies.news.NewsStrategy` (its label and score
    threshold, roles, directions and sizing; ``hold``, ``fill``, ``stop`` and ``overlap``
    are daily settings, unused here); ``ctx``: the daily
    :class:`~strategies.base.StrategyContext` (calendar, timings, daily prices for
    sizing by volatility and hedging); ``bars``: the minute bars.

    Returns ``(orders, skipped)``: orders with columns event_id, ticker, side (+1 long,
    -1 short), weight (fraction of equity at entry, or currency with
    ``sizing=notional``), entry_time (bar open, UTC), entry_price (that bar's open),
    exit_time, exit_price, exit_reason (:data:`EXIT_REASONS`), leg, decided_at
    (published + latency); skipped with event_id, ticker, reason.
    """
    execution = execution or IntradayExecution()
    decisions, skipped = intraday_decisions(strategy, ctx, bars, execution)
    orders, unfilled = price_orders(decisions, bars, execution)
    return orders, pd.concat([skipped, unfilled], ignore_index=True) if len(unfilled) \
        else skipped
