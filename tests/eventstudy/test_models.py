"""Tests of the normal-return models (backtest.eventstudy.models) and how the study uses them.

Each model is re-fitted here by hand for every (event, ticker) pair of the bundled
calendar: returns from closes and dividends with an explicit loop, regressors placed
by position, ``np.polyfit`` / ``np.linalg.lstsq`` / textbook formulas for the fit, and
explicit matrices for the variances. None of the expected numbers come from the code
under test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backtest.data.panel import PricePanel
from backtest.eventstudy import DEFAULT_CAR_WINDOWS, StudyConfig, models, run_study
from events import parse_calendar
from events.timing import event_timing
from tests._slow_reference import total_return_at
from tests.panels import make_panel, sessions

EST = range(-260, -10)  # default estimation window, relative days
EVT = range(-5, 11)  # default event window
FACTORS = ("SPY", "SMH")


# --------------------------------------------------------------------------------------
# hand-built returns and fits
# --------------------------------------------------------------------------------------


def hand_returns(panel, ticker, log=False):
    """Total return at every position by the loop formula; ``log``: ln(1 + r)."""
    c, d = panel.close[ticker].to_numpy(), panel.dividend[ticker].to_numpy()
    out = np.array([total_return_at(c, d, p) for p in range(len(c))])
    return np.log1p(out) if log else out


def regressors(model, p, m, f1=None, f2=None):
    """Regressor row of ``model`` at session position ``p`` (NaN outside the data)."""
    def at(a, q):
        return a[q] if 0 <= q < len(a) else math.nan
    if model == "constant_mean":
        return [1.0]
    if model == "factors":
        return [1.0, at(f1, p), at(f2, p)]
    if model == "dimson":
        return [1.0, at(m, p - 1), at(m, p), at(m, p + 1)]
    return [1.0, at(m, p)]


class HandFit:
    """One pair's model by hand: coefficients, s^2, (X'X)^-1 and the event-window rows."""

    def __init__(self, model, y, m, pos0, f1=None, f2=None):
        self.model = model
        rows, ys = [], []
        for k in EST:
            p = pos0 + k
            x = regressors(model, p, m, f1, f2)
            needed = [y[p], *x]
            if model == "scholes_williams":  # SW needs the lagged and leading market too
                needed += [m[p - 1], m[p + 1]]
            if all(not math.isnan(v) for v in needed):
                rows.append(x)
                ys.append(y[p])
        X, Y = np.array(rows), np.array(ys)
        self.n = len(Y)
        self.X = X
        if model == "market_adjusted":
            self.coef = np.array([0.0, 1.0])
            e = Y - X[:, 1]
            self.s2 = float(np.sum((e - e.mean()) ** 2) / (self.n - 1))
            self.xtx_inv = np.zeros((2, 2))
        elif model == "constant_mean":
            self.coef = np.array([Y.mean()])
            self.s2 = float(np.sum((Y - Y.mean()) ** 2) / (self.n - 1))
            self.xtx_inv = np.array([[1.0 / self.n]])
        elif model == "market":
            b, a = np.polyfit(X[:, 1], Y, 1)
            self.coef = np.array([a, b])
        elif model == "scholes_williams":
            self.coef = self._scholes_williams(y, m, pos0)
        else:  # factors, dimson
            self.coef = np.linalg.lstsq(X, Y, rcond=None)[0]
        if model not in ("market_adjusted", "constant_mean"):
            e = Y - X @ self.coef
            self.s2 = float(e @ e / (self.n - X.shape[1]))
            self.xtx_inv = np.linalg.inv(X.T @ X)
        self.evt_x = {k: np.array(regressors(model, pos0 + k, m, f1, f2)) for k in EVT}
        self.ret = {k: y[pos0 + k] for k in EVT}
        self.ar = {k: self.ret[k] - self.evt_x[k] @ self.coef for k in EVT}

    def _scholes_williams(self, y, m, pos0):
        """Scholes and Williams (1977): b_j = OLS slope of R_it on R_m,t+j (j = -1, 0, 1),
        rho = first-order autocorrelation of the market (correlation of R_m,t with R_m,t-1),
        beta = (b_-1 + b_0 + b_1) / (1 + 2 rho), alpha = mean(R_i) - beta mean(R_m), all on
        the days where the stock and the three market returns exist."""
        days = [pos0 + k for k in EST
                if not any(math.isnan(v) for v in (y[pos0 + k], m[pos0 + k - 1], m[pos0 + k],
                                                    m[pos0 + k + 1]))]
        yy = np.array([y[p] for p in days])

        def slope(xs):
            xs = np.array(xs)
            return float(np.sum((xs - xs.mean()) * (yy - yy.mean())) / np.sum((xs - xs.mean()) ** 2))

        b_lag = slope([m[p - 1] for p in days])
        b_0 = slope([m[p] for p in days])
        b_lead = slope([m[p + 1] for p in days])
        rho = float(np.corrcoef([m[p] for p in days], [m[p - 1] for p in days])[0, 1])
        beta = (b_lag + b_0 + b_lead) / (1 + 2 * rho)
        alpha = yy.mean() - beta * np.mean([m[p] for p in days])
        self.sw = dict(b_lag=b_lag, b_0=b_0, b_lead=b_lead, rho=rho)
        return np.array([alpha, beta])

    def ar_variance(self, k):
        """s^2 (1 + x0' (X'X)^-1 x0) with explicit matrices."""
        x0 = self.evt_x[k]
        return self.s2 * (1.0 + x0 @ self.xtx_inv @ x0)

    def car_variance(self, start, end):
        """gamma' s^2 (I + X* (X'X)^-1 X*') gamma (Campbell-Lo-MacKinlay 1997, 4.4.3)."""
        Xs = np.array([self.evt_x[k] for k in range(start, end + 1)])
        V = self.s2 * (np.eye(len(Xs)) + Xs @ self.xtx_inv @ Xs.T)
        g = np.ones(len(Xs))
        return float(g @ V @ g)


