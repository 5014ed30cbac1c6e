"""The block functions of :mod:`backtest.eventstudy.blocks` against plain loops."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.eventstudy import blocks, kernels


@pytest.mark.parametrize("chunk", [None, 7, 1])
def test_sign_shares_count_each_row_by_hand(chunk, monkeypatch):
    """Each pair's shares of positive and negative estimation ARs among its non-missing
    ones, counted a chunk of rows at a time (50 rows in chunks of 7 or 1), equal a loop
    over the days: with missing days, zeros (neither sign), a row with nothing (0 / 0: NaN)
    and a row of zeros only (0 and 0)."""
    if chunk is not None:
        monkeypatch.setattr(kernels, "CHUNK_ROWS", chunk)
    rng = np.random.default_rng(11)
    resid = np.round(rng.normal(size=(50, 40)), 0)  # rounding: many exact zeros
    resid[rng.random(resid.shape) < 0.2] = np.nan
    resid[3] = np.nan
    resid[4] = 0.0
    share, share_neg = blocks._sign_shares(resid)
    for i, row in enumerate(resid):
        days = [v for v in row if np.isfinite(v)]
        if not days:
            assert np.isnan(share[i]) and np.isnan(share_neg[i])
            continue
        assert share[i] == sum(v > 0 for v in days) / len(days)
        assert share_neg[i] == sum(v < 0 for v in days) / len(days)
    assert share[4] == 0.0 and share_neg[4] == 0.0
    assert 0 < np.nanmean(share) < 1 and np.isnan(share).sum() == 1


def test_block_rows_take_equals_rows_of_the_stacked_blocks():
    """BlockRows keeps the blocks' arrays apart; taking any ascending rows gives the rows of
    the blocks stacked into one array (np.concatenate): rows from one block, from several,
    none, all, and with an empty block in between."""
    rng = np.random.default_rng(3)
    sizes = [5, 0, 7, 1, 9]
    parts = [rng.normal(size=(n, 4)) for n in sizes]
    starts = np.cumsum([0, *sizes[:-1]])
    rows = blocks.BlockRows(tuple(parts), starts)
    stacked = np.concatenate(parts)
    assert len(rows) == len(stacked) == 22
    for want in (np.arange(22), np.array([], dtype=np.int64), np.array([0]), np.array([21]),
                 np.array([4, 5, 12, 13]), np.arange(5, 12),
                 np.sort(rng.choice(22, 10, replace=False))):
        got = rows.take(want)
        assert got.shape == (len(want), 4)
        np.testing.assert_array_equal(got, stacked[want])
