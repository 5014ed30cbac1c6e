"""Normal-return models, batched over (event, ticker) pairs.

Every model here is a linear model ``R_it = x_t' b_i + e_it`` fitted on the
pair's estimation window, differing only in the regressors ``x_t`` (and, for
two of them, in how ``b_i`` is estimated):

=================  =====================================  ==========================
model              regressors x_t                         estimator
=================  =====================================  ==========================
constant_mean      1                                      OLS (the mean)
market_adjusted    1, R_mt                                fixed b = (0, 1)
market             1, R_mt                                OLS
factors            1, F_1t, ..., F_kt                     OLS
dimson             1, R_m,t-1, R_mt, R_m,t+1              OLS (beta = sum of slopes)
scholes_williams   1, R_mt                                Scholes-Williams (1977)
=================  =====================================  ==========================

References: MacKinlay (1997), Sec. 4 (constant mean, market, market-adjusted,
multi-factor); Campbell, Lo and MacKinlay (1997), Sec. 4.4 (variances with
estimation error); Dimson (1979), "Risk measurement when shares are subject to
infrequent trading", JFE 7(2); Scholes and Williams (1977), "Estimating betas
from nonsynchronous data", JFE 5(3).

Arrays: ``y`` is ``(P, L)`` (P pairs, L estimation days, NaN where missing);
``X`` is ``(P, L, K)``. A day is used only where y and every regressor exist.

The study runs the OLS fit and the event-window formulas (:func:`predict`,
:func:`prediction_variance`, :func:`window_variance`) as compiled per-pair loops
(:mod:`backtest.kernels`) that never build ``X``; the array forms here are the
readable statement of each formula, and the kernels are tested against them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODELS = ("constant_mean", "market_adjusted", "market", "factors", "dimson",
          "scholes_williams")


@dataclass(frozen=True)
class ModelFit:
    """A fitted normal-return model for P pairs.

    coef : (P, K) coefficients on the regressors
    sigma2 : (P,) residual variance s^2
    n : (P,) estimation days used
    dof : (P,) residual degrees of freedom (n - parameters estimated)
    xtx_inv : (P, K, K) ``(X'X)^-1`` of the estimation regressors (zeros when
        no coefficient is estimated, e.g. market-adjusted)
    resid : (P, L) estimation residuals, NaN on unused days
    """

    coef: np.ndarray
    sigma2: np.ndarray
    n: np.ndarray
    dof: np.ndarray
    xtx_inv: np.ndarray
    resid: np.ndarray

    def take(self, rows: np.ndarray) -> "ModelFit":
        """The fit of a subset of pairs."""
        return ModelFit(*(getattr(self, f)[rows] for f in
                          ("coef", "sigma2", "n", "dof", "xtx_inv", "resid")))


def usable(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Days where the return and every regressor exist: ``(P, L)`` bool."""
    return np.isfinite(y) & np.isfinite(X).all(axis=2)


def fit_ols(y: np.ndarray, X: np.ndarray) -> ModelFit:
    """Batched OLS ``b = (X'X)^-1 X'y`` over each pair's usable days.

    ``s^2 = e'e / (n - K)`` (MacKinlay 1997, Sec. 4; Campbell-Lo-MacKinlay 1997,
    eq. 4.4.4 for K = 2). Pairs whose regressors are collinear on their usable
    days (e.g. fewer than K days) get NaN coefficients.
    """
    mask = usable(y, X)
    Xm = np.where(mask[:, :, None], X, 0.0)
    ym = np.where(mask, y, 0.0)
    xtx = np.einsum("plk,plj->pkj", Xm, Xm)
    xty = np.einsum("plk,pl->pk", Xm, ym)
    n = mask.sum(axis=1)
    k = X.shape[2]
    xtx_inv = np.full_like(xtx, np.nan)
    ok = n >= k
    if ok.any():
        det = np.linalg.det(xtx[ok])
        good = np.flatnonzero(ok)[np.abs(det) > 1e-300]
        if good.size:
            xtx_inv[good] = np.linalg.inv(xtx[good])
    coef = np.einsum("pkj,pj->pk", xtx_inv, xty)
    fitted = np.einsum("plk,pk->pl", X, coef)
    resid = np.where(mask, y - fitted, np.nan)
    dof = n - k
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = np.nansum(resid * resid, axis=1) / dof
    sigma2 = np.where(dof > 0, sigma2, np.nan)
    return ModelFit(coef, sigma2, n, dof, xtx_inv, resid)


