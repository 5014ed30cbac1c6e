"""Compiled per-pair loops of the event study (numba).

Each kernel does, for one (event, ticker) pair at a time, what the array
formulas of :mod:`backtest.eventstudy.models` and :mod:`backtest.eventstudy.stats` do for all pairs at
once, without the (pairs x days x regressors) temporaries: a pair's rows are
read straight from the returns, transposed so that one ticker's history is
contiguous (``rT[ticker, session]``). Tests compare every kernel with those
numpy references (``tests/test_kernels.py``).

Conventions: ``pos`` is each pair's day-0 session position, ``cols`` its
ticker's row in ``rT``; a day outside the data or with a missing value is NaN.
Every loop runs serially and sums in pair order (GRANK's estimation-day sums in
two parts, see :func:`_grank_sums_sorted`; deterministic all the same). numba's
``parallel=True`` was measured: on two cores it saved 0.5 s of 4 s on 100k pairs but added 6 s to
the first-run compilation; parallelism comes from blocks of pairs on Dask
workers instead (:mod:`backtest.parallel`), and ``nogil`` lets threads overlap.
"""

from __future__ import annotations

import numba as nb
import numpy as np

# error_model="numpy": x / 0 is inf or NaN as in numpy, not a ZeroDivisionError.
# Work arrays are filled by plain loops, not slice assignments (a[:] = 0): a slice
# assignment compiles numba's shape-mismatch error path with its string formatting, which
# doubled the first-run compile time of the fits (19 s to 9.5 s for estimation_ols).
_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@nb.njit(**_JIT)
def estimation_returns(rT, pos, cols, est0, length, others, other_lo, other_hi, a, b):
    """Each pair's estimation-window returns, other events' windows left out.

    ``y[i, s] = rT[cols[i], pos[i] + est0 + s]`` for s < ``length``, NaN outside
    the data and on days inside ``[p + a, p + b]`` for any ``p`` in
    ``others[other_lo[i]:other_hi[i]]`` (the sorted day-0 positions of the
    ticker's events). Returns ``(y, n_excluded)``, the second counting the
    left-out days inside the data.
    """
    n_pairs = pos.shape[0]
    y = np.empty((n_pairs, length))
    n_excluded = np.zeros(n_pairs, np.int64)
    out = np.zeros(length, np.bool_)  # reused by every pair (no allocation per pair)
    for i in range(n_pairs):
        n_excluded[i] = _estimation_row(rT, cols[i], pos[i] + est0, others, other_lo[i],
                                        other_hi[i], a, b, y[i], out)
    return y, n_excluded


@nb.njit(**_JIT)
def _estimation_row(rT, col, start, others, lo, hi, a, b, y, out):
    """One pair's row of :func:`estimation_returns` into ``y`` (``out``: a work array of
    its length); returns the number of days left out."""
    n_sessions, length = rT.shape[1], y.shape[0]
    for s in range(length):
        t = start + s
        y[s] = rT[col, t] if 0 <= t < n_sessions else np.nan
    # Only events whose window can reach this estimation window matter.
    first = lo + np.searchsorted(others[lo:hi], start - b)
    last = lo + np.searchsorted(others[lo:hi], start + length - 1 - a, side="right")
    if first >= last:
        return 0
    for s in range(length):  # loops, not slice assignments: see _JIT
        out[s] = False
    for j in range(first, last):
        for s in range(max(others[j] + a - start, 0), min(others[j] + b - start, length - 1) + 1):
            out[s] = True
    n_excluded = 0
    for s in range(length):
        t = start + s
        if out[s] and 0 <= t < n_sessions:
            y[s] = np.nan
            n_excluded += 1
    return n_excluded


