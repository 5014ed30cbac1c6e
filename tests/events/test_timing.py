"""When news becomes tradable: day 0 and the first fill on the NYSE calendar.

Every expected date below is worked out by hand from the NYSE's published
schedule (regular session 09:30-16:00 America/New_York; EST = UTC-5, EDT =
UTC-4, US DST in 2025 from 9 March to 2 November; early close 13:00 on the
day after Thanksgiving; closed on Good Friday and on 2025-01-09, the national
day of mourning for President Carter), never by asking the code under test.
Tokyo (XTKS) cases use the JPX schedule: sessions 09:00-11:30 and 12:30-15:30 JST
(UTC+9, no DST); 2026 holidays around Golden Week: 29 April (Showa Day), 3-6 May.
"""

from __future__ import annotations

import pandas as pd
import pytest

from events import (
    InputError,
    bundled_calendar_path,
    event_timing,
    load_calendar,
    parse_calendar,
    timing_table,
)
from events.timing import exchange_for


def _event(**time) -> dict:
    """One valid event dict; ``time`` is either timestamp=... or date=..., session=...."""
    return {
        "id": "e",
        "headline": "Something happened",
        "source": "Test",
        "sentiment": {"label": "bearish", "score": 65},
        "tickers": [{"ticker": "ORCL", "role": "partner", "direction": "down"}],
        **time,
    }


def timing_of(**time):
    """Build one event through parse_calendar and return its EventTiming."""
    calendar = parse_calendar({"events": [_event(**time)]})
    return event_timing(calendar.events[0])


def day(text: str) -> pd.Timestamp:
    """A session label as the timing module uses it: midnight, tz-naive."""
    return pd.Timestamp(text)


# --- timestamped news -----------------------------------------------------------------------

def test_during_session_trades_at_that_close():
    """15:36 UTC on Tue 2026-04-28 is 11:36 EDT, inside the session: day 0 that day, close."""
    t = timing_of(timestamp="2026-04-28T15:36:00Z")
    assert t.day0 == day("2026-04-28")
    assert t.first_fill == "close"
    assert t.published == pd.Timestamp("2026-04-28 15:36", tz="UTC")
    assert t.available == t.published  # tradable the moment it is published


def test_after_close_trades_at_next_open():
    """21:30 UTC on Tue 2025-01-21 is 16:30 EST, after the close: Wed 2025-01-22, open."""
    t = timing_of(timestamp="2025-01-21T21:30:00Z")
    assert (t.day0, t.first_fill) == (day("2025-01-22"), "open")
    assert t.available == pd.Timestamp("2025-01-22 14:30", tz="UTC")  # 09:30 EST


def test_exactly_at_the_close_is_after_the_close():
    """21:00 UTC on 2025-01-21 is 16:00 EST: the close has printed, so the next open."""
    t = timing_of(timestamp="2025-01-21T21:00:00Z")
    assert (t.day0, t.first_fill) == (day("2025-01-22"), "open")


def test_before_open_trades_at_that_open():
    """12:00 UTC on Mon 2025-10-06 is 08:00 EDT, before the open: same day, open."""
    t = timing_of(timestamp="2025-10-06T12:00:00Z")
    assert (t.day0, t.first_fill) == (day("2025-10-06"), "open")
    assert t.first_fill_time == pd.Timestamp("2025-10-06 13:30", tz="UTC")  # 09:30 EDT


def test_dst_is_respected_the_day_after_the_switch():
    """13:45 UTC on Mon 2025-03-10 is 09:45 EDT (DST began 03-09): in session, close.

    Under EST it would wrongly read 08:45, before the open.
    """
    t = timing_of(timestamp="2025-03-10T13:45:00Z")
    assert (t.day0, t.first_fill) == (day("2025-03-10"), "close")


def test_weekend_news_trades_at_monday_open():
    """News on Saturday 2025-01-25 becomes tradable at Monday 2025-01-27's open."""
    t = timing_of(timestamp="2025-01-25T15:00:00Z")
    assert (t.day0, t.first_fill) == (day("2025-01-27"), "open")


def test_sunday_evening_news_trades_at_monday_open():
    """23:00 UTC Sun 2025-01-26 (18:00 EST Sunday) -> Mon 2025-01-27 open, not Tuesday."""
    t = timing_of(timestamp="2025-01-26T23:00:00Z")
    assert (t.day0, t.first_fill) == (day("2025-01-27"), "open")


