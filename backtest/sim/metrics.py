"""Strategy performance metrics: one small function per number.

Conventions: daily returns are close-to-close changes of portfolio value over
the simulated sessions (the first against the initial cash); a year has 252
sessions; the risk-free rate is 0. Equity is net of fees, slippage and borrow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.inference.sharpe import moments_rows, probabilistic_sharpe, psr_from_moments

TRADING_DAYS = 252


@dataclass(frozen=True)
class Metric:
    """What one number of ``metrics.json`` is: its label, unit and which way is better."""

    name: str
    label: str
    unit: str  # "fraction" (shown as %), "ratio", "probability", "count", "money", "sessions"
    better: int  # +1: higher is better, -1: lower is better, 0: neither (a description)
    what: str = ""


# Every metric, most important first: the order reports, summaries and tables use.
METRIC_INFO: tuple[Metric, ...] = (
    Metric("total_return", "Total return", "fraction", 1, "net of fees, slippage and borrow"),
    Metric("benchmark_return", "Benchmark return", "fraction", 0,
           "buy and hold of the benchmark over the same sessions"),
    Metric("excess_return", "Excess return", "fraction", 1, "total minus benchmark return"),
    Metric("sharpe", "Sharpe ratio", "ratio", 1, "annualized, daily returns, rf 0"),
    Metric("psr", "Probabilistic Sharpe ratio", "probability", 1,
           "chance the true Sharpe ratio is above 0, given skew and fat tails"),
    Metric("event_mean_return", "Mean return per event", "fraction", 1,
           "the P&L of an event's trades over the portfolio value before them"),
    Metric("event_t", "t of the mean event return", "ratio", 1, "clustered by news day"),
    Metric("event_p", "p of the mean event return", "probability", -1,
           "two-sided, Student-t with news days - 1 df"),
    Metric("event_ci_lo", "Mean event return, 95% interval from", "fraction", 1,
           "bootstrap over news days"),
    Metric("event_ci_hi", "Mean event return, 95% interval to", "fraction", 1,
           "bootstrap over news days"),
    Metric("events_traded", "Events traded", "count", 0),
    Metric("news_days", "Independent news days", "count", 0, "distinct day 0s of the events traded"),
    Metric("alpha_annual", "Alpha a year", "fraction", 1,
           "calendar-time regression on the benchmark, daily alpha x 252"),
    Metric("alpha_t", "t of alpha", "ratio", 1, "Newey-West errors"),
    Metric("alpha_p", "p of alpha", "probability", -1, "two-sided"),
    Metric("max_drawdown", "Max drawdown", "fraction", 1, "largest fall from a peak"),
    Metric("trades", "Trades", "count", 0),
    Metric("hit_rate", "Hit rate", "fraction", 1, "share of trades with a profit"),
    Metric("avg_trade_return", "Average trade return", "fraction", 1),
    Metric("cagr", "CAGR", "fraction", 1, "compound annual growth over the sessions run"),
    Metric("sortino", "Sortino ratio", "ratio", 1),
    Metric("calmar", "Calmar ratio", "ratio", 1, "CAGR over max drawdown"),
    Metric("exposure", "Time in market", "fraction", 0, "share of sessions with a position"),
    Metric("avg_gross_exposure", "Average gross exposure", "fraction", 0),
    Metric("turnover", "Turnover a year", "ratio", 0, "traded notional over average equity"),
    Metric("fees_paid", "Fees paid", "money", -1),
    Metric("borrow_paid", "Borrow paid", "money", -1),
    Metric("final_equity", "Final equity", "money", 1),
    Metric("benchmark_sharpe", "Benchmark Sharpe", "ratio", 0),
    Metric("beta", "Beta to the benchmark", "ratio", 0),
    Metric("correlation", "Correlation to the benchmark", "ratio", 0),
    Metric("sessions", "Sessions", "sessions", 0, "from the first entry to the last exit"),
    # a sweep's best combination, judged against every combination tried
    Metric("dsr", "Deflated Sharpe ratio", "probability", 1,
           "PSR against the best Sharpe ratio expected from this many skill-less trials"),
    Metric("trials", "Combinations tried", "count", 0),
    Metric("pbo", "Probability of backtest overfitting", "probability", -1,
           "how often the in-sample best is below the median out of sample"),
    Metric("spa_p", "Reality check p (Hansen SPA)", "probability", -1,
           "chance of a best this good if no combination beats not trading"),
    Metric("reality_check_p", "Reality check p (White)", "probability", -1),
    Metric("wf_oos_mean", "Walk-forward mean event return", "fraction", 1,
           "out of sample: chosen on earlier events, scored on later ones"),
    Metric("wf_oos_p", "p of the walk-forward mean", "probability", -1),
)
METRIC = {m.name: m for m in METRIC_INFO}
# Keys of summarize(), in order (metrics.json is compared byte for byte).
METRICS = ("total_return", "cagr", "sharpe", "psr", "sortino", "max_drawdown", "calmar", "hit_rate",
           "avg_trade_return", "exposure", "avg_gross_exposure", "turnover", "trades",
           "fees_paid", "borrow_paid", "final_equity", "sessions")
BENCHMARK_METRICS = ("benchmark_return", "benchmark_sharpe", "excess_return", "beta",
                     "correlation")


def daily_returns(equity: pd.Series, init_cash: float) -> pd.Series:
    """``V_t / V_{t-1} - 1`` with ``V_0`` the initial cash."""
    prev = equity.shift(1).fillna(init_cash)
    return equity / prev - 1.0


def _finite(values) -> np.ndarray:
    a = np.asarray(values, dtype="float64")
    return a[np.isfinite(a)]


def sharpe_ratio(returns, periods: int = TRADING_DAYS) -> float:
    """Annualized Sharpe ratio ``sqrt(periods) * mean(r) / sd(r)`` (Sharpe 1994), rf = 0, ddof 1.

    Non-finite returns are dropped; NaN with fewer than two returns or no variation.
    """
    return float(sharpe_rows(_finite(returns)[None, :], periods)[0])


def sortino_ratio(returns, periods: int = TRADING_DAYS) -> float:
    """``sqrt(periods) * mean(r) / sqrt(mean(min(r, 0)^2))``: downside deviation against a
    0 target (Sortino and Price 1994). Non-finite returns are dropped."""
    return float(sortino_rows(_finite(returns)[None, :], periods)[0])


def sharpe_rows(r: np.ndarray, periods: int = TRADING_DAYS) -> np.ndarray:
    """:func:`sharpe_ratio` of each row of a 2-D array of finite returns.

    A row of a C-ordered matrix is reduced exactly as the same 1-D array, so
    this is the one place the formula lives, for one run or a sweep's many.
    """
    if r.shape[1] < 2:
        return np.full(len(r), np.nan)
    sd = r.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(periods) * r.mean(axis=1) / sd
    return np.where(np.isfinite(sd) & (sd != 0), out, np.nan)


def sortino_rows(r: np.ndarray, periods: int = TRADING_DAYS) -> np.ndarray:
    """:func:`sortino_ratio` of each row of a 2-D array of finite returns."""
    if r.shape[1] == 0:
        return np.full(len(r), np.nan)
    downside = np.sqrt(np.mean(np.minimum(r, 0.0) ** 2, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sqrt(periods) * r.mean(axis=1) / downside
    return np.where(np.isfinite(downside) & (downside != 0), out, np.nan)


def psr_rows(r: np.ndarray) -> np.ndarray:
    """Probabilistic Sharpe ratio against 0 of each row of a 2-D array of finite daily
    returns (:func:`backtest.inference.sharpe.psr_from_moments`, Bailey and Lopez de
    Prado 2012)."""
    sr, g3, g4 = moments_rows(r)
    return np.asarray(psr_from_moments(sr, g3, g4, r.shape[1]), dtype="float64")


def cagr(equity, init_cash: float, periods: int = TRADING_DAYS) -> float:
    """Compound annual growth ``(V_end / V_0)^(periods / n) - 1`` over n sessions."""
    e = np.asarray(equity, dtype="float64")
    if e.size == 0 or e[-1] <= 0:
        return float("nan")
    return float((e[-1] / init_cash) ** (periods / e.size) - 1.0)


def drawdown(equity: pd.Series) -> pd.Series:
    """Underwater curve ``V_t / max_{s<=t} V_s - 1`` (Magdon-Ismail and Atiya 2004)."""
    values = drawdown_rows(equity.to_numpy(dtype="float64")[None, :])[0]
    return pd.Series(values, index=equity.index, name=equity.name)


def drawdown_rows(curves: np.ndarray) -> np.ndarray:
    """:func:`drawdown` of each row of a 2-D array of equity curves."""
    return curves / np.maximum.accumulate(curves, axis=1) - 1.0


def max_drawdown(equity) -> float:
    """Largest peak-to-trough fall ``min_t (V_t / max_{s<=t} V_s - 1)``, as a negative fraction."""
    return float(max_drawdown_rows(np.asarray(equity, dtype="float64")[None, :])[0])


def max_drawdown_rows(curves: np.ndarray) -> np.ndarray:
    """:func:`max_drawdown` of each row of a 2-D array of equity curves."""
    return drawdown_rows(curves).min(axis=1)


def no_trades(init_cash: float, with_benchmark: bool) -> dict[str, float]:
    """Metrics of a run that never traded: flat, nothing paid, ratios undefined."""
    nan = float("nan")
    out = {"total_return": 0.0, "cagr": 0.0, "sharpe": nan, "psr": nan, "sortino": nan,
           "max_drawdown": 0.0, "calmar": nan, "hit_rate": nan, "avg_trade_return": nan,
           "exposure": 0.0, "avg_gross_exposure": 0.0, "turnover": 0.0, "trades": 0,
           "fees_paid": 0.0, "borrow_paid": 0.0, "final_equity": float(init_cash),
           "sessions": 0}
    if with_benchmark:
        out.update(benchmark_return=nan, benchmark_sharpe=nan, excess_return=nan, beta=nan,
                   correlation=nan)
    return out


@dataclass
class RunArrays:
    """What the metrics of one simulated portfolio are computed from, as numpy arrays.

    Session arrays (equity, exposure, traded, benchmark returns) cover the run's
    own sessions; trade arrays (pnl, return, fees, borrow) are in trades-table order.
    """

    init_cash: float
    equity: np.ndarray
    exposure: np.ndarray
    traded: np.ndarray
    pnl: np.ndarray
    ret: np.ndarray
    fees: np.ndarray
    borrow: np.ndarray
    benchmark: np.ndarray | None = None


def summarize(sim, benchmark: pd.Series | None = None) -> dict[str, float]:
    """Headline metrics of a :class:`~backtest.sim.results.SimulationResult`, JSON-ready.

    ``benchmark`` (optional) is the benchmark's daily total return over the same
    sessions (e.g. SPY): its buy-and-hold return and Sharpe, the strategy's excess
    return, beta and correlation to it.
    """
    trades = sim.trades
    if len(trades) == 0:
        return no_trades(sim.init_cash, benchmark is not None)
    col = {c: trades[c].to_numpy(dtype="float64") for c in ("pnl", "return", "fees", "borrow")}
    bench = (benchmark.reindex(sim.equity.index).fillna(0.0).to_numpy(dtype="float64")
             if benchmark is not None else None)
    run = RunArrays(sim.init_cash, sim.equity.to_numpy(dtype="float64"),
                    sim.exposure.to_numpy(dtype="float64"), sim.traded.to_numpy(dtype="float64"),
                    col["pnl"], col["return"], col["fees"], col["borrow"], bench)
    return summarize_many([run], benchmark is not None)[0]


def summarize_grid(grid, benchmark: pd.Series | None = None) -> dict:
    """:func:`summarize` of every combination of a :class:`~backtest.sim.results.GridRun`,
    by combination label, read straight from the grid's arrays (no frames built)."""
    bench = (benchmark.reindex(grid.sessions).fillna(0.0).to_numpy(dtype="float64")
             if benchmark is not None else None)
    t, bounds = grid.trades, grid.trade_bounds
    runs = []
    for k, (lo, hi) in enumerate(grid.span.tolist()):
        own, mine = slice(lo, hi + 1), slice(bounds[k], bounds[k + 1])
        runs.append(RunArrays(grid.init_cash, grid.equity[own, k], grid.exposure[own, k],
                              grid.traded[own, k], t["pnl"][mine], t["return"][mine],
                              t["fees"][mine], t["borrow"][mine],
                              bench[own] if bench is not None else None))
    return dict(zip(grid.combos, summarize_many(runs, benchmark is not None)))


