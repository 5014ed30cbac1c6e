"""Strategy performance metrics: one small function per number.

Conventions: daily returns are close-to-close changes of portfolio value over
the simulated sessions (the first against the initial cash); a year has 252
sessions; the risk-free rate is 0. Equity is net of fees, slippage and borrow.
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


def sortino_ratio(returns: pd.Series, periods: int = TRADING_DAYS) -> float:
    """``sqrt(periods) * mean(r) / sqrt(mean(min(r, 0)^2))``: downside deviation against a
    0 target (Sortino and Price 1994)."""
    downside = np.sqrt(np.mean(np.minimum(returns.to_numpy(), 0.0) ** 2))
    if not np.isfinite(downside) or downside == 0:
        return float("nan")
    return float(np.sqrt(periods) * returns.mean() / downside)


def cagr(equity: pd.Series, init_cash: float, periods: int = TRADING_DAYS) -> float:
    """Compound annual growth ``(V_end / V_0)^(periods / n) - 1`` over n sessions."""
    n = len(equity)
    if n == 0 or equity.iloc[-1] <= 0:
        return float("nan")
    return float((equity.iloc[-1] / init_cash) ** (periods / n) - 1.0)


def drawdown(equity: pd.Series) -> pd.Series:
    """Underwater curve ``V_t / max_{s<=t} V_s - 1``."""
    return equity / equity.cummax() - 1.0


def max_drawdown(equity: pd.Series) -> float:
    """Largest peak-to-trough fall ``min_t (V_t / max_{s<=t} V_s - 1)``, as a negative fraction."""
    return float(drawdown(equity).min())


def no_trades(init_cash: float, with_benchmark: bool) -> dict[str, float]:
    """Metrics of a run that never traded: flat, nothing paid, ratios undefined."""
    nan = float("nan")
    out = {"total_return": 0.0, "cagr": 0.0, "sharpe": nan, "sortino": nan,
           "max_drawdown": 0.0, "calmar": nan, "hit_rate": nan, "avg_trade_return": nan,
           "exposure": 0.0, "avg_gross_exposure": 0.0, "turnover": 0.0, "trades": 0,
           "fees_paid": 0.0, "borrow_paid": 0.0, "final_equity": float(init_cash),
           "sessions": 0}
    if with_benchmark:
        out.update(benchmark_return=nan, benchmark_sharpe=nan, excess_return=nan, beta=nan,
                   correlation=nan)
    return out


def summarize(sim, benchmark: pd.Series | None = None) -> dict[str, float]:
    """Headline metrics of a :class:`~backtest.simulate.SimulationResult`, JSON-ready.

    ``benchmark`` (optional) is the benchmark's daily total return over the same
    sessions (e.g. SPY): its buy-and-hold return and Sharpe, the strategy's excess
    return, beta and correlation to it.
    """
    equity, trades, cash = sim.equity, sim.trades, sim.init_cash
    if len(trades) == 0:
        return no_trades(cash, benchmark is not None)
    rets = daily_returns(equity, cash)
    pnl = trades["pnl"].astype(float) if len(trades) else pd.Series(dtype=float)
    mdd = max_drawdown(pd.concat([pd.Series([cash]), equity], ignore_index=True))
    growth = cagr(equity, cash)
    years = len(equity) / TRADING_DAYS
    out = {
        "total_return": float(equity.iloc[-1] / cash - 1.0),
        "cagr": growth,
        "sharpe": sharpe_ratio(rets),
        "sortino": sortino_ratio(rets),
        "max_drawdown": mdd,
        "calmar": float(growth / abs(mdd)) if mdd < 0 else float("nan"),
        "hit_rate": float((pnl > 0).mean()) if len(pnl) else float("nan"),
        "avg_trade_return": float(trades["return"].mean()) if len(trades) else float("nan"),
        "exposure": float((sim.exposure > 1e-12).mean()) if len(sim.exposure) else 0.0,
        "avg_gross_exposure": float(sim.exposure.mean()) if len(sim.exposure) else 0.0,
        "turnover": (float(sim.traded.sum() / equity.mean() / years)
                     if len(sim.traded) and years > 0 else 0.0),
        "trades": int(len(trades)),
        "fees_paid": float(trades["fees"].sum()) if len(trades) else 0.0,
        "borrow_paid": float(trades["borrow"].sum()) if len(trades) else 0.0,
        "final_equity": float(equity.iloc[-1]),
        "sessions": int(len(equity)),
    }
    if benchmark is not None:
        b = benchmark.reindex(equity.index).fillna(0.0)
        bench_total = float((1.0 + b).prod() - 1.0)
        ok = rets.notna() & b.notna()
        var_b = b[ok].var(ddof=1)
        out.update({
            "benchmark_return": bench_total,
            "benchmark_sharpe": sharpe_ratio(b),
            "excess_return": out["total_return"] - bench_total,
            "beta": float(rets[ok].cov(b[ok]) / var_b) if var_b > 0 else float("nan"),
            "correlation": float(rets[ok].corr(b[ok])) if var_b > 0 else float("nan"),
        })
    return out
