"""Normal-return models, one class each, in one registry (:data:`MODELS`).

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
garch              1, R_mt                                OLS; AR variance GARCH(1,1)
=================  =====================================  ==========================

References: MacKinlay (1997), Sec. 4 (constant mean, market, market-adjusted,
multi-factor); Campbell, Lo and MacKinlay (1997), Sec. 4.4 (variances with
estimation error); Fama and French (1993) (factor models); Dimson (1979),
"Risk measurement when shares are subject to infrequent trading", JFE 7(2);
Scholes and Williams (1977), "Estimating betas from nonsynchronous data", JFE 5(3);
Bollerslev (1986), "Generalized autoregressive conditional heteroskedasticity",
Journal of Econometrics 31(3) (GARCH(1,1), fitted with the ``arch`` package).

A model class (:class:`NormalReturnModel`) knows its name, its coefficient
names, its regressors on the session timeline and how a block of pairs is
fitted (:meth:`~NormalReturnModel.fit_block`). The OLS models fit through the
compiled per-pair loops of :mod:`backtest.eventstudy.kernels`, which never
build ``X``; the functions in the "Reference forms" section below are the
readable numpy statement of each formula (batched over pairs), and the tests
hold the kernels to them (:meth:`~NormalReturnModel.reference_fit`).

Arrays: ``y`` is ``(P, L)`` (P pairs, L estimation days, NaN where missing);
``X`` is ``(P, L, K)``. A day is used only where y and every regressor exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from events.errors import ConfigError


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


# --------------------------------------------------------------------------------------
# Reference forms: the readable numpy statement of each fit and event-window formula
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# The models
# --------------------------------------------------------------------------------------


def gather_rows(values: np.ndarray, pos: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``values[pos + offset]`` (rows of a (T,) or (T, K) array) per pair; NaN outside."""
    rows = pos[:, None] + offsets[None, :]
    inside = (rows >= 0) & (rows < values.shape[0])
    out = values[np.clip(rows, 0, values.shape[0] - 1)]
    return np.where(inside[..., None] if out.ndim == 3 else inside, out, np.nan)


def market_lag_lead(market: np.ndarray) -> np.ndarray:
    """(T, 3) the market return at t-1, t and t+1 on the session timeline (NaN at the ends)."""
    lag = np.concatenate([[np.nan], market[:-1]])
    lead = np.concatenate([market[1:], [np.nan]])
    return np.column_stack([lag, market, lead])


class NormalReturnModel:
    """One normal-return model: its name, coefficients, regressors and fit.

    ``regressors`` gives the (T, K) matrix ``x_t`` on the session timeline;
    ``fit_block`` fits a block of pairs in the study, ``reference_fit`` is the
    readable numpy form of the same fit that the tests hold ``fit_block`` to.
    """

    name: ClassVar[str] = ""
    normal_return: ClassVar[str] = ""  # the formula, for tables and the README
    reference: ClassVar[str] = ""
    uses_factors: ClassVar[bool] = False  # regresses on factor returns (tickers or a file)
    conditional_variance: ClassVar[bool] = False  # AR variances from a volatility model

    def coef_names(self, factor_names: list[str]) -> list[str]:
        """Names of the coefficients, in the order of the regressors."""
        return ["alpha", "beta"]

    def regressors(self, market: np.ndarray, factors: np.ndarray | None) -> np.ndarray:
        """Regressor matrix (T, K) on the session timeline."""
        return np.column_stack([np.ones_like(market), market])

    def fit_block(self, y_est: np.ndarray, reg: np.ndarray, market3: np.ndarray,
                  pos: np.ndarray, est_off: np.ndarray) -> ModelFit:
        """The fit of a block of pairs: ``y_est`` (P, L) estimation returns, ``reg`` (T, K)
        regressors, ``market3`` (T, 3) lagged, current and leading market returns,
        ``pos`` day-0 positions and ``est_off`` the estimation window's relative days.

        OLS models run the compiled kernel (:func:`backtest.eventstudy.kernels.ols`).
        """
        from backtest.eventstudy import kernels

        coef, xtx_inv, sigma2, n, resid = kernels.ols(y_est, reg, pos, int(est_off[0]))
        return ModelFit(coef, sigma2, n, n - reg.shape[1], xtx_inv, resid)

    def reference_fit(self, y: np.ndarray, X: np.ndarray, market3: np.ndarray | None = None
                      ) -> ModelFit:
        """The readable numpy form of the fit on ``y`` (P, L) and ``X`` (P, L, K)."""
        return fit_ols(y, X)

    def estimates(self, coef: pd.DataFrame) -> pd.DataFrame:
        """The per-pair coefficient table with any derived estimate added."""
        return coef


class ConstantMean(NormalReturnModel):
    name = "constant_mean"
    normal_return = "the stock's mean return"
    reference = "MacKinlay (1997)"

    def coef_names(self, factor_names):
        return ["alpha"]

    def regressors(self, market, factors):
        return np.ones_like(market)[:, None]


class MarketAdjusted(NormalReturnModel):
    name = "market_adjusted"
    normal_return = "R_m (alpha 0, beta 1; AR variance from the estimation ARs)"
    reference = "MacKinlay (1997)"

    def fit_block(self, y_est, reg, market3, pos, est_off):
        return self.reference_fit(y_est, gather_rows(reg, pos, est_off))

    def reference_fit(self, y, X, market3=None):
        return fit_fixed(y, X, np.array([0.0, 1.0]))


class Market(NormalReturnModel):
    name = "market"
    normal_return = "alpha + beta R_m by OLS"
    reference = "MacKinlay (1997)"