@nb.njit(**_JIT)
def _invert(m, a, out):
    """Gauss-Jordan inverse of a small matrix ``m`` with partial pivoting into ``out``
    (``a``: a work array of the same shape, so that no pair allocates); False when
    singular (|det| <= 1e-300, the threshold of :func:`models.fit_ols`).

    Not the 2 x 2 closed form ``[[d, -b], [-c, a]] / (ad - bc)``: with a regressor far
    from zero (log volume, about 18) X'X is ill-conditioned and the two differ by 1e-10."""
    k = m.shape[0]
    for r in range(k):
        for c in range(k):
            a[r, c] = m[r, c]
    for r in range(k):
        for c in range(k):
            out[r, c] = 1.0 if r == c else 0.0
    det = 1.0
    for c in range(k):
        p = c
        for r in range(c + 1, k):
            if abs(a[r, c]) > abs(a[p, c]):
                p = r
        if a[p, c] == 0.0:
            return False
        if p != c:
            det = -det
            for j in range(k):
                a[c, j], a[p, j] = a[p, j], a[c, j]
                out[c, j], out[p, j] = out[p, j], out[c, j]
        piv = a[c, c]
        det *= piv
        for j in range(k):
            a[c, j] /= piv
            out[c, j] /= piv
        for r in range(k):
            if r != c and a[r, c] != 0.0:
                f = a[r, c]
                for j in range(k):
                    a[r, j] -= f * a[c, j]
                    out[r, j] -= f * out[c, j]
    return abs(det) > 1e-300


@nb.njit(**_JIT)
def ols(y, reg, pos, est0):
    """OLS of each pair's estimation returns on the shared regressors, by the normal
    equations ``b = (X'X)^-1 X'y`` over the days where y and every regressor exist;
    ``s^2 = e'e / (n - K)`` (MacKinlay 1997, Sec. 4; :func:`backtest.models.fit_ols`).

    ``y`` (P, L) from :func:`estimation_returns`; ``reg`` (T, K) regressors on the
    session timeline, row ``pos[i] + est0 + s`` for day s. Returns
    ``(coef, xtx_inv, sigma2, n, resid)``; a singular ``X'X`` gives NaN.
    """
    n_pairs, length = y.shape
    k = reg.shape[1]
    coef, xtx_inv, sigma2, n, resid = _fit_outputs(n_pairs, k, length)
    reg_ok = _regressors_exist(reg)
    work = np.empty((4, k, k))  # reused by every pair (no allocation per pair)
    for i in range(n_pairs):
        n[i], sigma2[i] = _ols_row(y[i], reg, reg_ok, pos[i] + est0, work, coef[i],
                                   xtx_inv[i], resid[i])
    return coef, xtx_inv, sigma2, n, resid


@nb.njit(**_JIT)
def estimation_ols(rT, reg, pos, cols, est0, length, others, other_lo, other_hi, a, b):
    """:func:`estimation_returns` then :func:`ols` in one pass, each pair's returns
    gathered into a row that is reused, not into a (P, L) array. Returns
    ``(coef, xtx_inv, sigma2, n, resid, n_excluded)``."""
    n_pairs = pos.shape[0]
    k = reg.shape[1]
    coef, xtx_inv, sigma2, n, resid = _fit_outputs(n_pairs, k, length)
    n_excluded = np.zeros(n_pairs, np.int64)
    reg_ok = _regressors_exist(reg)
    work = np.empty((4, k, k))
    y = np.empty(length)
    out = np.zeros(length, np.bool_)
    for i in range(n_pairs):
        n_excluded[i] = _estimation_row(rT, cols[i], pos[i] + est0, others, other_lo[i],
                                        other_hi[i], a, b, y, out)
        n[i], sigma2[i] = _ols_row(y, reg, reg_ok, pos[i] + est0, work, coef[i],
                                   xtx_inv[i], resid[i])
    return coef, xtx_inv, sigma2, n, resid, n_excluded


@nb.njit(**_JIT)
def _fit_outputs(n_pairs, k, length):
    """What the fits fill in, pair by pair: coef (P, K), xtx_inv (P, K, K), sigma2 (P,)
    and resid (P, L) NaN (a pair left singular stays NaN), n (P,) zero."""
    return (np.full((n_pairs, k), np.nan), np.full((n_pairs, k, k), np.nan),
            np.full(n_pairs, np.nan), np.zeros(n_pairs, np.int64),
            np.full((n_pairs, length), np.nan))


