"""What happened: the typed records of an event calendar.

An :class:`Event` is one dated news item with the tickers it touches. It is
plain data; when the news became tradable is worked out in
:mod:`events.timing`, and loading and validating YAML in :mod:`events.loader`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

ROLES = ("partner", "competitor", "subject", "supplier")
# The role of a ticker that a universe study links to every event although the calendar
# does not (``backtest study --universe``): not a role a calendar may give.
UNIVERSE_ROLE = "universe"
LABELS = ("bearish", "bullish", "neutral")
DIRECTIONS = ("up", "down")
SESSIONS = ("before_open", "during_session", "after_close")
# A ticker as Yahoo spells it (BRK-B, ^GSPC, 9984.T, EURUSD=X): it also names a cache file,
# so nothing that could be a path (/, \, a leading dot) and at most 30 characters.
_TICKER = re.compile(r"\^?[A-Z0-9][A-Z0-9.^=&_-]{0,29}")


def check_ticker(text: object) -> str:
    """``text`` as a ticker (stripped, upper case), or ValueError saying why it is not one.

    The one rule for tickers, wherever they are read: calendars, price files,
    universe panels, the command line and the cache.
    """
    if not isinstance(text, str):
        raise ValueError(f"a ticker is text, got {type(text).__name__} {text!r}")
    ticker = text.strip().upper()
    if not _TICKER.fullmatch(ticker):
        shown = ticker if len(ticker) <= 40 else ticker[:37] + "..."
        raise ValueError(f"not a ticker: {shown!r} (letters, digits and . - ^ = & _, at most "
                         f"30 characters)")
    return ticker


# The columns of one (event, linked ticker) pair in the study (day0: its first tradable
# session, pos0: that session's position in the price panel). Event tags become further
# pair columns, so a tag may not take one of these names.
PAIR_COLUMNS = ("event_id", "ticker", "role", "label", "direction", "score", "day0", "pos0")


@dataclass(frozen=True)
class LinkedTicker:
    """A ticker an event touches, its role relative to the news, and the move expected."""

    ticker: str
    role: str  # one of ROLES (UNIVERSE_ROLE for a universe study's extra links)
    direction: str  # one of DIRECTIONS
    exchange: str | None = None  # exchange_calendars code; None: from the ticker's suffix
    chain: str | None = None  # the chain this link came from ({chain: NAME} in the event)
    line: int | None = field(default=None, compare=False)  # line in the source file

    @property
    def sign(self) -> int:
        """+1 for an expected rise, -1 for an expected fall."""
        return 1 if self.direction == "up" else -1


@dataclass(frozen=True)
class Sentiment:
    """Tone of the news: a label and a 0-100 strength (e.g. "bearish, score 65")."""

    label: str  # one of LABELS
    score: float  # 0..100


@dataclass(frozen=True)
class Event:
    """One news event.

    Time is given either as a tz-aware ``timestamp`` or as a ``date`` plus a
    ``session`` flag (``before_open``, ``during_session``, ``after_close``)
    for news whose minute is not known.
    """

    id: str
    headline: str
    source: str
    sentiment: Sentiment
    tickers: tuple[LinkedTicker, ...]
    timestamp: pd.Timestamp | None = None
    date: dt.date | None = None
    session: str | None = None
    tags: dict[str, str] = field(default_factory=dict, compare=False)  # user columns
    scorer: str | None = None  # "name version" when the sentiment was scored, None if hand-set
    chains: tuple["ChainLink", ...] = ()  # whole chains the event links (members in tickers)
    line: int | None = field(default=None, compare=False)  # line in the source file
    path: str | None = field(default=None, compare=False)  # the source file

    @property
    def time_text(self) -> str:
        """The event time as the user wrote it, for tables and reports."""
        if self.timestamp is not None:
            return self.timestamp.isoformat()
        return f"{self.date} {self.session}"


@dataclass(frozen=True)
class Calendar:
    """A named, ordered collection of events, as loaded from one file."""

    name: str
    events: tuple[Event, ...]
    path: str | None = None

    def __iter__(self):
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def get(self, event_id: str) -> Event:
        for event in self.events:
            if event.id == event_id:
                return event
        raise KeyError(event_id)

    @property
    def tickers(self) -> list[str]:
        """Every linked ticker, sorted."""
        return sorted({lt.ticker for e in self.events for lt in e.tickers})

    @cached_property
    def links(self) -> "Links":
        """Every (event, linked ticker) as columns, in calendar order (worked out once: the
        calendar is frozen)."""
        return Links.of(self.events)

    @cached_property
    def time_codes(self) -> np.ndarray:
        """Each event's time code, in calendar order: events with equal codes have equal
        times (timestamp and its unit, or date and session), codes in order of first
        appearance. Worked out once (day 0 and the audit table both ask for it)."""
        codes: dict[tuple, int] = {}
        out = np.empty(len(self.events), dtype=np.int64)
        for i, event in enumerate(self.events):
            ts = event.timestamp
            out[i] = codes.setdefault((ts, getattr(ts, "unit", None), event.date,
                                       event.session), len(codes))
        out.flags.writeable = False  # cached on the frozen calendar
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per (event, linked ticker): the calendar as a tidy table."""
        rows = [
            {
                "event_id": e.id,
                "time": e.time_text,
                "headline": e.headline,
                "source": e.source,
                "label": e.sentiment.label,
                "score": e.sentiment.score,
                "ticker": lt.ticker,
                "role": lt.role,
                "direction": lt.direction,
            }
            for e in self.events
            for lt in e.tickers
        ]
        return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: its fields are arrays
