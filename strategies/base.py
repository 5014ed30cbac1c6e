"""The strategy plug-in API.

A strategy turns an event calendar into *trade intents*: which ticker to buy
or short, from which bar (a session's open or close) to which, with what
weight. Execution (fills, costs, overlaps, stops) and P&L belong to the
simulator (:mod:`backtest.sim`), so a strategy file stays short.

A strategy may read prices only through :meth:`StrategyContext.history`, which
returns the bars known at a given moment. ``backtest audit`` reruns every
strategy on data cut at each event's decision time and reports any intent
that changes: a look-ahead leak.

Write one in a file of your project's ``strategies/`` folder::

    from dataclasses import dataclass
    from strategies.base import Strategy, param

    class LongOnGoodNews(Strategy):
        \"\"\"Buy the partners after bullish news.\"\"\"
        name = "my_long_on_good_news"

        @dataclass(frozen=True)
        class Params:
            threshold: float = param(60.0, sweep=(50, 60, 70), help="minimum score")
            hold: int = param(5, sweep=(1, 3, 5, 10), help="sessions held")

        def intents(self, ctx):
            rows = []
            for event in ctx.calendar:
                if event.sentiment.label != "bullish" or event.sentiment.score < self.params.threshold:
                    continue
                timing = ctx.timings[event.id]
                exit_ = ctx.session_after(timing.day0, self.params.hold)
                for link in event.tickers:
                    rows.append(dict(event_id=event.id, ticker=link.ticker, direction=+1,
                                     weight=1 / len(event.tickers), entry_session=timing.day0,
                                     entry_at=timing.first_fill, exit_session=exit_,
                                     exit_at=timing.first_fill))
            return intents_frame(rows)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from events.errors import ConfigError
from events.model import Calendar
from events.timing import EventTiming, exchange_calendar

INTENT_COLUMNS = ["event_id", "ticker", "direction", "weight", "entry_session", "entry_at",
                  "exit_session", "exit_at", "stop", "leg"]
# What the simulator does with a new intent on a ticker already held (see
# :mod:`backtest.sim.simulate`); a strategy picks one through :meth:`Strategy.execution`.
OVERLAP_RULES = ("extend", "add", "skip")


def param(default: Any, *, sweep: tuple = (), help: str = "") -> Any:  # noqa: A002
    """A strategy parameter: its default, the values a sweep tries, and a help line."""
    return dataclasses.field(default=default, metadata={"sweep": tuple(sweep), "help": help})


def intents_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Trade intents as a frame with the documented columns.

    event_id, ticker; direction (+1 long, -1 short); weight (fraction of equity
    at entry, or currency with ``sizing="notional"``); entry_session,
    entry_at ("open"/"close"); exit_session, exit_at; stop (adverse move that
    closes the position early, NaN for none); leg ("main" or "hedge").
    """
    frame = pd.DataFrame(rows, columns=INTENT_COLUMNS)
    frame["stop"] = frame["stop"].astype("float64")
    frame["leg"] = frame["leg"].astype(object).where(frame["leg"].notna(), "main")
    return frame


@dataclass(frozen=True)
class MarketData:
    """Daily prices a strategy may read, on a total-return basis (dividends included).

    ``open`` and ``close`` are sessions x tickers; ``returns`` are close-to-close
    total returns. Build with :meth:`from_frames`; cut with :meth:`asof`.
    """

    open: pd.DataFrame
    close: pd.DataFrame
    returns: pd.DataFrame
    exchange: str = "XNYS"
    n_closed: int | None = None  # sessions whose close is known (None: all)

    @property
    def known_returns(self) -> pd.DataFrame:
        """Returns of the sessions whose close is known (drops a session still open)."""
        return self.returns if self.n_closed is None else self.returns.iloc[:self.n_closed]

    @classmethod
    def from_frames(cls, open_: pd.DataFrame, close: pd.DataFrame, exchange: str = "XNYS"
                    ) -> "MarketData":
        return cls(open_, close, close / close.shift(1) - 1.0, exchange)

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.close.index

    def asof(self, when: pd.Timestamp) -> "MarketData":
        """The bars printed strictly before ``when`` (tz-aware): a session whose open
        is before ``when`` but whose close is not keeps its open only."""
        cal = exchange_calendar(self.exchange)
        sessions = self.sessions
        opens = cal.opens.reindex(sessions)
        closes = cal.closes.reindex(sessions)
        n_open = int((opens < when).sum())
        n_close = int((closes < when).sum())
        open_ = self.open.iloc[:n_open]
        close = self.close.iloc[:n_open].copy()
        close.iloc[n_close:] = np.nan
        returns = self.returns.iloc[:n_open].copy()
        returns.iloc[n_close:] = np.nan
        return MarketData(open_, close, returns, self.exchange, n_close)


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy may look at: the calendar, each event's timing, and prices as of a time."""

    calendar: Calendar
    timings: dict[str, EventTiming]
    data: MarketData
    calendar_sessions: pd.DatetimeIndex | None = None  # future session dates are public
    # Minute bars (backtest.intraday.bars.IntradayBars) in an intraday run, else None; read
    # them through bar_history, as the daily prices through history.
    bars: Any = None

    @property
    def sessions(self) -> pd.DatetimeIndex:
        """Trading sessions (known in advance, even where prices are cut off)."""
        return self.calendar_sessions if self.calendar_sessions is not None \
            else self.data.sessions

    def history(self, when: pd.Timestamp) -> MarketData:
        """Prices known strictly before ``when`` (see :meth:`MarketData.asof`)."""
        return self.data.asof(when)

    def bar_history(self, when: pd.Timestamp):
        """Minute bars known at ``when`` (those closed by then,
        ``IntradayBars.asof``), or None outside an intraday run."""
        return None if self.bars is None else self.bars.asof(when)

    def session_after(self, session: pd.Timestamp, n: int) -> pd.Timestamp | None:
        """The session ``n`` sessions after ``session``, or None past the data's end."""
        where, days = self._session_positions
        i = where.get(session)
        i = (self.sessions.get_loc(session) if i is None else i) + n
        return days[i] if 0 <= i < len(days) else None

    def is_session(self, day: pd.Timestamp) -> bool:
        """``day in self.sessions``, looked up in a dict (a sweep asks once per event and
        combination)."""
        return day in self._session_positions[0] or day in self.sessions

    @cached_property
    def _session_positions(self) -> tuple[dict, list]:
        # a sweep asks session_after twice per event and combination: a dict and a list
        # instead of the index's get_loc and boxing each time (the same Timestamps)
        sessions = self.sessions
        return {d: i for i, d in enumerate(sessions)}, list(sessions)

    def bar_time(self, session: pd.Timestamp, at: str) -> pd.Timestamp:
        """UTC time of a session's open or close bar."""
        cal = exchange_calendar(self.data.exchange)
        return cal.session_open(session) if at == "open" else cal.session_close(session)


