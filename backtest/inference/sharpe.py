"""How much a Sharpe ratio can be trusted: probabilistic and deflated Sharpe ratios.

Both use the Sharpe ratio per period (not annualized), ``SR = mean / sd`` of T
returns (sd with ddof 1), and the returns' skewness g3 and kurtosis g4 (the
sample moments ``m3 / m2^1.5`` and ``m4 / m2^2``; g4 = 3 for normal returns), since a
Sharpe ratio estimated from skewed or fat-tailed returns is less precise.
"""

from __future__ import annotations

import numpy as np

EULER_GAMMA = 0.5772156649015329


def sharpe_moments(returns: np.ndarray) -> tuple[float, float, float, int]:
    """(per-period Sharpe ratio, skewness, kurtosis, T) of ``returns`` (finite ones)."""
    r = np.asarray(returns, dtype="float64")
    r = r[np.isfinite(r)]
    sr, g3, g4 = moments_rows(r[None, :])
    return float(sr[0]), float(g3[0]), float(g4[0]), int(r.size)


def moments_rows(r: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-period Sharpe ratio, skewness and kurtosis of each row of a 2-D array of
    finite returns (NaN for rows with fewer than 3 returns or no variation)."""
    n = r.shape[1]
    nan = np.full(len(r), np.nan)
    if n < 3:
        return nan, nan, nan
    dev = r - r.mean(axis=1, keepdims=True)
    # powers as products: numpy's ``** 3`` and ``** 4`` call pow() per element (a
    # 10,000-combination sweep's 2.17M cells: 0.149 s, as products 0.009 s; equal to rounding)
    dev2 = dev * dev
    m2 = dev2.mean(axis=1)
    sd = r.std(axis=1, ddof=1)
    ok = m2 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = np.where(ok, r.mean(axis=1) / sd, np.nan)
        g3 = np.where(ok, (dev2 * dev).mean(axis=1) / m2 ** 1.5, np.nan)
        g4 = np.where(ok, (dev2 * dev2).mean(axis=1) / m2 ** 2, np.nan)
    return sr, g3, g4


def psr_from_moments(sr, skew, kurt, n: int, benchmark=0.0):
    """``PSR = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))``
    (Bailey and Lopez de Prado 2012, eq. 10), elementwise over arrays or for scalars.
    NaN where the Sharpe ratio is undefined or T < 3."""
    from scipy.special import ndtr  # deferred: ``backtest --help`` imports this module

    sr, skew, kurt = (np.asarray(x, dtype="float64") for x in (sr, skew, kurt))
    var = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (sr - benchmark) * np.sqrt(max(n - 1.0, 0.0)) / np.sqrt(var)
        out = np.where((var > 0) & np.isfinite(sr) & (n >= 3), ndtr(z), np.nan)
    return float(out) if out.ndim == 0 else out


def probabilistic_sharpe(returns: np.ndarray, benchmark: float = 0.0) -> float:
    """The probability that the true Sharpe ratio (per period) exceeds ``benchmark``,
    given these returns (Bailey and Lopez de Prado 2012, "The Sharpe ratio efficient
    frontier", Journal of Risk 15(2), eq. 10)."""
    sr, g3, g4, n = sharpe_moments(returns)
    return psr_from_moments(sr, g3, g4, n, benchmark)


def expected_max_sharpe(sharpe_variance: float, n_trials: int) -> float:
    """The Sharpe ratio the best of ``n_trials`` skill-less strategies is expected to reach,
    ``sqrt(V) ((1 - gamma) Z^-1(1 - 1/N) + gamma Z^-1(1 - 1/(N e)))`` (Bailey and Lopez de
    Prado 2014, eq. 7; gamma the Euler-Mascheroni constant, V the variance of the trials'
    Sharpe ratios). 0 for a single trial."""
    from scipy.special import ndtri  # deferred, as ndtr above

    if n_trials < 2 or not np.isfinite(sharpe_variance):
        return 0.0
    return float(np.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * ndtri(1.0 - 1.0 / n_trials)
                                             + EULER_GAMMA * ndtri(1.0 - 1.0 / (n_trials * np.e))))


def deflated_sharpe(best_returns: np.ndarray, trial_sharpes: np.ndarray
                    ) -> tuple[float, float]:
    """(deflated Sharpe ratio, the per-period benchmark SR0 it was deflated by) of the best
    of N trials.

    The PSR of the selected strategy against ``SR0``, the maximum Sharpe ratio expected
    among N = ``len(trial_sharpes)`` skill-less trials with the trials' Sharpe variance
    (per period; undefined Sharpe ratios, e.g. of trials that never traded, count as
    trials but not in the variance) (Bailey and Lopez de Prado 2014, "The deflated Sharpe
    ratio", Journal of Portfolio Management 40(5), eq. 8).
    """
    trials = np.asarray(trial_sharpes, dtype="float64")
    finite = trials[np.isfinite(trials)]
    sr0 = expected_max_sharpe(float(finite.var(ddof=1)) if finite.size > 1 else np.nan,
                              int(trials.size))
    sr, g3, g4, n = sharpe_moments(best_returns)
    return psr_from_moments(sr, g3, g4, n, sr0), sr0
