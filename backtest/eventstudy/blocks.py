"""The per-pair work of an event study, one block of pairs at a time.

:func:`study_block` is a pure function of arrays: it fits each pair's model,
computes its event-window measures and reduces the block to the sums the test
statistics need (:class:`BlockResult`). Blocks run in a loop here or as tasks
on a Dask cluster (:mod:`backtest.parallel`); :func:`combine` adds them up in
block order, so a study gives the same numbers to the last bit however its
blocks were scheduled (the block size itself is part of the arithmetic and is
the same locally and on a cluster by default).

What leaves a block is small: a few numbers per pair (fit, CARs, BHARs) and
per-group or per-cluster daily sums (CAAR's moments, Lamb's daily means, ranks).
The estimation residuals (pairs x 250 days) stay in the block, except for the few
kept pairs whose CAR is missing in some window: the window's statistics must leave
those pairs out, so their rows travel. A study run in this process that fits in
:data:`KEEP_RANKED_CELLS` asks its blocks to hand their residuals back too, with their
sort (:class:`Ranked`), so that the generalized rank test's second pass neither fits nor
sorts again; on a cluster, or beyond that size, the second pass refits (same numbers).
The per-pair-day rows of the AR table travel too unless the block is given an
:class:`ARPart`: it then writes them as one parquet part of the study's ``ar.parquet``
folder itself (on a Dask worker, its own file), and nothing per pair and day reaches the
client.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

import numpy as np

from backtest.eventstudy import kernels, models

# what the study reads of each pair once its block is done (about 600 bytes a pair with
# the default 26 test windows: at 10M pairs, what the client holds)
PER_PAIR = ("coef", "sigma2", "n", "dof", "n_excluded", "kept", "car", "var",
            "missing", "bhar", "share", "share_neg", "vol_params")
# the AR table's per-pair-day arrays: None when the block wrote them (ARPart)
AR_ARRAYS = ("y", "expected", "ar", "sar")
# per (group, event day) moments of signed CARs (CAAR), combined by Chan et al.'s formula
MOMENTS = ("caar_n", "caar_mean", "caar_m2")
# pairs x estimation days a study keeps between its passes (Ranked: 10 bytes a cell, so
# at most 400 MB: 160k pairs of 250 days, a universe of 11,000 tickers on 14 events); a
# larger study refits in the second pass
KEEP_RANKED_CELLS = 40_000_000


@dataclass(frozen=True)
class Ranked:
    """A block's estimation residuals ``resid`` (P, L) and their
    :func:`~backtest.eventstudy.kernels.residual_order`, kept for the second pass
    (:func:`grank_ranked`)."""

    resid: np.ndarray
    order: np.ndarray


@dataclass(frozen=True)
class BlockRows:
    """A per-pair-day array of a whole study (the AR table's ``y``, ``expected``, ``ar``,
    ``sar``) kept as its blocks' arrays, in block order, not stacked into one: the table
    takes the rows it is built from out of them (:meth:`take`), so the study never copies
    every pair-day cell once more at the end. ``starts``: each block's first pair."""

    parts: tuple
    starts: np.ndarray

    def __len__(self) -> int:
        return int(self.starts[-1] + len(self.parts[-1])) if self.parts else 0

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The rows ``rows`` (ascending pair indices of the study), as one array."""
        width = self.parts[0].shape[1:] if self.parts else ()
        dtype = self.parts[0].dtype if self.parts else np.float64
        out = np.empty((len(rows), *width), dtype=dtype)
        # rows ascending: each block's rows are one run of them
        cut = np.searchsorted(rows, self.starts)
        for k, part in enumerate(self.parts):
            lo, hi = cut[k], cut[k + 1] if k + 1 < len(cut) else len(rows)
            if hi > lo:
                out[lo:hi] = part[rows[lo:hi] - self.starts[k]]
        return out


@dataclass(frozen=True)
class ARPart:
    """Where a block writes its pairs' AR rows: ``folder/part-{index:05d}.parquet``.

    ``text`` the block's pairs' event_id, ticker, role and label (every pair of the block,
    kept or not: the block writes the kept ones), ``sessions`` the panel's sessions (the
    rows' dates)."""

    folder: str
    index: int
    text: object  # pandas DataFrame
    sessions: object  # pandas DatetimeIndex