class Links:
    """A calendar's (event, linked ticker) links as columns, in calendar order: the one
    pass over the links that the study's pairs and the audit table share (a universe
    study has a hundred thousand of them; per-link work then runs on arrays).

    ``event`` is each link's event position in ``Calendar.events``; ``ticker``, ``role``,
    ``direction`` and ``listed`` (the exchange the calendar names, or None) are object
    arrays of the link's fields.
    """

    event: np.ndarray
    ticker: np.ndarray
    role: np.ndarray
    direction: np.ndarray
    listed: np.ndarray

    @classmethod
    def of(cls, events) -> "Links":
        counts = np.fromiter((len(e.tickers) for e in events), dtype=np.int64,
                             count=len(events))
        fields = [lt for e in events for lt in e.tickers]

        def column(name):
            out = np.empty(len(fields), dtype=object)
            out[:] = [getattr(lt, name) for lt in fields]
            return out

        columns = (np.repeat(np.arange(len(events), dtype=np.int64), counts),
                   column("ticker"), column("role"), column("direction"), column("exchange"))
        for a in columns:  # cached on the (frozen) calendar: nobody may write to them
            a.flags.writeable = False
        return cls(*columns)

    def __len__(self) -> int:
        return len(self.event)


WEIGHTINGS = ("equal", "fixed", "exposure")
REBALANCING = ("none", "daily")


@dataclass(frozen=True)
class ChainMember:
    """One ticker of a chain: its raw weight and the dates it belongs.

    ``weight`` is 1 for an equal-weighted chain, the given weight for ``fixed``, the
    share of the business exposed to the chain's company for ``exposure``; weights are
    normalized over the members that belong on a day. ``start``/``end`` are inclusive:
    the member is bought at the close of its first session on or after ``start`` and
    sold at the close of ``end``.
    """

    ticker: str
    weight: float = 1.0
    start: dt.date | None = None
    end: dt.date | None = None
    line: int | None = field(default=None, compare=False)

    def belongs(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Chain:
    """A named basket of linked tickers ("the OpenAI chain"), with weights and dates.

    ``rebalance="none"`` holds the basket (buy and hold), resetting to the target
    weights only when a member joins or leaves; ``"daily"`` resets every session.
    """

    name: str
    members: tuple[ChainMember, ...]
    weighting: str = "equal"  # one of WEIGHTINGS
    rebalance: str = "none"  # one of REBALANCING
    description: str = ""
    path: str | None = field(default=None, compare=False)
    line: int | None = field(default=None, compare=False)

    @property
    def tickers(self) -> list[str]:
        return [m.ticker for m in self.members]

    def weights_on(self, day: dt.date) -> dict[str, float]:
        """Target weights of the members that belong on ``day``, summing to 1."""
        active = [m for m in self.members if m.belongs(day)]
        total = sum(m.weight for m in active)
        return {m.ticker: m.weight / total for m in active} if total > 0 else {}


@dataclass(frozen=True)
class ChainLink:
    """An event's link to a whole chain (``{chain: openai, role, direction}``): the
    members and their weights on the event's day 0, which the study holds fixed as one
    portfolio "security"; each member is also linked to the event as its own ticker."""

    chain: str
    role: str
    direction: str
    weights: tuple[tuple[str, float], ...]  # (ticker, weight) on day 0, summing to 1
    line: int | None = field(default=None, compare=False)

    @property
    def sign(self) -> int:
        return 1 if self.direction == "up" else -1
