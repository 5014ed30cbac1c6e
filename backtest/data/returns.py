"""Total returns and total-return prices from closes and dividends.

One place for the return formula. For raw closes ``C`` and ex-date cash
dividends ``D`` (CRSP's holding-period return, without splits because the
closes are already split-adjusted)::

    r_t = (C_t + D_t) / C_{t-1} - 1

``t-1`` is the previous *session* of the panel's index. A missing close makes
``r_t`` and ``r_{t+1}`` missing: nothing is forward-filled, so a return never
silently spans two sessions.
"""

from __future__ import annotations

import pandas as pd


def total_returns(close: pd.DataFrame, dividend: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily simple total returns ``(C_t + D_t) / C_{t-1} - 1`` per column.

    Parameters
    ----------
    close : sessions x tickers, split-adjusted closes (NaN where missing).
    dividend : same shape, cash dividend per share on its ex-date (0 elsewhere).
    """
    div = 0.0 if dividend is None else dividend.reindex_like(close).fillna(0.0)
    prev = close.shift(1)
    return (close + div) / prev - 1.0


def total_return_prices(open_: pd.DataFrame, close: pd.DataFrame,
                        dividend: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open and close put on a total-return basis, anchored at the last close.

    The adjusted close is ``prod(1 + r)``, scaled so that each column's last
    valid adjusted close equals its last raw close; the open is scaled by the
    same day's factor ``adj_close_t / close_t``, so open-to-close moves are the
    raw ones and dividends are credited in the close-to-close return. Trading
    these prices gives total-return P&L (a short pays the dividend).
    """
    # Across a missing close, chain from the last valid close so the level stays right.
    div = 0.0 if dividend is None else dividend.reindex_like(close).fillna(0.0)
    r = (close + div) / close.ffill().shift(1) - 1.0
    growth = (1.0 + r.fillna(0.0)).cumprod()
    growth = growth.where(close.notna())
    last_raw = close.ffill().iloc[-1]
    last_growth = growth.ffill().iloc[-1]
    adj_close = growth * (last_raw / last_growth)
    factor = adj_close / close
    adj_open = open_.reindex_like(close) * factor
    return adj_open, adj_close
