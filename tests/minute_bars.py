"""Synthetic minute bars on real NYSE sessions, with planted jumps, for tests.

Returns follow a one-factor model with a U-shaped time-of-day volatility (high at the
open and the close, as in real equity minute data), so a study that ignores
time-of-day scaling over-rejects at the open; a planted jump is a log-return added to
one ticker's bar at a known minute (and held afterwards: prices are cumulated).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.intraday.bars import BAR_COLUMNS, session_grid


def u_shape(n: int) -> np.ndarray:
    """Relative volatility of each of ``n`` bars of a session: 2.5x at the open, 1.5x at
    the close, 1 at midday (mean square about 1.2)."""
    x = np.linspace(0.0, 1.0, n)
    return 1.0 + 1.5 * np.exp(-x / 0.05) + 0.5 * np.exp(-(1 - x) / 0.05)


def minute_bars(tickers: list[str], first: str, last: str, *, interval: str = "1min",
                market: str = "SPY", beta: dict[str, float] | None = None,
                sigma: float = 0.0008, market_sigma: float = 0.0005,
                jumps: dict[str, list[tuple[str, float]]] | None = None,
                overnight: float = 0.0, seed: int = 0, start_price: float = 100.0
                ) -> pd.DataFrame:
    """Long bars (:data:`BAR_COLUMNS`) of ``market`` plus ``tickers`` on every NYSE session
    from ``first`` to ``last``.

    ``jumps``: ticker -> [(bar open time, UTC if naive; log jump)], added to that bar's
    close-to-close return. ``overnight``: standard deviation of the gap from one session's
    last close to the next session's first bar (added to that first bar's return). A bar
    opens at the previous close (times the gap for a session's first bar); high and low
    bracket open and close.
    """
    rng = np.random.default_rng(seed)
    grid, session = session_grid("XNYS", pd.Timedelta(interval), first, last)
    beta = beta or {}
    n = len(grid)
    first_bar = np.r_[True, session[1:] != session[:-1]]
    scale = np.empty(n)
    for day in np.unique(session):
        pos = np.flatnonzero(session == day)
        scale[pos] = u_shape(len(pos))
    rm = rng.normal(0.0, market_sigma, n) * scale
    gap_m = np.where(first_bar, rng.normal(0.0, overnight or 1.0, n) * bool(overnight), 0.0)
    rows = []
    for ticker in [market, *tickers]:
        if ticker == market:
            r, gap = rm.copy(), gap_m
        else:
            r = beta.get(ticker, 1.0) * rm + rng.normal(0.0, sigma, n) * scale
            gap = beta.get(ticker, 1.0) * gap_m + np.where(
                first_bar, rng.normal(0.0, overnight or 1.0, n) * bool(overnight), 0.0)
        r = r + gap
        for when, size in (jumps or {}).get(ticker, []):
            when = pd.Timestamp(when)
            when = when.tz_localize("UTC") if when.tz is None else when.tz_convert("UTC")
            r[grid.get_loc(when)] += size
        close = start_price * np.exp(np.cumsum(r))
        prev = np.r_[start_price, close[:-1]]
        open_ = prev * np.exp(gap)  # a session's first bar opens at the gapped price
        high = np.maximum(open_, close) * 1.0005
        low = np.minimum(open_, close) * 0.9995
        rows.append(pd.DataFrame({"timestamp": grid, "ticker": ticker, "open": open_,
                                  "high": high, "low": low, "close": close,
                                  "volume": rng.integers(1_000, 50_000, n).astype(float)}))
    return pd.concat(rows, ignore_index=True)[BAR_COLUMNS]