# --------------------------------------------------------------------------------------
# bundled data
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def returns(panel):
    return {t: hand_returns(panel, t) for t in panel.tickers}


def _study(calendar, panel, model, **kw):
    cfg = StudyConfig(model=model, exclude_other_events=False, pseudo_draws=0, **kw)
    with np.errstate(divide="ignore", invalid="ignore"):
        return run_study(calendar, panel, cfg)


def _hand_fits(calendar, panel, returns, model, log=False):
    rets = {t: np.log1p(r) for t, r in returns.items()} if log else returns
    out = {}
    for event in calendar:
        pos0 = panel.sessions.get_loc(event_timing(event).day0)
        for link in event.tickers:
            out[(event.id, link.ticker)] = HandFit(
                model, rets[link.ticker], rets["SPY"], pos0, rets[FACTORS[0]], rets[FACTORS[1]])
    return out


def _check_model(res, fits, coef_names, self_factor=()):
    """Every kept pair: coefficients, sigma, n_est, AR, expected, SAR and every CAR s.e.
    equal the hand fit. ``self_factor``: pairs whose ticker is one of the regressors (their
    residual variance is rounding noise, so only coefficients and ARs are compared)."""
    kept = set(map(tuple, res.estimates[["event_id", "ticker"]].to_numpy()))
    assert kept == {k for k, f in fits.items() if f.n >= 120}
    est = res.estimates.set_index(["event_id", "ticker"])
    ar = res.ar.set_index(["event_id", "ticker", "rel_day"])
    car = res.car.set_index(["event_id", "ticker", "window_start", "window_end"])
    for key in kept:
        f = fits[key]
        assert est.loc[key, "n_est"] == f.n, key
        for name, value in zip(coef_names, f.coef):
            assert est.loc[key, f"coef_{name}"] == pytest.approx(value, rel=1e-9, abs=1e-12), \
                (key, name)
        for k in EVT:
            row = ar.loc[(*key, k)]
            assert row["ar"] == pytest.approx(f.ar[k], abs=1e-10), (key, k)
            assert row["expected"] == pytest.approx(f.ret[k] - f.ar[k], abs=1e-10), (key, k)
        if key in self_factor:
            continue
        assert est.loc[key, "sigma"] == pytest.approx(math.sqrt(f.s2), rel=1e-9), key
        for k in EVT:
            assert ar.loc[(*key, k), "sar"] == pytest.approx(
                f.ar[k] / math.sqrt(f.ar_variance(k)), rel=1e-8), (key, k)
        for s, e in DEFAULT_CAR_WINDOWS:
            assert car.loc[(*key, s, e), "car_se"] == pytest.approx(
                math.sqrt(f.car_variance(s, e)), rel=1e-9), (key, s, e)