@pytest.mark.parametrize("stamp, expected", [
    ("2026-04-03T15:00:00Z", "2026-04-06"),  # Good Friday 2026 (Easter is 5 April) -> Monday
    ("2025-01-09T16:00:00Z", "2025-01-10"),  # Thu, national day of mourning -> Friday
    ("2025-12-25T15:00:00Z", "2025-12-26"),  # Christmas (Thursday) -> Friday
    ("2025-01-08T22:00:00Z", "2025-01-10"),  # Wed after close -> skip closed Thu -> Friday
])
def test_holiday_news_trades_at_next_session_open(stamp, expected):
    """News on an exchange holiday (or just before one) opens on the next real session."""
    t = timing_of(timestamp=stamp)
    assert (t.day0, t.first_fill) == (day(expected), "open")


def test_half_day_after_the_early_close_rolls_to_next_session():
    """Fri 2025-11-28 closes at 13:00 EST = 18:00 UTC; news at 18:30 UTC -> Mon 12-01 open."""
    t = timing_of(timestamp="2025-11-28T18:30:00Z")
    assert (t.day0, t.first_fill) == (day("2025-12-01"), "open")


def test_half_day_before_the_early_close_fills_at_that_close():
    """News at 17:00 UTC (12:00 EST) on the 2025-11-28 half day fills at its 13:00 close."""
    t = timing_of(timestamp="2025-11-28T17:00:00Z")
    assert (t.day0, t.first_fill) == (day("2025-11-28"), "close")
    assert t.first_fill_time == pd.Timestamp("2025-11-28 18:00", tz="UTC")


@pytest.mark.parametrize("stamp, expected_day0, expected_fill", [
    # Tokyo 00:30 Tue 03-11 = 15:30 UTC Mon 03-10 = 11:30 EDT Monday: in session
    ("2025-03-11T00:30:00+09:00", "2025-03-10", "close"),
    # Tokyo 06:00 Tue 03-11 = 21:00 UTC Mon = 17:00 EDT Monday: after close -> Tuesday
    ("2025-03-11T06:00:00+09:00", "2025-03-11", "open"),
    # Tokyo 23:00 Fri 01-24 = 14:00 UTC Fri = 09:00 EST: before the open, same Friday
    ("2025-01-24T23:00:00+09:00", "2025-01-24", "open"),
    # PDT 06:15 Tue 07-15 = 13:15 UTC = 09:15 EDT: before the open
    ("2025-07-15T06:15:00-07:00", "2025-07-15", "open"),
    # PDT 06:45 Tue 07-15 = 13:45 UTC = 09:45 EDT: in session
    ("2025-07-15T06:45:00-07:00", "2025-07-15", "close"),
    # PDT 13:30 Tue 07-15 = 20:30 UTC = 16:30 EDT: after the close -> Wednesday
    ("2025-07-15T13:30:00-07:00", "2025-07-16", "open"),
    # -07:00 21:00 Fri 01-24 = 04:00 UTC Sat = 23:00 EST Friday -> Monday
    ("2025-01-24T21:00:00-07:00", "2025-01-27", "open"),
])
def test_other_timezones(stamp, expected_day0, expected_fill):
    """Offsets other than UTC are converted to New York time before the rules apply."""
    t = timing_of(timestamp=stamp)
    assert (t.day0, t.first_fill) == (day(expected_day0), expected_fill)
    assert t.published == pd.Timestamp(stamp).tz_convert("UTC")


# --- date + session flags -------------------------------------------------------------------

@pytest.mark.parametrize("date, session, expected_day0, expected_fill", [
    ("2025-10-06", "before_open", "2025-10-06", "open"),     # Monday
    ("2025-09-22", "during_session", "2025-09-22", "close"),  # Monday
    ("2025-01-21", "after_close", "2025-01-22", "open"),     # Tue -> Wed
    ("2025-01-24", "after_close", "2025-01-27", "open"),     # Fri -> Mon
    ("2026-04-02", "after_close", "2026-04-06", "open"),     # Thu before Good Friday -> Mon
    ("2025-01-25", "before_open", "2025-01-27", "open"),     # Saturday -> Mon
    ("2025-01-09", "before_open", "2025-01-10", "open"),     # closed Thursday -> Fri
    ("2025-01-09", "after_close", "2025-01-10", "open"),     # closed Thursday -> Fri
    ("2025-11-28", "during_session", "2025-11-28", "close"),  # half day still a session
])
def test_date_and_session_flags(date, session, expected_day0, expected_fill):
    """Events known only by date and session flag follow the same table as timestamps."""
    t = timing_of(date=date, session=session)
    assert (t.day0, t.first_fill) == (day(expected_day0), expected_fill)
    assert t.published is None


