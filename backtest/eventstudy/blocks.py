"""The per-pair work of an event study, one block of pairs at a time.

:func:`study_block` is a pure function of arrays: it fits each pair's model,
computes its event-window measures and reduces the block to the sums the test
statistics need (:class:`BlockResult`). Blocks run in a loop here or as tasks
on a Dask cluster (:mod:`backtest.parallel`); :func:`combine` adds them up in
block order, so a study gives the same numbers to the last bit however its
blocks were scheduled (the block size itself is part of the arithmetic and is
the same locally and on a cluster by default).

What leaves a block is small: per-pair rows (fit, ARs, CARs) and per-group or
per-cluster daily sums. The estimation residuals (pairs x 250 days) stay in
the block, except for the few kept pairs whose CAR is missing in some window:
the window's statistics must leave those pairs out, so their rows travel.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

import numpy as np

from backtest.eventstudy import kernels, models

PER_PAIR = ("coef", "xtx_inv", "sigma2", "n", "dof", "n_excluded", "kept", "y", "expected",
            "ar", "sar", "car", "var", "missing", "share", "share_neg", "vol_params")


@dataclass
class BlockResult:
    """What a block of pairs contributes to a study.

    Per pair (rows of the block): ``coef`` (P, K), ``xtx_inv`` (P, K, K),
    ``sigma2``, ``n`` (estimation days used), ``dof``, ``n_excluded`` (days left
    out as other events' windows), ``kept`` (enough estimation data), event-window
    ``y``, ``expected``, ``ar``, ``sar`` (P, W), per test window ``car``, ``var``
    (its variance) and ``missing`` (P, n_windows), and ``share``/``share_neg`` (shares
    of positive and negative estimation ARs, for the generalized sign test), ``vol_params``
    (P, 3) the volatility model's (omega, alpha, beta) where the model has one (NaN else).

    Sums over kept pairs, per statistics group g (rows) and relative day, of each pair's
    values times its sign in the group (:attr:`PairLayout.mult`):
    ``rank_u``/``rank_u_n`` of ``U - 1/2`` and ``rank_g``/``rank_g_n`` of the
    signs over estimation + event days (:class:`backtest.stats.DailyRanks`),
    ``est_sum``/``est_n`` of estimation ARs (the Brown-Warner AAR series). Per
    (group, day 0) cluster c and estimation day: ``S``, ``Q``, ``C``
    (:class:`backtest.stats.ClusterSums`) and ``cum``, the summed running sums
    of estimation ARs (pseudo-event test).

    ``rare`` (indices into the block) and ``rare_resid``: kept pairs with a
    missing CAR in some window, and their estimation ARs.
    """

    coef: np.ndarray
    xtx_inv: np.ndarray
    sigma2: np.ndarray
    n: np.ndarray
    dof: np.ndarray
    n_excluded: np.ndarray
    kept: np.ndarray
    y: np.ndarray
    expected: np.ndarray
    ar: np.ndarray
    sar: np.ndarray
    car: np.ndarray
    var: np.ndarray
    missing: np.ndarray
    share: np.ndarray
    share_neg: np.ndarray
    vol_params: np.ndarray
    rank_u: np.ndarray
    rank_u_n: np.ndarray
    rank_g: np.ndarray
    rank_g_n: np.ndarray
    est_sum: np.ndarray
    est_n: np.ndarray
    S: np.ndarray
    Q: np.ndarray
    C: np.ndarray
    cum: np.ndarray
    rare: np.ndarray
    rare_resid: np.ndarray

    def take(self, rows: np.ndarray) -> dict:
        """The per-pair arrays of a subset of pairs, by name."""
        return {name: getattr(self, name)[rows] for name in PER_PAIR}


@dataclass(frozen=True)
class PairLayout:
    """Where each pair's rows are, shared by every block of a study.

    ``pos`` day-0 positions and ``cols`` ticker rows of the pairs;
    ``others``/``other_lo``/``other_hi``: the sorted day-0 positions of the
    events of each ticker, and each pair's range in it (other events' windows are
    left out of estimation; empty ranges when that is turned off); ``groups`` (P, m) the statistics
    groups of each pair and ``clusters`` (P, m) its (group, day 0) cluster in
    each, with ``n_groups`` and ``n_clusters``; ``mult`` (P, m) the pair's sign in each
    group: +1 or -1 by its expected direction in a group that pools both directions
    (its ARs then count as "in the expected direction"), 1 in a group of one direction.
    """

    pos: np.ndarray
    cols: np.ndarray
    others: np.ndarray | None
    other_lo: np.ndarray
    other_hi: np.ndarray
    groups: np.ndarray
    clusters: np.ndarray
    n_groups: int
    n_clusters: int
    mult: np.ndarray
    est_pos: np.ndarray | None = None  # first estimation session (None: pos + first offset)

    def block(self, start: int, stop: int) -> "PairLayout":
        """Pairs ``start:stop`` without ``others``, which every block shares and is
        passed to :func:`study_block` on its own (a cluster receives it once)."""
        sl = slice(start, stop)
        return PairLayout(self.pos[sl], self.cols[sl], None, self.other_lo[sl],
                          self.other_hi[sl], self.groups[sl], self.clusters[sl],
                          self.n_groups, self.n_clusters, self.mult[sl],
                          None if self.est_pos is None else self.est_pos[sl])


def study_block(rT: np.ndarray, reg: np.ndarray, market3: np.ndarray, others: np.ndarray,
                layout: PairLayout, config, windows: np.ndarray) -> BlockResult:
    """Fit, measure and reduce one block of pairs (see :class:`BlockResult`).

    ``rT`` (tickers, T) returns in the study's units, ``reg`` (T, K) the model's
    regressors, ``market3`` (T, 3) lagged, current and leading market returns
    (Scholes-Williams), ``others`` the study's sorted event positions per ticker
    (:attr:`PairLayout.others`), ``layout`` the block's pairs, ``config`` the
    :class:`~backtest.eventstudy.config.StudyConfig` and ``windows`` (n, 2) test
    windows as column indices of the event window.
    """
    evt_off = config.event_offsets
    fit, n_excluded = _fit(rT, reg, market3, others, layout, config)
    kept = (fit.n >= config.min_estimation_obs) & np.isfinite(fit.sigma2)
    y, expected, ar, sar, car, var, missing = kernels.event_window(
        rT, reg, layout.pos, layout.cols, int(evt_off[0]), len(evt_off), fit.coef,
        fit.xtx_inv, fit.sigma2, windows[:, 0], windows[:, 1])
    vol_params = np.full((len(layout.pos), 3), np.nan)
    if models.get_model(config.model).conditional_variance:
        sar, var, vol_params = _conditional_variances(rT, reg, layout, config, fit, kept, ar,
                                                      sar, var, windows)
    if config.measure == "volatility":
        fit, ar, sar, car, var, missing = _as_volatility(fit, sar, windows)
    with np.errstate(invalid="ignore", divide="ignore"):
        finite = np.isfinite(fit.resid).sum(axis=1)
        share = (fit.resid > 0).sum(axis=1) / finite
        share_neg = (fit.resid < 0).sum(axis=1) / finite

    groups = np.where(kept[:, None], layout.groups, -1)
    clusters = np.where(kept[:, None], layout.clusters, -1)
    u, g = kernels.standardized_ranks(fit.resid, ar)
    mult = layout.mult
    rank_u, rank_u_n = kernels.group_day_sums(u, groups, mult, layout.n_groups)
    rank_g, rank_g_n = kernels.group_day_sums(g, groups, mult, layout.n_groups)
    est_sum, est_n = kernels.group_day_sums(fit.resid, groups, mult, layout.n_groups)
    S, Q, C, cum = kernels.cluster_day_sums(fit.resid, fit.sigma2, clusters, mult,
                                            layout.n_clusters)
    rare = np.flatnonzero(kept & ~np.isfinite(car).all(axis=1))
    return BlockResult(fit.coef, fit.xtx_inv, fit.sigma2, fit.n, fit.dof, n_excluded, kept,
                       y, expected, ar, sar, car, var, missing, share, share_neg, vol_params,
                       rank_u,
                       rank_u_n,
                       rank_g, rank_g_n, est_sum, est_n, S, Q, C, cum, rare,
                       fit.resid[rare])


def _fit(rT, reg, market3, others, layout: PairLayout, config):
    """Each pair's estimation returns (other events' windows left out) and model fit."""
    length = config.estimation_length
    start = (layout.pos + int(config.estimation_offsets[0]) if layout.est_pos is None
             else layout.est_pos)  # relative to day 0, or fixed dates
    a, b = config.event_window
    model = models.get_model(config.model)
    if type(model).fit_block is models.NormalReturnModel.fit_block:
        # The OLS models' fit_block is kernels.ols: gather and fit in one pass, without the
        # (pairs x days) array of returns in between (the same numbers).
        coef, xtx_inv, sigma2, n, resid, n_excluded = kernels.estimation_ols(
            rT, reg, start, layout.cols, 0, length, others, layout.other_lo,
            layout.other_hi, a, b)
        return models.ModelFit(coef, sigma2, n, n - reg.shape[1], xtx_inv, resid), n_excluded
    y_est, n_excluded = kernels.estimation_returns(
        rT, start, layout.cols, 0, length, others, layout.other_lo, layout.other_hi, a, b)
    fit = model.fit_block(y_est, reg, market3, start, np.arange(length))
    return fit, n_excluded


def _conditional_variances(rT, reg, layout: PairLayout, config, fit, kept, ar, sar, var,
                           windows):
    """SARs and CAR variances with each day's variance from the model's volatility forecast
    (:class:`backtest.eventstudy.models.MarketGarch`): ``h_t + s^2 x_t'(X'X)^-1 x_t`` per
    day, ``sum_t h_t + s^2 g'(X'X)^-1 g`` per window, i.e. the constant-variance values
    with ``s^2`` per day replaced by ``h_t``. Pairs without a usable forecast keep them."""
    model = models.get_model(config.model)
    a, gap = config.event_window[0], config.gap
    n_pre = a + gap  # sessions between the estimation window (ends day -gap-1) and day a
    none = np.zeros(0, dtype=np.int64)
    pre = (kernels.event_window(rT, reg, layout.pos, layout.cols, -gap, n_pre, fit.coef,
                                fit.xtx_inv, fit.sigma2, none, none)[2]
           if n_pre > 0 else np.zeros((len(layout.pos), 0)))
    width = ar.shape[1]
    h = np.full((len(layout.pos), width), np.nan)
    params = np.full((len(layout.pos), 3), np.nan)
    rows = np.flatnonzero(kept)
    h[rows], params[rows] = model.event_variances(fit.resid[rows], pre[rows], width)
    t = np.clip(layout.pos[:, None] + config.event_offsets[None, :], 0, len(reg) - 1)
    x = reg[t]  # (P, W, K): a day outside the data has a NaN AR, so its row does not matter
    q = np.einsum("pwk,pkl,pwl->pw", x, fit.xtx_inv, x)
    s2 = fit.sigma2[:, None]
    usable = np.isfinite(h).all(axis=1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        sar = np.where(usable, ar / np.sqrt(h + s2 * q), sar)
    for j, (lo, hi) in enumerate(windows):
        garch = var[:, j] - (hi - lo + 1) * fit.sigma2 + h[:, lo:hi + 1].sum(axis=1)
        var[:, j] = np.where(usable[:, 0], garch, var[:, j])
    return sar, var, params


def _volatility_fit(fit):
    """The fit with its residuals as abnormal volatilities ``e_t^2 / s^2 - 1`` and its
    variance the estimation variance (ddof 1) of those (what the tests standardize by)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        resid = fit.resid ** 2 / fit.sigma2[:, None] - 1.0
        n = np.isfinite(resid).sum(axis=1)
        mean = np.where(n > 0, np.nansum(resid, axis=1) / n, np.nan)
        s2 = np.nansum((resid - mean[:, None]) ** 2, axis=1) / (n - 1)
    return dataclasses.replace(fit, resid=resid, sigma2=s2)