def summarize_many(runs: list[RunArrays], with_benchmark: bool) -> list[dict[str, float]]:
    """:func:`summarize` of many runs at once, vectorized across runs.

    Runs with the same number of sessions (and, for trade metrics, of trades) are
    stacked into one C-ordered matrix, one run per row, and reduced along rows: a
    row of a C-ordered matrix is summed exactly like the same 1-D array, so every
    number equals the one-run formula to the last bit. The few steps that do not
    vectorize that way (``**`` for CAGR; beta and correlation of a run with a
    missing day, through ``np.cov``) run per run.
    """
    out: list[dict | None] = [None] * len(runs)
    live = []
    for i, run in enumerate(runs):
        if len(run.pnl) == 0:
            out[i] = no_trades(run.init_cash, with_benchmark)
        else:
            live.append(i)
    by_trades = _trade_stats(runs, live)
    keys = METRICS + (BENCHMARK_METRICS if with_benchmark else ())
    for idx in _same_length(live, [len(runs[i].equity) for i in live]):
        stats = _session_stats([runs[i] for i in idx], with_benchmark)
        for row, i in enumerate(idx):
            merged = {**{name: values[row] for name, values in stats.items()}, **by_trades[i]}
            out[i] = {key: merged[key] for key in keys}
    return out


