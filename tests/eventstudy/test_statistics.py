"""Tests of the event-study test statistics (backtest.eventstudy.stats) and of the engine's tests table.

Every statistic is checked against a slow, obvious implementation written here from
the paper's formula: Python loops over pairs and days, explicit sums, scipy only for
distribution functions and ``rankdata``. The inputs are random, with missing values
(NaN) and a different number of usable estimation days per pair. Where the result is
deterministic the agreement is to 1e-10 relative.

The engine check builds a small synthetic calendar and price panel on real NYSE
sessions, runs :func:`backtest.eventstudy.run_study`, and recomputes every deterministic
statistic of ``result.tests`` with the references below, from the engine's ARs/CARs
and hand-built (np.polyfit) estimation residuals.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from backtest.eventstudy import DEFAULT_CAR_WINDOWS, StudyConfig, run_study, stats
from events import parse_calendar
from tests._slow_reference import total_return_at
from tests.eventstudy.grank_reference import grank_reference, hand_example
from tests.panels import make_panel, sessions

REL = 1e-10


def _normal_p(z):
    """Two-sided standard-normal p-value, from the error function (no scipy)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def _t_p(t, df):
    return float(2.0 * sps.t.sf(abs(t), df))


def _finite(x):
    return x is not None and not math.isnan(x)


def _close(actual, expected, rel=REL, abs_=1e-12):
    """Both NaN, or equal within rel/abs tolerance."""
    if not _finite(expected):
        return not _finite(actual)
    return actual == pytest.approx(expected, rel=rel, abs=abs_)


# --------------------------------------------------------------------------------------
# slow references, one per statistic
# --------------------------------------------------------------------------------------


def ref_csect_t(car):
    """Cross-sectional t (Brown and Warner 1985; MacKinlay 1997, Sec. 5):
    t = mean / (sd / sqrt(N)), sd with N - 1 in the denominator, Student-t(N - 1)."""
    vals = [float(c) for c in car if _finite(c)]
    n = len(vals)
    if n < 2:
        return math.nan, math.nan
    mean = sum(vals) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    if sd == 0:
        return math.nan, math.nan
    t = mean / (sd / math.sqrt(n))
    return t, _t_p(t, n - 1)


def ref_bw1980_cda_t(car, est_ar, k):
    """Brown and Warner (1980), crude dependence adjustment: AAR_t = mean over pairs (with a
    finite CAR) of AR_it on each estimation day t; S = sd of the AAR_t series (ddof 1);
    t = CAAR / (sqrt(K) S), Student-t with (days with an AAR - 1) df."""
    rows = [i for i in range(len(car)) if _finite(car[i])]
    aar = []
    for t in range(est_ar.shape[1]):
        vals = [est_ar[i, t] for i in rows if _finite(est_ar[i, t])]
        if vals:
            aar.append(sum(vals) / len(vals))
    m = sum(aar) / len(aar)
    s = math.sqrt(sum((a - m) ** 2 for a in aar) / (len(aar) - 1))
    caar = sum(car[i] for i in rows) / len(rows)
    t = caar / (math.sqrt(k) * s)
    return t, _t_p(t, len(aar) - 1)


def ref_bw1985_t(car, car_var):
    """Brown and Warner (1985), portfolio test under independence:
    CAAR / sqrt(sum_i Var(CAR_i) / N^2), standard normal."""
    rows = [i for i in range(len(car)) if _finite(car[i]) and _finite(car_var[i])]
    n = len(rows)
    caar = sum(car[i] for i in rows) / n
    var_caar = sum(car_var[i] for i in rows) / n ** 2
    z = caar / math.sqrt(var_caar)
    return z, _normal_p(z)


def ref_patell_z(car, car_var, m_est, n_params=2):
    """Patell (1976): SCAR_i = CAR_i / sqrt(Var CAR_i) is Student-t with M_i - n_params df,
    whose variance is (M_i - 2)/(M_i - 4) for the market model (df/(df - 2) in general);
    Z = sum SCAR_i / sqrt(sum Var SCAR_i), standard normal. ``m_est``: estimation days."""
    num, den = 0.0, 0.0
    for c, v, m in zip(car, car_var, m_est):
        df = m - n_params
        if not (_finite(c) and _finite(v)) or df <= 2:
            continue
        num += c / math.sqrt(v)
        den += df / (df - 2.0)
    if den == 0:
        return math.nan, math.nan
    z = num / math.sqrt(den)
    return z, _normal_p(z)


def ref_scars(car, car_var):
    return [c / math.sqrt(v) for c, v in zip(car, car_var) if _finite(c) and _finite(v)]


def ref_bmp_t(car, car_var):
    """Boehmer, Musumeci and Poulsen (1991): t = mean(SCAR) / (sd(SCAR) / sqrt(N)),
    sd of the cross-section of SCARs (ddof 1), Student-t(N - 1)."""
    return ref_csect_t(ref_scars(car, car_var))


def ref_rbar(resid, sigma2, days, day0, k):
    """Overlap-weighted average cross-correlation of standardized estimation residuals
    (the definition documented by backtest.eventstudy.stats.mean_cross_correlation), as a slow
    double loop over pairs:

        r-bar = sum over ordered pairs i != j of w_ij * rho_{c(i) c(j)} / (N (N - 1)),
        w_ij = max(0, K - |day0_i - day0_j|) / K,

    where c(i) is pair i's day-0 cluster (pairs with the same day 0) and rho for two
    clusters (c, c') is the pooled mean of u_it u_jt, u_it = e_it / s_i, over every
    member pair (i in c, j in c', i != j) and every calendar day t both have: the sum of
    those cross-products divided by the number of (i, j, t) triples (0 if there is none).
    """
    n = resid.shape[0]
    series = []
    for i in range(n):
        s = math.sqrt(sigma2[i])
        series.append({int(days[i, t]): resid[i, t] / s
                       for t in range(resid.shape[1]) if _finite(resid[i, t])})
    d0 = [int(v) for v in day0]

    def rho(c1, c2):
        total, count = 0.0, 0
        for i in range(n):
            for j in range(n):
                if i == j or d0[i] != c1 or d0[j] != c2:
                    continue
                for day, ui in series[i].items():
                    if day in series[j]:
                        total += ui * series[j][day]
                        count += 1
        return total / count if count else 0.0

    cache = {}
    acc = 0.0
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            w = max(0, k - abs(d0[i] - d0[j])) / k
            if w == 0:
                continue
            key = (min(d0[i], d0[j]), max(d0[i], d0[j]))
            if key not in cache:
                cache[key] = rho(*key)
            acc += w * cache[key]
    return acc / (n * (n - 1)) if n > 1 else 0.0


def ref_kp_bmp_t(car, car_var, rbar):
    """Kolari and Pynnonen (2010), eq. for the adjusted BMP:
    t_BMP * sqrt((1 - r) / (1 + (N - 1) r)), Student-t(N - 1)."""
    t, _ = ref_bmp_t(car, car_var)
    n = len(ref_scars(car, car_var))
    t_adj = t * math.sqrt((1 - rbar) / (1 + (n - 1) * rbar))
    return t_adj, _t_p(t_adj, n - 1)


def ref_kp_patell_z(car, car_var, m_est, rbar):
    """Kolari and Pynnonen (2010), adjusted Patell: Z_Patell / sqrt(1 + (N - 1) r)."""
    z, _ = ref_patell_z(car, car_var, m_est)
    n = sum(1 for c, v, m in zip(car, car_var, m_est) if _finite(c) and _finite(v) and m - 2 > 2)
    z_adj = z / math.sqrt(1 + (n - 1) * rbar)
    return z_adj, _normal_p(z_adj)


def ref_standardized_ranks(all_ar):
    """Corrado and Zivney (1992): U_it = rank_i(AR_it) / (1 + T_i), ranks (ties averaged)
    over pair i's T_i non-missing days. Returns one {day: U} dict per pair."""
    out = []
    for i in range(all_ar.shape[0]):
        days = [t for t in range(all_ar.shape[1]) if _finite(all_ar[i, t])]
        ranks = sps.rankdata([all_ar[i, t] for t in days])
        out.append({t: r / (1.0 + len(days)) for t, r in zip(days, ranks)})
    return out


def ref_corrado_rank_z(all_ar, window):
    """Corrado (1989) rank test with the standardized ranks of Corrado and Zivney (1992):
    Ubar_t = mean over the N_t pairs present on day t of (U_it - 1/2); with N pairs in all,
    S_U^2 = mean over days of (N_t / N) Ubar_t^2 (a thin day weighs less: Kolari and
    Pynnonen 2011, eq. 9); multi-day z = sum_{t in window} Ubar_t / (S_U sqrt(sum_t N/N_t))
    (Cowan 1992; Campbell and Wasley 1993; each day's mean has variance S_U^2 N / N_t).
    Standard normal."""
    u = ref_standardized_ranks(all_ar)
    n = all_ar.shape[0]
    ubar, count = {}, {}
    for t in range(all_ar.shape[1]):
        vals = [ui[t] - 0.5 for ui in u if t in ui]
        if vals:
            ubar[t], count[t] = sum(vals) / len(vals), len(vals)
    s = math.sqrt(sum(count[t] / n * ubar[t] ** 2 for t in ubar) / len(ubar))
    z = sum(ubar[t] for t in window) / (s * math.sqrt(sum(n / count[t] for t in window)))
    return z, _normal_p(z)


def ref_wild_t(car, day0):
    """Wild cluster bootstrap, Rademacher weights, null imposed, every sign pattern: the
    CR1 t of the mean with news days as clusters, t = ybar / sqrt(G/(G-1) sum_g (sum_{i in
    g} (y_i - ybar))^2 / N^2), recomputed with each day's CARs times +-1; p = share of the
    2^G patterns with |t*| >= |t|."""
    pairs = [(c, d) for c, d in zip(car, day0) if _finite(c)]
    days = sorted({d for _, d in pairs})
    g, n = len(days), len(pairs)

    def t_of(signs):
        y = [c * signs[days.index(d)] for c, d in pairs]
        ybar = sum(y) / n
        total = 0.0
        for day in days:
            total += sum(v - ybar for v, (_, d) in zip(y, pairs) if d == day) ** 2
        return ybar / math.sqrt(g / (g - 1) * total / n ** 2)

    t = t_of([1] * g)
    hits = sum(abs(t_of(v)) >= abs(t) * (1 - 1e-12)
               for v in itertools.product([1, -1], repeat=g))
    return t, hits / 2 ** g


