"""Strategy intents and simulated P&L against hand computations."""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.sim.costs import Costs
from backtest.sim.metrics import max_drawdown, sharpe_ratio
from backtest.sim.runs import run_strategy, strategy_context
from backtest.sim.simulate import simulate
from events import parse_calendar
from strategies import get_strategy, intents_frame
from tests.panels import make_panel, sessions

IDX = sessions("2025-03-03", 8)  # Mon 2025-03-03 .. Wed 2025-03-12, no holidays


def _intent(ticker, direction, weight, entry, entry_at, exit_, exit_at, event="e1"):
    return {"event_id": event, "ticker": ticker, "direction": direction, "weight": weight,
            "entry_session": IDX[entry], "entry_at": entry_at, "exit_session": IDX[exit_],
            "exit_at": exit_at}


def test_short_two_tickers_at_open_with_fees_and_slippage():
    """Short A and B at session 1's open, cover at session 4's open; P&L worked out by hand."""
    panel = make_panel(
        IDX,
        close={"A": [100, 101, 99, 97, 95, 96, 96, 96], "B": [50, 50, 52, 53, 51, 50, 50, 50]},
        open_={"A": [100, 100, 98, 96, 94, 96, 96, 96], "B": [50, 49, 52, 52, 50, 50, 50, 50]},
    )
    intents = intents_frame([_intent("A", -1, 0.5, 1, "open", 4, "open"),
                             _intent("B", -1, 0.5, 1, "open", 4, "open")])
    fees, slip, cash = 0.001, 0.002, 100_000.0
    res = simulate(intents, panel, Costs(fees=fees, slippage=slip), init_cash=cash)

    # By hand. Both orders size off the same 100,000 at session 1's open (quoted 100 and 49).
    sh_a, sh_b = 50_000 / 100, 50_000 / 49
    in_a, in_b = 100 * (1 - slip), 49 * (1 - slip)      # sells fill below the quote
    out_a, out_b = 94 * (1 + slip), 50 * (1 + slip)     # buys to cover fill above it
    fee_a = fees * sh_a * (in_a + out_a)
    fee_b = fees * sh_b * (in_b + out_b)
    pnl_a = sh_a * (in_a - out_a) - fee_a
    pnl_b = sh_b * (in_b - out_b) - fee_b

    trades = res.trades.set_index("ticker")
    assert trades.loc["A", "pnl"] == pytest.approx(pnl_a, abs=1e-6)
    assert trades.loc["B", "pnl"] == pytest.approx(pnl_b, abs=1e-6)
    assert trades.loc["A", "fees"] == pytest.approx(fee_a, abs=1e-6)
    assert trades.loc["A", "size"] == pytest.approx(sh_a)
    assert res.equity.iloc[-1] == pytest.approx(cash + pnl_a + pnl_b, abs=1e-6)
    # Marked to market at session 2's close: cash after the shorts minus the cost to cover.
    cash_after = cash + sh_a * in_a * (1 - fees) + sh_b * in_b * (1 - fees)
    assert res.equity.loc[IDX[2]] == pytest.approx(cash_after - sh_a * 99 - sh_b * 52, abs=1e-6)


def test_close_fills_and_long_short_pair_fixed_fees():
    """Long C / short D at session 2's close, exit at session 5's close, with a fixed fee."""
    panel = make_panel(IDX, close={"C": [20, 20, 20, 21, 22, 23, 23, 23],
                                   "D": [40, 40, 40, 39, 41, 38, 38, 38]})
    intents = intents_frame([_intent("C", +1, 0.25, 2, "close", 5, "close"),
                             _intent("D", -1, 0.25, 2, "close", 5, "close")])
    res = simulate(intents, panel, Costs(fees=0.0, fixed_fees=1.5, slippage=0.0),
                   init_cash=10_000.0)
    sh_c, sh_d = 2_500 / 20, 2_500 / 40
    pnl_c = sh_c * (23 - 20) - 2 * 1.5
    pnl_d = sh_d * (40 - 38) - 2 * 1.5
    trades = res.trades.set_index("ticker")
    assert trades.loc["C", "pnl"] == pytest.approx(pnl_c)
    assert trades.loc["D", "pnl"] == pytest.approx(pnl_d)
    assert trades.loc["C", "direction"] == "long" and trades.loc["D", "direction"] == "short"
    assert res.equity.iloc[-1] == pytest.approx(10_000 + pnl_c + pnl_d)