def _same_length(items: list[int], lengths: list[int]) -> list[list[int]]:
    """``items`` grouped by length (groups in order of first appearance)."""
    groups: dict[int, list[int]] = {}
    for i, n in zip(items, lengths):
        groups.setdefault(n, []).append(i)
    return list(groups.values())


def _trade_stats(runs: list[RunArrays], live: list[int]) -> dict[int, dict]:
    """Hit rate, average trade return, trade count, fees and borrow paid, per run."""
    out = {}
    for idx in _same_length(live, [len(runs[i].pnl) for i in live]):
        n = len(runs[idx[0]].pnl)
        pnl = np.stack([runs[i].pnl for i in idx])
        hits = (pnl > 0).sum(axis=1) / n  # (pnl > 0).mean(): a count over n
        avg = np.stack([runs[i].ret for i in idx]).mean(axis=1)
        fees = np.stack([runs[i].fees for i in idx]).sum(axis=1)
        borrow = np.stack([runs[i].borrow for i in idx]).sum(axis=1)
        for row, i in enumerate(idx):
            out[i] = {"hit_rate": float(hits[row]), "avg_trade_return": float(avg[row]),
                      "trades": int(n), "fees_paid": float(fees[row]),
                      "borrow_paid": float(borrow[row])}
    return out


