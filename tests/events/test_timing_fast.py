"""The cached, column-built ``timing_table`` gives exactly the table of the original.

``_reference_*`` below copy :mod:`events.timing` before it was sped up: the per-event
calendar arithmetic (here uncached, so each row is worked out on its own) and the
per-row dict table. Random calendars mix timestamped news in several time zones and
resolutions (at, before, during and after sessions, on weekends and holidays) with
date + session events, and tickers on New York, Tokyo, London and Hong Kong (by suffix
or explicit); both must give the same frame, dtypes included, and the same errors.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from events import InputError
from events.model import Calendar, Event, LinkedTicker, Sentiment
from events.timing import (
    EventTiming,
    distinct_day0,
    event_day0,
    event_timing,
    exchange_calendar,
    exchange_for,
    timing_table,
)

# --- slow reference: the module as it was before ----------------------------------------------


def _reference_timing(event, exchange="XNYS"):
    """The original ``event_timing`` (its ``_timing`` arithmetic, without the cache)."""
    line = event.line
    event_id = event.id
    event = Event("", "", "", None, (), timestamp=event.timestamp, date=event.date,
                  session=event.session, line=line)
    cal = exchange_calendar(exchange)

    def timing(*args):
        return EventTiming(event_id, exchange, *args)

    if event.timestamp is not None:
        published = event.timestamp.tz_convert("UTC")
        local_date = published.tz_convert(cal.tz).normalize().tz_localize(None)
        _reference_check_range(cal, local_date, event)
        if cal.is_session(local_date):
            open_, close = cal.session_open(local_date), cal.session_close(local_date)
            if published < open_:
                return timing(published, open_, local_date, "open")
            if published < close:
                return timing(published, published, local_date, "close")
        day0 = cal.date_to_session(local_date, direction="next")
        if day0 == local_date:
            day0 = cal.next_session(local_date)
        return timing(published, cal.session_open(day0), day0, "open")

    date = pd.Timestamp(event.date)
    _reference_check_range(cal, date, event)
    is_session = cal.is_session(date)
    if event.session == "during_session":
        if not is_session:
            raise InputError(f"'during_session' but {event.date} is not a {exchange} session",
                             line=event.line, field=f"event {event.id}.session")
        return timing(None, cal.session_open(date), date, "close")
    if event.session == "before_open" and is_session:
        return timing(None, cal.session_open(date), date, "open")
    day0 = cal.next_session(date) if is_session else cal.date_to_session(date, direction="next")
    return timing(None, cal.session_open(day0), day0, "open")


def _reference_check_range(cal, date, event):
    if not (cal.first_session <= date < cal.last_session):
        raise InputError(f"date {date.date()} is outside the {cal.name} calendar "
                         f"({cal.first_session.date()} to {cal.last_session.date()})",
                         line=event.line, field=f"event {event.id}")


def _reference_bar_time(exchange, session, at):
    cal = exchange_calendar(exchange)
    return cal.session_open(session) if at == "open" else cal.session_close(session)


def _reference_timing_table(calendar):
    rows = []
    for event in calendar:
        for link in event.tickers:
            exchange = exchange_for(link.ticker, link.exchange)
            t = _reference_timing(event, exchange)
            tz = exchange_calendar(exchange).tz
            rows.append({
                "event_id": t.event_id,
                "ticker": link.ticker,
                "exchange": exchange,
                "published": event.time_text,
                "published_utc": t.published if t.published is not None else pd.NaT,
                "published_local": (t.published.tz_convert(tz).tz_localize(None)
                                    if t.published is not None else pd.NaT),
                "available_utc": t.available,
                "day0": t.day0,
                "first_fill": t.first_fill,
                "first_fill_utc": _reference_bar_time(exchange, t.day0, t.first_fill),
            })
    return pd.DataFrame(rows)


# --- random calendars ---------------------------------------------------------------------------

SENTIMENT = Sentiment("bearish", 60)
LINKS = [LinkedTicker("ORCL", "partner", "down"), LinkedTicker("NVDA", "supplier", "up"),
         LinkedTicker("9984.T", "partner", "down"), LinkedTicker("VOD.L", "competitor", "up"),
         LinkedTicker("0700.HK", "partner", "down"),
         LinkedTicker("ORCL", "partner", "down", exchange="XTKS")]
ZONES = ["UTC", "America/New_York", "Asia/Tokyo", "Europe/London"]
# times of day (UTC) at and around the New York, Tokyo and London opens and closes
MINUTES = [0, 30, 13 * 60 + 30, 14 * 60 + 30, 15 * 60 + 36, 18 * 60, 20 * 60, 21 * 60,
           21 * 60 + 30, 23 * 60 + 59, 8 * 60, 16 * 60 + 30, 6 * 60 + 30]


def random_events(seed: int, n: int = 300) -> list[Event]:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-12-20", "2026-05-10", freq="D")
    # a handful of shared days and minutes, so that many events share a time
    days = days[rng.integers(0, len(days), 25)]
    events = []
    for i in range(n):
        day = days[rng.integers(len(days))]
        links = tuple(LINKS[k] for k in rng.choice(len(LINKS), rng.integers(0, 4),
                                                   replace=False))
        line = None if rng.random() < 0.5 else int(rng.integers(1, 50))
        if rng.random() < 0.6:
            minute = (MINUTES[rng.integers(len(MINUTES))] if rng.random() < 0.8
                      else int(rng.integers(0, 24 * 60)))
            ts = (day + pd.Timedelta(minutes=minute)).tz_localize("UTC")
            ts = ts.tz_convert(ZONES[rng.integers(len(ZONES))])
            ts = ts.as_unit(["s", "ms", "us", "ns"][rng.integers(4)])
            events.append(Event(f"e{i}", "h", "s", SENTIMENT, links, timestamp=ts, line=line))
        else:
            session = ["before_open", "during_session", "after_close"][rng.integers(3)]
            events.append(Event(f"e{i}", "h", "s", SENTIMENT, links, date=day.date(),
                                session=session, line=line))
    return events


def valid(events: list[Event]) -> list[Event]:
    """The events the reference maps for every linked exchange (drops e.g. a
    during-session flag on a holiday of one of its exchanges)."""
    out = []
    for event in events:
        try:
            for link in event.tickers:
                _reference_timing(event, exchange_for(link.ticker, link.exchange))
        except InputError:
            continue
        out.append(event)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_timing_table_matches_reference_on_random_calendars(seed):
    calendar = Calendar("random", tuple(valid(random_events(seed))))
    expected = _reference_timing_table(calendar)
    assert len(expected) > 200 and expected["published_utc"].isna().any()
    pd.testing.assert_frame_equal(timing_table(calendar), expected)
    pd.testing.assert_frame_equal(timing_table(calendar), expected)  # cached the second time


def _with_units(t: EventTiming) -> tuple:
    return tuple((v, getattr(v, "unit", None)) for v in vars(t).values())


@pytest.mark.parametrize("seed", range(3))
def test_event_timing_matches_reference_field_by_field(seed):
    for event in valid(random_events(seed, 150)):
        for link in event.tickers:
            exchange = exchange_for(link.ticker, link.exchange)
            got, expected = event_timing(event, exchange), _reference_timing(event, exchange)
            assert _with_units(got) == _with_units(expected)
            assert got.first_fill_time == _reference_bar_time(exchange, got.day0, got.first_fill)


def _one(when: dict, tickers=LINKS[:1], line=None, id_="x") -> Event:
    return Event(id_, "h", "s", SENTIMENT, tuple(tickers), line=line, **when)


def test_same_instant_in_other_resolutions_keeps_each_rows_resolution():
    """Equal timestamps of different units (and events of either) give the reference's
    dtypes: a cached result must not leak one event's resolution into another's row."""
    ts = pd.Timestamp("2025-01-21 21:30", tz="UTC")
    for units in (["s"], ["s", "ns"], ["ns", "s"], ["us", "ms"]):
        calendar = Calendar("u", tuple(_one({"timestamp": ts.as_unit(u)}, id_=u)
                                       for u in units))
        pd.testing.assert_frame_equal(timing_table(calendar), _reference_timing_table(calendar))


def test_empty_calendars_match_reference():
    for events in ((), (_one({"date": dt.date(2025, 1, 21), "session": "after_close"},
                             tickers=()),)):
        calendar = Calendar("empty", events)
        pd.testing.assert_frame_equal(timing_table(calendar), _reference_timing_table(calendar))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("exchange", ["XNYS", "XTKS"])
def test_distinct_day0_gives_each_events_day0(seed, exchange):
    """Day 0 worked out once per distinct time, read back per event, is each event's
    reference day 0, resolution included (equal instants of other units stay apart)."""
    events = []
    for event in random_events(seed, 200):
        try:
            _reference_timing(event, exchange)
        except InputError:  # e.g. a during-session flag on this exchange's holiday
            continue
        events.append(event)
    ts = pd.Timestamp("2025-01-21 21:30", tz="UTC")
    events += [_one({"timestamp": ts.as_unit(u)}, id_=u) for u in ("s", "ns")]
    day0s, code = distinct_day0(Calendar("c", tuple(events)), exchange)
    assert len(day0s) < len(events)  # shared times were worked out once
    for event, k in zip(events, code):
        want = _reference_timing(event, exchange).day0
        assert (day0s[k], day0s[k].unit) == (want, want.unit)


@pytest.mark.parametrize("seed", range(3))
def test_time_codes_equal_exactly_for_equal_times(seed):
    """Two events share a time code exactly when their timestamp (unit included) or date
    and session are equal, pair by pair; codes count up in order of first appearance; the
    calendar works them out once (day 0 and the audit table share them), read-only."""
    ts = pd.Timestamp("2025-01-21 21:30", tz="UTC")
    events = random_events(seed, 200) + [_one({"timestamp": ts.as_unit(u)}, id_=u)
                                         for u in ("s", "ns", "s")]
    calendar = Calendar("c", tuple(events))
    code = calendar.time_codes

    def key(e):
        return (e.timestamp, getattr(e.timestamp, "unit", None), e.date, e.session)

    for i, a in enumerate(events):
        for j, b in enumerate(events):
            assert (code[i] == code[j]) == (key(a) == key(b))
    firsts = [code[i] for i in range(len(events)) if code[i] not in code[:i]]
    assert firsts == list(range(len(firsts)))
    assert code[-3] != code[-2] and code[-3] == code[-1]  # same instant, other unit: apart
    assert calendar.time_codes is code and not code.flags.writeable


def test_distinct_day0_raises_for_the_first_bad_event_in_calendar_order():
    """Of two events whose times have no day 0, the one earlier in the calendar is named,
    with its own line (not the earlier date), although a good event comes first."""
    good = _one({"date": dt.date(2025, 1, 21), "session": "before_open"}, id_="ok", line=3)
    late = _one({"timestamp": pd.Timestamp("2199-01-02 15:00", tz="UTC")}, id_="late", line=9)
    sat = _one({"date": dt.date(2025, 1, 25), "session": "during_session"}, id_="sat", line=5)
    with pytest.raises(InputError) as got:
        distinct_day0(Calendar("c", (good, late, sat, late)))
    assert got.value.line == 9 and "outside the XNYS calendar" in str(got.value)


@pytest.mark.parametrize("bad", [
    {"date": dt.date(2025, 1, 25), "session": "during_session"},  # a Saturday
    {"date": dt.date(1990, 1, 2), "session": "before_open"},      # before the calendar
    {"timestamp": pd.Timestamp("2199-01-02 15:00", tz="UTC")},     # after it
])
def test_errors_match_reference(bad):
    """The first bad row raises the same error (message, line, field) as before, also
    after an event with the same time but another line was cached."""
    good = _one({"date": dt.date(2025, 1, 21), "session": "after_close"}, id_="ok")
    for line in (7, 8):
        calendar = Calendar("bad", (good, _one(bad, tickers=LINKS[:2], line=line, id_="b"),
                                    _one(bad, line=99)))
        with pytest.raises(InputError) as expected:
            _reference_timing_table(calendar)
        with pytest.raises(InputError) as got:
            timing_table(calendar)
        assert str(got.value) == str(expected.value)
        assert (got.value.line, got.value.field) == (expected.value.line, expected.value.field)
        assert got.value.line == line
        with pytest.raises(InputError) as got:
            event_timing(calendar.events[1])
        assert (str(got.value), got.value.line) == (str(expected.value), line)


@pytest.mark.parametrize("seed", range(3))
def test_event_day0_matches_reference(seed):
    """The study's day 0 of an event is the reference's, resolution included."""
    for event in valid(random_events(seed, 150)):
        for link in event.tickers:
            exchange = exchange_for(link.ticker, link.exchange)
            got, expected = event_day0(event, exchange), _reference_timing(event, exchange).day0
            assert (got, got.unit) == (expected, expected.unit)


@pytest.mark.parametrize("bad", [
    {"date": dt.date(2025, 1, 25), "session": "during_session"},  # a Saturday
    {"timestamp": pd.Timestamp("2199-01-02 15:00", tz="UTC")},     # after the calendar
])
def test_event_day0_errors_name_the_events_line(bad):
    """Each event's error names its own line, also when an event of the same time on
    another line raised (and was cached) first."""
    for line in (7, 8):
        event = _one(bad, line=line)
        with pytest.raises(InputError) as expected:
            _reference_timing(event)
        with pytest.raises(InputError) as got:
            event_day0(event)
        assert (str(got.value), got.value.line, got.value.field) == \
            (str(expected.value), line, expected.value.field)


@pytest.mark.parametrize("exchange", ["XNYS", "XTKS", "XLON", "XHKG"])
def test_session_bounds_by_position_equal_the_calendars_look_up(exchange):
    """Every session's open and close read from the calendar's arrays are its
    ``session_open``/``session_close`` (half days, lunch-break markets, other zones), the
    same Timestamp (value, unit, zone); a day that is no session gets the library's error."""
    from events.timing import _session_bound

    cal = exchange_calendar(exchange)
    sessions = cal.sessions[::7]  # a seventh of 2000-2026 and beyond: every weekday
    for day in list(sessions) + [cal.sessions[-1], cal.sessions[0]]:
        for at, want in (("open", cal.session_open(day)), ("close", cal.session_close(day))):
            for unit in ("s", "us", "ns"):
                got = _session_bound(exchange, day.as_unit(unit), at)
                assert (got, got.unit, got.tz) == (want, want.unit, want.tz)
    for day in (pd.Timestamp("2025-01-25"), cal.sessions[-1] + pd.Timedelta(days=400)):
        with pytest.raises(Exception) as want:  # a Saturday; after the last session
            cal.session_open(day)
        with pytest.raises(type(want.value)):
            _session_bound(exchange, day, "open")