def test_during_session_flag_is_available_from_the_open():
    """A during-session flag without a minute is available from that session's open."""
    t = timing_of(date="2025-09-22", session="during_session")
    assert t.available == pd.Timestamp("2025-09-22 13:30", tz="UTC")  # 09:30 EDT


@pytest.mark.parametrize("date", ["2025-01-25", "2026-04-03", "2025-01-09"])
def test_during_session_on_a_non_session_day_is_refused(date):
    """'during_session' on a Saturday or a holiday is contradictory input: InputError."""
    with pytest.raises(InputError, match="during_session"):
        timing_of(date=date, session="during_session")


# --- the bundled calendar -------------------------------------------------------------------

BUNDLED_DAY0 = {
    "stargate-2025-01-21": ("2025-01-22", "open"),        # Tue after close -> Wed
    "deepseek-r1-2025-01-27": ("2025-01-27", "open"),     # Mon before open
    "oracle-rpo-2025-09-09": ("2025-09-10", "open"),      # Tue after close -> Wed
    "nvidia-invests-2025-09-22": ("2025-09-22", "close"),  # Mon during session
    "amd-openai-2025-10-06": ("2025-10-06", "open"),      # Mon before open
    "broadcom-openai-2025-10-13": ("2025-10-13", "open"),  # Columbus Day: NYSE is open
    "aws-openai-2025-11-03": ("2025-11-03", "open"),      # Mon before open
    "oracle-q2-2025-12-10": ("2025-12-11", "open"),       # Wed after close -> Thu
    "openai-miss-2026-04-28": ("2026-04-28", "close"),    # 15:36 UTC = 11:36 EDT
}


def test_bundled_calendar_day0_per_event():
    """Each of the 9 bundled events maps to its hand-derived day 0 and first fill."""
    calendar = load_calendar(bundled_calendar_path("openai"))
    got = {e.id: (str(event_timing(e).day0.date()), event_timing(e).first_fill)
           for e in calendar}
    assert got == BUNDLED_DAY0


# Tickers per bundled event, in file order (counted in events/calendars/openai.yaml).
BUNDLED_TICKERS = {
    "stargate-2025-01-21": ["ORCL", "ARM", "NVDA", "MSFT"],
    "deepseek-r1-2025-01-27": ["NVDA", "ORCL", "AVGO", "TSM", "MU", "VRT", "CEG", "VST", "SMH"],
    "oracle-rpo-2025-09-09": ["ORCL", "CRWV", "NVDA", "AMD"],
    "nvidia-invests-2025-09-22": ["NVDA", "ORCL"],
    "amd-openai-2025-10-06": ["AMD", "NVDA"],
    "broadcom-openai-2025-10-13": ["AVGO"],
    "aws-openai-2025-11-03": ["AMZN"],
    "oracle-q2-2025-12-10": ["ORCL", "CRWV", "NVDA"],
    "openai-miss-2026-04-28": ["ORCL", "CRWV", "MSFT", "NVDA", "AMD", "AVGO", "GOOGL"],
}

TIMING_COLUMNS = ["event_id", "ticker", "exchange", "published", "published_utc",
                  "published_local", "available_utc", "day0", "first_fill", "first_fill_utc"]