@nb.njit(**_JIT)
def _regressors_exist(reg):
    """Sessions on which every regressor exists (a day is used only there)."""
    ok = np.empty(reg.shape[0], np.bool_)
    for t in range(reg.shape[0]):
        ok[t] = True
        for c in range(reg.shape[1]):
            if not np.isfinite(reg[t, c]):
                ok[t] = False
    return ok


@nb.njit(**_JIT)
def _ols_row(y, reg, reg_ok, first, work, coef, xtx_inv, resid):
    """One pair's fit of :func:`ols`: day s of ``y`` is session ``first + s``. Writes
    ``coef``, ``xtx_inv`` and ``resid`` (left NaN when singular); returns ``(n, s^2)``.
    ``work`` (4, K, K): X'X, X'y (first row), a copy for the inverse, and b (first row)."""
    length, k = y.shape[0], reg.shape[1]
    xtx, xty, a, b = work[0], work[1, 0], work[2], work[3, 0]
    for r in range(k):
        xty[r] = 0.0
        for c in range(k):
            xtx[r, c] = 0.0
    m = 0
    if k == 2:  # the market model: the same sums in scalars, which numba keeps in registers
        a00, a01, a11, c0, c1 = 0.0, 0.0, 0.0, 0.0, 0.0
        for s in range(length):
            v = y[s]
            if not (np.isfinite(v) and reg_ok[first + s]):
                continue
            x0, x1 = reg[first + s, 0], reg[first + s, 1]
            m += 1
            c0 += x0 * v
            c1 += x1 * v
            a00 += x0 * x0
            a01 += x0 * x1
            a11 += x1 * x1
        xtx[0, 0], xtx[0, 1], xtx[1, 0], xtx[1, 1] = a00, a01, a01, a11
        xty[0], xty[1] = c0, c1
    else:
        for s in range(length):
            v = y[s]
            if not (np.isfinite(v) and reg_ok[first + s]):
                continue
            t = first + s
            m += 1
            for r in range(k):
                xty[r] += reg[t, r] * v
                for c in range(k):
                    xtx[r, c] += reg[t, r] * reg[t, c]
    if m < k or not _invert(xtx, a, xtx_inv):
        for r in range(k):
            for c in range(k):
                xtx_inv[r, c] = np.nan
        return m, np.nan
    # np.dot (BLAS) as before, into b: its summation order, not a loop's, because with
    # an ill-conditioned X'X (log volume) the two differ by 1e-10 in the coefficients.
    np.dot(xtx_inv, xty, b)
    ssr = 0.0
    for s in range(length):
        v = y[s]
        if np.isfinite(v) and reg_ok[first + s]:
            t = first + s
            e = v
            for c in range(k):
                e -= reg[t, c] * b[c]
            resid[s] = e
            ssr += e * e
    for c in range(k):
        coef[c] = b[c]
    return m, (ssr / (m - k) if m > k else np.nan)