def ref_lamb_z(ar_days, inflation, est):
    """Lamb (1995), the estudy2 form: AAR_t over the pairs on each window day, S = sd
    (ddof 1) of the estimation-window AAR series (mean over the pairs present each day),
    c_t = sqrt(mean of the day's prediction-variance factor over the pairs in AAR_t);
    z = sum_t AAR_t / (S c_t) / sqrt(K)."""
    aar_est = []
    for t in range(est.shape[1]):
        vals = [v for v in est[:, t] if _finite(v)]
        if vals:
            aar_est.append(sum(vals) / len(vals))
    mean = sum(aar_est) / len(aar_est)
    sd = math.sqrt(sum((v - mean) ** 2 for v in aar_est) / (len(aar_est) - 1))
    total = 0.0
    for k in range(ar_days.shape[1]):
        vals = [v for v in ar_days[:, k] if _finite(v)]
        fac = [f for v, f in zip(ar_days[:, k], inflation[:, k]) if _finite(v)]
        c = math.sqrt(sum(fac) / len(fac))
        total += sum(vals) / len(vals) / (sd * c)
    z = total / math.sqrt(ar_days.shape[1])
    return z, _normal_p(z)


def ref_cz_sign_z(all_ar, window):
    """Corrado and Zivney (1992) sign test: G_it = sign(U_it - median_t U_it);
    g_t = sum_i G_it / sqrt(N_t); S_G = sqrt(mean over days of g_t^2);
    z = sum_{t in window} g_t / (sqrt(K) S_G). Standard normal."""
    u = ref_standardized_ranks(all_ar)
    med = [float(np.median(list(ui.values()))) for ui in u]
    g = {}
    for t in range(all_ar.shape[1]):
        signs = [float(np.sign(ui[t] - m)) for ui, m in zip(u, med) if t in ui]
        if signs:
            g[t] = sum(signs) / math.sqrt(len(signs))
    s = math.sqrt(sum(v * v for v in g.values()) / len(g))
    z = sum(g[t] for t in window) / (math.sqrt(len(window)) * s)
    return z, _normal_p(z)


def ref_generalized_sign_z(car, est_ar):
    """Cowan (1992) generalized sign test: p_hat = (1/N) sum_i (1/m_i) sum_t 1[AR_it > 0]
    over each pair's m_i non-missing estimation ARs; w = #(CAR_i > 0);
    z = (w - N p_hat) / sqrt(N p_hat (1 - p_hat)). Standard normal."""
    rows = [i for i in range(len(car)) if _finite(car[i])]
    fracs = []
    for i in range(len(rows)):
        vals = [v for v in est_ar[rows[i]] if _finite(v)]
        fracs.append(sum(1 for v in vals if v > 0) / len(vals))
    n = len(rows)
    p = sum(fracs) / n
    w = sum(1 for i in rows if car[i] > 0)
    z = (w - n * p) / math.sqrt(n * p * (1 - p))
    return z, _normal_p(z)


def ref_wilcoxon(car):
    """Wilcoxon (1945) signed-rank test by exact enumeration of the 2^N sign patterns
    (no ties, no zeros): W+ = sum of ranks of |CAR| with CAR > 0, the statistic reported;
    p = min(1, 2 P(W+ <= min(W+, W-)))."""
    vals = [c for c in car if _finite(c)]
    n = len(vals)
    ranks = sps.rankdata([abs(v) for v in vals])
    w_plus = sum(r for r, v in zip(ranks, vals) if v > 0)
    w_minus = sum(ranks) - w_plus
    w = min(w_plus, w_minus)
    hits = sum(1 for signs in itertools.product((0, 1), repeat=n)
               if sum(r for r, s in zip(ranks, signs) if s) <= w)
    return w_plus, min(1.0, 2.0 * hits / 2 ** n)


def ref_skew_t(car):
    """Skewness-adjusted t of Lyon, Barber and Tsai (1999) by plain loops: S = mean / sd
    (ddof 1), g = sum (x - mean)^3 / (N sd^3), t = sqrt(N) (S + g S^2 / 3 + g / (6N))."""
    vals = [c for c in car if _finite(c)]
    n = len(vals)
    mean = sum(vals) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    s = mean / sd
    g = sum((v - mean) ** 3 for v in vals) / (n * sd ** 3)
    t = math.sqrt(n) * (s + g * s * s / 3 + g / (6 * n))
    return t, _normal_p(t)


def ref_sign_z(car):
    """Sign test: z from the count of positive CARs, p from the binomial sum
    P(|X - N/2| >= |N+ - N/2|) over X ~ Bin(N, 1/2), zeros dropped."""
    vals = [c for c in car if _finite(c) and c != 0]
    n, up = len(vals), sum(1 for v in vals if v > 0)
    z = (up - n / 2) / math.sqrt(n / 4)
    dev = abs(up - n / 2)
    p = sum(math.comb(n, x) for x in range(n + 1) if abs(x - n / 2) >= dev - 1e-12) / 2 ** n
    return z, min(1.0, p)


def ref_im_t(car, day0):
    """Ibragimov-Mueller: the mean CAR of each news day, then the one-sample t of those
    means with G - 1 df."""
    by_day = {}
    for c, d in zip(car, day0):
        if _finite(c):
            by_day.setdefault(d, []).append(c)
    means = [sum(v) / len(v) for v in by_day.values()]
    g = len(means)
    if g < 2:
        return None
    m = sum(means) / g
    sd = math.sqrt(sum((x - m) ** 2 for x in means) / (g - 1))
    t = math.sqrt(g) * m / sd
    return t, 2 * sps.t.sf(abs(t), g - 1)


def ref_pseudo_event(car, est_ar, cluster, k, draws, seed):
    """Loop version of the pseudo-event-date test for given draws: each draw picks a start
    s per cluster (uniform on 0..L-K), every pair of the cluster sums its estimation ARs
    over s..s+K-1 (a missing AR counts as 0), the mean over pairs is one null value;
    z = (obs - mean null) / sd(null), p = (1 + #{|null - m| >= |obs - m|}) / (draws + 1).
    The draws are taken as a (draws, clusters) matrix from default_rng(seed), clusters
    numbered in sorted order."""
    rows = [i for i in range(len(car)) if _finite(car[i])]
    labels = sorted({cluster[i] for i in rows})
    length = est_ar.shape[1]
    starts = np.random.default_rng(seed).integers(0, length - k + 1, size=(draws, len(labels)))
    null = []
    for d in range(draws):
        total = 0.0
        for i in rows:
            s = int(starts[d, labels.index(cluster[i])])
            total += sum(est_ar[i, t] if _finite(est_ar[i, t]) else 0.0
                         for t in range(s, s + k))
        null.append(total / len(rows))
    obs = sum(car[i] for i in rows) / len(rows)
    m = sum(null) / draws
    sd = math.sqrt(sum((v - m) ** 2 for v in null) / (draws - 1))
    p = (1 + sum(1 for v in null if abs(v - m) >= abs(obs - m))) / (draws + 1)
    return (obs - m) / sd, p


# --------------------------------------------------------------------------------------
# random inputs with missing values
# --------------------------------------------------------------------------------------

N_PAIRS, L_EST, W_EVT = 8, 150, 16


def _random_inputs(seed, n_pairs=N_PAIRS, common=0.0):
    """Estimation ARs (N, L) with pair i missing 6*i random days (so estimation lengths
    differ), event ARs (N, W) with one missing day for pair 1, a CAR over event days
    5..7 (NaN for the pair whose day 6 is missing), its model variance and dof."""
    rng = np.random.default_rng(seed)
    sd = rng.uniform(0.01, 0.04, n_pairs)
    f_est, f_evt = rng.normal(0, 1, L_EST), rng.normal(0, 1, W_EVT)
    est = sd[:, None] * (math.sqrt(common) * f_est + math.sqrt(1 - common)
                         * rng.normal(0, 1, (n_pairs, L_EST)))
    evt = sd[:, None] * (math.sqrt(common) * f_evt + math.sqrt(1 - common)
                         * rng.normal(0, 1, (n_pairs, W_EVT)))
    evt[:, 5:8] += rng.normal(0.01, 0.02, (n_pairs, 1))  # a modest event effect
    for i in range(n_pairs):
        est[i, rng.choice(L_EST, 6 * i, replace=False)] = np.nan
    evt[1, 6] = np.nan
    window = np.arange(5, 8)
    car = np.array([evt[i, window].sum() for i in range(n_pairs)])  # NaN for pair 1
    m_est = np.isfinite(est).sum(axis=1)
    s2 = np.array([np.nanvar(est[i], ddof=2) for i in range(n_pairs)])
    car_var = s2 * (len(window) + rng.uniform(0.001, 0.05, n_pairs))
    return dict(est=est, evt=evt, all=np.concatenate([est, evt], axis=1), car=car,
                car_var=car_var, m_est=m_est, dof=(m_est - 2).astype(float), s2=s2,
                window=window, k=len(window))


@pytest.fixture(params=[1, 2, 3])
def data(request):
    return _random_inputs(request.param)


def test_random_inputs_have_missing_values_and_unequal_lengths(data):
    """The fixture really exercises the NaN paths (guards the other tests' coverage)."""
    assert len(set(data["m_est"])) == N_PAIRS
    assert np.isnan(data["car"]).sum() == 1
    assert np.isnan(data["all"][:, L_EST:]).any()


# --------------------------------------------------------------------------------------
# one test per statistic
# --------------------------------------------------------------------------------------


def test_t_pvalue_against_table_values():
    """Two-sided Student-t p-values at textbook critical values: t_{0.975,10} = 2.228139,
    t_{0.995,5} = 4.032143, t_{0.975,1} = 12.706205; p(0) = 1."""
    assert float(stats.t_pvalue(2.228139, 10)) == pytest.approx(0.05, abs=1e-6)
    assert float(stats.t_pvalue(-4.032143, 5)) == pytest.approx(0.01, abs=1e-6)
    assert float(stats.t_pvalue(12.706205, 1)) == pytest.approx(0.05, abs=1e-6)
    assert float(stats.t_pvalue(0.0, 7)) == 1.0


def test_csect_t(data):
    """Cross-sectional t equals the loop formula and scipy.stats.ttest_1samp (NaN dropped)."""
    t, p = stats.csect_t(data["car"])
    rt, rp = ref_csect_t(data["car"])
    assert t == pytest.approx(rt, rel=REL) and p == pytest.approx(rp, rel=REL)
    sc = sps.ttest_1samp(data["car"], 0.0, nan_policy="omit")
    assert t == pytest.approx(sc.statistic, rel=REL) and p == pytest.approx(sc.pvalue, rel=REL)
    assert all(math.isnan(v) for v in stats.csect_t(np.array([0.01, np.nan])))


