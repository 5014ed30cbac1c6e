"""Event calendars: what happened, and when it became tradable.

>>> from events import load_calendar, bundled_calendar_path, timing_table
>>> cal = load_calendar(bundled_calendar_path("openai"))
>>> timing_table(cal)[["event_id", "day0", "first_fill"]]  # doctest: +SKIP
"""

from events.errors import InputError
from events.loader import bundled_calendar_path, load_calendar, parse_calendar
from events.model import (
    DIRECTIONS,
    LABELS,
    ROLES,
    SESSIONS,
    Calendar,
    Event,
    LinkedTicker,
    Sentiment,
)
from events.timing import EventTiming, event_timing, exchange_calendar, timing_table

__all__ = [
    "Calendar", "Event", "EventTiming", "InputError", "LinkedTicker", "Sentiment",
    "DIRECTIONS", "LABELS", "ROLES", "SESSIONS",
    "bundled_calendar_path", "event_timing", "exchange_calendar", "load_calendar",
    "parse_calendar", "timing_table",
]
