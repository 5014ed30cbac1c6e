"""The bar store: the bar cache, and yfinance's intraday history through a fake at the
download boundary (never the network).

The fake returns frames laid out the way yfinance 1.x builds
``yf.download(tickers, interval="1m", auto_adjust=False, group_by="column")``
(checked against its ``scrapers/history.py`` and ``multi.py``): per ticker a frame of
``Open, High, Low, Close, Adj Close, Volume`` (Volume int64) indexed by the bar open
time in the exchange's timezone, named ``Datetime``; the tickers reindexed to the union
of their indexes, concatenated as ``(Ticker, Price)`` and swapped to ``(Price, Ticker)``
sorted by field; an unknown ticker is an empty frame with those columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.intraday.bar_store import BarStore
from backtest.data.yahoo import from_yfinance_intraday
from events.errors import ConfigError, PriceDataError
from tests.minute_bars import minute_bars

NOW = pd.Timestamp("2026-04-30 21:00", tz="UTC")  # Thursday, after the close
YF_FIELDS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


@pytest.fixture(scope="module")
def pool() -> pd.DataFrame:
    """What Yahoo 'has': 1m bars of SPY, ORCL and AMD over April 2026."""
    return minute_bars(["ORCL", "AMD"], "2026-04-01", "2026-04-30", seed=11)


def _history(part: pd.DataFrame) -> pd.DataFrame:
    """One ticker as yfinance's Ticker.history(interval="1m") returns it."""
    if part.empty:  # yfinance's utils.empty_df()
        return pd.DataFrame(columns=YF_FIELDS, dtype=float,
                            index=pd.DatetimeIndex([], tz="America/New_York", name="Datetime"))
    idx = pd.DatetimeIndex(part["timestamp"]).tz_convert("America/New_York")
    frame = pd.DataFrame({"Open": part["open"].to_numpy(), "High": part["high"].to_numpy(),
                          "Low": part["low"].to_numpy(), "Close": part["close"].to_numpy(),
                          "Adj Close": part["close"].to_numpy(),
                          "Volume": part["volume"].to_numpy().astype(np.int64)}, index=idx)
    frame.index.name = "Datetime"
    return frame


