"""The compiled study path equals the numpy references it replaced, on random data.

Kernels (:mod:`backtest.eventstudy.kernels`) against the array formulas of
:mod:`backtest.eventstudy.models` / :mod:`backtest.eventstudy.stats` (themselves checked against slow loops
in test_models.py and test_statistics.py), then the whole study's statistics table
against those formulas applied to full arrays, including pairs whose CAR is missing in
some windows (their rows are taken back out of the block sums).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from backtest.data.panel import PricePanel
from backtest.eventstudy import StudyConfig, kernels, models, run_study, stats
from backtest.eventstudy.models import MODELS, gather_rows, get_model, market_lag_lead
from events.errors import ConfigError
from tests.eventstudy.test_statistics import SESS, _calendar, _synthetic_panel

SEEDS = [0, 1, 2, 3]


def _random_returns(rng, n_tickers=7, n_sessions=400, nan_share=0.05):
    r = rng.normal(0, 0.02, (n_sessions, n_tickers))
    r[rng.random(r.shape) < nan_share] = np.nan
    r[50:80, 2] = np.nan  # a long gap: a short estimation window
    return r


def _slow_estimation(r, pos, cols, est0, length, ticker_pos, a, b):
    """y[i, s] with other events' windows [p + a, p + b] of the same ticker left out, by
    a plain double loop."""
    y = np.full((len(pos), length), np.nan)
    n_excl = np.zeros(len(pos), int)
    for i, (p, c) in enumerate(zip(pos, cols)):
        for s in range(length):
            t = p + est0 + s
            if not 0 <= t < r.shape[0]:
                continue
            if any(q + a <= t <= q + b for q in ticker_pos[c]):
                n_excl[i] += 1
                continue
            y[i, s] = r[t, c]
    return y, n_excl


def _pairs(rng, n_pairs, n_tickers, n_sessions):
    pos = rng.integers(-20, n_sessions + 20, n_pairs)  # some windows leave the data
    cols = rng.integers(0, n_tickers, n_pairs)
    pos[:6] = pos[0] + np.array([0, 3, 12, 0, 40, 7])  # nearby events of one ticker
    cols[:6] = cols[0]
    return pos.astype(np.int64), cols.astype(np.int64)


def _others(pos, cols):
    order = np.lexsort((pos, cols))
    lo = np.searchsorted(cols[order], cols)
    return pos[order], lo, lo + np.bincount(cols)[cols]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 2, 4])
def test_estimation_returns_and_ols_equal_the_numpy_fit(seed, k):
    """Gather with other events' windows left out (double loop) then models.fit_ols on
    (P, L, K) arrays: the fused kernels give the same y, exclusions, fit and residuals."""
    rng = np.random.default_rng(seed)
    r = _random_returns(rng)
    reg = np.column_stack([np.ones(len(r))] + [rng.normal(0, 0.01, len(r))
                                                for _ in range(k - 1)])
    reg[rng.random(len(r)) < 0.02, -1] = np.nan
    pos, cols = _pairs(rng, 60, r.shape[1], len(r))
    others, lo, hi = _others(pos, cols)
    est0, length, a, b = -110, 100, -5, 10
    y, n_excl = kernels.estimation_returns(np.ascontiguousarray(r.T), pos, cols, est0, length,
                                           others, lo, hi, a, b)
    ticker_pos = {c: pos[cols == c] for c in np.unique(cols)}
    y_ref, n_ref = _slow_estimation(r, pos, cols, est0, length, ticker_pos, a, b)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(n_excl, n_ref)
    assert n_excl[:6].sum() > 0  # the nearby events really exclude days

    rows = np.clip(pos[:, None] + est0 + np.arange(length), 0, len(r) - 1)
    X = np.where(((pos[:, None] + est0 + np.arange(length)) >= 0)[..., None], reg[rows],
                 np.nan)
    ref = models.fit_ols(y_ref, X)
    enough = ref.n > k + 1
    rT = np.ascontiguousarray(r.T)
    fused = kernels.estimation_ols(rT, reg, pos, cols, est0, length, others, lo, hi, a, b)
    np.testing.assert_array_equal(fused[5], n_ref)  # gathered and fitted in one pass
    for coef, xtx_inv, sigma2, n, resid in (kernels.ols(y, reg, pos, est0), fused[:5]):
        np.testing.assert_array_equal(n, ref.n)
        for got, want in ((coef, ref.coef), (xtx_inv, ref.xtx_inv), (sigma2, ref.sigma2),
                          (resid, ref.resid)):
            np.testing.assert_allclose(got[enough], want[enough], rtol=1e-9, atol=1e-13)
        assert np.isnan(coef[n < k]).all() and np.isnan(xtx_inv[n < k]).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_event_window_equals_predict_and_variances(seed):
    """AR, SAR and window CAR/variance equal models.predict, prediction_variance and
    window_variance on gathered (P, W, K) arrays; a missing day makes the CAR NaN."""
    rng = np.random.default_rng(seed)
    r = _random_returns(rng)
    reg = np.column_stack([np.ones(len(r)), rng.normal(0, 0.01, len(r))])
    pos, cols = _pairs(rng, 50, r.shape[1], len(r))
    p = len(pos)
    fit = models.ModelFit(rng.normal(0, 0.5, (p, 2)), rng.uniform(1e-4, 4e-4, p),
                          np.full(p, 200), np.full(p, 198), np.zeros((p, 2, 2)), None)
    inv = rng.normal(0, 1, (p, 2, 2))
    fit = models.ModelFit(fit.coef, fit.sigma2, fit.n, fit.dof, inv @ inv.transpose(0, 2, 1),
                          None)
    evt0, width = -5, 16
    windows = np.array([[4, 6], [5, 5], [5, 15], [0, 15], [7, 7]])
    y, expected, ar, sar, car, var, missing = kernels.event_window(
        np.ascontiguousarray(r.T), reg, pos, cols, evt0, width, fit.coef, fit.xtx_inv,
        fit.sigma2, windows[:, 0], windows[:, 1])
    idx = pos[:, None] + evt0 + np.arange(width)
    inside = (idx >= 0) & (idx < len(r))
    cl = np.clip(idx, 0, len(r) - 1)
    y_ref = np.where(inside, r[cl, cols[:, None]], np.nan)
    X = np.where(inside[..., None], reg[cl], np.nan)
    exp_ref = models.predict(fit, X)
    ar_ref = y_ref - exp_ref
    with np.errstate(invalid="ignore"):
        sar_ref = ar_ref / np.sqrt(models.prediction_variance(fit, X))
    for got, want in ((y, y_ref), (expected, exp_ref), (ar, ar_ref), (sar, sar_ref)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    for j, (lo, hi) in enumerate(windows):
        w = ar_ref[:, lo:hi + 1]
        miss = (~np.isfinite(w)).sum(axis=1)
        np.testing.assert_array_equal(missing[:, j], miss)
        np.testing.assert_allclose(car[:, j], np.where(miss == 0, w.sum(axis=1), np.nan),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(var[:, j], models.window_variance(fit, X[:, lo:hi + 1]),
                                   rtol=1e-12)
    assert (missing > 0).any() and (missing == 0).any()


def _ranks_cases(rng, n=90):
    """resid/ar with ties, NaN, +inf and -inf days, an all-missing pair."""
    resid = np.round(rng.normal(size=(n, 50)), 1)  # rounding: many ties
    ar = np.round(rng.normal(size=(n, 9)), 1)
    resid[rng.random(resid.shape) < 0.1] = np.nan
    ar[rng.random(ar.shape) < 0.05] = np.inf
    resid[rng.random(resid.shape) < 0.03] = -np.inf
    resid[5], ar[5] = np.nan, np.nan  # a pair with nothing at all
    resid[6] = np.nan  # event days only
    ar[8] = np.nan  # estimation days only
    return resid, ar


def _reference_ranks(resid, ar):
    """U - 1/2 and sign(U - median U) per pair (NaN where missing; +-inf is missing too):
    scipy's average ranks (stats._standardized_ranks) and np.nanmedian."""
    values = np.concatenate([resid, ar], axis=1)
    values = np.where(np.isfinite(values), values, np.nan)
    ref = stats._standardized_ranks(values)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-missing pair
        sign = np.sign(ref - np.nanmedian(ref, axis=1, keepdims=True))
    return ref - 0.5, sign