@dataclass
class BlockResult:
    """What a block of pairs contributes to a study.

    Per pair (rows of the block): ``coef`` (P, K),
    ``sigma2``, ``n`` (estimation days used), ``dof``, ``n_excluded`` (days left
    out as other events' windows), ``kept`` (enough estimation data), event-window
    ``y``, ``expected``, ``ar``, ``sar`` (P, W), per test window ``car`` and ``var``
    (its variance) (P, n_windows), and ``share``/``share_neg`` (shares
    of positive and negative estimation ARs, for the generalized sign test), ``vol_params``
    (P, 3) the volatility model's (omega, alpha, beta) where the model has one ((P, 0)
    else); per CAR window (P, number of CAR windows) ``missing``, the days without an AR,
    and ``bhar``, the buy-and-hold abnormal return.
    ``y``, ``expected``, ``ar``, ``sar``: None when the block wrote them (:class:`ARPart`);
    after :func:`combine`, every block's as a :class:`BlockRows`.

    Per statistics group and event day, over kept pairs, of each pair's values times its
    sign in the group: ``caar_n``, ``caar_mean``, ``caar_m2`` the count, mean and sum of
    squared deviations of the running CARs ``CAR(a, tau)`` (the CAAR path), ``aar_sum`` and
    ``aar_n`` of the ARs, ``infl_sum`` and ``infl_n`` (unsigned) of each AR's variance
    over its pair's ``s^2`` (Lamb's test).

    Sums over kept pairs, per statistics group g (rows) and relative day, of each pair's
    values times its sign in the group (:attr:`PairLayout.mult`):
    ``rank_u``/``rank_u_n`` of ``U - 1/2`` and ``rank_g``/``rank_g_n`` of the
    signs over estimation + event days (:class:`backtest.stats.DailyRanks`),
    ``est_sum``/``est_n`` of estimation ARs (the Brown-Warner AAR series). Per
    (group, day 0) cluster c and estimation day: ``S``, ``Q``, ``C``
    (:class:`backtest.stats.ClusterSums`) and ``cum``, the summed running sums
    of estimation ARs (pseudo-event test).

    ``rare`` (indices into the block) and ``rare_resid``: kept pairs with a
    missing CAR in some window, and their estimation ARs. ``ranked``: the block's
    :class:`Ranked` when the study asked for it (None else); after :func:`combine`, the
    blocks' in order.
    """

    coef: np.ndarray
    sigma2: np.ndarray
    n: np.ndarray
    dof: np.ndarray
    n_excluded: np.ndarray
    kept: np.ndarray
    y: np.ndarray | BlockRows | None
    expected: np.ndarray | BlockRows | None
    ar: np.ndarray | BlockRows | None
    sar: np.ndarray | BlockRows | None
    car: np.ndarray
    var: np.ndarray
    missing: np.ndarray
    bhar: np.ndarray
    share: np.ndarray
    share_neg: np.ndarray
    vol_params: np.ndarray
    caar_n: np.ndarray
    caar_mean: np.ndarray
    caar_m2: np.ndarray
    aar_sum: np.ndarray
    aar_n: np.ndarray
    infl_sum: np.ndarray
    infl_n: np.ndarray
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
    ranked: Ranked | list | None = None  # a block's Ranked (asked for); combined: one per block

    def take(self, rows: np.ndarray) -> dict:
        """The :data:`PER_PAIR` arrays of a subset of pairs, by name (not the AR arrays,
        which the AR table takes its rows of when it is built)."""
        return {name: getattr(self, name)[rows] for name in PER_PAIR
                if getattr(self, name) is not None}


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


# The compiled kernels divide as numpy does (error_model "numpy": 0/0 is NaN, silently); run
# as plain Python (the demo, NUMBA_DISABLE_JIT) their scalar divisions must be silent too.
_AS_COMPILED = np.errstate(divide="ignore", invalid="ignore")


