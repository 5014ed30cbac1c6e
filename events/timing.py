"""When news becomes tradable: map an event's time to day 0 on an exchange calendar.

Rules (daily bars, so the first price we can trade at is an open or a close):

============================  =====================  ================
news published                day 0                  first fill
============================  =====================  ================
before the session's open     that session           day-0 open
during the session            that session           day-0 close
after the close               next session           day-0 open
weekend / holiday             next session           day-0 open
============================  =====================  ================

A ``date`` + ``session`` flag event follows the same table. The close is the
exchange's real close for that day, so half days (e.g. the day after
Thanksgiving, 13:00 New York) are respected. Sessions come from
``exchange_calendars``; no holiday list is kept here.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from events.errors import CalendarError
from events.model import Calendar, Event, Links

if TYPE_CHECKING:
    import exchange_calendars as xcals

DEFAULT_EXCHANGE = "XNYS"
CALENDAR_START = "2000-01-01"  # pinned so results do not depend on today's date

# Yahoo ticker suffix -> exchange_calendars code. No suffix: XNYS (NYSE and Nasdaq
# share its sessions and hours).
SUFFIX_EXCHANGES = {
    ".T": "XTKS", ".L": "XLON", ".HK": "XHKG", ".TO": "XTSE", ".DE": "XETR", ".F": "XFRA",
    ".PA": "XPAR", ".AS": "XAMS", ".BR": "XBRU", ".MI": "XMIL", ".MC": "XMAD", ".SW": "XSWX",
    ".ST": "XSTO", ".OL": "XOSL", ".CO": "XCSE", ".HE": "XHEL", ".AX": "XASX", ".NZ": "XNZE",
    ".KS": "XKRX", ".KQ": "XKRX", ".SS": "XSHG", ".SZ": "XSHG", ".TW": "XTAI", ".SI": "XSES",
    ".BO": "XBOM", ".NS": "XBOM", ".SA": "BVMF", ".MX": "XMEX", ".JO": "XJSE", ".IS": "XIST",
    ".WA": "XWAR", ".VI": "XWBO", ".LS": "XLIS", ".IR": "XDUB", ".PR": "XPRA", ".BD": "XBUD",
}


@lru_cache(maxsize=1)
def known_exchanges() -> tuple[str, ...]:
    """Every exchange code ``exchange_calendars`` knows (aliases included)."""
    import exchange_calendars as xcals  # deferred: loads when a calendar is first needed

    return tuple(sorted(xcals.get_calendar_names(include_aliases=True)))


def exchange_for(ticker: str, explicit: str | None = None) -> str:
    """The exchange a ticker trades on: ``explicit`` if given, else from its suffix, else XNYS.

    >>> exchange_for("9984.T"), exchange_for("ORCL")
    ('XTKS', 'XNYS')
    """
    if explicit:
        return explicit
    dot = ticker.rfind(".")
    return SUFFIX_EXCHANGES.get(ticker[dot:].upper(), DEFAULT_EXCHANGE) if dot > 0 \
        else DEFAULT_EXCHANGE


@lru_cache(maxsize=8)
def exchange_calendar(name: str = DEFAULT_EXCHANGE) -> xcals.ExchangeCalendar:
    """The ``exchange_calendars`` calendar for an exchange code (e.g. XNYS, XTKS)."""
    import exchange_calendars as xcals  # deferred: ``backtest --help`` never needs it

    return xcals.get_calendar(name, start=CALENDAR_START)


@dataclass(frozen=True)
class EventTiming:
    """When one event became tradable.

    Attributes
    ----------
    published : tz-aware publication time (UTC), or None for date+session events
        whose minute is unknown.
    available : earliest moment an order could be placed on the news (for a
        during-session flag event without a minute: the session's open).
    day0 : the session (midnight, tz-naive) of the first tradable session.
    first_fill : "open" or "close" of day 0: the first daily price after the news.
    """

    event_id: str
    exchange: str
    published: pd.Timestamp | None
    available: pd.Timestamp
    day0: pd.Timestamp
    first_fill: str

    @property
    def first_fill_time(self) -> pd.Timestamp:
        return _bar_time(self.exchange, self.day0, self.first_fill)


def event_timing(event: Event, exchange: str = DEFAULT_EXCHANGE) -> EventTiming:
    """Work out day 0 and the first fill for one event (see the module table)."""
    t = _shared_timing(event, exchange)
    return EventTiming(event.id, t.exchange, t.published, t.available, t.day0, t.first_fill)


def event_day0(event: Event, exchange: str = DEFAULT_EXCHANGE) -> pd.Timestamp:
    """Day 0 of one event: ``event_timing(event, exchange).day0`` without building the
    event's own EventTiming (a study asks this once per event)."""
    return _shared_timing(event, exchange).day0


def distinct_day0(calendar: Calendar, exchange: str = DEFAULT_EXCHANGE
                  ) -> tuple[list[pd.Timestamp], np.ndarray]:
    """Day 0 of each distinct event time of ``calendar`` (:func:`time_codes`, in order of
    first appearance) and each event's code into that list: ``day0s[code[i]]`` is
    ``event_day0(calendar.events[i], exchange)``, worked out once per time (a universe
    study has a hundred thousand events on a few hundred days). The first event, in
    calendar order, whose time has no day 0 raises, naming its line."""
    code = time_codes(calendar)
    _, first = np.unique(code, return_index=True)  # increasing: codes follow first appearance
    events = calendar.events
    return [_shared_timing(events[i], exchange).day0 for i in first], code


def _shared_timing(event: Event, exchange: str) -> EventTiming:
    """The cached timing of the event's time (its ``event_id`` is empty)."""
    ts = event.timestamp
    try:  # the key of _time_key, inlined: the study calls this once per event
        return _timing(ts, getattr(ts, "unit", None), event.date, event.session, exchange)
    except CalendarError as exc:
        exc.line = event.line  # the cache key leaves the line out; the error still names it
        raise


def _time_key(event: Event, exchange: str) -> tuple:
    """What an event's timing depends on. The timestamp's unit is part of it: equal
    timestamps of other resolutions must not share a result (the published and day-0
    values keep the event's resolution, and a table's dtype follows them)."""
    ts = event.timestamp
    return ts, getattr(ts, "unit", None), event.date, event.session, exchange


@lru_cache(maxsize=65536)
def _bar_time(exchange: str, session: pd.Timestamp, at: str) -> pd.Timestamp:
    return _session_bound(exchange, session, at)


@lru_cache(maxsize=8)
def _schedule(exchange: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, object]:
    """The calendar's sessions, opens and closes as exchange_calendars keeps them (int64
    nanoseconds) and the time zone of its schedule."""
    cal = exchange_calendar(exchange)
    return cal.sessions_nanos, cal.opens_nanos, cal.closes_nanos, cal.schedule["open"].dt.tz


def _session_bound(exchange: str, session: pd.Timestamp, at: str) -> pd.Timestamp:
    """``session_open(session)`` (``at="open"``) or ``session_close(session)`` of the
    exchange's calendar, read from its arrays by position: the same Timestamp, about 25
    times faster than the calendar's own look-up (a universe study asks for a thousand)."""
    nanos, opens, closes, tz = _schedule(exchange)
    i = int(nanos.searchsorted(session.value))
    if i == len(nanos) or nanos[i] != session.value:  # not a session: the library's error
        cal = exchange_calendar(exchange)
        return cal.session_open(session) if at == "open" else cal.session_close(session)
    return pd.Timestamp((opens if at == "open" else closes)[i], tz=tz)


@lru_cache(maxsize=65536)
def _timing(timestamp, unit, date, session, exchange) -> EventTiming:
    """The calendar arithmetic of :func:`event_timing`, cached by the event's time (many
    events of a universe study share a date)."""
    # ``unit`` only keys the cache (see _time_key); errors get the event's line from
    # event_timing, so events on other lines share the entry too.
    event = Event("", "", "", None, (), timestamp=timestamp, date=date, session=session)
    cal = exchange_calendar(exchange)

    def open_at(day):
        return _session_bound(exchange, day, "open")

    if event.timestamp is not None:
        published = event.timestamp.tz_convert("UTC")
        local_date = published.tz_convert(cal.tz).normalize().tz_localize(None)
        _check_range(cal, local_date, event)
        if cal.is_session(local_date):
            open_, close = open_at(local_date), _session_bound(exchange, local_date, "close")
            if published < open_:
                return EventTiming(event.id, exchange, published, open_, local_date, "open")
            if published < close:
                return EventTiming(event.id, exchange, published, published, local_date, "close")
        day0 = cal.date_to_session(local_date, direction="next")
        if day0 == local_date:  # published after that session's close
            day0 = cal.next_session(local_date)
        return EventTiming(event.id, exchange, published, open_at(day0), day0, "open")

    date = pd.Timestamp(event.date)
    _check_range(cal, date, event)
    is_session = cal.is_session(date)
    if event.session == "during_session":
        if not is_session:
            raise CalendarError(f"'during_session' but {event.date} is not a {exchange} session",
                                line=event.line, field=f"event {event.id}.session")
        return EventTiming(event.id, exchange, None, open_at(date), date, "close")
    if event.session == "before_open" and is_session:
        return EventTiming(event.id, exchange, None, open_at(date), date, "open")
    # after_close, or before_open on a non-session day: the next session's open.
    day0 = cal.next_session(date) if is_session else cal.date_to_session(date, direction="next")
    return EventTiming(event.id, exchange, None, open_at(day0), day0, "open")


def _check_range(cal: xcals.ExchangeCalendar, date: pd.Timestamp, event: Event) -> None:
    nanos = cal.sessions_nanos  # the sessions' own array: first/last_session build Timestamps
    if not (nanos[0] <= date.value < nanos[-1]):
        raise CalendarError(f"date {date.date()} is outside the {cal.name} calendar "
                            f"({cal.first_session.date()} to {cal.last_session.date()})",
                            line=event.line, field=f"event {event.id}")


# each Links' exchange column, worked out once (the study's pairs and its audit table both
# ask): by identity, let go with the calendar that holds the links
_LINK_EXCHANGES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def link_exchanges(links: Links) -> np.ndarray:
    """The exchange of each link (:func:`exchange_for`), worked out once per distinct
    (ticker, listed exchange), and once per ``links`` (read-only, like its columns)."""
    known = _LINK_EXCHANGES.get(links)
    if known is not None:
        return known
    if not len(links):
        return np.empty(0, dtype=object)
    # use_na_sentinel=False: a missing value is a value of its own, never code -1 (which
    # would read a neighbour's name)
    t_codes, t_names = pd.factorize(links.ticker, use_na_sentinel=False)
    l_codes, l_names = pd.factorize(np.array([x or "" for x in links.listed], dtype=object),
                                    use_na_sentinel=False)
    keys, codes = np.unique(t_codes * len(l_names) + l_codes, return_inverse=True)
    exchanges = np.array([exchange_for(t_names[k // len(l_names)], l_names[k % len(l_names)])
                          for k in keys], dtype=object)
    out = exchanges[codes]
    out.flags.writeable = False
    _LINK_EXCHANGES[links] = out
    return out


def time_codes(calendar: Calendar) -> np.ndarray:
    """Each event's time code: events with equal codes have equal times (the key of
    :func:`_time_key` without the exchange), codes in order of first appearance
    (:attr:`Calendar.time_codes <events.model.Calendar.time_codes>`, read-only)."""
    return calendar.time_codes


def timing_table(calendar: Calendar) -> pd.DataFrame:
    """The audit table: one row per (event, ticker) with the ticker's exchange, the
    published time (UTC and exchange-local), when the news became tradable, day 0
    and the first fill (bar and time)."""
    links = calendar.links
    if not len(links):
        return pd.DataFrame([])
    # Many rows share a time and an exchange (a universe study: thousands of events a
    # day), so the timing columns are worked out once per distinct (time, exchange), in a
    # small frame, and repeated by position; only ids, tickers and texts are per row.
    exchange = link_exchanges(links)
    ex_codes, ex_names = pd.factorize(exchange, use_na_sentinel=False)
    times = time_codes(calendar)
    key = times[links.event] * len(ex_names) + ex_codes
    distinct, first, row_code = np.unique(key, return_index=True, return_inverse=True)
    # in row order: the first row of a time raises any error, as a row-by-row loop would
    order = np.argsort(first, kind="stable")
    timings = [None] * len(distinct)
    events = calendar.events
    for k in order:
        row = first[k]
        timings[k] = _timing_columns(event_timing(events[links.event[row]], exchange[row]))
    # built from rows, like a frame of row dicts, so every column infers the same dtype;
    # an event's columns from its events' values, repeated per row (no object per row)
    used, at = np.unique(links.event, return_inverse=True)
    chosen = [events[i] for i in used]
    shared = pd.DataFrame(timings, columns=_TIMING_COLUMNS)
    table = pd.concat([pd.DataFrame({
        "event_id": pd.Series([e.id for e in chosen]).take(at).reset_index(drop=True),
        "ticker": pd.Series(links.ticker), "exchange": pd.Series(exchange),
        "published": pd.Series(_time_texts(chosen, times[used])).take(at)
                                                                .reset_index(drop=True)}),
        shared.take(row_code).reset_index(drop=True)], axis=1)
    return table[_TABLE_COLUMNS]


def _time_texts(events: list[Event], codes: np.ndarray) -> np.ndarray:
    """Each event's ``time_text``: once per distinct time for date + session events (their
    text is their time), per event for timestamps (the text keeps the event's own zone,
    which the time code leaves out)."""
    out = np.empty(len(events), dtype=object)
    dated = np.array([e.timestamp is None for e in events], dtype=bool)
    if dated.any():
        rows = np.flatnonzero(dated)
        _, first, inverse = np.unique(codes[rows], return_index=True, return_inverse=True)
        out[rows] = np.array([events[rows[i]].time_text for i in first],
                             dtype=object)[inverse.ravel()]
    out[~dated] = [events[i].time_text for i in np.flatnonzero(~dated)]
    return out


_TIMING_COLUMNS = ["published_utc", "published_local", "available_utc", "day0", "first_fill",
                   "first_fill_utc"]
_TABLE_COLUMNS = ["event_id", "ticker", "exchange", "published", "published_utc",
                  "published_local", "available_utc", "day0", "first_fill", "first_fill_utc"]


def _timing_columns(t: EventTiming) -> tuple:
    """One timing's values of the table columns ``_TIMING_COLUMNS``."""
    tz = exchange_calendar(t.exchange).tz
    return (t.published if t.published is not None else pd.NaT,
            (t.published.tz_convert(tz).tz_localize(None) if t.published is not None
             else pd.NaT),
            t.available, t.day0, t.first_fill, t.first_fill_time)