@nb.njit(**_JIT)
def event_window(rT, reg, pos, cols, evt0, width, coef, xtx_inv, sigma2, win_lo, win_hi):
    """Event-window returns, normal returns, ARs, standardized ARs and window CARs.

    Day w of the window is session ``pos[i] + evt0 + w``. ``expected = x' b``;
    ``AR = R - x' b``; ``SAR = AR / sqrt(s^2 (1 + x' (X'X)^-1 x))``
    (:func:`backtest.eventstudy.models.prediction_variance`). For each window j (days
    ``win_lo[j]..win_hi[j]``): ``CAR`` (NaN if any AR is missing), its variance
    ``s^2 (K_j + g' (X'X)^-1 g)`` with ``g = sum_t x_t``
    (:func:`backtest.eventstudy.models.window_variance`) and the count of missing ARs.
    """
    n_pairs, n_sessions = pos.shape[0], rT.shape[1]
    k = reg.shape[1]
    n_win = win_lo.shape[0]
    y = np.full((n_pairs, width), np.nan)
    expected = np.full((n_pairs, width), np.nan)
    ar = np.full((n_pairs, width), np.nan)
    sar = np.full((n_pairs, width), np.nan)
    car = np.full((n_pairs, n_win), np.nan)
    var = np.full((n_pairs, n_win), np.nan)
    missing = np.zeros((n_pairs, n_win), np.int64)
    x = np.empty((width, k))  # work arrays reused by every pair (no allocation per pair)
    g = np.empty(k)
    for i in range(n_pairs):
        for w in range(width):
            for c in range(k):
                x[w, c] = np.nan
        for w in range(width):
            t = pos[i] + evt0 + w
            if not 0 <= t < n_sessions:
                continue
            y[i, w] = rT[cols[i], t]
            e = 0.0
            for c in range(k):
                x[w, c] = reg[t, c]
                e += reg[t, c] * coef[i, c]
            q = 0.0
            for r in range(k):
                for c in range(k):
                    q += x[w, r] * xtx_inv[i, r, c] * x[w, c]
            expected[i, w] = e
            ar[i, w] = y[i, w] - e
            sar[i, w] = ar[i, w] / np.sqrt(sigma2[i] * (1.0 + q))
        for j in range(n_win):
            total, miss = 0.0, 0
            for c in range(k):
                g[c] = 0.0
            for w in range(win_lo[j], win_hi[j] + 1):
                if np.isfinite(ar[i, w]):
                    total += ar[i, w]
                else:
                    miss += 1
                for c in range(k):
                    g[c] += x[w, c]
            q = 0.0
            for r in range(k):
                for c in range(k):
                    q += g[r] * xtx_inv[i, r, c] * g[c]
            missing[i, j] = miss
            if miss == 0:
                car[i, j] = total
            var[i, j] = sigma2[i] * (win_hi[j] - win_lo[j] + 1 + q)
    return y, expected, ar, sar, car, var, missing


# Rows a whole-block numpy pass over (pairs x estimation days) takes at a time: its
# temporaries (a copy, numpy's int64 sort) then stay a few MB that every chunk reuses,
# instead of block-sized arrays of memory never touched before (measured at 100k pairs:
# the block-wide residual_order took 0.58-0.63 s serially, chunked 0.19-0.33 s, the same
# orders; fresh pages cost the most on a VM that hands freed memory back to its host).
CHUNK_ROWS = 2048


def row_chunks(n_rows: int):
    """``slice``s of at most :data:`CHUNK_ROWS` rows covering ``0..n_rows`` in order."""
    rows = CHUNK_ROWS  # read at each call (the tests cut small chunks)
    for start in range(0, n_rows, rows):
        yield slice(start, min(start + rows, n_rows))


def residual_order(resid: np.ndarray) -> np.ndarray:
    """Each pair's estimation days in ascending order of its residual, missing days last
    (numpy's sort, a chunk of rows at a time: vectorized, several times faster than a
    compiled sort per row). Shared by :func:`rank_day_sums` and :func:`grank_sums`: dividing a row
    by its ``s_i > 0`` keeps the order (correctly rounded division is monotone), so the
    standardized residuals need no sort of their own. Kept as int16 when the rows are
    short enough, a quarter of numpy's int64 (a study may hold it between its passes)."""
    n_rows, length = resid.shape
    order = np.empty(resid.shape, dtype=np.int16 if length <= np.iinfo(np.int16).max
                     else np.intp)
    work = np.empty((min(CHUNK_ROWS, n_rows), length))
    for rows in row_chunks(n_rows):
        values = work[:rows.stop - rows.start]
        np.copyto(values, resid[rows])
        # Missing as +inf: they still sort last, and numpy keeps its SIMD sort (NaNs send
        # it down a path about five times slower).
        values[~np.isfinite(values)] = np.inf
        order[rows] = np.argsort(values, axis=1)  # a row's sort does not depend on others
    return order