@_AS_COMPILED
def study_block(rT: np.ndarray, reg: np.ndarray, market3: np.ndarray, others: np.ndarray,
                sT: np.ndarray, rf: np.ndarray, layout: PairLayout, config, windows: np.ndarray,
                part: ARPart | None = None, keep_ranked: bool = False) -> BlockResult:
    """Fit, measure and reduce one block of pairs (see :class:`BlockResult`).

    ``rT`` (tickers, T) returns in the study's units, ``reg`` (T, K) the model's
    regressors, ``market3`` (T, 3) lagged, current and leading market returns
    (Scholes-Williams), ``others`` the study's sorted event positions per ticker
    (:attr:`PairLayout.others`), ``sT`` (tickers, T) the simple returns for BHAR when the
    study's are not (log returns, a risk-free rate subtracted; empty: ``rT`` is) and ``rf``
    (T,) the risk-free rate (empty: none), ``layout`` the block's pairs, ``config`` the
    :class:`~backtest.eventstudy.config.StudyConfig`, ``windows`` (n, 2) test windows as
    column indices of the event window (the CAR windows first), ``part`` where to write the
    AR rows (None: returned), ``keep_ranked`` whether to return the residuals and their sort
    (:class:`Ranked`) for the second pass.
    """
    evt_off = config.event_offsets
    fit, n_excluded = _fit(rT, reg, market3, others, layout, config)
    kept = (fit.n >= config.min_estimation_obs) & np.isfinite(fit.sigma2)
    y, expected, ar, sar, car, var, missing = kernels.event_window(
        rT, reg, layout.pos, layout.cols, int(evt_off[0]), len(evt_off), fit.coef,
        fit.xtx_inv, fit.sigma2, windows[:, 0], windows[:, 1])
    bhar = _bhar(y, expected, missing, sT, rf, layout, config, windows)
    vol_params = np.zeros((len(layout.pos), 0))
    if models.get_model(config.model).conditional_variance:
        sar, var, vol_params = _conditional_variances(rT, reg, layout, config, fit, kept, ar,
                                                      sar, var, windows)
    if config.measure == "volatility":
        fit, ar, sar, car, var, missing = _as_volatility(fit, sar, windows)
    share, share_neg = _sign_shares(fit.resid)

    groups = np.where(kept[:, None], layout.groups, -1)
    clusters = np.where(kept[:, None], layout.clusters, -1)
    mult = layout.mult
    order = kernels.residual_order(fit.resid)
    rank_u, rank_u_n, rank_g, rank_g_n = kernels.rank_day_sums(fit.resid, ar, groups, mult,
                                                               layout.n_groups, order)
    est_sum, est_n = kernels.group_day_sums(fit.resid, groups, mult, layout.n_groups)
    S, Q, C, cum = kernels.cluster_day_sums(fit.resid, fit.sigma2, clusters, mult,
                                            layout.n_clusters)
    caar_n, _, caar_mean, caar_m2 = group_moments(np.cumsum(ar, axis=1), groups, mult,
                                                  layout.n_groups)
    aar_n, aar_sum, _, _ = group_moments(ar, groups, mult, layout.n_groups, second=False)
    with np.errstate(invalid="ignore", divide="ignore"):  # Var(AR_it) / s_i^2, where AR is
        inflation = np.where(np.isfinite(ar), (ar / sar) ** 2 / fit.sigma2[:, None], np.nan)
    infl_n, infl_sum, _, _ = group_moments(inflation, groups, np.ones_like(mult),
                                           layout.n_groups, second=False)
    rare = np.flatnonzero(kept & ~np.isfinite(car).all(axis=1))
    missing = np.ascontiguousarray(missing[:, :len(config.car_windows)])  # the CAR table's
    if part is not None:
        _write_part(part, kept, layout, evt_off, y, expected, ar, sar)
        y = expected = ar = sar = None
    return BlockResult(fit.coef, fit.sigma2, fit.n, fit.dof, n_excluded, kept,
                       y, expected, ar, sar, car, var, missing, bhar, share, share_neg,
                       vol_params, caar_n, caar_mean, caar_m2, aar_sum, aar_n, infl_sum,
                       infl_n, rank_u, rank_u_n, rank_g, rank_g_n,
                       est_sum, est_n, S, Q, C, cum, rare, fit.resid[rare],
                       Ranked(fit.resid, order) if keep_ranked else None)


