"""Minute-bar files (CSV and parquet) into :class:`IntradayBars`, checked against real
NYSE sessions.

The bars are synthetic (``tests/minute_bars.py``) on real sessions: 2025-11-26 to
2025-12-01 holds Thanksgiving (2025-11-27, closed) and the early close of 2025-11-28
(13:00 New York, so 210 one-minute bars); 2026-03-06 (EST, open 14:30 UTC) and
2026-03-09 (EDT, open 13:30 UTC) straddle the switch to daylight saving time. Loaded
values are compared with the generated ones, never with the code's own output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.intraday.barfiles import read_bar_file, read_bar_table
from events.errors import ConfigError, PriceDataError
from tests.minute_bars import minute_bars

JUMP_AT = pd.Timestamp("2025-11-28 15:00", tz="UTC")  # 10:00 New York
JUMP = 0.05


@pytest.fixture(scope="module")
def generated() -> pd.DataFrame:
    return minute_bars(["ORCL"], "2025-11-26", "2025-12-01", jumps={"ORCL": [(JUMP_AT, JUMP)]},
                       seed=7)


def _as_text(long: pd.DataFrame, offset: bool = False) -> pd.DataFrame:
    """Bars as a CSV holds them: ISO 8601 times (``Z``, or New York offsets), exact floats."""
    out = long.copy()
    stamps = pd.DatetimeIndex(out["timestamp"])
    out["timestamp"] = (stamps.tz_convert("America/New_York").strftime("%Y-%m-%dT%H:%M:%S%z")
                        .str.replace(r"(\d\d)(\d\d)$", r"\1:\2", regex=True) if offset
                        else stamps.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return out


def write_csv(folder, long: pd.DataFrame, name: str = "bars.csv", offset: bool = False):
    path = folder / name
    _as_text(long, offset).to_csv(path, index=False, float_format="%.17g")
    return path


def _wide(long: pd.DataFrame, field: str) -> pd.DataFrame:
    """The generated bars of ``field`` as (time x ticker), built here with pandas alone."""
    wide = long.pivot(index="timestamp", columns="ticker", values=field)
    return wide.rename_axis(index=None, columns=None)


@pytest.mark.parametrize("kind", ["csv-utc", "csv-offset", "parquet"])
def test_round_trip_equals_generated(tmp_path, generated, kind):
    if kind == "parquet":
        path = tmp_path / "bars.parquet"
        generated.to_parquet(path)
    else:
        path = write_csv(tmp_path, generated, offset=kind == "csv-offset")
    bars, notes = read_bar_file(path, "1m")
    assert notes == []
    assert bars.tickers == ["ORCL", "SPY"]
    assert str(bars.index.tz) == "UTC"
    for field in ("open", "high", "low", "close", "volume"):
        want = _wide(generated, field)
        got = getattr(bars, field)
        np.testing.assert_array_equal(got.index.asi8, want.index.as_unit("ns").asi8)
        np.testing.assert_array_equal(got[["ORCL", "SPY"]].to_numpy(),
                                      want[["ORCL", "SPY"]].to_numpy())
    assert bars.sources == {"ORCL": str(path), "SPY": str(path)}


def test_planted_jump_survives_at_its_minute(tmp_path, generated):
    bars, _ = read_bar_file(write_csv(tmp_path, generated), "1m")
    logret = np.log(bars.close["ORCL"]).diff()
    assert logret.abs().idxmax() == JUMP_AT
    # the jump plus that minute's market and own noise (a few 0.001 at most)
    assert logret[JUMP_AT] == pytest.approx(JUMP, abs=0.01)
    orcl = generated[generated["ticker"] == "ORCL"].set_index("timestamp")["close"]
    assert logret[JUMP_AT] == pytest.approx(np.log(orcl[JUMP_AT] / orcl.shift(1)[JUMP_AT]),
                                            rel=1e-12)


def test_early_close_day_has_210_bars_and_a_holiday_has_none(tmp_path, generated):
    bars, _ = read_bar_file(write_csv(tmp_path, generated), "1m")
    day = bars.close.loc["2025-11-28"]
    assert len(day) == 210
    assert day.index[0] == pd.Timestamp("2025-11-28 14:30", tz="UTC")
    assert day.index[-1] == pd.Timestamp("2025-11-28 17:59", tz="UTC")  # 12:59 New York
    assert len(bars.close.loc["2025-11-27"]) == 0  # Thanksgiving
    assert len(bars.close) == 390 * 2 + 210  # 11-26, 11-28 (early close), 12-01


def test_dst_switch_both_days_on_the_grid(tmp_path):
    long = minute_bars([], "2026-03-06", "2026-03-09", interval="5min", seed=3)
    bars, _ = read_bar_file(write_csv(tmp_path, long, offset=True), "5m")
    first = bars.close.groupby(bars.session).head(1).index
    assert list(first) == [pd.Timestamp("2026-03-06 14:30", tz="UTC"),
                           pd.Timestamp("2026-03-09 13:30", tz="UTC")]
    assert bars.close["SPY"].notna().sum() == 2 * 78


# --- refusals: one line naming the file, the line (or row) and the field ---------------

def _one_bar(**change) -> pd.DataFrame:
    """A file of good 1m bars of SPY and ORCL on 2025-11-28, then one AMD bar, changed."""
    long = minute_bars(["ORCL"], "2025-11-28", "2025-11-28", seed=1)
    text = _as_text(long)
    row = {"timestamp": "2025-11-28T15:00:00Z", "ticker": "AMD", "open": "100",
           "high": "101", "low": "99", "close": "100.5", "volume": "10"}
    row.update(change)
    text = pd.concat([text, pd.DataFrame([row])], ignore_index=True)
    if change.get("_drop"):
        text = text.drop(columns=[change["_drop"]])
    return text.drop(columns=[c for c in text.columns if c.startswith("_")])


LAST = 420 + 2  # the added row's line: header, then 2 x 210 bars


REFUSALS = {
    "not a timestamp": (dict(timestamp="yesterday"), "timestamp", "not a timestamp"),
    "naive timestamp": (dict(timestamp="2025-11-28T15:36:00"), "timestamp",
                        "timestamp has no timezone (write 2026-04-28T15:36:00Z or -04:00)"),
    "seconds off the 1m grid": (dict(timestamp="2025-11-28T14:30:30Z"), "timestamp",
                                "not on the 1m grid"),
    "duplicate bar (same instant, other offset)": (
        dict(timestamp="2025-11-28T10:00:00-05:00", ticker="ORCL"), "timestamp",
        "duplicate bar for ORCL at 2025-11-28 10:00 America/New_York (15:00 UTC)"),
    "bad ticker": (dict(ticker="../X"), "ticker", "ticker"),
    "zero price": (dict(low="0"), "low", "price must be positive"),
    "negative price": (dict(open="-1"), "open", "price must be positive"),
    "infinite price": (dict(close="inf"), "close", "not a finite number"),
    "missing price": (dict(high=""), "high", "missing price"),
    "high below close": (dict(high="100.2"), "high", "below max(open, close)"),
    "low above open": (dict(low="100.1"), "low", "above min(open, close)"),
    "negative volume": (dict(volume="-5"), "volume", "must be between 0"),
    "holiday": (dict(timestamp="2025-11-27T15:00:00Z"), "timestamp",
                "2025-11-27 is not an XNYS session"),
    "weekend": (dict(timestamp="2025-11-29T15:00:00Z"), "timestamp",
                "2025-11-29 is not an XNYS session"),
    "after the early close": (dict(timestamp="2025-11-28T18:05:00Z"), "timestamp",
                              "2025-11-28 13:05 America/New_York (18:05 UTC) is outside the "
                              "regular session of 2025-11-28 (09:30-13:00"),
    "pre-market": (dict(timestamp="2025-11-28T13:00:00Z"), "timestamp",
                   "outside the regular session"),
}


def bad_file(folder, change: dict):
    path = folder / "bad.csv"
    _one_bar(**change).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name", REFUSALS)
def test_refusals_name_file_line_and_field(tmp_path, name):
    change, field, says = REFUSALS[name]
    path = bad_file(tmp_path, change)
    with pytest.raises(PriceDataError) as info:
        read_bar_file(path, "1m")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:{LAST}: {field}: "), msg
    assert says in msg


def test_off_the_5m_grid(tmp_path):
    long = _as_text(minute_bars([], "2025-11-28", "2025-11-28", interval="5min"))
    long.loc[3, "timestamp"] = "2025-11-28T14:32:00Z"
    path = tmp_path / "five.csv"
    long.to_csv(path, index=False)
    with pytest.raises(PriceDataError, match=r"five.csv:5: timestamp: 2025-11-28 09:32 "
                                             r"America/New_York \(14:32 UTC\) is not on the "
                                             r"5m grid \(bars open at 09:30, 09:35"):
        read_bar_file(path, "5m")


def test_columns_checked(tmp_path):
    path = bad_file(tmp_path, {"_drop": "close"})
    with pytest.raises(PriceDataError, match=r"bad.csv:1: close: missing column 'close'"):
        read_bar_file(path, "1m")
    path = tmp_path / "extra.csv"
    _one_bar().assign(vwap=1).to_csv(path, index=False)
    with pytest.raises(PriceDataError, match=r"extra.csv:1: vwap: unknown column 'vwap'"):
        read_bar_file(path, "1m")
    with pytest.raises(ConfigError, match="interval must be one of"):
        read_bar_file(path, "3m")


def test_volume_is_optional(tmp_path):
    path = bad_file(tmp_path, {"_drop": "volume"})
    bars, _ = read_bar_file(path, "1m")
    assert bars.volume.isna().all().all()


def test_parquet_refusals_name_the_row(tmp_path, generated):
    frame = generated.copy()
    frame.loc[16, "close"] = -3.0
    path = tmp_path / "bars.parquet"
    frame.to_parquet(path)
    with pytest.raises(PriceDataError) as info:
        read_bar_file(path, "1m")
    assert str(info.value).startswith(f"{path}: row 17: close: price must be positive")
    frame = generated.assign(timestamp=generated["timestamp"].dt.tz_localize(None))
    frame.to_parquet(path)
    with pytest.raises(PriceDataError, match=r"row 1: timestamp: timestamp has no timezone"):
        read_bar_file(path, "1m")
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(PriceDataError, match="not a readable parquet file"):
        read_bar_file(path, "1m")


def test_keep_extended_keeps_flagged_bars_out_of_the_study(tmp_path):
    path = bad_file(tmp_path, dict(timestamp="2025-11-28T18:05:00Z"))
    long, notes = read_bar_table(path, "1m", keep_extended=True)
    flagged = long[long["extended"]]
    assert list(flagged["timestamp"]) == [pd.Timestamp("2025-11-28 18:05", tz="UTC")]
    assert len(notes) == 1 and "kept 1 bars outside regular XNYS hours" in notes[0]
    assert "regular-session bars only" in notes[0]
    bars, _ = read_bar_file(path, "1m", keep_extended=True)
    assert pd.Timestamp("2025-11-28 18:05", tz="UTC") not in bars.index
    assert bars.close["ORCL"].notna().sum() == 210
    # a holiday bar is refused even so: extended hours exist only on session days
    with pytest.raises(PriceDataError, match="not an XNYS session"):
        read_bar_table(bad_file(tmp_path, dict(timestamp="2025-11-27T15:00:00Z")), "1m",
                       keep_extended=True)


def test_unsorted_file_is_sorted_with_a_note(tmp_path, generated):
    path = write_csv(tmp_path, generated.iloc[::-1])
    bars, notes = read_bar_file(path, "1m")
    assert notes == [f"{path}: bars are not in time order per ticker; sorted"]
    np.testing.assert_array_equal(bars.close["ORCL"].to_numpy(),
                                  _wide(generated, "close")["ORCL"].to_numpy())
