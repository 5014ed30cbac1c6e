"""The per-pair tables as parquet (default) or CSV (``--format csv``): same rows, same
numbers, same report, and a damaged table refused in one line."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pandas as pd
import pytest

from backtest.app.jobs import run_job
from backtest.data import PriceStore
from backtest.eventstudy import StudyConfig
from backtest.eventstudy.result import LARGE_TABLES
from backtest.io import write_table
from events.errors import ConfigError
from reports import read_table
from tests.helpers import backtest_command

CONFIG = StudyConfig(pseudo_draws=0)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The bundled calendar's study written once in each format."""
    root = tmp_path_factory.mktemp("formats")
    store = PriceStore(offline=True)
    for fmt in ("parquet", "csv"):
        run_job("openai", root / fmt, config=CONFIG, store=store, table_format=fmt)
    return root


def test_each_format_writes_the_large_tables_in_it(both):
    for fmt, other in (("parquet", "csv"), ("csv", "parquet")):
        names = {p.name for p in (both / fmt).iterdir()}
        for table in LARGE_TABLES:
            assert f"{table}.{fmt}" in names and f"{table}.{other}" not in names
        assert {"caar.csv", "tests.csv", "skipped.csv", "quality.csv"} <= names


def test_parquet_and_csv_hold_the_same_numbers(both):
    """Every row and column alike: text and integers equal, floats to the CSV's 10
    significant digits, dates the same instants."""
    for table in LARGE_TABLES:
        pq, csv = read_table(both / "parquet", table), read_table(both / "csv", table)
        assert list(pq.columns) == list(csv.columns) and len(pq) == len(csv) > 0, table
        for col in pq.columns:
            a, b = pq[col], csv[col]
            if pd.api.types.is_datetime64_any_dtype(a):
                parsed = pd.to_datetime(b, utc=a.dt.tz is not None, format="ISO8601")
                assert (parsed.isna() == a.isna()).all(), (table, col)
                assert (parsed[a.notna()] == a[a.notna()]).all(), (table, col)
            elif pd.api.types.is_float_dtype(a):
                assert pd.api.types.is_numeric_dtype(b), (table, col)
                np.testing.assert_allclose(b.to_numpy(float), a.to_numpy(float), rtol=1e-9,
                                           atol=0, equal_nan=True, err_msg=f"{table}.{col}")
            else:
                # CSV reads an empty text back as missing; parquet keeps it
                shown = a.where(a.astype(str) != "").astype(object)
                assert [None if pd.isna(v) else str(v) for v in shown] == \
                       [None if pd.isna(v) else str(v) for v in b.astype(object)], (table, col)


def test_parquet_keeps_every_digit_and_type(both):
    from backtest.eventstudy import run_study
    from events.loader import resolve_calendar

    store = PriceStore(offline=True)
    cal = resolve_calendar("openai")
    panel = store.load([*dict.fromkeys(t.ticker for e in cal for t in e.tickers), "SPY"])
    res = run_study(cal, panel, CONFIG)
    for table in ("ar", "car", "estimates"):
        pd.testing.assert_frame_equal(read_table(both / "parquet", table),
                                      getattr(res, table), check_exact=True)


def test_the_report_reads_the_same_from_either_format(both):
    """Same text (bar the run time and the file names it cites), same chart pixels."""
    def text(fmt):
        html = (both / fmt / "index.html").read_text()
        html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "IMG", html)
        html = re.sub(r"<dt>Run time</dt><dd>[^<]*</dd>", "", html)
        return html.replace(".parquet", ".csv").replace(str(both / fmt), "DIR")

    assert text("parquet") == text("csv")
    charts = sorted(p.name for p in (both / "parquet").glob("*.png"))
    assert charts
    for name in charts:
        assert (both / "parquet" / name).read_bytes() == (both / "csv" / name).read_bytes(), name


def test_same_table_same_bytes(tmp_path):
    frame = pd.DataFrame({"ticker": ["ORCL", "NA", ""], "ar": [0.1, np.nan, -1e-300],
                          "date": pd.to_datetime(["2026-04-28", None, "2026-04-29"])})
    a = write_table(frame, tmp_path, "a").read_bytes()
    b = write_table(frame.copy(), tmp_path, "b").read_bytes()
    assert a == b
    back = read_table(tmp_path, "a")
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