def test_cross_sectional_test_matches_scipy_along_axis(rng):
    """cross_sectional_test(values, axis=0): per column, scipy's one-sample t, p and 95%
    confidence interval of the finite values; n < 2 gives NaN t/p/interval."""
    values = rng.normal(0.002, 0.02, (9, 5))
    values[rng.random(values.shape) < 0.25] = np.nan
    values[:, 4] = np.nan
    values[0, 4] = 0.01
    cs = stats.cross_sectional_test(values, axis=0)
    for j in range(4):
        col = values[:, j][np.isfinite(values[:, j])]
        ref = sps.ttest_1samp(col, 0.0)
        lo, hi = ref.confidence_interval(0.95)
        assert cs.n[j] == col.size
        assert cs.mean[j] == pytest.approx(col.mean(), rel=REL)
        assert cs.sd[j] == pytest.approx(col.std(ddof=1), rel=REL)
        assert cs.t[j] == pytest.approx(ref.statistic, rel=REL)
        assert cs.p[j] == pytest.approx(ref.pvalue, rel=REL)
        assert cs.lo[j] == pytest.approx(lo, rel=REL) and cs.hi[j] == pytest.approx(hi, rel=REL)
    assert cs.n[4] == 1 and math.isnan(cs.t[4]) and math.isnan(cs.lo[4])


def test_bw1980_cda_t(data):
    """Brown-Warner (1980) crude dependence adjustment equals the loop formula (the pair
    with a missing CAR is left out of the AAR series too)."""
    got = stats.bw1980_cda_t(data["car"], data["est"], data["k"])
    ref = ref_bw1980_cda_t(data["car"], data["est"], data["k"])
    assert got == pytest.approx(ref, rel=REL)


def test_bw1985_t(data):
    """Brown-Warner (1985) independence test equals the loop formula."""
    got = stats.bw1985_t(data["car"], data["car_var"])
    assert got == pytest.approx(ref_bw1985_t(data["car"], data["car_var"]), rel=REL)


def test_patell_z(data):
    """Patell (1976) Z with SCAR_i = CAR_i / sqrt(Var CAR_i) and Var SCAR_i = (M_i-2)/(M_i-4)
    (M_i estimation days, market model: dof = M_i - 2); pairs with dof <= 2 are left out."""
    got = stats.patell_z(data["car"], data["car_var"], data["dof"])
    assert got == pytest.approx(ref_patell_z(data["car"], data["car_var"], data["m_est"]),
                                rel=REL)
    m = data["m_est"].copy()
    m[0] = 4  # dof 2: variance undefined, pair dropped
    dof = (m - 2).astype(float)
    got = stats.patell_z(data["car"], data["car_var"], dof)
    assert got == pytest.approx(ref_patell_z(data["car"], data["car_var"], m), rel=REL)
    # Sanity of the variance term: with dof = 10 for every pair, sum SCAR / sqrt(N * 10/8).
    scar = ref_scars(data["car"], data["car_var"])
    z, _ = stats.patell_z(data["car"], data["car_var"], np.full(N_PAIRS, 10.0))
    assert z == pytest.approx(sum(scar) / math.sqrt(len(scar) * 10 / 8), rel=REL)


def test_bmp_t(data):
    """Boehmer-Musumeci-Poulsen (1991) equals the loop formula."""
    got = stats.bmp_t(data["car"], data["car_var"])
    assert got == pytest.approx(ref_bmp_t(data["car"], data["car_var"]), rel=REL)


def _calendar_days(n_pairs, length, rng):
    """Each pair's estimation window starts on a different calendar day (0..40)."""
    starts = rng.integers(0, 40, n_pairs)
    return starts[:, None] + np.arange(length)[None, :]


# Day-0 positions of the 8 random pairs: clusters {0,1,2} at 300, {3,4} at 303 (3 apart),
# {5} at 310 (10 from the first cluster: partial overlap for K=16), {6,7} at 340 (far).
DAY0 = np.array([300, 300, 300, 303, 303, 310, 340, 340])


def _days_before(day0, length, gap=10):
    """Estimation days ``day0 - gap - length .. day0 - gap - 1`` per pair (the engine's layout)."""
    return day0[:, None] - gap - length + np.arange(length)[None, :]


@pytest.mark.parametrize("k", [1, 3, 9, 16, 50])
@pytest.mark.parametrize("layout", ["before_day0", "shifted"])
def test_mean_cross_correlation_matches_pair_loop(data, rng, k, layout):
    """mean_cross_correlation equals the slow double loop over ordered pairs i != j of
    w_ij rho_cc' / (N (N - 1)) (weights by day-0 distance, pooled rho per pair of day-0
    clusters over common calendar days), with NaNs, unequal lengths, several cluster
    sizes and several window lengths K."""
    days = (_days_before(DAY0, L_EST) if layout == "before_day0"
            else _calendar_days(N_PAIRS, L_EST, rng))
    got = stats.mean_cross_correlation(data["est"], data["s2"], days, int(days.max()) + 1,
                                       DAY0, k)
    ref = ref_rbar(data["est"], data["s2"], days, DAY0, k)
    assert got == pytest.approx(ref, rel=REL, abs=1e-14)
    if k > 1:
        assert ref != 0  # the weighted cross terms are exercised


def test_mean_cross_correlation_pair_order_does_not_matter(data):
    """Shuffling the pairs (with their days and day 0s) leaves r-bar unchanged."""
    days = _days_before(DAY0, L_EST)
    perm = np.array([5, 2, 7, 0, 3, 6, 1, 4])
    a = stats.mean_cross_correlation(data["est"], data["s2"], days, int(days.max()) + 1,
                                     DAY0, 16)
    b = stats.mean_cross_correlation(data["est"][perm], data["s2"][perm], days[perm],
                                     int(days.max()) + 1, DAY0[perm], 16)
    assert a == pytest.approx(b, rel=1e-12)


def test_mean_cross_correlation_identical_windows_is_average_pairwise_product(rng):
    """All pairs on one day 0 (weight 1), identical estimation windows, no gaps: r-bar is
    the plain average over the N(N-1)/2 pairs of (1/L) sum_t u_it u_jt, whatever K."""
    n, length = 6, 80
    e = rng.normal(0, 1, (n, length)) * rng.uniform(0.5, 2, (n, 1))
    s2 = e.var(axis=1, ddof=2)
    u = e / np.sqrt(s2)[:, None]
    means = [float(u[i] @ u[j]) / length for i, j in itertools.combinations(range(n), 2)]
    days = np.tile(np.arange(length), (n, 1))
    for k in (1, 16):
        got = stats.mean_cross_correlation(e, s2, days, length, np.full(n, 200), k)
        assert got == pytest.approx(sum(means) / len(means), rel=REL)


def test_mean_cross_correlation_disjoint_windows_is_zero(rng):
    """Pairs that share no calendar day contribute nothing: r-bar = 0 (same day 0)."""
    e = rng.normal(0, 1, (3, 20))
    days = np.arange(60).reshape(3, 20)
    assert stats.mean_cross_correlation(e, np.ones(3), days, 60, np.zeros(3, int), 16) == 0.0


def test_mean_cross_correlation_far_apart_clusters_have_zero_cross_weight():
    """Two clusters of 3 pairs, day 0s 20 sessions apart, K = 16 (weight 0 between them),
    every pair with the same +-1 residual series on overlapping calendar days and s = 1:
    every within-cluster rho is mean(u^2) = 1, the cross rho would be 1 too but has weight 0,
    so r-bar = (3*2 + 3*2) / (6*5) = 0.4 exactly. With K = 40 the cross weight is
    (40 - 20)/40 = 1/2: r-bar = (12 + 2*3*3*0.5) / 30 = 0.7; on one day 0 it is 1."""
    length = 250
    e = np.where(np.arange(length + 20) % 3 == 0, 1.0, -1.0)
    day0 = np.array([300, 300, 300, 320, 320, 320])
    days = _days_before(day0, length)
    resid = np.array([e[d - days.min()] for d in days])  # the same value on the same day
    s2 = np.ones(6)
    n_days = int(days.max()) + 1
    assert stats.mean_cross_correlation(resid, s2, days, n_days, day0, 16) == pytest.approx(
        0.4, rel=1e-12)
    assert stats.mean_cross_correlation(resid, s2, days, n_days, day0, 40) == pytest.approx(
        0.7, rel=1e-12)
    same = np.full(6, 300)
    days_same = _days_before(same, length)
    resid_same = np.array([e[:length]] * 6)
    assert stats.mean_cross_correlation(resid_same, s2, days_same, int(days_same.max()) + 1,
                                        same, 16) == pytest.approx(1.0, rel=1e-12)


def test_mean_cross_correlation_same_ticker_three_sessions_apart():
    """The same ticker in two events 3 sessions apart: its residuals on the common calendar
    days are the same numbers, so rho = mean(u^2) = 1 for +-1 residuals with s = 1, and
    with K = 16 the pair weight is (16 - 3)/16: r-bar = 2 * (13/16) * 1 / (2 * 1) = 13/16.
    With s = 1 and s = 2 the standardized product halves: 13/32."""
    length = 250
    e = np.where(np.arange(length + 3) % 2 == 0, 1.0, -1.0)
    day0 = np.array([300, 303])
    days = _days_before(day0, length)
    resid = np.array([e[days[0] - days.min()], e[days[1] - days.min()]])
    n_days = int(days.max()) + 1
    got = stats.mean_cross_correlation(resid, np.ones(2), days, n_days, day0, 16)
    assert got == pytest.approx(13 / 16, rel=1e-12)
    got = stats.mean_cross_correlation(resid * np.array([[1.0], [2.0]]), np.array([1.0, 4.0]),
                                       days, n_days, day0, 16)
    assert got == pytest.approx(13 / 16, rel=1e-12)  # standardization undoes the scale
    got = stats.mean_cross_correlation(resid, np.array([1.0, 4.0]), days, n_days, day0, 16)
    assert got == pytest.approx(13 / 32, rel=1e-12)
    # single-day windows (K = 1): the two windows do not overlap at all
    assert stats.mean_cross_correlation(resid, np.ones(2), days, n_days, day0, 1) == 0.0


def test_mean_cross_correlation_recovers_known_correlation():
    """Statistical check, all pairs on one day 0: independent residuals give r-bar ~ 0
    (sd about 1/sqrt(#pairs*L), ~0.005 here); residuals with a common factor of
    correlation rho = 0.3 give r-bar ~ 0.3."""
    rng = np.random.default_rng(11)
    n, length = 20, 500
    days = np.tile(np.arange(length), (n, 1))
    day0 = np.full(n, 600)
    scale = rng.uniform(0.01, 0.05, (n, 1))
    e = scale * rng.normal(0, 1, (n, length))
    r0 = stats.mean_cross_correlation(e, e.var(axis=1, ddof=2), days, length, day0, 16)
    assert abs(r0) < 0.025
    rho = 0.3
    f = rng.normal(0, 1, length)
    e = scale * (math.sqrt(rho) * f + math.sqrt(1 - rho) * rng.normal(0, 1, (n, length)))
    r1 = stats.mean_cross_correlation(e, e.var(axis=1, ddof=2), days, length, day0, 16)
    assert r1 == pytest.approx(rho, abs=0.05)