@pytest.mark.parametrize("chunk", [None, 7, 1])
def test_residual_order_is_ascending_with_missing_days_last(chunk, monkeypatch):
    """Each row's days in ascending order of value, NaN and +-inf after every finite one,
    as int16 for rows of at most 32,767 days (int64 beyond): with the rows sorted a chunk
    at a time (90 rows in chunks of 7 or 1, the last one partial), too."""
    if chunk is not None:
        monkeypatch.setattr(kernels, "CHUNK_ROWS", chunk)
    rng = np.random.default_rng(4)
    resid, _ = _ranks_cases(rng)
    before = resid.copy()
    order = kernels.residual_order(resid)
    assert order.dtype == np.int16 and order.shape == resid.shape
    for row, days in zip(resid, order):
        assert sorted(days.tolist()) == list(range(resid.shape[1]))
        finite = int(np.isfinite(row).sum())
        values = row[days]
        assert np.isfinite(values[:finite]).all() and not np.isfinite(values[finite:]).any()
        assert (np.diff(values[:finite]) >= 0).all()
    np.testing.assert_array_equal(resid, before)  # the residuals are not written to
    assert kernels.residual_order(np.zeros((1, 40_000))).dtype == np.int64
    assert kernels.residual_order(np.zeros((0, 30))).shape == (0, 30)