class Factors(NormalReturnModel):
    name = "factors"
    normal_return = "OLS on tickers (`--factors SPY,SMH`) or a factor file (`--factors-csv`)"
    reference = "Fama and French (1993)"
    uses_factors = True

    def coef_names(self, factor_names):
        return ["alpha", *factor_names]

    def regressors(self, market, factors):
        return np.column_stack([np.ones_like(market), factors])


class Dimson(NormalReturnModel):
    name = "dimson"
    normal_return = "OLS on R_m at t-1, t, t+1"
    reference = "Dimson (1979)"

    def coef_names(self, factor_names):
        return ["alpha", "beta_lag", "beta", "beta_lead"]

    def regressors(self, market, factors):
        return np.column_stack([np.ones_like(market), market_lag_lead(market)])

    def estimates(self, coef):
        # Dimson's beta is the sum of the three slopes.
        coef["beta_sum"] = coef[["coef_beta_lag", "coef_beta", "coef_beta_lead"]].sum(axis=1)
        return coef


class ScholesWilliams(NormalReturnModel):
    name = "scholes_williams"
    normal_return = "(b_-1 + b_0 + b_+1) / (1 + 2 rho_m)"
    reference = "Scholes and Williams (1977)"

    def fit_block(self, y_est, reg, market3, pos, est_off):
        X = gather_rows(reg, pos, est_off)
        return self.reference_fit(y_est, X, gather_rows(market3, pos, est_off))

    def reference_fit(self, y, X, market3=None):
        """``market3`` (P, L, 3): lagged, current and leading market returns."""
        return fit_scholes_williams(y, X[:, :, 1], market3[:, :, 0], market3[:, :, 2])


class MarketGarch(Market):
    """The market model whose AR variances come from a GARCH(1,1) of its residuals.

    The mean is the market model's OLS fit. A GARCH(1,1),
    ``h_t = omega + alpha e_{t-1}^2 + beta h_{t-1}`` (Bollerslev 1986), is fitted by the
    ``arch`` package to the pair's estimation residuals, run through the sessions between
    the estimation window and the event window with those parameters, and forecast
    over the event window from there (``h_{t+k} = omega + (alpha + beta) h_{t+k-1}``):
    the event's own returns never enter its variances. A day's AR variance is then
    ``h_t + s^2 x_t' (X'X)^-1 x_t`` (the forecast plus the estimation error of the mean),
    a window CAR's ``sum_t h_t + s^2 g' (X'X)^-1 g``: a pair that came into the news in a
    calm (turbulent) spell has its ARs standardized by a smaller (larger) variance than
    the whole window's average. A pair whose GARCH does not converge, or is not
    stationary (alpha + beta >= 1), keeps the constant variance ``s^2``.
    """

    name = "garch"
    normal_return = "alpha + beta R_m by OLS; each AR's variance from a GARCH(1,1) of the " \
                    "residuals, forecast from before the event window"
    reference = "Bollerslev (1986); arch"
    conditional_variance = True

    def event_variances(self, resid: np.ndarray, pre: np.ndarray, width: int
                        ) -> tuple[np.ndarray, np.ndarray]:
        """Per pair: the forecast variances of the W event days (P, W) and the fitted
        (omega, alpha, beta) in decimal units (P, 3); NaN where the GARCH was not usable.
        ``resid`` (P, L) estimation residuals, ``pre`` (P, G) residuals of the sessions
        between the estimation and event windows (missing days are skipped)."""
        h = np.full((len(resid), width), np.nan)
        params = np.full((len(resid), 3), np.nan)
        for i in range(len(resid)):
            h[i], params[i] = garch_forecast(resid[i], pre[i], width)
        return h, params


GARCH_MIN_OBS = 60  # fewer residuals do not pin down three GARCH parameters


def garch_forecast(resid: np.ndarray, pre: np.ndarray, width: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """One pair's GARCH(1,1) event-window variances (see :class:`MarketGarch`): fitted on
    ``resid`` (the estimation window, missing days skipped), filtered through ``pre``,
    forecast ``width`` days ahead. Residuals are scaled by 100 for the optimizer (arch's
    advice) and the variances scaled back."""
    import warnings

    from arch import arch_model

    est = resid[np.isfinite(resid)] * 100.0
    gap = pre[np.isfinite(pre)] * 100.0
    nothing = (np.full(width, np.nan), np.full(3, np.nan))
    if est.size < GARCH_MIN_OBS or width < 1:
        return nothing
    series = np.concatenate([est, gap])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked below, not printed
        try:
            fit = arch_model(series, mean="Zero", vol="GARCH", p=1, q=1,
                             rescale=False).fit(disp="off", last_obs=est.size)
        except (ValueError, np.linalg.LinAlgError):
            return nothing
        omega, alpha, beta = (float(fit.params[k]) for k in ("omega", "alpha[1]", "beta[1]"))
        if fit.convergence_flag != 0 or not alpha + beta < 1 or omega <= 0:
            return nothing
        fc = fit.forecast(horizon=width, start=series.size - 1, reindex=False)
    h = np.asarray(fc.variance, dtype="float64")[-1] / 1e4
    return h, np.array([omega / 1e4, alpha, beta])


MODELS: dict[str, NormalReturnModel] = {m.name: m for m in (
    ConstantMean(), MarketAdjusted(), Market(), Factors(), Dimson(), ScholesWilliams(),
    MarketGarch())}


def markdown_table() -> str:
    """The README's table of models, from :data:`MODELS`."""
    lines = ["| `--model` | normal return | reference |", "| --- | --- | --- |"]
    lines += [f"| `{m.name}`{' (default)' if m.name == 'market' else ''} | {m.normal_return} "
              f"| {m.reference} |" for m in MODELS.values()]
    return "\n".join(lines)


def get_model(name: str) -> NormalReturnModel:
    """The registered model called ``name``."""
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r} (one of {', '.join(MODELS)})",
                          field="model") from None