# --------------------------------------------------------------------------------------
# overlap components (clusters kept intact by the pseudo-event test)
# --------------------------------------------------------------------------------------


def ref_components(day0, k):
    """Union-find over pairs: i and j are joined when |day0_i - day0_j| < K (their K-day
    windows share a day); returns the partition as a set of frozensets of indices."""
    parent = list(range(len(day0)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(day0)):
        for j in range(len(day0)):
            if abs(int(day0[i]) - int(day0[j])) < k:
                parent[find(i)] = find(j)
    groups = {}
    for i in range(len(day0)):
        groups.setdefault(find(i), set()).add(i)
    return {frozenset(g) for g in groups.values()}


def _partition(labels):
    groups = {}
    for i, lab in enumerate(labels):
        groups.setdefault(int(lab), set()).add(i)
    return {frozenset(g) for g in groups.values()}


def test_overlapping_components_by_hand():
    """day 0s (unsorted) 0, 10, 30, 20, 45, 100, 10 with K = 16: gaps in sorted order
    10, 10, 10, 15, 55 -> {0, 10, 10, 20, 30, 45} chain together (0 and 45 only through
    others) and 100 stands alone. K = 15: the 30-45 gap breaks the chain. K = 1: only equal
    day 0s share a label."""
    day0 = np.array([0, 10, 30, 20, 45, 100, 10])
    assert _partition(stats.overlapping(day0, 16)) == {frozenset({0, 1, 2, 3, 4, 6}),
                                                       frozenset({5})}
    assert _partition(stats.overlapping(day0, 15)) == {frozenset({0, 1, 2, 3, 6}),
                                                       frozenset({4}), frozenset({5})}
    assert _partition(stats.overlapping(day0, 1)) == {frozenset({0}), frozenset({1, 6}),
                                                      frozenset({2}), frozenset({3}),
                                                      frozenset({4}), frozenset({5})}


@pytest.mark.parametrize("seed", range(5))
def test_overlapping_matches_union_find(seed):
    rng = np.random.default_rng(seed)
    day0 = rng.integers(0, 120, 15)
    for k in (1, 3, 6, 16):
        assert _partition(stats.overlapping(day0, k)) == ref_components(day0, k)


def test_pseudo_event_with_overlap_components(data):
    """pseudo_event_test fed the overlap components of DAY0 for K = 16 (two components:
    300..310 chained, 340) equals the loop reference with those hand labels."""
    labels = np.array([0, 0, 0, 0, 0, 0, 1, 1])  # by hand: 300, 303, 310 chain; 340 apart
    assert _partition(stats.overlapping(DAY0, 16)) == _partition(labels)
    args = (data["car"], data["est"], stats.overlapping(DAY0, 16), data["k"], 199)
    z, p = stats.pseudo_event_test(*args, np.random.default_rng(9))
    rz, rp = ref_pseudo_event(data["car"], data["est"], labels, data["k"], 199, seed=9)
    assert z == pytest.approx(rz, rel=REL) and p == pytest.approx(rp, rel=REL)


def test_kp_bmp_t_and_kp_patell_z(data, rng):
    """Kolari-Pynnonen (2010) adjusted BMP and Patell with r-bar from the pair loop; with
    r-bar = 0 they reduce to BMP and Patell."""
    days = _days_before(DAY0, L_EST)
    rbar = ref_rbar(data["est"], data["s2"], days, DAY0, 16)
    assert rbar != 0
    got = stats.kp_bmp_t(data["car"], data["car_var"], rbar)
    assert got == pytest.approx(ref_kp_bmp_t(data["car"], data["car_var"], rbar), rel=REL)
    got = stats.kp_patell_z(data["car"], data["car_var"], data["dof"], rbar)
    assert got == pytest.approx(ref_kp_patell_z(data["car"], data["car_var"], data["m_est"],
                                                rbar), rel=REL)
    for r in (0.05, 0.4, -0.05):
        assert stats.kp_bmp_t(data["car"], data["car_var"], r) == pytest.approx(
            ref_kp_bmp_t(data["car"], data["car_var"], r), rel=REL)
    assert stats.kp_bmp_t(data["car"], data["car_var"], 0.0) == pytest.approx(
        ref_bmp_t(data["car"], data["car_var"]), rel=REL)
    assert stats.kp_patell_z(data["car"], data["car_var"], data["dof"], 0.0) == pytest.approx(
        ref_patell_z(data["car"], data["car_var"], data["m_est"]), rel=REL)


def test_corrado_rank_z(data):
    """Corrado (1989) rank test with Corrado-Zivney standardized ranks, per-pair rankdata
    over each pair's own non-missing days, multi-day and single-day windows."""
    for window in (L_EST + data["window"], np.array([L_EST + 5]), L_EST + np.arange(W_EVT)):
        got = stats.corrado_rank_z(data["all"], window)
        assert got == pytest.approx(ref_corrado_rank_z(data["all"], window), rel=REL)


def test_corrado_weights_thin_days_by_their_pairs():
    """With pairs missing from some days, a day's mean rank counts with N_t / N in the
    scale and a window's variance adds N / N_t per day; a full panel is unchanged."""
    rng = np.random.default_rng(11)
    a = rng.normal(0, 0.01, (6, 80))
    window = np.array([76, 77, 78])
    full = stats.corrado_rank_z(a, window)
    ubar = (sps.rankdata(a, axis=1) / 81 - 0.5).mean(axis=0)  # no missing: N_t = N
    s = math.sqrt(np.mean(ubar ** 2))
    assert full.statistic == pytest.approx(ubar[window].sum() / (math.sqrt(3) * s), rel=REL)
    a[:3, 10:40] = np.nan  # half the pairs miss 30 estimation days
    a[0, 77] = np.nan  # and one pair an event day
    got = stats.corrado_rank_z(a, window)
    assert got == pytest.approx(ref_corrado_rank_z(a, window), rel=REL)
    assert got.statistic != pytest.approx(full.statistic, rel=1e-3)


def test_generalized_rank_t_hand_example():
    """Kolari and Pynnonen (2011) GRANK-T on the helper's 3 firms x 4 days, worked by hand
    as fractions (tests/eventstudy/grank_reference.py): t = 3 sqrt(3/7), 3 df."""
    inputs, hand_t = hand_example()
    est, sigma, car, var = inputs[:4]
    got = stats.generalized_rank_t(np.array(est, dtype=float), np.asarray(sigma, float),
                                   np.asarray(car, float), np.asarray(var, float))
    assert hand_t == pytest.approx(3 * math.sqrt(3 / 7), rel=1e-15)
    assert got.statistic == pytest.approx(hand_t, rel=1e-12)
    assert got.p_value == pytest.approx(2 * sps.t.sf(hand_t, 3), rel=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generalized_rank_t_matches_loop_reference(data, seed):
    """Missing estimation days, unequal lengths and ties: the array form equals the
    loop-based reference written separately from the paper."""
    rng = np.random.default_rng(seed)
    est = data["est"].copy()
    est[:, :10] = np.round(est[:, :10], 3)  # ties among the residuals
    sigma = np.sqrt(data["s2"])
    car, var = data["car"], data["car_var"]
    got = stats.generalized_rank_t(est, sigma, car, var)
    want = grank_reference(est, sigma, car, var)
    assert np.isfinite(got.statistic)
    assert got == pytest.approx(want, rel=1e-10)
    flipped = stats.generalized_rank_t(-est, sigma, -car, var)  # signs reversed
    assert flipped == pytest.approx(grank_reference(-est, sigma, -car, var), rel=1e-10)
    scale = rng.uniform(2, 5)  # event-induced volatility: every CAR scaled up
    assert stats.generalized_rank_t(est, sigma, car * scale, var).statistic == \
        pytest.approx(got.statistic, rel=1e-12)


@pytest.mark.parametrize("n_days", [2, 3, 6, 9])
def test_wild_cluster_t_enumerates_every_sign_pattern(n_days):
    """Up to 10 news days every one of the 2^G patterns counts: p equals the slow
    enumeration, and the t equals statsmodels' cluster-robust t of the mean."""
    import statsmodels.api as sm

    rng = np.random.default_rng(n_days)
    day0 = np.repeat(np.arange(n_days) * 7, rng.integers(1, 5, n_days))
    car = rng.normal(0.004, 0.02, day0.size) + rng.normal(0, 0.01, n_days)[
        np.searchsorted(np.unique(day0), day0)]
    car[0] = np.nan
    got = stats.wild_cluster_t(car, day0)
    assert got == pytest.approx(ref_wild_t(car, day0), rel=1e-12)
    ok = np.isfinite(car)
    fit = sm.OLS(car[ok], np.ones(ok.sum())).fit(cov_type="cluster",
                                                  cov_kwds={"groups": day0[ok]})
    assert got.statistic == pytest.approx(float(fit.tvalues[0]), rel=1e-10)
    assert got.p_value >= 2 / 2 ** n_days  # the smallest p that G days can give


def test_wild_cluster_t_samples_many_days_deterministically():
    """Past 10 news days it draws 1,999 patterns with a fixed seed: the same p every run,
    close to the enumeration-free truth for a null sample."""
    rng = np.random.default_rng(3)
    day0 = np.repeat(np.arange(30), 3)
    car = rng.normal(0, 0.02, day0.size)
    a, b = stats.wild_cluster_t(car, day0), stats.wild_cluster_t(car, day0)
    assert a == b
    assert 0.0 < a.p_value <= 1.0


def test_lamb_z_by_hand():
    """Two pairs, two window days, a 4-day estimation window: every number by hand."""
    est = np.array([[0.01, -0.01, 0.02, 0.0], [0.03, -0.01, 0.0, np.nan]])
    aar_est = np.array([0.02, -0.01, 0.01, 0.0])  # day means over the pairs present
    s = math.sqrt(((0.02 - 0.005) ** 2 + 0.015 ** 2 + 0.005 ** 2 + 0.005 ** 2) / 3)
    ar_days = np.array([[0.04, 0.01], [0.02, np.nan]])
    inflation = np.array([[1.1, 1.3], [1.2, 1.5]])
    # day 2: only the first pair's AR, so only its factor (1.3)
    z = (0.03 / (s * math.sqrt(1.15)) + 0.01 / (s * math.sqrt(1.3))) / math.sqrt(2)
    got = stats.lamb_z(ar_days, inflation, stats._nanmean(est, axis=0))
    assert np.allclose(stats._nanmean(est, axis=0), aar_est)
    assert got.statistic == pytest.approx(z, rel=1e-12)
    assert got.p_value == pytest.approx(2 * sps.norm.sf(z), rel=1e-12)


def test_robust_sample_winsorize_and_trim_by_hand():
    """Twenty CARs, 5% per tail: one cut at each end (floor(0.05 x 20) = 1); a NaN stays
    out of the count."""
    car = np.concatenate([np.arange(1.0, 19.0), [500.0, -400.0, np.nan]])
    w = stats.robust_sample(car, winsorize=0.05)
    assert w[18] == 18.0 and w[19] == 1.0 and np.isnan(w[20])
    np.testing.assert_array_equal(w[:18], car[:18])
    t = stats.robust_sample(car, trim=0.05)
    assert np.isnan(t[18]) and np.isnan(t[19]) and np.isnan(t[20])
    np.testing.assert_array_equal(np.sort(t[np.isfinite(t)]),
                                  np.sort(sps.trimboth(car[:20], 0.05)))
    np.testing.assert_array_equal(stats.robust_sample(car[:10], trim=0.05), car[:10])


@pytest.mark.parametrize("n", [1, 2, 3, 19, 20, 21, 40, 1001, 86_596])
def test_robust_means_equal_numpy_median_and_scipy_trim_mean(n):
    """The median and trimmed mean from one sort equal np.median (exactly) and scipy's
    trim_mean (to rounding: the same CARs summed in another order) at odd and even N, with
    ties, NaN and infinite CARs left out, at 0, 5, 25 and 49% per tail."""
    rng = np.random.default_rng(n)
    car = np.round(rng.standard_t(3, n) * 0.02, 4)  # fat tails, rounding: ties
    car = np.concatenate([car, [np.nan, np.inf, -np.inf][: n % 4]])
    finite = car[np.isfinite(car)]
    for trim in (0.0, 0.05, 0.25, 0.49):
        median, trimmed = stats.robust_means(car, trim)
        assert median == float(np.median(finite))
        assert trimmed == pytest.approx(float(sps.trim_mean(finite, trim)), rel=1e-13,
                                        abs=1e-17)
    # twenty values 1..20 by hand: one cut per tail at 5%, the median between 10 and 11
    assert stats.robust_means(np.arange(1.0, 21.0)) == (10.5, 10.5)
    assert stats.robust_means(np.r_[np.arange(1.0, 20.0), 1e6]) == (10.5, 10.5)
    assert np.isnan(stats.robust_means(np.array([np.nan]))).all()
    with pytest.raises(ValueError, match="trim"):
        stats.robust_means(car, 0.5)


def test_rank_and_sign_tests_with_ties():
    """Tied ARs get average ranks (zeros, e.g. from a stale price, tie often). With ties the
    median standardized rank of a pair is no longer exactly 1/2, which the sign test's
    G = sign(U - median) must respect."""
    rng = np.random.default_rng(5)
    a = np.round(rng.normal(0, 0.01, (5, 60)), 2)
    a[:, :20] = np.maximum(a[:, :20], 0.0)  # many exact zeros
    a[rng.random(a.shape) < 0.1] = np.nan
    window = np.array([55, 56])
    u = ref_standardized_ranks(a)
    assert any(abs(np.median(list(ui.values())) - 0.5) > 1e-3 for ui in u)
    assert stats.corrado_rank_z(a, window) == pytest.approx(ref_corrado_rank_z(a, window),
                                                            rel=REL)
    assert stats.cz_sign_z(a, window) == pytest.approx(ref_cz_sign_z(a, window), rel=REL)


def test_cz_sign_z(data):
    """Corrado-Zivney (1992) sign test equals the loop formula."""
    for window in (L_EST + data["window"], np.array([L_EST + 9])):
        got = stats.cz_sign_z(data["all"], window)
        assert got == pytest.approx(ref_cz_sign_z(data["all"], window), rel=REL)


def test_generalized_sign_z(data):
    """Cowan (1992) generalized sign test equals the loop formula (pairs' own estimation
    lengths in p_hat)."""
    got = stats.generalized_sign_z(data["car"], data["est"])
    assert got == pytest.approx(ref_generalized_sign_z(data["car"], data["est"]), rel=REL)


def test_wilcoxon_signed_rank(data):
    """Wilcoxon signed-rank: statistic W+ and exact p by enumerating all 2^7 sign
    patterns; the p equals scipy.stats.wilcoxon's on the finite CARs, whose statistic is
    min(W+, W-) = min(W+, N(N+1)/2 - W+)."""
    w, p = stats.wilcoxon_signed_rank(data["car"])
    rw, rp = ref_wilcoxon(data["car"])
    assert w == rw
    assert p == pytest.approx(rp, rel=REL)
    finite = data["car"][np.isfinite(data["car"])]
    sc = sps.wilcoxon(finite)
    n = finite.size
    assert (min(w, n * (n + 1) / 2 - w), p) == pytest.approx((sc.statistic, sc.pvalue), rel=REL)


def test_wilcoxon_reports_the_positive_ranks():
    """All CARs positive: W+ is N(N+1)/2 (every rank), not 0; all negative: 0."""
    up = np.array([0.01, 0.03, 0.02, 0.05, 0.04])
    assert stats.wilcoxon_signed_rank(up).statistic == 15.0
    assert stats.wilcoxon_signed_rank(-up).statistic == 0.0
    assert stats.wilcoxon_signed_rank(up).p_value == stats.wilcoxon_signed_rank(-up).p_value


def test_small_sample_statistics_by_hand():
    """Closed forms on a tiny sample worked out on paper."""
    car = np.array([0.03, 0.01, -0.01, 0.05])
    # sign: 3 of 4 positive: z = (3 - 2) / 1 = 1; P(|X - 2| >= 1) = 1 - P(X = 2) = 10/16
    assert tuple(stats.sign_test(car)) == pytest.approx((1.0, 10 / 16))
    # Ibragimov-Mueller: days {1: 0.03, 0.01}, {2: -0.01}, {3: 0.05} -> means 0.02, -0.01,
    # 0.05: mean 0.02, sd 0.03, t = sqrt(3) 0.02 / 0.03 with 2 df
    t, p = stats.ibragimov_mueller_t(car, np.array([1, 1, 2, 3]))
    assert t == pytest.approx(np.sqrt(3) * 2 / 3) and p == pytest.approx(
        2 * sps.t.sf(np.sqrt(3) * 2 / 3, 2))
    # one news day: no test
    assert np.isnan(stats.ibragimov_mueller_t(car, np.zeros(4)).statistic)
    # the same days as dates and as far-apart positions (both coded by np.unique), and as
    # small session positions (coded by counting)
    dates = np.array(["2025-01-02", "2025-01-02", "2025-01-03", "2025-01-06"],
                     dtype="datetime64[D]")
    for days in (dates, np.array([700, 700, 701, 704]), np.array([2, 2, 3, 5])):
        assert tuple(stats.ibragimov_mueller_t(car, days)) == pytest.approx((t, p), rel=1e-14)
    # a symmetric sample has g = 0: the skew-adjusted t is the plain t
    sym = np.array([-0.02, 0.0, 0.02, 0.04])
    plain = sym.mean() / sym.std(ddof=1) * 2
    assert stats.skewness_corrected_t(sym).statistic == pytest.approx(plain)


def test_news_day_codes_by_counting_equal_numpys_unique():
    """Session positions (the engine's day 0s) are coded by counting; the codes, and the
    news-day count, are those of np.unique on the finite CARs, NaN CARs left out."""
    rng = np.random.default_rng(11)
    for n, shift in ((2, 0), (30, 0), (5000, 0), (30, 10 ** 6)):  # shifted: np.unique's path
        day0 = rng.integers(0, 3 * n, n) + shift
        car = np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n))
        got = stats._news_days(car, day0)
        ok = np.isfinite(car)
        uniq, codes = np.unique(day0[ok], return_inverse=True)
        if uniq.size < 2:
            assert got is None
            continue
        np.testing.assert_array_equal(got[0], car[ok])
        np.testing.assert_array_equal(got[1], codes)
        assert got[2] == uniq.size


