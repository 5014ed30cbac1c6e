"""Data-quality checks on a price panel, reported (never silently fixed).

Each check returns rows ``check, ticker, date, detail``; :func:`check_panel`
runs them all. The study and the report surface them; nothing here changes data.

============== ===========================================================
check          what it flags
============== ===========================================================
missing        sessions without a close inside a ticker's listed range
nan_run        runs of ``nan_run`` or more consecutive missing sessions
nonpositive    zero or negative prices
big_move       a one-day total return beyond ``move_threshold`` with no
               calendar event of that ticker within its event window
               (a possible bad tick; an event's own move is news, not an error)
bad_tick       a one-day return beyond ``EXTREME`` (five-fold up, or down
               80%), wherever it is: inside an event window too, and in a
               universe study whose every ticker is linked to every event
late_listing   a ticker whose first price comes after a pair's estimation
               window starts (its estimation window is short)
============== ===========================================================

Duplicate dates and unsorted input are handled where files are read
(:mod:`backtest.csvdata` refuses duplicates and notes unsorted files).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from events.model import UNIVERSE_ROLE

COLUMNS = ["check", "ticker", "date", "detail"]

# The checks work on whole (sessions x tickers) numpy matrices and build rows only for the
# tickers (or cells) with findings: a universe panel has ~10,000 tickers and few findings.
# Internally a row is a tuple in COLUMNS order; the public checks return dicts.


@dataclass(frozen=True)
class _Columns:
    """The panel's arrays of the checked tickers, in the order reported (a study checks
    its own tickers: their columns read from the panel, not a smaller panel copied
    first); ``cols`` their positions among the panel's columns."""

    tickers: list[str]  # the checked tickers, in report order
    cols: np.ndarray  # their column positions in the arrays below
    sessions: pd.DatetimeIndex
    close: np.ndarray  # sessions x the checked tickers
    open: np.ndarray
    panel: PricePanel  # for its returns, computed only by the checks that need them

    @classmethod
    def of(cls, panel: PricePanel, tickers=None) -> "_Columns":
        """``tickers`` (default every column, in panel order): deduplicated and those
        absent dropped, a repeated panel column checked as often as it repeats, as
        :meth:`PricePanel.select` would give them."""
        index = panel.close.columns
        if tickers is None:
            cols = np.arange(len(index))
        elif index.is_unique:  # one look-up on the index, no Python string per column
            at = index.get_indexer(list(dict.fromkeys(tickers)))
            cols = at[at >= 0].astype(np.int64)
        else:
            where: dict[str, list[int]] = {}
            for j, c in enumerate(index):
                where.setdefault(c, []).append(j)
            cols = np.array([j for t in dict.fromkeys(tickers) for j in where.get(t, [])],
                            dtype=np.int64)
        # only the checked columns are copied out (a study of 7 tickers in a universe
        # panel of 11,000 reads 7), by numpy's take on the frame's array (a view for one
        # float block): several times faster than pandas' column take on a wide panel
        close = _columns(panel.close, cols)
        # a universe panel's open is its close (one frame): read once
        open_ = close if panel.open is panel.close else _columns(panel.open, cols)
        return cls(index.take(cols).tolist(), cols, panel.sessions, close, open_, panel)

    def pick(self, matrix: np.ndarray) -> np.ndarray:
        """A matrix computed from this object's arrays: already the checked columns."""
        return matrix

    @property
    def returns(self) -> np.ndarray:
        return _columns(self.panel.returns, self.cols)

    def returns_read(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(R, at): the returns and, when R is the panel's own array (every column checked,
        in another order), the column of R of each checked column; None when R's columns
        are the checked ones. A universe study checks its tickers in its own order: its
        masks are taken at ``at`` (one byte a cell), not its returns copied (eight)."""
        n = self.panel.close.shape[1]
        if (len(self.cols) == n and n > 1 and not np.array_equal(self.cols, np.arange(n))
                and np.bincount(self.cols, minlength=n).max() == 1):
            return self.panel.returns.to_numpy(dtype="float64"), self.cols
        return self.returns, None


def _columns(frame: pd.DataFrame, cols: np.ndarray) -> np.ndarray:
    """Columns ``cols`` (positions) of ``frame`` as a float64 array (the frame's own,
    read-only, when ``cols`` is every column in order: a universe check copies nothing)."""
    values = frame.to_numpy(dtype="float64")
    if len(cols) == values.shape[1] and np.array_equal(cols, np.arange(len(cols))):
        values = values.view()
        values.flags.writeable = False  # the checks only read
        return values
    return values[:, cols]


def _dicts(rows: list[tuple]) -> list[dict]:
    return [dict(zip(COLUMNS, row)) for row in rows]


def _valid(data: _Columns) -> np.ndarray:
    """Sessions x checked tickers: True where a close exists."""
    return data.pick(~np.isnan(data.close))


def missing_sessions(panel: PricePanel, nan_run: int = 5) -> list[dict]:
    """Missing closes between a ticker's first and last price; long runs flagged separately."""
    data = _Columns.of(panel)
    return _dicts(_missing_sessions(data, nan_run, _valid(data)))


