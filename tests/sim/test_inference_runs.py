"""What a run and a sweep hand to the inference, checked by independent paths.

* A run's return per event is recomputed here from its trades and equity with plain
  dates (no bar rows); its inference metrics equal the inference functions on them.
* A sweep's per-combination event returns and daily returns equal those of a separate
  ``run_strategy`` of that combination; its deflated Sharpe ratio equals the formula
  on separate runs.
* Synthetic markets: an edge planted on day 0 in the expected direction is found by
  the reality check, the deflated Sharpe ratio and the walk-forward, and the chosen
  combination does not lose out of sample; with none, the sweep's best is called luck.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.data.panel import PricePanel
from backtest.data.store import load_panel
from backtest.inference import deflated_sharpe, event_inference
from backtest.sim.costs import Costs
from backtest.sim.metrics import daily_returns
from backtest.sim.runs import run_strategy
from backtest.sim.sweeps import expand_grid, run_sweep
from events import parse_calendar
from events.loader import resolve_calendar
from events.timing import event_timing, exchange_calendar
from strategies.news import LongOnGoodNews

COSTS = Costs(fees=0.0005, slippage=0.0005, borrow_rate=0.01)


@pytest.fixture(scope="module")
def bundled():
    cal = resolve_calendar("openai")
    return cal, load_panel(cal)


def _slow_event_returns(run, calendar) -> dict[str, float]:
    """Per event: its trades' P&L over the equity at the last close before the date of
    its first entry (in New York), the initial cash before the first session."""
    sim = run.simulation
    out = {}
    trades = sim.trades.assign(first=sim.trades["event_id"].str.split("+").str[0],
                               day=sim.trades["entry_time"].dt.tz_convert("America/New_York")
                               .dt.tz_localize(None).dt.normalize())
    for event_id, rows in trades.groupby("first"):
        before = sim.equity[sim.equity.index < rows["day"].min()]
        value = before.iloc[-1] if len(before) else sim.init_cash
        out[event_id] = rows["pnl"].sum() / value
    return out


def test_run_event_returns_and_inference_by_an_independent_path(bundled):
    cal, panel = bundled
    run = run_strategy(cal, panel, LongOnGoodNews(hold=5), COSTS)
    table = run.event_table.set_index("event_id")
    slow = _slow_event_returns(run, cal)
    assert set(table.index) == set(slow) and len(slow) >= 4
    for event_id, ret in slow.items():
        assert table.at[event_id, "ret"] == pytest.approx(ret, rel=1e-12)
        assert table.at[event_id, "day0"] == event_timing(cal.get(event_id)).day0
    assert table["pnl"].sum() == pytest.approx(run.simulation.trades["pnl"].sum(), rel=1e-12)
    m = run.metrics
    inf = event_inference(table["ret"].to_numpy(), table["day0"].to_numpy())
    assert m["event_mean_return"] == inf.mean and m["event_t"] == inf.t
    assert m["news_days"] == table["day0"].nunique() and m["events_traded"] == len(table)
    for key in ("psr", "alpha_annual", "alpha_t", "alpha_p"):
        assert np.isfinite(m[key]), key


def test_sweep_hands_over_what_separate_runs_give(bundled):
    cal, panel = bundled
    grid = {"hold": [1, 5], "threshold": [50, 70, 95]}
    sweep = run_sweep(cal, panel, LongOnGoodNews, grid, costs=COSTS, progress=False)
    ids = list(sweep.events.index)
    trial_sharpes = []
    for k, params in enumerate(expand_grid(grid)):
        run = run_strategy(cal, panel, LongOnGoodNews(**params), COSTS)
        trial_sharpes.append(run.metrics["sharpe"])
        got = dict(zip(ids, sweep.event_returns[:, k]))
        want = dict(zip(run.event_table["event_id"], run.event_table["ret"]))
        for event_id in ids:
            assert got[event_id] == pytest.approx(want.get(event_id, 0.0), rel=1e-12, abs=0)
        if run.metrics["trades"]:
            own = daily_returns(run.simulation.equity, run.simulation.init_cash)
            pd.testing.assert_series_equal(sweep.returns_of(k), own, check_names=False,
                                           check_freq=False, rtol=1e-12)
        else:  # threshold 95: no bullish event scores that high
            assert len(sweep.returns_of(k)) == 0 and not sweep.event_returns[:, k].any()
    inf = sweep.inference("sharpe")
    best = int(np.nanargmax(trial_sharpes))
    assert inf.best == best and inf.trials == 6
    run = run_strategy(cal, panel, LongOnGoodNews(**expand_grid(grid)[best]), COSTS)
    dsr, sr0 = deflated_sharpe(daily_returns(run.simulation.equity, 100_000.0).to_numpy(),
                               np.array(trial_sharpes) / np.sqrt(252))
    assert inf.dsr == pytest.approx(dsr, rel=1e-10) and inf.sr0 == pytest.approx(sr0, rel=1e-10)
    # one calendar for the reality check: zero where a combination is flat
    assert (sweep.daily.iloc[:, sweep.series[5]] == 0).all()  # hold 5, threshold 95: no trades


# --------------------------------------------------------------------------------------
# synthetic markets: a planted edge, and none
# --------------------------------------------------------------------------------------


def _synthetic(edge: float, seed: int):
    """Ten stocks on 600 NYSE sessions with independent N(0, 2%) returns and SPY N(0, 1%);
    40 bullish/bearish events on random sessions, each linking one stock with its expected
    direction (bullish: up); the stock's day-0 return moves ``edge`` that way (open to
    close: news before the open, first fill at the day-0 open)."""
    rng = np.random.default_rng(seed)
    sessions = pd.DatetimeIndex(exchange_calendar().sessions_in_range("2022-01-03",
                                                                      "2024-12-31")[:600],
                                name="date")
    n = len(sessions)
    tickers = [f"S{i}" for i in range(10)]
    rets = {t: rng.normal(0, 0.02, n) for t in tickers}
    rets["SPY"] = rng.normal(0, 0.01, n)
    day_pos = np.sort(rng.choice(np.arange(50, n - 20), 40, replace=False))
    events = []
    for i, pos in enumerate(day_pos):
        label = "bullish" if rng.random() < 0.5 else "bearish"
        t = tickers[i % 10]
        sign = 1 if label == "bullish" else -1
        rets[t][pos] += sign * edge
        events.append({"id": f"e{i:02d}", "date": str(sessions[pos].date()),
                       "session": "before_open", "headline": f"synthetic {i}", "source": "test",
                       "sentiment": {"label": label, "score": int(rng.integers(50, 100))},
                       "tickers": [{"ticker": t, "role": "partner",
                                    "direction": "up" if sign > 0 else "down"}]})
    close = pd.DataFrame({t: 100 * np.cumprod(1 + r) for t, r in rets.items()}, index=sessions)
    # the open is the previous close: the whole day-0 move happens in the session
    open_ = close.shift(1).fillna(100.0)
    panel = PricePanel(open_, close, pd.DataFrame(0.0, index=sessions, columns=close.columns),
                       pd.Series(False, index=close.columns), {t: "synthetic" for t in close})
    return parse_calendar({"name": "synthetic", "events": events}), panel


class _BothWays(LongOnGoodNews):
    """Trade every event in its expected direction (bullish and bearish)."""

    name = "both_ways"
    labels = ("bullish", "bearish")


@pytest.mark.parametrize("edge,real", [(0.03, True), (0.0, False)], ids=["edge", "none"])
def test_planted_edge_is_found_and_none_is_called_luck(edge, real):
    cal, panel = _synthetic(edge, seed=21 if real else 22)
    grid = {"hold": [1, 2, 3], "threshold": [50, 60, 70, 80]}
    sweep = run_sweep(cal, panel, _BothWays, grid, {"fill": "next_open"}, Costs(),
                      progress=False)
    inf = sweep.inference("sharpe", folds=3)
    if real:
        assert inf.reality.spa_p < 0.05 and inf.dsr > 0.95, inf.as_metrics()
        # every combination shares the edge, so which one is best is partly luck (PBO is
        # about the choice among them), but the chosen one never lost out of sample
        assert inf.overfitting.pbo < 0.5 and inf.overfitting.oos_loss < 0.05
        assert inf.walkforward.out_of_sample.mean > 0.01 and inf.walkforward.out_of_sample.p < 0.05
        assert not inf.luck()
    else:
        assert inf.luck(), inf.as_metrics()
        assert inf.reality.spa_p > 0.05