def fit_fixed(y: np.ndarray, X: np.ndarray, coef: np.ndarray) -> ModelFit:
    """A model with fixed coefficients (market-adjusted: ``b = (0, 1)``).

    Nothing is estimated, so the AR variance is the sample variance of the
    estimation-window ARs, ``s^2 = sum (e - ē)^2 / (n - 1)`` (MacKinlay 1997,
    Sec. 4.3, the market-adjusted model as a restricted market model).
    """
    mask = usable(y, X)
    coef = np.broadcast_to(np.asarray(coef, dtype="float64"), (y.shape[0], X.shape[2])).copy()
    resid = np.where(mask, y - np.einsum("plk,pk->pl", X, coef), np.nan)
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(resid, axis=1) / n
        sigma2 = np.nansum((resid - mean[:, None]) ** 2, axis=1) / (n - 1)
    k = X.shape[2]
    return ModelFit(coef, sigma2, n, n - 1, np.zeros((y.shape[0], k, k)), resid)


def fit_scholes_williams(y: np.ndarray, rm: np.ndarray, rm_lag: np.ndarray,
                         rm_lead: np.ndarray) -> ModelFit:
    """Scholes-Williams (1977) beta for nonsynchronous trading.

    ``beta_SW = (b_-1 + b_0 + b_+1) / (1 + 2 rho_m)`` where ``b_k`` is the OLS
    slope of ``R_it`` on ``R_m,t+k`` and ``rho_m`` the first-order
    autocorrelation of the market return; ``alpha_SW = ȳ - beta_SW x̄``, all over
    the days where the stock and the three market returns exist. The residual
    variance uses n - 2 degrees of freedom, and the prediction-error variance
    uses the market model's ``(X'X)^-1`` (an approximation; SW give no exact
    small-sample form).
    """
    X3 = np.stack([rm_lag, rm, rm_lead], axis=2)
    mask = usable(y, X3)

    def slope(x):
        xm = np.where(mask, x, np.nan)
        ym = np.where(mask, y, np.nan)
        dx = xm - np.nanmean(xm, axis=1, keepdims=True)
        dy = ym - np.nanmean(ym, axis=1, keepdims=True)
        return np.nansum(dx * dy, axis=1) / np.nansum(dx * dx, axis=1)

    with np.errstate(invalid="ignore", divide="ignore"):
        b_lag, b_0, b_lead = slope(rm_lag), slope(rm), slope(rm_lead)
        xm = np.where(mask, rm, np.nan)
        lm = np.where(mask, rm_lag, np.nan)
        dx = xm - np.nanmean(xm, axis=1, keepdims=True)
        dl = lm - np.nanmean(lm, axis=1, keepdims=True)
        rho = np.nansum(dx * dl, axis=1) / np.sqrt(np.nansum(dx * dx, axis=1)
                                                   * np.nansum(dl * dl, axis=1))
        beta = (b_lag + b_0 + b_lead) / (1.0 + 2.0 * rho)
        alpha = np.nanmean(np.where(mask, y, np.nan), axis=1) - beta * np.nanmean(xm, axis=1)
    X = np.stack([np.ones_like(rm), rm], axis=2)
    coef = np.column_stack([alpha, beta])
    resid = np.where(mask, y - alpha[:, None] - beta[:, None] * rm, np.nan)
    n = mask.sum(axis=1)
    Xm = np.where(mask[:, :, None], X, 0.0)
    xtx = np.einsum("plk,plj->pkj", Xm, Xm)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = np.nansum(resid * resid, axis=1) / (n - 2)
        xtx_inv = np.linalg.inv(np.where(n[:, None, None] >= 2, xtx, np.eye(2)))
    return ModelFit(coef, sigma2, n, n - 2, xtx_inv, resid)


def predict(fit: ModelFit, X: np.ndarray) -> np.ndarray:
    """Normal returns ``x_t' b_i`` for event-window regressors ``X`` of shape (P, W, K)."""
    return np.einsum("pwk,pk->pw", X, fit.coef)


def prediction_variance(fit: ModelFit, X: np.ndarray) -> np.ndarray:
    """Variance of each event-day AR: ``s^2 (1 + x_t' (X'X)^-1 x_t)``.

    The second term is the estimation error of the coefficients; for the
    market model it equals ``1/n + (R_mt - x̄)^2 / sum (R_m - x̄)^2`` (MacKinlay
    1997, eq. 8; Campbell-Lo-MacKinlay 1997, Sec. 4.4.2).
    """
    quad = np.einsum("pwk,pkj,pwj->pw", X, fit.xtx_inv, X)
    return fit.sigma2[:, None] * (1.0 + quad)


def window_variance(fit: ModelFit, X: np.ndarray) -> np.ndarray:
    """Variance of a CAR over the K days of ``X`` (P, K, k), covariance of the ARs included.

    ``Var(CAR_i) = s^2 (K + g' (X'X)^-1 g)`` with ``g = sum_t x_t``: the sum of
    all entries of ``s^2 (I + X* (X'X)^-1 X*')`` (Campbell-Lo-MacKinlay 1997,
    Sec. 4.4.3). Its large-sample limit is ``K s^2`` (MacKinlay 1997, eq. 10).
    """
    g = X.sum(axis=1)
    quad = np.einsum("pk,pkj,pj->p", g, fit.xtx_inv, g)
    return fit.sigma2 * (X.shape[1] + quad)