def _missing_sessions(data: _Columns, nan_run: int, valid: np.ndarray) -> list[tuple]:
    n, m = valid.shape
    listed = valid.any(axis=0)
    if n:
        first = valid.argmax(axis=0)
        last = n - 1 - valid[::-1].argmax(axis=0)
        # every close lies in [first, last], so the gaps there are the rest of that range
        n_missing = np.where(listed, last - first + 1 - valid.sum(axis=0), 0)
    else:
        first = last = n_missing = np.zeros(m, dtype=np.int64)
    days = data.sessions.date  # datetime.date per session, as Timestamp.date() gives
    tickers = data.tickers
    out = []
    # only tickers with a finding, in panel order
    for j in np.flatnonzero(~listed | (n_missing > 0)):
        ticker = tickers[j]
        if not listed[j]:
            out.append(("missing", ticker, None, "no prices at all"))
            continue
        f = first[j]
        gap = ~valid[f:last[j] + 1, j]
        # runs of consecutive missing sessions, as positions within [first, last]
        edges = np.diff(np.concatenate([[0], gap.astype(int), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        out.append(("missing", ticker, days[f + starts[0]],
                    f"{n_missing[j]} sessions without a close (first {days[f + starts[0]]})"))
        for s, e in zip(starts, ends):
            if e - s >= nan_run:
                detail = (f"{e - s} consecutive missing sessions {days[f + s]} to "
                          f"{days[f + e - 1]}")
                out.append(("nan_run", ticker, days[f + s], detail))
    return out


def nonpositive_prices(panel: PricePanel) -> list[dict]:
    """Zero or negative opens or closes."""
    return _dicts(_nonpositive_prices(_Columns.of(panel)))


def _nonpositive_prices(data: _Columns) -> list[tuple]:
    out = []
    days = data.sessions.date
    for name, prices in (("close", data.close), ("open", data.open)):
        with np.errstate(invalid="ignore"):
            bad = data.pick(prices <= 0)
        count = bad.sum(axis=0)
        first = bad.argmax(axis=0) if len(bad) else count
        for j in np.flatnonzero(count):
            out.append(("nonpositive", data.tickers[j], days[first[j]],
                        f"{count[j]} non-positive {name} prices (first {days[first[j]]})"))
    return out


def big_moves(panel: PricePanel, pairs: pd.DataFrame, window: tuple[int, int],
              threshold: float = 0.25) -> list[dict]:
    """One-day |total return| above ``threshold`` away from the ticker's calendar events."""
    return _dicts(_big_moves(_Columns.of(panel), pairs, window, threshold))


EXTREME = (-0.8, 4.0)  # one-day returns beyond these are price errors, not news


def _big_moves(data: _Columns, pairs: pd.DataFrame, window: tuple[int, int],
               threshold: float) -> list[tuple]:
    r_all, in_r = data.returns_read()
    if in_r is None:
        def checked(mask): return mask  # noqa: E704
        def value(ii, jj): return r_all[ii, jj]  # noqa: E704
    else:
        def checked(mask): return mask[:, in_r]  # noqa: E704
        def value(ii, jj): return r_all[ii, in_r[jj]]  # noqa: E704
    with np.errstate(invalid="ignore"):
        # |r| > threshold as two comparisons (no |r| array of the panel's size); an
        # infinite return is a hit, a NaN is not...
        hits = checked((r_all > threshold) | (r_all < -threshold))
    if threshold < 0:
        hits |= checked(np.isnan(r_all))  # ...unless the threshold is negative (NaN counts as 0)
    if threshold <= -EXTREME[0]:
        # every extreme return is a hit (|r| > 0.8 >= threshold): looked for among the hits
        # (a few per ticker), not in every cell again
        ii, jj = np.nonzero(hits)  # row-major: by session, then by ticker
        v = value(ii, jj)
        far = (v < EXTREME[0]) | (v > EXTREME[1])
        out = _bad_ticks(data, ii[far], jj[far], v[far])
        ii, jj = ii[~far], jj[~far]  # an extreme return is reported once, as bad_tick
    else:
        with np.errstate(invalid="ignore"):
            extreme = checked((r_all < EXTREME[0]) | (r_all > EXTREME[1]))
        ei, ej = np.nonzero(extreme)
        out = _bad_ticks(data, ei, ej, value(ei, ej))
        ii, jj = np.nonzero(hits & ~extreme)
    # Only the calendar's own links excuse a move: a universe study links every ticker to
    # every event, which would excuse everything.
    if "role" in pairs.columns:
        pairs = pairs[pairs["role"] != UNIVERSE_ROLE]
    if not len(ii):
        return out
    a, b = window
    n = len(data.sessions)
    # A hit (i, j) is near an event when ticker j has more windows started than ended by
    # session i (windows clipped to the panel). Counted by binary search on sorted
    # (column, session) keys, only at the hits: no sessions x tickers coverage matrix.
    cols = _column_of(data.tickers, pairs["ticker"])
    known = cols >= 0
    cols, pos = cols[known], pairs["pos0"].to_numpy()[known]
    starts = np.sort(cols * (n + 1) + np.clip(pos + a, 0, n))
    ends = np.sort(cols * (n + 1) + np.clip(pos + b + 1, 0, n))
    at = jj * (n + 1) + ii
    near = (np.searchsorted(starts, at, "right") - np.searchsorted(ends, at, "right")) > 0
    ii, jj = ii[~near], jj[~near]
    tickers, days = data.tickers, data.sessions.date
    return out + [("big_move", tickers[j], days[i],
                   f"one-day return {v:+.1%} with no calendar event nearby (possible bad tick)")
                  for i, j, v in zip(ii.tolist(), jj.tolist(), value(ii, jj).tolist())]


def _bad_ticks(data: _Columns, ii: np.ndarray, jj: np.ndarray, values: np.ndarray
               ) -> list[tuple]:
    """Rows of the extreme returns ``values`` at cells (ii, jj), in that order."""
    days = data.sessions.date
    out = []
    for i, j, r in zip(ii.tolist(), jj.tolist(), values.tolist()):
        col = data.close[:, j]
        # the close before: the last one before session i (a gap carries it forward)
        before = np.flatnonzero(~np.isnan(col[:i]))
        prev = col[before[-1]] if before.size else np.nan
        out.append(("bad_tick", data.tickers[j], days[i],
                    f"one-day return {r:+,.0%} (close {prev:.4g} -> "
                    f"{col[i]:.4g}): a price error, even if an event is near"))
    return out


def _column_of(columns, tickers: pd.Series) -> np.ndarray:
    """Each ticker's column position in ``columns`` (the last if repeated), -1 if absent."""
    index = pd.Index(columns)
    if index.is_unique:
        return index.get_indexer(tickers).astype(np.int64)
    col = {t: j for j, t in enumerate(columns)}
    return np.array([col.get(t, -1) for t in tickers], dtype=np.int64)


def late_listings(panel: PricePanel, pairs: pd.DataFrame, estimation_start: int) -> list[dict]:
    """Pairs whose ticker starts trading after the estimation window starts."""
    data = _Columns.of(panel)
    return _dicts(_late_listings(data, pairs, estimation_start, _valid(data)))


def _late_listings(data: _Columns, pairs: pd.DataFrame, estimation_start,
                   valid: np.ndarray) -> list[tuple]:
    if pairs.empty:
        return []
    first = np.where(valid.any(axis=0), valid.argmax(axis=0), -1)
    cols = _column_of(data.tickers, pairs["ticker"])
    known = pairs[cols >= 0]
    first_pos = first[cols[cols >= 0]]
    # one offset for every pair, or one per pair (estimation by dates)
    start_pos = known["pos0"].to_numpy() + np.broadcast_to(estimation_start,
                                                           (len(pairs),))[cols >= 0]
    late = (first_pos >= 0) & (first_pos > np.maximum(start_pos, 0)) | (start_pos < 0)
    days = data.sessions.date
    # (a ticker without prices has first_pos -1 and, if flagged, is dated the last session)
    listed = days[first_pos[late]]
    start = days[np.maximum(start_pos[late], 0)]
    rows = known[late]
    return [("late_listing", ticker, lst,
             f"{event_id}: first price {lst} is after the estimation window starts ({st})")
            for ticker, event_id, lst, st in zip(rows["ticker"].tolist(),
                                                 rows["event_id"].tolist(), listed, start)]


def check_panel(panel: PricePanel, pairs: pd.DataFrame | None = None,
                window: tuple[int, int] = (-5, 10), estimation_start: int = -260,
                move_threshold: float = 0.25, nan_run: int = 5,
                tickers=None) -> pd.DataFrame:
    """Run every check; ``pairs`` (event_id, ticker, pos0) enables the event-aware ones.
    ``tickers`` (default: all, in panel order): check only these, reported in this order,
    as on ``panel.select(tickers)`` but without copying the panel."""
    pairs = pairs if pairs is not None else pd.DataFrame(columns=["event_id", "ticker", "pos0"])
    data = _Columns.of(panel, tickers)
    valid = _valid(data)  # shared by missing_sessions and late_listings
    rows = (_missing_sessions(data, nan_run, valid) + _nonpositive_prices(data)
            + _big_moves(data, pairs, window, move_threshold)
            + _late_listings(data, pairs, estimation_start, valid))
    return pd.DataFrame(rows, columns=COLUMNS)
