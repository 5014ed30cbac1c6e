"""Tests of total returns, total-return prices and the bundled price snapshot.

Expected values are hard-coded raw prices, hand-written return formulas, or
published market moves; never the output of the function under test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.data.panel import PricePanel
from backtest.data.returns import total_return_prices, total_returns
from backtest.data.store import PriceStore, bundled_path
from events.timing import exchange_calendar


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return PriceStore(cache_dir=tmp_path_factory.mktemp("cache"), offline=True)


@pytest.fixture(scope="module")
def panel(store):
    """All 24 bundled tickers."""
    return store.load(store.available())


def _hand_total_returns(close: np.ndarray, dividend: np.ndarray) -> np.ndarray:
    """``(C_t + D_t) / C_{t-1} - 1`` with an explicit loop (NaN where a close is missing)."""
    out = np.full(len(close), np.nan)
    for t in range(1, len(close)):
        if not (math.isnan(close[t]) or math.isnan(close[t - 1])):
            out[t] = (close[t] + dividend[t]) / close[t - 1] - 1.0
    return out


# --------------------------------------------------------------------------------------
# 2a. ex-dividend day
# --------------------------------------------------------------------------------------


def test_orcl_ex_dividend_total_return(panel):
    """ORCL went ex a $0.50 dividend on 2026-04-09: the total return adds it back."""
    # Raw split-adjusted closes and the dividend as stored in backtest/data/prices.parquet,
    # built from SungKyu-Kim39/BackTester39 data/ORCL.csv and data/ORCL_dividends.csv
    # (commit e57a932da939df66be5288b1041a77376778d758).
    close_0408, close_0409, div_0409 = 143.66000366210938, 137.86000061035156, 0.5
    assert panel.close.loc["2026-04-08", "ORCL"] == close_0408
    assert panel.close.loc["2026-04-09", "ORCL"] == close_0409
    assert panel.dividend.loc["2026-04-09", "ORCL"] == div_0409
    expected = (close_0409 + div_0409) / close_0408 - 1.0
    assert panel.returns.loc["2026-04-09", "ORCL"] == pytest.approx(expected, abs=1e-15)
    # ... which differs from the price-only return by exactly D / C_{t-1}.
    price_only = close_0409 / close_0408 - 1.0
    assert expected - price_only == pytest.approx(div_0409 / close_0408, abs=1e-15)


def test_total_returns_match_hand_loop_everywhere(panel):
    """panel.returns equals the hand loop for every ticker and session (NaN where listed
    later), so no dividend is dropped or misplaced."""
    for t in panel.tickers:
        ref = _hand_total_returns(panel.close[t].to_numpy(), panel.dividend[t].to_numpy())
        np.testing.assert_allclose(panel.returns[t].to_numpy(), ref, rtol=1e-14, atol=0,
                                   equal_nan=True, err_msg=t)


def test_total_returns_equal_the_frame_formula_bit_for_bit():
    """On random closes with NaN runs, a zero close, and a dividend frame with other labels
    (missing cells, a column close lacks, rows in another order), the array form equals the
    frame arithmetic ``(C + D.reindex_like(C).fillna(0)) / C.shift(1) - 1`` exactly and the
    hand loop to rounding; without dividends it equals ``C / C.shift(1) - 1``."""
    rng = np.random.default_rng(7)
    idx = pd.date_range("2024-01-02", periods=60, freq="B", name="date")
    close = pd.DataFrame(rng.uniform(5, 50, (60, 4)), index=idx, columns=list("ABCD"))
    close.iloc[10:14, 1] = np.nan
    close.iloc[:5, 2] = np.nan
    close.iloc[30, 3] = 0.0  # the next day's return is inf, as the frame arithmetic gives
    div = pd.DataFrame(0.0, index=idx, columns=list("ABCDE"))
    div.iloc[20, 0], div.iloc[40, 1], div.iloc[7, 3] = 0.5, 0.25, np.nan
    div = div.iloc[::-1]
    got = total_returns(close, div)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame = (close + div.reindex_like(close).fillna(0.0)) / close.shift(1) - 1.0
        plain = close / close.shift(1) - 1.0
    pd.testing.assert_frame_equal(got, frame, check_exact=True)
    assert np.isinf(got.iloc[31, 3])
    pd.testing.assert_frame_equal(total_returns(close), plain, check_exact=True)
    aligned = div.reindex_like(close).fillna(0.0)
    for t in close.columns:
        with np.errstate(divide="ignore"):
            ref = _hand_total_returns(close[t].to_numpy(), aligned[t].to_numpy())
        np.testing.assert_allclose(got[t].to_numpy(), ref, rtol=1e-14, equal_nan=True)
    assert total_returns(close.iloc[:0]).shape == (0, 4)


# --------------------------------------------------------------------------------------
# 2b. total-return prices
# --------------------------------------------------------------------------------------


def test_total_return_prices_on_bundled_data(panel):
    """Adjusted close ratio = 1 + hand total return every day; last adjusted close = last
    raw close; adjusted open/close = raw open/close."""
    adj_open, adj_close = total_return_prices(panel.open, panel.close, panel.dividend)
    for t in panel.tickers:
        c, d = panel.close[t].to_numpy(), panel.dividend[t].to_numpy()
        ac, ao, o = adj_close[t].to_numpy(), adj_open[t].to_numpy(), panel.open[t].to_numpy()
        r = _hand_total_returns(c, d)
        ok = np.isfinite(r)
        assert ok.sum() > 250, t
        np.testing.assert_allclose(ac[1:][ok[1:]] / ac[:-1][ok[1:]], 1.0 + r[1:][ok[1:]],
                                   rtol=1e-12, err_msg=t)
        last = np.flatnonzero(np.isfinite(c))[-1]
        assert ac[last] == pytest.approx(c[last], rel=1e-12), t
        has_open = np.isfinite(o) & np.isfinite(c)
        if has_open.any():
            np.testing.assert_allclose(ao[has_open] / ac[has_open], o[has_open] / c[has_open],
                                       rtol=1e-12, err_msg=t)
        # A ticker that paid dividends has a lower adjusted than raw close at the start.
        first = np.flatnonzero(np.isfinite(c))[0]
        if d[first + 1:].sum() > 0:
            assert ac[first] < c[first], t


def test_total_return_prices_chain_across_a_missing_close():
    """Hand-computed 4-day example with a dividend and a missing close: the adjusted close
    chains from the last valid close, ends at the raw close and stays NaN on the gap."""
    idx = pd.date_range("2024-01-02", periods=5, freq="B")
    close = pd.DataFrame({"X": [10.0, 11.0, np.nan, 12.0, 12.5]}, index=idx)
    div = pd.DataFrame({"X": [0.0, 0.0, 0.0, 0.5, 0.0]}, index=idx)
    open_ = pd.DataFrame({"X": [9.0, 10.5, np.nan, 11.5, 12.0]}, index=idx)
    adj_open, adj_close = total_return_prices(open_, close, div)
    # growth: day1 1.1, day3 (12+0.5)/11, day4 12.5/12; anchored so day4 = 12.5
    g = [1.0, 1.1, np.nan, 1.1 * 12.5 / 11.0, 1.1 * 12.5 / 11.0 * 12.5 / 12.0]
    k = 12.5 / g[4]
    expected = [v * k for v in g]
    np.testing.assert_allclose(adj_close["X"].to_numpy(), expected, rtol=1e-14, equal_nan=True)
    np.testing.assert_allclose(adj_open["X"].to_numpy(),
                               [9.0 * expected[0] / 10.0, 10.5 * expected[1] / 11.0, np.nan,
                                11.5 * expected[3] / 12.0, 12.0], rtol=1e-14, equal_nan=True)
    # total_returns itself never spans the gap.
    r = total_returns(close, div)["X"].to_numpy()
    assert np.isnan(r[2]) and np.isnan(r[3])
    assert r[1] == pytest.approx(0.1, abs=1e-15)
    assert r[4] == pytest.approx(12.5 / 12.0 - 1.0, abs=1e-15)


# --------------------------------------------------------------------------------------
# 2c. bundled snapshot facts
# --------------------------------------------------------------------------------------


def test_snapshot_file_and_provenance():
    """The parquet is small, documented beside it, and names both source commits."""
    path = bundled_path()
    assert path.exists()
    assert path.stat().st_size < 3 * 1024 * 1024
    sources = path.parent / "SOURCES.md"
    assert sources.exists()
    text = sources.read_text(encoding="utf-8")
    assert "e57a932da939df66be5288b1041a77376778d758" in text
    assert "096a2ae029378abaa28323ad4fde7a1aba803efb" in text


def test_snapshot_tickers_and_sessions(store, panel):
    """24 tickers, 2023-01-03..2026-05-29, and SPY has a close on every XNYS session."""
    assert len(store.available()) == 24
    assert len(panel.tickers) == 24
    raw = pd.read_parquet(bundled_path())
    dates = pd.to_datetime(raw["date"])
    assert dates.min() == pd.Timestamp("2023-01-03")
    assert dates.max() == pd.Timestamp("2026-05-29")
    sessions = exchange_calendar().sessions_in_range("2023-01-03", "2026-05-29")
    spy = pd.DatetimeIndex(dates[raw["ticker"] == "SPY"]).sort_values()
    assert len(spy) == len(sessions)
    assert (spy == pd.DatetimeIndex(sessions, freq=None)).all()
    assert panel.close["SPY"].notna().all()
    assert len(panel.sessions) == len(sessions)


@pytest.mark.parametrize("ticker, date, move", [
    ("NVDA", "2025-01-27", -0.170),  # DeepSeek sell-off
    ("ORCL", "2025-09-10", 0.359),  # RPO disclosure
    ("ORCL", "2025-12-11", -0.108),  # fiscal Q2 results
    ("CRWV", "2026-04-28", -0.058),  # OpenAI-targets report
])
def test_snapshot_known_moves(panel, ticker, date, move):
    """Widely reported one-day moves are in the data (tolerance 0.1 percentage point)."""
    c = panel.close[ticker]
    pos = panel.sessions.get_loc(pd.Timestamp(date))
    raw = c.iloc[pos] / c.iloc[pos - 1] - 1.0
    assert raw == pytest.approx(move, abs=0.001)


# --------------------------------------------------------------------------------------
# 2d. data hash
# --------------------------------------------------------------------------------------


def test_data_hash_is_the_sha256_of_the_prices_row_by_row(tmp_path):
    """The hash (fed in pieces of sessions) is SHA-256 over, per frame: its name, its
    comma-joined tickers, its sessions as int64 ns and its prices in row-major order,
    worked out here in one piece; a frame shorter than a piece and one not a multiple
    of it hash the same way."""
    import hashlib

    full = PriceStore(cache_dir=tmp_path, offline=True).load(["ORCL", "SPY", "CRWV"])
    for rows in (len(full.sessions), 5, 130):
        frames = {n: getattr(full, n).iloc[:rows] for n in ("open", "close", "dividend")}
        panel = PricePanel(frames["open"], frames["close"], frames["dividend"],
                           full.close_is_adjusted, full.sources)
        h = hashlib.sha256()
        for name, frame in frames.items():
            h.update(name.encode() + ",".join(frame.columns).encode())
            h.update(frame.index.as_unit("ns").asi8.tobytes())
            h.update(np.array(frame.to_numpy(), dtype="float64", order="C").tobytes())
        assert panel.data_hash == h.hexdigest()[:16]
    volume = full.volume
    assert len(volume) > 64 and volume.notna().any().any()
    h = hashlib.sha256(b"volume" + ",".join(volume.columns).encode())
    h.update(volume.index.as_unit("ns").asi8.tobytes())
    h.update(np.array(volume.to_numpy(), dtype="float64", order="C").tobytes())
    assert full.volume_hash == h.hexdigest()[:16]


def test_data_hash_stable_and_sensitive(tmp_path):
    """Two independent loads hash equal; changing one close (or one dividend) changes it."""
    tickers = ["ORCL", "SPY", "CRWV"]
    a = PriceStore(cache_dir=tmp_path, offline=True).load(tickers)
    b = PriceStore(cache_dir=tmp_path, offline=True).load(tickers)
    assert a.data_hash == b.data_hash
    assert len(a.data_hash) == 16

    close = a.close.copy()
    assert np.isfinite(close["ORCL"].iloc[100])
    close.iloc[100, close.columns.get_loc("ORCL")] *= 1.0001
    changed = PricePanel(a.open, close, a.dividend, a.close_is_adjusted, a.sources)
    assert changed.data_hash != a.data_hash

    div = a.dividend.copy()
    div.iloc[200, div.columns.get_loc("SPY")] += 0.01
    changed_div = PricePanel(a.open, a.close, div, a.close_is_adjusted, a.sources)
    assert changed_div.data_hash != a.data_hash
