"""The yfinance path of PriceStore, with a fake at the download boundary (no network).

``tests/fixtures/yfinance/recorded_daily.csv`` holds a few hand-written daily bars
for two made-up tickers (AAA, BBB) on the NYSE sessions 2025-01-06, -07, -08
and -10 (2025-01-09 was a market closure, so yfinance has no bar for it). The
helpers below lay it out exactly as ``yfinance.download(..., auto_adjust=False,
actions=True)`` does (checked against yfinance 1.x ``multi.py``): MultiIndex
columns named ``(Price, Ticker)`` sorted by field for ``group_by='column'``,
``(Ticker, Price)`` for ``group_by='ticker'``, a DatetimeIndex named ``Date``
(tz-naive for daily bars, or midnight America/New_York with ``ignore_tz=False``),
and an empty frame for an unknown ticker.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data.cache import default_cache_dir
from backtest.data.panel import COLUMNS
from backtest.data.store import PriceStore
from backtest.data.yahoo import EXTRA_COLUMNS
from events import InputError
from tests.helpers import FIXTURES

RECORDED = FIXTURES / "yfinance" / "recorded_daily.csv"
FIELDS = ["Open", "High", "Low", "Close", "Adj Close", "Volume", "Dividends", "Stock Splits"]
SESSIONS = pd.DatetimeIndex(["2025-01-06", "2025-01-07", "2025-01-08", "2025-01-10"],
                            name="date")

# Hand values straight from the CSV (raw Close, not Adj Close).
AAA_CLOSE = [101.0, 100.5, 99.6, 100.9]
AAA_OPEN = [100.0, 101.0, 100.0, 99.8]
AAA_DIVIDEND = [0.0, 0.0, 0.4, 0.0]
BBB_CLOSE = [50.25, 50.75, 49.9, 50.5]


# --- yfinance layouts ------------------------------------------------------------------------

def _per_ticker(tickers: list[str]) -> dict[str, pd.DataFrame]:
    """One frame per ticker as Ticker.history returns it (fields in yfinance's order)."""
    long = pd.read_csv(RECORDED, parse_dates=["Date"])
    out = {}
    for ticker in tickers:
        part = long[long["Ticker"] == ticker].set_index("Date")[FIELDS]
        if part.empty:  # yfinance's utils.empty_df(): no Dividends / Stock Splits columns
            part = pd.DataFrame(columns=FIELDS[:6], dtype=float, index=pd.DatetimeIndex([]))
        part.index.name = "Date"
        out[ticker] = part
    return out


def _combine(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """yfinance's multi.py: reindex every ticker to the union index, concat as (Ticker, Price)."""
    idx = None
    for df in frames.values():
        if not df.empty:
            idx = df.index if idx is None else idx.union(df.index)
    if idx is None:
        idx = pd.DatetimeIndex([], name="Date")
    frames = {k: v.reindex(idx) for k, v in frames.items()}
    return pd.concat(frames.values(), axis=1, sort=True, keys=frames.keys(),
                     names=["Ticker", "Price"])


def yf_by_column(tickers: list[str], tz: str | None = None) -> pd.DataFrame:
    """The group_by='column' layout: columns (Price, Ticker), sorted by Price."""
    data = _combine(_per_ticker(tickers))
    data.columns = data.columns.swaplevel(0, 1)
    data = data.sort_index(level=0, axis=1)
    if tz is not None:
        data.index = data.index.tz_localize(tz)
    return data


def yf_by_ticker(tickers: list[str]) -> pd.DataFrame:
    """The group_by='ticker' layout: columns (Ticker, Price)."""
    return _combine(_per_ticker(tickers))


class FakeDownload:
    """Stands in for yfinance at PriceStore's boundary and records every call."""

    def __init__(self, make):
        self.make, self.calls = make, []

    def __call__(self, tickers, start, end):
        self.calls.append((list(tickers), start, end))
        return self.make(list(tickers))


def refuse_download(tickers, start, end):
    """A download boundary that must never be reached."""
    raise AssertionError(f"network download attempted for {tickers}")


def test_fake_layouts_match_yfinance_shape():
    """Guard: the hand-built frames have yfinance's level names, fields and index name."""
    col = yf_by_column(["AAA", "BBB"])
    assert col.columns.names == ["Price", "Ticker"]
    assert set(col.columns.get_level_values(0)) == set(FIELDS)
    assert col.index.name == "Date" and col.index.tz is None
    assert list(col.index.strftime("%Y-%m-%d")) == list(SESSIONS.strftime("%Y-%m-%d"))
    assert yf_by_ticker(["AAA"]).columns.names == ["Ticker", "Price"]
    assert yf_by_column(["AAA"]).columns.nlevels == 2  # single ticker: still 2 levels
    assert str(yf_by_column(["AAA"], tz="America/New_York").index.tz) == "America/New_York"


# --- download, cache, round trip -------------------------------------------------------------

def test_first_load_downloads_once_and_writes_cache(tmp_path):
    """An uncached ticker is fetched once and written to CACHE/prices/<T>.parquet."""
    fake = FakeDownload(yf_by_column)
    store = PriceStore(cache_dir=tmp_path, download=fake, use_bundled=False)
    panel = store.load(["AAA", "BBB"])
    assert fake.calls == [(["AAA", "BBB"], None, None)]
    assert (tmp_path / "prices" / "AAA.parquet").is_file()
    assert (tmp_path / "prices" / "BBB.parquet").is_file()
    assert sorted(p.name for p in (tmp_path / "prices").iterdir()) == [
        "AAA.parquet", "AAA.parquet.sha256", "BBB.parquet", "BBB.parquet.sha256"]
    assert panel.sources == {"AAA": "yfinance", "BBB": "yfinance"}
    assert list(panel.close["AAA"]) == AAA_CLOSE
    assert list(panel.dividend["AAA"]) == AAA_DIVIDEND


def test_second_load_reads_cache_without_download(tmp_path):
    """A cached ticker is served from parquet; close and dividend survive the round trip."""
    PriceStore(cache_dir=tmp_path, download=FakeDownload(yf_by_column),
               use_bundled=False).load(["AAA", "BBB"])
    panel = PriceStore(cache_dir=tmp_path, download=refuse_download,
                       use_bundled=False).load(["AAA", "BBB"])
    assert panel.sources == {"AAA": "cache", "BBB": "cache"}
    assert list(panel.sessions.strftime("%Y-%m-%d")) == list(SESSIONS.strftime("%Y-%m-%d"))
    assert list(panel.close["AAA"]) == AAA_CLOSE
    assert list(panel.open["AAA"]) == AAA_OPEN
    assert list(panel.dividend["AAA"]) == AAA_DIVIDEND
    assert list(panel.close["BBB"]) == BBB_CLOSE
    assert not panel.close_is_adjusted.any()
    # Total return on the ex-date, by hand: (99.6 + 0.40) / 100.5 - 1.
    assert panel.returns["AAA"].loc["2025-01-08"] == pytest.approx(100.0 / 100.5 - 1)
    # Across the 2025-01-09 closure the return is one session: 100.9 / 99.6 - 1.
    assert panel.returns["AAA"].loc["2025-01-10"] == pytest.approx(100.9 / 99.6 - 1)


def test_only_missing_tickers_are_downloaded(tmp_path):
    """With AAA cached, a load of AAA and BBB asks the network for BBB only."""
    PriceStore(cache_dir=tmp_path, download=FakeDownload(yf_by_column),
               use_bundled=False).load(["AAA"])
    fake = FakeDownload(yf_by_column)
    panel = PriceStore(cache_dir=tmp_path, download=fake, use_bundled=False).load(["aaa", "BBB"])
    assert [c[0] for c in fake.calls] == [["BBB"]]
    assert panel.sources == {"AAA": "cache", "BBB": "yfinance"}


# --- layouts ---------------------------------------------------------------------------------

LAYOUTS = {
    "group_by=column": lambda tickers: yf_by_column(tickers),
    "group_by=ticker": lambda tickers: yf_by_ticker(tickers),
    "tz-aware New York index": lambda tickers: yf_by_column(tickers, tz="America/New_York"),
    "tz-aware, group_by=ticker": lambda tickers: yf_by_ticker(tickers).tz_localize(
        "America/New_York"),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layouts_normalize_to_the_same_panel(tmp_path, layout):
    """Every yfinance layout gives the same sessions, closes, opens and dividends."""
    fake = FakeDownload(LAYOUTS[layout])
    panel = PriceStore(cache_dir=tmp_path, download=fake, use_bundled=False).load(["AAA", "BBB"])
    expected_close = pd.DataFrame({"AAA": AAA_CLOSE, "BBB": BBB_CLOSE}, index=SESSIONS)
    assert list(panel.sessions) == list(SESSIONS)
    assert panel.sessions.tz is None
    pd.testing.assert_frame_equal(panel.close, expected_close, check_freq=False,
                                  check_names=False, check_index_type=False)
    assert list(panel.open["AAA"]) == AAA_OPEN
    assert list(panel.dividend["AAA"]) == AAA_DIVIDEND


@pytest.mark.parametrize("layout", ["group_by=column", "group_by=ticker",
                                    "tz-aware New York index"])
def test_single_ticker_multiindex(tmp_path, layout):
    """A one-ticker download (still a 2-level MultiIndex) normalizes the same way."""
    fake = FakeDownload(LAYOUTS[layout])
    panel = PriceStore(cache_dir=tmp_path, download=fake, use_bundled=False).load(["AAA"])
    assert panel.tickers == ["AAA"]
    assert list(panel.close["AAA"]) == AAA_CLOSE
    assert list(panel.dividend["AAA"]) == AAA_DIVIDEND


def test_missing_bar_is_nan_not_skipped(tmp_path):
    """A session with no bar for one ticker stays in the index as NaN (never forward-filled)."""
    def make(tickers):
        data = yf_by_column(tickers)
        data.loc["2025-01-07", ("Close", "BBB")] = np.nan
        return data

    panel = PriceStore(cache_dir=tmp_path, download=FakeDownload(make),
                       use_bundled=False).load(["AAA", "BBB"])
    assert list(panel.sessions) == list(SESSIONS)
    assert np.isnan(panel.close.loc["2025-01-07", "BBB"])
    assert panel.close.loc["2025-01-07", "AAA"] == 100.5
    assert panel.returns["BBB"].loc[["2025-01-07", "2025-01-08"]].isna().all()


# --- refusals --------------------------------------------------------------------------------

def test_unknown_ticker_is_an_input_error(tmp_path):
    """yfinance returns an empty frame for an unknown ticker: InputError naming it, no cache."""
    fake = FakeDownload(lambda tickers: pd.DataFrame())
    store = PriceStore(cache_dir=tmp_path, download=fake, use_bundled=False)
    with pytest.raises(InputError, match="ZZZZ"):
        store.load(["ZZZZ"])
    assert len(fake.calls) == 1
    assert not (tmp_path / "prices" / "ZZZZ.parquet").exists()


def test_unknown_ticker_beside_a_known_one(tmp_path):
    """In a multi-ticker download the unknown one is all-NaN; the error names it alone."""
    fake = FakeDownload(yf_by_column)  # the CSV has no ZZZZ rows
    store = PriceStore(cache_dir=tmp_path, download=fake, use_bundled=False)
    with pytest.raises(InputError) as info:
        store.load(["AAA", "ZZZZ"])
    reason = info.value.reason
    assert reason.startswith("no price data for ZZZZ ")
    assert not (tmp_path / "prices" / "ZZZZ.parquet").exists()


def test_offline_uncached_ticker_is_refused_without_download(tmp_path):
    """offline=True: a ticker found nowhere locally is an InputError; the fake is never called."""
    fake = FakeDownload(yf_by_column)
    store = PriceStore(cache_dir=tmp_path, offline=True, download=fake, use_bundled=False)
    with pytest.raises(InputError, match="AAA") as info:
        store.load(["AAA"])
    assert "offline" in str(info.value)
    assert fake.calls == []
    assert not (tmp_path / "prices").exists()


# --- bundled snapshot and cache location -----------------------------------------------------

def test_bundled_snapshot_needs_no_download(tmp_path):
    """ORCL and SPY come from the shipped snapshot: no download, nothing written to the cache."""
    panel = PriceStore(cache_dir=tmp_path, download=refuse_download).load(["ORCL", "spy"])
    assert panel.sources == {"ORCL": "bundled", "SPY": "bundled"}
    assert panel.dividend.loc["2023-01-09", "ORCL"] == pytest.approx(0.32)  # ORCL ex-date
    assert list(tmp_path.iterdir()) == []


def test_env_var_overrides_default_cache_dir(tmp_path, monkeypatch):
    """$BACKTEST_CACHE_DIR sets the default cache, and downloads land there."""
    env_cache = tmp_path / "env-cache"
    monkeypatch.setenv("BACKTEST_CACHE_DIR", str(env_cache))
    assert default_cache_dir() == env_cache
    store = PriceStore(download=FakeDownload(yf_by_column), use_bundled=False)
    assert store.cache_dir == env_cache
    store.load(["AAA"])
    assert (env_cache / "prices" / "AAA.parquet").is_file()


def test_default_cache_dir_fallbacks(tmp_path, monkeypatch):
    """Without the env var: $XDG_CACHE_HOME/event-backtester, else ~/.cache/event-backtester."""
    monkeypatch.delenv("BACKTEST_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "event-backtester"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "event-backtester"


def test_explicit_cache_dir_beats_env_var(tmp_path, monkeypatch):
    """PriceStore(cache_dir=...) wins over $BACKTEST_CACHE_DIR."""
    monkeypatch.setenv("BACKTEST_CACHE_DIR", str(tmp_path / "env"))
    assert PriceStore(cache_dir=tmp_path / "mine").cache_dir == tmp_path / "mine"


# --- what is asked of yfinance ---------------------------------------------------------------

def test_real_boundary_asks_yfinance_for_full_history(tmp_path, monkeypatch):
    """The default download calls yfinance.download with the documented options and a range.

    ``yf.download(start=None, end=None)`` falls back to ``period='1mo'`` (yfinance
    ``const.period_default``), far too short for a 250-session estimation window,
    and that month would then be cached for good. So either a start date or
    ``period='max'`` must be passed. yfinance.download itself is replaced: no network.
    """
    yfinance = pytest.importorskip("yfinance")
    calls = []

    def fake_download(tickers, start=None, end=None, period=None, **kwargs):
        calls.append({"tickers": tickers, "start": start, "end": end, "period": period,
                      **kwargs})
        return yf_by_column(list(tickers))

    monkeypatch.setattr(yfinance, "download", fake_download)
    panel = PriceStore(cache_dir=tmp_path, use_bundled=False).load(["AAA"])
    assert list(panel.close["AAA"]) == AAA_CLOSE
    assert len(calls) == 1
    call = calls[0]
    assert (call["auto_adjust"], call["actions"], call["group_by"]) == (False, True, "column")
    assert call["start"] is not None or call["period"] == "max", call


def test_end_date_is_inclusive_for_downloaded_tickers(tmp_path):
    """load(start, end) is documented as [start, end]; yfinance's ``end`` is exclusive.

    The fake honours yfinance's documented semantics (start inclusive, end
    exclusive), so asking for end=2025-01-10 must still return the 2025-01-10 bar,
    as it does for bundled tickers.
    """
    def make_range(tickers, start, end):
        data = yf_by_column(tickers)
        keep = np.ones(len(data), dtype=bool)
        if start is not None:
            keep &= data.index >= pd.Timestamp(start)
        if end is not None:
            keep &= data.index < pd.Timestamp(end)
        return data[keep]

    calls = []

    def fake(tickers, start, end):
        calls.append((tickers, start, end))
        return make_range(list(tickers), start, end)

    panel = PriceStore(cache_dir=tmp_path, download=fake, use_bundled=False).load(
        ["AAA"], start="2025-01-06", end="2025-01-10")
    assert len(calls) == 1
    assert panel.sessions[-1] == pd.Timestamp("2025-01-10")
    assert panel.close.loc["2025-01-10", "AAA"] == 100.9


def test_cache_write_is_atomic_no_temp_files(tmp_path):
    """After a download the cache folder holds only the final parquet files."""
    PriceStore(cache_dir=tmp_path, download=FakeDownload(yf_by_column),
               use_bundled=False).load(["AAA", "BBB"])
    names = sorted(p.name for p in (tmp_path / "prices").iterdir())
    assert names == ["AAA.parquet", "AAA.parquet.sha256", "BBB.parquet", "BBB.parquet.sha256"]
    assert [*COLUMNS, *EXTRA_COLUMNS, "source"] == list(
        pd.read_parquet(tmp_path / "prices" / "AAA.parquet").columns)
