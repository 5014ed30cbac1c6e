"""Execution rules: from trade intents to target-weight orders on the bar timeline.

Each rule is vectorized over every combination of a sweep; the rules themselves
are described in :mod:`backtest.sim.simulate`. :func:`bar_timeline` (two bars a
session), :func:`fill_bars` (open or close bar of each fill), :func:`apply_stops`,
:func:`apply_overlap` (extend, add, skip) and :func:`orders` (target changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from events.errors import PriceDataError
from events.timing import exchange_calendar

TARGET_ZERO = 1e-12  # a summed target weight closer to 0 than this is flat


def bar_timeline(sessions: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Two bars per session: the exchange open and close times (UTC)."""
    cal = exchange_calendar()
    opens = cal.opens.reindex(sessions).to_numpy()
    closes = cal.closes.reindex(sessions).to_numpy()
    return pd.DatetimeIndex(np.column_stack([opens, closes]).ravel(), tz="UTC", name="bar")


def fill_bars(intents: pd.DataFrame, side: str, sessions: pd.DatetimeIndex,
               adj_open: np.ndarray, col: np.ndarray, notes: list[str]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Session row and bar of each intent's ``side`` ("entry" or "exit").

    Bar ``2 * row`` is the session's open, ``2 * row + 1`` its close; a fill at a
    missing open moves to that session's close.
    """
    sess = intents[f"{side}_session"]
    pos = sessions.get_indexer(sess)
    if (pos < 0).any():
        bad = intents.iloc[int(np.flatnonzero(pos < 0)[0])]
        raise PriceDataError(f"{bad['event_id']} {bad['ticker']}: {side} session "
                             f"{pd.Timestamp(bad[f'{side}_session']).date()} is not in the "
                             f"price data", field=f"{side}_session")
    at_open = intents[f"{side}_at"].eq("open").to_numpy()
    moved = at_open & ~np.isfinite(adj_open[pos, col])
    for i in np.flatnonzero(moved):
        notes.append(f"{intents['event_id'].iat[i]} {intents['ticker'].iat[i]}: no open "
                     f"price on {sess.iat[i].date()}, {side} moved to the close")
    return pos, pos * 2 + (~(at_open & ~moved)).astype(int)


def apply_stops(stop: np.ndarray, direction: np.ndarray, col: np.ndarray, entry: np.ndarray,
                 exit_: np.ndarray, price: np.ndarray, event_id: np.ndarray,
                 tickers: np.ndarray, notes: list[str]) -> np.ndarray:
    """Exit bars, moved forward where a close went ``stop`` or more against the entry quote.

    The closes each intent holds over are laid out as one row per intent (padded to
    the longest holding), so all intents are checked in one pass; the exit becomes
    the open after the first close that breaches the stop.
    """
    rows = np.flatnonzero(np.isfinite(stop) & (stop > 0))
    if rows.size == 0:
        return exit_
    first_close = entry[rows] + 1 + entry[rows] % 2  # the first close after the entry bar
    n_closes = np.maximum(0, (exit_[rows] - first_close + 1) // 2)  # closes before the exit
    width = int(n_closes.max())
    if width == 0:
        return exit_
    closes = first_close[:, None] + 2 * np.arange(width)
    held = np.arange(width) < n_closes[:, None]
    j = col[rows][:, None]
    quote = price[entry[rows], col[rows]][:, None]
    move = direction[rows][:, None] * (price[np.where(held, closes, 0), j] / quote - 1.0)
    breach = held & (move <= -stop[rows][:, None])
    new_exit = closes[np.arange(rows.size), breach.argmax(axis=1)] + 1
    hit = breach.any(axis=1) & (new_exit < exit_[rows])
    exit_ = exit_.copy()
    exit_[rows[hit]] = new_exit[hit]
    for i in rows[hit]:
        notes.append(f"{event_id[i]} {tickers[col[i]]}: stop {stop[i]:.1%} hit at a close, "
                     f"exit at the next open")
    return exit_


@dataclass
class Segments:
    """Positions to hold after the overlap rule: one entry per (combination, ticker) holding.

    Arrays are aligned; ``combo`` is the combination's position in
    :attr:`backtest.sim.results.GridRun.combos`,
    ``col`` the ticker's column. ``event_id`` joins the events merged into a holding.
    Sorted by (combo, col, entry bar) except under ``add``, which keeps the intents' order.
    """

    combo: np.ndarray
    col: np.ndarray
    entry: np.ndarray
    exit: np.ndarray
    signed: np.ndarray  # direction x weight
    event_id: np.ndarray  # object
    disjoint: bool  # holdings of one (combo, ticker) never overlap (every rule but add)

    def rows_of(self, k: int) -> np.ndarray:
        """Positions of combination ``k``'s segments, in array order (``np.flatnonzero(
        combo == k)`` without a pass over every combination's segments each time)."""
        if "_by_combo" not in self.__dict__:
            order = np.argsort(self.combo, kind="stable")
            self.__dict__["_by_combo"] = order, self.combo[order]
        order, sorted_combo = self.__dict__["_by_combo"]
        lo, hi = np.searchsorted(sorted_combo, [k, k + 1])
        return order[lo:hi]