class Strategy:
    """Base class of news strategies: set ``name``, a ``Params`` dataclass and ``intents``."""

    name: ClassVar[str] = ""

    @dataclass(frozen=True)
    class Params:
        pass

    def __init__(self, **params: Any):
        known = {f.name: f for f in dataclasses.fields(self.Params)}
        for key in params:
            if key not in known:
                raise ConfigError(f"unknown parameter {key!r} for strategy {self.name} "
                                  f"(known: {', '.join(known) or 'none'})", field="param")
        self.params = self.Params(**{k: typed(coerce(v, known[k]), known[k])
                                     for k, v in params.items()})
        check = getattr(self.params, "validate", None)
        if check is not None:
            check()

    @classmethod
    def describe(cls) -> str:
        """First line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def parameters(cls) -> list[dict[str, Any]]:
        """Each parameter: name, type, default, sweep values, help."""
        return [{"name": f.name, "type": type(f.default).__name__, "default": f.default,
                 "sweep": f.metadata.get("sweep", ()), "help": f.metadata.get("help", "")}
                for f in dataclasses.fields(cls.Params)]

    def params_text(self) -> str:
        """The parameters that matter, as ``key=value`` words: those a sweep varies (their
        main knobs) and any set away from its default; lists joined with ``+``."""
        words = []
        for f in dataclasses.fields(self.Params):
            value = getattr(self.params, f.name)
            if not (f.metadata.get("sweep") or value != f.default):
                continue
            if isinstance(value, tuple):
                value = "+".join(value) if value else "any"
            elif isinstance(value, float):
                value = f"{value:g}"
            words.append(f"{f.name}={value}")
        return " ".join(words)

    def execution(self) -> dict[str, Any]:
        """How the simulator fills this strategy's intents: ``overlap`` (one of
        :data:`OVERLAP_RULES`, from a parameter ``overlap``, default ``extend``) and
        ``notional`` (weights are currency amounts, with a parameter ``sizing`` of
        ``"notional"``; otherwise fractions of equity)."""
        p = self.params
        return {"overlap": getattr(p, "overlap", "extend"),
                "notional": getattr(p, "sizing", "equal") == "notional"}

    def intents(self, ctx: StrategyContext) -> pd.DataFrame:
        """Trade intents (columns of :func:`intents_frame`). Implement this, or
        :meth:`intent_rows`."""
        return intents_frame(self.intent_rows(ctx))

    def intent_rows(self, ctx: StrategyContext) -> list[dict[str, Any]]:
        """Trade intents as plain rows (dicts with the keys of :func:`intents_frame`).

        A strategy that builds rows anyway implements this instead of
        :meth:`intents`: a sweep then collects the rows of all combinations into
        one frame instead of building (and concatenating) one per combination.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"


def coerce(value: Any, fld: dataclasses.Field) -> Any:
    """Turn ``key=value`` text from the command line into the parameter's type."""
    if not isinstance(value, str):
        return value
    default = fld.default
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes"):
                return True
            if value.lower() in ("0", "false", "no"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, tuple):
            return tuple(v.strip() for v in value.split("+" if "+" in value else ",")
                         if v.strip())
    except ValueError:
        raise ConfigError(f"parameter {fld.name}: cannot read {value!r} as "
                          f"{type(default).__name__}", field=fld.name) from None
    return value


def typed(value: Any, fld: dataclasses.Field) -> Any:
    """``value`` checked against the type of the parameter's default: an int for an int
    (not true/false), a finite number for a float, true/false for a bool, text for text,
    a list of text for a tuple; anything else is refused naming the parameter."""
    default = fld.default
    ok = True
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
              and np.isfinite(value))
    elif isinstance(default, str):
        ok = isinstance(value, str)
    elif isinstance(default, tuple):
        ok = isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    if not ok:
        kind = {bool: "true or false", int: "an integer", float: "a finite number",
                str: "text", tuple: "a list of names"}.get(type(default), type(default).__name__)
        raise ConfigError(f"parameter {fld.name} must be {kind}, got {value!r}"[:200],
                          field=fld.name)
    return value
