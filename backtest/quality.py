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
               (a possible bad tick)
late_listing   a ticker whose first price comes after a pair's estimation
               window starts (its estimation window is short)
============== ===========================================================

Duplicate dates and unsorted input are handled where files are read
(:mod:`backtest.csvdata` refuses duplicates and notes unsorted files).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.prices import PricePanel

COLUMNS = ["check", "ticker", "date", "detail"]


def _rows(check: str, ticker: str, dates, detail) -> list[dict]:
    return [{"check": check, "ticker": ticker, "date": d, "detail": detail} for d in dates]


def missing_sessions(panel: PricePanel, nan_run: int = 5) -> list[dict]:
    """Missing closes between a ticker's first and last price; long runs flagged separately."""
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
        # runs of consecutive missing sessions
        edges = np.diff(np.concatenate([[0], gap.astype(int), [0]]))
        for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if e - s >= nan_run:
                idx = close.index[first:last + 1]
                out += _rows("nan_run", ticker, [idx[s].date()],
                             f"{e - s} consecutive missing sessions {idx[s].date()} to "
                             f"{idx[e - 1].date()}")
    return out


def nonpositive_prices(panel: PricePanel) -> list[dict]:
    """Zero or negative opens or closes."""
    out = []
    for name, frame in (("close", panel.close), ("open", panel.open)):
        bad = frame <= 0
        for ticker in frame.columns[bad.any()]:
            dates = frame.index[bad[ticker].to_numpy()]
            out += _rows("nonpositive", ticker, [dates[0].date()],
                         f"{len(dates)} non-positive {name} prices (first {dates[0].date()})")
    return out


def big_moves(panel: PricePanel, pairs: pd.DataFrame, window: tuple[int, int],
              threshold: float = 0.25) -> list[dict]:
    """One-day |total return| above ``threshold`` away from the ticker's calendar events."""
    rets = panel.returns
    r = rets.to_numpy()
    hits = np.abs(np.nan_to_num(r)) > threshold
    if not hits.any():
        return []
    a, b = window
    n = len(rets)
    near = np.zeros((n + 1, r.shape[1]), dtype=np.int32)  # coverage of event windows
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
    return out


def late_listings(panel: PricePanel, pairs: pd.DataFrame, estimation_start: int) -> list[dict]:
    """Pairs whose ticker starts trading after the estimation window starts."""
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


def check_panel(panel: PricePanel, pairs: pd.DataFrame | None = None,
                window: tuple[int, int] = (-5, 10), estimation_start: int = -260,
                move_threshold: float = 0.25, nan_run: int = 5) -> pd.DataFrame:
    """Run every check; ``pairs`` (event_id, ticker, pos0) enables the event-aware ones."""
    pairs = pairs if pairs is not None else pd.DataFrame(columns=["event_id", "ticker", "pos0"])
    rows = (missing_sessions(panel, nan_run) + nonpositive_prices(panel)
            + big_moves(panel, pairs, window, move_threshold)
            + late_listings(panel, pairs, estimation_start))
    return pd.DataFrame(rows, columns=COLUMNS)