def test_the_report_shows_parquet_dates_as_the_csv_does(tmp_path):
    """Dates, times, missing times (a whole column of them too) and empty text read by the
    report from parquet as from CSV."""
    from reports.render import _read

    frame = pd.DataFrame({
        "day": pd.to_datetime(["2026-04-28", None, "2026-04-29"]),
        "at": pd.to_datetime(["2026-04-28 15:36", "2026-04-28 16:00", None]).tz_localize("UTC"),
        "never": pd.to_datetime([None, None, None]).tz_localize("UTC"),
        "text": ["NA", "", "x"], "x": [1.5, np.nan, 2.0]})
    for fmt in ("parquet", "csv"):
        (tmp_path / fmt).mkdir()
        write_table(frame, tmp_path / fmt, "t", fmt, float_format=None)
    pq, csv = _read(tmp_path / "parquet", "t", tmp_path), _read(tmp_path / "csv", "t", tmp_path)
    assert pq["day"].tolist()[::2] == csv["day"].tolist()[::2] == ["2026-04-28", "2026-04-29"]
    assert pq["at"].tolist()[:2] == csv["at"].tolist()[:2] == ["2026-04-28 15:36:00+00:00",
                                                              "2026-04-28 16:00:00+00:00"]
    for col in ("day", "at", "never", "text", "x"):
        assert pq[col].isna().tolist() == csv[col].isna().tolist(), col
    assert pq["text"].tolist()[0] == csv["text"].tolist()[0] == "NA"


def test_unknown_format_refused_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match="format must be one of parquet, csv"):
        run_job("openai", tmp_path / "out", table_format="xlsx")
    assert not (tmp_path / "out").exists()


def test_report_again_from_parquet_and_a_damaged_table_refused(both, tmp_path):
    """``backtest report DIR`` redraws from the parquet tables; a truncated one is refused
    in one line naming the file, and the folder stays as it was."""
    import shutil

    folder = tmp_path / "again"
    shutil.copytree(both / "parquet", folder)
    (folder / "index.html").unlink()
    proc = subprocess.run(backtest_command() + ["report", str(folder)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (folder / "car.parquet").is_file()
    # the AR table is a folder of parts: redrawn, it holds the same rows
    assert (folder / "ar.parquet").is_dir()
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "ar.parquet"),
                                  pd.read_parquet(both / "parquet" / "ar.parquet"))
    assert (folder / "index.html").read_text().count("<table") == \
        (both / "parquet" / "index.html").read_text().count("<table") > 3
    data = (folder / "car.parquet").read_bytes()
    (folder / "car.parquet").write_bytes(data[: len(data) // 2])
    html = (folder / "index.html").read_bytes()
    proc = subprocess.run(backtest_command() + ["report", str(folder)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "car.parquet" in lines[0] and "Traceback" not in proc.stderr
    assert (folder / "index.html").read_bytes() == html


def test_cli_format_csv(tmp_path):
    proc = subprocess.run(backtest_command() + ["study", "openai", "--offline",
                                                "--pseudo-draws", "0", "--format", "csv",
                                                "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in (tmp_path / "o").iterdir()}
    assert {"ar.csv", "car.csv", "estimates.csv", "timing.csv"} <= names
    assert not any(n.endswith(".parquet") for n in names)
    proc = subprocess.run(backtest_command() + ["study", "openai", "--format", "xlsx"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_one_events_rows_read_alone_equal_the_full_table_cut(both, monkeypatch):
    """What the report reads of a large table (one event's rows, a CSV in pieces) is the
    full table cut to that event, row for row."""
    import reports.render as render

    monkeypatch.setattr(render, "CSV_CHUNK_ROWS", 7)  # many pieces, an event across them
    for fmt in ("parquet", "csv"):
        full = read_table(both / fmt, "ar")
        assert render.table_rows(both / fmt, "ar") == len(full)
        for event in ("openai-miss-2026-04-28", "stargate-2025-01-21", "no-such-event"):
            cut = full[full["event_id"] == event].reset_index(drop=True)
            alone = read_table(both / fmt, "ar", event_id=event)
            assert len(alone) == len(cut) and (event == "no-such-event") == cut.empty
            if len(cut):
                pd.testing.assert_frame_equal(alone, cut, check_dtype=fmt == "parquet")
