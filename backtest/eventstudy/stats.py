"""Event-study test statistics: small pure functions on arrays, one per formula.

Arrays are batched over (event, ticker) pairs: shape ``(P, L)`` for P pairs and
L days, with NaN for a missing observation. Nothing here knows about pandas,
calendars or files. The normal-return models live in :mod:`backtest.eventstudy.models`.

:data:`STATISTICS` is the one table of the tests a study reports (name, label,
what it tests, reference, and how it is computed from a :class:`WindowSample`):
the study, the report and the README table are all read from it.

References
----------
MacKinlay, A. C. (1997). Event studies in economics and finance. *Journal of
    Economic Literature* 35(1), 13-39.
Campbell, J. Y., Lo, A. W., MacKinlay, A. C. (1997). *The Econometrics of
    Financial Markets*, ch. 4. Princeton University Press.
Brown, S. J., Warner, J. B. (1980). Measuring security price performance.
    *Journal of Financial Economics* 8(3), 205-258.
Brown, S. J., Warner, J. B. (1985). Using daily stock returns: the case of event
    studies. *Journal of Financial Economics* 14(1), 3-31.
Patell, J. M. (1976). Corporate forecasts of earnings per share and stock price
    behavior. *Journal of Accounting Research* 14(2), 246-276.
Boehmer, E., Musumeci, J., Poulsen, A. B. (1991). Event-study methodology under
    conditions of event-induced variance. *JFE* 30(2), 253-272.
Kolari, J. W., Pynnonen, S. (2010). Event study testing with cross-sectional
    correlation of abnormal returns. *Review of Financial Studies* 23(11), 3996-4025.
Corrado, C. J. (1989). A nonparametric test for abnormal security-price
    performance in event studies. *JFE* 23(2), 385-395.
Corrado, C. J., Zivney, T. L. (1992). The specification and power of the sign
    test in event study hypothesis tests using daily stock returns. *JFQA* 27(3).
Cowan, A. R. (1992). Nonparametric event study tests. *Review of Quantitative
    Finance and Accounting* 2(4), 343-358.
Campbell, C. J., Wasley, C. E. (1993). Measuring security price performance
    using daily NASDAQ returns. *JFE* 33(1), 73-92.
Wilcoxon, F. (1945). Individual comparisons by ranking methods. *Biometrics
    Bulletin* 1(6), 80-83.
Lyon, J. D., Barber, B. M., Tsai, C.-L. (1999). Improved methods for tests of
    long-run abnormal stock returns. *Journal of Finance* 54(1), 165-201 (after
    Hall, P. (1992). On the removal of skewness by transformation. *JRSS B* 54(1)).
Ibragimov, R., Mueller, U. K. (2010). t-statistic based correlation and
    heterogeneity robust inference. *Journal of Business & Economic Statistics*
    28(4), 453-468.
Kolari, J. W., Pynnonen, S. (2011). Nonparametric rank tests for event studies.
    *Journal of Empirical Finance* 18(5), 953-971.
Lamb, R. P. (1995). An exposure-based analysis of property-liability insurer stock
    values around Hurricane Andrew. *Journal of Risk and Insurance* 62(1), 111-123.
Cameron, A. C., Gelbach, J. B., Miller, D. L. (2008). Bootstrap-based improvements
    for inference with clustered errors. *Review of Economics and Statistics* 90(3),
    414-427.
Canay, I. A., Romano, J. P., Shaikh, A. M. (2017). Randomization tests under an
    approximate symmetry assumption. *Econometrica* 85(3), 1013-1030.
Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    *Scandinavian Journal of Statistics* 6(2), 65-70.
Benjamini, Y., Hochberg, Y. (1995). Controlling the false discovery rate. *Journal
    of the Royal Statistical Society B* 57(1), 289-300.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, NamedTuple

import numpy as np
# scipy loads its submodules on first use: naming them through ``scipy.`` keeps
# ``scipy.stats``' import (about a second) off the path of a command that refuses its input
import scipy


class StatResult(NamedTuple):
    """A test statistic and its two-sided p-value; unpacks as ``(statistic, p_value)``."""

    statistic: float
    p_value: float


NO_RESULT = StatResult(np.nan, np.nan)  # not computable (too few pairs, no variation)


def t_pvalue(t: np.ndarray | float, df: np.ndarray | float) -> np.ndarray:
    """Two-sided p-value of a Student-t statistic: ``2 * P(T_df > |t|)`` (scipy's
    ``special.stdtr``, the t CDF, which ``stats.t.sf`` wraps at a higher cost per call)."""
    return 2.0 * scipy.special.stdtr(df, -np.abs(t))


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
    return cross_sectional_from_moments(n, mean, (dev * dev).sum(axis=axis), level)


def cross_sectional_from_moments(n: np.ndarray, mean: np.ndarray, m2: np.ndarray,
                                 level: float = 0.95) -> CrossSection:
    """:func:`cross_sectional_test` from each sample's count ``n``, mean and sum of squared
    deviations ``m2`` (``sd = sqrt(m2 / (n - 1))``): what a study's blocks return for the
    CAAR path (:func:`backtest.eventstudy.blocks.group_moments`), so no per-pair row is
    needed in one place."""
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(m2 / (n - 1))
        se = sd / np.sqrt(n)
        t = mean / se
        df = np.maximum(n - 1, 1)
        p = t_pvalue(t, df)
        half = scipy.stats.t.ppf(0.5 + level / 2.0, df) * se
    small = n < 2
    t, p, half = (np.where(small, np.nan, a) for a in (t, p, half))
    return CrossSection(n, mean, sd, t, p, mean - half, mean + half)


# --------------------------------------------------------------------------------------
# Test statistics across pairs. Inputs for one group and one window of K days:
#   car (N,)          CAR of each pair over the window
#   car_var (N,)      its variance from the pair's model (see backtest.models.window_variance)
#   dof (N,)          residual degrees of freedom of each pair's model
#   est_ar (N, L)     estimation-window ARs (residuals), aligned on relative day, NaN gaps
#   all_ar (N, T)     estimation + event-window ARs, aligned on relative day (rank tests)
#   window (K,)       column indices of the window's days inside all_ar
# Every function returns (statistic, two-sided p-value).
# --------------------------------------------------------------------------------------


def _normal_p(z):
    # scipy.special.ndtr is norm.cdf without the distribution object's per-call overhead
    # (thousands of calls per study): the same numbers, several times faster
    return 2.0 * scipy.special.ndtr(-np.abs(z))


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    """Mean over finite values; NaN (without a warning) where there are none."""
    count = np.isfinite(a).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.nansum(a, axis=axis) / count, np.nan)


def csect_t(car: np.ndarray) -> StatResult:
    """Cross-sectional t: ``mean(CAR) / (sd(CAR) / sqrt(N))``, Student-t with N - 1 df.

    Brown and Warner (1985); MacKinlay (1997), Sec. 5. Robust to
    event-induced variance; assumes independent pairs.
    """
    car = car[np.isfinite(car)]
    n = car.size
    if n < 2 or car.std(ddof=1) == 0:
        return NO_RESULT
    t = car.mean() / (car.std(ddof=1) / np.sqrt(n))
    return StatResult(float(t), float(t_pvalue(t, n - 1)))


def bw1980_cda_t(car: np.ndarray, est_ar: np.ndarray, k: int, aar: np.ndarray | None = None
                 ) -> StatResult:
    """Brown-Warner crude dependence adjustment: ``CAAR / (sqrt(K) S(AAR))``.

    ``S(AAR)`` is the standard deviation (ddof 1) of the time series of the mean
    estimation-window AR across the pairs, ``AAR_s = mean_i AR_is``, so any
    cross-sectional correlation of the ARs is inside it. Student-t with
    (estimation days - 1) df. Brown and Warner (1980), Sec. 3; (1985), Sec. 3.
    ``aar`` may be passed precomputed: the series of the pairs that have a CAR.
    """
    keep = np.isfinite(car)
    if keep.sum() < 1:
        return NO_RESULT
    if aar is None:
        aar = _nanmean(est_ar[keep], axis=0)
    aar = aar[np.isfinite(aar)]
    if aar.size < 3:
        return NO_RESULT
    s = aar.std(ddof=1)
    if not s > 0:  # a constant series (e.g. a constant volume): no test
        return NO_RESULT
    t = car[keep].mean() / (np.sqrt(k) * s)
    return StatResult(float(t), float(t_pvalue(t, aar.size - 1)))


def bw1985_t(car: np.ndarray, car_var: np.ndarray) -> StatResult:
    """Portfolio test assuming cross-sectional independence (Brown and Warner 1985, Sec. 3).

    ``t = CAAR / (sqrt(sum_i Var(CAR_i)) / N)`` with each pair's own model
    variance; compared with the standard normal.
    """
    keep = np.isfinite(car) & np.isfinite(car_var)
    n = keep.sum()
    if n < 1:
        return NO_RESULT
    z = car[keep].mean() / (np.sqrt(car_var[keep].sum()) / n)
    return StatResult(float(z), float(_normal_p(z)))


def standardized(car: np.ndarray, car_var: np.ndarray) -> np.ndarray:
    """Standardized CAR ``SCAR_i = CAR_i / sqrt(Var(CAR_i))`` (Patell 1976; BMP 1991)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return car / np.sqrt(car_var)