def _slow_holm(p):
    """Holm (1979) step-down by hand: sort, multiply the j-th smallest by (m - j + 1),
    carry the running maximum, cap at 1."""
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - j) * p[i]))
        out[i] = running
    return out


def _slow_bh(p):
    """Benjamini-Hochberg (1995) step-up by hand: q_(i) = min over j >= i of m p_(j) / j."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out, running = [0.0] * m, 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, m * p[i] / rank)
        out[i] = running
    return out


def test_adjusted_pvalues_against_hand_holm_and_bh():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.20, np.nan, 0.04])
    holm, bh = stats.adjusted_pvalues(p)
    finite = [v for v in p if np.isfinite(v)]
    np.testing.assert_allclose(holm[np.isfinite(p)], _slow_holm(finite), rtol=1e-12)
    np.testing.assert_allclose(bh[np.isfinite(p)], _slow_bh(finite), rtol=1e-12)
    assert np.isnan(holm[5]) and np.isnan(bh[5])
    # by hand for the smallest: Holm 6 x 0.005 = 0.03, BH 6 x 0.005 / 1 = 0.03
    assert holm[3] == pytest.approx(0.03) and bh[3] == pytest.approx(0.03)


def test_holm_is_statsmodels_holm_to_the_bit():
    """holm_pvalues replaces statsmodels' multipletests(method="holm") (which runs
    gc.collect() per call): the same floats, ties, ones and a single p-value included."""
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(7)
    cases = [rng.uniform(size=n) for n in (1, 2, 7, 30, 500)]
    cases += [rng.uniform(size=40) ** 6, np.array([0.04, 0.01, 0.04, 0.04, 0.9, 0.01]),
              np.array([1.0, 0.5, 1.0]), np.array([0.0, 0.0, 1e-300, 0.3])]
    for p in cases:
        np.testing.assert_array_equal(stats.holm_pvalues(p), multipletests(p, method="holm")[1])


# --------------------------------------------------------------------------------------
# pseudo-event-date test
# --------------------------------------------------------------------------------------


def test_pseudo_event_matches_loop_and_is_deterministic(data):
    """Given the seed, z and p equal the loop reference (clusters of pairs 0-2 and 3-7), the
    same seed gives the same answer, p lies in (0, 1], and another seed changes the null."""
    cluster = np.array([10, 10, 10, 20, 20, 20, 20, 20])
    args = (data["car"], data["est"], cluster, data["k"], 199)
    z, p = stats.pseudo_event_test(*args, np.random.default_rng(42))
    rz, rp = ref_pseudo_event(*args, seed=42)
    assert z == pytest.approx(rz, rel=REL) and p == pytest.approx(rp, rel=REL)
    assert (z, p) == stats.pseudo_event_test(*args, np.random.default_rng(42))
    assert 0 < p <= 1
    z2, _ = stats.pseudo_event_test(*args, np.random.default_rng(43))
    assert z2 != z


def test_pseudo_event_planted_effect_has_smallest_p(data):
    """A CAR far outside anything the estimation window can produce: no null draw is as
    extreme, so p = 1 / (draws + 1) exactly and z is large."""
    car = np.where(np.isfinite(data["car"]), 5.0, np.nan)
    for draws in (99, 499):
        z, p = stats.pseudo_event_test(car, data["est"], np.arange(N_PAIRS), data["k"], draws,
                                       np.random.default_rng(0))
        assert p == pytest.approx(1 / (draws + 1), rel=1e-15)
        assert z > 20


def test_pseudo_event_pairs_in_one_cluster_share_the_draw(data):
    """Two identical pairs in one cluster share every start, so their mean equals the single
    pair's: same z and p as that pair alone. In two clusters they draw independently, the
    null mean of two independent draws is less dispersed, and z changes."""
    one_car, one_est = data["car"][:1], data["est"][:1]
    two_car, two_est = np.repeat(one_car, 2), np.repeat(one_est, 2, axis=0)
    k, draws = data["k"], 299
    single = stats.pseudo_event_test(one_car, one_est, np.array([7]), k, draws,
                                     np.random.default_rng(3))
    shared = stats.pseudo_event_test(two_car, two_est, np.array([7, 7]), k, draws,
                                     np.random.default_rng(3))
    assert shared == pytest.approx(single, rel=1e-12)
    apart = stats.pseudo_event_test(two_car, two_est, np.array([7, 8]), k, draws,
                                    np.random.default_rng(3))
    assert abs(apart[0]) > abs(single[0])


def test_pseudo_event_null_is_calibrated():
    """Under the null (event-window ARs from the same distribution as the estimation ARs)
    the test rejects at 5% about 5% of the time: 300 replications, rejection rate within
    the binomial 99.9% band [0.01, 0.10]."""
    rng = np.random.default_rng(2024)
    rejections = 0
    for _ in range(300):
        est = rng.normal(0, 0.02, (6, 120))
        car = rng.normal(0, 0.02, (6, 3)).sum(axis=1)
        _, p = stats.pseudo_event_test(car, est, np.arange(6), 3, 199, rng)
        rejections += p <= 0.05
    assert 0.01 <= rejections / 300 <= 0.10


# --------------------------------------------------------------------------------------
# the engine's tests table on a synthetic study
# --------------------------------------------------------------------------------------

N_SESS = 420
SESS = sessions("2021-01-04", N_SESS)
TICKERS = ["A", "B", "C", "D", "E", "F"]
NAN_CLOSES = {"B": [60], "C": [70, 90, 110], "D": [50, 51, 52, 200], "F": [100, 150, 160]}


def _synthetic_panel(seed=17):
    """SPY and six stocks following market models with a common industry shock (so the
    residuals are cross-correlated), planted day-0 effects, and missing closes in some
    estimation windows (different estimation lengths)."""
    rng = np.random.default_rng(seed)
    rm = rng.normal(0.0004, 0.01, N_SESS)
    common = rng.normal(0, 0.006, N_SESS)
    closes = {"SPY": 100 * np.cumprod(1 + rm)}
    for j, t in enumerate(TICKERS):
        r = 0.0002 * j + (0.6 + 0.2 * j) * rm + common + rng.normal(0, 0.012, N_SESS)
        r[[300, 320, 340, 370]] += rng.normal(0.01, 0.02, 4)
        c = 50 * (j + 1) * np.cumprod(1 + r)
        c[NAN_CLOSES.get(t, [])] = np.nan
        closes[t] = list(c)
    closes["SPY"] = list(closes["SPY"])
    return make_panel(SESS, closes)


def _calendar(day0s, bearish_down: bool = False):
    """One before_open event per (position, label, tickers) entry; every link expected up,
    or with ``bearish_down`` the links of bearish events expected down."""
    return parse_calendar({"name": "syn", "events": [
        {"id": f"ev{p}", "date": str(SESS[p].date()), "session": "before_open",
         "headline": f"event at {p}", "source": "test",
         "sentiment": {"label": label, "score": 50},
         "tickers": [{"ticker": t, "role": "partner",
                      "direction": "down" if bearish_down and label == "bearish" else "up"}
                     for t in tickers]}
        for p, label, tickers in day0s]})


CLUSTERED = [(300, "bullish", ["A", "B"]), (320, "bearish", ["C"]),
             (340, "bullish", ["D", "E"]), (370, "bearish", ["F"])]
SEPARATE = [(300, "bullish", ["A"]), (305, "bullish", ["B"]), (320, "bearish", ["C"]),
            (340, "bullish", ["D"]), (345, "bullish", ["E"]), (370, "bearish", ["F"])]


@pytest.fixture(scope="module")
def syn_panel():
    return _synthetic_panel()


@pytest.fixture(scope="module")
def clustered(syn_panel):
    return run_study(_calendar(CLUSTERED), syn_panel, StudyConfig(pseudo_draws=199))


def _hand_pairs(panel, res, day0s):
    """Per pair: engine ARs/CARs and hand-built estimation residuals (np.polyfit on
    returns computed by total_return_at at positions pos0-260..pos0-11)."""
    c_m = panel.close["SPY"].to_numpy()
    zero = np.zeros(N_SESS)
    out = {}
    for p, label, tickers in day0s:
        for t in tickers:
            c = panel.close[t].to_numpy()
            est = {}
            for k in range(-260, -10):
                y, x = total_return_at(c, zero, p + k), total_return_at(c_m, zero, p + k)
                if not (math.isnan(y) or math.isnan(x)):
                    est[k] = (x, y)
            xs, ys = np.array([v[0] for v in est.values()]), np.array([v[1] for v in est.values()])
            b, a = np.polyfit(xs, ys, 1)
            resid = {k: y - (a + b * x) for k, (x, y) in est.items()}
            # prediction-variance factor of each event day: 1 + 1/m + (x - mean)^2 / Sxx
            xm, sxx = xs.mean(), float(((xs - xs.mean()) ** 2).sum())
            factor = {k: 1 + 1 / len(xs) + (total_return_at(c_m, zero, p + k) - xm) ** 2 / sxx
                      for k in range(-5, 11)}
            s2 = sum(v * v for v in resid.values()) / (len(resid) - 2)
            ar = res.ar[(res.ar.event_id == f"ev{p}") & (res.ar.ticker == t)]
            cars = res.car[(res.car.event_id == f"ev{p}") & (res.car.ticker == t)]
            out[(f"ev{p}", t)] = dict(pos0=p, label=label, a=a, b=b, resid=resid, s2=s2,
                                      factor=factor,
                                      m=len(resid), ar=dict(zip(ar.rel_day, ar.ar)),
                                      car={(r.window_start, r.window_end): (r.car, r.car_se)
                                           for r in cars.itertuples()})
    return out


def _reference_tests(pairs, groups):
    """Every deterministic statistic of each group and window, by the references above."""
    est_days, evt_days = list(range(-260, -10)), list(range(-5, 11))
    windows = list(DEFAULT_CAR_WINDOWS) + [(d, d) for d in evt_days
                                           if (d, d) not in DEFAULT_CAR_WINDOWS]
    out = {}
    for group, members in groups.items():
        ps = [pairs[m] for m in members]
        est = np.array([[q["resid"].get(k, np.nan) for k in est_days] for q in ps])
        all_ar = np.array([[q["resid"].get(k, np.nan) for k in est_days]
                           + [q["ar"][k] for k in evt_days] for q in ps])
        s2 = np.array([q["s2"] for q in ps])
        days = np.array([[q["pos0"] + k for k in est_days] for q in ps])
        day0 = np.array([q["pos0"] for q in ps])
        m_est = [q["m"] for q in ps]
        for s, e in windows:
            rbar = ref_rbar(est, s2, days, day0, e - s + 1)  # K = window length
            if (s, e) in ps[0]["car"]:
                car = np.array([q["car"][s, e][0] for q in ps])
                var = np.array([q["car"][s, e][1] ** 2 for q in ps])
            else:  # single event day: its CAR is the AR, its variance (CAR/car_t)^2 ...
                car = np.array([q["ar"][s] for q in ps])
                var = None
            cols = [len(est_days) + evt_days.index(d) for d in range(s, e + 1)]
            ref = {
                "csect_t": ref_csect_t(car),
                "bw1980_cda_t": ref_bw1980_cda_t(car, est, e - s + 1),
                "corrado_rank_z": ref_corrado_rank_z(all_ar, cols),
                "cz_sign_z": ref_cz_sign_z(all_ar, cols),
                "generalized_sign_z": ref_generalized_sign_z(car, est),
                "wilcoxon_w": ref_wilcoxon(car) if len(car) <= 12 else None,
                "skew_t": ref_skew_t(car) if len(car) >= 3 else None,
                "sign_z": ref_sign_z(car),
                "im_t": ref_im_t(car, day0),
                # the wild bootstrap runs on the CAR windows only (its cost)
                "wild_t": ref_wild_t(car, day0) if (s, e) in DEFAULT_CAR_WINDOWS
                else (np.nan, np.nan),
            }
            ar_days = np.array([[q["ar"][d] for d in range(s, e + 1)] for q in ps])
            inflation = np.array([[q["factor"][d] for d in range(s, e + 1)] for q in ps])
            ref["lamb_z"] = ref_lamb_z(ar_days, inflation, est)
            if var is not None:
                # T counts the days with a mean rank (as the Corrado scale does): days
                # on which no pair of the group has a residual leave the reference too.
                seen = np.isfinite(est).any(axis=0)
                ref["grank_t"] = grank_reference(est[:, seen], np.sqrt(s2), car, var)
                ref.update({
                    "bw1985_t": ref_bw1985_t(car, var),
                    "patell_z": ref_patell_z(car, var, m_est),
                    "kp_patell_z": ref_kp_patell_z(car, var, m_est, rbar),
                    "bmp_t": ref_bmp_t(car, var),
                    "kp_bmp_t": ref_kp_bmp_t(car, var, rbar),
                })
            out[group, s, e] = (rbar, float(np.mean(car)), ref)
    return out


def _groups(day0s):
    groups = {"all": [], "bullish partner": [], "bearish partner": []}
    for p, label, tickers in day0s:
        for t in tickers:
            groups["all"].append((f"ev{p}", t))
            groups[f"{label} partner"].append((f"ev{p}", t))
    return groups


@pytest.fixture(scope="module")
def separate(syn_panel):
    return run_study(_calendar(SEPARATE), syn_panel, StudyConfig(pseudo_draws=199))


@pytest.mark.parametrize("layout", ["clustered", "separate"])
def test_engine_tests_table_equals_references(syn_panel, request, layout):
    """result.tests (long format) equals the slow references applied to the engine's ARs,
    CARs and CAR standard errors, with estimation residuals and estimation lengths built by
    hand: every deterministic statistic, every group, every CAR window and event day; the
    rbar column equals the overlap-weighted pair-loop r-bar of the group for that window's
    K. 'clustered': several tickers on one day 0, clusters >= 20 sessions apart (only
    within-cluster terms); 'separate': one ticker per day 0, some 5 sessions apart (only
    cross terms, weights (K - 5)/K for K > 5)."""
    res = request.getfixturevalue(layout)
    day0s = CLUSTERED if layout == "clustered" else SEPARATE
    assert res.skipped.empty
    pairs = _hand_pairs(syn_panel, res, day0s)
    est = res.estimates.set_index(["event_id", "ticker"])
    for key, q in pairs.items():  # the hand fit is the engine's fit
        assert est.loc[key, "n_est"] == q["m"]
        assert est.loc[key, "coef_beta"] == pytest.approx(q["b"], rel=1e-9)
    assert len({q["m"] for q in pairs.values()}) >= 4  # unequal estimation lengths

    ref = _reference_tests(pairs, _groups(day0s))
    tests = res.tests.set_index(["group", "window_start", "window_end", "statistic"])
    assert tests.index.is_unique
    assert set(res.tests.statistic) == set(
        ["csect_t", "bw1980_cda_t", "bw1985_t", "patell_z", "kp_patell_z", "bmp_t", "kp_bmp_t",
         "corrado_rank_z", "cz_sign_z", "generalized_sign_z", "wilcoxon_w", "skew_t", "sign_z",
         "im_t", "wild_t", "grank_t", "lamb_z", "pseudo_event_z"])
    assert {(g, s, e) for g, s, e, _ in tests.index} == set(ref)
    checked = set()
    for (group, s, e), (rbar, mean, values) in ref.items():
        for name, rv in values.items():
            if rv is None:
                continue
            row = tests.loc[(group, s, e, name)]
            assert _close(row["value"], rv[0]), (group, s, e, name, row["value"], rv[0])
            assert _close(row["p_value"], rv[1]), (group, s, e, name, row["p_value"], rv[1])
            assert row["rbar"] == pytest.approx(rbar, rel=REL)
            assert row["mean"] == pytest.approx(mean, rel=REL)
            assert row["n"] == len(_groups(day0s)[group])
            checked.add(name)
    assert {"patell_z", "bmp_t", "kp_bmp_t", "kp_patell_z", "corrado_rank_z", "cz_sign_z",
            "generalized_sign_z", "bw1980_cda_t", "bw1985_t", "csect_t", "grank_t",
            "lamb_z", "wild_t"} <= checked
    if layout == "separate":  # the weighted cross terms are really exercised
        assert ref["all", -5, 10][0] != 0 and ref["all", 0, 0][0] == 0
    # The pseudo-event test is random: only a valid p-value for multi-day windows.
    pe = res.tests[(res.tests.statistic == "pseudo_event_z")
                   & (res.tests.window_start != res.tests.window_end)]
    assert ((pe.p_value > 0) & (pe.p_value <= 1)).all()


def test_engine_single_day_variance_tests(clustered):
    """For single event days the engine's bmp_t / patell_z use the day's prediction-error
    variance: with Var(AR_0) = (AR_0 / SAR_0)^2 from the engine's ar frame, the references
    give the same values."""
    res = clustered
    tests = res.tests.set_index(["group", "window_start", "window_end", "statistic"])
    est = res.estimates.set_index(["event_id", "ticker"])
    for day in (-3, 3, 7):
        sub = res.ar[res.ar.rel_day == day]
        car = sub.ar.to_numpy()
        var = (sub.ar / sub.sar).to_numpy() ** 2
        m = [est.loc[(r.event_id, r.ticker), "n_est"] for r in sub.itertuples()]
        rbar = tests.loc[("all", day, day, "bmp_t"), "rbar"]
        expected = {"bmp_t": ref_bmp_t(car, var), "patell_z": ref_patell_z(car, var, m),
                    "kp_bmp_t": ref_kp_bmp_t(car, var, rbar),
                    "bw1985_t": ref_bw1985_t(car, var)}
        for name, (v, p) in expected.items():
            row = tests.loc[("all", day, day, name)]
            assert row["value"] == pytest.approx(v, rel=1e-9), (day, name)
            assert row["p_value"] == pytest.approx(p, rel=1e-9), (day, name)


def test_headline_is_kp_bmp_when_day0_is_shared(clustered):
    """A and B (and D and E) share day 0: in 'all' and 'bullish partner' the headline is
    kp_bmp_t; 'bearish partner' (C and F, different days) keeps bmp_t. One headline row
    per group and window."""
    t = clustered.tests
    heads = t[t.headline]
    assert (heads.groupby(["group", "window_start", "window_end"]).size() == 1).all()
    assert len(heads) == len(t.drop_duplicates(["group", "window_start", "window_end"]))
    by_group = heads.groupby("group")["statistic"].unique()
    assert list(by_group["all"]) == ["kp_bmp_t"]
    assert list(by_group["bullish partner"]) == ["kp_bmp_t"]
    assert list(by_group["bearish partner"]) == ["bmp_t"]


def test_headline_is_per_window_when_day0s_are_5_sessions_apart(separate):
    """SEPARATE: one ticker per day 0 at 300, 305, 320, 340, 345, 370. The rule is per
    window of K days: kp_bmp_t when two pairs of the group have |day0_i - day0_j| < K.
    'all' and 'bullish partner' (300, 305, 340, 345; closest 5 apart) are clustered for
    (0, 5) K=6, (2, 10) K=9 and (-5, 10) K=16, not for (-1, 1) K=3, (0, 1) K=2, (0, 0)
    and every single event day (K=1); 'bearish partner' (320, 370) never is."""
    heads = separate.tests[separate.tests.headline]
    assert len(heads) == len(separate.tests.drop_duplicates(
        ["group", "window_start", "window_end"]))
    got = {(r.group, r.window_start, r.window_end): r.statistic for r in heads.itertuples()}
    expected = {}
    for group in ("all", "bullish partner", "bearish partner"):
        for s, e in list(DEFAULT_CAR_WINDOWS) + [(d, d) for d in range(-5, 11)]:
            clustered = group != "bearish partner" and (s, e) in {(0, 5), (2, 10), (-5, 10)}
            expected[group, s, e] = "kp_bmp_t" if clustered else "bmp_t"
    assert got == expected


@pytest.mark.parametrize("gap,clustered", [(15, True), (16, False)])
def test_headline_boundary_gap_equal_to_k(syn_panel, gap, clustered):
    """Two pairs whose day 0s are ``gap`` sessions apart, group 'all': for the 16-day window
    (-5, 10) a gap of 15 shares one calendar day (kp_bmp_t) and a gap of 16 shares none
    (bmp_t); the single-day windows are never clustered."""
    cal = [(300, "bullish", ["A"]), (300 + gap, "bullish", ["B"])]
    res = run_study(_calendar(cal), syn_panel, StudyConfig(pseudo_draws=0, group_by=()))
    t = res.tests[res.tests.headline & (res.tests.group == "all")]
    head = t.set_index(["window_start", "window_end"])["statistic"]
    assert head[-5, 10] == ("kp_bmp_t" if clustered else "bmp_t")
    assert head[0, 0] == "bmp_t" and head[3, 3] == "bmp_t"
    rbar = res.tests.set_index(["group", "window_start", "window_end", "statistic"])
    assert (rbar.loc[("all", -5, 10, "bmp_t"), "rbar"] != 0) == clustered


def test_engine_pseudo_event_uses_overlap_components(syn_panel, monkeypatch):
    """The engine passes the pseudo-event test one label per overlap component of the
    group's day 0s for the window's K (hand union-find on |day0_i - day0_j| < K), and only
    for multi-day windows."""
    calls = []
    original = stats.overlapping

    def spy(day0, k):
        labels = original(day0, k)
        calls.append((tuple(int(d) for d in day0), labels.copy(), k))
        return labels

    monkeypatch.setattr(stats, "overlapping", spy)
    res = run_study(_calendar(SEPARATE), syn_panel, StudyConfig(pseudo_draws=19))
    assert res.skipped.empty
    # the engine labels the distinct day 0s of a group (one cluster each); a pair takes
    # the label of its day 0
    pos = {"all": [300, 305, 320, 340, 345, 370], "bullish partner": [300, 305, 340, 345],
           "bearish partner": [320, 370]}
    multi = [w for w in DEFAULT_CAR_WINDOWS if w[0] != w[1]]
    assert len(calls) == 3 * len(multi)
    seen = set()
    for day0, labels, k in calls:
        group = {tuple(v): g for g, v in pos.items()}[day0]
        of_day = dict(zip(day0, labels))
        pair_labels = np.array([of_day[d] for d in pos[group]])
        assert _partition(pair_labels) == ref_components(np.array(pos[group]), k), (group, k)
        seen.add((group, k))
    assert ("all", 16) in seen and ("all", 3) in seen
    # by hand: K=16 chains 300-305 and 340-345 (the 320 gap is 15 from 305: joins too;
    # 340-320 = 20 does not), K=3 leaves everyone alone
    assert ref_components(np.array(pos["all"]), 16) == {frozenset({0, 1, 2}),
                                                        frozenset({3, 4}), frozenset({5})}


def test_fast_average_ranks_equal_scipy_rankdata():
    """The argsort shortcut equals scipy.stats.rankdata on finite values, ties included."""
    from scipy.stats import rankdata

    from backtest.eventstudy.stats import _average_ranks

    rng = np.random.default_rng(5)
    x = np.round(rng.normal(size=(200, 40)), 1)  # rounding makes ties common
    x[rng.random(x.shape) < 0.1] = np.inf  # missing values, ranked last
    ours = _average_ranks(x)
    for row, got in zip(x, ours):
        finite = np.isfinite(row)
        np.testing.assert_array_equal(got[finite], rankdata(row[finite], method="average"))


@pytest.mark.parametrize("how", ["trim", "winsorize"])
def test_engine_trims_or_winsorizes_the_car_tests(syn_panel, how):
    """With trim=0.2 (or winsorize) the 'all' group's 6 CARs lose (or clip) one per tail
    before the CAR tests: mean and cross-sectional t equal the hand-cut CARs of car.csv;
    the rank test keeps every pair; car.csv itself is unchanged."""
    plain = run_study(_calendar(CLUSTERED), syn_panel, StudyConfig(pseudo_draws=0))
    res = run_study(_calendar(CLUSTERED), syn_panel, StudyConfig(pseudo_draws=0,
                                                                 **{how: 0.2}))
    assert res.car.equals(plain.car)
    cars = res.car[(res.car.window_start == 0) & (res.car.window_end == 1)]["car"]
    ordered = np.sort(cars.to_numpy())
    assert len(ordered) == 6  # floor(0.2 x 6) = 1 per tail
    cut = ordered[1:-1] if how == "trim" else np.concatenate(
        [[ordered[1]], ordered[1:-1], [ordered[-2]]])
    tests = res.tests.set_index(["group", "window_start", "window_end", "statistic"])
    row = tests.loc[("all", 0, 1, "csect_t")]
    assert row["mean"] == pytest.approx(cut.mean(), rel=1e-12)
    assert row["n"] == len(cut)
    assert row["value"] == pytest.approx(ref_csect_t(cut)[0], rel=1e-10)
    before = plain.tests.set_index(["group", "window_start", "window_end", "statistic"])
    assert tests.loc[("all", 0, 1, "corrado_rank_z"), "value"] == \
        before.loc[("all", 0, 1, "corrado_rank_z"), "value"]
    assert row["mean"] != pytest.approx(before.loc[("all", 0, 1, "csect_t"), "mean"])


def ref_wilcoxon_normal(car):
    """Wilcoxon (1945) above 50 CARs, by plain loops: zeros dropped, average ranks of |CAR|
    (1 + the count below + half the other ties), W+ over the positive CARs; two-sided p
    from z = (W+ - N(N+1)/4) / sqrt(N(N+1)(2N+1)/24 - sum_ties (t^3 - t)/48), no
    continuity correction, as scipy's normal approximation."""
    vals = [abs(c) for c in car if _finite(c) and c != 0]
    signs = [c > 0 for c in car if _finite(c) and c != 0]
    n = len(vals)
    ranks = [1 + sum(w < v for w in vals) + (sum(w == v for w in vals) - 1) / 2 for v in vals]
    w_plus = sum(r for r, up in zip(ranks, signs) if up)
    ties = sum(t ** 3 - t for t in (vals.count(v) for v in set(vals)))
    se = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - ties / 48)
    z = (w_plus - n * (n + 1) / 4) / se
    return w_plus, math.erfc(abs(z) / math.sqrt(2))


