"""Every malformed input in ``tests/fixtures/bad/`` is refused by the real CLI, cleanly.

Each file is run with the command that fits its kind:

* ``*.yaml`` (calendars):      ``backtest study FILE --offline --out OUT``
* ``bad_prices_*.csv``:        ``backtest study openai --prices FILE --offline --out OUT``
                               and ``backtest data import FILE``
* ``bad_factors_*.csv``:       ``backtest study openai --model factors --factors-csv FILE
                               --offline --out OUT``

and must exit with code 2 and print exactly one ``backtest: error:`` line that
names the file and, where the problem sits on a line, that line (numbers in
:data:`EXPECTED` were counted by hand in the files, physical lines from 1, the
header of a CSV being line 1). Nothing may be written: no OUT, no temporary
folder beside it, no change to the price cache.

Every process runs in its own empty working directory with ``HOME`` and
``BACKTEST_CACHE_DIR`` pointed at temporary folders; the runs are independent
and start together in a module-scoped fixture. (Each costs about a second of
CPU, mostly imports, so further malformed variants are checked in-process at
the end of this file against the same one-line contract.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from reports import read_table
from tests.helpers import FIXTURES, backtest_command

BAD = FIXTURES / "bad"
BAD_FILES = sorted(BAD.iterdir())

# file name -> (line the error must name, or None when the problem has no line;
#               a fragment the error line must contain)
EXPECTED: dict[str, tuple[int | None, str]] = {
    # --- calendars (the first 17 are also covered by test_calendar.py) ---
    "bad_timestamp.yaml": (5, "yesterday at noon"),
    "binary_junk.yaml": (None, "UTF-8"),
    "duplicate_ids.yaml": (13, "duplicate event id"),
    "empty_calendar.yaml": (3, "empty calendar"),
    "empty_file.yaml": (None, "empty calendar"),
    "impossible_date.yaml": (5, "2025-13-01"),
    "impossible_timestamp.yaml": (5, "2025-02-30"),
    "malformed_yaml.yaml": (10, "malformed YAML"),
    "missing_field.yaml": (4, "source"),
    "naive_timestamp.yaml": (7, "timezone"),
    "python_tag.yaml": (7, "python/object/apply:os.system"),
    "scalar_yaml.yaml": (1, "got str"),
    "score_140.yaml": (19, "140"),
    "unclosed_bracket_at_eof.yaml": (10, "malformed YAML"),
    "unknown_key.yaml": (9, "did you mean 'sentiment'?"),
    "unknown_label.yaml": (10, "gloomy"),
    "unknown_role.yaml": (12, "investor"),
    "unknown_exchange.yaml": (15, "did you mean 'XTKS'?"),       # exchange: XTKY
    "tags_not_mapping.yaml": (10, "mapping"),                     # tags: semis
    "feb_30_date.yaml": (13, "2025-02-30"),                       # date: 2025-02-30
    "during_session_holiday.yaml": (13, "--roll-non-sessions"),   # Good Friday 2026-04-03
    "outside_data_2027.yaml": (12, "outside the price data"),     # 2027-03-02 > 2026-05-29
    "outside_calendar_2031.yaml": (12, "2031-03-04"),             # past every calendar
    "absent_ticker.yaml": (20, "ZZZZZ"),                          # in no source, --offline
    # --- price CSVs ---
    "bad_prices_non_session.csv": (5, "2025-01-09"),      # NYSE closed (day of mourning)
    "bad_prices_bad_number.csv": (4, "16O.8"),             # letter O for zero
    "bad_prices_negative_price.csv": (3, "-162.5"),
    "bad_prices_duplicate_row.csv": (6, "duplicate"),      # ORCL 2025-01-07 again
    "bad_prices_missing_date_column.csv": (1, "'date'"),   # header says 'day'
    "bad_prices_unknown_column.csv": (1, "adj_close"),
    "bad_prices_empty.csv": (None, "empty"),               # zero bytes
    "bad_prices_binary_junk.csv": (None, "not a text file"),
    "bad_prices_not_a_date.csv": (4, "01/08/2025"),
    "bad_prices_wide_duplicate_date.csv": (5, "2025-01-07"),
    "bad_prices_unclosed_quote.csv": (3, "malformed CSV"),  # '"' opened on line 3
    "bad_prices_blank_line.csv": (5, "n/a"),               # blank line 3, bad value line 5
    "bad_prices_header_only.csv": (None, ""),              # a header and no rows
    # --- factor CSVs ---
    "bad_factors_non_numeric.csv": (3, "abc"),
    "bad_factors_duplicate_date.csv": (4, "2025-01-07"),   # 20250107 then 2025-01-07
    "bad_factors_single_column.csv": (1, "no factor columns"),
    "bad_factors_copyright_footer.csv": (5, "Copyright"),  # French's footer after a blank line
}


def kind(path: Path) -> str:
    if path.suffix == ".yaml":
        return "calendar"
    if path.name.startswith("bad_prices_") and path.suffix == ".csv":
        return "prices"
    if path.name.startswith("bad_factors_") and path.suffix == ".csv":
        return "factors"
    raise AssertionError(f"unknown kind of bad input: {path.name}")


def study_args(path: Path) -> list[str]:
    # a ticker with no data is skipped with a warning unless --strict asks for a refusal
    strict = ["--strict"] if path.name == "absent_ticker.yaml" else []
    return {
        "calendar": ["study", str(path), *strict],
        "prices": ["study", "openai", "--prices", str(path)],
        "factors": ["study", "openai", "--model", "factors", "--factors-csv", str(path)],
    }[kind(path)]


CLI_VALUES = {
    "window-without-day-0": (["study", "openai", "--window", "3", "5"], "(3, 5)"),
    "car-window-outside": (["study", "openai", "--car-window", "-20", "0"], "(-20, 0)"),
    "group-by-unknown": (["study", "openai", "--group-by", "nosuchcol"], "nosuchcol"),
    "model-unknown": (["study", "openai", "--model", "nope"], "'nope'"),  # argparse
}


_command = backtest_command


@dataclass
class Run:
    cwd: Path
    out: Path | None
    cache: Path
    cache_before: dict[str, bytes]
    returncode: int
    stdout: str
    stderr: str


def _snapshot(cache: Path) -> dict[str, bytes]:
    return {str(p.relative_to(cache)): p.read_bytes() for p in sorted(cache.rglob("*"))
            if p.is_file()}


def _seed_cache(cache: Path) -> None:
    """A cache holding one good ticker, to show that a refused import leaves it alone."""
    import pandas as pd

    from backtest.data.cache import PriceCache
    from backtest.data.panel import COLUMNS

    frame = pd.DataFrame({"date": pd.to_datetime(["2025-01-06", "2025-01-07"]),
                          "ticker": "KEEP", "open": [10.0, 11.0], "high": [10.5, 11.5],
                          "low": [9.5, 10.5], "close": [10.2, 11.1], "volume": [1e5, 2e5],
                          "dividend": [0.0, 0.0], "close_is_adjusted": False})
    PriceCache(cache).write("KEEP", frame[COLUMNS].assign(source="seed"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    """Run every case once, in parallel, each in a fresh empty cwd."""
    home = tmp_path_factory.mktemp("home")
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
                             "BACKTEST_CACHE_DIR")}
    base_env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1")
    # Build matplotlib's font cache in the fresh HOME once, up front: when that takes
    # over 5 s (many processes at once) matplotlib logs a line of its own on stderr.
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=base_env,
                   capture_output=True, timeout=120, check=True)

    cases: dict[str, tuple[list[str], bool]] = {}
    for path in BAD_FILES:
        cases[f"study:{path.name}"] = (study_args(path), True)
        if kind(path) == "prices":
            cases[f"import:{path.name}"] = (["data", "import", str(path)], False)
    for name, (args, _) in CLI_VALUES.items():
        cases[f"cli:{name}"] = (args, True)

    def one(item) -> tuple[str, Run]:
        name, (args, with_out) = item
        cwd = tmp_path_factory.mktemp("cwd")
        cache = tmp_path_factory.mktemp("cache")
        if name.startswith("import:"):
            _seed_cache(cache)
        before = _snapshot(cache)
        out = cwd / "OUT" if with_out else None
        argv = [*_command(), *args, *(["--offline", "--out", str(out)] if with_out else [])]
        env = {**base_env, "BACKTEST_CACHE_DIR": str(cache)}
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=180)
        return name, Run(cwd, out, cache, before, proc.returncode, proc.stdout, proc.stderr)

    workers = max(2, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(one, cases.items()))


def _check_clean_refusal(run: Run) -> str:
    """Exit 2, one 'backtest: error:' line, no traceback, nothing written; returns the line."""
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.returncode == 2, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("backtest: error: "), lines[0]
    assert run.stdout == ""
    if run.out is not None:
        assert not run.out.exists()
    # OUT's parent is the cwd: no half-written report, no leftover temp folders, nothing else.
    assert sorted(p.name for p in run.cwd.iterdir()) == []
    assert _snapshot(run.cache) == run.cache_before  # the price cache is untouched
    return lines[0]


def _check_names_file_and_line(message: str, path: Path, line: int | None,
                               fragment: str) -> None:
    """The error names the file, the right line (``FILE:N:`` or 'line N') and the problem."""
    assert path.name in message, message
    stated = [int(n) for n in re.findall(rf"{re.escape(path.name)}:(\d+):", message)]
    if line is None:
        assert stated == [], f"no line applies, yet the error names one: {message}"
    elif stated:
        assert stated == [line], f"expected line {line}: {message}"
    else:  # a parser's own wording, e.g. pandas' "Expected 3 fields in line 4, saw 5"
        prose = [int(n) for n in re.findall(r"\b(?:line|row) (\d+)\b", message)]
        assert prose == [line], f"expected line {line} to be named: {message}"
    assert fragment in message, message


def test_corpus_is_complete():
    """Every file in tests/fixtures/bad/ has an expectation here and vice versa; >= 32 files
    covering calendars, price CSVs and factor CSVs."""
    assert sorted(p.name for p in BAD_FILES) == sorted(EXPECTED)
    assert len(BAD_FILES) >= 32
    kinds = [kind(p) for p in BAD_FILES]
    assert kinds.count("prices") >= 10 and kinds.count("factors") >= 3
    assert kinds.count("calendar") >= 17 + 5


@pytest.mark.parametrize("name", [p.name for p in BAD_FILES])
def test_bad_file_is_refused_by_study(runs, name):
    """`backtest study ...` with the bad file: exit 2, one line naming the file and line."""
    path = BAD / name
    message = _check_clean_refusal(runs[f"study:{name}"])
    line, fragment = EXPECTED[name]
    _check_names_file_and_line(message, path, line, fragment)
    if kind(path) == "calendar":  # the path as given, whole
        assert str(path) in message, message


@pytest.mark.parametrize("name", [p.name for p in BAD_FILES if kind(p) == "prices"])
def test_bad_price_csv_is_refused_by_data_import(runs, name):
    """`backtest data import BAD.csv`: exit 2, one line, and the cache is left as it was."""
    path = BAD / name
    run = runs[f"import:{name}"]
    message = _check_clean_refusal(run)
    line, fragment = EXPECTED[name]
    _check_names_file_and_line(message, path, line, fragment)
    assert sorted(run.cache_before) == ["prices/KEEP.parquet", "prices/KEEP.parquet.sha256"]


def test_python_tag_calendar_ran_nothing(runs):
    """The unsafe-tag calendar is refused and its shell command never ran."""
    run = runs["study:python_tag.yaml"]
    assert not (run.cwd / "hacked.txt").exists()


@pytest.mark.parametrize("case", ["window-without-day-0", "car-window-outside",
                                  "group-by-unknown"])
def test_bad_cli_value_is_refused(runs, case):
    """Bad --window / --car-window / --group-by values: exit 2, one line naming the value."""
    message = _check_clean_refusal(runs[f"cli:{case}"])
    assert CLI_VALUES[case][1] in message, message


def test_unknown_model_is_refused_by_argparse(runs):
    """--model nope is an argparse choice error: exit 2, usage plus one error line."""
    run = runs["cli:model-unknown"]
    assert "Traceback" not in run.stderr
    assert run.returncode == 2
    last = run.stderr.splitlines()[-1]
    assert last.startswith("backtest study: error: argument --model: invalid choice"), last
    assert "'nope'" in last
    assert not run.out.exists()
    assert sorted(p.name for p in run.cwd.iterdir()) == []


# --- controls: each file is bad for exactly the reason named, not for another -----------------

def test_non_session_prices_load_when_dropping_non_sessions():
    """The same file is accepted with drop_non_sessions; the 2025-01-09 row is dropped."""
    import pandas as pd

    from backtest.data.csvfiles import read_price_csv

    panel, notes = read_price_csv(BAD / "bad_prices_non_session.csv", drop_non_sessions=True)
    assert list(panel.sessions) == list(pd.to_datetime(["2025-01-06", "2025-01-07",
                                                        "2025-01-08", "2025-01-10"]))
    assert panel.close["ORCL"].tolist() == [161.0, 162.5, 160.8, 163.0]
    assert len(notes) == 1 and "dropped 1 rows" in notes[0] and "2025-01-09" in notes[0]


def test_holiday_calendar_loads_when_rolling_non_sessions():
    """With roll_non_sessions the Good Friday event becomes Monday 2026-04-06 before_open."""
    import datetime as dt

    from events import load_calendar

    cal = load_calendar(BAD / "during_session_holiday.yaml", roll_non_sessions=True)
    event = cal.get("good-friday")
    assert (event.date, event.session) == (dt.date(2026, 4, 6), "before_open")


def test_bad_calendars_fail_only_at_the_data_stage():
    """These two calendars are valid as calendars; only the price data refuses them."""
    from events import load_calendar

    for name in ("outside_data_2027.yaml", "absent_ticker.yaml"):
        assert len(load_calendar(BAD / name)) == 2


# --- more malformed inputs, checked in-process (cheap; same one-line contract) ---------------

# name -> (file content, line the error must name or None, fragment)
MORE_PRICES = {
    "missing_close_column.csv": (b"date,ticker,open\n2025-01-06,ORCL,160.0\n", 1, "'close'"),
    "wide_zero_price.csv": (b"date,ORCL,SPY\n2025-01-06,161.0,590.1\n2025-01-07,162.5,0\n",
                            3, "positive"),
    "ragged_row.csv": (b"date,ticker,close\n2025-01-06,ORCL,161.0\n2025-01-07,ORCL,162.5\n"
                       b"2025-01-08,ORCL,160.8,1200,x\n", 4, "malformed CSV"),
    "not_utf8.csv": (b"date,ticker,close\n2025-01-06,ORCL,161.0\n2025-01-07,SOCI\xc9T\xc9,42\n",
                     None, "UTF-8"),
    "empty_ticker.csv": (b"date,ticker,close\n2025-01-06,ORCL,161.0\n2025-01-07,,162.5\n", 3,
                         "empty ticker"),
    "saturday.csv": (b"date,SPY\n2025-01-03,590.0\n2025-01-04,591.0\n", 3, "2025-01-04"),
}

MORE_FACTORS = {
    "percent_sign.csv": (b"date,Mkt-RF,RF\n20250106,0.12%,0.017\n", 2, "0.12%"),
    "bad_compact_date.csv": (b"date,Mkt-RF\n20250106,0.1\n20251301,0.2\n", 3, "20251301"),
}

_EVENT = ("  - id: {id}\n"
          "    date: 2025-10-06\n"
          "    session: before_open\n"
          "    headline: H\n"
          "    source: S\n"
          "    sentiment: {{label: bullish, score: 85}}\n")
MORE_CALENDARS = {
    # tags: {sector: semis, role: buyer} -> the reserved 'role' tag on line 10
    "reserved_tag.yaml": ("events:\n" + _EVENT.format(id="a")
                          + "    tags:\n      sector: semis\n      role: buyer\n"
                          "    tickers:\n      - {ticker: AMD, role: partner, direction: up}\n",
                          10, "reserved"),
    # the third ticker repeats the first in lower case, line 11
    "ticker_twice.yaml": ("events:\n" + _EVENT.format(id="a")
                          + "    tickers:\n"
                          "      - {ticker: NVDA, role: partner, direction: up}\n"
                          "      - {ticker: AMD, role: partner, direction: up}\n"
                          "      - {ticker: nvda, role: competitor, direction: down}\n",
                          11, "listed twice"),
    # both a date and a timestamp: the event (line 2) is refused
    "date_and_timestamp.yaml": ("events:\n" + _EVENT.format(id="a")
                                + "    timestamp: 2025-10-06T12:00:00Z\n"
                                "    tickers:\n"
                                "      - {ticker: AMD, role: partner, direction: up}\n",
                                2, "either"),
    # an empty ticker list, line 8
    "no_tickers.yaml": ("events:\n" + _EVENT.format(id="a") + "    tickers: []\n", 8,
                        "non-empty list"),
}


def _refusal(fn, path: Path):
    from events import InputError

    with pytest.raises(InputError) as info:
        fn(path)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", sorted(MORE_PRICES))
def test_more_bad_price_files_in_process(tmp_path, name):
    from backtest.data.csvfiles import read_price_csv

    content, line, fragment = MORE_PRICES[name]
    path = tmp_path / name
    path.write_bytes(content)
    _check_names_file_and_line(_refusal(read_price_csv, path), path, line, fragment)


@pytest.mark.parametrize("name", sorted(MORE_FACTORS))
def test_more_bad_factor_files_in_process(tmp_path, name):
    from backtest.data.csvfiles import load_factor_csv

    content, line, fragment = MORE_FACTORS[name]
    path = tmp_path / name
    path.write_bytes(content)
    _check_names_file_and_line(_refusal(load_factor_csv, path), path, line, fragment)


@pytest.mark.parametrize("name", sorted(MORE_CALENDARS))
def test_more_bad_calendars_in_process(tmp_path, name):
    from events import load_calendar

    content, line, fragment = MORE_CALENDARS[name]
    path = tmp_path / name
    path.write_text(content)
    _check_names_file_and_line(_refusal(load_calendar, path), path, line, fragment)


def test_empty_first_header_of_a_factor_file_is_called_date(tmp_path):
    """French's files leave the date column's header empty; an error in that column names
    the field 'date' (as load_factor_csv intends with ``date_col or "date"``), not pandas'
    placeholder 'Unnamed: 0'. Line 3 holds the bad date."""
    from backtest.data.csvfiles import load_factor_csv

    path = tmp_path / "french.csv"
    path.write_text(",Mkt-RF,RF\n20250106,0.12,0.017\n2025013,0.10,0.017\n")
    message = _refusal(load_factor_csv, path)
    assert message.startswith(f"{path}:3: date: "), message
    assert "Unnamed" not in message


def test_a_ticker_without_data_is_skipped_with_its_reason(tmp_path):
    """Without --strict, the study runs: one warning line names the ticker, and its pair is
    in skipped.csv with the reason; the other pairs are studied."""
    proc = subprocess.run([*_command(), "study", str(BAD / "absent_ticker.yaml"), "--offline",
                           "--pseudo-draws", "0", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=180,
                          env={**os.environ, "BACKTEST_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr
    warnings = proc.stderr.strip().splitlines()
    assert len(warnings) == 1 and "no price data for ZZZZZ" in warnings[0]
    assert "--strict" in warnings[0]
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv")
    assert skipped.to_dict("records") == [{"event_id": "unknown", "ticker": "ZZZZZ",
                                           "reason": "no price data for this ticker"}]
    car = read_table(tmp_path / "out", "car")
    assert set(car["ticker"]) == {"AMD", "AVGO"}
