"""The strategy plug-in API.

A strategy turns an event calendar into *trade intents*: which ticker to buy
or short, when (session and open/close), for how long, and with what weight.
It never sees prices after the bar it decides on; execution, costs and P&L
are the simulator's job (:mod:`backtest.simulate`).

Write one by subclassing :class:`Strategy`::

    from dataclasses import dataclass
    from strategies.base import Strategy, StrategyContext, intents_frame

    class LongOnGoodNews(Strategy):
        name = "long_on_good_news"

        @dataclass(frozen=True)
        class Params:
            threshold: float = 60   # minimum sentiment score
            hold: int = 5           # sessions held

        def intents(self, ctx: StrategyContext):
            rows = []
            for event in ctx.calendar:
                ...
            return intents_frame(rows)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from events.errors import InputError
from events.model import Calendar
from events.timing import EventTiming

INTENT_COLUMNS = ["event_id", "ticker", "direction", "weight", "entry_session", "entry_at",
                  "exit_session", "exit_at"]


@dataclass(frozen=True)
class StrategyContext:
    """What a strategy may look at: the calendar, each event's timing, the sessions."""

    calendar: Calendar
    timings: dict[str, EventTiming]
    sessions: pd.DatetimeIndex  # trading sessions of the price data

    def session_after(self, session: pd.Timestamp, n: int) -> pd.Timestamp | None:
        """The session ``n`` sessions after ``session``, or None past the data's end."""
        i = self.sessions.get_loc(session) + n
        return self.sessions[i] if i < len(self.sessions) else None


def intents_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Trade intents as a frame with the documented columns.

    event_id, ticker; direction (+1 long, -1 short); weight (fraction of equity
    at entry); entry_session, entry_at ("open"/"close"); exit_session, exit_at.
    """
    return pd.DataFrame(rows, columns=INTENT_COLUMNS)


class Strategy:
    """Base class of news strategies. Subclasses set ``name``, ``Params`` and ``intents``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""

    @dataclass(frozen=True)
    class Params:
        pass

    def __init__(self, **params: Any):
        known = {f.name: f for f in dataclasses.fields(self.Params)}
        for key in params:
            if key not in known:
                raise InputError(f"unknown parameter {key!r} for strategy {self.name} "
                                 f"(known: {', '.join(known) or 'none'})", field="param")
        self.params = self.Params(**{k: _coerce(v, known[k]) for k, v in params.items()})

    def intents(self, ctx: StrategyContext) -> pd.DataFrame:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"


def _coerce(value: Any, fld: dataclasses.Field) -> Any:
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
            return tuple(v.strip() for v in value.split(",") if v.strip())
    except ValueError:
        raise InputError(f"parameter {fld.name}: cannot read {value!r} as "
                         f"{type(default).__name__}", field=fld.name) from None
    return value
