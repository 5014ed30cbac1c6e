"""Shared helpers for the benchmarks that use the ``../shared`` US universe panel.

The universe (``us_adjclose_2023-01_2026-07.parquet``, see ``SOURCES.md`` beside it) is
wide: a DatetimeIndex ``Date`` x 11,386 tickers of adjusted closes, NaN where a ticker
has no price. It lives outside the package, next to the checkout::

    <root>/main/benchmarks/_universe.py   ->   <root>/shared/data/universe/...

Helpers here: find it (or exit with a clear message), turn it into a
:class:`backtest.data.PricePanel` on XNYS sessions, draw seeded random
(ticker, day 0) pairs and build an :class:`events.model.Calendar` from them directly
(constructing the frozen dataclasses is much faster than ``parse_calendar`` per event).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from events.model import Calendar, Event, LinkedTicker, Sentiment
from events.timing import exchange_calendar

UNIVERSE_PATH = (Path(__file__).resolve().parents[2] / "shared" / "data" / "universe"
                 / "us_adjclose_2023-01_2026-07.parquet")
MARKET = "SPY"


def require_universe(path: Path = UNIVERSE_PATH) -> Path:
    """The universe file, or exit (status 1, message on stderr) saying where it was expected."""
    if not path.is_file():
        sys.exit(f"universe panel not found: {path}\n"
                 "expected ../shared/data/universe/us_adjclose_2023-01_2026-07.parquet next "
                 "to the checkout (see SOURCES.md there); nothing was benchmarked.")
    return path


def load_panel(path: Path = UNIVERSE_PATH) -> PricePanel:
    """The universe as a PricePanel: open = close = the adjusted close, no dividends
    (the closes already are total-return series), reindexed to every XNYS session of
    the file's date range so that a missing price is a NaN row, never a shifted day."""
    raw = pd.read_parquet(require_universe(path))
    sessions = pd.DatetimeIndex(
        exchange_calendar().sessions_in_range(raw.index.min(), raw.index.max()),
        freq=None, name="date")
    raw.index = pd.DatetimeIndex(raw.index).as_unit("ns")
    close = raw.reindex(sessions)
    close.columns = [str(c) for c in close.columns]
    close.columns.name = None
    lost = len(raw.index.difference(sessions))
    if lost:
        print(f"note: {lost} universe rows are not XNYS sessions and were dropped",
              file=sys.stderr)
    if MARKET not in close.columns:
        sys.exit(f"market benchmark {MARKET} is not in {path}")
    dividend = pd.DataFrame(0.0, index=close.index, columns=close.columns)
    return PricePanel(close, close, dividend, pd.Series(True, index=close.columns),
                      {t: "universe" for t in close.columns})


def eligible_tickers(panel: PricePanel, min_obs: int) -> np.ndarray:
    """Tickers (not the market, not ^index levels) with at least ``min_obs`` closes in
    the whole panel. This is the only filter: a pair's own window may still fall in a
    NaN run (before listing, after delisting, a halt)."""
    counts = panel.close.notna().sum(axis=0)
    names = counts.index.to_numpy()
    keep = (counts.to_numpy() >= min_obs) & (names != MARKET) \
        & ~pd.Index(names).str.startswith("^")
    return names[keep]


def draw_pairs(panel: PricePanel, n: int, seed: int, history: int = 270, after: int = 11,
               min_obs: int = 271) -> pd.DataFrame:
    """``n`` random (ticker, day 0) pairs, with replacement, from a seeded numpy RNG.

    Day 0 is a session position with at least ``history`` sessions before it and
    ``after`` sessions after it. Columns: ticker, pos0, day0. Draws are nested: the
    first k rows of a draw of n are the draw of k for the same seed.
    """
    rng = np.random.default_rng(seed)
    tickers = eligible_tickers(panel, min_obs)
    n_sessions = len(panel.sessions)
    # One (n, 2) uniform draw, row-major: its first k rows are the (k, 2) draw, so
    # prefixes of a longer draw equal shorter draws.
    u = rng.random((n, 2))
    t_idx = (u[:, 0] * len(tickers)).astype(np.int64)
    pos0 = history + (u[:, 1] * (n_sessions - after - history)).astype(np.int64)
    return pd.DataFrame({"ticker": tickers[t_idx], "pos0": pos0,
                         "day0": panel.sessions[pos0]})


def build_calendar(pairs: pd.DataFrame, name: str = "bench") -> Calendar:
    """One event per pair, dated on its day 0 before the open (so day 0 is that
    session), built from the dataclasses directly."""
    sentiment = Sentiment("bearish", 60)
    events = tuple(
        Event(f"E{i:06d}", "benchmark event", "benchmarks/bench_study.py", sentiment,
              (LinkedTicker(t, "partner", "down"),), date=d.date(), session="before_open")
        for i, (t, d) in enumerate(zip(pairs["ticker"], pairs["day0"]))
    )
    return Calendar(name, events)