@pytest.mark.parametrize("seed", SEEDS)
def test_rank_sums_of_one_pair_groups_are_its_ranks_and_signs(seed):
    """With each pair in a group of its own, the sums are the pair's own U - 1/2 and
    sign(U - median U), with ties and missing days: scipy's average ranks."""
    rng = np.random.default_rng(seed)
    resid, ar = _ranks_cases(rng)
    n = len(resid)
    u_sum, u_n, g_sum, g_n = kernels.rank_day_sums(resid, ar, np.arange(n)[:, None],
                                                   np.ones((n, 1)), n)
    given = kernels.rank_day_sums(resid, ar, np.arange(n)[:, None], np.ones((n, 1)), n,
                                  kernels.residual_order(resid).astype(np.int64))
    for a, b in zip((u_sum, u_n, g_sum, g_n), given):  # a sort handed in, of either width
        np.testing.assert_array_equal(a, b)
    u, g = _reference_ranks(resid, ar)
    np.testing.assert_array_equal(u_n, np.isfinite(u))
    np.testing.assert_array_equal(g_n, u_n)
    np.testing.assert_allclose(u_sum, np.nan_to_num(u), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(g_sum, np.nan_to_num(g))
    assert u_n[5].sum() == 0 and (u_n.sum(axis=1) < u.shape[1]).any()


@pytest.mark.parametrize("seed", SEEDS)
def test_rank_sums_equal_group_sums_of_the_reference_ranks(seed):
    """Two groups per pair, signs of both kinds, a pair in no group: the sums are those of
    ``mult x`` the reference ranks over each group's pairs (a slow loop here); the
    caller's arrays are left alone."""
    rng = np.random.default_rng(seed)
    resid, ar = _ranks_cases(rng)
    n, width = len(resid), resid.shape[1] + ar.shape[1]
    groups = np.column_stack([np.zeros(n, np.int64), 1 + rng.integers(0, 3, n)])
    groups[7] = -1  # a pair not kept
    mult = rng.choice([-1.0, 1.0], size=groups.shape)
    inputs = resid.copy(), ar.copy()
    got = kernels.rank_day_sums(resid, ar, groups, mult, 4)
    np.testing.assert_array_equal(resid, inputs[0])
    np.testing.assert_array_equal(ar, inputs[1])
    u, g = _reference_ranks(resid, ar)
    want = [np.zeros((4, width)) for _ in range(4)]
    for i in range(n):
        for h in range(groups.shape[1]):
            gr = groups[i, h]
            if gr < 0:
                continue
            for t in range(width):
                if np.isfinite(u[i, t]):
                    want[0][gr, t] += mult[i, h] * u[i, t]
                    want[1][gr, t] += 1
                    want[2][gr, t] += mult[i, h] * g[i, t]
                    want[3][gr, t] += 1
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    assert (got[1] < n).all() and got[1].min() > 0  # the missing days left some counts out


@pytest.mark.parametrize("seed", SEEDS)
def test_block_sums_equal_the_array_statistics(seed):
    """group_day_sums and cluster_day_sums reproduce DailyRanks.from_ar, the estimation
    AAR, mean_cross_correlation (r-bar for several K) and summed estimation cumsums."""
    rng = np.random.default_rng(seed)
    n, length = 40, 70
    resid = rng.normal(0, 0.02, (n, length)) + rng.normal(0, 0.01, length)  # correlated
    resid[rng.random(resid.shape) < 0.1] = np.nan
    sigma2 = np.nanvar(resid, axis=1)
    day0 = rng.choice([300, 300, 303, 310, 340], n)
    groups = np.zeros((n, 1), np.int64)
    uniq, cl = np.unique(day0, return_inverse=True)
    ones = np.ones((n, 1))
    S, Q, C, cum = kernels.cluster_day_sums(resid, sigma2, cl[:, None].astype(np.int64), ones,
                                            len(uniq))
    size = np.bincount(cl).astype(float)
    sums = stats.ClusterSums(uniq, size, S, Q, C, offset=-80)
    days = day0[:, None] - 80 + np.arange(length)
    for k in (1, 4, 11, 16, 50):
        want = stats.mean_cross_correlation(resid, sigma2, days, int(days.max()) + 1, day0, k)
        assert sums.rbar(k) == pytest.approx(want, rel=1e-10, abs=1e-15)
    per_cluster = np.zeros_like(cum)
    np.add.at(per_cluster, cl, stats.estimation_cumsum(resid))
    np.testing.assert_allclose(cum, per_cluster, rtol=1e-12, atol=1e-15)

    ar = rng.normal(0, 0.02, (n, 9))
    us, un, gs, gn = kernels.rank_day_sums(resid, ar, groups, ones, 1)
    got = stats.DailyRanks.from_sums(us[0], un[0], gs[0], gn[0])
    want = stats.DailyRanks.from_ar(np.concatenate([resid, ar], axis=1))
    np.testing.assert_allclose(got.ubar, want.ubar, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got.g, want.g, rtol=1e-12, atol=1e-15)
    es, en = kernels.group_day_sums(resid, groups, ones, 1)
    np.testing.assert_allclose(es[0] / en[0], stats._nanmean(resid, axis=0), rtol=1e-12)


# --------------------------------------------------------------------------------------
# the whole study against the array formulas
# --------------------------------------------------------------------------------------

EVENTS = [(300, "bullish", ["A", "B"]), (306, "bullish", ["C"]), (320, "bearish", ["D"]),
          (340, "bullish", ["E", "F"]), (348, "bearish", ["A"]), (370, "bearish", ["B", "F"])]


@pytest.fixture(scope="module")
def holed_panel():
    """The synthetic panel with closes missing inside event windows: pairs whose CAR is
    missing in some windows only."""
    panel = _synthetic_panel(seed=23)
    close = panel.close.copy()
    close.iloc[[322, 323], close.columns.get_loc("D")] = np.nan  # D: days 2, 3 of its event
    close.iloc[378, close.columns.get_loc("F")] = np.nan  # F: day 8 of the 370 event
    return PricePanel(close, close, panel.dividend, panel.close_is_adjusted, panel.sources)


def _reference_tests(res, panel, config):
    """Every statistic from full arrays: estimation residuals by models.fit_ols on
    gathered windows (no other-event exclusion in this config), ARs from res.ar."""
    est = res.estimates
    pos0 = {e: int(SESS.get_loc(pd.Timestamp(d))) for e, d in
            res.ar[res.ar.rel_day == 0][["event_id", "date"]].drop_duplicates().to_numpy()}
    pos = np.array([pos0[e] for e in est.event_id])
    r = panel.returns.to_numpy()
    cols = panel.returns.columns.get_indexer(est.ticker)
    off = config.estimation_offsets
    y = r[pos[:, None] + off, cols[:, None]]
    m = r[pos[:, None] + off, panel.returns.columns.get_loc("SPY")]
    fit = models.fit_ols(y, np.stack([np.ones_like(m), m], axis=2))
    ar = res.ar.pivot_table(index=["event_id", "ticker"], columns="rel_day", values="ar",
                            dropna=False).loc[list(zip(est.event_id, est.ticker))].to_numpy()
    sar = res.ar.pivot_table(index=["event_id", "ticker"], columns="rel_day", values="sar",
                             dropna=False).loc[list(zip(est.event_id, est.ticker))].to_numpy()
    car_tab = res.car.set_index(["event_id", "ticker", "window_start", "window_end"])
    labels = res.car.drop_duplicates(["event_id", "ticker"]).set_index(
        ["event_id", "ticker"]).loc[list(zip(est.event_id, est.ticker))]
    keys = (labels["label"] + " " + labels["role"]).to_numpy()
    sign = np.where(labels["label"].to_numpy() == "bearish", -1.0, 1.0)  # bearish_down
    groups = [("all", np.arange(len(est)))] + [(g, np.flatnonzero(keys == g))
                                               for g in sorted(set(keys))]
    windows = list(config.car_windows) + [(d, d) for d in config.event_offsets
                                           if (d, d) not in config.car_windows]
    rng = np.random.default_rng(config.seed)
    out = {}
    for group, idx in groups:
        # a group pooling both expected directions counts each pair in its direction
        m = sign[idx][:, None] if len(set(sign[idx])) > 1 else np.ones((len(idx), 1))
        resid, g_ar = m * fit.resid[idx], m * ar[idx]
        ranks = stats.DailyRanks.from_ar(np.concatenate([resid, g_ar], axis=1))
        days = pos[idx][:, None] + off
        for s, e in windows:
            k = e - s + 1
            sl = slice(s - config.event_window[0], e - config.event_window[0] + 1)
            raw = ar[idx, sl]
            if (s, e) in config.car_windows:  # the car table agrees with the AR sums
                want = car_tab.loc[[(a, b, s, e) for a, b in
                                    zip(est.event_id.iloc[idx], est.ticker.iloc[idx])], "car"]
                raw_car = np.where(np.isfinite(raw).all(axis=1), raw.sum(axis=1), np.nan)
                np.testing.assert_allclose(want.to_numpy(), raw_car, rtol=1e-12)
            w = g_ar[:, sl]
            car = np.where(np.isfinite(w).all(axis=1), w.sum(axis=1), np.nan)
            cols_ = config.estimation_length + np.arange(sl.start, sl.stop)
            rbar = stats.mean_cross_correlation(resid, fit.sigma2[idx], days,
                                                len(SESS), pos[idx], k)
            out[group, s, e, "bw1980_cda_t"] = stats.bw1980_cda_t(car, resid, k)
            out[group, s, e, "generalized_sign_z"] = stats.generalized_sign_z(car, resid)
            out[group, s, e, "corrado_rank_z"] = ranks.corrado(cols_)
            out[group, s, e, "cz_sign_z"] = ranks.sign(cols_)
            out[group, s, e, "rbar"] = (rbar, None)
            out[group, s, e, "csect_t"] = stats.csect_t(car)
            if (s, e) in config.car_windows:
                var = car_tab.loc[[(a, b, s, e) for a, b in zip(
                    est.event_id.iloc[idx], est.ticker.iloc[idx])], "car_se"].to_numpy() ** 2
            else:
                var = (ar[idx, sl] / sar[idx, sl])[:, 0] ** 2
            out[group, s, e, "grank_t"] = stats.generalized_rank_t(
                resid, np.sqrt(fit.sigma2[idx]), car, var)
            if s != e:
                out[group, s, e, "pseudo_event_z"] = stats.pseudo_event_test(
                    car, resid, stats.overlapping(pos[idx], k), k, config.pseudo_draws, rng)
    return out


def test_study_statistics_equal_the_array_formulas_with_missing_cars(holed_panel):
    """Groups, clustered and nearby day 0s, pairs whose CAR is missing in some windows:
    rank, sign, Brown-Warner, generalized sign, GRANK (second pass over the blocks, signs
    reversed in the signed group), r-bar and the pseudo-event test (same random draws)
    equal the array formulas on full residual matrices."""
    config = StudyConfig(pseudo_draws=99, exclude_other_events=False,
                         group_by=("label", "role"))
    res = run_study(_calendar(EVENTS, bearish_down=True), holed_panel, config, block=3)
    assert res.skipped.empty
    # "all" pools bullish links (up) and bearish ones (down): it is signed, the others not
    signed = res.tests.groupby("group")["signed"].first()
    assert signed.to_dict() == {"all": True, "bearish partner": False,
                                "bullish partner": False}
    assert res.car.car.isna().any() and res.car.car.notna().any()
    ref = _reference_tests(res, holed_panel, config)
    tests = res.tests.set_index(["group", "window_start", "window_end", "statistic"])
    checked = 0
    for (group, s, e, name), (value, p) in ref.items():
        if name == "rbar":
            got = tests.loc[(group, s, e, "bmp_t"), "rbar"]
            assert got == pytest.approx(value, rel=1e-9, abs=1e-14), (group, s, e)
            continue
        row = tests.loc[(group, s, e, name)]
        assert row["value"] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), \
            (group, s, e, name)
        assert row["p_value"] == pytest.approx(p, rel=1e-9, abs=1e-12, nan_ok=True)
        checked += np.isfinite(value)
    assert checked > 300


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_fits_a_block_as_its_reference_form(name):
    """Each model class of the registry: ``fit_block`` (the compiled kernel for the OLS
    models) equals ``reference_fit`` on the gathered arrays, and its coefficient names
    match its regressors."""
    rng = np.random.default_rng(11)
    T, P, L = 400, 30, 120
    market = rng.normal(0, 0.01, T)
    factors = rng.normal(0, 0.01, (T, 2))
    model = MODELS[name]
    reg = np.ascontiguousarray(model.regressors(market, factors))
    assert reg.shape == (T, len(model.coef_names(["f1", "f2"])))
    market3 = market_lag_lead(market)
    pos = rng.integers(L + 20, T - 20, P)
    est_off = np.arange(-L - 10, -10)
    y = rng.normal(0, 0.02, (P, L))
    y[rng.random((P, L)) < 0.05] = np.nan
    got = model.fit_block(y, reg, market3, pos, est_off)
    want = model.reference_fit(y, gather_rows(reg, pos, est_off),
                               gather_rows(market3, pos, est_off))
    for field in ("coef", "sigma2", "n", "dof", "resid"):
        np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-9,
                                   atol=1e-13, err_msg=f"{name}.{field}")
    assert np.isfinite(got.coef).all()


