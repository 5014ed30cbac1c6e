"""Load an event calendar from YAML and refuse anything malformed.

The file is read by :func:`events.yamlio.read_yaml` (safe, bounded, no duplicate
or merge keys, with line numbers), so every refusal names the file, the line and
the field; every field is type-checked where it is read. Format::

    name: openai
    events:
      - id: openai-miss-2026-04-28
        timestamp: 2026-04-28T15:36:00+00:00    # tz-aware; or date + session:
        # date: 2025-01-21
        # session: after_close                  # before_open | during_session | after_close
        headline: Report says OpenAI missed its revenue and user-growth targets
        source: The Information
        sentiment: {label: bearish, score: 65}  # bearish | bullish | neutral, 0-100
        tickers:
          - {ticker: ORCL, role: partner, direction: down}
          - {chain: openai, role: partner, direction: down}  # every member of a chain

A chain link names a chain of the calendar's own ``chains:`` list (same format as
``events/chains/*.yaml``, :mod:`events.chains`), a chain file beside the calendar, or a
bundled chain; it links each member that belongs on the event's day 0 (with the
link's role and direction) and records the chain with those members' weights.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from pathlib import Path
from typing import Any

import pandas as pd

from events.chains import find_chain, parse_chain_section
from events.files import bundled_path, resolve
from events.errors import CalendarError, InputError
from events.yamlio import check_keys as _check_keys
from events.yamlio import choice as _choice
from events.yamlio import line_of as _line
from events.yamlio import read_yaml
from events.yamlio import require as _require
from events.yamlio import text as _text
from events.model import (
    DIRECTIONS,
    LABELS,
    PAIR_COLUMNS,
    ROLES,
    SESSIONS,
    Calendar,
    ChainLink,
    Event,
    LinkedTicker,
    Sentiment,
    check_ticker,
)
from events.timing import (DEFAULT_EXCHANGE, event_timing, exchange_calendar, exchange_for,
                           known_exchanges)

TOP_KEYS = {"name", "description", "chains", "events"}
EVENT_KEYS = {"id", "timestamp", "date", "session", "headline", "source", "sentiment", "tickers",
              "tags", "scorer"}
SENTIMENT_KEYS = {"label", "score"}
TICKER_KEYS = {"ticker", "role", "direction", "exchange"}
CHAIN_LINK_KEYS = {"chain", "role", "direction"}


def bundled_calendar_path(name: str = "openai") -> Path:
    """Path of a calendar shipped inside the package (``events/calendars/NAME.yaml``)."""
    return bundled_path("calendar", name)


def resolve_calendar(calendar: str | Path | Calendar | list, roll_non_sessions: bool = False
                     ) -> Calendar:
    """A Calendar as it is, or one loaded from a YAML path or a bundled name ("openai");
    a list of them is loaded and merged (:func:`merge_calendars`)."""
    if isinstance(calendar, Calendar):
        return calendar
    if isinstance(calendar, (list, tuple)):
        if len(calendar) == 1:
            return resolve_calendar(calendar[0], roll_non_sessions)
        return merge_calendars([resolve_calendar(c, roll_non_sessions) for c in calendar])
    return load_calendar(calendar, roll_non_sessions=roll_non_sessions)


def merge_calendars(calendars: list[Calendar]) -> Calendar:
    """One calendar of the events of several (named ``a+b``), in file order; an event id
    used twice is refused, naming both files and lines. Each event keeps its own file."""
    events, seen = [], {}
    for cal in calendars:
        for i, event in enumerate(cal):
            where = f"{event.path or cal.path}:{event.line}"
            if event.id in seen:
                raise CalendarError(f"event id {event.id!r} is also in {seen[event.id]}",
                                    path=event.path or cal.path, line=event.line,
                                    field=f"events[{i}].id")
            seen[event.id] = where
            events.append(event)
    return Calendar(name="+".join(c.name for c in calendars), events=tuple(events),
                    path=None)


def load_calendar(path: str | Path, roll_non_sessions: bool = False) -> Calendar:
    """Read and validate a YAML calendar (a path, or a bundled name such as ``"openai"``);
    raise :class:`CalendarError` on any problem.

    An event flagged ``during_session`` on a date that is not a session is
    refused; with ``roll_non_sessions`` it is rolled to the next session's open
    (as ``before_open`` of that session).
    """
    path = resolve(path, "calendar")
    doc = read_yaml(path, CalendarError, "YAML calendar")
    return parse_calendar(doc, path=str(path), default_name=path.stem,
                          roll_non_sessions=roll_non_sessions)


def parse_calendar(doc: Any, *, path: str = "<calendar>", default_name: str = "calendar",
                   roll_non_sessions: bool = False) -> Calendar:
    """Validate an already-parsed YAML document (a mapping with ``events``, or a list)."""
    if doc is None:
        raise CalendarError("empty calendar: no events", path=path)
    if isinstance(doc, list):
        doc = {"events": doc, "__line__": 1, "__lines__": {}}
    if not isinstance(doc, dict):
        raise CalendarError(f"expected a mapping with 'events' or a list of events, got "
                            f"{type(doc).__name__}", path=path, line=1)
    _check_keys(doc, TOP_KEYS, path, "")
    _text(doc, "description", path, "", required=False)
    items = doc.get("events")
    if not isinstance(items, list) or not items:
        raise CalendarError("empty calendar: 'events' must be a non-empty list", path=path,
                            line=_line(doc, "events"), field="events")
    defined = (parse_chain_section(doc["chains"], path, _line(doc, "chains"))
               if "chains" in doc.get("__lines__", {}) else {})
    base = Path(path).parent if not path.startswith("<") else None
    events, seen = [], {}
    for i, item in enumerate(items):
        event, refs = _parse_event(item, i, path)
        if event.id in seen:
            raise CalendarError(f"duplicate event id {event.id!r} (first on line {seen[event.id]})",
                                path=path, line=event.line, field=f"events[{i}].id")
        seen[event.id] = event.line
        event = _check_session(event, path, i, roll_non_sessions)
        if refs:  # after the session check: the members are those of day 0
            event = _link_chains(event, refs, defined, base, path, i)
        for link in event.tickers:  # the event must map to a session of each exchange
            try:
                event_timing(event, exchange_for(link.ticker, link.exchange))
            except InputError as exc:
                raise CalendarError(exc.reason, path=path, line=event.line,
                                    field=f"events[{i}]") from None
        events.append(event)
    name = _text(doc, "name", path, "", required=False) or default_name
    return Calendar(name=name, events=tuple(events), path=path)


def _check_session(event: Event, path: str, i: int, roll: bool) -> Event:
    """Refuse (or roll) a during-session event dated on a non-session day."""
    if event.session != "during_session":
        return event
    cal = exchange_calendar()
    day = pd.Timestamp(event.date)
    if not cal.first_session <= day < cal.last_session or cal.is_session(day):
        return event
    if not roll:
        raise CalendarError(f"{event.date} is not an XNYS session, so it cannot be 'during_session'; "
                            f"fix the date or session, or roll it with --roll-non-sessions",
                            path=path, line=event.line, field=f"events[{i}].date")
    nxt = cal.date_to_session(day, direction="next").date()
    return dataclasses.replace(event, date=nxt, session="before_open")


def _parse_event(item: Any, i: int, path: str) -> tuple[Event, list[tuple]]:
    where = f"events[{i}]"
    if not isinstance(item, dict):
        raise CalendarError(f"each event must be a mapping, got {type(item).__name__}",
                            path=path, field=where)
    _check_keys(item, EVENT_KEYS, path, f"{where}.")
    line = _line(item)
    event_id = _text(item, "id", path, where)
    headline = _text(item, "headline", path, where)
    source = _text(item, "source", path, where)
    timestamp, date, session = _parse_time(item, path, where)
    sentiment = _parse_sentiment(item, path, where)
    tickers, refs = _parse_tickers(item, path, where)
    tags = _parse_tags(item, path, where)
    scorer = item.get("scorer")
    if scorer is not None and not isinstance(scorer, str):
        raise CalendarError("must be text (the scorer's name and version)", path=path,
                            line=_line(item, "scorer"), field=f"{where}.scorer")
    return Event(id=event_id, headline=headline, source=source, sentiment=sentiment,
                 tickers=tickers, timestamp=timestamp, date=date, session=session, tags=tags,
                 scorer=scorer, line=line, path=path), refs


def _parse_tags(item: dict, path: str, where: str) -> dict[str, str]:
    """Optional user columns, ``tags: {sector: semis}``: usable as study groupings."""
    raw = item.get("tags")
    if raw is None:
        if "tags" in item.get("__lines__", {}):
            raise CalendarError("is empty: give tags as {name: value} or leave them out",
                                path=path, line=_line(item, "tags"), field=f"{where}.tags")
        return {}
    if not isinstance(raw, dict):
        raise CalendarError("must be a mapping of names to values", path=path,
                            line=_line(item, "tags"), field=f"{where}.tags")
    out = {}
    for key, value in raw.items():
        if key in ("__line__", "__lines__"):
            continue
        if key in PAIR_COLUMNS or not isinstance(key, str):
            why = "is a reserved column" if key in PAIR_COLUMNS else "name must be text"
            raise CalendarError(f"tag {key!r} {why}", path=path, line=_line(raw, key),
                                field=f"{where}.tags.{key}")
        if value is None or isinstance(value, (dict, list, bool)):
            kind = "null" if value is None else "a plain value (text or a number)"
            raise CalendarError(f"tag {key!r} must be {'set' if value is None else kind}"
                                + (", not null" if value is None else ""), path=path,
                                line=_line(raw, key), field=f"{where}.tags.{key}")
        out[str(key)] = str(value)
    return out


def _parse_time(item: dict, path: str, where: str):
    has_ts, has_date = item.get("timestamp") is not None, item.get("date") is not None
    if has_ts == has_date:
        raise CalendarError("give either 'timestamp' (with timezone) or 'date' plus 'session'",
                            path=path, line=_line(item), field=f"{where}.timestamp")
    if has_ts:
        raw = item["timestamp"]
        try:
            if not isinstance(raw, str):
                raise TypeError
            ts = pd.Timestamp(raw.strip())
        except (ValueError, TypeError, OverflowError):
            raise CalendarError(f"not a timestamp: {raw!r}", path=path,
                                line=_line(item, "timestamp"),
                                field=f"{where}.timestamp") from None
        if ts is pd.NaT or ts.tzinfo is None:
            raise CalendarError(f"timestamp needs a timezone (e.g. +00:00 or Z): {str(raw)!r}",
                                path=path, line=_line(item, "timestamp"),
                                field=f"{where}.timestamp")
        if "session" in item:
            raise CalendarError("'session' goes with 'date', not with 'timestamp'", path=path,
                                line=_line(item, "session"), field=f"{where}.session")
        return ts, None, None
    raw = item["date"]
    if isinstance(raw, dt.datetime) or not isinstance(raw, (dt.date, str)):
        raise CalendarError(f"'date' must be a plain date (YYYY-MM-DD), got {raw!r}", path=path,
                            line=_line(item, "date"), field=f"{where}.date")
    if isinstance(raw, str):
        try:
            raw = dt.date.fromisoformat(raw.strip())
        except ValueError:
            raise CalendarError(f"not a date (YYYY-MM-DD): {raw!r}", path=path,
                                line=_line(item, "date"), field=f"{where}.date") from None
    session = _choice(item, "session", SESSIONS, path, where)
    return None, raw, session


def _parse_sentiment(item: dict, path: str, where: str) -> Sentiment:
    raw = _require(item, "sentiment", path, where)
    if not isinstance(raw, dict):
        raise CalendarError("must be a mapping with 'label' and 'score'", path=path,
                            line=_line(item, "sentiment"), field=f"{where}.sentiment")
    sub = f"{where}.sentiment"
    _check_keys(raw, SENTIMENT_KEYS, path, f"{sub}.")
    label = _choice(raw, "label", LABELS, path, sub)
    score = _require(raw, "score", path, sub)
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 100:
        raise CalendarError(f"must be a number between 0 and 100, got {score!r}", path=path,
                            line=_line(raw, "score"), field=f"{sub}.score")
    return Sentiment(label=label, score=float(score))


def _parse_tickers(item: dict, path: str, where: str
                   ) -> tuple[tuple[LinkedTicker, ...], list[tuple]]:
    """The explicit links, and the chain links as (name, role, direction, line,
    field, position in the list) for :func:`_link_chains`."""
    raw = _require(item, "tickers", path, where)
    if not isinstance(raw, list) or not raw:
        raise CalendarError("must be a non-empty list of {ticker (or chain), role, direction}",
                            path=path,
                            line=_line(item, "tickers"), field=f"{where}.tickers")
    out, seen, refs = [], set(), []
    for j, entry in enumerate(raw):
        sub = f"{where}.tickers[{j}]"
        if not isinstance(entry, dict):
            raise CalendarError("must be a mapping {ticker, role, direction}", path=path,
                                line=_line(item, "tickers"), field=sub)
        if "chain" in entry.get("__lines__", {}):
            if "ticker" in entry.get("__lines__", {}):
                raise CalendarError("give either 'ticker' or 'chain' in one link, not both",
                                    path=path, line=_line(entry, "ticker"),
                                    field=f"{sub}.ticker")
            _check_keys(entry, CHAIN_LINK_KEYS, path, f"{sub}.")
            refs.append((_text(entry, "chain", path, sub),
                         _choice(entry, "role", ROLES, path, sub),
                         _choice(entry, "direction", DIRECTIONS, path, sub),
                         _line(entry, "chain"), f"{sub}.chain", j))
            continue
        _check_keys(entry, TICKER_KEYS, path, f"{sub}.")
        try:
            ticker = check_ticker(_text(entry, "ticker", path, sub))
        except ValueError as exc:
            raise CalendarError(str(exc), path=path, line=_line(entry, "ticker"),
                                field=f"{sub}.ticker") from None
        if ticker in seen:
            raise CalendarError(f"ticker {ticker} listed twice in one event", path=path,
                                line=_line(entry, "ticker"), field=f"{sub}.ticker")
        seen.add(ticker)
        role = _choice(entry, "role", ROLES, path, sub)
        direction = _choice(entry, "direction", DIRECTIONS, path, sub)
        exchange = _text(entry, "exchange", path, sub, required=False)
        if exchange is not None:
            exchange = exchange.upper()
            if exchange not in known_exchanges():
                close = difflib.get_close_matches(exchange, known_exchanges(), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise CalendarError(f"unknown exchange {exchange!r}{hint}", path=path,
                                    line=_line(entry, "exchange"), field=f"{sub}.exchange")
        out.append(LinkedTicker(ticker=ticker, role=role, direction=direction,
                                exchange=exchange, line=_line(entry, "ticker")))
    return tuple(out), refs


def _link_chains(event: Event, refs: list[tuple], defined: dict, base, path: str,
                 i: int) -> Event:
    """The event with each linked chain's members (those that belong on day 0, on XNYS)
    added to its tickers and the chains recorded with those members' weights."""
    try:
        day0 = event_timing(event, DEFAULT_EXCHANGE).day0.date()
    except InputError as exc:
        raise CalendarError(exc.reason, path=path, line=event.line,
                            field=f"events[{i}]") from None
    owner = {lt.ticker: f"line {lt.line}" for lt in event.tickers}
    at = {ref[5]: ref for ref in refs}
    explicit = iter(event.tickers)
    links, chains = [], []
    for j in range(len(event.tickers) + len(refs)):  # the members where the link stands
        if j not in at:
            links.append(next(explicit))
            continue
        name, role, direction, line, where, _ = at[j]
        chain = find_chain(name, defined, base, path, line, where)
        weights = chain.weights_on(day0)
        if not weights:
            raise CalendarError(f"chain {chain.name!r} has no members on {day0} (day 0 of "
                                f"this event)", path=path, line=line, field=where)
        for ticker in weights:
            if ticker in owner:
                raise CalendarError(f"{ticker} is linked twice: on {owner[ticker]} and as a "
                                    f"member of chain {chain.name!r}", path=path, line=line,
                                    field=where)
            owner[ticker] = f"line {line} (chain {chain.name!r})"
            links.append(LinkedTicker(ticker=ticker, role=role, direction=direction,
                                      line=line, chain=chain.name))
        chains.append(ChainLink(chain.name, role, direction, tuple(weights.items()), line))
    return dataclasses.replace(event, tickers=tuple(links), chains=tuple(chains))