def test_short_pays_the_dividend():
    """A short held over an ex-date loses the dividend: total-return P&L by hand."""
    close = [50.0, 50.0, 51.0, 49.0, 49.5, 49.5, 49.5, 49.5]
    div = [0, 0, 0, 1.0, 0, 0, 0, 0]  # ex-date at session 3
    panel = make_panel(IDX, close={"E": close}, dividend={"E": div})
    intents = intents_frame([_intent("E", -1, 1.0, 1, "close", 4, "close")])
    res = simulate(intents, panel, Costs(fees=0.0, slippage=0.0), init_cash=1_000.0)
    # Short 1,000 at session 1's close; the position's value follows total return.
    growth = (close[2] / close[1]) * ((close[3] + div[3]) / close[2]) * (close[4] / close[3])
    assert res.equity.iloc[-1] == pytest.approx(1_000 - 1_000 * (growth - 1), rel=1e-12)
    assert res.trades["pnl"].iloc[0] == pytest.approx(-1_000 * (growth - 1), rel=1e-12)


def test_overlapping_same_direction_extends_without_second_order():
    """A second short on a held ticker extends the exit; one trade, no double order."""
    panel = make_panel(IDX, close={"A": [10, 10, 9, 9, 8, 8, 7, 7]})
    intents = intents_frame([_intent("A", -1, 0.5, 1, "close", 3, "close", "e1"),
                             _intent("A", -1, 0.5, 2, "close", 5, "close", "e2")])
    res = simulate(intents, panel, Costs(fees=0.0, slippage=0.0), init_cash=1_000.0)
    assert len(res.trades) == 1
    trade = res.trades.iloc[0]
    assert trade["event_id"] == "e1+e2"
    assert trade["exit_time"].tz_convert("America/New_York").date() == IDX[5].date()
    assert trade["pnl"] == pytest.approx(500 / 10 * (10 - 8))


def _calendar():
    return parse_calendar({"events": [
        {"id": "bad", "date": "2025-03-03", "session": "after_close", "headline": "h",
         "source": "s", "sentiment": {"label": "bearish", "score": 70},
         "tickers": [{"ticker": "A", "role": "partner", "direction": "down"},
                     {"ticker": "B", "role": "partner", "direction": "down"},
                     {"ticker": "C", "role": "competitor", "direction": "up"}]},
        {"id": "weak", "date": "2025-03-05", "session": "before_open", "headline": "h",
         "source": "s", "sentiment": {"label": "bearish", "score": 50},
         "tickers": [{"ticker": "A", "role": "partner", "direction": "down"}]},
        {"id": "good", "timestamp": "2025-03-06T15:00:00Z", "headline": "h", "source": "s",
         "sentiment": {"label": "bullish", "score": 90},
         "tickers": [{"ticker": "B", "role": "partner", "direction": "up"}]},
    ]})


def test_short_partners_picks_bearish_partners_above_threshold():
    """Only the strong bearish event's partners are shorted, from the first fill after the news."""
    cal = _calendar()
    panel = make_panel(IDX, close={t: [10.0] * len(IDX) for t in "ABC"})
    ctx = strategy_context(cal, panel)
    intents = get_strategy("short_partners_on_bad_news", hold=2).intents(ctx)
    assert sorted(intents["ticker"]) == ["A", "B"]
    assert (intents["direction"] == -1).all() and (intents["weight"] == 0.5).all()
    # After-close news on Mon 2025-03-03 trades Tue's open; exit two sessions later at the open.
    assert (intents["entry_session"] == IDX[1]).all() and (intents["entry_at"] == "open").all()
    assert (intents["exit_session"] == IDX[3]).all() and (intents["exit_at"] == "open").all()
    lower = get_strategy("short_partners_on_bad_news", threshold="40").intents(ctx)
    assert set(lower["event_id"]) == {"bad", "weak"}


def _mixed_calendar():
    """One bearish and one bullish event whose links disagree with the label: the bearish
    news is good for B (a partner the calendar expects up) and bad for D (a competitor
    expected down); the bullish news is bad for C."""
    return parse_calendar({"events": [
        {"id": "bad", "date": "2025-03-03", "session": "after_close", "headline": "h",
         "source": "s", "sentiment": {"label": "bearish", "score": 70},
         "tickers": [{"ticker": "A", "role": "partner", "direction": "down"},
                     {"ticker": "B", "role": "partner", "direction": "up"},
                     {"ticker": "C", "role": "competitor", "direction": "up"},
                     {"ticker": "D", "role": "competitor", "direction": "down"}]},
        {"id": "good", "date": "2025-03-05", "session": "before_open", "headline": "h",
         "source": "s", "sentiment": {"label": "bullish", "score": 90},
         "tickers": [{"ticker": "B", "role": "partner", "direction": "up"},
                     {"ticker": "C", "role": "partner", "direction": "down"}]},
    ]})