def test_the_registry_has_one_class_per_model():
    assert list(MODELS) == ["constant_mean", "market_adjusted", "market", "factors", "dimson",
                            "scholes_williams", "garch"]
    assert len({type(m) for m in MODELS.values()}) == len(MODELS)
    with pytest.raises(ConfigError, match="unknown model 'capm'"):
        get_model("capm")


def _slow_grank_sums(resid, sigma2, gscar, groups, mult, n_groups):
    """The generalized rank sums by their definition: for every pair, group and window,
    the pair's SARs (signed) and its CAR are ranked together by a plain double loop
    (average ranks for ties), ``U = rank / (T_i + 1) - 1/2``, summed per group."""
    n_pairs, length = resid.shape
    n_win = gscar.shape[2]
    event_sum = np.zeros((n_groups, n_win))
    event_n = np.zeros((n_groups, n_win))
    est_sum = np.zeros((n_groups, n_win, length))
    est_n = np.zeros((n_groups, n_win, length))
    for i in range(n_pairs):
        with np.errstate(invalid="ignore", divide="ignore"):
            sar = resid[i] / np.sqrt(sigma2[i])
        days = [t for t in range(length) if np.isfinite(sar[t])]
        if not days:
            continue
        for h in range(groups.shape[1]):
            if groups[i, h] < 0:
                continue
            for j in range(n_win):
                x = gscar[i, h, j]
                if not np.isfinite(x):
                    continue
                values = [mult[i, h] * sar[t] for t in days] + [x]
                T = len(values)

                def rank(v):
                    return 1 + sum(w < v for w in values) + 0.5 * (sum(w == v for w in values) - 1)

                g = groups[i, h]
                event_sum[g, j] += rank(x) / (T + 1) - 0.5
                event_n[g, j] += 1
                for t, v in zip(days, values[:-1]):
                    est_sum[g, j, t] += rank(v) / (T + 1) - 0.5
                    est_n[g, j, t] += 1
    return event_sum, event_n, est_sum, est_n