def test_constant_mean_model(calendar, panel, returns):
    """AR = R - mean of the estimation returns; s^2 their sample variance (ddof 1); the
    AR variance s^2 (1 + 1/n) and CAR variance s^2 (K + K^2/n) (CLM 1997, 4.4)."""
    res = _study(calendar, panel, "constant_mean")
    fits = _hand_fits(calendar, panel, returns, "constant_mean")
    _check_model(res, fits, ["alpha"])
    f = fits[("openai-miss-2026-04-28", "ORCL")]
    assert f.car_variance(-1, 1) == pytest.approx(f.s2 * (3 + 9 / f.n), rel=1e-12)


def test_market_adjusted_model(calendar, panel, returns):
    """AR = R - R_m exactly; s^2 = sample variance (ddof 1) of the estimation ARs; CAR
    variance K s^2 (no estimated coefficient)."""
    res = _study(calendar, panel, "market_adjusted")
    fits = _hand_fits(calendar, panel, returns, "market_adjusted")
    _check_model(res, fits, ["alpha", "beta"])
    sub = res.ar[(res.ar.event_id == "openai-miss-2026-04-28") & (res.ar.ticker == "MSFT")]
    for r in sub.itertuples():
        p = panel.sessions.get_loc(r.date)
        assert r.ar == returns["MSFT"][p] - returns["SPY"][p]


def test_market_model(calendar, panel, returns):
    """OLS market model equals np.polyfit; variances by explicit matrices."""
    res = _study(calendar, panel, "market")
    _check_model(res, _hand_fits(calendar, panel, returns, "market"), ["alpha", "beta"])


SMH_KEY = ("deepseek-r1-2025-01-27", "SMH")


def test_factor_model_with_ticker_factors(calendar, panel, returns):
    """model='factors', factors=('SPY', 'SMH'): OLS on [1, R_SPY, R_SMH] equals
    np.linalg.lstsq; s^2 = e'e / (n - 3); AR variance s^2 (1 + x0'(X'X)^-1 x0) and CAR
    variance by explicit matrices. The SMH pair (its ticker is a factor of the model) is
    skipped with a reason naming the factor, and every other pair is kept."""
    res = _study(calendar, panel, "factors", factors=FACTORS)
    assert res.extra["factors"] == list(FACTORS)
    fits = _hand_fits(calendar, panel, returns, "factors")
    del fits[SMH_KEY]
    _check_model(res, fits, ["alpha", "SPY", "SMH"])
    skipped = res.skipped.set_index(["event_id", "ticker"])
    assert SMH_KEY in skipped.index
    assert "factor" in skipped.loc[SMH_KEY, "reason"]
    assert "SMH" in skipped.loc[SMH_KEY, "reason"]


def test_dimson_model(calendar, panel, returns):
    """Dimson (1979): OLS on [1, R_m,t-1, R_m,t, R_m,t+1] equals np.linalg.lstsq (the
    estimation day -11 uses the market return of day -10, which exists); beta_sum is the
    sum of the three slopes of the hand fit."""
    res = _study(calendar, panel, "dimson")
    fits = _hand_fits(calendar, panel, returns, "dimson")
    _check_model(res, fits, ["alpha", "beta_lag", "beta", "beta_lead"])
    # Dimson's beta is the sum of the lag, contemporaneous and lead slopes
    est = res.estimates.set_index(["event_id", "ticker"])
    assert "beta_sum" in est.columns
    for key in est.index:
        lag, beta, lead = fits[key].coef[1:]
        assert est.loc[key, "beta_sum"] == pytest.approx(lag + beta + lead, rel=1e-9), key


