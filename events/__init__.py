"""Event calendars: what happened, and when it became tradable.

>>> from events import load_calendar, timing_table
>>> cal = load_calendar("openai")                        # a bundled name, or a YAML path
>>> timing_table(cal)[["event_id", "day0", "first_fill"]]  # doctest: +SKIP

``model`` holds the typed records, ``loader`` reads and validates YAML,
``timing`` maps a news time to day 0 on an exchange calendar, ``bundled``
finds the shipped calendars and exposure maps, ``importer`` and ``scoring``
turn headlines into events, ``errors`` has the error classes of every package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

from events.errors import CalendarError, ConfigError, InputError, PriceDataError

if TYPE_CHECKING:
    from events.loader import (bundled_calendar_path, load_calendar, parse_calendar,
                               resolve_calendar)
    from events.model import (DIRECTIONS, LABELS, PAIR_COLUMNS, ROLES, SESSIONS, UNIVERSE_ROLE,
                              Calendar, Event, LinkedTicker, Sentiment)
    from events.timing import EventTiming, event_timing, exchange_calendar, timing_table

__all__ = [
    "Calendar", "CalendarError", "ConfigError", "Event", "EventTiming", "InputError",
    "LinkedTicker", "PriceDataError", "Sentiment",
    "DIRECTIONS", "LABELS", "PAIR_COLUMNS", "ROLES", "SESSIONS", "UNIVERSE_ROLE",
    "bundled_calendar_path", "event_timing", "exchange_calendar", "load_calendar",
    "parse_calendar", "resolve_calendar", "timing_table",
]

# Every package imports ``events.errors``; the other public names load on first use
# (PEP 562), so that import does not read YAML or build exchange calendars.
_SOURCES = {
    **dict.fromkeys(("bundled_calendar_path", "load_calendar", "parse_calendar",
                     "resolve_calendar"), "loader"),
    **dict.fromkeys(("DIRECTIONS", "LABELS", "PAIR_COLUMNS", "ROLES", "SESSIONS",
                     "UNIVERSE_ROLE", "Calendar", "Event", "LinkedTicker", "Sentiment"),
                    "model"),
    **dict.fromkeys(("EventTiming", "event_timing", "exchange_calendar", "timing_table"),
                    "timing"),
}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
