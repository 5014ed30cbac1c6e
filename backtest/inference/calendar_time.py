"""The calendar-time portfolio test: alpha and beta of a strategy's daily returns.

The strategy's daily return is regressed on the benchmark's (and any factors')
``r_t = alpha + beta' x_t + e_t`` over the sessions it ran, flat days included (the
capital is idle then). Each day is one observation however many events the portfolio
holds, so events that cluster in time are not counted as independent (Jaffe 1974,
Mandelker 1974; Fama 1998, Sec. 4, for why this handles clustered events better than
averaging event-time returns). The errors are Newey and West (1987), with
``floor(4 (T / 100)^(2/9))`` lags unless given (Newey and West 1994).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


TRADING_DAYS = 252


@dataclass(frozen=True)
class CalendarTime:
    """``alpha_annual`` (daily alpha x 252) with its t and p, ``beta`` with its t, the
    number of days ``n``, the HAC lags used and the regression's R^2."""

    alpha_annual: float
    alpha_t: float
    alpha_p: float
    beta: float
    beta_t: float
    n: int
    lags: int
    r2: float

    def as_metrics(self) -> dict[str, float]:
        return {"alpha_annual": self.alpha_annual, "alpha_t": self.alpha_t,
                "alpha_p": self.alpha_p, "beta_hac": self.beta, "beta_hac_t": self.beta_t}


def newey_west_lags(n: int) -> int:
    """The Newey and West (1994) rule of thumb ``floor(4 (n / 100)^(2/9))``."""
    return int(np.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def calendar_time_alpha(returns: np.ndarray, benchmark: np.ndarray,
                        factors: np.ndarray | None = None, lags: int | None = None
                        ) -> CalendarTime:
    """OLS of daily ``returns`` on a constant, ``benchmark`` and ``factors`` (T, k), with
    Newey-West (HAC) standard errors (statsmodels ``cov_type="HAC"``)."""
    # the one module needed: statsmodels.api would import every model, graphics included
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.tools import add_constant

    y = np.asarray(returns, dtype="float64")
    x = np.asarray(benchmark, dtype="float64")[:, None]
    if factors is not None:
        x = np.column_stack([x, factors])
    ok = np.isfinite(y) & np.isfinite(x).all(axis=1)
    y, x = y[ok], x[ok]
    n = int(y.size)
    if n < 10 or np.ptp(y) == 0 or np.ptp(x[:, 0]) == 0:
        nan = float("nan")
        return CalendarTime(nan, nan, nan, nan, nan, n, 0, nan)
    lags = newey_west_lags(n) if lags is None else lags
    fit = OLS(y, add_constant(x, has_constant="add")).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True})
    return CalendarTime(float(fit.params[0] * TRADING_DAYS), float(fit.tvalues[0]),
                        float(fit.pvalues[0]), float(fit.params[1]), float(fit.tvalues[1]),
                        n, lags, float(fit.rsquared))