def test_scholes_williams_model(calendar, panel, returns):
    """Scholes-Williams (1977) by hand: three OLS slopes, the market's first-order
    autocorrelation, beta = (b_-1 + b_0 + b_+1)/(1 + 2 rho), alpha = mean(y) - beta mean(x);
    s^2 on n - 2 df and the market model's (X'X)^-1 for the prediction variance."""
    res = _study(calendar, panel, "scholes_williams")
    fits = _hand_fits(calendar, panel, returns, "scholes_williams")
    _check_model(res, fits, ["alpha", "beta"])
    sw = fits[("openai-miss-2026-04-28", "ORCL")].sw
    assert -0.5 < sw["rho"] < 0.5 and sw["b_0"] > 0.5  # the hand fit is not degenerate


def test_scholes_williams_arrays_with_gaps(rng):
    """fit_scholes_williams on arrays with NaNs in the stock and in each market series: a
    day is used only if all four exist; the result equals the by-hand formula per pair."""
    P, L = 3, 90
    m = rng.normal(0, 0.01, L + 2)
    m[[10, 40, 41]] = np.nan
    lag, rm, lead = m[:-2], m[1:-1], m[2:]
    y = 0.001 + 1.2 * rm[None, :] + 0.3 * lag[None, :] + rng.normal(0, 0.01, (P, L))
    y[0, 5:9] = np.nan
    y[2, rng.choice(L, 20, replace=False)] = np.nan
    fit = models.fit_scholes_williams(y, np.tile(rm, (P, 1)), np.tile(lag, (P, 1)),
                                      np.tile(lead, (P, 1)))
    for i in range(P):
        days = [t for t in range(L) if not any(math.isnan(v) for v in
                                               (y[i, t], lag[t], rm[t], lead[t]))]
        yy = y[i, days]

        def slope(x):
            x = np.asarray(x)
            return np.polyfit(x, yy, 1)[0]

        rho = np.corrcoef(rm[days], lag[days])[0, 1]
        beta = (slope(lag[days]) + slope(rm[days]) + slope(lead[days])) / (1 + 2 * rho)
        alpha = yy.mean() - beta * rm[days].mean()
        e = yy - alpha - beta * rm[days]
        assert fit.n[i] == len(days) and fit.dof[i] == len(days) - 2
        assert fit.coef[i] == pytest.approx([alpha, beta], rel=1e-10)
        assert fit.sigma2[i] == pytest.approx(e @ e / (len(days) - 2), rel=1e-10)
        X = np.column_stack([np.ones(len(days)), rm[days]])
        np.testing.assert_allclose(fit.xtx_inv[i], np.linalg.inv(X.T @ X), rtol=1e-9)


def test_log_returns(calendar, panel, returns):
    """returns='log': the ret column is log1p of the simple total return (by hand), the
    market model is fitted on log returns (np.polyfit), and BHAR compounds the simple
    returns against expm1 of the expected log return."""
    res = _study(calendar, panel, "market", returns="log")
    fits = _hand_fits(calendar, panel, returns, "market", log=True)
    _check_model(res, fits, ["alpha", "beta"])
    ar = res.ar
    for r in ar[ar.ticker == "NVDA"].itertuples():
        p = panel.sessions.get_loc(r.date)
        assert r.ret == pytest.approx(math.log1p(returns["NVDA"][p]), abs=1e-15)
    key = ("deepseek-r1-2025-01-27", "NVDA")
    f, pos0 = fits[key], panel.sessions.get_loc(pd.Timestamp("2025-01-27"))
    car = res.car.set_index(["event_id", "ticker", "window_start", "window_end"])
    for s, e in DEFAULT_CAR_WINDOWS:
        held = np.prod([1 + returns["NVDA"][pos0 + k] for k in range(s, e + 1)])
        normal = np.prod([math.exp(f.evt_x[k] @ f.coef) for k in range(s, e + 1)])
        assert car.loc[(*key, s, e), "bhar"] == pytest.approx(held - normal, abs=1e-12)


