"""Loading the event calendar: the bundled file, and every refusal of a malformed one.

The bad calendars live in ``tests/fixtures/bad/`` (one file per case, named after
it). Expected line numbers were counted by hand in those files.
"""

from __future__ import annotations

import pytest
import yaml

from events import LABELS, ROLES, InputError, bundled_calendar_path, load_calendar, parse_calendar
from events.model import DIRECTIONS
from tests.helpers import FIXTURES

BAD = FIXTURES / "bad"

# case -> (line named in the message or None when no line applies, field or None,
#          a fragment of the reason)
BAD_CASES = {
    "missing_field": (4, "events[0].source", "missing required field"),
    "bad_timestamp": (5, "events[0].timestamp", "not a timestamp"),
    "naive_timestamp": (7, "events[0].timestamp", "timezone"),
    "unknown_role": (12, "events[0].tickers[1].role", "investor"),
    "unknown_label": (10, "events[0].sentiment.label", "gloomy"),
    "score_140": (19, "events[1].sentiment.score", "140"),
    "duplicate_ids": (13, "events[1].id", "duplicate event id 'same-id' (first on line 4)"),
    "unknown_key": (9, "events[0].sentimnet", "did you mean 'sentiment'?"),
    "empty_calendar": (3, "events", "empty calendar"),
    "empty_file": (None, None, "empty calendar"),
    "scalar_yaml": (1, None, "got str"),
    "binary_junk": (None, None, "UTF-8"),
    "malformed_yaml": (10, None, "malformed YAML"),
    # The file has 10 lines; the '[' opened on line 10 is never closed.
    "unclosed_bracket_at_eof": (10, None, "malformed YAML"),
    "python_tag": (7, None, "python/object/apply:os.system"),
    # YAML's resolver takes these for dates, and the date constructor itself then fails.
    "impossible_timestamp": (5, None, ""),
    "impossible_date": (5, None, ""),
    "unknown_exchange": (15, "events[0].tickers[1].exchange", "did you mean 'XTKS'?"),
    "tags_not_mapping": (10, "events[0].tags", "must be a mapping"),
    "feb_30_date": (13, "events[1].date", "not a date"),
    "during_session_holiday": (13, "events[1].date", "--roll-non-sessions"),
    "outside_calendar_2031": (12, "events[1]", "outside the XNYS calendar"),
}
# Valid calendars that fail only against the price data (tests/test_bad_inputs.py runs them).
DATA_STAGE = {"absent_ticker", "outside_data_2027"}


def test_every_bad_file_has_a_case():
    """Each file in tests/fixtures/bad/ is covered by BAD_CASES and vice versa."""
    calendars = {p.stem for p in BAD.glob("*.yaml")} - DATA_STAGE
    assert sorted(calendars) == sorted(BAD_CASES)


# --- the bundled calendar -------------------------------------------------------------------

def test_bundled_calendar_loads():
    """The shipped calendar has 9 events with unique ids and valid tickers and roles."""
    calendar = load_calendar(bundled_calendar_path("openai"))
    assert calendar.name == "openai"
    assert len(calendar) == 9
    ids = [e.id for e in calendar]
    assert len(set(ids)) == 9
    for event in calendar:
        assert event.tickers, event.id
        assert event.sentiment.label in LABELS
        assert 0 <= event.sentiment.score <= 100
        for link in event.tickers:
            assert link.role in ROLES
            assert link.direction in DIRECTIONS
            assert link.ticker == link.ticker.upper() and link.ticker


def test_bundled_calendar_contents():
    """Spot checks against the YAML text: tickers, a timestamped event, a flagged event."""
    calendar = load_calendar(bundled_calendar_path("openai"))
    assert calendar.tickers == ["AMD", "AMZN", "ARM", "AVGO", "CEG", "CRWV", "GOOGL", "MSFT",
                                "MU", "NVDA", "ORCL", "SMH", "TSM", "VRT", "VST"]
    miss = calendar.get("openai-miss-2026-04-28")
    assert str(miss.timestamp) == "2026-04-28 15:36:00+00:00"
    assert (miss.sentiment.label, miss.sentiment.score) == ("bearish", 65.0)
    stargate = calendar.get("stargate-2025-01-21")
    assert (str(stargate.date), stargate.session) == ("2025-01-21", "after_close")
    assert stargate.line == 7  # "  - id: stargate-2025-01-21" is line 7 of openai.yaml