def apply_overlap(combo: np.ndarray, col: np.ndarray, entry: np.ndarray, exit_: np.ndarray,
              direction: np.ndarray, weight: np.ndarray, event_id: np.ndarray,
              tickers: np.ndarray, rule: str, notes: list[str]) -> Segments:
    """Apply the overlap rule per (combo, ticker): non-overlapping segments, or all for 'add'.

    Intents are sorted by (combo, ticker, entry bar, event id); one pass then
    merges (``extend``) or drops each intent that starts while its ticker's
    current segment is still open.
    """
    signed = direction * weight
    if rule == "add":
        return Segments(combo, col, entry, exit_, signed, event_id, disjoint=False)
    ids_order = pd.factorize(pd.Series(event_id), sort=True)[0]
    order = np.lexsort((np.arange(len(combo)), ids_order, entry, col, combo))
    k, j, start = combo[order].tolist(), col[order].tolist(), entry[order].tolist()
    end, sign, ids = exit_[order].tolist(), direction[order].tolist(), event_id[order].tolist()
    keep = [True] * len(order)
    cur = -1  # row of the segment being built
    for i in range(len(order)):  # one pass over the sorted rows
        if cur >= 0 and k[i] == k[cur] and j[i] == j[cur] and start[i] <= end[cur]:
            keep[i] = False
            if rule == "extend" and sign[i] == sign[cur]:
                end[cur] = max(end[cur], end[i])
                ids[cur] = f"{ids[cur]}+{ids[i]}"
            elif k[i] == k[0]:  # report once, not for every sweep column
                why = "opposite position" if rule == "extend" else "position"
                notes.append(f"{ids[i]} {tickers[j[i]]}: dropped, {why} from {ids[cur]} "
                             f"still open")
            continue
        cur = i
    keep = np.asarray(keep)
    kept = order[keep]  # original rows of the kept segments
    return Segments(combo[kept], col[kept], entry[kept], np.asarray(end, dtype=np.int64)[keep],
                    signed[kept], np.asarray(ids, dtype=object)[keep], disjoint=True)


def orders(seg: Segments, n_tickers: int, n_bars: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Target-weight orders (bar, column, target) of every (combo, ticker) column.

    A column's target is the running sum of +weight at each segment's entry bar
    and -weight at its exit bar; it is ordered wherever it changes. Only the
    bars where some segment starts or ends are visited, in the order (and with
    the same additions) of a dense ``np.add.at`` and ``cumsum`` over all bars,
    so the targets are the same to the last bit.
    """
    cols = seg.combo * n_tickers + seg.col
    bars = np.concatenate([seg.entry, seg.exit])
    key = np.concatenate([cols, cols]) * (n_bars + 1) + bars
    cells, where = np.unique(key, return_inverse=True)  # sorted by (column, bar)
    delta = np.zeros(len(cells))
    np.add.at(delta, where, np.concatenate([seg.signed, -seg.signed]))
    col, bar = np.divmod(cells, n_bars + 1)
    # Running sum per column: one padded row per column, summed left to right.
    first = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    length = np.diff(np.r_[first, len(cells)])
    row = np.repeat(np.arange(len(first)), length)
    slot = np.arange(len(cells)) - np.repeat(first, length)
    grid = np.zeros((len(first), int(length.max(initial=0))))
    grid[row, slot] = delta
    target = np.cumsum(grid, axis=1)[row, slot]
    target[np.abs(target) < TARGET_ZERO] = 0.0
    before = np.where(slot > 0, np.r_[0.0, target[:-1]], 0.0)  # the column's previous target
    order = (target != before) & (bar < n_bars) & ~np.isnan(target)  # NaN: no order
    return bar[order], col[order], target[order]