def _sign_shares(resid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's shares of positive and of negative estimation ARs among its
    non-missing ones (the generalized sign test's estimation-window share, Cowan 1992),
    counted a chunk of rows at a time (no (pairs x days) temporaries)."""
    n_pos, n_neg, n_finite = (np.empty(len(resid), dtype=np.int64) for _ in range(3))
    for rows in kernels.row_chunks(len(resid)):
        part = resid[rows]
        n_pos[rows] = np.count_nonzero(part > 0, axis=1)
        n_neg[rows] = np.count_nonzero(part < 0, axis=1)
        n_finite[rows] = np.count_nonzero(np.isfinite(part), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return n_pos / n_finite, n_neg / n_finite


def group_moments(values: np.ndarray, groups: np.ndarray, mult: np.ndarray, n_groups: int,
                  second: bool = True) -> tuple[np.ndarray, ...]:
    """Per group and column, over the finite ``mult x value`` of the pairs in the group:
    the count, the sum, the mean and (``second``) the sum of squared deviations from the mean
    (two passes: no cancellation from subtracting large sums of squares). Blocks' moments
    are added with :func:`combine_moments`. ``groups``/``mult`` (P, m) as in
    :func:`backtest.eventstudy.kernels.group_day_sums`."""
    width = values.shape[1]
    n, total, m2 = (np.zeros(n_groups * width) for _ in range(3))
    cells = []
    for h in range(groups.shape[1]):
        rows = np.flatnonzero(groups[:, h] >= 0)
        x = mult[rows, h, None] * values[rows]
        idx = groups[rows, h, None] * width + np.arange(width)[None, :]
        ok = np.isfinite(x)
        cells.append((x[ok], idx[ok]))
        n += np.bincount(idx[ok], minlength=n_groups * width)
        total += np.bincount(idx[ok], weights=x[ok], minlength=n_groups * width)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, total / n, np.nan)
    if second:
        for x, idx in cells:
            m2 += np.bincount(idx, weights=(x - mean[idx]) ** 2, minlength=n_groups * width)
    shape = (n_groups, width)
    return n.reshape(shape), total.reshape(shape), mean.reshape(shape), m2.reshape(shape)


def combine_moments(n_a, mean_a, m2_a, n_b, mean_b, m2_b):
    """Count, mean and sum of squared deviations of two samples together, from each one's:
    ``n = n_a + n_b``, ``d = mean_b - mean_a``, ``mean = mean_a + d n_b / n``,
    ``M2 = M2_a + M2_b + d^2 n_a n_b / n`` (Chan, Golub and LeVeque 1983, "Algorithms for
    computing the sample variance: analysis and recommendations", The American
    Statistician 37(3), eq. 2.1). An empty side leaves the other as it is."""
    n = n_a + n_b
    with np.errstate(invalid="ignore", divide="ignore"):
        d = mean_b - mean_a
        mean = np.where(n_b == 0, mean_a, np.where(n_a == 0, mean_b, mean_a + d * n_b / n))
        m2 = np.where((n_a == 0) | (n_b == 0), m2_a + m2_b, m2_a + m2_b + d * d * n_a * n_b / n)
    return n, mean, m2


def _bhar(y, expected, missing, sT, rf, layout: PairLayout, config, windows):
    """Buy-and-hold abnormal return of each CAR window,
    ``BHAR = prod(1 + R_t) - prod(1 + E[R_t])`` over the window (Barber and Lyon 1997,
    "Detecting long-run abnormal stock returns", JFE 43(3)), from simple returns: the
    study's own, or ``sT`` and the normal return out of logs (``exp(x) - 1``) with the
    risk-free rate added back. NaN with a missing day in the window, and for volume and
    volatility (no buy-and-hold return of those)."""
    n_car = len(config.car_windows)
    if config.measure != "return":
        return np.full((len(layout.pos), n_car), np.nan)
    y_simple, exp_simple = y, expected
    if sT.size:
        n_sessions = sT.shape[1]
        rows = layout.pos[:, None] + config.event_offsets[None, :]
        clipped = np.clip(rows, 0, n_sessions - 1)
        y_simple = np.where((rows >= 0) & (rows < n_sessions),
                            sT[layout.cols[:, None], clipped], np.nan)
        exp_simple = np.expm1(expected) if config.returns == "log" else expected
        if rf.size:
            exp_simple = exp_simple + rf[clipped]
    out = np.empty((len(layout.pos), n_car))
    for j in range(n_car):
        lo, hi = windows[j]
        b = (np.prod(1.0 + y_simple[:, lo:hi + 1], axis=1)
             - np.prod(1.0 + exp_simple[:, lo:hi + 1], axis=1))
        out[:, j] = np.where(missing[:, j] == 0, b, np.nan)
    return out


def _write_part(part: ARPart, kept, layout: PairLayout, evt_off, y, expected, ar, sar) -> None:
    """The kept pairs' AR rows as ``part-{index:05d}.parquet`` of ``part.folder``."""
    from backtest.eventstudy.result import ar_frame  # pandas and pyarrow: only when writing
    from backtest.io import write_part

    rows = np.flatnonzero(kept)
    pos = layout.pos[rows]
    date_idx = pos[:, None] + evt_off[None, :]
    dates = np.where((date_idx >= 0) & (date_idx < len(part.sessions)), date_idx, -1)
    frame = ar_frame(part.text.iloc[rows].reset_index(drop=True), evt_off,
                     {"y": y[rows], "expected": expected[rows], "ar": ar[rows],
                      "sar": sar[rows]}, dates, part.sessions)
    write_part(frame, part.folder, part.index)


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


@_AS_COMPILED
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


@_AS_COMPILED
def grank_ranked(ranked: Ranked, sigma2: np.ndarray, layout: PairLayout,
                 gscar: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`grank_block` from the residuals the first pass kept (:class:`Ranked`) and
    the pairs' ``sigma2``: the same sums, without fitting or sorting again."""
    return kernels.grank_sums(ranked.resid, sigma2, gscar, layout.groups, layout.mult,
                              layout.n_groups, ranked.order)


def combine_sums(parts) -> tuple[np.ndarray, ...]:
    """Blocks' tuples of sums (an iterable, in block order) added one block after another."""
    total = None
    for p in parts:
        if total is None:
            total = [a.copy() for a in p]
        else:
            for acc, a in zip(total, p):
                acc += a
    return tuple(total)


def combine(parts, n_pairs: int | None = None, own: bool = False) -> BlockResult:
    """Blocks in order: per-pair arrays stacked, sums added one block after another, CAAR's
    moments combined (:func:`combine_moments`); the AR table's arrays (:data:`AR_ARRAYS`) as
    :class:`BlockRows`. ``parts``: a list (consumed: each entry is
    set to None once copied) or an iterable of blocks as they arrive, with ``n_pairs`` the
    pairs of all blocks together; either way each block is let go as soon as it is copied,
    so a study never holds its per-pair arrays twice (a block received from a cluster is one
    message whose arrays are views of it, freed only whole). ``own``: the blocks' arrays
    are their own memory (blocks run in this process), so their AR arrays are kept as they
    are; else they are copied, letting the message go."""
    if n_pairs is None:
        n_pairs = sum(len(p.kept) for p in parts)
    out, sums, moments, per_pair = {}, [], None, []
    rare, rare_resid, ranked, starts = [], [], [], []
    ar_parts = {name: [] for name in AR_ARRAYS}
    start = 0
    for k, p in enumerate(_each(parts)):
        size = len(p.kept)
        if k == 0:
            per_pair = [name for name in PER_PAIR if getattr(p, name) is not None]
            ar_held = [name for name in AR_ARRAYS if getattr(p, name) is not None]
            out = {name: None for name in AR_ARRAYS}
            out.update({name: np.empty((n_pairs, *getattr(p, name).shape[1:]),
                                       dtype=getattr(p, name).dtype) for name in per_pair})
            sums = [f.name for f in fields(BlockResult)
                    if f.name not in (*PER_PAIR, *AR_ARRAYS, *MOMENTS, "rare", "rare_resid",
                                      "ranked")]
            out.update({name: getattr(p, name).copy() for name in sums})
            moments = tuple(getattr(p, name) for name in MOMENTS)
        else:
            for name in sums:
                out[name] += getattr(p, name)
            moments = combine_moments(*moments, *(getattr(p, name) for name in MOMENTS))
        for name in per_pair:
            if getattr(p, name) is None:
                raise ValueError(f"block {k} has no {name}")
            out[name][start:start + size] = getattr(p, name)
        for name in AR_ARRAYS:
            a = getattr(p, name)
            if (a is None) != (name not in ar_held):
                raise ValueError(f"block {k} has {'no' if a is None else 'its'} {name} "
                                 f"(some blocks wrote their AR parts, others did not)")
            if a is not None:
                ar_parts[name].append(a if own else a.copy())
        starts.append(start)
        rare.append(p.rare + start)
        rare_resid.append(p.rare_resid)
        ranked.append(p.ranked)
        start += size
        del p
    if start != n_pairs:
        raise ValueError(f"the blocks hold {start} pairs, not {n_pairs}")
    out.update(zip(MOMENTS, moments))
    starts = np.array(starts, dtype=np.int64)
    out.update({name: BlockRows(tuple(ar_parts[name]), starts) for name in ar_held})
    out["rare"] = np.concatenate(rare)
    out["rare_resid"] = np.concatenate(rare_resid)
    if any(r is not None for r in ranked):
        if any(r is None for r in ranked):
            raise ValueError("some blocks kept their residuals for the second pass, "
                             "others did not")
        out["ranked"] = ranked
    return BlockResult(**out)


def _each(parts):
    """The blocks one at a time; a list's entries are let go as they are handed out."""
    if isinstance(parts, list):
        for k in range(len(parts)):
            p, parts[k] = parts[k], None
            yield p
    else:
        yield from parts