def test_bundled_calendar_to_frame():
    """to_frame has one row per (event, ticker): 4+9+4+2+2+1+1+3+7 = 33 rows, 9 columns."""
    frame = load_calendar(bundled_calendar_path("openai")).to_frame()
    assert frame.shape == (33, 9)
    assert list(frame.columns) == ["event_id", "time", "headline", "source", "label", "score",
                                   "ticker", "role", "direction"]
    assert frame["event_id"].value_counts()["deepseek-r1-2025-01-27"] == 9
    row = frame[(frame["event_id"] == "openai-miss-2026-04-28") & (frame["ticker"] == "GOOGL")]
    assert row[["role", "direction"]].values.tolist() == [["competitor", "up"]]


def test_parse_calendar_accepts_a_bare_list():
    """A YAML document that is just a list of events is a calendar too."""
    event = {"id": "x", "date": "2025-10-06", "session": "before_open", "headline": "h",
             "source": "s", "sentiment": {"label": "neutral", "score": 0},
             "tickers": [{"ticker": "amd", "role": "subject", "direction": "up"}]}
    calendar = parse_calendar([event])
    assert len(calendar) == 1
    assert calendar.events[0].tickers[0].ticker == "AMD"


# --- refusals -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_calendar_is_refused_with_file_line_and_field(case):
    """Each malformed file raises InputError naming the file, the right line and the field."""
    line, field, fragment = BAD_CASES[case]
    path = BAD / f"{case}.yaml"
    with pytest.raises(InputError) as info:
        load_calendar(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    if line is not None:
        assert message.startswith(f"{path}:{line}: "), message
    else:
        assert message.startswith(f"{path}: "), message
    if field is not None:
        assert f": {field}: " in message, message
    assert fragment in message


def test_python_tag_is_not_executed(tmp_path, monkeypatch):
    """YAML is safe-loaded: a python/object/apply tag is refused and its command never runs."""
    monkeypatch.chdir(tmp_path)  # the tag would write hacked.txt into the cwd
    with pytest.raises(InputError):
        load_calendar(BAD / "python_tag.yaml")
    assert not (tmp_path / "hacked.txt").exists()
    assert list(tmp_path.iterdir()) == []


def test_python_tag_file_really_carries_an_executable_tag():
    """Guard for the test above: the file's tag is one a full loader would construct."""
    node = yaml.compose((BAD / "python_tag.yaml").read_text(), Loader=yaml.SafeLoader)
    headline = [v for k, v in node.value[1][1].value[0].value if k.value == "headline"][0]
    assert headline.tag == "tag:yaml.org,2002:python/object/apply:os.system"


def test_missing_path_and_directory_are_refused(tmp_path):
    """A path that does not exist, or a directory, is an InputError naming the path."""
    with pytest.raises(InputError, match="no such file") as info:
        load_calendar(tmp_path / "nope.yaml")
    assert str(tmp_path / "nope.yaml") in str(info.value)
    with pytest.raises(InputError, match="directory") as info:
        load_calendar(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_session_with_timestamp_is_refused():
    """'session' only goes with 'date'; combined with a timestamp it is refused."""
    event = {"id": "x", "timestamp": "2025-10-06T12:00:00Z", "session": "before_open",
             "headline": "h", "source": "s", "sentiment": {"label": "neutral", "score": 0},
             "tickers": [{"ticker": "AMD", "role": "subject", "direction": "up"}]}
    with pytest.raises(InputError, match="events\\[0\\].session"):
        parse_calendar({"events": [event]})