def _as_volatility(fit, sar, windows):
    """Abnormal volatility (see :mod:`backtest.eventstudy.engine`): the day series
    ``SAR^2 - 1``, standardized by the estimation variance of ``e^2 / s^2 - 1``; a window's
    sum and its variance ``K`` times that (the days taken as independent under no effect)."""
    vfit = _volatility_fit(fit)
    av = sar ** 2 - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        sav = av / np.sqrt(vfit.sigma2)[:, None]
    n_win = len(windows)
    car = np.full((len(av), n_win), np.nan)
    var = np.empty((len(av), n_win))
    missing = np.empty((len(av), n_win), dtype=np.int64)
    for j, (lo, hi) in enumerate(windows):
        part = av[:, lo:hi + 1]
        missing[:, j] = (~np.isfinite(part)).sum(axis=1)
        car[:, j] = np.where(missing[:, j] == 0, part.sum(axis=1), np.nan)
        var[:, j] = (hi - lo + 1) * vfit.sigma2
    return vfit, av, sav, car, var, missing


def grank_block(rT: np.ndarray, reg: np.ndarray, market3: np.ndarray, others: np.ndarray,
                layout: PairLayout, config, gscar: np.ndarray) -> tuple[np.ndarray, ...]:
    """The generalized rank test's sums for one block (a second pass over the pairs).

    GRANK ranks each pair's CAR, re-standardized by the cross-sectional standard deviation
    of its group's standardized CARs, among the pair's own estimation residuals
    (:func:`backtest.eventstudy.stats.generalized_rank_t`): that deviation is known only
    once every block has run, so the residuals are fitted again here rather than kept
    (pairs x estimation days) between the passes. ``gscar`` (P, m, W) as in
    :func:`backtest.eventstudy.kernels.grank_sums`; NaN for pairs not kept.
    """
    fit, _ = _fit(rT, reg, market3, others, layout, config)
    if config.measure == "volatility":
        fit = _volatility_fit(fit)
    return kernels.grank_sums(fit.resid, fit.sigma2, gscar, layout.groups, layout.mult,
                              layout.n_groups)


def combine_sums(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Blocks' tuples of sums added one block after another (in block order)."""
    total = [a.copy() for a in parts[0]]
    for p in parts[1:]:
        for acc, a in zip(total, p):
            acc += a
    return tuple(total)


def combine(parts: list[BlockResult]) -> BlockResult:
    """Blocks in order: per-pair arrays stacked, sums added one block after another."""
    out = {}
    for f in fields(BlockResult):
        name = f.name
        if name in PER_PAIR or name == "rare_resid":
            out[name] = np.concatenate([getattr(p, name) for p in parts])
        elif name == "rare":
            starts = np.cumsum([0] + [len(p.kept) for p in parts[:-1]])
            out[name] = np.concatenate([p.rare + s for p, s in zip(parts, starts)])
        else:
            total = getattr(parts[0], name).copy()
            for p in parts[1:]:
                total += getattr(p, name)
            out[name] = total
    return BlockResult(**out)