def yf_intraday(long: pd.DataFrame, tickers: list[str]) -> pd.DataFrame:
    """yfinance's multi.py: union index, concat as (Ticker, Price), swap to (Price, Ticker)."""
    frames = {t: _history(long[long["ticker"] == t]) for t in tickers}
    idx = None
    for df in frames.values():
        if not df.empty:
            idx = df.index if idx is None else idx.union(df.index)
    if idx is None:
        idx = pd.DatetimeIndex([], tz="America/New_York", name="Datetime")
    frames = {k: v.reindex(idx) for k, v in frames.items()}
    data = pd.concat(frames.values(), axis=1, sort=True, keys=frames.keys(),
                     names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


class FakeYahoo:
    """``download(tickers, interval, start, end)`` serving the pool; records the calls."""

    def __init__(self, pool: pd.DataFrame, extra: pd.DataFrame | None = None):
        self.pool = pool if extra is None else pd.concat([pool, extra], ignore_index=True)
        self.calls: list[tuple[list[str], str, str, str]] = []

    def __call__(self, tickers, interval, start, end):
        self.calls.append((list(tickers), interval, start, end))
        local = pd.DatetimeIndex(self.pool["timestamp"]).tz_convert("America/New_York")
        day = local.normalize().tz_localize(None)
        rows = self.pool[(day >= pd.Timestamp(start)) & (day < pd.Timestamp(end))]
        return yf_intraday(rows, tickers)


def _store(tmp_path, fake=None, **kw) -> BarStore:
    warnings: list[str] = []
    store = BarStore(tmp_path / "cache", download=fake, now=lambda: NOW, sleep=lambda s: None,
                     warn=warnings.append, **kw)
    store.warnings = warnings
    return store


def _wide(long: pd.DataFrame, field: str = "close") -> pd.DataFrame:
    return long.pivot(index="timestamp", columns="ticker", values=field).rename_axis(
        index=None, columns=None)


def _between(long: pd.DataFrame, first: str, last: str) -> pd.DataFrame:
    day = pd.DatetimeIndex(long["timestamp"]).tz_convert("America/New_York").normalize()
    day = day.tz_localize(None)
    return long[(day >= pd.Timestamp(first)) & (day <= pd.Timestamp(last))]


# --- the yfinance layout -----------------------------------------------------------------

def test_yfinance_intraday_layout_normalizes_to_utc_bars(pool):
    day = _between(pool, "2026-04-28", "2026-04-28")
    raw = yf_intraday(day, ["ORCL", "SPY", "NOPE"])
    assert raw.index.name == "Datetime" and str(raw.index.tz) == "America/New_York"
    assert raw.columns.names == ["Price", "Ticker"]
    long = from_yfinance_intraday(raw, ["ORCL", "SPY", "NOPE"])
    assert str(long["timestamp"].dt.tz) == "UTC"
    assert set(long["ticker"]) == {"ORCL", "SPY"}  # NOPE: all NaN, left out
    assert long["timestamp"].min() == pd.Timestamp("2026-04-28 13:30", tz="UTC")  # 09:30 EDT
    want = _wide(day[day["ticker"].isin(["ORCL", "SPY"])])
    got = _wide(long)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    np.testing.assert_array_equal(got.index.asi8, want.index.as_unit("ns").asi8)


def test_single_ticker_flat_columns(pool):
    day = _between(pool, "2026-04-28", "2026-04-28")
    raw = yf_intraday(day, ["ORCL"]).droplevel(1, axis=1)  # multi_level_index=False
    long = from_yfinance_intraday(raw, ["ORCL"])
    assert len(long) == 390 and (long["ticker"] == "ORCL").all()


# --- fetch: Yahoo's limits ----------------------------------------------------------------

def test_1m_requests_are_chunked_and_cached_in_utc(tmp_path, pool):
    fake = FakeYahoo(pool)
    store = _store(tmp_path, fake)
    counts = store.fetch(["ORCL", "SPY"], "1m", "2026-04-10", "2026-04-30")
    spans = [(s, e) for _, _, s, e in fake.calls]
    assert spans == [("2026-04-10", "2026-04-17"), ("2026-04-17", "2026-04-24"),
                     ("2026-04-24", "2026-05-01")]
    assert all(pd.Timestamp(e) - pd.Timestamp(s) <= pd.Timedelta(days=7) for s, e in spans)
    want = _between(pool, "2026-04-10", "2026-04-30")
    assert counts == {"ORCL": 15 * 390, "SPY": 15 * 390}
    stored = pd.read_parquet(store.cache("1m").path("ORCL"))
    assert str(stored["timestamp"].dt.tz) == "UTC"
    orcl = want[want["ticker"] == "ORCL"]
    np.testing.assert_array_equal(stored["close"].to_numpy(), orcl["close"].to_numpy())
    assert (stored["source"] == "yfinance").all() and not stored["extended"].any()


def test_start_beyond_the_limit_is_refused_naming_it(tmp_path, pool):
    fake = FakeYahoo(pool)
    store = _store(tmp_path, fake)
    with pytest.raises(ConfigError) as info:
        store.fetch(["ORCL"], "1m", "2026-03-20")
    msg = str(info.value)
    assert "\n" not in msg
    assert "yfinance serves 1m bars for the last 30 days only" in msg
    assert "earliest start today is 2026-04-01" in msg
    with pytest.raises(ConfigError, match="last 60 days only: the earliest start today is "
                                          "2026-03-02"):
        store.fetch(["ORCL"], "5m", "2026-03-01")
    with pytest.raises(ConfigError, match="yfinance has no 10m bars"):
        store.fetch(["ORCL"], "10m", "2026-04-20")
    assert fake.calls == []


def test_default_start_is_the_limit_and_5m_is_one_request(tmp_path, pool):
    fake = FakeYahoo(pool)
    _store(tmp_path, fake).fetch(["SPY"], "5m")
    assert [c[2:] for c in fake.calls] == [("2026-03-02", "2026-05-01")]
    assert fake.calls[0][1] == "5m"


def test_bars_outside_the_session_and_still_forming_are_left_out(tmp_path, pool):
    day = _between(pool, "2026-04-29", "2026-04-30")
    post = day[day["ticker"] == "ORCL"].tail(1).assign(
        timestamp=pd.Timestamp("2026-04-29 21:30", tz="UTC"))  # 17:30 EDT, post-market
    fake = FakeYahoo(day, extra=post)
    now = pd.Timestamp("2026-04-30 15:00:30", tz="UTC")  # the 15:00 bar is still forming
    store = BarStore(tmp_path / "c", download=fake, now=lambda: now, warn=(w := []).append)
    counts = store.fetch(["ORCL"], "1m", "2026-04-29", "2026-04-30")
    assert counts == {"ORCL": 390 + 90}  # 2026-04-30 13:30 .. 14:59 UTC
    assert len(w) == 1 and "left out" in w[0]
    bars = store.load(["ORCL"], "1m")
    assert bars.close["ORCL"].last_valid_index() == pd.Timestamp("2026-04-30 14:59", tz="UTC")


# --- load ---------------------------------------------------------------------------------

def test_load_reads_the_cache_first_then_yfinance(tmp_path, pool):
    fake = FakeYahoo(pool)
    store = _store(tmp_path, fake)
    store.import_frame(_between(pool[pool["ticker"] == "SPY"], "2026-04-27", "2026-04-28"),
                       "1m", "import:test")
    bars = store.load(["ORCL", "SPY"], "1m", "2026-04-27", "2026-04-28")
    assert bars.tickers == ["ORCL", "SPY"]
    assert bars.sources == {"ORCL": "yfinance", "SPY": "cache"}
    assert [c[0] for c in fake.calls] == [["ORCL"]]
    want = _wide(_between(pool[pool["ticker"].isin(["ORCL", "SPY"])], "2026-04-27",
                          "2026-04-28"))
    np.testing.assert_array_equal(bars.close[["ORCL", "SPY"]].to_numpy(), want.to_numpy())
    again = _store(tmp_path, FakeYahoo(pool))
    again.load(["ORCL", "SPY"], "1m", "2026-04-27", "2026-04-28")
    assert again._download.calls == []  # both cached now


def test_ticker_found_nowhere_names_it_and_where_it_looked(tmp_path, pool):
    store = _store(tmp_path, offline=True)
    store.import_frame(pool[pool["ticker"] == "SPY"], "1m", "import:test")
    with pytest.raises(PriceDataError) as info:
        store.load(["SPY", "NVDA"], "1m")
    msg = str(info.value)
    assert msg == (f"tickers: no 1m bars for NVDA (looked in the cache "
                   f"{tmp_path / 'cache' / 'bars' / '1m'}; offline mode)")
    bars = store.load(["SPY", "NVDA"], "1m", optional=["NVDA"])
    assert bars.tickers == ["SPY"]
    assert store.warnings == ["no 1m bars for NVDA (offline mode): left out"]


def test_load_beyond_yahoos_limit_says_so(tmp_path, pool):
    fake = FakeYahoo(pool)
    with pytest.raises(PriceDataError, match=r"no 1m bars for ORCL .*not from yfinance: "
                                             r"yfinance serves 1m bars for the last 30 days"):
        _store(tmp_path, fake).load(["ORCL"], "1m", "2026-01-05", "2026-01-06")


def test_import_merges_and_new_rows_win(tmp_path, pool):
    store = _store(tmp_path)
    spy = pool[pool["ticker"] == "SPY"]
    first = _between(spy, "2026-04-27", "2026-04-28")
    store.import_frame(first, "1m", "import:a")
    second = _between(spy, "2026-04-28", "2026-04-29").assign(close=lambda f: f["close"] * 2,
                                                              high=lambda f: f["high"] * 2)
    counts = store.import_frame(second, "1m", "import:b")
    assert counts == {"SPY": 3 * 390}
    cached = store.cache("1m").read("SPY")
    assert cached["timestamp"].is_monotonic_increasing
    day = pd.DatetimeIndex(cached["timestamp"]).tz_convert("America/New_York").day
    np.testing.assert_array_equal(cached["close"].to_numpy()[day == 27],
                                  first["close"].to_numpy()[:390])
    np.testing.assert_array_equal(cached["close"].to_numpy()[day == 28],
                                  second["close"].to_numpy()[:390])
    assert set(cached.loc[day == 28, "source"]) == {"import:b"}


def test_corrupt_cache_file_is_never_read(tmp_path, pool):
    store = _store(tmp_path, offline=True)
    store.import_frame(_between(pool, "2026-04-28", "2026-04-28"), "1m", "import:test")
    path = store.cache("1m").path("ORCL")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert store.cache("1m").read("ORCL") is None
    with pytest.raises(PriceDataError, match="no 1m bars for ORCL"):
        store.load(["ORCL"], "1m")
    assert "is corrupt" in store.warnings[0] and "cannot rebuild it offline" in store.warnings[0]
    info = store.info()
    assert info.set_index("ticker").loc["ORCL", "status"] == "corrupt"
    # online, the file is downloaded again and the good copy served
    online = _store(tmp_path, FakeYahoo(pool))
    bars = online.load(["ORCL"], "1m", "2026-04-28", "2026-04-28")
    np.testing.assert_array_equal(
        bars.close["ORCL"].to_numpy(),
        _between(pool[pool["ticker"] == "ORCL"], "2026-04-28", "2026-04-28")["close"])


def test_info_lists_bars_in_exchange_time(tmp_path, pool):
    store = _store(tmp_path)
    store.import_frame(_between(pool[pool["ticker"] == "AMD"], "2026-04-28", "2026-04-29"),
                       "1m", "import:amd.csv")
    info = store.info()
    assert list(info.columns) == ["interval", "ticker", "status", "first", "last", "bars",
                                  "extended", "source", "sha256"]
    row = info.iloc[0]
    assert (row["interval"], row["ticker"], row["status"], row["bars"]) == ("1m", "AMD", "ok",
                                                                           780)
    assert row["first"] == "2026-04-28 09:30 America/New_York (13:30 UTC)"
    assert row["last"] == "2026-04-29 15:59 America/New_York (19:59 UTC)"
    assert row["source"] == "import:amd.csv"
