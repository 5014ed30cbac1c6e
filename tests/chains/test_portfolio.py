"""A chain event studied as one portfolio "security", against a slow independent form.

The expected portfolio CAR is the weighted mean of the members' ARs, each from its own
market model fitted here with numpy's least squares on days -260..-11 (the study's
default estimation window and gap), on the bundled prices.
"""

from __future__ import annotations

import numpy as np
import pytest

from backtest.chains import chain_event_study, portfolio_returns
from backtest.data import PriceStore
from backtest.eventstudy import StudyConfig
from events.loader import parse_calendar
from events.yamlio import parse_yaml

CALENDAR = """
name: t
chains:
  - name: trio
    weighting: fixed
    members:
      - {ticker: ORCL, weight: 2}
      - {ticker: MSFT, weight: 1}
      - {ticker: NVDA, weight: 1}
events:
  - id: e1
    timestamp: 2025-09-10T13:00:00+00:00
    headline: h
    source: s
    sentiment: {label: bullish, score: 70}
    tickers:
      - {chain: trio, role: partner, direction: up}
"""


@pytest.fixture(scope="module")
def setup():
    cal = parse_calendar(parse_yaml(CALENDAR, "t.yaml"), path="t.yaml")
    panel = PriceStore(offline=True).load(["ORCL", "MSFT", "NVDA", "SPY"])
    return cal, panel


def _member_ar(panel, ticker, day0, window):
    r, m = panel.returns[ticker].to_numpy(), panel.returns["SPY"].to_numpy()
    pos = list(panel.sessions).index(day0)
    est = slice(pos - 260, pos - 10)
    x = np.column_stack([np.ones(250), m[est]])
    coef = np.linalg.lstsq(x, r[est], rcond=None)[0]
    days = np.arange(pos + window[0], pos + window[1] + 1)
    return r[days] - coef[0] - coef[1] * m[days]


def test_the_event_links_every_member_and_keeps_the_weights(setup):
    cal, _ = setup
    event = cal.get("e1")
    assert [lt.ticker for lt in event.tickers] == ["ORCL", "MSFT", "NVDA"]
    assert {lt.chain for lt in event.tickers} == {"trio"}
    assert dict(event.chains[0].weights) == {"ORCL": 0.5, "MSFT": 0.25, "NVDA": 0.25}


def test_portfolio_car_is_the_weighted_mean_of_the_members_ars(setup):
    cal, panel = setup
    table, _ = chain_event_study(cal, panel, StudyConfig(pseudo_draws=0))
    import pandas as pd

    day0 = pd.Timestamp("2025-09-10")
    weights = {"ORCL": 0.5, "MSFT": 0.25, "NVDA": 0.25}
    for window in [(0, 0), (0, 1), (-1, 1)]:
        expected = sum(w * _member_ar(panel, t, day0, window).sum() for t, w in weights.items())
        row = table[(table["window_start"] == window[0]) & (table["window_end"] == window[1])]
        if row.empty:
            continue
        assert row["portfolio_car"].iloc[0] == pytest.approx(expected, abs=1e-10)
    row = table[(table["window_start"] == 0) & (table["window_end"] == 1)].iloc[0]
    assert row["members"] == 3 and row["security"] == "TRIO_CHAIN"
    assert row["members_n"] == 3 and np.isfinite(row["members_p"])
    assert row["members_statistic"] == "kp_bmp_t"  # one headline: the adjusted test
    assert 0 <= row["portfolio_p"] <= 1


def test_portfolio_returns_are_the_weighted_sum_and_missing_with_any_member():
    import pandas as pd

    r = pd.DataFrame({"A": [0.1, np.nan, 0.0], "B": [0.0, 0.2, -0.1]})
    out = portfolio_returns(r, {"A": 3.0, "B": 1.0})
    assert out.iloc[0] == pytest.approx(0.075) and np.isnan(out.iloc[1])
    assert out.iloc[2] == pytest.approx(-0.025)
