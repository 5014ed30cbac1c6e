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