def test_strategies_trade_each_link_in_its_expected_direction():
    """The label chooses the events, each link's direction the side: no built-in ever
    trades a ticker against the calendar's expectation."""
    panel = make_panel(IDX, close={t: [10.0] * len(IDX) for t in "ABCD"})
    ctx = strategy_context(_mixed_calendar(), panel)

    def sides(name, **params):
        got = get_strategy(name, **params).intents(ctx)
        return sorted(zip(got["event_id"], got["ticker"], got["direction"]))

    assert sides("short_partners_on_bad_news") == [("bad", "A", -1)]  # B is expected up
    assert sides("long_on_good_news") == [("good", "B", 1)]  # C is expected down
    assert sides("pair_trade") == [("bad", "A", -1), ("bad", "B", 1), ("bad", "C", 1),
                                   ("bad", "D", -1), ("good", "B", 1), ("good", "C", -1)]
    assert sides("pair_trade", roles="competitor") == [("bad", "C", 1), ("bad", "D", -1)]
    assert sides("pair_trade", roles="partner", labels="bullish") == [("good", "B", 1),
                                                                      ("good", "C", -1)]


def test_strategy_rejects_unknown_parameter():
    from events import InputError

    with pytest.raises(InputError, match="unknown parameter 'holdd'"):
        get_strategy("short_partners_on_bad_news", holdd=3)


def test_metrics_by_hand():
    """Sharpe and drawdown of a tiny equity curve, worked out by hand."""
    equity = pd.Series([100.0, 110.0, 99.0, 108.9])
    rets = pd.Series([0.10, -0.10, 0.10])
    mean, sd = 0.1 / 3, ((0.1 - 0.1 / 3) ** 2 * 2 + (-0.1 - 0.1 / 3) ** 2) ** 0.5 / 2 ** 0.5
    assert sharpe_ratio(rets) == pytest.approx(252 ** 0.5 * mean / sd)
    assert max_drawdown(equity) == pytest.approx(99 / 110 - 1)


def test_bundled_demo_strategy_trades_the_bad_news():
    """On the bundled data, the default strategy shorts the partners of the 3 strong bearish events."""
    from backtest.data.store import load_panel
    from events.loader import resolve_calendar

    cal = resolve_calendar("openai")
    panel = load_panel(cal)
    run = run_strategy(cal, panel, get_strategy("short_partners_on_bad_news"))
    trades = run.simulation.trades
    assert set(trades["event_id"]) == {"deepseek-r1-2025-01-27", "oracle-q2-2025-12-10",
                                       "openai-miss-2026-04-28"}
    assert run.metrics["trades"] == 10
    orcl = trades[(trades["ticker"] == "ORCL") & (trades["event_id"] == "openai-miss-2026-04-28")]
    # During-session news: ORCL is shorted at the 2026-04-28 close (raw 165.96; no dividend
    # after that date, so the total-return price is the raw one), less 5 bp slippage.
    assert orcl["entry_price"].iloc[0] == pytest.approx(165.96000671386719 * (1 - 0.0005))
    assert str(orcl["entry_time"].iloc[0]) == "2026-04-28 20:00:00+00:00"


def test_a_hedged_book_closes_every_leg_at_its_exit():
    """Short the partners with a SPY hedge on the bundled data: at the exit bar the SPY long
    must be sold before the shorts are bought back (its cash pays for them). Day 0 of
    DeepSeek R1 is 2025-01-27 (news before the open); five sessions later is 2025-02-03,
    whose open is 14:30 UTC: every leg of that event closes there, each in one trade."""
    from backtest.data import load_panel
    from backtest.sim.runs import run_strategy
    from events.loader import resolve_calendar
    from strategies import get_strategy

    cal = resolve_calendar("openai")
    run = run_strategy(cal, load_panel(cal, "SPY"),
                       get_strategy("short_partners_on_bad_news", hedge=True))
    t = run.simulation.trades
    deepseek = t[t["event_id"] == "deepseek-r1-2025-01-27"]
    assert sorted(deepseek["ticker"]) == ["NVDA", "ORCL", "SPY"]
    assert (pd.DatetimeIndex(deepseek["exit_time"])
            == pd.Timestamp("2025-02-03 14:30", tz="UTC")).all()