def patell_z(car: np.ndarray, car_var: np.ndarray, dof: np.ndarray) -> StatResult:
    """Patell (1976) Z: ``sum_i SCAR_i / sqrt(sum_i df_i / (df_i - 2))``, standard normal.

    Each SCAR is Student-t with ``df_i`` = estimation days - parameters, whose
    variance is ``df_i / (df_i - 2)`` (``(M_i - 2)/(M_i - 4)`` for the market
    model in Patell's notation).
    """
    scar = standardized(car, car_var)
    keep = np.isfinite(scar) & (dof > 2)
    if keep.sum() < 1:
        return NO_RESULT
    z = scar[keep].sum() / np.sqrt((dof[keep] / (dof[keep] - 2.0)).sum())
    return StatResult(float(z), float(_normal_p(z)))


def bmp_t(car: np.ndarray, car_var: np.ndarray) -> StatResult:
    """Boehmer-Musumeci-Poulsen (1991) standardized cross-sectional test.

    ``t = mean(SCAR) / (sd(SCAR) / sqrt(N))``, Student-t with N - 1 df: Patell's
    standardization, with the variance taken from the cross-section so that
    event-induced variance does not inflate it.
    """
    return csect_t(standardized(car, car_var))


@dataclass(frozen=True)
class ClusterSums:
    """Per day-0 cluster daily sums of standardized residuals (see :func:`mean_cross_correlation`).

    Row c of ``S``, ``Q`` and ``C`` covers either the whole timeline (calendar
    days 0, 1, ...; ``offset`` None, as :meth:`build` makes it) or the cluster's
    own estimation window, calendar days ``day0[c] + offset``, ... (the study's
    blocks, :mod:`backtest.eventstudy.blocks`, where all pairs of a cluster share it).
    """

    day0: np.ndarray  # sorted distinct day 0 positions
    size: np.ndarray  # pairs per cluster
    S: np.ndarray  # (clusters, days) sum of u
    Q: np.ndarray  # (clusters, days) sum of u^2
    C: np.ndarray  # (clusters, days) count of u
    offset: int | None = None  # column 0 is calendar day day0 + offset (None: day 0)
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, resid, sigma2, days, n_days, day0) -> "ClusterSums":
        with np.errstate(invalid="ignore", divide="ignore"):
            u = resid / np.sqrt(sigma2)[:, None]
        ok = np.isfinite(u)
        clusters, cl = np.unique(day0, return_inverse=True)
        rows = np.broadcast_to(cl[:, None], u.shape)[ok]
        flat = rows * n_days + days[ok].astype(np.int64)
        size = len(clusters) * n_days

        def total(weights):
            return np.bincount(flat, weights=weights, minlength=size).reshape(len(clusters),
                                                                              n_days)

        return cls(clusters, np.bincount(cl, minlength=len(clusters)).astype("float64"),
                   total(u[ok]), total(u[ok] ** 2), total(np.ones(ok.sum())))

    def _cross(self, gap: int) -> np.ndarray:
        """``size_a size_b rho_ab`` for every pair of clusters exactly ``gap`` sessions
        apart, rho_ab pooled over the calendar days both rows cover (cached per gap)."""
        if gap not in self._cache:
            b = np.searchsorted(self.day0, self.day0 + gap)
            a = np.flatnonzero(b < len(self.day0))
            a = a[self.day0[b[a]] == self.day0[a] + gap]
            b = b[a]
            width = self.S.shape[1]
            # Column j of cluster a is column j - shift of cluster b on the same day.
            shift = 0 if self.offset is None else gap
            cols_a, cols_b = slice(shift, width), slice(0, width - shift)
            cden = np.einsum("ij,ij->i", self.C[a, cols_a], self.C[b, cols_b])
            num = np.einsum("ij,ij->i", self.S[a, cols_a], self.S[b, cols_b])
            has = cden > 0
            self._cache[gap] = self.size[a[has]] * self.size[b[has]] * num[has] / cden[has]
        return self._cache[gap]

    def rbar(self, k: int) -> float:
        n = self.size.sum()
        if n < 2:
            return 0.0
        num = (self.S * self.S - self.Q).sum(axis=1)
        den = (self.C * self.C - self.C).sum(axis=1)
        has = den > 0
        total = float((self.size[has] * (self.size[has] - 1) * num[has] / den[has]).sum())
        for gap in range(1, k):  # clusters on different days whose K-day windows overlap
            total += 2.0 * (k - gap) / k * float(self._cross(gap).sum())
        return total / (n * (n - 1))


def mean_cross_correlation(resid: np.ndarray, sigma2: np.ndarray, days: np.ndarray,
                           n_days: int, day0: np.ndarray, k: int) -> float:
    """Average cross-correlation of the pairs' K-day CARs, from estimation residuals.

    Kolari and Pynnonen (2010) take r̄ as the mean cross-correlation of the
    estimation residuals, for events on one day. Here the pairs of a group may
    sit on different days, so each ordered pair (i, j) counts with the share of
    its K-day window that falls on the same calendar days,
    ``w_ij = max(0, K - |day0_i - day0_j|) / K`` (1 for a shared day 0, 0 for
    windows that do not overlap), and::

        r̄ = sum_{i != j} w_ij rho_ij / (N (N - 1))

    ``rho`` is estimated per pair of day-0 clusters c, c' as the pooled mean of
    ``u_it u_jt`` over the calendar days both pairs have (``u = e / s``, each
    pair's residuals standardized by its own s), computed from per-cluster daily
    sums (:class:`ClusterSums`) in O(P L) instead of O(P^2 L). The same ticker in
    two nearby events counts, correctly, as almost perfectly correlated.
    """
    return ClusterSums.build(resid, sigma2, days, n_days, day0).rbar(k)


def overlapping(day0: np.ndarray, k: int) -> np.ndarray:
    """Component label per pair: pairs whose K-day windows overlap, directly or through
    others, share a label (used to keep clusters intact in the pseudo-event test)."""
    order = np.argsort(day0, kind="stable")
    gaps = np.diff(day0[order]) >= k
    labels = np.empty(len(day0), dtype=np.int64)
    labels[order] = np.concatenate([[0], np.cumsum(gaps)])
    return labels