def rank_day_sums(resid: np.ndarray, ar: np.ndarray, groups: np.ndarray, mult: np.ndarray,
                  n_groups: int, order: np.ndarray | None = None):
    """Corrado-Zivney (1992) standardized ranks and signs of each pair's ARs, summed per
    group and day as :func:`group_day_sums` sums values.

    Over a pair's estimation and event days (``resid`` then ``ar``), with T_i non-missing:
    ``U_it = rank_t / (1 + T_i)`` (ties share their average rank) and
    ``G_it = sign(U_it - median_t U_it)`` (readable form:
    :class:`backtest.eventstudy.stats.DailyRanks` from ``stats._standardized_ranks``).
    Returns ``(sum of mult (U - 1/2), count, sum of mult G, count)``, each (groups, days).
    Each pair's ranks go straight into its groups' sums, so no (pairs x days) array of
    ranks is made. ``order``: :func:`residual_order` of ``resid`` (None: sorted here); the
    few event days are sorted on their own and merged into it.
    """
    if order is None:
        order = residual_order(resid)
    event = ar.copy()
    event[~np.isfinite(event)] = np.inf
    return _rank_day_sums_merged(resid, order, event, np.argsort(event, axis=1), groups,
                                 mult, n_groups)


@nb.njit(**_JIT)
def _rank_day_sums_merged(resid, r_order, ar, a_order, groups, mult, n_groups):
    """:func:`rank_day_sums` from each pair's estimation and event days, each in ascending
    order (missing last): one merge per pair gives its days in the order of the values."""
    n_pairs, length = resid.shape
    total = length + ar.shape[1]
    u_sum = np.zeros((n_groups, total))
    u_n = np.zeros((n_groups, total))
    g_sum = np.zeros((n_groups, total))
    g_n = np.zeros((n_groups, total))
    srt = np.empty(total)  # the row's finite values in sorted order
    day = np.empty(total, dtype=np.int64)  # their days (estimation days, then event days)
    ranks = np.empty(total)  # in sorted order
    day_rank = np.empty(total)  # in day order
    finite = np.empty(total, dtype=np.bool_)
    for i in range(n_pairs):
        m_r = 0
        while m_r < length and np.isfinite(resid[i, r_order[i, m_r]]):
            m_r += 1
        m_a = 0
        while m_a < ar.shape[1] and np.isfinite(ar[i, a_order[i, m_a]]):
            m_a += 1
        m = m_r + m_a
        if m == 0:
            continue
        p = 0
        q = 0
        for k in range(m):
            if q >= m_a or (p < m_r and resid[i, r_order[i, p]] <= ar[i, a_order[i, q]]):
                day[k] = r_order[i, p]
                srt[k] = resid[i, day[k]]
                p += 1
            else:
                day[k] = length + a_order[i, q]
                srt[k] = ar[i, a_order[i, q]]
                q += 1
        j = 0
        while j < m:
            e = j
            while e + 1 < m and srt[e + 1] == srt[j]:
                e += 1
            for k in range(j, e + 1):
                ranks[k] = (0.5 * (j + e) + 1.0) / (1.0 + m)  # average of ranks j+1..e+1
            j = e + 1
        median = 0.5 * (ranks[(m - 1) // 2] + ranks[m // 2])
        for t in range(total):
            finite[t] = False
        for k in range(m):
            day_rank[day[k]] = ranks[k]
            finite[day[k]] = True
        for h in range(groups.shape[1]):
            gr = groups[i, h]
            if gr < 0:
                continue
            w = mult[i, h]
            for t in range(total):  # in day order, pairs in order: deterministic sums
                if finite[t]:
                    u_sum[gr, t] += w * (day_rank[t] - 0.5)
                    u_n[gr, t] += 1.0
                    g_sum[gr, t] += w * np.sign(day_rank[t] - median)
                    g_n[gr, t] += 1.0
    return u_sum, u_n, g_sum, g_n


@nb.njit(**_JIT)
def group_day_sums(values, groups, mult, n_groups):
    """Per group and column: the sum of ``mult x value`` and the count of the finite
    values, pairs in order.

    ``groups`` (P, m): the groups each pair belongs to (-1: none); ``mult`` (P, m) the
    pair's sign in each (its expected direction in a group that pools both, else 1).
    """
    n_pairs, width = values.shape
    sums = np.zeros((n_groups, width))
    counts = np.zeros((n_groups, width))
    for i in range(n_pairs):
        for h in range(groups.shape[1]):
            gr = groups[i, h]
            if gr < 0:
                continue
            m = mult[i, h]
            for t in range(width):
                v = values[i, t]
                if np.isfinite(v):
                    sums[gr, t] += m * v
                    counts[gr, t] += 1.0
    return sums, counts


@nb.njit(**_JIT)
def cluster_day_sums(resid, sigma2, clusters, mult, n_clusters):
    """Per day-0 cluster and estimation day: sums of ``u = m e / s``, ``u^2`` and the count
    (:class:`backtest.eventstudy.stats.ClusterSums`), plus the sum of the pairs' running sums
    ``[0, m e_1, m (e_1 + e_2), ...]`` with a missing e as 0
    (:func:`stats.estimation_cumsum`); ``m = mult[i, h]``, the pair's sign in the group."""
    n_pairs, length = resid.shape
    S = np.zeros((n_clusters, length))
    Q = np.zeros((n_clusters, length))
    C = np.zeros((n_clusters, length))
    cum = np.zeros((n_clusters, length + 1))
    for i in range(n_pairs):
        s = np.sqrt(sigma2[i])
        for h in range(clusters.shape[1]):
            c = clusters[i, h]
            if c < 0:
                continue
            m = mult[i, h]
            running = 0.0
            for t in range(length):
                e = m * resid[i, t]
                if np.isfinite(e):
                    u = e / s
                    if np.isfinite(u):
                        S[c, t] += u
                        Q[c, t] += u * u
                        C[c, t] += 1.0
                    running += e
                cum[c, t + 1] += running
    return S, Q, C, cum


def grank_sums(resid, sigma2, gscar, groups, mult, n_groups, order=None):
    """Sums over pairs of ``U - 1/2`` for the generalized rank test (Kolari and Pynnonen
    2011; readable form :func:`backtest.eventstudy.stats.generalized_rank_t`).

    ``gscar`` (P, m, W): each pair's re-standardized CAR ``SCAR / S_SCAR`` of each window
    in each of its groups, signed by ``mult`` (NaN: not in that window). A pair's
    generalized SARs are its L_i standardized estimation residuals ``e_it / s_i`` plus
    that value. Returns ``event_sum``/``event_n`` (groups, W) and ``est_sum``/``est_n``
    (groups, W, L).

    ``order``: :func:`residual_order` of ``resid`` (None: sorted here), which is also the
    order of the SARs.
    """
    if order is None:
        order = residual_order(resid)
    # The SARs are formed pair by pair in the kernel (the same correctly rounded sqrt and
    # division as numpy's), not as a (pairs x days) array.
    return _grank_sums_sorted(resid, np.sqrt(sigma2), order, gscar, groups, mult, n_groups)


@nb.njit(**_JIT)
def _grank_sums_sorted(resid, s, order, gscar, groups, mult, n_groups):
    """:func:`grank_sums` from the residuals, each pair's ``s_i`` and its days in ascending
    order of residual, which is the order of its SARs ``e_it / s_i`` (missing days last: a
    non-finite SAR is missing, so a pair without a positive, finite ``s_i`` has none).

    An estimation day's rank among the generalized SARs is its rank among the pair's own
    SARs (the same in every window) plus ``1{x < v_t} + 1/2 1{x == v_t}`` for the CAR x
    (v_t the signed SAR): the first part is summed once per pair, the second only over
    the days ranked above x, a run of the sorted days (or, when that run is the longer
    one, as 1 on every day less the days at or below x), so a window costs at most about
    L_i / 2 additions and nothing per window is sorted.
    """
    n_pairs, length = resid.shape
    n_win = gscar.shape[2]
    event_sum = np.zeros((n_groups, n_win))
    event_n = np.zeros((n_groups, n_win))
    est_sum = np.zeros((n_groups, n_win, length))
    est_n = np.zeros((n_groups, n_win, length))
    base_sum = np.zeros((n_groups, length))  # the window-independent part, per day
    base_n = np.zeros((n_groups, length))
    every_day = np.zeros((n_groups, n_win))  # "1 on every day" of the complement form
    srt = np.empty(length)  # the pair's finite SARs, ascending
    rank = np.empty(length)  # each day's average rank among them
    term = np.empty(length)
    for i in range(n_pairs):
        days = order[i]  # days[q]: the day of the q-th smallest SAR
        m_i = 0
        while m_i < length:
            v = resid[i, days[m_i]] / s[i]
            if not np.isfinite(v):
                break
            srt[m_i] = v
            m_i += 1
        if m_i == 0:
            continue
        n_miss = length - m_i  # days[m_i:]
        q = 0
        while q < m_i:  # ties share the average of their ranks q+1..e+1
            e = q
            while e + 1 < m_i and srt[e + 1] == srt[q]:
                e += 1
            for p in range(q, e + 1):
                rank[days[p]] = 0.5 * (q + 1 + e + 1)
            q = e + 1
        sorted_ = srt[:m_i]
        denom = m_i + 2.0  # T_i + 1 with T_i = L_i + 1 values
        step = 1.0 / denom
        for h in range(groups.shape[1]):
            gr = groups[i, h]
            if gr < 0:
                continue
            sign = mult[i, h]
            n_in = 0
            for j in range(n_win):
                if np.isfinite(gscar[i, h, j]):
                    n_in += 1
            if n_in == 0:
                continue
            for q in range(m_i):
                t = days[q]
                r = rank[t] if sign > 0 else m_i + 1.0 - rank[t]
                term[t] = r / denom - 0.5
            if n_in == n_win:  # in every window: add the common part once
                for q in range(m_i):
                    t = days[q]
                    base_sum[gr, t] += term[t]
                    base_n[gr, t] += 1.0
            for j in range(n_win):
                x = gscar[i, h, j]
                if not np.isfinite(x):
                    continue
                if n_in < n_win:
                    for q in range(m_i):
                        t = days[q]
                        est_sum[gr, j, t] += term[t]
                        est_n[gr, j, t] += 1.0
                # Sorted positions of the days above x ([a0, a1)), tied with it ([t0, t1))
                # and below it ([b0, b1)) among sign * SAR (sign -1 reverses the order).
                if sign > 0:
                    t0 = np.searchsorted(sorted_, x, side="left")
                    t1 = np.searchsorted(sorted_, x, side="right")
                    a0, a1, b0, b1 = t1, m_i, 0, t0
                else:
                    t0 = np.searchsorted(sorted_, -x, side="left")
                    t1 = np.searchsorted(sorted_, -x, side="right")
                    a0, a1, b0, b1 = 0, t0, t1, m_i
                below = b1 - b0
                event_sum[gr, j] += (below + 1.0 + 0.5 * (t1 - t0)) / denom - 0.5
                event_n[gr, j] += 1.0
                if a1 - a0 <= below + n_miss:
                    for p in range(a0, a1):
                        est_sum[gr, j, days[p]] += step
                    for p in range(t0, t1):
                        est_sum[gr, j, days[p]] += 0.5 * step
                else:  # 1 on every day, less the days below x, half the ties, the missing
                    every_day[gr, j] += step
                    for p in range(b0, b1):
                        est_sum[gr, j, days[p]] -= step
                    for p in range(t0, t1):
                        est_sum[gr, j, days[p]] -= 0.5 * step
                    for p in range(m_i, length):
                        est_sum[gr, j, days[p]] -= step
    for g in range(n_groups):
        for j in range(n_win):
            for t in range(length):
                est_n[g, j, t] += base_n[g, t]
                if est_n[g, j, t] > 0:
                    est_sum[g, j, t] += base_sum[g, t] + every_day[g, j]
                else:  # no pair on this day: only the complement's rounding is left
                    est_sum[g, j, t] = 0.0
    return event_sum, event_n, est_sum, est_n