def test_bhar_market_model_by_hand(calendar, panel, returns):
    """BHAR = prod(1 + R_t) - prod(1 + alpha + beta R_mt) over each window (Barber and Lyon
    1997), with the hand-fitted market model; NaN when a window has a missing return."""
    res = _study(calendar, panel, "market")
    fits = _hand_fits(calendar, panel, returns, "market")
    car = res.car.set_index(["event_id", "ticker", "window_start", "window_end"])
    day0 = {e.id: panel.sessions.get_loc(event_timing(e).day0) for e in calendar}
    kept = set(map(tuple, res.estimates[["event_id", "ticker"]].to_numpy()))
    for key in kept:
        f, p0 = fits[key], day0[key[0]]
        for s, e in DEFAULT_CAR_WINDOWS:
            r = [returns[key[1]][p0 + k] for k in range(s, e + 1)]
            expected = [f.coef[0] + f.coef[1] * returns["SPY"][p0 + k] for k in range(s, e + 1)]
            bhar = math.prod(1 + v for v in r) - math.prod(1 + v for v in expected)
            got = car.loc[(*key, s, e), "bhar"]
            if math.isnan(bhar):
                assert math.isnan(got)
            else:
                assert got == pytest.approx(bhar, abs=1e-12), (key, s, e)


def test_factor_ticker_pair_is_not_reported_as_significant(calendar, panel):
    """A pair whose ticker is itself a regressor (SMH with factors=('SPY', 'SMH')) would have
    AR = 0 and residual variance 0 by construction, like the market benchmark. It is skipped
    ('is a factor of the model'), so it appears in no AR, CAR, estimate or test count. The
    same pair under the market model (SMH not a regressor) is kept."""
    res = _study(calendar, panel, "factors", factors=FACTORS)
    skipped = res.skipped[(res.skipped.event_id == SMH_KEY[0])
                          & (res.skipped.ticker == SMH_KEY[1])]
    assert len(skipped) == 1 and "factor" in skipped.reason.iloc[0]
    for frame in (res.ar, res.car, res.estimates):
        assert not ((frame.event_id == SMH_KEY[0]) & (frame.ticker == SMH_KEY[1])).any()
    n_pairs = len(res.estimates)
    all_n = res.tests[(res.tests.group == "all") & (res.tests.window_start == -5)
                      & (res.tests.window_end == 10)]["n"]
    assert (all_n <= n_pairs).all()
    # only factors that are tickers of the model are skipped: under the market model SMH stays
    market = _study(calendar, panel, "market")
    assert ((market.estimates.event_id == SMH_KEY[0])
            & (market.estimates.ticker == SMH_KEY[1])).any()
    assert not market.skipped.reason.str.contains("factor").any()


# --------------------------------------------------------------------------------------
# closed forms and invariants
# --------------------------------------------------------------------------------------


def test_ticker_equal_to_market_has_zero_ar_under_market_adjusted(panel):
    """A ticker with SPY's prices and dividends: under market_adjusted every AR and CAR is
    exactly 0 (R - R_m with R == R_m)."""
    def add_twin(frame):
        return frame.assign(TWIN=frame["SPY"])

    twin = PricePanel(add_twin(panel.open), add_twin(panel.close), add_twin(panel.dividend),
                      pd.concat([panel.close_is_adjusted, pd.Series({"TWIN": False})]),
                      {**panel.sources, "TWIN": "test"})
    cal = parse_calendar({"events": [{
        "id": "twin", "date": "2025-12-11", "session": "before_open", "headline": "twin",
        "source": "test", "sentiment": {"label": "bullish", "score": 50},
        "tickers": [{"ticker": "TWIN", "role": "partner", "direction": "up"}]}]})
    with np.errstate(divide="ignore", invalid="ignore"):
        res = run_study(cal, twin, StudyConfig(model="market_adjusted", pseudo_draws=0))
    assert len(res.ar) == 16
    assert (res.ar["ar"] == 0.0).all()
    assert (res.car["car"] == 0.0).all()
    assert res.estimates.iloc[0]["sigma"] == 0.0


SMALL = sessions("2022-01-03", 330)


