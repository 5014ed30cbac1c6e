"""Abnormal trading volume (``measure="volume"``, Campbell and Wasley 1996).

Expected numbers are computed here from the planted volumes: the log volume
``ln(n + 0.000255)`` written out with numpy, the estimation mean and a market model
on the market's log volume fitted with ``np.linalg.lstsq``; never the engine's output.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.data.panel import PricePanel
from backtest.eventstudy import StudyConfig, run_study
from events import parse_calendar
from events.errors import ConfigError, PriceDataError
from tests.panels import sessions

C = 0.000255  # Campbell and Wasley's constant, written out independently of the code
N = 260
POS = 200  # day 0
EST_LEN, GAP = 120, 5
CONFIG = {"estimation_length": EST_LEN, "gap": GAP, "event_window": (-2, 5),
          "car_windows": ((0, 0), (0, 1), (0, 5)), "min_estimation_obs": 60,
          "pseudo_draws": 0, "group_by": (), "measure": "volume"}
SESSIONS = sessions("2023-01-03", N)
EST = np.arange(POS - GAP - EST_LEN, POS - GAP)  # rows of days -125..-6


def _calendar(direction="down"):
    return parse_calendar({"name": "volume", "events": [{
        "id": "news", "date": str(SESSIONS[POS].date()), "session": "before_open",
        "headline": "synthetic news", "source": "test",
        "sentiment": {"label": "bearish", "score": 70},
        "tickers": [{"ticker": "AAA", "role": "partner", "direction": direction}]}]})


def _panel(volume: dict[str, np.ndarray]) -> PricePanel:
    rng = np.random.default_rng(3)
    close = pd.DataFrame({t: 100 * np.cumprod(1 + rng.normal(0, 0.01, N)) for t in volume},
                         index=SESSIONS)
    return PricePanel(close, close, close * 0.0, pd.Series(False, index=close.columns),
                      {t: "test" for t in volume}, pd.DataFrame(volume, index=SESSIONS))


def _row(table, **where):
    sub = table
    for k, v in where.items():
        sub = sub[sub[k] == v]
    assert len(sub) == 1
    return sub.iloc[0]


def test_tripled_volume_on_day_0_and_1_is_ln3_with_constant_mean():
    """Constant volume in the estimation window, tripled on days 0 and +1: AR(0) is
    ln(3n + c) - ln(n + c) (ln 3 to within 1e-9), CAR(0, 1) twice that, the other days 0."""
    n = 2_000_000.0
    aaa = np.full(N, n)
    aaa[POS:POS + 2] *= 3
    panel = _panel({"AAA": aaa, "SPY": np.full(N, 5e7)})
    res = run_study(_calendar(), panel, StudyConfig(model="constant_mean", **CONFIG))
    expected = math.log(3 * n + C) - math.log(n + C)
    assert abs(expected - math.log(3)) < 1e-9
    ar = res.ar.set_index("rel_day")["ar"]
    assert ar[0] == pytest.approx(expected, abs=1e-12)
    assert ar[1] == pytest.approx(expected, abs=1e-12)
    assert np.allclose(ar[[-2, -1, 2, 3, 4, 5]], 0.0, atol=1e-12)
    assert res.ar.set_index("rel_day")["ret"][0] == pytest.approx(math.log(3 * n + C))
    car = _row(res.car, window_start=0, window_end=1)
    assert car["car"] == pytest.approx(2 * expected, abs=1e-12)
    assert np.isnan(car["bhar"])  # no buy-and-hold return of volume
    # more trading is the expected move, whatever the calendar's price direction
    assert car["direction"] == "up"
    assert res.settings()["measure"] == "volume"


def test_noisy_volume_constant_mean_is_the_estimation_mean_of_log_volume():
    rng = np.random.default_rng(11)
    aaa = rng.lognormal(14, 0.3, N)
    aaa[POS] *= 4
    panel = _panel({"AAA": aaa, "SPY": rng.lognormal(17, 0.2, N)})
    res = run_study(_calendar(), panel, StudyConfig(model="constant_mean", **CONFIG))
    v = np.log(aaa + C)
    normal = v[EST].mean()
    ar = res.ar.set_index("rel_day")["ar"]
    for k in range(-2, 6):
        assert ar[k] == pytest.approx(v[POS + k] - normal, abs=1e-10)
    assert _row(res.car, window_start=0, window_end=5)["car"] == pytest.approx(
        (v[POS:POS + 6] - normal).sum(), abs=1e-9)


def test_market_model_on_log_volume_matches_lstsq():
    """V_it = a + b V_mt + e on the estimation window (np.linalg.lstsq), AR = V - a - b V_m."""
    rng = np.random.default_rng(5)
    vm = 17 + rng.normal(0, 0.25, N)
    va = 2.0 + 0.7 * vm + rng.normal(0, 0.2, N)
    va[POS] += 1.5
    panel = _panel({"AAA": np.exp(va), "SPY": np.exp(vm)})
    res = run_study(_calendar(), panel, StudyConfig(model="market", **CONFIG))
    V, Vm = np.log(np.exp(va) + C), np.log(np.exp(vm) + C)
    X = np.column_stack([np.ones(EST.size), Vm[EST]])
    (a, b), *_ = np.linalg.lstsq(X, V[EST], rcond=None)
    ar = res.ar.set_index("rel_day")["ar"]
    for k in range(-2, 6):
        assert ar[k] == pytest.approx(V[POS + k] - a - b * Vm[POS + k], abs=1e-9)
    est = res.estimates.iloc[0]
    assert est["coef_beta"] == pytest.approx(b, abs=1e-9)
    assert est["coef_alpha"] == pytest.approx(a, abs=1e-8)
    resid = V[EST] - a - b * Vm[EST]
    assert est["sigma"] == pytest.approx(math.sqrt(resid @ resid / (EST.size - 2)), rel=1e-9)


def test_zero_or_missing_volume_is_a_missing_day():
    aaa = np.full(N, 1e6)
    aaa[POS + 1] = 0.0
    aaa[POS + 2] = np.nan
    aaa[EST[:10]] = 0.0  # ten estimation days without volume: left out of the fit
    panel = _panel({"AAA": aaa, "SPY": np.full(N, 5e7)})
    res = run_study(_calendar(), panel, StudyConfig(model="constant_mean", **CONFIG))
    ar = res.ar.set_index("rel_day")["ar"]
    assert np.isnan(ar[1]) and np.isnan(ar[2]) and ar[0] == pytest.approx(0.0, abs=1e-12)
    assert res.estimates.iloc[0]["n_est"] == EST.size - 10
    car = _row(res.car, window_start=0, window_end=1)
    assert np.isnan(car["car"]) and car["n_missing"] == 1


def test_no_volume_is_refused_in_one_line_naming_the_tickers():
    aaa = np.full(N, np.nan)
    panel = _panel({"AAA": aaa, "SPY": np.full(N, 5e7)})
    with pytest.raises(PriceDataError, match="no volume for AAA") as exc:
        run_study(_calendar(), panel, StudyConfig(model="constant_mean", **CONFIG))
    assert exc.value.field == "measure" and "\n" not in str(exc.value)
    # the market model needs the market's volume too
    panel = _panel({"AAA": np.full(N, 1e6), "SPY": np.full(N, np.nan)})
    with pytest.raises(PriceDataError, match="no volume for SPY"):
        run_study(_calendar(), panel, StudyConfig(model="market", **CONFIG))
    # a universe panel has adjusted closes only
    close = pd.DataFrame({"AAA": np.linspace(10, 20, N), "SPY": np.linspace(300, 400, N)},
                         index=SESSIONS)
    universe = PricePanel(close, close, close * 0.0, pd.Series(True, index=close.columns),
                          {t: "universe:u.parquet" for t in close})
    with pytest.raises(PriceDataError, match="universe panel has adjusted closes only"):
        run_study(_calendar(), universe, StudyConfig(model="constant_mean", **CONFIG))


def test_a_ticker_without_volume_beside_others_is_skipped_with_the_reason():
    panel = _panel({"AAA": np.full(N, 1e6), "BBB": np.full(N, np.nan),
                    "SPY": np.full(N, 5e7)})
    cal = parse_calendar({"name": "two", "events": [{
        "id": "news", "date": str(SESSIONS[POS].date()), "session": "before_open",
        "headline": "h", "source": "test", "sentiment": {"label": "bullish", "score": 50},
        "tickers": [{"ticker": "AAA", "role": "partner", "direction": "up"},
                    {"ticker": "BBB", "role": "partner", "direction": "up"}]}]})
    res = run_study(cal, panel, StudyConfig(model="constant_mean", **CONFIG))
    assert set(res.car["ticker"]) == {"AAA"}
    assert "no volume" in _row(res.skipped, ticker="BBB")["reason"]


@pytest.mark.parametrize("model", ["market_adjusted", "factors", "dimson", "scholes_williams"])
def test_other_models_are_refused_for_volume(model):
    with pytest.raises(ConfigError, match="does not apply to measure 'volume'") as exc:
        StudyConfig(model=model, measure="volume")
    assert exc.value.field == "measure"


def test_log_returns_and_unknown_measures_are_refused():
    with pytest.raises(ConfigError, match="returns 'log' does not apply") as exc:
        StudyConfig(measure="volume", returns="log")
    assert exc.value.field == "measure"
    with pytest.raises(ConfigError, match="measure must be") as exc:
        StudyConfig(measure="turnover")
    assert exc.value.field == "measure"


def test_the_default_measure_leaves_the_settings_as_they_were():
    """The settings dict of a default study has exactly the keys it had before measure
    existed (written out here), so settings hashes and baselines stay equal."""
    before = ["model", "market", "factors", "returns", "estimation_length", "gap",
              "event_window", "car_windows", "min_estimation_obs", "exclude_other_events",
              "group_by", "pseudo_draws", "seed", "move_threshold"]
    assert list(StudyConfig().as_dict()) == before
    assert StudyConfig(measure="return").as_dict() == StudyConfig().as_dict()
    assert list(StudyConfig(model="constant_mean", measure="volume").as_dict()) == [
        *before, "measure"]
    assert StudyConfig.from_mapping({"measure": "volume", "model": "constant_mean"}).measure \
        == "volume"


def test_a_return_study_ignores_the_volume():
    """Same prices, different (or no) volume: the return study's tables are identical."""
    rng = np.random.default_rng(2)
    with_volume = _panel({"AAA": rng.lognormal(14, 0.3, N), "SPY": rng.lognormal(17, 0.2, N)})
    without = PricePanel(with_volume.open, with_volume.close, with_volume.dividend,
                         with_volume.close_is_adjusted, with_volume.sources)
    cfg = StudyConfig(**{**CONFIG, "measure": "return"})
    a, b = run_study(_calendar(), with_volume, cfg), run_study(_calendar(), without, cfg)
    pd.testing.assert_frame_equal(a.car, b.car)
    pd.testing.assert_frame_equal(a.tests, b.tests)
    assert a.data_hash == b.data_hash
    assert with_volume.volume_hash != without.volume_hash