def test_timing_table_of_bundled_calendar():
    """timing_table has one row per (event, ticker), in file order: 4+9+4+2+2+1+1+3+7 = 33
    rows, all on XNYS (no suffixes), each with its event's hand-derived day 0 and fill."""
    calendar = load_calendar(bundled_calendar_path("openai"))
    table = timing_table(calendar)
    assert list(table.columns) == TIMING_COLUMNS
    assert len(table) == 33
    expected_pairs = [(e, t) for e, tickers in BUNDLED_TICKERS.items() for t in tickers]
    assert list(zip(table["event_id"], table["ticker"])) == expected_pairs
    assert set(table["exchange"]) == {"XNYS"}
    per_pair_day0 = [day(BUNDLED_DAY0[e][0]) for e, _ in expected_pairs]
    assert list(table["day0"]) == per_pair_day0
    assert list(table["first_fill"]) == [BUNDLED_DAY0[e][1] for e, _ in expected_pairs]

    miss = table[table["event_id"] == "openai-miss-2026-04-28"]
    assert len(miss) == 7
    for _, row in miss.iterrows():  # every ticker of the event shares its timing on XNYS
        assert row["published"] == "2026-04-28T15:36:00+00:00"
        assert row["published_utc"] == pd.Timestamp("2026-04-28 15:36", tz="UTC")
        # exchange-local wall time (New York, EDT = UTC-4), without a zone
        assert row["published_local"] == pd.Timestamp("2026-04-28 11:36")
        assert row["available_utc"] == pd.Timestamp("2026-04-28 15:36", tz="UTC")
        assert row["first_fill_utc"] == pd.Timestamp("2026-04-28 20:00", tz="UTC")  # 16:00 EDT

    stargate = table[(table["event_id"] == "stargate-2025-01-21") & (table["ticker"] == "ARM")]
    assert len(stargate) == 1
    stargate = stargate.iloc[0]
    assert stargate["published"] == "2025-01-21 after_close"
    assert pd.isna(stargate["published_utc"]) and pd.isna(stargate["published_local"])
    assert stargate["first_fill_utc"] == pd.Timestamp("2025-01-22 14:30", tz="UTC")  # 09:30 EST
    nvidia = table[table["event_id"] == "nvidia-invests-2025-09-22"].iloc[0]
    # during-session flag: available from the open, fills at the close (09:30 / 16:00 EDT)
    assert nvidia["available_utc"] == pd.Timestamp("2025-09-22 13:30", tz="UTC")
    assert nvidia["first_fill_utc"] == pd.Timestamp("2025-09-22 20:00", tz="UTC")


# --- other exchanges ------------------------------------------------------------------------

@pytest.mark.parametrize("ticker, exchange", [
    ("9984.T", "XTKS"),   # SoftBank Group, Tokyo
    ("VOD.L", "XLON"),    # Vodafone, London
    ("ORCL", "XNYS"),     # no suffix: New York
    ("BRK.B", "XNYS"),    # a share-class dot is not an exchange suffix
    ("0700.HK", "XHKG"),  # Tencent, Hong Kong
    ("9984.t", "XTKS"),   # suffix case does not matter
])
def test_exchange_for_suffixes(ticker, exchange):
    """Yahoo suffixes map to exchange_calendars codes; no suffix means XNYS."""
    assert exchange_for(ticker) == exchange


def test_exchange_for_explicit_wins():
    """An explicit exchange overrides whatever the suffix says."""
    assert exchange_for("ORCL", "XTKS") == "XTKS"
    assert exchange_for("9984.T", "XNYS") == "XNYS"


def _calendar_yaml(tmp_path, tickers_yaml: str, time_yaml: str = "timestamp: 2026-04-28T15:36:00Z"):
    path = tmp_path / "cal.yaml"
    path.write_text(
        "name: tokyo\n"
        "events:\n"
        "  - id: miss\n"
        f"    {time_yaml}\n"
        "    headline: Report says OpenAI missed its targets\n"
        "    source: Test\n"
        "    sentiment: {label: bearish, score: 65}\n"
        "    tickers:\n"
        f"{tickers_yaml}")
    return path


