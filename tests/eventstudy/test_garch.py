"""``model="garch"``: the market model with GARCH(1,1) AR variances (Bollerslev 1986)."""

from __future__ import annotations

import numpy as np
import pytest
from arch import arch_model

from backtest.eventstudy import StudyConfig, run_study
from events import parse_calendar
from events.errors import ConfigError
from tests.panels import make_panel, sessions

N = 420
DAY0 = 330
SESS = sessions("2022-01-03", N)


def _garch_panel(seed=7, omega=2e-6, alpha=0.12, beta=0.85):
    """SPY and G = 0.001 + 1.2 SPY + e with GARCH(1,1) e (planted parameters); H has the
    same mean and a constant variance."""
    rng = np.random.default_rng(seed)
    rm = rng.normal(0.0004, 0.01, N)
    e, h = np.zeros(N), np.zeros(N)
    h[0] = omega / (1 - alpha - beta)
    for t in range(N):
        if t:
            h[t] = omega + alpha * e[t - 1] ** 2 + beta * h[t - 1]
        e[t] = np.sqrt(h[t]) * rng.standard_normal()
    g = 0.001 + 1.2 * rm + e
    flat = 0.001 + 1.2 * rm + rng.normal(0, np.sqrt(h.mean()), N)
    closes = {t: list(100 * np.cumprod(1 + r)) for t, r in
              (("SPY", rm), ("G", g), ("H", flat))}
    return make_panel(SESS, closes), e


def _calendar(tickers=("G",)):
    return parse_calendar({"name": "g", "events": [{
        "id": "ev", "date": str(SESS[DAY0].date()), "session": "before_open",
        "headline": "h", "source": "test", "sentiment": {"label": "bullish", "score": 50},
        "tickers": [{"ticker": t, "role": "partner", "direction": "up"} for t in tickers]}]})


@pytest.fixture(scope="module")
def study():
    panel, _ = _garch_panel()
    return panel, run_study(_calendar(("G", "H")), panel,
                            StudyConfig(model="garch", pseudo_draws=0))


def _hand_market_model(panel, ticker):
    """OLS on the estimation window (days -260..-11), by numpy lstsq."""
    r = panel.returns
    rows = np.arange(DAY0 - 260, DAY0 - 10)
    x = np.column_stack([np.ones(len(rows)), r["SPY"].to_numpy()[rows]])
    y = r[ticker].to_numpy()[rows]
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    s2 = resid @ resid / (len(y) - 2)
    return coef, resid, s2, np.linalg.inv(x.T @ x)


def test_event_variances_follow_the_garch_forecast(study):
    """G's day variances, read back from the AR table, are h_t + s^2 x_t'(X'X)^-1 x_t with
    h the arch forecast of a GARCH(1,1) fitted in the test on the hand residuals run
    through days -10..-6, and they decay as h_{t+1} = omega + (alpha + beta) h_t."""
    panel, res = study
    coef, resid, s2, xtx_inv = _hand_market_model(panel, "G")
    r = panel.returns
    gap_rows = np.arange(DAY0 - 10, DAY0 - 5)
    gap = r["G"].to_numpy()[gap_rows] - (coef[0] + coef[1] * r["SPY"].to_numpy()[gap_rows])
    series = np.concatenate([resid, gap]) * 100
    fit = arch_model(series, mean="Zero", vol="GARCH", p=1, q=1, rescale=False).fit(
        disp="off", last_obs=len(resid))
    h = fit.forecast(horizon=16, start=len(series) - 1, reindex=False).variance.to_numpy()[-1]
    h = h / 1e4
    est = res.estimates.set_index("ticker").loc["G"]
    om, al, be = est["garch_omega"], est["garch_alpha"], est["garch_beta"]
    assert om == pytest.approx(fit.params["omega"] / 1e4, rel=1e-6)
    assert al + be < 1
    assert np.allclose(h[1:], om + (al + be) * h[:-1], rtol=1e-6)  # closed form
    ar = res.ar[res.ar.ticker == "G"].sort_values("rel_day")
    x = np.column_stack([np.ones(16), r["SPY"].to_numpy()[DAY0 - 5:DAY0 + 11]])
    q = np.einsum("wk,kl,wl->w", x, xtx_inv, x)
    day_var = (ar["ar"] / ar["sar"]).to_numpy() ** 2
    np.testing.assert_allclose(day_var, h + s2 * q, rtol=1e-6)
    car = res.car[(res.car.ticker == "G") & (res.car.window_start == 0)
                  & (res.car.window_end == 1)].iloc[0]
    g = x[5:7].sum(axis=0)
    assert car["car_se"] ** 2 == pytest.approx(h[5:7].sum() + s2 * g @ xtx_inv @ g, rel=1e-6)


def test_constant_variance_pair_is_close_to_the_market_model(study):
    """H has no GARCH in its residuals: its fitted persistence carries little, so its
    standardized ARs stay near the market model's (within 25%)."""
    panel, res = study
    plain = run_study(_calendar(("H",)), panel, StudyConfig(model="market", pseudo_draws=0))
    a = res.ar[res.ar.ticker == "H"].sort_values("rel_day")["sar"].to_numpy()
    b = plain.ar.sort_values("rel_day")["sar"].to_numpy()
    assert np.all(np.abs(a / b - 1) < 0.25)
    assert res.ar[res.ar.ticker == "H"]["ar"].to_numpy() == pytest.approx(
        plain.ar.sort_values("rel_day")["ar"].to_numpy(), rel=1e-12)


def test_garch_refuses_estimation_dates():
    with pytest.raises(ConfigError, match="needs the estimation window by sessions"):
        StudyConfig(model="garch", estimation_dates=("2022-01-03", "2022-12-30"))


def test_a_garch_study_runs_its_blocks_in_the_calling_thread(monkeypatch):
    """arch's fits sit inside warnings.catch_warnings, which is not thread-safe (two threads
    leave an 'ignore everything' filter behind): with the threaded default, a GARCH study
    still fits every block in the calling thread, and the warning filters are as before."""
    import threading
    import warnings

    from backtest.data.store import load_panel
    from backtest.eventstudy import models
    from backtest.parallel import ThreadExecutor
    from events.loader import resolve_calendar

    seen, fit = set(), models.garch_forecast

    def spy(*args, **kwargs):
        seen.add(threading.get_ident())
        return fit(*args, **kwargs)

    monkeypatch.setattr(models, "garch_forecast", spy)
    cal = resolve_calendar("openai")
    panel = load_panel(cal)
    before = list(warnings.filters)
    run_study(cal, panel, StudyConfig(model="garch"), block=2, map_blocks=ThreadExecutor(2))
    assert seen == {threading.get_ident()}
    assert list(warnings.filters) == before