@pytest.mark.parametrize("n", [51, 80, 300])
def test_wilcoxon_above_50_cars_matches_the_normal_approximation_by_hand(n):
    """Above 50 CARs (scipy's normal approximation, ties and zeros included): W+ and p
    equal the loop formula, and p equals scipy.stats.wilcoxon's two-sided p."""
    rng = np.random.default_rng(n)
    car = np.round(rng.normal(0.002, 0.01, n + 2), 3)  # rounded: ties and zeros
    car[:2] = np.nan
    car[2:5] = 0.0
    w, p = stats.wilcoxon_signed_rank(car)
    rw, rp = ref_wilcoxon_normal(car)
    assert w == rw
    assert p == pytest.approx(rp, rel=1e-9)
    assert p == pytest.approx(sps.wilcoxon(car[np.isfinite(car)]).pvalue, rel=1e-12)


@pytest.mark.parametrize("case", ["continuous", "heavy ties", "signed zeros", "few nonzero",
                                  "all positive", "one value"])
def test_wilcoxon_normal_path_equals_scipy_on_large_samples(case):
    """Above 50 CARs W+ and the p come from one unstable sort (stats.wilcoxon_signed_rank):
    W+ equals the sum of scipy.stats.rankdata's average ranks over the positive CARs, and
    z and p equal scipy.stats.wilcoxon's asymptotic ones (zeros dropped, tie-corrected, no
    continuity correction), however many ties, zeros of either sign or nonzero CARs."""
    rng = np.random.default_rng(7)
    car = rng.normal(0.001, 0.02, 20_000)
    if case == "heavy ties":
        car = np.round(car, 3)  # about 100 distinct values, some runs of hundreds
    elif case == "signed zeros":
        car = np.round(car, 2)
        car[::7] = -0.0
    elif case == "few nonzero":
        car = np.zeros(60)
        car[[3, 9, 20]] = [0.01, -0.02, 0.01]
    elif case == "all positive":
        car = np.abs(car) + 1e-4
    elif case == "one value":
        car = np.full(500, -0.003)
    car[5] = np.nan
    w, p = stats.wilcoxon_signed_rank(car)
    finite = car[np.isfinite(car)]
    nonzero = finite[finite != 0]
    ranks = sps.rankdata(np.abs(nonzero))
    assert w == ranks[nonzero > 0].sum()
    ref = sps.wilcoxon(finite, alternative="greater", method="asymptotic")
    assert ref.statistic == w
    assert p == pytest.approx(2 * sps.norm.sf(abs(ref.zstatistic)), rel=1e-12, abs=1e-300)


