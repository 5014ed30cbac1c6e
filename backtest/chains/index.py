"""A chain's index: the daily value of holding its members, and who contributed what.

Method (a portfolio of total returns; weights as in :meth:`events.model.Chain.weights_on`)
-----------------------------------------------------------------------------------------
Member returns are total returns, ``r_it = (C_it + D_it) / C_i,prev - 1``
(:mod:`backtest.data.returns`), where ``C_i,prev`` is the member's last close: a day
without a close holds its mark (return 0, counted in ``stale_days``) and the next
close catches up, so no move is lost.

A member is bought at the close of its ``from`` date (or of its first close, if it
lists later) and sold at the close of its ``until`` date: it earns the returns of the
sessions after ``from`` up to and including ``until``. With ``V_i,t`` the value held in member ``i`` at the close of ``t``:

* ``V_i,t = V_i,t-1 (1 + r_it)`` and the index return is
  ``R_t = sum_i V_i,t-1 r_it / sum_i V_i,t-1``;
* **buy and hold** (``rebalance: none``): at the base close the value is split by
  the target weights; it is split again (same total value) only at a close where the
  holding changes (a member joins or leaves); **daily**: split again at every close;
* the **contribution** of member ``i`` is ``sum_t V_i,t-1 r_it / V_0``; the
  contributions add up to the index's total return ``V_T / V_0 - 1`` exactly.

With one unchanged membership and buy and hold, the index's total return is the
weighted mean of the members' total returns: the "the chain rose X%" of a news story.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from events.errors import PriceDataError
from events.model import Chain


@dataclass(frozen=True)
class ChainIndex:
    """The index of one chain over one period.

    ``returns``: daily index return (first session: the base, no return);
    ``level``: index value, 100 at the base close; ``members``: one row per member
    (weight at the base, sessions held, total return while held, contribution,
    stale days); ``holdings``: the value held in each member at each close.
    """

    chain: Chain
    returns: pd.Series
    level: pd.Series
    members: pd.DataFrame
    holdings: pd.DataFrame

    @property
    def total_return(self) -> float:
        return float(self.level.iloc[-1] / self.level.iloc[0] - 1.0)


def chain_index(chain: Chain, panel: PricePanel, start=None, end=None) -> ChainIndex:
    """Index of ``chain`` on ``panel`` from the close of the first session on or after
    ``start`` to the close of the last session on or before ``end`` (see the module
    docstring for the method)."""
    tickers = [t for t in chain.tickers if t in panel.close.columns]
    missing = [t for t in chain.tickers if t not in panel.close.columns]
    if missing:
        raise PriceDataError(f"chain {chain.name}: no price data for {', '.join(missing)}",
                             path=chain.path, field="members")
    close = panel.close[tickers].loc[start:end]
    if len(close) < 2:
        raise PriceDataError(f"chain {chain.name}: fewer than two sessions of prices between "
                             f"{start or 'the start'} and {end or 'the end'}", field="start")
    dividend = panel.dividend[tickers].reindex(close.index).fillna(0.0)
    # The mark of each member: its last close, carried over days without one.
    mark = panel.close[tickers].loc[:end].ffill().reindex(close.index)
    listed = mark.notna().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = ((close.fillna(mark) + dividend) / mark.shift(1) - 1.0).to_numpy()
    stale = (close.isna().to_numpy() & listed)
    days = [d.date() for d in close.index]
    # In the basket after the close of day t: listed by then, bought (from <= t) and not
    # yet sold (t < until: a member earns the return of its `until` day, then is sold).
    members_in = [m for m in chain.members if m.ticker in tickers]
    kept = np.array([[(m.start is None or m.start <= d) and (m.end is None or d < m.end)
                      for m in members_in] for d in days])
    held_at_close = kept & listed
    target = np.array([m.weight for m in members_in], dtype=float)

    n_days, n = r.shape
    value = np.zeros((n_days, n))  # value held in each member after the close of day t
    pnl = np.zeros((n_days, n))  # V_i,t-1 r_it
    cash = 0.0  # value parked while no member belongs (the index stays flat)
    for t in range(n_days):
        if t > 0:
            ret = np.where(value[t - 1] > 0, r[t], 0.0)
            pnl[t] = value[t - 1] * np.where(np.isfinite(ret), ret, 0.0)
            value[t] = value[t - 1] + pnl[t]
        total = 1.0 if t == 0 else value[t].sum() + cash
        changed = t == 0 or not np.array_equal(held_at_close[t], held_at_close[t - 1])
        if changed or chain.rebalance == "daily":
            w = np.where(held_at_close[t], target, 0.0)
            if w.sum() > 0:
                value[t], cash = total * w / w.sum(), 0.0
            elif t == 0:
                raise PriceDataError(f"chain {chain.name}: no member belongs and has a price "
                                     f"on {days[0]}", path=chain.path, field="start")
            else:
                value[t], cash = 0.0, total
    level_values = 1.0 + np.cumsum(pnl.sum(axis=1))  # V_t / V_0
    daily = np.full(n_days, np.nan)
    daily[1:] = pnl[1:].sum(axis=1) / level_values[:-1]
    index = close.index
    level = pd.Series(100.0 * level_values, index=index, name=chain.name)
    returns = pd.Series(daily, index=index, name=chain.name)
    held_rows = value[:-1] > 0
    growth = np.where(np.concatenate([np.zeros((1, n), bool), held_rows]),
                      1.0 + np.nan_to_num(r), 1.0)
    base_w = value[0] / value[0].sum()
    members = pd.DataFrame({
        "chain": chain.name,
        "ticker": tickers,
        "weight_at_start": base_w,
        "sessions_held": np.concatenate([np.zeros((1, n)), held_rows]).sum(axis=0).astype(int),
        "return_while_held": np.prod(growth, axis=0) - 1.0,
        "contribution": pnl.sum(axis=0),
        "stale_days": (stale & np.concatenate([np.zeros((1, n), bool), held_rows])).sum(axis=0),
        "first_held": [_first(index, col) for col in
                       np.concatenate([held_rows, np.zeros((1, n), bool)]).T],
    })
    holdings = pd.DataFrame(value, index=index, columns=tickers)
    return ChainIndex(chain, returns, level, members, holdings)


def _first(index: pd.DatetimeIndex, held: np.ndarray) -> str:
    """The close at which a member was first bought ('' if never held)."""
    rows = np.flatnonzero(held)
    return index[rows[0]].strftime("%Y-%m-%d") if rows.size else ""