def kp_adjustment(n: int, rbar: float) -> float:
    """Kolari-Pynnonen factor ``sqrt((1 - r) / (1 + (N - 1) r))`` for the BMP statistic."""
    rbar = min(max(rbar, -1.0 / max(n - 1, 1) + 1e-12), 1.0 - 1e-12)
    return float(np.sqrt((1.0 - rbar) / (1.0 + (n - 1) * rbar)))


def kp_bmp_t(car: np.ndarray, car_var: np.ndarray, rbar: float) -> StatResult:
    """Kolari and Pynnonen (2010) adjusted BMP: ``t_BMP sqrt((1 - r̄) / (1 + (N - 1) r̄))``.

    r̄ is the average cross-correlation of the estimation residuals
    (:func:`mean_cross_correlation`). With clustered event days (one headline,
    several tickers) the plain BMP test over-rejects; this one does not.
    Compared with Student-t on N - 1 df.
    """
    t, _ = bmp_t(car, car_var)
    n = int(np.isfinite(standardized(car, car_var)).sum())
    if not np.isfinite(t):
        return NO_RESULT
    t_adj = t * kp_adjustment(n, rbar)
    return StatResult(float(t_adj), float(t_pvalue(t_adj, n - 1)))


def kp_patell_z(car: np.ndarray, car_var: np.ndarray, dof: np.ndarray, rbar: float
                ) -> StatResult:
    """Kolari and Pynnonen (2010) adjusted Patell: ``Z_Patell / sqrt(1 + (N - 1) r̄)``."""
    z, _ = patell_z(car, car_var, dof)
    n = int((np.isfinite(standardized(car, car_var)) & (dof > 2)).sum())
    if not np.isfinite(z):
        return NO_RESULT
    rbar = min(max(rbar, -1.0 / max(n - 1, 1) + 1e-12), 1.0 - 1e-12)
    z_adj = z / np.sqrt(1.0 + (n - 1) * rbar)
    return StatResult(float(z_adj), float(_normal_p(z_adj)))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Row-wise ranks 1..T, ties sharing their average rank (as ``scipy.stats.rankdata``).

    One argsort gives the ordinal ranks; only rows with ties among finite values go
    through scipy's slower average-rank path (infinite entries stand for missing
    values and are masked by the caller).
    """
    order = np.argsort(x, axis=1, kind="stable")
    ranks = np.empty(x.shape)
    np.put_along_axis(ranks, order, np.arange(1, x.shape[1] + 1, dtype=float)[None, :],
                      axis=1)
    srt = np.take_along_axis(x, order, axis=1)
    tied = ((srt[:, 1:] == srt[:, :-1]) & np.isfinite(srt[:, 1:])).any(axis=1)
    if tied.any():
        ranks[tied] = scipy.stats.rankdata(x[tied], axis=1, method="average")
    return ranks


def _standardized_ranks(all_ar: np.ndarray) -> np.ndarray:
    """``U_it = rank(AR_it) / (1 + T_i)`` over each pair's non-missing days (Corrado-Zivney 1992)."""
    out = np.full(all_ar.shape, np.nan)
    ok = np.isfinite(all_ar)
    ranks = _average_ranks(np.where(ok, all_ar, np.inf))
    t_i = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[ok] = (ranks / (1.0 + t_i[:, None]))[ok]
    return out


