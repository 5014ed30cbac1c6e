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

import numpy as np
import pandas as pd


def total_returns(close: pd.DataFrame, dividend: pd.DataFrame | None = None) -> pd.DataFrame:
    """Daily simple total returns ``(C_t + D_t) / C_{t-1} - 1`` per column.

    Parameters
    ----------
    close : sessions x tickers, split-adjusted closes (NaN where missing).
    dividend : same shape, cash dividend per share on its ex-date (0 elsewhere; missing
        counts as 0). Aligned to ``close`` where its labels differ.

    Computed on the arrays in one output buffer, the same IEEE operations in the same
    order as the frame arithmetic, which made six temporaries of the panel's size (0.9 s
    on a universe panel of 80 MB; fresh memory is most of it).
    """
    c = close.to_numpy(dtype="float64", na_value=np.nan)
    if dividend is None:
        d = None
    else:
        if not (dividend.index.equals(close.index) and dividend.columns.equals(close.columns)):
            dividend = dividend.reindex_like(close)
        d = dividend.to_numpy(dtype="float64", na_value=np.nan)
    out = np.empty_like(c)
    out[:1] = np.nan
    now = out[1:]
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero close gives inf, as pandas
        if d is None:
            np.add(c[1:], 0.0, out=now)
        else:
            np.add(c[1:], d[1:], out=now)
            missing = np.isnan(d[1:])  # a missing dividend counts as 0: C + 0.0 there
            if missing.any():
                np.add(c[1:], 0.0, out=now, where=missing)
        np.divide(now, c[:-1], out=now)
        np.subtract(now, 1.0, out=now)
    return pd.DataFrame(out, index=close.index, columns=close.columns, copy=False)


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
