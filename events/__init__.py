"""Event calendars: what happened, and when it became tradable.

>>> from events import load_calendar, timing_table
>>> cal = load_calendar("openai")                        # a bundled name, or a YAML path
>>> timing_table(cal)[["event_id", "day0", "first_fill"]]  # doctest: +SKIP

``model`` holds the typed records, ``loader`` reads and validates YAML,
``timing`` maps a news time to day 0 on an exchange calendar, ``bundled``
finds the shipped calendars and exposure maps, ``importer`` and ``scoring``
turn headlines into events, ``errors`` has the error classes of every package.
"""

from events.errors import CalendarError, ConfigError, InputError, PriceDataError
from events.loader import bundled_calendar_path, load_calendar, parse_calendar, resolve_calendar
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