def _session_stats(runs: list[RunArrays], with_benchmark: bool) -> dict[str, list]:
    """Equity-curve metrics of runs with the same number of sessions, one list per metric."""
    n = len(runs[0].equity)
    cash = np.array([run.init_cash for run in runs], dtype="float64")[:, None]
    e = np.stack([run.equity for run in runs])
    prev = np.concatenate([cash, e[:, :-1]], axis=1)
    rets = e / prev - 1.0
    finite = np.isfinite(rets).all(axis=1)
    total = e[:, -1] / cash[:, 0] - 1.0
    sharpe, sortino = sharpe_rows(rets), sortino_rows(rets)
    psr = psr_rows(rets)
    curve = np.concatenate([cash, e], axis=1)
    mdd = max_drawdown_rows(curve)
    years = n / TRADING_DAYS
    if all(len(run.exposure) == n and len(run.traded) == n for run in runs):
        exposure = np.stack([run.exposure for run in runs])
        active = (exposure > 1e-12).sum(axis=1) / n  # (exposure > 1e-12).mean()
        avg_exposure = exposure.mean(axis=1)
        turnover = np.stack([run.traded for run in runs]).sum(axis=1) / e.mean(axis=1) / years
    else:  # a hand-made result without (or with other) exposure and traded series
        active = [float((r.exposure > 1e-12).mean()) if r.exposure.size else 0.0 for r in runs]
        avg_exposure = [float(r.exposure.mean()) if r.exposure.size else 0.0 for r in runs]
        turnover = [float(r.traded.sum() / e[i].mean() / years) if r.traded.size else 0.0
                    for i, r in enumerate(runs)]
    stats: dict[str, list] = {k: [] for k in (
        "total_return", "cagr", "sharpe", "psr", "sortino", "max_drawdown", "calmar",
        "exposure",
        "avg_gross_exposure", "turnover", "final_equity", "sessions")}
    for row, run in enumerate(runs):
        growth = cagr(e[row], run.init_cash)
        m = float(mdd[row])
        stats["total_return"].append(float(total[row]))
        stats["cagr"].append(growth)
        # A run with a non-finite return drops it, as the one-run functions do.
        stats["sharpe"].append(float(sharpe[row]) if finite[row] else sharpe_ratio(rets[row]))
        stats["psr"].append(float(psr[row]) if finite[row]
                            else probabilistic_sharpe(rets[row][np.isfinite(rets[row])]))
        stats["sortino"].append(float(sortino[row]) if finite[row]
                                else sortino_ratio(rets[row]))
        stats["max_drawdown"].append(m)
        stats["calmar"].append(float(growth / abs(m)) if m < 0 else float("nan"))
        stats["exposure"].append(float(active[row]))
        stats["avg_gross_exposure"].append(float(avg_exposure[row]))
        stats["turnover"].append(float(turnover[row]))
        stats["final_equity"].append(float(e[row, -1]))
        stats["sessions"].append(int(n))
    if with_benchmark:
        stats.update(_benchmark_stats(runs, rets, finite, stats["total_return"]))
    return stats


