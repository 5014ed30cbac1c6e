"""Event-study statistics: small pure functions on arrays, one per formula.

Arrays are batched over (event, ticker) pairs: shape ``(P, L)`` for P pairs and
L days, with NaN for a missing observation. Nothing here knows about pandas,
calendars or files.

References
----------
MacKinlay, A. C. (1997). Event studies in economics and finance. *Journal of
    Economic Literature* 35(1), 13-39.
Campbell, J. Y., Lo, A. W., MacKinlay, A. C. (1997). *The Econometrics of
    Financial Markets*, ch. 4. Princeton University Press.
Brown, S. J., Warner, J. B. (1985). Using daily stock returns: the case of event
    studies. *Journal of Financial Economics* 14(1), 3-31.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class MarketModelFit:
    """OLS fit of ``R_it = alpha_i + beta_i R_mt + e_it`` for each pair (arrays of shape (P,))."""

    alpha: np.ndarray
    beta: np.ndarray
    sigma2: np.ndarray  # residual variance s^2 with n - 2 degrees of freedom
    n: np.ndarray  # estimation observations used
    x_mean: np.ndarray  # mean market return over the estimation window
    x_ss: np.ndarray  # sum of squared deviations of the market return


def fit_market_model(y: np.ndarray, x: np.ndarray) -> MarketModelFit:
    """Batched OLS market model over estimation windows.

    For pair i with estimation days t = 1..n (days where both the stock and the
    market return exist)::

        beta_i  = sum (x_t - x̄)(y_t - ȳ) / sum (x_t - x̄)^2
        alpha_i = ȳ - beta_i x̄
        s_i^2   = sum (y_t - alpha_i - beta_i x_t)^2 / (n - 2)

    MacKinlay (1997), Sec. 4 (the market model); Campbell-Lo-MacKinlay (1997),
    Sec. 4.4. ``y`` and ``x`` are ``(P, L)`` with NaN gaps.
    """
    mask = np.isfinite(y) & np.isfinite(x)
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        yz, xz = np.where(mask, y, 0.0), np.where(mask, x, 0.0)
        x_mean = xz.sum(axis=1) / n
        y_mean = yz.sum(axis=1) / n
        dx = np.where(mask, x - x_mean[:, None], 0.0)
        dy = np.where(mask, y - y_mean[:, None], 0.0)
        x_ss = (dx * dx).sum(axis=1)
        beta = (dx * dy).sum(axis=1) / x_ss
        alpha = y_mean - beta * x_mean
        resid = np.where(mask, y - alpha[:, None] - beta[:, None] * x, 0.0)
        sigma2 = (resid * resid).sum(axis=1) / (n - 2)
    return MarketModelFit(alpha, beta, sigma2, n, x_mean, x_ss)


def abnormal_returns(y: np.ndarray, x: np.ndarray, fit: MarketModelFit) -> np.ndarray:
    """``AR_it = R_it - alpha_i - beta_i R_mt`` (MacKinlay 1997, eq. 7)."""
    return y - fit.alpha[:, None] - fit.beta[:, None] * x


def prediction_error_variance(x: np.ndarray, fit: MarketModelFit) -> np.ndarray:
    """Variance of each event-window AR, estimation error included.

    ``Var(AR_it) = s_i^2 [1 + 1/n + (R_mt - x̄)^2 / sum (R_m - x̄)^2]``
    (MacKinlay 1997, eq. 8, with sigma_m^2 written as a sum of squares;
    Campbell-Lo-MacKinlay 1997, Sec. 4.4.2).
    """
    return fit.sigma2[:, None] * (1.0 + 1.0 / fit.n[:, None]
                                  + (x - fit.x_mean[:, None]) ** 2 / fit.x_ss[:, None])


def car_variance(x_window: np.ndarray, fit: MarketModelFit) -> np.ndarray:
    """Variance of a CAR over K days, including the covariance of its ARs.

    The ARs of one pair share the estimated (alpha, beta), so they are
    correlated; summing ``V = s^2 (I + X*(X'X)^-1 X*')`` over the window gives::

        Var(CAR_i) = s_i^2 [K + K^2/n + (sum_t (R_mt - x̄))^2 / sum (R_m - x̄)^2]

    Campbell-Lo-MacKinlay (1997), Sec. 4.4.3 (``gamma' V_i gamma`` with gamma a
    vector of ones). MacKinlay (1997, eq. 10) gives its large-L limit ``K s^2``.
    ``x_window`` is ``(P, K)``.
    """
    k = x_window.shape[1]
    dev = (x_window - fit.x_mean[:, None]).sum(axis=1)
    return fit.sigma2 * (k + k * k / fit.n + dev * dev / fit.x_ss)


def t_pvalue(t: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Two-sided p-value of a Student-t statistic: ``2 * P(T_df > |t|)``."""
    return 2.0 * sps.t.sf(np.abs(t), df)


@dataclass(frozen=True)
class CrossSection:
    """Cross-sectional mean test along one axis (NaNs dropped)."""

    n: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    t: np.ndarray
    p: np.ndarray
    lo: np.ndarray  # lower bound of the two-sided confidence interval of the mean
    hi: np.ndarray


def cross_sectional_test(values: np.ndarray, axis: int = 0, level: float = 0.95) -> CrossSection:
    """Cross-sectional t-test of a mean (C)AR, with its confidence interval.

    ``t = mean / (sd / sqrt(N))`` with ``sd`` the cross-sectional standard
    deviation (ddof = 1), compared with Student-t on N - 1 degrees of freedom;
    interval ``mean ± t_{(1+level)/2, N-1} sd / sqrt(N)``. Brown and Warner
    (1985), "cross-sectional dependence adjustment"; MacKinlay (1997), Sec. 5.
    It is robust to event-induced variance but assumes independent pairs: with
    several tickers on one news day (clustering) it overstates significance.
    """
    finite = np.isfinite(values)
    n = finite.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(values, axis=axis) / n
        dev = np.where(finite, values - np.expand_dims(mean, axis), 0.0)
        sd = np.sqrt((dev * dev).sum(axis=axis) / (n - 1))
        se = sd / np.sqrt(n)
        t = mean / se
        df = np.maximum(n - 1, 1)
        p = t_pvalue(t, df)
        half = sps.t.ppf(0.5 + level / 2.0, df) * se
    small = n < 2
    t, p, half = (np.where(small, np.nan, a) for a in (t, p, half))
    return CrossSection(n, mean, sd, t, p, mean - half, mean + half)
