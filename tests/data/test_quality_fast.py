"""The vectorised data-quality checks give exactly the rows of the original per-ticker loops.

``_reference_*`` below are verbatim copies of :mod:`backtest.data.quality` before it was
vectorised (slow but obvious), with one rule added since, written the same slow way: a
one-day return beyond five-fold up or 80% down is a ``bad_tick`` wherever it is, and
is then not also a ``big_move``. Random panels plant NaN runs (inside the listed range,
before listing, after delisting, whole columns), non-positive opens and closes, big
moves, and pairs that cover some moves, start before the panel, or name tickers the
panel lacks; the fast module must return the same rows, in the same order, with the
same text and dtypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data.panel import PricePanel
from backtest.data.quality import (
    COLUMNS,
    big_moves,
    check_panel,
    late_listings,
    missing_sessions,
    nonpositive_prices,
)
from tests.panels import make_panel, sessions

# --- slow reference: the module as it was before vectorising --------------------------------


def _rows(check, ticker, dates, detail):
    return [{"check": check, "ticker": ticker, "date": d, "detail": detail} for d in dates]


def _reference_missing_sessions(panel, nan_run=5):
    out = []
    for ticker in panel.tickers:
        close = panel.close[ticker]
        valid = close.notna().to_numpy()
        if not valid.any():
            out += _rows("missing", ticker, [None], "no prices at all")
            continue
        first, last = np.flatnonzero(valid)[[0, -1]]
        gap = ~valid[first:last + 1]
        if not gap.any():
            continue
        dates = close.index[first:last + 1][gap]
        out += _rows("missing", ticker, [dates[0].date()],
                     f"{gap.sum()} sessions without a close (first {dates[0].date()})")
        edges = np.diff(np.concatenate([[0], gap.astype(int), [0]]))
        for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if e - s >= nan_run:
                idx = close.index[first:last + 1]
                out += _rows("nan_run", ticker, [idx[s].date()],
                             f"{e - s} consecutive missing sessions {idx[s].date()} to "
                             f"{idx[e - 1].date()}")
    return out


def _reference_nonpositive_prices(panel):
    out = []
    for name, frame in (("close", panel.close), ("open", panel.open)):
        bad = frame <= 0
        for ticker in frame.columns[bad.any()]:
            dates = frame.index[bad[ticker].to_numpy()]
            out += _rows("nonpositive", ticker, [dates[0].date()],
                         f"{len(dates)} non-positive {name} prices (first {dates[0].date()})")
    return out


def _reference_bad_ticks(panel):
    out = []
    rets = panel.returns
    for i in range(len(rets)):
        for j, ticker in enumerate(rets.columns):
            v = rets.iat[i, j]
            if v < -0.8 or v > 4.0:
                before = panel.close[ticker].iloc[:i].dropna()
                out.append({"check": "bad_tick", "ticker": ticker,
                            "date": rets.index[i].date(),
                            "detail": f"one-day return {v:+,.0%} (close {before.iloc[-1]:.4g} "
                                      f"-> {panel.close[ticker].iat[i]:.4g}): a price error, "
                                      f"even if an event is near"})
    return out


def _reference_big_moves(panel, pairs, window, threshold=0.25):
    rets = panel.returns
    r = rets.to_numpy()
    hits = np.abs(np.nan_to_num(r)) > threshold
    with np.errstate(invalid="ignore"):
        hits &= ~((r < -0.8) | (r > 4.0))
    ticks = _reference_bad_ticks(panel)
    if not hits.any():
        return ticks
    a, b = window
    n = len(rets)
    near = np.zeros((n + 1, r.shape[1]), dtype=np.int32)
    col = {t: j for j, t in enumerate(rets.columns)}
    known = pairs[pairs["ticker"].isin(col)]
    if len(known):
        cols = known["ticker"].map(col).to_numpy()
        pos = known["pos0"].to_numpy()
        np.add.at(near, (np.clip(pos + a, 0, n), cols), 1)
        np.add.at(near, (np.clip(pos + b + 1, 0, n), cols), -1)
    near = np.cumsum(near, axis=0)[:n] > 0
    out = []
    for i, j in zip(*np.nonzero(hits & ~near)):
        out.append({"check": "big_move", "ticker": rets.columns[j],
                    "date": rets.index[i].date(),
                    "detail": f"one-day return {r[i, j]:+.1%} with no calendar event "
                              f"nearby (possible bad tick)"})
    return ticks + out


def _reference_late_listings(panel, pairs, estimation_start):
    if pairs.empty:
        return []
    valid = panel.close.notna().to_numpy()
    first = np.where(valid.any(axis=0), valid.argmax(axis=0), -1)
    col = {t: j for j, t in enumerate(panel.tickers)}
    known = pairs[pairs["ticker"].isin(col)]
    first_pos = first[known["ticker"].map(col).to_numpy()]
    start_pos = known["pos0"].to_numpy() + estimation_start
    late = (first_pos >= 0) & (first_pos > np.maximum(start_pos, 0)) | (start_pos < 0)
    out = []
    for row, f, sp in zip(known[late].itertuples(), first_pos[late], start_pos[late]):
        listed, start = panel.sessions[f], panel.sessions[max(sp, 0)]
        out.append({"check": "late_listing", "ticker": row.ticker, "date": listed.date(),
                    "detail": f"{row.event_id}: first price {listed.date()} is after the "
                              f"estimation window starts ({start.date()})"})
    return out


def _reference_check_panel(panel, pairs=None, window=(-5, 10), estimation_start=-260,
                           move_threshold=0.25, nan_run=5):
    pairs = pairs if pairs is not None else pd.DataFrame(columns=["event_id", "ticker", "pos0"])
    rows = (_reference_missing_sessions(panel, nan_run) + _reference_nonpositive_prices(panel)
            + _reference_big_moves(panel, pairs, window, move_threshold)
            + _reference_late_listings(panel, pairs, estimation_start))
    return pd.DataFrame(rows, columns=COLUMNS)


# --- random panels with planted problems ------------------------------------------------------

IDX = sessions("2024-01-02", 140)


def random_case(seed: int, n_tickers: int = 40, n_pairs: int = 60):
    """A panel of ``n_tickers`` random walks with planted problems, and random pairs."""
    rng = np.random.default_rng(seed)
    n = len(IDX)
    close, open_, jumps = {}, {}, []
    for k in range(n_tickers):
        c = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
        if rng.random() < 0.3:  # one or two big jumps, up or down
            for at in rng.integers(1, n, rng.integers(1, 3)):
                c[at:] *= rng.choice([0.5, 0.7, 1.3, 1.6])
                jumps.append((f"T{k:02d}", at))
        o = c * (1 + rng.normal(0, 0.005, n))
        if rng.random() < 0.15:  # zero or negative closes and opens
            c[rng.integers(0, n, rng.integers(1, 4))] = rng.choice([0.0, -1.0])
        if rng.random() < 0.15:
            o[rng.integers(0, n, rng.integers(1, 4))] = 0.0
        if rng.random() < 0.25:  # late listing
            c[:rng.integers(1, n // 2)] = np.nan
        if rng.random() < 0.2:  # delisting
            c[n - rng.integers(1, n // 3):] = np.nan
        for _ in range(rng.integers(0, 4)):  # runs of 1..9 missing closes anywhere
            s = rng.integers(0, n)
            c[s:s + rng.integers(1, 10)] = np.nan
        if rng.random() < 0.05:  # no prices at all
            c[:] = np.nan
        close[f"T{k:02d}"] = c.tolist()
        open_[f"T{k:02d}"] = o.tolist()
    panel = make_panel(IDX, close=close, open_=open_)
    tickers = [*close, "ZZZ"]  # ZZZ is not in the panel
    # random pairs, plus pairs with day 0 around the jumps (inside, at the edges of and
    # just outside the event windows), in random order
    near = [(t, int(at + rng.integers(-12, 13))) for t, at in jumps for _ in range(2)]
    pairs = pd.DataFrame({
        "ticker": [*rng.choice(tickers, n_pairs), *(t for t, _ in near)],
        "pos0": [*rng.integers(0, n, n_pairs), *(np.clip(p, 0, n - 1) for _, p in near)],
    }).sample(frac=1, random_state=seed).reset_index(drop=True)
    pairs.insert(0, "event_id", [f"ev{i}" for i in range(len(pairs))])
    return panel, pairs


SEEDS = range(12)


@pytest.mark.parametrize("seed", SEEDS)
def test_check_panel_matches_reference_on_random_panels(seed):
    panel, pairs = random_case(seed)
    for kwargs in ({}, {"window": (-3, 5), "estimation_start": -60, "move_threshold": 0.2,
                        "nan_run": 3}):
        expected = _reference_check_panel(panel, pairs, **kwargs)
        got = check_panel(panel, pairs, **kwargs)
        assert not expected.empty
        pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_each_check_matches_reference_rows(seed):
    panel, pairs = random_case(seed)
    assert missing_sessions(panel, 4) == _reference_missing_sessions(panel, 4)
    assert nonpositive_prices(panel) == _reference_nonpositive_prices(panel)
    assert (big_moves(panel, pairs, (-2, 4), 0.15)
            == _reference_big_moves(panel, pairs, (-2, 4), 0.15))
    # a negative threshold flags NaN returns too (the reference counted NaN as 0)
    assert (big_moves(panel, pairs, (-5, 10), -0.01)
            == _reference_big_moves(panel, pairs, (-5, 10), -0.01))
    # above 0.8 an extreme return need not be a big move: both looked for in every cell
    assert (big_moves(panel, pairs, (-2, 4), 1.5)
            == _reference_big_moves(panel, pairs, (-2, 4), 1.5))
    assert (late_listings(panel, pairs, -80)
            == _reference_late_listings(panel, pairs, -80))


def test_check_panel_matches_reference_without_pairs_and_on_clean_panels():
    panel, _ = random_case(99)
    pd.testing.assert_frame_equal(check_panel(panel), _reference_check_panel(panel))
    clean = make_panel(IDX, close={"A": [100.0 + k for k in range(len(IDX))]})
    empty_pairs = pd.DataFrame(columns=["event_id", "ticker", "pos0"])
    pd.testing.assert_frame_equal(check_panel(clean, empty_pairs),
                                  _reference_check_panel(clean, empty_pairs))
    assert check_panel(clean).empty


def test_check_panel_matches_reference_on_a_panel_without_tickers():
    panel = make_panel(IDX, close={})
    pd.testing.assert_frame_equal(check_panel(panel), _reference_check_panel(panel))


def test_pairs_of_tickers_outside_the_panel_only_give_no_late_listing():
    """The reference raised IndexError here (its empty ticker->column map was not an
    integer array); now such pairs are simply ignored, like unknown tickers among known."""
    panel, _ = random_case(3)
    pairs = pd.DataFrame({"event_id": ["e"], "ticker": ["ZZZ"], "pos0": [100]})
    with pytest.raises(IndexError):
        _reference_check_panel(panel, pairs)
    pd.testing.assert_frame_equal(check_panel(panel, pairs),
                                  _reference_check_panel(panel, pairs.iloc[:0]))
    assert late_listings(panel, pairs, -60) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_check_panel_on_some_tickers_matches_the_reference_on_a_selected_panel(seed):
    """``tickers=`` checks those columns in that order, read from the whole panel's arrays:
    the rows of the reference on ``panel.select(tickers)`` (a shuffled subset, with a
    repeated ticker and one the panel lacks)."""
    panel, pairs = random_case(seed)
    rng = np.random.default_rng(seed)
    chosen = list(rng.choice(panel.tickers, 25, replace=False))
    tickers = [*chosen, chosen[0], "ZZZ"]
    expected = _reference_check_panel(panel.select(tickers), pairs)
    assert not expected.empty
    pd.testing.assert_frame_equal(check_panel(panel, pairs, tickers=tickers), expected)



@pytest.mark.parametrize("seed", SEEDS[:4])
def test_a_panel_whose_open_is_its_close_matches_the_reference(seed):
    """A universe panel passes one frame as open and close: the checks read it once, for
    every column in panel order (the panel's own array) and for a shuffled order of all
    of them (its returns read through a column map, not copied), with the rows of the
    reference on a panel holding a copy as its open."""
    panel, pairs = random_case(seed)
    same = PricePanel(panel.close, panel.close, panel.dividend, panel.close_is_adjusted)
    copied = PricePanel(panel.close, panel.close.copy(), panel.dividend,
                        panel.close_is_adjusted)
    assert same.open is same.close and copied.open is not copied.close
    expected = _reference_check_panel(copied, pairs)
    assert (expected["check"] == "nonpositive").any()
    pd.testing.assert_frame_equal(check_panel(same, pairs), expected)
    shuffled = list(np.random.default_rng(seed).permutation(panel.tickers))
    # every column in another order reads the panel's own returns through a column map;
    # thresholds below 0 (NaN counts), in the usual range, and above the extreme bound
    for threshold in (-0.01, 0.25, 1.5):
        pd.testing.assert_frame_equal(
            check_panel(same, pairs, move_threshold=threshold, tickers=shuffled),
            _reference_check_panel(copied.select(shuffled), pairs, move_threshold=threshold))