@pytest.mark.parametrize("seed", SEEDS)
def test_grank_sums_equal_ranks_by_definition(seed):
    """grank_sums (ranks read off one sort per pair, only the days above the CAR touched)
    equals ranking every pair's signed SARs and CAR together, per window: with missing
    days, ties among the SARs and between a CAR and a SAR, signed groups, pairs in no group
    or missing some windows, CARs below, inside and above the SARs, a day no pair has."""
    rng = np.random.default_rng(seed)
    n, length, n_win, n_groups = 40, 30, 5, 3
    sigma2 = rng.choice([1.0, 4.0], n)  # exact division: CARs can tie with SARs
    resid = np.round(rng.normal(0, 1, (n, length)) * 4) / 4 * np.sqrt(sigma2)[:, None]
    resid[rng.random(resid.shape) < 0.15] = np.nan
    resid[:, 7] = np.nan  # a day no pair has
    resid[3] = np.nan  # a pair with no estimation data
    sigma2[5] = np.nan
    groups = np.stack([np.zeros(n, np.int64), rng.integers(-1, n_groups, n)], axis=1)
    mult = np.stack([rng.choice([-1.0, 1.0], n), np.ones(n)], axis=1)
    gscar = np.round(rng.normal(0, 1.5, (n, 2, n_win)) * 4) / 4
    gscar[:, :, 0] = rng.choice([-9.0, 9.0], (n, 2))  # below or above every SAR
    gscar[rng.random(gscar.shape) < 0.1] = np.nan  # a pair missing some windows
    sigma2[8], resid[8] = 0.0, 0.0  # s = 0: 0 / 0, no SARs
    resid[8, 2] = np.nan
    sigma2[9] = 0.0  # s = 0 with residuals: x / 0 is +-inf, no SARs either
    # distinct residuals whose SARs are equal (rounding): ranked as the tie they become,
    # though the shared sort is of the residuals
    sigma2[10] = 3.0
    s = np.sqrt(3.0)
    x = next(v for v in np.linspace(0.3, 0.9, 4001)
             if v / s == np.nextafter(v, 1.0) / s)
    resid[10, :3] = [x, np.nextafter(x, 1.0), -x]
    got = kernels.grank_sums(resid, sigma2, gscar, groups, mult, n_groups)
    want = _slow_grank_sums(resid, sigma2, gscar, groups, mult, n_groups)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert (got[3] > 0).any() and (got[3] == 0).any()
    given = kernels.grank_sums(resid, sigma2, gscar, groups, mult, n_groups,
                               kernels.residual_order(resid))
    for a, b in zip(got, given):
        np.testing.assert_array_equal(a, b)
    with pytest.MonkeyPatch.context() as mp:  # the rows sorted in chunks of 7: the same sums
        mp.setattr(kernels, "CHUNK_ROWS", 7)
        for a, b in zip(got, kernels.grank_sums(resid, sigma2, gscar, groups, mult, n_groups)):
            np.testing.assert_array_equal(a, b)


