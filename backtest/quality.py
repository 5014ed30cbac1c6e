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


def big_moves(panel: PricePanel, event_days: dict[str, list[int]], window: tuple[int, int],
              threshold: float = 0.25) -> list[dict]:
    """One-day |total return| above ``threshold`` away from the ticker's calendar events."""
    out = []
    rets = panel.returns
    a, b = window
    for ticker in rets.columns:
        r = rets[ticker].to_numpy()
        hits = np.flatnonzero(np.abs(np.nan_to_num(r)) > threshold)
        near = set()
        for pos0 in event_days.get(ticker, []):
            near.update(range(pos0 + a, pos0 + b + 1))
        for i in hits:
            if i not in near:
                out.append({"check": "big_move", "ticker": ticker,
                            "date": rets.index[i].date(),
                            "detail": f"one-day return {r[i]:+.1%} with no calendar event "
                                      f"nearby (possible bad tick)"})
    return out


def late_listings(panel: PricePanel, pairs: pd.DataFrame, estimation_start: int) -> list[dict]:
    """Pairs whose ticker starts trading after the estimation window starts."""
    out = []
    first = {t: panel.close[t].first_valid_index() for t in panel.tickers}
    for row in pairs.itertuples():
        start_pos = row.pos0 + estimation_start
        start = panel.sessions[max(start_pos, 0)]
        listed = first.get(row.ticker)
        if listed is not None and (start_pos < 0 or listed > start):
            out.append({"check": "late_listing", "ticker": row.ticker, "date": listed.date(),
                        "detail": f"{row.event_id}: first price {listed.date()} is after the "
                                  f"estimation window starts ({start.date()})"})
    return out


def check_panel(panel: PricePanel, pairs: pd.DataFrame | None = None,
                window: tuple[int, int] = (-5, 10), estimation_start: int = -260,
                move_threshold: float = 0.25, nan_run: int = 5) -> pd.DataFrame:
    """Run every check; ``pairs`` (event_id, ticker, pos0) enables the event-aware ones."""
    pairs = pairs if pairs is not None else pd.DataFrame(columns=["event_id", "ticker", "pos0"])
    event_days: dict[str, list[int]] = {}
    for row in pairs.itertuples():
        event_days.setdefault(row.ticker, []).append(row.pos0)
    rows = (missing_sessions(panel, nan_run) + nonpositive_prices(panel)
            + big_moves(panel, event_days, window, move_threshold)
            + late_listings(panel, pairs, estimation_start))
    return pd.DataFrame(rows, columns=COLUMNS)
