"""Estimation windows by dates (``estimation_dates``) as well as by sessions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.eventstudy import StudyConfig, run_study
from events.errors import ConfigError
from tests.eventstudy.test_statistics import SESS, _calendar, _synthetic_panel


@pytest.fixture(scope="module")
def panel():
    return _synthetic_panel()


def _dates(first: int, last: int) -> tuple[str, str]:
    return str(SESS[first].date()), str(SESS[last].date())


def test_dates_equal_to_the_relative_window_give_the_same_study(panel):
    """One event at session 300: dates spanning sessions 40..289 are exactly its default
    window (days -260..-11), so every AR, CAR and test equals the study by sessions
    (reached through another path: a fixed start instead of day 0 + offset)."""
    cal = _calendar([(300, "bullish", ["A", "B", "C"])])
    by_sessions = run_study(cal, panel, StudyConfig(pseudo_draws=99))
    by_dates = run_study(cal, panel, StudyConfig(pseudo_draws=99,
                                                 estimation_dates=_dates(40, 289)))
    assert by_dates.config.estimation_length == 250
    pd.testing.assert_frame_equal(by_dates.ar, by_sessions.ar)
    pd.testing.assert_frame_equal(by_dates.car, by_sessions.car)
    pd.testing.assert_frame_equal(by_dates.tests, by_sessions.tests)
    pd.testing.assert_frame_equal(by_dates.estimates, by_sessions.estimates)


def test_one_window_for_every_pair_fits_on_those_dates(panel):
    """Two events 70 sessions apart share the dated window 20..200: each pair's beta is
    np.polyfit of its returns on the market's over exactly those sessions."""
    cal = _calendar([(300, "bullish", ["A"]), (370, "bearish", ["B"])])
    res = run_study(cal, panel, StudyConfig(pseudo_draws=0, exclude_other_events=False,
                                            estimation_dates=_dates(20, 200)))
    assert res.skipped.empty
    r = panel.returns
    for ticker in ("A", "B"):
        y, x = r[ticker].iloc[20:201].to_numpy(), r["SPY"].iloc[20:201].to_numpy()
        ok = np.isfinite(y) & np.isfinite(x)
        beta, alpha = np.polyfit(x[ok], y[ok], 1)
        row = res.estimates[res.estimates.ticker == ticker].iloc[0]
        assert row["coef_beta"] == pytest.approx(beta, rel=1e-9)
        assert row["coef_alpha"] == pytest.approx(alpha, rel=1e-7, abs=1e-12)
        assert row["n_est"] == ok.sum()


def test_a_pair_whose_event_window_meets_the_dates_is_skipped(panel):
    """Event at 300 with window -5..+10 (295..310): dates 250..296 meet it, the event at
    370 (365..380) stays clear and is studied."""
    cal = _calendar([(300, "bullish", ["A"]), (370, "bearish", ["B"])])
    res = run_study(cal, panel, StudyConfig(pseudo_draws=0, estimation_dates=_dates(150, 296)))
    assert res.skipped[["event_id", "ticker"]].values.tolist() == [["ev300", "A"]]
    assert "meet its event window" in res.skipped["reason"].iat[0]
    assert set(res.car["ticker"]) == {"B"}


@pytest.mark.parametrize("dates, says", [
    (("2020-13-01", "2021-01-01"), "YYYY-MM-DD"),
    (("2021-01-01",), "two dates"),
    (("2021-06-01", "2021-01-01"), "must be before"),
])
def test_bad_dates_are_refused(dates, says):
    with pytest.raises(ConfigError, match=says):
        StudyConfig(estimation_dates=dates)


def test_dates_outside_the_data_or_too_short_are_refused(panel):
    cal = _calendar([(300, "bullish", ["A"])])
    with pytest.raises(ConfigError, match="not inside the price data"):
        run_study(cal, panel, StudyConfig(estimation_dates=("1990-01-02", str(SESS[100].date()))))
    with pytest.raises(ConfigError, match="fewer than min_estimation_obs"):
        run_study(cal, panel, StudyConfig(estimation_dates=_dates(100, 150)))


def test_settings_without_dates_are_unchanged():
    assert "estimation_dates" not in StudyConfig().as_dict()
    assert StudyConfig(estimation_dates=("2021-01-04", "2021-12-31")).as_dict()[
        "estimation_dates"] == ["2021-01-04", "2021-12-31"]