def _small_panel(seed=3):
    rng = np.random.default_rng(seed)
    rm = rng.normal(0.0004, 0.01, len(SMALL))
    r = 0.0002 + 1.1 * rm + rng.normal(0, 0.01, len(SMALL))
    div = np.zeros(len(SMALL))
    div[[100, 200, 300]] = 0.4
    closes = {"SPY": list(100 * np.cumprod(1 + rm)), "AAA": list(40 * np.cumprod(1 + r))}
    opens = {t: list(np.asarray(c) * 0.995) for t, c in closes.items()}
    return make_panel(SMALL, closes, opens, {"SPY": [0.0] * len(SMALL), "AAA": list(div)})


SMALL_CAL = parse_calendar({"events": [{
    "id": "e", "date": str(SMALL[300].date()), "session": "before_open", "headline": "e",
    "source": "test", "sentiment": {"label": "bullish", "score": 50},
    "tickers": [{"ticker": "AAA", "role": "partner", "direction": "up"}]}]})
SMALL_BASE = _small_panel()


@settings(max_examples=15, deadline=None)
@given(scale=st.floats(1e-3, 1e4, allow_nan=False, allow_infinity=False),
       model=st.sampled_from(["market", "market_adjusted", "dimson"]))
def test_scaling_prices_leaves_returns_unchanged(scale, model):
    """Multiplying a stock's opens, closes and dividends by any c > 0 leaves its total
    returns, hence the study's ret and AR columns, unchanged (up to rounding)."""
    b = SMALL_BASE
    scaled = PricePanel(b.open.assign(AAA=b.open["AAA"] * scale),
                        b.close.assign(AAA=b.close["AAA"] * scale),
                        b.dividend.assign(AAA=b.dividend["AAA"] * scale),
                        b.close_is_adjusted, b.sources)
    np.testing.assert_allclose(scaled.returns["AAA"], b.returns["AAA"], rtol=1e-12, atol=1e-15)
    cfg = StudyConfig(model=model, pseudo_draws=0)
    r0, r1 = run_study(SMALL_CAL, b, cfg), run_study(SMALL_CAL, scaled, cfg)
    np.testing.assert_allclose(r1.ar["ret"], r0.ar["ret"], rtol=0, atol=1e-14)
    np.testing.assert_allclose(r1.ar["ar"], r0.ar["ar"], rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------
# batched OLS and the variance helpers, property-tested
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_pairs=st.integers(1, 4), k=st.integers(1, 4),
       length=st.integers(6, 50), y_nan=st.floats(0.0, 0.3), x_nan=st.floats(0.0, 0.3))