def test_tokyo_ticker_gets_the_tokyo_day0_on_showa_day(tmp_path):
    """15:36 UTC Tue 2026-04-28 is 11:36 EDT in New York (in session: that day's close) but
    00:36 JST Wed 2026-04-29 in Tokyo. 29 April is Showa Day, a JPX holiday, so the next
    Tokyo session is Thu 2026-04-30 (30 April and 1 May are ordinary business days; the
    Golden Week closures are 29 April and 3-6 May 2026). The news is tradable at its open,
    09:00 JST = 00:00 UTC on 2026-04-30."""
    path = _calendar_yaml(
        tmp_path,
        "      - {ticker: ORCL, role: partner, direction: down}\n"
        "      - {ticker: 9984.T, role: partner, direction: down}\n")
    table = timing_table(load_calendar(path)).set_index("ticker")
    assert list(table.index) == ["ORCL", "9984.T"]
    tokyo = table.loc["9984.T"]
    assert tokyo["exchange"] == "XTKS"
    assert tokyo["day0"] == day("2026-04-30")
    assert tokyo["first_fill"] == "open"
    assert tokyo["published_local"] == pd.Timestamp("2026-04-29 00:36")  # JST wall time
    assert tokyo["available_utc"] == pd.Timestamp("2026-04-30 00:00", tz="UTC")
    assert tokyo["first_fill_utc"] == pd.Timestamp("2026-04-30 00:00", tz="UTC")
    ny = table.loc["ORCL"]
    assert (ny["exchange"], ny["day0"], ny["first_fill"]) == ("XNYS", day("2026-04-28"),
                                                              "close")


def test_tokyo_news_during_the_tokyo_session_fills_at_its_close(tmp_path):
    """02:00 UTC Thu 2026-04-30 is 11:00 JST, inside the morning session: day 0 that day,
    filled at the 15:30 JST close = 06:30 UTC. (In New York it is 22:00 EDT on the 29th,
    after the close: Thursday's open.)"""
    path = _calendar_yaml(
        tmp_path,
        "      - {ticker: ORCL, role: partner, direction: down}\n"
        "      - {ticker: 9984.T, role: partner, direction: down}\n",
        "timestamp: 2026-04-30T02:00:00Z")
    table = timing_table(load_calendar(path)).set_index("ticker")
    tokyo = table.loc["9984.T"]
    assert (tokyo["day0"], tokyo["first_fill"]) == (day("2026-04-30"), "close")
    assert tokyo["first_fill_utc"] == pd.Timestamp("2026-04-30 06:30", tz="UTC")
    ny = table.loc["ORCL"]
    assert (ny["day0"], ny["first_fill"]) == (day("2026-04-30"), "open")


def test_explicit_exchange_in_calendar_overrides_the_suffix(tmp_path):
    """`exchange: XTKS` on a ticker without a suffix (and in lower case) puts it on Tokyo."""
    path = _calendar_yaml(
        tmp_path,
        "      - {ticker: SFTBY, role: partner, direction: down, exchange: xtks}\n"
        "      - {ticker: SFTBF, role: partner, direction: down}\n")
    calendar = load_calendar(path)
    assert calendar.events[0].tickers[0].exchange == "XTKS"
    table = timing_table(calendar).set_index("ticker")
    assert table.loc["SFTBY", "exchange"] == "XTKS"
    assert (table.loc["SFTBY", "day0"], table.loc["SFTBY", "first_fill"]) == (
        day("2026-04-30"), "open")
    assert table.loc["SFTBF", "exchange"] == "XNYS"  # same event, no override
    assert table.loc["SFTBF", "day0"] == day("2026-04-28")


def test_unknown_exchange_is_refused_with_a_hint(tmp_path):
    """A misspelt exchange code is refused at its line with the closest real code."""
    path = _calendar_yaml(
        tmp_path,
        "      - {ticker: ORCL, role: partner, direction: down}\n"
        "      - {ticker: 9984.T, role: partner, direction: down, exchange: XTKY}\n")
    with pytest.raises(InputError) as info:
        load_calendar(path)
    message = str(info.value)
    # line 10: name, events, id, timestamp, headline, source, sentiment, tickers, ORCL, 9984.T
    assert message.startswith(f"{path}:10: events[0].tickers[1].exchange: "), message
    assert "unknown exchange 'XTKY'" in message
    assert "did you mean 'XTKS'?" in message


def test_roll_non_sessions_moves_a_holiday_during_session_event_to_the_next_open():
    """With roll_non_sessions, Good Friday 2026-04-03 'during_session' trades Monday 2026-04-06's open."""
    from events import parse_calendar

    cal = parse_calendar({"events": [_event(date="2026-04-03", session="during_session")]},
                         roll_non_sessions=True)
    t = event_timing(cal.events[0])
    assert (t.day0, t.first_fill) == (day("2026-04-06"), "open")