def test_ols_of_collinear_regressors_is_nan_as_in_numpy():
    """A second regressor that is always 0 (X'X exactly singular): models.fit_ols gives NaN
    coefficients, (X'X)^-1 and residuals, and so do both OLS kernels (s^2 NaN), with the days
    used still counted (the inverse is abandoned half-way, not left behind)."""
    rng = np.random.default_rng(5)
    r = _random_returns(rng)
    reg = np.column_stack([np.ones(len(r)), np.zeros(len(r))])
    pos, cols = _pairs(rng, 20, r.shape[1], len(r))
    pos = np.clip(pos, 120, len(r)).astype(np.int64)
    none = np.zeros(0, np.int64)
    lo = np.zeros(len(pos), np.int64)
    rT = np.ascontiguousarray(r.T)
    y, _ = kernels.estimation_returns(rT, pos, cols, -110, 100, none, lo, lo, -5, 10)
    rows = pos[:, None] - 110 + np.arange(100)
    ref = models.fit_ols(y, reg[rows])
    assert (ref.n >= 2).all() and np.isnan(ref.xtx_inv).all()
    fused = kernels.estimation_ols(rT, reg, pos, cols, -110, 100, none, lo, lo, -5, 10)
    for coef, xtx_inv, sigma2, n, resid in (kernels.ols(y, reg, pos, -110), fused[:5]):
        for a, want in ((coef, ref.coef), (xtx_inv, ref.xtx_inv), (n, ref.n),
                        (resid, ref.resid)):
            np.testing.assert_array_equal(a, want)
        assert np.isnan(sigma2).all()  # no residuals (fit_ols's nansum makes that 0)
