"""The price panel carries share volume (for abnormal-volume studies) from every source,
and the prices' data_hash does not depend on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data.csvfiles import read_price_csv
from backtest.data.panel import PricePanel
from backtest.data.store import PriceStore, bundled_path
from backtest.data.universe import load_universe
from events import InputError
from tests.helpers import write_file
from tests.panels import make_panel, sessions

_write = write_file  # (folder, name, text) -> path


def test_long_csv_volume_column_is_carried(tmp_path):
    path = _write(tmp_path, "p.csv",
                  "date,ticker,close,volume\n"
                  "2025-03-03,AAA,100,1500\n2025-03-04,AAA,98,\n2025-03-05,AAA,99,0\n"
                  "2025-03-03,BBB,10,7\n2025-03-04,BBB,11,8.5\n2025-03-05,BBB,12.1,9\n")
    panel, _ = read_price_csv(path)
    assert panel.volume.loc["2025-03-03", "AAA"] == 1500
    assert np.isnan(panel.volume.loc["2025-03-04", "AAA"])  # empty cell: unknown
    assert panel.volume.loc["2025-03-05", "AAA"] == 0
    assert panel.volume["BBB"].tolist() == [7, 8.5, 9]
    assert panel.without_volume() == []
    long = panel.to_long()
    assert long.loc[(long.ticker == "BBB"), "volume"].tolist() == [7, 8.5, 9]


def test_csv_without_volume_gives_nan_volume(tmp_path):
    long = _write(tmp_path, "l.csv", "date,ticker,close\n2025-03-03,AAA,100\n"
                                     "2025-03-04,AAA,101\n")
    wide = _write(tmp_path, "w.csv", "date,AAA,BBB\n2025-03-03,100,10\n2025-03-04,101,9\n")
    for path in (long, wide):
        panel, _ = read_price_csv(path)
        assert panel.volume.shape == panel.close.shape
        assert panel.volume.isna().all().all()
        assert panel.without_volume() == panel.tickers


@pytest.mark.parametrize("cell", ["-5", "abc", "inf"])
def test_bad_volume_is_refused_naming_file_line_and_field(tmp_path, cell):
    path = _write(tmp_path, "p.csv", "date,ticker,close,volume\n2025-03-03,AAA,100,10\n"
                                     f"2025-03-04,AAA,101,{cell}\n")
    with pytest.raises(InputError) as exc:
        read_price_csv(path)
    assert (exc.value.path, exc.value.line, exc.value.field) == (str(path), 3, "volume")


def test_bundled_snapshot_volume_equals_the_parquet_file(tmp_path):
    """The store's volume for ORCL and SPY is exactly prices.parquet read with pandas."""
    raw = pd.read_parquet(bundled_path())
    store = PriceStore(cache_dir=tmp_path, offline=True)
    panel = store.load(["ORCL", "SPY"], start="2025-01-02", end="2025-06-30")
    for ticker in ("ORCL", "SPY"):
        rows = raw[raw["ticker"] == ticker]
        expected = pd.Series(rows["volume"].to_numpy(dtype="float64"),
                             index=pd.to_datetime(rows["date"]))
        expected = expected.loc["2025-01-02":"2025-06-30"]
        got = panel.volume[ticker].dropna()
        assert len(got) > 100
        assert (got.index == expected.index).all()
        assert np.array_equal(got.to_numpy(), expected.to_numpy())


def test_cache_keeps_volume(tmp_path):
    """A long table imported into the cache comes back with its volume."""
    days = sessions("2025-03-03", 4)
    long = pd.DataFrame({"date": days, "ticker": "ZZZ", "open": 10.0, "high": np.nan,
                         "low": np.nan, "close": [10.0, 11, 12, 13],
                         "volume": [100.0, 200, np.nan, 400], "dividend": 0.0,
                         "close_is_adjusted": False})
    store = PriceStore(cache_dir=tmp_path, offline=True, use_bundled=False)
    store.import_frame(long, source="test")
    panel = PriceStore(cache_dir=tmp_path, offline=True, use_bundled=False).load(["ZZZ"])
    assert panel.volume["ZZZ"].tolist()[:2] == [100.0, 200.0]
    assert np.isnan(panel.volume["ZZZ"].iloc[2]) and panel.volume["ZZZ"].iloc[3] == 400


def test_select_and_with_returns_carry_volume_and_data_hash_ignores_it():
    days = sessions("2025-03-03", 5)
    base = make_panel(days, {"AAA": [10, 11, 12, 13, 14], "BBB": [5, 5, 5, 5, 5]})
    vol = pd.DataFrame({"AAA": [1.0, 2, 3, 4, 5], "BBB": [9.0, 9, 9, 9, 9]}, index=days)
    panel = PricePanel(base.open, base.close, base.dividend, base.close_is_adjusted,
                       base.sources, vol)
    assert panel.data_hash == base.data_hash  # prices only: existing hashes unchanged
    assert panel.volume_hash != base.volume_hash
    assert base.volume.isna().all().all()
    assert panel.select(["BBB"]).volume["BBB"].tolist() == [9.0] * 5
    derived = panel.with_returns(pd.DataFrame({"PORT": [0.0, 0.01, 0.02, 0.0, 0.01]},
                                              index=days))
    assert derived.volume["AAA"].tolist() == [1.0, 2, 3, 4, 5]
    assert derived.volume["PORT"].isna().all()
    assert derived.without_volume() == ["PORT"]


def test_universe_panel_has_no_volume(tmp_path):
    days = sessions("2025-03-03", 10)
    pd.DataFrame({"AAA": np.linspace(10, 11, 10), "BBB": np.linspace(5, 6, 10)},
                 index=days).to_parquet(tmp_path / "u.parquet")
    panel = load_universe(tmp_path / "u.parquet")
    assert panel.volume.isna().all().all() and panel.without_volume() == ["AAA", "BBB"]