def test_the_columnar_links_and_exchanges_match_a_loop_over_every_link():
    """Calendar.links and link_exchanges against the obvious loop: random tickers with and
    without suffixes and explicit exchanges (several per ticker), empty events between;
    the audit table row by row against event_timing of that event and exchange."""
    import random

    from events.model import Calendar, Event, LinkedTicker, Sentiment
    from events.timing import event_timing, link_exchanges

    rnd = random.Random(7)
    names = ["ORCL", "9984.T", "SAP.DE", "SFTBY", "NVDA", "0700.HK"]
    events = []
    for i in range(60):
        links = tuple(LinkedTicker(rnd.choice(names), "partner", rnd.choice(["up", "down"]),
                                   exchange=rnd.choice([None, None, "XTKS", "XNYS"]))
                      for _ in range(rnd.randrange(0, 4)))
        when = (pd.Timestamp("2025-03-03 14:00", tz="UTC")
                + pd.Timedelta(hours=rnd.randrange(0, 200)))
        events.append(Event(f"E{i}", "h", "s", Sentiment("bearish", 50), links, timestamp=when))
    cal = Calendar("random", tuple(events))
    flat = [(k, lt) for k, e in enumerate(events) for lt in e.tickers]
    assert cal.links.event.tolist() == [k for k, _ in flat]
    assert cal.links.ticker.tolist() == [lt.ticker for _, lt in flat]
    assert cal.links.listed.tolist() == [lt.exchange for _, lt in flat]
    assert link_exchanges(cal.links).tolist() == [exchange_for(lt.ticker, lt.exchange)
                                                  for _, lt in flat]
    table = timing_table(cal)
    assert len(table) == len(flat)
    for (k, lt), row in zip(flat, table.itertuples()):
        t = event_timing(events[k], exchange_for(lt.ticker, lt.exchange))
        assert (row.event_id, row.ticker, row.exchange) == (events[k].id, lt.ticker, t.exchange)
        assert (row.day0, row.first_fill, row.available_utc) == (t.day0, t.first_fill,
                                                                 t.available)


def test_a_missing_exchange_value_never_takes_a_neighbours_exchange():
    """An exchange given as NaN (possible from the Python API, never from a calendar file)
    is a value of its own, as exchange_for gives it, not the exchange of the next key; the
    cached link columns are read-only."""
    import numpy as np

    from events.model import Calendar, Event, LinkedTicker, Sentiment
    from events.timing import link_exchanges

    links = (LinkedTicker("ORCL", "partner", "down", exchange=np.nan),
             LinkedTicker("SONY", "partner", "down", exchange="XTKS"),
             LinkedTicker("NVDA", "partner", "down"))
    cal = Calendar("c", (Event("E", "h", "s", Sentiment("bearish", 50), links,
                               timestamp=pd.Timestamp("2025-03-03 15:00", tz="UTC")),))
    got = link_exchanges(cal.links).tolist()
    assert got[1:] == ["XTKS", "XNYS"] and got[0] is not None and got[0] != got[0]  # NaN
    with pytest.raises(ValueError, match="read-only"):
        cal.links.ticker[0] = "X"


def test_link_exchanges_are_worked_out_once_per_links_and_never_for_other_links():
    """The study and its audit table share one exchange column per calendar (the same
    read-only array); another calendar's links, with the same tickers on other
    exchanges, get their own, also once the first calendar is gone."""
    import gc

    from events.model import Calendar, Event, LinkedTicker, Sentiment
    from events.timing import link_exchanges

    def calendar(exchange):
        links = (LinkedTicker("SONY", "partner", "down", exchange=exchange),
                 LinkedTicker("9984.T", "partner", "down"))
        return Calendar("c", (Event("E", "h", "s", Sentiment("bearish", 50), links,
                                    timestamp=pd.Timestamp("2025-03-03 15:00", tz="UTC")),))

    first = calendar("XTKS")
    got = link_exchanges(first.links)
    assert link_exchanges(first.links) is got
    assert got.tolist() == ["XTKS", "XTKS"]
    with pytest.raises(ValueError, match="read-only"):
        got[0] = "XNYS"
    assert timing_table(first)["exchange"].tolist() == ["XTKS", "XTKS"]
    assert link_exchanges(calendar(None).links).tolist() == ["XNYS", "XTKS"]
    del first, got
    gc.collect()
    for _ in range(3):  # a new Links may reuse a freed one's address: never its exchanges
        assert link_exchanges(calendar("XLON").links).tolist() == ["XLON", "XTKS"]
