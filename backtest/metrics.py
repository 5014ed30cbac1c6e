"""Strategy performance metrics: one small function per number.

Conventions: daily returns are close-to-close changes of portfolio value over
the simulated sessions (the first against the initial cash); a year has 252
sessions; the risk-free rate is 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TRADING_DAYS = 252


def daily_returns(equity: pd.Series, init_cash: float) -> pd.Series:
    """``V_t / V_{t-1} - 1`` with ``V_0`` the initial cash."""
    prev = equity.shift(1).fillna(init_cash)
    return equity / prev - 1.0


def sharpe_ratio(returns: pd.Series, periods: int = TRADING_DAYS) -> float:
    """Annualized Sharpe ratio ``sqrt(periods) * mean(r) / sd(r)`` (Sharpe 1994), rf = 0, ddof 1."""
    sd = returns.std(ddof=1)
    if not np.isfinite(sd) or sd == 0:
        return float("nan")
    return float(np.sqrt(periods) * returns.mean() / sd)


def max_drawdown(equity: pd.Series) -> float:
    """Largest peak-to-trough fall ``min_t (V_t / max_{s<=t} V_s - 1)``, as a negative fraction."""
    return float((equity / equity.cummax() - 1.0).min())


def drawdown(equity: pd.Series) -> pd.Series:
    """Underwater curve ``V_t / max_{s<=t} V_s - 1``."""
    return equity / equity.cummax() - 1.0


def summarize(equity: pd.Series, trades: pd.DataFrame, init_cash: float) -> dict[str, float]:
    """The headline metrics of a run, as plain floats/ints (JSON-ready)."""
    rets = daily_returns(equity, init_cash)
    pnl = trades["pnl"].astype(float) if len(trades) else pd.Series(dtype=float)
    return {
        "total_return": float(equity.iloc[-1] / init_cash - 1.0),
        "sharpe": sharpe_ratio(rets),
        "max_drawdown": max_drawdown(pd.concat([pd.Series([init_cash]), equity],
                                               ignore_index=True)),
        "hit_rate": float((pnl > 0).mean()) if len(pnl) else float("nan"),
        "trades": int(len(trades)),
        "fees_paid": float(trades["fees"].sum()) if len(trades) else 0.0,
        "final_equity": float(equity.iloc[-1]),
        "sessions": int(len(equity)),
    }