def _benchmark_stats(runs: list[RunArrays], rets: np.ndarray, finite: np.ndarray,
                     total: list[float]) -> dict[str, list]:
    """Benchmark return and Sharpe, excess return, beta and correlation, per run."""
    b = np.stack([run.benchmark for run in runs])
    bench_total = np.prod(1.0 + b, axis=1) - 1.0
    b_finite = np.isfinite(b).all(axis=1)
    b_sharpe = sharpe_rows(b)
    n = b.shape[1]
    var_all = b.var(axis=1, ddof=1) if n > 1 else np.full(len(b), np.nan)
    # Beta and correlation of every complete row at once (sample covariance, ddof 1):
    # beta = cov(r, b) / var(b), correlation = cov(r, b) / (sd(r) sd(b)), clipped to [-1, 1]
    # as numpy's corrcoef does; rows with a missing day use their common days below.
    with np.errstate(invalid="ignore", divide="ignore"):
        dr = rets - rets.mean(axis=1, keepdims=True)
        db = b - b.mean(axis=1, keepdims=True)
        cov_all = (dr * db).sum(axis=1) / (n - 1) if n > 1 else np.full(len(b), np.nan)
        var_r = (dr * dr).sum(axis=1) / (n - 1) if n > 1 else np.full(len(b), np.nan)
        beta_all = cov_all / var_all
        corr_all = np.clip(cov_all / np.sqrt(var_r * var_all), -1.0, 1.0)
    out: dict[str, list] = {k: [] for k in ("benchmark_return", "benchmark_sharpe",
                                            "excess_return", "beta", "correlation")}
    for row in range(len(runs)):
        r, x = rets[row], b[row]
        if finite[row] and b_finite[row]:
            var_b = var_all[row]
            good = np.isfinite(var_b) and var_b > 0
            beta = float(beta_all[row]) if good else float("nan")
            corr = float(corr_all[row]) if good else float("nan")
        else:
            ok = np.isfinite(r) & np.isfinite(x)
            var_b = x[ok].var(ddof=1) if ok.sum() > 1 else np.nan
            good = np.isfinite(var_b) and var_b > 0
            beta = float(np.cov(r[ok], x[ok], ddof=1)[0, 1] / var_b) if good else float("nan")
            corr = float(np.corrcoef(r[ok], x[ok])[0, 1]) if good else float("nan")
        out["benchmark_return"].append(float(bench_total[row]))
        out["benchmark_sharpe"].append(float(b_sharpe[row]) if b_finite[row]
                                       else sharpe_ratio(x))
        out["excess_return"].append(total[row] - float(bench_total[row]))
        out["beta"].append(beta)
        out["correlation"].append(corr)
    return out


def event_returns(first_ids, pnl, entry_rows, equity, init_cash: float) -> pd.DataFrame:
    """A strategy's return per event: ``ret = pnl / value``, the summed P&L of the trades
    the event opened over the portfolio's value at the close before its first entry
    session (the initial cash before the first session): the event's contribution to
    the portfolio's return, as in an event-time portfolio (Fama 1998, Sec. 4).

    ``first_ids``: each trade's event (the first of a holding that carried several),
    ``pnl``: its P&L net of costs, ``entry_rows``: its entry session as a row of
    ``equity`` (the portfolio value at each session's close). Events in order of first
    appearance; columns event_id, pnl, value, ret.
    """
    ids, total, value = event_sums(first_ids, pnl, entry_rows, equity, init_cash)
    return pd.DataFrame({"event_id": pd.Series(ids, dtype=object), "pnl": total,
                         "value": value, "ret": total / value})


def event_sums(first_ids, pnl, entry_rows, equity, init_cash: float
               ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """:func:`event_returns` as arrays (event ids, P&L, value), without a DataFrame: a
    sweep asks for it once per combination."""
    ids = list(first_ids)
    code_of = {i: c for c, i in enumerate(dict.fromkeys(ids))}  # first appearance order
    codes = np.fromiter((code_of[i] for i in ids), dtype=np.int64, count=len(ids))
    n = len(code_of)
    total = np.bincount(codes, weights=np.asarray(pnl, dtype="float64"), minlength=n)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, codes, np.asarray(entry_rows, dtype=np.int64))
    e = np.asarray(equity, dtype="float64")
    value = np.where(first >= 1, e[np.maximum(first - 1, 0)], init_cash) if n else \
        np.zeros(0)
    return list(code_of), total, value
