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


def _finite(values) -> np.ndarray:
    a = np.asarray(values, dtype="float64")
    return a[np.isfinite(a)]


def sharpe_ratio(returns, periods: int = TRADING_DAYS) -> float:
    """Annualized Sharpe ratio ``sqrt(periods) * mean(r) / sd(r)`` (Sharpe 1994), rf = 0, ddof 1."""
    r = _finite(returns)
    sd = r.std(ddof=1) if r.size > 1 else np.nan
    if not np.isfinite(sd) or sd == 0:
        return float("nan")
    return float(np.sqrt(periods) * r.mean() / sd)


def sortino_ratio(returns, periods: int = TRADING_DAYS) -> float:
    """``sqrt(periods) * mean(r) / sqrt(mean(min(r, 0)^2))``: downside deviation against a
    0 target (Sortino and Price 1994)."""
    r = _finite(returns)
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) if r.size else np.nan
    if not np.isfinite(downside) or downside == 0:
        return float("nan")
    return float(np.sqrt(periods) * r.mean() / downside)


def cagr(equity, init_cash: float, periods: int = TRADING_DAYS) -> float:
    """Compound annual growth ``(V_end / V_0)^(periods / n) - 1`` over n sessions."""
    e = np.asarray(equity, dtype="float64")
    if e.size == 0 or e[-1] <= 0:
        return float("nan")
    return float((e[-1] / init_cash) ** (periods / e.size) - 1.0)


def drawdown(equity: pd.Series) -> pd.Series:
    """Underwater curve ``V_t / max_{s<=t} V_s - 1``."""
    return equity / equity.cummax() - 1.0


def max_drawdown(equity) -> float:
    """Largest peak-to-trough fall ``min_t (V_t / max_{s<=t} V_s - 1)``, as a negative fraction."""
    e = np.asarray(equity, dtype="float64")
    return float((e / np.maximum.accumulate(e) - 1.0).min())


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
    trades, cash = sim.trades, sim.init_cash
    if len(trades) == 0:
        return no_trades(cash, benchmark is not None)
    e = sim.equity.to_numpy(dtype="float64")
    rets = e / np.concatenate([[cash], e[:-1]]) - 1.0
    pnl = trades["pnl"].to_numpy(dtype="float64")
    mdd = max_drawdown(np.concatenate([[cash], e]))
    growth = cagr(e, cash)
    years = e.size / TRADING_DAYS
    exposure = sim.exposure.to_numpy(dtype="float64")
    traded = sim.traded.to_numpy(dtype="float64")
    out = {
        "total_return": float(e[-1] / cash - 1.0),
        "cagr": growth,
        "sharpe": sharpe_ratio(rets),
        "sortino": sortino_ratio(rets),
        "max_drawdown": mdd,
        "calmar": float(growth / abs(mdd)) if mdd < 0 else float("nan"),
        "hit_rate": float((pnl > 0).mean()),
        "avg_trade_return": float(trades["return"].to_numpy(dtype="float64").mean()),
        "exposure": float((exposure > 1e-12).mean()) if exposure.size else 0.0,
        "avg_gross_exposure": float(exposure.mean()) if exposure.size else 0.0,
        "turnover": float(traded.sum() / e.mean() / years) if traded.size and years else 0.0,
        "trades": int(len(trades)),
        "fees_paid": float(trades["fees"].to_numpy(dtype="float64").sum()),
        "borrow_paid": float(trades["borrow"].to_numpy(dtype="float64").sum()),
        "final_equity": float(e[-1]),
        "sessions": int(e.size),
    }
    if benchmark is not None:
        b = benchmark.reindex(sim.equity.index).fillna(0.0).to_numpy(dtype="float64")
        bench_total = float(np.prod(1.0 + b) - 1.0)
        ok = np.isfinite(rets) & np.isfinite(b)
        var_b = b[ok].var(ddof=1) if ok.sum() > 1 else np.nan
        good = np.isfinite(var_b) and var_b > 0
        out.update({
            "benchmark_return": bench_total,
            "benchmark_sharpe": sharpe_ratio(b),
            "excess_return": out["total_return"] - bench_total,
            "beta": float(np.cov(rets[ok], b[ok], ddof=1)[0, 1] / var_b) if good
            else float("nan"),
            "correlation": float(np.corrcoef(rets[ok], b[ok])[0, 1]) if good else float("nan"),
        })
    return out