def test_fit_ols_matches_lstsq_row_by_row(seed, n_pairs, k, length, y_nan, x_nan):
    """fit_ols equals np.linalg.lstsq on each pair's rows where y and every regressor are
    finite (random NaN masks in y and in X); s^2 = e'e/(n - K), dof = n - K, (X'X)^-1 by
    np.linalg.inv, residuals NaN exactly on dropped days; pairs with n < K get NaN
    coefficients. predict / prediction_variance / window_variance equal the explicit
    x0'b, s^2 (1 + x0'(X'X)^-1 x0) and 1' s^2 (I + X*(X'X)^-1 X*') 1."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([np.ones((n_pairs, length, 1)),
                        rng.normal(0, 0.01, (n_pairs, length, k - 1))], axis=2)
    y = X @ rng.normal(0, 1, k) * 0.01 + rng.normal(0, 0.01, (n_pairs, length))
    y[rng.random(y.shape) < y_nan] = np.nan
    X[rng.random(X.shape) < x_nan / k] = np.nan
    fit = models.fit_ols(y, X)
    Xe = rng.normal(0, 0.01, (n_pairs, 3, k))
    Xe[:, :, 0] = 1.0
    pv, wv, pr = (models.prediction_variance(fit, Xe), models.window_variance(fit, Xe),
                  models.predict(fit, Xe))
    for i in range(n_pairs):
        keep = [t for t in range(length)
                if not math.isnan(y[i, t]) and not any(math.isnan(v) for v in X[i, t])]
        n = len(keep)
        assert fit.n[i] == n and fit.dof[i] == n - k
        if n < k:
            assert np.isnan(fit.coef[i]).all()
            continue
        Xi, yi = X[i, keep], y[i, keep]
        if np.linalg.cond(Xi) > 1e5:  # too ill-conditioned to compare two solvers closely
            continue
        b = np.linalg.lstsq(Xi, yi, rcond=None)[0]
        e = yi - Xi @ b
        np.testing.assert_allclose(fit.coef[i], b, rtol=1e-7, atol=1e-9)
        inv = np.linalg.inv(Xi.T @ Xi)
        np.testing.assert_allclose(fit.xtx_inv[i], inv, rtol=1e-7)
        dropped = [t for t in range(length) if t not in keep]
        assert np.isnan(fit.resid[i, dropped]).all()
        np.testing.assert_allclose(fit.resid[i, keep], e, rtol=1e-6, atol=1e-11)
        if n > k:
            s2 = float(e @ e) / (n - k)
            assert fit.sigma2[i] == pytest.approx(s2, rel=1e-6)
            np.testing.assert_allclose(pr[i], Xe[i] @ b, rtol=1e-7, atol=1e-12)
            for w in range(3):
                x0 = Xe[i, w]
                assert pv[i, w] == pytest.approx(s2 * (1 + x0 @ inv @ x0), rel=1e-6)
            V = s2 * (np.eye(3) + Xe[i] @ inv @ Xe[i].T)
            assert wv[i] == pytest.approx(V.sum(), rel=1e-6)
        else:
            assert np.isnan(fit.sigma2[i])


def test_fit_fixed_is_sample_variance_of_ars(rng):
    """fit_fixed(b = (0, 1)): residual R - R_m on usable days, s^2 their sample variance
    (ddof 1), dof n - 1; prediction variance s^2 and K-day window variance K s^2."""
    y = rng.normal(0, 0.02, (2, 40))
    x = rng.normal(0, 0.01, (2, 40))
    y[0, :5] = np.nan
    x[1, 30:] = np.nan
    X = np.stack([np.ones_like(x), x], axis=2)
    fit = models.fit_fixed(y, X, np.array([0.0, 1.0]))
    Xe = np.stack([np.ones((2, 4)), rng.normal(0, 0.01, (2, 4))], axis=2)
    for i in range(2):
        keep = [t for t in range(40) if not (math.isnan(y[i, t]) or math.isnan(x[i, t]))]
        e = np.array([y[i, t] - x[i, t] for t in keep])
        s2 = sum((v - e.mean()) ** 2 for v in e) / (len(e) - 1)
        assert fit.n[i] == len(keep) and fit.dof[i] == len(keep) - 1
        assert fit.sigma2[i] == pytest.approx(s2, rel=1e-12)
        np.testing.assert_allclose(models.prediction_variance(fit, Xe)[i], s2, rtol=1e-12)
        assert models.window_variance(fit, Xe)[i] == pytest.approx(4 * s2, rel=1e-12)


def test_factor_file_not_covering_an_event_window_skips_the_pair(calendar, panel):
    """A factor file that ends before the last events: those pairs are skipped with the
    first uncovered session named, the others studied as usual."""
    import backtest

    r = panel.returns
    factors = pd.DataFrame({"MKT": r["SPY"], "RF": 0.0}).loc[:"2025-12-31"]
    res = backtest.study(calendar, prices=panel, factor_data=factors, model="factors",
                         pseudo_draws=0)
    late = {e.id for e in calendar if e.date is not None and e.date.year == 2026
            or e.timestamp is not None and e.timestamp.year == 2026}
    gone = res.skipped[res.skipped["reason"].str.startswith("factor data does not cover")]
    assert set(gone["event_id"]) == late and len(late) >= 1
    # each names the first session of its window without factors: all in 2026
    named = pd.to_datetime(gone["reason"].str.extract(r"on (\d{4}-\d{2}-\d{2})")[0])
    assert (named >= pd.Timestamp("2026-01-02")).all()
    assert not set(res.car["event_id"]) & late
    assert len(res.car)  # the 2025 events are studied