def test_wilcoxon_small_samples_give_scipys_exact_p():
    """Up to 50 CARs without ties or zeros the p is looked up once per (N, W+): it equals
    scipy.stats.wilcoxon's two-sided p on the CARs themselves, for every N from 2 to 50
    and for every possible W+ of N = 9 (each reached by some sample); with ties or zeros
    (scipy's permutation test or normal approximation) it is scipy's call on the CARs."""
    rng = np.random.default_rng(3)
    for n in range(2, 51):
        for _ in range(4):
            car = rng.normal(0.001 * (n % 3), 0.02, n)
            w, p = stats.wilcoxon_signed_rank(car)
            ranks = sps.rankdata(np.abs(car))
            assert w == ranks[car > 0].sum()
            assert p == sps.wilcoxon(car).pvalue
    ranks = np.arange(1.0, 10.0)
    seen = set()
    for mask in range(2 ** 9):  # every sign pattern of 9 distinct |CAR|: every W+ 0..45
        signs = np.where([(mask >> k) & 1 for k in range(9)], 1.0, -1.0)
        car = 0.01 * signs * ranks[::-1] * (1 + 0.01 * ranks)
        w, p = stats.wilcoxon_signed_rank(car)
        seen.add(w)
        assert p == sps.wilcoxon(car).pvalue
    assert seen == set(np.arange(46.0))
    for car in (np.round(rng.normal(0, 0.01, 30), 3), np.r_[0.0, rng.normal(0, 0.01, 20)],
                np.array([0.01, 0.01, -0.02, 0.03, 0.01])):
        w, p = stats.wilcoxon_signed_rank(car)
        nonzero = car[car != 0]
        assert w == sps.rankdata(np.abs(nonzero))[nonzero > 0].sum()
        assert p == pytest.approx(sps.wilcoxon(car).pvalue, rel=1e-12)