@dataclass(frozen=True)
class DailyRanks:
    """A group's daily rank and sign series, built once and read for every window.

    ``ubar[t] = mean_i (U_it - 1/2)`` over the ``n_t[t]`` pairs present on day t and
    ``g[t] = sum_i G_it / sqrt(N_t)`` over the estimation and event days (relative-day
    columns of ``all_ar``), with their scales. Where some pairs miss a day the mean
    ranks are averaged over the pairs present and the scale is that of a day with all
    N pairs (Kolari and Pynnonen 2011, eq. 14; Campbell and Wasley 1993):
    ``s_u^2 = mean_t (N_t / N) ubar_t^2``, and a window's sum has variance
    ``s_u^2 sum_t N / N_t``; ``s_g = sqrt(mean_t g_t^2)`` (g is already scaled per day).
    """

    ubar: np.ndarray
    s_u: float
    g: np.ndarray
    s_g: float
    n_t: np.ndarray | None = None  # pairs present per day (None: all N every day)
    n: float = np.nan  # N, the pairs of the group

    @classmethod
    def from_ar(cls, all_ar: np.ndarray) -> "DailyRanks":
        u = _standardized_ranks(all_ar) - 0.5
        sign = np.sign(u - np.nanmedian(u, axis=1, keepdims=True)) if u.size else u
        finite_u, finite_g = np.isfinite(u), np.isfinite(sign)
        return cls.from_sums(np.where(finite_u, u, 0.0).sum(axis=0), finite_u.sum(axis=0),
                             np.where(finite_g, sign, 0.0).sum(axis=0), finite_g.sum(axis=0),
                             n=len(all_ar))

    @classmethod
    def from_sums(cls, u_sum, u_n, g_sum, g_n, n: float | None = None) -> "DailyRanks":
        """From daily sums over pairs of ``U - 1/2`` and of the signs, with their counts;
        ``n`` is the group's number of pairs (default: the most present on any day)."""
        u_n = np.asarray(u_n, dtype="float64")
        n = float(u_n.max()) if n is None and u_n.size else float(n or 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ubar = np.where(u_n > 0, u_sum / u_n, np.nan)
            g = np.where(g_n > 0, g_sum / np.sqrt(g_n), np.nan)

        def scale(series, weight):
            known = np.isfinite(series)
            if known.sum() < 3:
                return np.nan
            return float(np.sqrt(np.mean(weight[known] * series[known] ** 2)))

        with np.errstate(invalid="ignore", divide="ignore"):
            weight = u_n / n if n > 0 else np.ones_like(u_n)
        return cls(ubar, scale(ubar, weight), g, scale(g, np.ones_like(g)), u_n, n)

    @staticmethod
    def _z(series: np.ndarray, scale: float, window: np.ndarray,
           inflation: np.ndarray | None = None) -> StatResult:
        if not np.isfinite(scale) or np.isnan(series[window]).any():
            return NO_RESULT
        spread = np.sqrt(len(window) if inflation is None else inflation.sum()) * scale
        if not spread > 0:
            return NO_RESULT
        z = series[window].sum() / spread
        return StatResult(float(z), float(_normal_p(z)))

    def corrado(self, window: np.ndarray) -> StatResult:
        inflation = None
        if self.n_t is not None and self.n > 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                inflation = self.n / self.n_t[window]  # N / N_t: a thinner day is noisier
        return self._z(self.ubar, self.s_u, window, inflation)

    def sign(self, window: np.ndarray) -> StatResult:
        return self._z(self.g, self.s_g, window)


def corrado_rank_z(all_ar: np.ndarray, window: np.ndarray) -> StatResult:
    """Corrado (1989) rank test, standardized ranks of Corrado and Zivney (1992).

    ``Ū_t = mean_i (U_it - 1/2)`` for each relative day t of the estimation and
    event windows; ``S_U = sqrt(mean_t Ū_t^2)``; for a window of K days
    ``z = sum_{t in window} Ū_t / (sqrt(K) S_U)`` (the multi-day form of Cowan
    1992 and Campbell and Wasley 1993). Standard normal.
    """
    return DailyRanks.from_ar(all_ar).corrado(window)


def cz_sign_z(all_ar: np.ndarray, window: np.ndarray) -> StatResult:
    """Corrado and Zivney (1992) sign test.

    ``G_it = sign(U_it - median_t U_it)``; daily ``g_t = sum_i G_it / sqrt(N_t)``;
    ``S_G = sqrt(mean_t g_t^2)`` over the estimation and event days; for a
    window ``z = sum_{t in window} g_t / (sqrt(K) S_G)``. Standard normal.
    """
    return DailyRanks.from_ar(all_ar).sign(window)


def positive_share(est_ar: np.ndarray) -> np.ndarray:
    """Each pair's share of positive estimation-window ARs (for :func:`generalized_sign_z`)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (est_ar > 0).sum(axis=1) / np.isfinite(est_ar).sum(axis=1)


def generalized_sign_z(car: np.ndarray, est_ar: np.ndarray, share: np.ndarray | None = None
                       ) -> StatResult:
    """Generalized sign test (Cowan 1992).

    ``p̂ = mean_i (share of pair i's estimation ARs > 0)``; with w pairs whose
    CAR is positive out of N, ``z = (w - N p̂) / sqrt(N p̂ (1 - p̂))``. Standard normal.
    """
    keep = np.isfinite(car)
    n = keep.sum()
    if n < 1:
        return NO_RESULT
    frac = (positive_share(est_ar) if share is None else share)[keep]
    p = float(np.mean(frac))
    if not 0 < p < 1:
        return NO_RESULT
    w = (car[keep] > 0).sum()
    z = (w - n * p) / np.sqrt(n * p * (1 - p))
    return StatResult(float(z), float(_normal_p(z)))


WILCOXON_EXACT_MAX = 50  # scipy's "auto" method: above 50 CARs always the normal approximation


def wilcoxon_signed_rank(car: np.ndarray) -> StatResult:
    """Wilcoxon (1945) signed-rank test of CARs around 0: the statistic reported is
    ``W+ = sum of the ranks of |CAR| over the positive CARs`` (zeros dropped, ties
    averaged), ``N(N+1)/4`` under no effect and ``N(N+1)/2`` when every CAR is positive.
    (scipy's own two-sided statistic is min(W+, W-), which reads 0 both when all CARs are
    positive and when all are negative.)

    Up to 50 CARs the two-sided p is scipy's ``wilcoxon`` (exact, or a permutation test
    with ties or zeros); without ties or zeros its exact p depends on N and W+ alone, so it
    is asked of scipy once per (N, W+) (:func:`_wilcoxon_exact_p`: a study of many small
    groups asks it thousands of times). Above 50, it is the normal approximation scipy's
    "asymptotic" method uses (zeros dropped, no continuity correction; Lehmann 1975, ch. 3,
    for the tie term): with N nonzero CARs and t_k the sizes of the groups of tied
    ``|CAR|``,
    ``z = (W+ - N(N+1)/4) / sqrt((N(N+1)(2N+1) - sum_k (t_k^3 - t_k) / 2) / 24)`` and
    ``p = 2 Phi(-|z|)``. W+ and the t_k come from one sort of ``|CAR|`` (scipy ranks
    through a stable sort; ties are averaged either way, so the order among equal values
    does not matter): 4x faster at 100k CARs, the same z and p (the tests hold them to
    scipy's).
    """
    car = car[np.isfinite(car)]
    if car.size < 2 or np.all(car == 0):
        return NO_RESULT
    d = car[car != 0]
    w_plus, ties = _signed_rank_sum(d)
    if car.size > WILCOXON_EXACT_MAX:
        n = float(d.size)
        mean = n * (n + 1.0) * 0.25
        se = np.sqrt((n * (n + 1.0) * (2.0 * n + 1.0) - (ties ** 3 - ties).sum() / 2) / 24)
        z = (w_plus - mean) / se
        return StatResult(w_plus, float(2.0 * scipy.special.ndtr(-abs(z))))
    if d.size == car.size and ties.size == d.size:  # no zeros, no ties: scipy's exact p
        return StatResult(w_plus, _wilcoxon_exact_p(d.size, int(w_plus)))
    return StatResult(w_plus, float(scipy.stats.wilcoxon(car, alternative="two-sided").pvalue))


def _signed_rank_sum(d: np.ndarray) -> tuple[float, np.ndarray]:
    """W+ of the nonzero values ``d`` (average ranks of ``|d|`` over the positive ones) and
    the sizes t_k of the groups of tied ``|d|``, from one sort."""
    order = np.argsort(np.abs(d))
    sorted_abs = np.abs(d)[order]
    starts = np.flatnonzero(np.r_[True, sorted_abs[1:] != sorted_abs[:-1]])
    ties = np.diff(np.r_[starts, d.size]).astype("float64")  # t_k, in sorted order
    # the average rank of a run of t tied values from sorted position p: p + (t + 1) / 2
    ranks = np.repeat(starts + 0.5 * (ties + 1.0), ties.astype(np.int64))
    return float(ranks[d[order] > 0].sum()), ties  # half-integers: exact in any order


@lru_cache(maxsize=8192)
def _wilcoxon_exact_p(n: int, w_plus: int) -> float:
    """scipy's two-sided exact Wilcoxon p for N = ``n`` distinct nonzero values with W+ =
    ``w_plus``: asked of ``scipy.stats.wilcoxon`` on the signed ranks ``+-1..n`` whose
    positive ranks sum to ``w_plus`` (taken largest first: every total 0..n(n+1)/2 is
    reached so), which have the same N and W+ and so, scipy's exact p being a function of
    the two, the same p."""
    signs, left = np.empty(n), w_plus
    for rank in range(n, 0, -1):
        signs[rank - 1] = 1.0 if rank <= left else -1.0
        left -= rank if rank <= left else 0
    if left:
        raise ValueError(f"W+ = {w_plus} is not a signed-rank sum of {n} values")
    return float(scipy.stats.wilcoxon(signs * np.arange(1, n + 1),
                                      alternative="two-sided").pvalue)


def skewness_corrected_t(car: np.ndarray) -> StatResult:
    """Skewness-adjusted t (Hall 1992, as in Lyon, Barber and Tsai 1999, eq. 5):
    ``t_sa = sqrt(N) (S + g S^2 / 3 + g / (6N))`` with ``S = mean / sd`` (sd with
    ddof 1) and ``g = sum (CAR - mean)^3 / (N sd^3)``; two-sided p from the standard
    normal. It corrects the plain t's bias when a few large CARs skew the sample."""
    car = car[np.isfinite(car)]
    n = car.size
    if n < 3:
        return NO_RESULT
    sd = car.std(ddof=1)
    if not sd > 0:
        return NO_RESULT
    s = car.mean() / sd
    dev = car - car.mean()
    g = (dev * dev * dev).sum() / (n * sd ** 3)  # products: numpy's ** 3 is pow(), 60x slower
    t = np.sqrt(n) * (s + g * s * s / 3.0 + g / (6.0 * n))
    return StatResult(float(t), float(_normal_p(t)))


def sign_test(car: np.ndarray) -> StatResult:
    """Plain sign test: under no effect a CAR is positive with probability 1/2.
    ``z = (N+ - N/2) / sqrt(N/4)`` over the nonzero CARs, two-sided p exact from the
    binomial (as scipy ``binomtest`` gives it for p = 1/2)."""
    car = car[np.isfinite(car) & (car != 0)]
    n = car.size
    if n < 2:
        return NO_RESULT
    up = int((car > 0).sum())
    z = (up - n / 2.0) / np.sqrt(n / 4.0)
    # binomtest's two-sided p for p = 1/2 (outcomes no likelier than the one seen: both
    # tails, the distribution being symmetric) from the binomial CDF, special.bdtr
    return StatResult(float(z),
                      float(min(1.0, 2.0 * scipy.special.bdtr(min(up, n - up), n, 0.5))))


def _news_days(car: np.ndarray, day0: np.ndarray | None):
    """(the finite CARs, each one's news-day code, G news days), or None below 2 days."""
    if day0 is None:
        return None
    ok = np.isfinite(car)
    day0 = np.asarray(day0)[ok]
    if day0.dtype.kind in "iu" and day0.size and 0 <= day0.min() and day0.max() < 4 * day0.size:
        # session positions (the engine's): the codes np.unique would give, by counting
        # (a sort of a million pairs per window otherwise)
        present = np.bincount(day0) > 0
        codes, n_days = (np.cumsum(present) - 1)[day0], int(present.sum())
    else:
        days, codes = np.unique(day0, return_inverse=True)
        n_days = days.size
    return (car[ok], codes.ravel(), n_days) if n_days >= 2 else None


def ibragimov_mueller_t(car: np.ndarray, day0: np.ndarray | None) -> StatResult:
    """Ibragimov and Mueller (2010) t on news-day means: average the CARs of each news
    day (``day0``), then ``t = sqrt(G) mean / sd`` of the G day means, Student-t with
    ``G - 1`` df. Valid however the pairs of one day are correlated, and conservative
    at 5% for G up to 14: the test to read when a handful of news days drive a result."""
    grouped = _news_days(car, day0)
    if grouped is None:
        return NO_RESULT
    car, codes, g = grouped
    means = np.bincount(codes, weights=car) / np.bincount(codes)
    sd = means.std(ddof=1)
    if not sd > 0:
        return NO_RESULT
    t = np.sqrt(g) * means.mean() / sd
    return StatResult(float(t), float(2.0 * scipy.stats.t.sf(abs(t), g - 1)))


def generalized_rank_t(est_ar: np.ndarray, sigma: np.ndarray, car: np.ndarray,
                       car_var: np.ndarray) -> StatResult:
    """Kolari and Pynnonen (2011) generalized rank test GRANK-T of a CAR window, the
    readable form of what the study computes from block sums (:func:`grank_from_sums`,
    kernel :func:`backtest.eventstudy.kernels.grank_sums`).

    The window collapses into one "event day": ``SCAR_i = CAR_i / sqrt(Var(CAR_i))``,
    re-standardized by its cross-sectional standard deviation (ddof 1) so event-induced
    volatility does not bias the ranks, ``SCAR*_i = SCAR_i / S_SCAR``. Beside
    it the pair's standardized estimation residuals ``SAR_it = AR_it / S_i``; together the
    generalized SARs, ranked within each pair over its T_i non-missing values:
    ``U_it = rank(GSAR_it) / (T_i + 1) - 1/2`` (eq. 9). With ``Ubar_t`` the mean over the
    N_t pairs present on day t (event day: all N),
    ``S_Ubar^2 = (1/T) sum_t (N_t / N) Ubar_t^2`` over the T = L + 1 days (eq. 14; a day
    on which no pair has a residual has no mean rank and is not one of the T),
    ``Z = Ubar_0 / S_Ubar`` and ``t_grank = Z sqrt((T - 2) / (T - 1 - Z^2))``, Student-t
    with T - 2 df (eq. 12-13). Robust to event-induced volatility, to the
    cross-correlation of the ARs and to fat tails.

    ``est_ar`` (N, L) estimation ARs aligned on relative day (NaN gaps), ``sigma`` (N,)
    each pair's residual standard deviation, ``car`` and ``car_var`` (N,).
    """
    scar = standardized(car, car_var)
    keep = np.isfinite(scar) & np.isfinite(sigma) & (sigma > 0)
    if keep.sum() < 2:
        return NO_RESULT
    s_scar = scar[keep].std(ddof=1)
    if not s_scar > 0:
        return NO_RESULT
    gsar = np.concatenate([est_ar[keep] / sigma[keep, None],
                           (scar[keep] / s_scar)[:, None]], axis=1)
    u = _standardized_ranks(gsar) - 0.5  # rank / (T_i + 1) - 1/2 over non-missing days
    present = np.isfinite(u)
    return grank_from_sums(float(np.nansum(u[:, -1])), float(present[:, -1].sum()),
                           np.where(present[:, :-1], u[:, :-1], 0.0).sum(axis=0),
                           present[:, :-1].sum(axis=0))


def grank_from_sums(event_sum: float, event_n: float, est_sum: np.ndarray,
                    est_n: np.ndarray) -> StatResult:
    """GRANK-T (:func:`generalized_rank_t`) from the sums over pairs of ``U - 1/2`` on
    the event day (``event_sum`` over ``event_n`` = N pairs) and on each estimation
    day (``est_sum`` over ``est_n`` = N_t pairs)."""
    if not event_n >= 2:
        return NO_RESULT
    est_n = np.asarray(est_n, dtype="float64")
    days = est_n > 0
    ubar0 = event_sum / event_n
    ubar = est_sum[days] / est_n[days]
    t_days = int(days.sum()) + 1
    if t_days < 4:
        return NO_RESULT
    s2 = (np.sum(est_n[days] / event_n * ubar ** 2) + ubar0 ** 2) / t_days
    if not s2 > 0:
        return NO_RESULT
    z = ubar0 / np.sqrt(s2)
    t = z * np.sqrt((t_days - 2) / (t_days - 1 - z * z))
    return StatResult(float(t), float(t_pvalue(t, t_days - 2)))


def lamb_z(ar_days: np.ndarray, inflation: np.ndarray, aar_est: np.ndarray) -> StatResult:
    """Lamb (1995) portfolio test, as in the R package estudy2: each window day's mean AR
    over the pairs, ``AAR_t``, is divided by the standard deviation (ddof 1) of the
    estimation-window AAR series times its prediction-error factor ``c_t`` (the mean over
    the pairs in that day's mean of ``Var(AR_it) / s_i^2 = 1 + x_t' (X'X)^{-1} x_t``; ``1 + 1/L +
    (R_mt - mean R_m)^2 / sum (R_m - mean R_m)^2`` for the market model), and the window's
    statistic is ``z = sum_t AAR_t / (S(AAR) c_t) / sqrt(K)``, standard normal. Like the
    Brown-Warner crude dependence adjustment, its variance comes from the time series of
    the portfolio, so cross-correlation of same-day pairs is inside it.

    ``ar_days`` (N, K) the window days' ARs (signed in the group), ``inflation`` (N, K)
    each AR's variance over the pair's s^2, ``aar_est`` the estimation AAR series."""
    present = np.isfinite(ar_days)
    return lamb_z_days(_nanmean(ar_days, axis=0), present.sum(axis=0),
                       _nanmean(np.where(present, inflation, np.nan), axis=0), aar_est)


def lamb_z_days(aar: np.ndarray, n: np.ndarray, inflation: np.ndarray,
                aar_est: np.ndarray) -> StatResult:
    """:func:`lamb_z` from each window day's mean AR ``aar`` over the ``n`` pairs with one,
    and the mean of their ``Var(AR_it) / s_i^2`` (NaN: factor 1), as a study's blocks
    return them (:class:`backtest.eventstudy.blocks.BlockResult`)."""
    aar_est = aar_est[np.isfinite(aar_est)]
    if aar_est.size < 3 or not (np.asarray(n) > 0).all():
        return NO_RESULT
    s = aar_est.std(ddof=1)
    if not s > 0:
        return NO_RESULT
    # the factor of the pairs whose AR is in the day's mean (1 where none is known)
    c = np.sqrt(np.nan_to_num(inflation, nan=1.0))
    z = float(np.sum(aar / (s * c)) / np.sqrt(len(aar)))
    return StatResult(z, float(_normal_p(z)))


def robust_sample(car: np.ndarray, winsorize: float = 0.0, trim: float = 0.0) -> np.ndarray:
    """The CARs a group's tests read, with ``winsorize`` or ``trim`` share cut per tail
    (0: as they are). Winsorizing (scipy ``mstats.winsorize``) sets the ``floor(p N)``
    smallest CARs to the next one up and the largest to the next one down; trimming
    leaves the same CARs out (NaN), like scipy ``trimboth``. One wild CAR (a bad tick)
    then moves no test by more than a typical CAR does."""
    out = np.array(car, dtype="float64")
    ok = np.flatnonzero(np.isfinite(out))
    cut = int(np.floor(max(winsorize, trim) * ok.size))
    if cut == 0:
        return out
    if winsorize:
        from scipy.stats import mstats

        out[ok] = np.asarray(mstats.winsorize(out[ok], limits=(winsorize, winsorize)))
        return out
    order = ok[np.argsort(out[ok], kind="stable")]
    out[order[:cut]] = np.nan
    out[order[ok.size - cut:]] = np.nan
    return out


WILD_DRAWS = 1999  # random sign patterns once 2^G exceeds them (G > 10 news days)
WILD_SEED = 20260428  # fixed: the same sample gives the same p every run
# sign patterns evaluated at a time: bounds the (patterns x windows x days) arrays; the
# patterns drawn do not depend on it, so neither does the p
WILD_BATCH = 250


def wild_cluster_t(car: np.ndarray, day0: np.ndarray | None) -> StatResult:
    """Wild cluster bootstrap of the mean CAR over news days (Cameron, Gelbach and Miller
    2008; with Rademacher weights and the null imposed it is the sign-change randomization
    test of Canay, Romano and Shaikh 2017).

    Statistic: the cluster-robust (CR1) t of the mean with the G news days as clusters,
    ``t = ybar / sqrt(G/(G-1) sum_g (S_g - n_g ybar)^2 / N^2)``, S_g and n_g the sum and
    count of day g's CARs. Under no effect the days' CARs are symmetric around 0, so each
    day's CARs may flip sign together (weight v_g = +-1): ``S_g -> v_g S_g``. The p-value is
    the share of sign patterns whose |t*| >= |t|: every one of the 2^G patterns when
    G <= 10 (scipy ``permutation_test``, one-sample sign flips), else 1,999 random ones
    with a fixed seed (scipy ``monte_carlo_test``: each side's p is (hits + 1) / (1,999 + 1),
    counting the observed pattern, and the two-sided p twice the smaller side, as
    ``permutation_test`` gives it for random patterns). Valid however the pairs of a day are
    correlated; with G news days the smallest p it can give is 2 / 2^G (0.25 for 3 days):
    it says in its p how little few days show."""
    return wild_cluster_ts(np.asarray(car, dtype="float64")[None, :], day0)[0]


def wild_cluster_ts(cars: np.ndarray, day0: np.ndarray | None) -> list[StatResult]:
    """:func:`wild_cluster_t` of every row of ``cars`` (windows x pairs, one ``day0``).

    The sign patterns depend only on G and the fixed seed, so rows with the same G share
    them: one ``permutation_test`` call (its ``axis``) where G <= 10, else one draw of the
    1,999 patterns (:func:`_sign_patterns`) that each row's ``monte_carlo_test`` reads.
    Each row gets the p it would get alone."""
    out = [NO_RESULT] * len(cars)
    batches: dict[int, list] = {}  # G -> [rows, day sums, day counts, t]
    for w, car in enumerate(cars):
        grouped = _news_days(car, day0)
        if grouped is None:
            continue
        values, codes, g = grouped
        sums = np.bincount(codes, weights=values)
        counts = np.bincount(codes).astype("float64")
        t = float(_cr1_t(sums, counts, counts.sum()))
        if not np.isfinite(t):
            continue
        batch = batches.setdefault(g, [[], [], [], []])
        for part, value in zip(batch, (w, sums, counts, t)):
            part.append(value)
    for g, (rows, sums, counts, ts) in batches.items():
        sums, counts = np.array(sums), np.array(counts)
        p = (_every_pattern_p(sums, counts, np.array(ts)) if 2 ** g <= WILD_DRAWS
             else _sampled_patterns_p(sums, counts, np.array(ts)))
        for w, t, p_w in zip(rows, ts, p):
            out[w] = StatResult(t, float(p_w))
    return out


def _cr1_form(sums: np.ndarray, counts: np.ndarray, total: np.ndarray, ts: np.ndarray):
    """:func:`_cr1_t_expanded` where it matches the two-pass t on the observed sums (rows,
    G), else :func:`_cr1_t`: the p-values are the same either way."""
    fast = np.allclose(_cr1_t_expanded(sums, counts, total), ts, rtol=1e-10, atol=0)
    return _cr1_t_expanded if fast else _cr1_t


def _every_pattern_p(sums: np.ndarray, counts: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Two-sided p of each row's CR1 t over all 2^G sign patterns of its day sums (rows, G),
    one scipy ``permutation_test`` for all rows."""
    total = counts.sum(axis=1)
    form = _cr1_form(sums, counts, total, ts)

    def cr1_t(s, axis=-1):  # s: (..., rows, G) sign-flipped day sums
        return form(np.moveaxis(s, axis, -1), counts, total)

    res = scipy.stats.permutation_test((sums,), cr1_t, permutation_type="samples",
                                       vectorized=True, n_resamples=WILD_DRAWS,
                                       batch=WILD_BATCH, alternative="two-sided", axis=-1,
                                       random_state=np.random.default_rng(WILD_SEED))
    return np.atleast_1d(res.pvalue)


def _sampled_patterns_p(sums: np.ndarray, counts: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Two-sided p of each row's CR1 t over :data:`WILD_DRAWS` random sign patterns of its
    day sums (rows, G): scipy ``monte_carlo_test`` per row, its sample the pattern of no
    flips (all +1) and its draws the patterns of :func:`_sign_patterns`, shared by the rows.
    (scipy's ``permutation_test`` draws the same patterns, but then loops in Python over
    the G days for each batch: several times slower with hundreds of news days.)"""
    patterns = _sign_patterns(sums.shape[1])
    out = np.empty(len(sums))
    for r in range(len(sums)):
        s_r, n_r = sums[r:r + 1], counts[r:r + 1]  # (1, G): the forms' (rows, G) layout
        total = n_r.sum(axis=1)
        form = _cr1_form(s_r, n_r, total, ts[r:r + 1])
        drawn = [0]  # patterns handed out so far, in order

        def draw(size):
            k = drawn[0]
            drawn[0] += size[0]
            return patterns[k:k + size[0]]

        def cr1_t(v, axis=-1, s_r=s_r, n_r=n_r, total=total, form=form):
            # v: (..., G) sign patterns; the (..., 1, G) flipped sums give (..., 1) t's
            return form(np.moveaxis(v, axis, -1)[..., None, :] * s_r, n_r, total)[..., 0]

        res = scipy.stats.monte_carlo_test(np.ones(sums.shape[1]), draw, cr1_t,
                                           vectorized=True, n_resamples=WILD_DRAWS,
                                           batch=WILD_BATCH, alternative="two-sided")
        out[r] = res.pvalue
    return out


def _sign_patterns(g: int) -> np.ndarray:
    """:data:`WILD_DRAWS` random sign patterns of ``g`` days (patterns x days, int8 +-1), from
    the fixed seed: each day's sign by a random order of (+x, -x)
    (``Generator.permuted`` of (0, 1) per day, :data:`WILD_BATCH` patterns at a time), the
    draws scipy's ``permutation_test`` makes for one-sample sign flips. So the p-values are
    those it gives, as before this function existed (the tests compare the two)."""
    rng = np.random.default_rng(WILD_SEED)
    batch = min(WILD_BATCH, WILD_DRAWS)
    first = np.tile(np.arange(2, dtype=np.int8), (batch, g, 1))
    # int8, filled in place: 1 byte a cell, where floats and their temporaries were 24 (fresh
    # memory costs more than the arithmetic here)
    out = np.empty((WILD_DRAWS, g), dtype=np.int8)
    for k in range(0, WILD_DRAWS, batch):
        n = min(batch, WILD_DRAWS - k)
        out[k:k + n] = rng.permuted(first, axis=-1)[:n, :, 0]
    np.multiply(out, -2, out=out)
    np.add(out, 1, out=out)  # order (0, 1): +x first, sign +1; (1, 0): -x, sign -1
    return out


def _cr1_t(s: np.ndarray, counts: np.ndarray, total) -> np.ndarray:
    """The CR1 t of :func:`wild_cluster_t` from day sums ``s`` (..., G), day counts
    ``counts`` (G,) and N = ``total`` (both broadcast over the leading axes of ``s``)."""
    g = s.shape[-1]
    total = np.asarray(total, dtype="float64")
    ybar = s.sum(axis=-1) / total
    resid = s - counts * ybar[..., None]
    se = np.sqrt(g / (g - 1) * (resid ** 2).sum(axis=-1) / total ** 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ybar / se


def _cr1_t_expanded(s: np.ndarray, counts: np.ndarray, total) -> np.ndarray:
    """:func:`_cr1_t` with its sum of squares expanded (``counts`` (rows, G)),
    ``sum_g (S_g - n_g ybar)^2 = sum_g S_g^2 - 2 ybar sum_g n_g S_g + ybar^2 sum_g n_g^2``:
    two products over the days instead of a (..., G) array of residuals, for the 1,999 sign
    patterns of the wild bootstrap (several times faster). It loses digits where the mean
    dwarfs the spread of the day sums (down to no spread at all: an infinite t, on which
    scipy warns), so :func:`wild_cluster_ts` uses it only where it matches the two-pass
    form on the observed sums."""
    g = s.shape[-1]
    total = np.asarray(total, dtype="float64")
    ybar = s.sum(axis=-1) / total
    ss = np.einsum("...g,...g->...", s, s)
    sc = np.einsum("...rg,rg->...r", s, counts)  # counts: (rows, G)
    cc = (counts * counts).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(g / (g - 1) * (ss - 2.0 * ybar * sc + ybar ** 2 * cc) / total ** 2)
        return ybar / se


TRIM = 0.05  # share cut from each tail for the trimmed mean


def robust_means(car: np.ndarray, trim: float = TRIM) -> tuple[float, float]:
    """The median CAR and the ``trim`` trimmed mean beside the mean: one wild CAR (a bad
    tick) moves the mean and neither of these.

    Both from one sort of the N finite CARs, ``x_(1) <= ... <= x_(N)``: the median is
    ``x_((N+1)/2)`` for odd N, ``(x_(N/2) + x_(N/2+1)) / 2`` for even N; the trimmed mean
    is ``sum_{i=g+1}^{N-g} x_(i) / (N - 2g)`` with ``g = floor(trim N)`` CARs cut from each
    tail (Wilcox 2012, *Introduction to Robust Estimation and Hypothesis Testing*, 3rd ed.,
    sec. 3.3; scipy's ``trim_mean`` cuts the same, and the tests hold both to scipy). One
    SIMD sort is about six times faster than numpy's median and scipy's ``trim_mean``,
    which partition the sample once each (26 windows of 87k CARs: 9 ms against 55 ms)."""
    if not 0.0 <= trim < 0.5:
        raise ValueError(f"trim is the share cut from each tail, in [0, 0.5), got {trim!r}")
    x = np.sort(car[np.isfinite(car)])
    n = x.size
    if n == 0:
        return float("nan"), float("nan")
    g = int(trim * n)
    median = x[n // 2] if n % 2 else 0.5 * (x[n // 2 - 1] + x[n // 2])
    return float(median), float(x[g:n - g].mean())


def adjusted_pvalues(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Holm (1979) family-wise and Benjamini-Hochberg (1995) false-discovery-rate
    adjusted p-values of a family of tests (statsmodels ``multipletests``, methods
    ``holm`` and ``fdr_bh``); NaN p-values stay NaN and are not counted in the family.

    Holm: sort the m p-values, ``p~_(i) = max_{j<=i} min(1, (m - j + 1) p_(j))``;
    BH: ``q_(i) = min_{j>=i} min(1, m p_(j) / j)``."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype="float64")
    holm, bh = np.full(p.shape, np.nan), np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        holm[ok] = holm_pvalues(p[ok])
        bh[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return holm, bh


def holm_pvalues(p: np.ndarray) -> np.ndarray:
    """Holm-adjusted p-values of finite ``p``: sorted ascending, ``p*_(i) = max_{j <= i}
    min(1, (m - j + 1) p_(j))`` (Holm 1979, "A simple sequentially rejective multiple test
    procedure", Scandinavian Journal of Statistics 6(2)), computed with the operations of
    statsmodels' ``multipletests(p, method="holm")`` in the same order (so the same floats), without
    the ``gc.collect()`` it runs on every call (0.2 s in a process that has loaded
    vectorbt and matplotlib, as ``backtest demo`` has)."""
    order = np.argsort(p)
    adjusted = np.maximum.accumulate(np.take(p, order) * np.arange(len(p), 0, -1))
    adjusted[adjusted > 1] = 1
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def estimation_cumsum(est_ar: np.ndarray) -> np.ndarray:
    """``[0, AR_1, AR_1 + AR_2, ...]`` per pair (missing ARs count as 0), for K-day sums."""
    est = np.where(np.isfinite(est_ar), est_ar, 0.0)
    return np.concatenate([np.zeros((len(est), 1)), np.cumsum(est, axis=1)], axis=1)


def pseudo_event_test(car: np.ndarray, est_ar: np.ndarray, cluster: np.ndarray, k: int,
                      draws: int, rng: np.random.Generator, cumsum: np.ndarray | None = None
                      ) -> StatResult:
    """Random pseudo-event-date test of the mean CAR, keeping clusters intact.

    Under the null, day 0 could have been any day of the estimation window.
    Each draw picks one random start per cluster (pairs whose windows overlap
    in calendar time share the draw, see :func:`overlapping`, so their
    cross-correlation is kept) and sums each pair's estimation ARs over K days
    from it (a missing AR counts as 0); the mean over pairs gives one null
    value. Returns ``(observed - mean(null)) / sd(null)`` and the two-sided
    empirical p-value ``(1 + #{|null - m| >= |obs - m|}) / (draws + 1)``
    (Brown and Warner 1980, simulation design; Davison and Hinkley 1997, ch. 4).
    """
    keep = np.isfinite(car)
    n = int(keep.sum())
    length = est_ar.shape[1]
    if n < 1 or draws < 1 or length < k:
        return NO_RESULT
    if cumsum is None:
        cumsum = estimation_cumsum(est_ar)
    _, cl = np.unique(cluster[keep], return_inverse=True)
    sums = np.zeros((cl.max() + 1, length + 1))
    np.add.at(sums, cl, cumsum[keep])
    return pseudo_event_test_sums(float(car[keep].mean()), n, sums, k, draws, rng)


def pseudo_event_test_sums(observed: float, n: int, sums: np.ndarray, k: int, draws: int,
                           rng: np.random.Generator) -> StatResult:
    """:func:`pseudo_event_test` from per-cluster sums: ``observed`` mean CAR of ``n``
    pairs and ``sums`` (clusters, L + 1), each cluster's sum of its pairs'
    :func:`estimation_cumsum` rows (clusters in day-0 order).

    A draw's null mean is ``sum_c (sums[c, s_c + K] - sums[c, s_c]) / n``.
    """
    length = sums.shape[1] - 1
    if n < 1 or draws < 1 or length < k:
        return NO_RESULT
    starts = rng.integers(0, length - k + 1, size=(draws, len(sums)))
    rows = np.arange(len(sums))[None, :]
    null = (sums[rows, starts + k] - sums[rows, starts]).sum(axis=1) / n
    m, sd = null.mean(), null.std(ddof=1)
    p = (1 + np.sum(np.abs(null - m) >= abs(observed - m))) / (draws + 1)
    return StatResult(float((observed - m) / sd) if sd > 0 else np.nan, float(p))


# --------------------------------------------------------------------------------------
# The table of statistics a study reports, per group and window
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSample:
    """Everything the statistics of one group and one window of K days are computed from.

    ``car``, ``var``, ``dof`` and ``share`` are per pair (N,); ``aar`` is the
    estimation-window AAR series of the pairs that have this CAR (Brown-Warner
    1980); ``rbar`` the calendar-overlap weighted mean cross-correlation
    (:func:`mean_cross_correlation`); ``ranks`` the group's daily rank and sign
    series and ``days`` the window's columns in them; ``pseudo`` the
    pseudo-event test, drawn by the engine from per-cluster sums
    (:func:`pseudo_event_test_sums`); ``day0`` each pair's day 0 (its news day).
    """

    car: np.ndarray
    var: np.ndarray
    dof: np.ndarray
    share: np.ndarray
    k: int
    aar: np.ndarray
    rbar: float
    ranks: DailyRanks
    days: np.ndarray
    pseudo: StatResult = NO_RESULT
    day0: np.ndarray | None = None  # each pair's day 0: its news day
    grank: StatResult = NO_RESULT  # from the study's second pass (grank_from_sums)
    # per window day, over the pairs with an AR: their mean AR (signed in the group), how
    # many, and their mean Var(AR_it) / s_i^2 (lamb_z_days); None: not known
    day_aar: np.ndarray | None = None
    day_n: np.ndarray | None = None
    day_inflation: np.ndarray | None = None
    wild: StatResult = NO_RESULT  # wild_t, for a CAR window only (wild_cluster_ts)


@dataclass(frozen=True)
class Statistic:
    """One test statistic of the study's tables."""

    name: str  # the value of tests.statistic
    label: str  # short label for reports
    what: str  # what it tests, one line
    reference: str
    compute: Callable[[WindowSample], StatResult]
    # its null needs a series symmetric around 0 (signs, signed ranks, sign flips, GRANK's
    # re-standardization): not computed for a skewed one such as abnormal volatility
    symmetric_null: bool = False
    # its value is a rank sum, a multiple of 1/2 (tied ranks are averaged): a table shows
    # 507 or 506.5, never "507.00"
    rank_sum: bool = False

    def format_value(self, v: float) -> str:
        """``v`` as the tables show it: two decimals; a rank sum as a whole or half number."""
        if self.rank_sum:
            return f"{v:.0f}" if v == np.floor(v) else f"{v:.1f}"
        return f"{v:.2f}"


def stats_lamb(w: WindowSample) -> StatResult:
    """:func:`lamb_z` of a window sample (NaN without its daily ARs)."""
    if w.day_aar is None or w.day_n is None or w.day_inflation is None:
        return NO_RESULT
    return lamb_z_days(w.day_aar, w.day_n, w.day_inflation, w.aar)


STATISTICS: tuple[Statistic, ...] = (
    Statistic("csect_t", "Cross-sect. t", "mean CAR / cross-sectional standard error",
              "Brown and Warner (1985)", lambda w: csect_t(w.car)),
    Statistic("bw1980_cda_t", "BW CDA t",
              "crude dependence adjustment: time series of the mean estimation AR",
              "Brown and Warner (1980)", lambda w: bw1980_cda_t(w.car, None, w.k, w.aar)),
    Statistic("bw1985_t", "BW 1985 t", "portfolio test assuming independent pairs, own variances",
              "Brown and Warner (1985)", lambda w: bw1985_t(w.car, w.var)),
    Statistic("patell_z", "Patell Z", "sum of standardized CARs", "Patell (1976)",
              lambda w: patell_z(w.car, w.var, w.dof)),
    Statistic("kp_patell_z", "KP-adj. Patell Z",
              "Patell adjusted for the mean cross-correlation of estimation residuals",
              "Kolari and Pynnonen (2010)", lambda w: kp_patell_z(w.car, w.var, w.dof, w.rbar)),
    Statistic("bmp_t", "BMP t", "cross-sectional t of standardized CARs",
              "Boehmer, Musumeci and Poulsen (1991)", lambda w: bmp_t(w.car, w.var)),
    Statistic("kp_bmp_t", "KP-adj. BMP t",
              "BMP adjusted for the mean cross-correlation of estimation residuals",
              "Kolari and Pynnonen (2010)", lambda w: kp_bmp_t(w.car, w.var, w.rbar)),
    Statistic("corrado_rank_z", "Corrado rank z", "ranks of ARs over estimation + event days",
              "Corrado (1989), Corrado and Zivney (1992)", lambda w: w.ranks.corrado(w.days)),
    Statistic("cz_sign_z", "CZ sign z", "signs of ARs around each pair's median",
              "Corrado and Zivney (1992)", lambda w: w.ranks.sign(w.days)),
    Statistic("generalized_sign_z", "Gen. sign z",
              "positive CARs against the estimation-window share of positive ARs",
              "Cowan (1992)", lambda w: generalized_sign_z(w.car, None, w.share)),
    Statistic("wilcoxon_w", "Wilcoxon W+",
              "signed-rank test of CARs around 0; W+ = sum of the ranks of the positive CARs "
              "(N(N+1)/4 with no effect)", "Wilcoxon (1945)",
              lambda w: wilcoxon_signed_rank(w.car), symmetric_null=True, rank_sum=True),
    Statistic("skew_t", "Skew-adj. t", "cross-sectional t corrected for the skewness of CARs",
              "Hall (1992), Lyon, Barber and Tsai (1999)", lambda w: skewness_corrected_t(w.car)),
    Statistic("sign_z", "Sign z", "share of positive CARs against 1/2, exact binomial p",
              "Brown and Warner (1980), sign test", lambda w: sign_test(w.car),
              symmetric_null=True),
    Statistic("im_t", "IM t", "t of the news days' mean CARs, news days - 1 df (robust to "
              "any correlation within a day)", "Ibragimov and Mueller (2010)",
              lambda w: ibragimov_mueller_t(w.car, w.day0)),
    Statistic("wild_t", "Wild bootstrap t", "news-day clustered t of the mean CAR, p from "
              "flipping the sign of whole news days (wild cluster bootstrap, Rademacher; "
              "CAR windows only)",
              "Cameron, Gelbach and Miller (2008); Canay, Romano and Shaikh (2017)",
              lambda w: w.wild,
              symmetric_null=True),
    Statistic("grank_t", "GRANK t", "ranks of the re-standardized CAR among each pair's "
              "standardized estimation residuals", "Kolari and Pynnonen (2011)",
              lambda w: w.grank, symmetric_null=True),
    Statistic("lamb_z", "Lamb z", "daily portfolio mean ARs over the estimation AAR's "
              "standard deviation with the prediction-error factor", "Lamb (1995)",
              stats_lamb),
    Statistic("pseudo_event_z", "Pseudo-event z",
              "mean CAR against random pseudo-event dates drawn from the estimation windows, "
              "one draw per news day so clusters stay intact", "Brown and Warner (1980) design",
              lambda w: w.pseudo),
)
STATISTIC_NAMES = tuple(s.name for s in STATISTICS)
LABELS = {s.name: s.label for s in STATISTICS}
BY_NAME = {s.name: s for s in STATISTICS}


def headline_statistic(day0: np.ndarray, k: int) -> str:
    """The statistic to lead with for a group's window of K days: the Kolari-Pynnonen
    adjusted BMP when two pairs' windows share calendar days (their ARs are
    cross-correlated and plain BMP over-rejects), BMP otherwise."""
    return "kp_bmp_t" if (np.diff(np.sort(day0)) < k).any() else "bmp_t"


def stars(p: float) -> str:
    """Significance marks as Eventus prints them: *** p<0.01, ** p<0.05, * p<0.10."""
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.10 else ""


def markdown_table() -> str:
    """The README's table of statistics, from :data:`STATISTICS`."""
    lines = ["| `statistic` | what | reference |", "| --- | --- | --- |"]
    lines += [f"| `{s.name}` | {s.what} | {s.reference} |" for s in STATISTICS]
    return "\n".join(lines)
