"""The probability of backtest overfitting (PBO), by combinatorially symmetric
cross-validation (CSCV) over blocks of events.

Bailey, Borwein, Lopez de Prado and Zhu (2017), "The probability of backtest
overfitting", Journal of Computational Finance 20(4), Sec. 2: the events are cut, in
time order, into S blocks of whole news days (S even). For each of the C(S, S/2)
ways to pick half the blocks as the training set:

1. the combination n* with the best training performance is chosen;
2. its relative rank in the other half, ``w = rank / (N + 1)`` among the N
   combinations (rank 1 the worst, ties averaged), gives the logit ``l = ln(w / (1 - w))``;

PBO is the share of splits with ``l <= 0``: how often the in-sample winner does no
better than the median out of sample. A value near 0.5 or above says the selection
is no better than picking at random.

Performance on a set of blocks is the mean per-event return over their events (an
event a combination did not trade counts as 0: it stayed flat).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from math import comb

import numpy as np

MAX_BLOCKS = 16  # C(16, 8) = 12,870 splits, the paper's choice


@dataclass(frozen=True)
class Overfitting:
    """``pbo`` with the ``logits`` of every split, ``n_blocks`` blocks of news days,
    ``n_combos`` combinations; ``oos_loss``: the share of splits where the chosen
    combination lost money out of sample. NaN (with ``reason``) when undefined."""

    pbo: float
    n_blocks: int
    n_splits: int
    n_combos: int
    oos_loss: float
    logits: np.ndarray = field(repr=False)
    reason: str = ""

    def as_metrics(self) -> dict:
        return {"pbo": self.pbo, "pbo_blocks": self.n_blocks, "pbo_splits": self.n_splits,
                "pbo_oos_loss": self.oos_loss}


def news_day_blocks(days: np.ndarray, n_blocks: int) -> np.ndarray:
    """Block number (0..n_blocks-1) of each event: the distinct news days in time order,
    cut into ``n_blocks`` runs of consecutive days as equal in length as possible."""
    uniq, inverse = np.unique(np.asarray(days), return_inverse=True)
    block_of_day = np.concatenate([np.full(len(part), b) for b, part in
                                   enumerate(np.array_split(np.arange(len(uniq)), n_blocks))])
    return block_of_day[inverse]


def probability_of_overfitting(event_returns: np.ndarray, days: np.ndarray,
                               n_blocks: int | None = None, chunk: int = 256) -> Overfitting:
    """PBO of choosing the best of N combinations by mean event return.

    ``event_returns`` is (events, N), one column per combination; ``days`` the news day
    of each event. ``n_blocks`` defaults to the largest even number up to 16 and the
    number of news days; at least 4 blocks (6 splits) are needed.
    """
    r = np.asarray(event_returns, dtype="float64")
    e, n = r.shape
    n_days = len(np.unique(np.asarray(days))) if e else 0
    s = n_blocks if n_blocks is not None else min(MAX_BLOCKS, n_days - n_days % 2)
    empty = np.empty(0)
    if n < 2:
        return Overfitting(np.nan, 0, 0, n, np.nan, empty, "fewer than 2 combinations")
    if s < 4 or s % 2 or s > n_days:
        return Overfitting(np.nan, 0, 0, n, np.nan, empty,
                           f"needs at least 4 news days, there are {n_days}")
    block = news_day_blocks(days, s)
    sums = np.zeros((s, n))
    np.add.at(sums, block, r)
    counts = np.bincount(block, minlength=s).astype("float64")
    total, total_n = sums.sum(axis=0), counts.sum()
    splits = np.array(list(itertools.combinations(range(s), s // 2)))
    assert len(splits) == comb(s, s // 2)
    logits, losses = [], []
    for lo in range(0, len(splits), chunk):
        mask = np.zeros((len(splits[lo:lo + chunk]), s))
        np.put_along_axis(mask, splits[lo:lo + chunk], 1.0, axis=1)
        train_n = mask @ counts
        train = (mask @ sums) / train_n[:, None]
        test = (total[None, :] - mask @ sums) / (total_n - train_n)[:, None]
        best = np.argmax(train, axis=1)  # ties: the first (lowest-numbered) combination
        mine = test[np.arange(len(best)), best][:, None]
        rank = 1.0 + (test < mine).sum(axis=1) + ((test == mine).sum(axis=1) - 1) / 2.0
        w = rank / (n + 1.0)
        logits.append(np.log(w / (1.0 - w)))
        losses.append(mine[:, 0] < 0)
    lam = np.concatenate(logits)
    return Overfitting(float((lam <= 0).mean()), s, len(lam), n,
                       float(np.concatenate(losses).mean()), lam)