def test_wild_cluster_ts_gives_each_window_its_own_test():
    """Windows tested together (as the study does per group) get each window's own t and
    p: the enumeration by hand up to 10 news days, and past it the p of scipy's
    permutation_test run on that window alone (as the study did window by window);
    a window that lost a news day, or has fewer than two, is tested on its own days."""
    rng = np.random.default_rng(11)
    for n_days in (6, 11, 30, 300):  # 11: the fewest news days that are sampled
        day0 = np.repeat(np.arange(n_days) * 5, rng.integers(2, 4, n_days))
        cars = rng.normal(0.003, 0.02, (6, day0.size))
        cars[1, 0] = np.nan                       # one pair fewer, same news days
        cars[2, day0 == day0[-1]] = np.nan        # one news day gone
        cars[3, day0 != day0[0]] = np.nan         # a single news day: no test
        cars[5, day0 == day0[0]] = np.nan         # another news day gone
        got = stats.wild_cluster_ts(cars, day0)
        assert got[3] == stats.NO_RESULT
        for car, result in zip(cars[[0, 1, 2, 4, 5]], [got[0], got[1], got[2], got[4], got[5]]):
            if n_days <= 10:
                assert tuple(result) == pytest.approx(ref_wild_t(car, day0), rel=1e-12)
            else:
                assert tuple(result) == pytest.approx(_wild_alone(car, day0), rel=1e-12)


def test_wild_cluster_ts_p_does_not_depend_on_the_batch(monkeypatch):
    """The sign patterns are drawn in batches of WILD_BATCH; any batch (7, or one of all
    1,999) draws the same patterns, so every window's p stays the same."""
    rng = np.random.default_rng(5)
    day0 = np.repeat(np.arange(40) * 2, rng.integers(1, 4, 40))
    cars = rng.normal(0.002, 0.02, (3, day0.size))
    cars[1, :4] = np.nan
    default = stats.wild_cluster_ts(cars, day0)
    for batch in (7, 1999):
        monkeypatch.setattr(stats, "WILD_BATCH", batch)
        assert stats.wild_cluster_ts(cars, day0) == default
    assert all(0.0 < r.p_value <= 1.0 for r in default)


def _wild_alone(car, day0):
    """The wild bootstrap of one window with scipy's permutation_test, as it was called
    window by window (1,999 sign patterns, seed 20260428)."""
    ok = np.isfinite(car)
    days, codes = np.unique(day0[ok], return_inverse=True)
    g, sums = days.size, np.bincount(codes, weights=car[ok])
    counts = np.bincount(codes).astype("float64")

    def t_of(s, axis=-1):
        ybar = s.sum(axis=axis, keepdims=True) / counts.sum()
        se = np.sqrt(g / (g - 1) * ((s - counts * ybar) ** 2).sum(axis=axis) / counts.sum() ** 2)
        return np.squeeze(ybar, axis=axis) / se

    res = sps.permutation_test((sums,), t_of, permutation_type="samples", vectorized=True,
                               n_resamples=1999, alternative="two-sided",
                               random_state=np.random.default_rng(20260428))
    return float(t_of(sums)), float(res.pvalue)


def test_wild_bootstrap_expanded_form_keeps_every_p():
    """The null's CR1 t in the expanded form equals the two-pass form (to 1e-12) on
    sign-flipped day sums, and the p of each sample equals scipy's permutation_test with
    the two-pass statistic: on 200 news days, and where the mean dwarfs the spread of the
    CARs so far that the expanded form finds no spread at all (an infinite t, on which
    scipy warns): there the two-pass form takes over, and nothing warns."""
    rng = np.random.default_rng(21)
    day0 = np.repeat(np.arange(200) * 3, rng.integers(1, 6, 200))
    sums = rng.normal(0, 0.05, (2, 200))
    counts = rng.integers(1, 6, (2, 200)).astype("float64")
    flipped = sums * rng.choice([-1.0, 1.0], (50, 2, 200))
    np.testing.assert_allclose(stats._cr1_t_expanded(flipped, counts, counts.sum(axis=1)),
                               stats._cr1_t(flipped, counts, counts.sum(axis=1)),
                               rtol=1e-12, atol=0)
    noisy = rng.normal(0.002, 0.03, day0.size)
    rng = np.random.default_rng(0)
    flat_day0 = np.repeat(np.arange(200) * 3, rng.integers(1, 6, 200))
    flat = 1.0 + rng.normal(0, 1e-15, flat_day0.size)  # a mean 1e15 spreads
    _, codes = np.unique(flat_day0, return_inverse=True)
    s, n = np.bincount(codes, weights=flat), np.bincount(codes).astype("float64")
    assert np.isfinite(stats._cr1_t(s, n, n.sum()))
    assert np.isinf(stats._cr1_t_expanded(s[None], n[None], n.sum())[0])
    for car, days in ((noisy, day0), (flat, flat_day0)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # scipy warns of an infinite observed statistic
            got = stats.wild_cluster_ts(car[None], days)[0]
        assert tuple(got) == pytest.approx(_wild_alone(car, days), rel=1e-12)
