"""Execution rules of the simulator and the built-in strategies' intents, by hand.

Every expected number below is worked out in this file from the tiny price tables
(plain arithmetic, ``np.std`` / ``np.polyfit`` on hand-computed returns); nothing is
taken from the code under test. Conventions checked (see backtest/simulate.py):

* ``targetpercent`` sizing: ``shares = weight * V / quote`` with ``V`` the portfolio
  value at that bar *before* any of its orders (cash + positions at the bar's quote);
* slippage moves the fill against us, ``fees`` is a fraction of the filled notional,
  ``fixed_fees`` is added per fill;
* borrow: at each close at which a short is held overnight,
  ``shares * close * rate * calendar days to the next session / 360`` (ACT/360).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.sim.costs import Costs
from backtest.sim.metrics import cagr, daily_returns, max_drawdown, sortino_ratio, summarize
from backtest.sim.results import SimulationResult
from backtest.sim.runs import run_strategy, strategy_context
from backtest.sim.simulate import simulate
from events import parse_calendar
from strategies import get_strategy, intents_frame
from tests.panels import make_panel, sessions

# Tue 2025-04-15 .. Thu 2025-05-01; Good Friday 2025-04-18 is a holiday.
IDX = sessions("2025-04-15", 12)
NO_COSTS = Costs(fees=0.0, fixed_fees=0.0, slippage=0.0)
CASH = 100_000.0


def test_sessions_are_the_ones_the_hand_computations_assume():
    assert [str(d.date()) for d in IDX] == [
        "2025-04-15", "2025-04-16", "2025-04-17", "2025-04-21", "2025-04-22", "2025-04-23",
        "2025-04-24", "2025-04-25", "2025-04-28", "2025-04-29", "2025-04-30", "2025-05-01"]


def _intent(ticker, direction, weight, entry, entry_at, exit_, exit_at, event="e1",
            stop=np.nan, idx=IDX):
    return {"event_id": event, "ticker": ticker, "direction": direction, "weight": weight,
            "entry_session": idx[entry], "entry_at": entry_at, "exit_session": idx[exit_],
            "exit_at": exit_at, "stop": stop}


def _utc(session, at):
    """Exchange open/close of a session in UTC (New York is on EDT in April: 13:30/20:00)."""
    return pd.Timestamp(f"{session.date()} {'13:30' if at == 'open' else '20:00'}", tz="UTC")


# --------------------------------------------------------------------------------------
# borrow (ACT/360), to the cent
# --------------------------------------------------------------------------------------

BORROW_CLOSE = {
    "A": [50, 50, 52, 51, 53, 54, 52, 50, 49, 48, 48, 48],
    "B": [20, 20, 21, 22, 21, 20, 20, 20, 20, 20, 20, 20],
    "C": [80, 80, 81, 82, 83, 84, 85, 86, 87, 88, 88, 88],
}
BORROW_OPEN = {
    "A": [50, 50, 51, 51, 52, 54, 53, 51, 49.5, 48, 48, 48],
    "B": [20, 20, 20.5, 21.5, 21.5, 20, 20, 20, 20, 20, 20, 20],
    "C": [80, 79, 81, 82, 83, 84, 85, 86, 87, 88, 88, 88],
}


def test_borrow_to_the_cent_over_weekend_holiday_and_weekdays():
    """Short A (weight 0.4) from Wed 04-16's close to Mon 04-28's open at 5%/yr, short B
    (0.3) from Thu 04-17's open to Tue 04-22's close at its override 12%/yr, long C (0.2)
    from 04-16's open to 04-29's close (a long pays no borrow). Every number by hand."""
    panel = make_panel(IDX, close=BORROW_CLOSE, open_=BORROW_OPEN)
    intents = intents_frame([_intent("A", -1, 0.4, 1, "close", 8, "open", "ea"),
                             _intent("B", -1, 0.3, 2, "open", 4, "close", "eb"),
                             _intent("C", +1, 0.2, 1, "open", 9, "close", "ec")])
    costs = Costs(fees=0.0, fixed_fees=0.0, slippage=0.0, borrow_rate=0.05,
                  borrow_overrides=(("B", 0.12),))
    res = simulate(intents, panel, costs, init_cash=CASH)
    cA, cB, cC = BORROW_CLOSE["A"], BORROW_CLOSE["B"], BORROW_CLOSE["C"]
    oA, oB, oC = BORROW_OPEN["A"], BORROW_OPEN["B"], BORROW_OPEN["C"]

    # Sizes. C at 04-16's open off the initial cash.
    sh_c = 0.2 * CASH / oC[1]                         # quoted 79 at 04-16s open
    cash = CASH - sh_c * oC[1]
    # A at 04-16's close: V = cash + C marked at its close.
    v = cash + sh_c * cC[1]
    sh_a = 0.4 * v / cA[1]
    cash += sh_a * cA[1]
    # B at 04-17's open: V = cash + C at its open - A at its open.
    v = cash + sh_c * oC[2] - sh_a * oA[2]
    sh_b = 0.3 * v / oB[2]

    # Calendar days from each close to the next session, by hand from the dates:
    # 04-16 -> 04-17: 1, 04-17 -> 04-21 (Good Friday + weekend): 4, 04-21..04-24: 1 each,
    # 04-25 (Fri) -> 04-28 (Mon): 3.
    days = {1: 1, 2: 4, 3: 1, 4: 1, 5: 1, 6: 1, 7: 3}
    # A is short at the closes of sessions 1..7 (it covers at session 8's open).
    per_close_a = {s: sh_a * cA[s] * 0.05 * days[s] / 360 for s in range(1, 8)}
    # B is short at the closes of sessions 2 and 3 (it covers at session 4's close).
    per_close_b = {s: sh_b * cB[s] * 0.12 * days[s] / 360 for s in (2, 3)}
    borrow_a, borrow_b = sum(per_close_a.values()), sum(per_close_b.values())
    assert borrow_a == pytest.approx(sh_a * 0.05 / 360 * (50 + 52 * 4 + 51 + 53 + 54 + 52
                                                          + 50 * 3))
    assert borrow_b == pytest.approx(sh_b * 0.12 / 360 * (21 * 4 + 22))

    trades = res.trades.set_index("ticker")
    assert len(trades) == 3
    assert trades.loc["A", "borrow"] == pytest.approx(borrow_a, abs=1e-6)
    assert trades.loc["B", "borrow"] == pytest.approx(borrow_b, abs=1e-6)
    assert trades.loc["C", "borrow"] == 0.0
    assert round(trades.loc["A", "borrow"], 2) == round(borrow_a, 2)
    assert round(trades.loc["B", "borrow"], 2) == round(borrow_b, 2)

    # P&L net of borrow, and sizes.
    gross_a = sh_a * (cA[1] - oA[8])
    gross_b = sh_b * (oB[2] - cB[4])
    gross_c = sh_c * (cC[9] - oC[1])
    assert trades.loc["A", "size"] == pytest.approx(sh_a, rel=1e-12)
    assert trades.loc["B", "size"] == pytest.approx(sh_b, rel=1e-12)
    assert trades.loc["A", "pnl"] == pytest.approx(gross_a - borrow_a, abs=1e-6)
    assert trades.loc["B", "pnl"] == pytest.approx(gross_b - borrow_b, abs=1e-6)
    assert trades.loc["C", "pnl"] == pytest.approx(gross_c, abs=1e-6)

    # Equity: the simulated sessions are 04-16 .. 04-29; final = cash + all P&L - borrow.
    assert list(res.equity.index) == list(IDX[1:10])
    final = CASH + gross_a + gross_b + gross_c - borrow_a - borrow_b
    assert res.equity.iloc[-1] == pytest.approx(final, abs=1e-6)
    # Mid-way, at 04-21's close (session 3): positions marked at the close, borrow charged
    # at the closes of sessions 1, 2 and 3 already paid.
    cash3 = CASH - sh_c * oC[1] + sh_a * cA[1] + sh_b * oB[2]
    paid3 = per_close_a[1] + per_close_a[2] + per_close_a[3] + per_close_b[2] + per_close_b[3]
    eq3 = cash3 + sh_c * cC[3] - sh_a * cA[3] - sh_b * cB[3] - paid3
    assert res.equity.loc[IDX[3]] == pytest.approx(eq3, abs=1e-6)

    m = summarize(res)
    assert m["borrow_paid"] == pytest.approx(borrow_a + borrow_b, abs=1e-6)
    assert m["final_equity"] == pytest.approx(final, abs=1e-6)
    assert m["fees_paid"] == 0.0


def test_borrow_rate_zero_and_per_ticker_override_only():
    """borrow_rate 0 with an override for A only: B pays nothing; A pays its override."""
    panel = make_panel(IDX, close=BORROW_CLOSE, open_=BORROW_OPEN)
    intents = intents_frame([_intent("A", -1, 0.5, 4, "close", 6, "close"),
                             _intent("B", -1, 0.5, 4, "close", 6, "close")])
    res = simulate(intents, panel, Costs(fees=0, slippage=0, borrow_overrides=(("a", 0.36),)),
                   init_cash=CASH)
    sh_a = 0.5 * CASH / BORROW_CLOSE["A"][4]
    # closes of 04-22 and 04-23, one calendar day each; lower-case override is upper-cased
    expected = sh_a * 0.36 / 360 * (BORROW_CLOSE["A"][4] + BORROW_CLOSE["A"][5])
    trades = res.trades.set_index("ticker")
    assert trades.loc["A", "borrow"] == pytest.approx(expected, abs=1e-9)
    assert trades.loc["B", "borrow"] == 0.0


def test_borrow_with_overlap_add_is_counted_once():
    """overlap='add', two shorts on A: e1 0.5 from 04-16's open to 04-23's close, e2 0.5 from
    04-17's open to 04-21's close, borrow 36%/yr. The position is short sh1 shares at the
    close of 04-16, sh2 at 04-17 (4 days to 04-21), sh3 at 04-21 and 04-22, none at 04-23's
    close. The borrow charged (equity) is that sum once; the trades' borrow column and the
    metrics' borrow_paid must add up to the same amount, and the trades' net P&L to the
    equity change."""
    close = BORROW_CLOSE["A"]
    open_ = BORROW_OPEN["A"]
    panel = make_panel(IDX, close={"A": close}, open_={"A": open_})
    intents = intents_frame([_intent("A", -1, 0.5, 1, "open", 5, "close", "e1"),
                             _intent("A", -1, 0.5, 2, "open", 3, "close", "e2")])
    costs = Costs(fees=0.0, slippage=0.0, borrow_rate=0.36)
    res = simulate(intents, panel, costs, CASH, overlap="add")
    sh1 = 0.5 * CASH / open_[1]
    cash = CASH + sh1 * open_[1]
    v2 = cash - sh1 * open_[2]
    sh2 = 1.0 * v2 / open_[2]
    cash += (sh2 - sh1) * open_[2]
    v3 = cash - sh2 * close[3]               # 04-21's close: back to 50% short
    sh3 = 0.5 * v3 / close[3]
    cash -= (sh2 - sh3) * close[3]
    final_before_borrow = cash - sh3 * close[5]
    borrow = 0.36 / 360 * (sh1 * close[1] * 1 + sh2 * close[2] * 4 + sh3 * close[3] * 1
                           + sh3 * close[4] * 1)
    assert res.equity.iloc[-1] == pytest.approx(final_before_borrow - borrow, abs=1e-6)
    assert res.trades["borrow"].sum() == pytest.approx(borrow, abs=1e-6)
    assert summarize(res)["borrow_paid"] == pytest.approx(borrow, abs=1e-6)
    assert res.trades["pnl"].sum() == pytest.approx(res.equity.iloc[-1] - CASH, abs=1e-6)


# --------------------------------------------------------------------------------------
# fills at the open and at the close, fees, fixed fees and slippage
# --------------------------------------------------------------------------------------


def test_open_and_close_fills_with_fees_fixed_fees_and_slippage():
    """Long X from 04-16's open to 04-17's close; short Y from 04-17's close to 04-22's
    open. Y's size comes off the value at 04-17's close *before* that bar's orders
    (X still held, marked at its close)."""
    close = {"X": [40, 40, 42, 43, 44, 44, 44, 44, 44, 44, 44, 44],
             "Y": [25, 25, 24, 26, 23, 23, 23, 23, 23, 23, 23, 23]}
    open_ = {"X": [40, 41, 41.5, 43, 44, 44, 44, 44, 44, 44, 44, 44],
             "Y": [25, 25, 24.5, 25.5, 23.5, 23, 23, 23, 23, 23, 23, 23]}
    panel = make_panel(IDX, close=close, open_=open_)
    fee, fixed, slip = 0.001, 2.0, 0.002
    intents = intents_frame([_intent("X", +1, 0.5, 1, "open", 2, "close", "ex"),
                             _intent("Y", -1, 0.5, 2, "close", 4, "open", "ey")])
    res = simulate(intents, panel, Costs(fees=fee, fixed_fees=fixed, slippage=slip),
                   init_cash=CASH)

    sh_x = 0.5 * CASH / 41                        # quote 41 at 04-16's open
    in_x = 41 * (1 + slip)                        # a buy fills above the quote
    fee_in_x = fee * sh_x * in_x + fixed
    cash = CASH - sh_x * in_x - fee_in_x
    v = cash + sh_x * 42                          # value at 04-17's close, before orders
    sh_y = 0.5 * v / 24                           # Y quoted 24 at that close
    out_x = 42 * (1 - slip)
    fee_out_x = fee * sh_x * out_x + fixed
    in_y = 24 * (1 - slip)                        # a short sale fills below the quote
    fee_in_y = fee * sh_y * in_y + fixed
    out_y = 23.5 * (1 + slip)                     # covering buys above the 04-22 open
    fee_out_y = fee * sh_y * out_y + fixed
    pnl_x = sh_x * (out_x - in_x) - fee_in_x - fee_out_x
    pnl_y = sh_y * (in_y - out_y) - fee_in_y - fee_out_y

    t = res.trades.set_index("ticker")
    assert t.loc["X", "size"] == pytest.approx(sh_x, rel=1e-12)
    assert t.loc["Y", "size"] == pytest.approx(sh_y, rel=1e-12)
    assert t.loc["X", "entry_price"] == pytest.approx(in_x, rel=1e-12)
    assert t.loc["X", "exit_price"] == pytest.approx(out_x, rel=1e-12)
    assert t.loc["Y", "entry_price"] == pytest.approx(in_y, rel=1e-12)
    assert t.loc["Y", "exit_price"] == pytest.approx(out_y, rel=1e-12)
    assert t.loc["X", "fees"] == pytest.approx(fee_in_x + fee_out_x, rel=1e-10)
    assert t.loc["Y", "fees"] == pytest.approx(fee_in_y + fee_out_y, rel=1e-10)
    assert t.loc["X", "pnl"] == pytest.approx(pnl_x, abs=1e-6)
    assert t.loc["Y", "pnl"] == pytest.approx(pnl_y, abs=1e-6)
    assert t.loc["X", "entry_time"] == _utc(IDX[1], "open")
    assert t.loc["X", "exit_time"] == _utc(IDX[2], "close")
    assert t.loc["Y", "entry_time"] == _utc(IDX[2], "close")
    assert t.loc["Y", "exit_time"] == _utc(IDX[4], "open")
    assert t.loc["X", "direction"] == "long" and t.loc["Y", "direction"] == "short"
    assert res.equity.iloc[-1] == pytest.approx(CASH + pnl_x + pnl_y, abs=1e-6)
    m = summarize(res)
    assert m["fees_paid"] == pytest.approx(fee_in_x + fee_out_x + fee_in_y + fee_out_y,
                                           rel=1e-10)
    assert m["trades"] == 2 and m["hit_rate"] == pytest.approx(
        ((pnl_x > 0) + (pnl_y > 0)) / 2)


# --------------------------------------------------------------------------------------
# overlap rules on one ticker
# --------------------------------------------------------------------------------------

OV_CLOSE = {"A": [10, 10, 11, 12, 13, 14, 15, 16, 16, 16, 16, 16]}
OV_OPEN = {"A": [10, 10.5, 10.8, 11.5, 12.5, 13.5, 14.5, 15.5, 16, 16, 16, 16]}


def _overlap_intents():
    # e1: long 0.5 from 04-16's open to 04-21's open; e2: long 0.5 from 04-17's open to
    # 04-23's close (enters while e1 is held).
    return intents_frame([_intent("A", +1, 0.5, 1, "open", 3, "open", "e1"),
                          _intent("A", +1, 0.5, 2, "open", 5, "close", "e2")])


def test_overlap_extend_one_trade_no_second_order():
    panel = make_panel(IDX, close=OV_CLOSE, open_=OV_OPEN)
    res = simulate(_overlap_intents(), panel, NO_COSTS, CASH, overlap="extend")
    assert len(res.trades) == 1
    t = res.trades.iloc[0]
    sh = 0.5 * CASH / 10.5
    assert t["event_id"] == "e1+e2"
    assert t["size"] == pytest.approx(sh, rel=1e-12)
    assert t["entry_price"] == pytest.approx(10.5, rel=1e-12)  # 04-16's open
    assert t["exit_price"] == pytest.approx(14, rel=1e-12)  # 04-23's close
    assert t["entry_time"] == _utc(IDX[1], "open") and t["exit_time"] == _utc(IDX[5], "close")
    assert t["pnl"] == pytest.approx(sh * (14 - 10.5), rel=1e-12)
    # orders only at the first entry and the extended exit: no order at 04-17 or 04-21
    traded = res.traded[res.traded > 0]
    assert list(traded.index) == [IDX[1], IDX[5]]
    assert traded.iloc[0] == pytest.approx(sh * 10.5) and traded.iloc[1] == pytest.approx(sh * 14)
    assert not any("dropped" in n for n in res.notes)


def test_overlap_extend_drops_opposite_direction():
    panel = make_panel(IDX, close=OV_CLOSE, open_=OV_OPEN)
    intents = intents_frame([_intent("A", +1, 0.5, 1, "open", 3, "open", "e1"),
                             _intent("A", -1, 0.5, 2, "open", 5, "close", "e2")])
    res = simulate(intents, panel, NO_COSTS, CASH, overlap="extend")
    assert len(res.trades) == 1 and res.trades.iloc[0]["event_id"] == "e1"
    assert res.trades.iloc[0]["exit_price"] == pytest.approx(11.5, rel=1e-12)  # e1's exit
    assert any("e2" in n and "dropped" in n and "opposite" in n for n in res.notes)


def test_overlap_skip_drops_second_intent_with_a_note():
    panel = make_panel(IDX, close=OV_CLOSE, open_=OV_OPEN)
    res = simulate(_overlap_intents(), panel, NO_COSTS, CASH, overlap="skip")
    assert len(res.trades) == 1
    t = res.trades.iloc[0]
    sh = 0.5 * CASH / 10.5
    assert t["event_id"] == "e1"
    assert t["entry_price"] == pytest.approx(10.5, rel=1e-12)
    assert t["exit_price"] == pytest.approx(11.5, rel=1e-12)  # e1's exit, 04-21's open
    assert t["pnl"] == pytest.approx(sh * (11.5 - 10.5), rel=1e-12)
    notes = [n for n in res.notes if "e2" in n]
    assert len(notes) == 1 and "dropped" in notes[0] and "e1" in notes[0]
    assert res.equity.iloc[-1] == pytest.approx(CASH + sh * 1.0, rel=1e-12)
    assert list(res.traded[res.traded > 0].index) == [IDX[1], IDX[3]]


def test_overlap_add_targets_add_up():
    """'add': 0.5 from 04-16's open, +0.5 from 04-17's open (target 1.0: the position is
    100% of equity), back to 0.5 at 04-21's open when e1 ends, 0 at 04-23's close.
    targetpercent: shares = target * V / quote at each bar, V before that bar's orders."""
    panel = make_panel(IDX, close=OV_CLOSE, open_=OV_OPEN)
    res = simulate(_overlap_intents(), panel, NO_COSTS, CASH, overlap="add")
    c, o = OV_CLOSE["A"], OV_OPEN["A"]
    sh1 = 0.5 * CASH / o[1]
    cash = CASH - sh1 * o[1]
    v2 = cash + sh1 * o[2]                 # value at 04-17's open
    sh2 = 1.0 * v2 / o[2]                  # target 100% of equity
    cash -= (sh2 - sh1) * o[2]
    assert cash == pytest.approx(0.0, abs=1e-9)
    v3 = cash + sh2 * o[3]                 # 04-21's open: back to 50%
    sh3 = 0.5 * v3 / o[3]
    cash += (sh2 - sh3) * o[3]
    final = cash + sh3 * c[5]              # all sold at 04-23's close

    # position value / equity at each close: 04-16 (0.5 of the open value), 04-17 (1.0)
    exp = res.exposure
    assert exp.loc[IDX[1]] == pytest.approx(sh1 * c[1] / (CASH - sh1 * o[1] + sh1 * c[1]))
    assert exp.loc[IDX[2]] == pytest.approx(1.0, rel=1e-12)
    assert exp.loc[IDX[3]] == pytest.approx(sh3 * c[3] / (cash + sh3 * c[3]), rel=1e-12)
    assert res.equity.loc[IDX[2]] == pytest.approx(sh2 * c[2], rel=1e-12)
    assert res.equity.iloc[-1] == pytest.approx(final, rel=1e-12)
    # one order per bar where the target changes: 04-16, 04-17, 04-21, 04-23
    traded = res.traded[res.traded > 0]
    assert list(traded.index) == [IDX[1], IDX[2], IDX[3], IDX[5]]
    assert traded.loc[IDX[2]] == pytest.approx((sh2 - sh1) * o[2], rel=1e-12)
    assert traded.loc[IDX[3]] == pytest.approx((sh2 - sh3) * o[3], rel=1e-12)
    assert res.trades["pnl"].sum() == pytest.approx(final - CASH, rel=1e-9)


# --------------------------------------------------------------------------------------
# stops
# --------------------------------------------------------------------------------------


def test_stop_on_a_short_exits_at_the_next_open():
    """Short S at 04-16's open (quote 100), stop 5%: closes 103 (3% against), then 106 (6%)
    on 04-21 -> exit at 04-22's open (105) instead of 04-25's open. A long L with a 5% stop
    whose worst close is 4.9% down keeps its planned exit."""
    close = {"S": [100, 103, 103, 106, 104, 102, 101, 100, 100, 100, 100, 100],
             "L": [100, 100, 98, 95.1, 96, 99, 101, 102, 102, 102, 102, 102]}
    open_ = {"S": [100, 100, 104, 104, 105, 103, 101, 99, 100, 100, 100, 100],
             "L": [100, 100, 99, 97, 96, 97, 100, 103, 102, 102, 102, 102]}
    panel = make_panel(IDX, close=close, open_=open_)
    intents = intents_frame([_intent("S", -1, 0.5, 1, "open", 7, "open", "es", stop=0.05),
                             _intent("L", +1, 0.3, 1, "open", 7, "open", "el", stop=0.05)])
    res = simulate(intents, panel, NO_COSTS, CASH)
    t = res.trades.set_index("ticker")
    sh_s, sh_l = 0.5 * CASH / 100, 0.3 * CASH / 100
    assert t.loc["S", "exit_time"] == _utc(IDX[4], "open")
    assert t.loc["S", "exit_price"] == pytest.approx(105, rel=1e-12)
    assert t.loc["S", "pnl"] == pytest.approx(sh_s * (100 - 105), rel=1e-12)
    assert t.loc["L", "exit_time"] == _utc(IDX[7], "open")
    assert t.loc["L", "pnl"] == pytest.approx(sh_l * (103 - 100), rel=1e-12)
    notes = [n for n in res.notes if "stop" in n]
    assert len(notes) == 1 and "es S" in notes[0]


def test_strategy_stop_parameter_reaches_the_intents_and_the_exit():
    """short_partners_on_bad_news with stop=0.05: the intent carries stop 0.05 and the short
    is stopped out the same way (entry 04-16's open after news on 04-15 after the close)."""
    close = {"S": [100, 100, 103, 106, 104, 102, 101, 100, 100, 100, 100, 100]}
    open_ = {"S": [100, 100, 101, 104, 105, 103, 101, 99, 100, 100, 100, 100]}
    panel = make_panel(IDX, close=close, open_=open_)
    cal = parse_calendar({"events": [_event("bad", "2025-04-15", "after_close", "bearish", 80,
                                            [("S", "partner", "down")])]})
    strat = get_strategy("short_partners_on_bad_news", stop=0.05, hold=6)
    run = run_strategy(cal, panel, strat, NO_COSTS, CASH)
    assert run.intents["stop"].tolist() == [0.05]
    t = run.simulation.trades.iloc[0]
    # 04-17 close 103 (3%), 04-21 close 106 (6%) -> exit at 04-22's open, 105
    assert t["exit_time"] == _utc(IDX[4], "open")
    assert t["pnl"] == pytest.approx(CASH / 100 * (100 - 105), rel=1e-12)
    assert get_strategy("short_partners_on_bad_news").intents(
        strategy_context(cal, panel))["stop"].isna().all()


# --------------------------------------------------------------------------------------
# strategies: sizing, hedge, pair trade, fade, fill modes
# --------------------------------------------------------------------------------------


def _event(eid, date, session, label, score, tickers, timestamp=None):
    ev = {"id": eid, "headline": "h", "source": "s",
          "sentiment": {"label": label, "score": score},
          "tickers": [{"ticker": t, "role": r, "direction": d} for t, r, d in tickers]}
    if timestamp is not None:
        ev["timestamp"] = timestamp
    else:
        ev["date"], ev["session"] = date, session
    return ev


def test_notional_sizing_shares_are_notional_over_quote():
    """sizing='notional', notional=10000: each position buys 10000 / quote shares (targetvalue),
    with fees and slippage on the fill (not on the size)."""
    close = {"A": [50, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60],
             "B": [8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]}
    open_ = {"A": [50, 49, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60],
             "B": [8, 8.2, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]}
    panel = make_panel(IDX, close=close, open_=open_)
    cal = parse_calendar({"events": [_event("good", "2025-04-16", "before_open", "bullish", 90,
                                            [("A", "partner", "up"), ("B", "partner", "up")])]})
    strat = get_strategy("long_on_good_news", sizing="notional", notional=10_000.0, hold=2)
    assert strat.execution() == {"overlap": "extend", "notional": True}
    run = run_strategy(cal, panel, strat, Costs(fees=0.001, slippage=0.001), CASH)
    assert run.intents["weight"].tolist() == [10_000.0, 10_000.0]
    t = run.simulation.trades.set_index("ticker")
    assert t.loc["A", "size"] == pytest.approx(10_000 / 49, rel=1e-12)
    assert t.loc["B", "size"] == pytest.approx(10_000 / 8.2, rel=1e-12)
    assert t.loc["A", "entry_price"] == pytest.approx(49 * 1.001, rel=1e-12)


def _walk(seed, n, tickers, vols):
    """Deterministic test prices: closes from seeded normal returns with per-ticker vols."""
    rng = np.random.default_rng(seed)
    return {t: list(100 * np.cumprod(1 + rng.normal(0.0005, v, n))) for t, v in zip(tickers, vols)}


def _hand_returns(closes):
    return [math.nan] + [closes[i] / closes[i - 1] - 1 for i in range(1, len(closes))]


LONG_IDX = sessions("2025-01-02", 40)


def test_vol_sizing_before_open_entry():
    """sizing='vol', vol_lookback=10, before-open news on session 30: the entry is session
    30's open, so the known returns end at session 29; weights are gross * (1/sd_i) /
    sum_j (1/sd_j), sd = np.std(ddof=1) of returns 20..29 computed by hand."""
    closes = _walk(1, 40, ["A", "B", "C"], [0.01, 0.02, 0.04])
    panel = make_panel(LONG_IDX, close=closes)
    day0 = LONG_IDX[30]
    cal = parse_calendar({"events": [_event("bad", str(day0.date()), "before_open", "bearish",
                                            90, [(t, "partner", "down") for t in "ABC"])]})
    strat = get_strategy("short_partners_on_bad_news", sizing="vol", vol_lookback=10,
                         gross=0.9, hold=3)
    intents = strat.intents(strategy_context(cal, panel)).set_index("ticker")
    inv = {t: 1 / np.std(_hand_returns(closes[t])[20:30], ddof=1) for t in "ABC"}
    total = sum(inv.values())
    for t in "ABC":
        assert intents.loc[t, "weight"] == pytest.approx(0.9 * inv[t] / total, rel=1e-10), t
    assert intents["weight"].sum() == pytest.approx(0.9)
    assert (intents["entry_session"] == day0).all() and (intents["entry_at"] == "open").all()


def test_vol_sizing_during_session_entry_uses_vol_lookback_known_returns():
    """During-session news on session 30: the entry is session 30's close, and the returns
    known before it are those up to session 29 (session 30's close is not printed yet). The
    last vol_lookback = 10 known returns are 20..29, as for a before-open entry."""
    closes = _walk(2, 40, ["A", "B"], [0.01, 0.03])
    panel = make_panel(LONG_IDX, close=closes)
    day0 = LONG_IDX[30]
    cal = parse_calendar({"events": [_event("bad", str(day0.date()), "during_session",
                                            "bearish", 90,
                                            [(t, "partner", "down") for t in "AB"])]})
    strat = get_strategy("short_partners_on_bad_news", sizing="vol", vol_lookback=10, hold=3)
    intents = strat.intents(strategy_context(cal, panel)).set_index("ticker")
    assert (intents["entry_at"] == "close").all()
    inv = {t: 1 / np.std(_hand_returns(closes[t])[20:30], ddof=1) for t in "AB"}
    for t in "AB":
        assert intents.loc[t, "weight"] == pytest.approx(inv[t] / sum(inv.values()),
                                                         rel=1e-10), t


def test_beta_hedge_one_spy_intent_per_event():
    """hedge=True, beta_lookback=25: one SPY intent per event, weight |sum beta_i dir_i w_i|
    and the opposite sign; beta = np.polyfit(r_SPY, r_i, 1) slope over returns 5..29 (the 25
    known before session 30's open), by hand."""
    closes = _walk(3, 40, ["SPY", "A", "B"], [0.01, 0.015, 0.02])
    # make the tickers load on SPY so the betas are far from 0
    spy_r = _hand_returns(closes["SPY"])
    for t, b in (("A", 1.5), ("B", 0.7)):
        own = _hand_returns(closes[t])
        closes[t] = list(100 * np.cumprod([1.0] + [1 + b * spy_r[i] + 0.5 * own[i]
                                                   for i in range(1, 40)]))
    panel = make_panel(LONG_IDX, close=closes)
    cal = parse_calendar({"events": [
        _event("good", str(LONG_IDX[30].date()), "before_open", "bullish", 90,
               [("A", "partner", "up"), ("B", "partner", "up")]),
        _event("good2", str(LONG_IDX[33].date()), "before_open", "bullish", 90,
               [("A", "partner", "up")])]})
    strat = get_strategy("long_on_good_news", hedge=True, beta_lookback=25, hold=2,
                         overlap="add")
    intents = strat.intents(strategy_context(cal, panel))
    hedges = intents[intents["leg"] == "hedge"]
    assert len(hedges) == 2 and set(hedges["ticker"]) == {"SPY"}
    assert set(hedges["event_id"]) == {"good", "good2"}
    spy = np.array(_hand_returns(closes["SPY"]))
    for eid, pos, legs in (("good", 30, {"A": 0.5, "B": 0.5}), ("good2", 33, {"A": 1.0})):
        x = spy[pos - 25:pos]
        exposure = 0.0
        for t, w in legs.items():
            y = np.array(_hand_returns(closes[t]))[pos - 25:pos]
            exposure += np.polyfit(x, y, 1)[0] * (+1) * w
        h = hedges[hedges["event_id"] == eid].iloc[0]
        assert exposure > 0.5
        assert h["weight"] == pytest.approx(abs(exposure), rel=1e-9)
        assert h["direction"] == -1
        assert h["entry_session"] == LONG_IDX[pos] and h["entry_at"] == "open"
        assert h["exit_session"] == LONG_IDX[pos + 2] and math.isnan(h["stop"])
    assert (intents[intents["leg"] == "main"]["direction"] == 1).all()


def test_beta_hedge_during_session_entry_uses_beta_lookback_known_returns():
    """During-session news on session 30 enters at its close; the returns known before that
    fill are 1..29, so the hedge beta is the np.polyfit slope over the last beta_lookback = 25
    of them (5..29), exactly as for a before-open entry on the same day."""
    closes = _walk(4, 40, ["SPY", "A"], [0.01, 0.02])
    spy_r = _hand_returns(closes["SPY"])
    own = _hand_returns(closes["A"])
    closes["A"] = list(100 * np.cumprod([1.0] + [1 + 1.2 * spy_r[i] + 0.5 * own[i]
                                                 for i in range(1, 40)]))
    panel = make_panel(LONG_IDX, close=closes)
    cal = parse_calendar({"events": [
        _event("good", str(LONG_IDX[30].date()), "during_session", "bullish", 90,
               [("A", "partner", "up")])]})
    intents = get_strategy("long_on_good_news", hedge=True, beta_lookback=25, hold=2).intents(
        strategy_context(cal, panel))
    h = intents[intents["leg"] == "hedge"].iloc[0]
    assert h["entry_at"] == "close"
    beta = np.polyfit(np.array(spy_r[5:30]), np.array(_hand_returns(closes["A"])[5:30]), 1)[0]
    assert h["weight"] == pytest.approx(beta, rel=1e-9)


def test_pair_trade_bearish_two_partners_one_competitor():
    """Bearish news: partners P1, P2 short 0.25 each, competitor K long 0.5 (gross 1 split half
    per side); a supplier is not traded. Bullish news: the reverse."""
    panel = make_panel(IDX, close={t: [10.0] * 12 for t in ("P1", "P2", "K", "S")})
    cal = parse_calendar({"events": [
        _event("bad", "2025-04-16", "before_open", "bearish", 80,
               [("P1", "partner", "down"), ("P2", "partner", "down"),
                ("K", "competitor", "up"), ("S", "supplier", "down")]),
        _event("good", "2025-04-23", "before_open", "bullish", 80,
               [("P1", "partner", "up"), ("K", "competitor", "down")])]})
    intents = get_strategy("pair_trade", hold=2).intents(strategy_context(cal, panel))
    got = {(r.event_id, r.ticker): (r.direction, r.weight) for r in intents.itertuples()}
    assert got == {("bad", "P1"): (-1, 0.25), ("bad", "P2"): (-1, 0.25),
                   ("bad", "K"): (1, 0.5), ("good", "P1"): (1, 0.5), ("good", "K"): (-1, 0.5)}


def test_fade_the_reaction_enters_next_open_against_day0_move():
    """Before-open news on 04-17 (day 0): U rose 10% close-to-close on day 0 -> short, D fell
    -> long, F unchanged -> no trade. Entry at 04-21's open (day +1), whatever ``fill``."""
    close = {"U": [10, 10, 11, 11, 10, 10, 10, 10, 10, 10, 10, 10],
             "D": [10, 10, 9.5, 9.5, 12, 12, 12, 12, 12, 12, 12, 12],
             "F": [10] * 12}  # day 0 is IDX[2]; the later moves must not matter
    panel = make_panel(IDX, close=close)
    cal = parse_calendar({"events": [_event("n", "2025-04-17", "before_open", "neutral", 80,
                                            [(t, "partner", "up") for t in "UDF"])]})
    for fill in ("auto", "next_close"):
        intents = get_strategy("fade_the_reaction", hold=2, fill=fill).intents(
            strategy_context(cal, panel)).set_index("ticker")
        assert set(intents.index) == {"U", "D"}
        assert intents.loc["U", "direction"] == -1 and intents.loc["D", "direction"] == 1
        assert (intents["entry_session"] == IDX[3]).all()
        assert (intents["entry_at"] == "open").all()
        assert (intents["exit_session"] == IDX[5]).all()
        assert (intents["weight"] == 0.5).all()


def test_fill_modes():
    """auto: during-session news fills at day 0's close, before-open news at day 0's open.
    next_open: the during-session news waits for day +1's open. next_close: the before-open
    news fills at day 0's close. Exits are ``hold`` sessions later at the same bar."""
    panel = make_panel(IDX, close={"A": [10.0] * 12, "B": [10.0] * 12})
    cal = parse_calendar({"events": [
        _event("during", "2025-04-16", "during_session", "bearish", 80, [("A", "partner", "down")]),
        _event("before", "2025-04-23", "before_open", "bearish", 80, [("B", "partner", "down")])]})
    ctx = strategy_context(cal, panel)

    def entries(fill):
        i = get_strategy("short_partners_on_bad_news", hold=2, fill=fill).intents(ctx)
        return {r.event_id: (r.entry_session, r.entry_at, r.exit_session, r.exit_at)
                for r in i.itertuples()}

    assert entries("auto") == {"during": (IDX[1], "close", IDX[3], "close"),
                               "before": (IDX[5], "open", IDX[7], "open")}
    assert entries("next_open") == {"during": (IDX[2], "open", IDX[4], "open"),
                                    "before": (IDX[5], "open", IDX[7], "open")}
    assert entries("next_close") == {"during": (IDX[1], "close", IDX[3], "close"),
                                     "before": (IDX[5], "close", IDX[7], "close")}


# --------------------------------------------------------------------------------------
# metrics by hand
# --------------------------------------------------------------------------------------


def test_metrics_by_hand_on_a_small_equity_curve():
    """Equity 1000 -> 1020, 1000, 1030, 1010, 1050 over 5 sessions from 1000 cash, exposure
    on 3 of them; benchmark daily returns given on more dates than simulated (only the
    simulated sessions count)."""
    idx = IDX[2:7]
    equity = pd.Series([1020.0, 1000.0, 1030.0, 1010.0, 1050.0], index=idx)
    exposure = pd.Series([0.5, 0.0, 1.0, 0.0, 0.25], index=idx)
    trades = pd.DataFrame({"pnl": [30.0, -10.0, 30.0], "return": [0.03, -0.01, 0.02],
                           "fees": [1.0, 2.0, 0.5], "borrow": [0.0, 0.25, 0.0]})
    sim = SimulationResult(equity, trades, 1000.0, NO_COSTS, [], exposure,
                           pd.Series([500.0, 0, 1000.0, 0, 0], index=idx))
    bench = pd.Series([0.5, 0.01, -0.02, 0.03, 0.0, 0.01, 0.9], index=IDX[1:8])
    m = summarize(sim, bench)

    r = [1020 / 1000 - 1, 1000 / 1020 - 1, 1030 / 1000 - 1, 1010 / 1030 - 1, 1050 / 1010 - 1]
    mean = sum(r) / 5
    down = math.sqrt(sum(min(x, 0.0) ** 2 for x in r) / 5)
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 4)
    growth = (1050 / 1000) ** (252 / 5) - 1
    mdd = 1000 / 1020 - 1  # the worst fall from a peak (1030 -> 1010 is smaller)
    assert 1010 / 1030 - 1 > mdd
    assert m["total_return"] == pytest.approx(0.05)
    assert m["cagr"] == pytest.approx(growth, rel=1e-12)
    assert m["sharpe"] == pytest.approx(math.sqrt(252) * mean / sd, rel=1e-12)
    assert m["sortino"] == pytest.approx(math.sqrt(252) * mean / down, rel=1e-12)
    assert m["max_drawdown"] == pytest.approx(mdd, rel=1e-12)
    assert m["calmar"] == pytest.approx(growth / abs(mdd), rel=1e-12)
    assert m["exposure"] == pytest.approx(3 / 5)
    assert m["avg_gross_exposure"] == pytest.approx(1.75 / 5)
    assert m["hit_rate"] == pytest.approx(2 / 3)
    assert m["avg_trade_return"] == pytest.approx(0.04 / 3)
    assert m["fees_paid"] == pytest.approx(3.5) and m["borrow_paid"] == pytest.approx(0.25)
    assert m["turnover"] == pytest.approx(1500 / (sum(equity) / 5) / (5 / 252), rel=1e-12)
    bench_total = (1 + 0.01) * (1 - 0.02) * (1 + 0.03) * (1 + 0.0) * (1 + 0.01) - 1
    assert m["benchmark_return"] == pytest.approx(bench_total, rel=1e-12)
    assert m["excess_return"] == pytest.approx(0.05 - bench_total, rel=1e-12)
    assert m["sessions"] == 5 and m["final_equity"] == 1050.0
    # the small functions agree with the same hand numbers
    rets = daily_returns(equity, 1000.0)
    assert list(rets) == pytest.approx(r)
    assert sortino_ratio(rets) == pytest.approx(math.sqrt(252) * mean / down, rel=1e-12)
    assert cagr(equity, 1000.0) == pytest.approx(growth, rel=1e-12)
    assert max_drawdown(pd.concat([pd.Series([1000.0]), equity])) == pytest.approx(mdd)


def test_run_strategy_benchmark_return_is_spy_over_the_simulated_sessions():
    """run_strategy's benchmark_return = prod(1 + r_SPY) - 1 over the sessions the strategy
    is simulated on (entry session .. exit session), r_SPY from SPY's closes by hand."""
    spy = [400, 404, 402, 410, 405, 408, 420, 415, 418, 421, 430, 428]
    panel = make_panel(IDX, close={"SPY": spy, "A": [10.0 + i for i in range(12)]})
    cal = parse_calendar({"events": [_event("good", "2025-04-17", "before_open", "bullish", 90,
                                            [("A", "partner", "up")])]})
    run = run_strategy(cal, panel, get_strategy("long_on_good_news", hold=3), NO_COSTS, CASH)
    sims = list(run.simulation.equity.index)
    assert sims == list(IDX[2:6])
    expected = math.prod(spy[i] / spy[i - 1] for i in range(2, 6)) - 1
    assert run.metrics["benchmark_return"] == pytest.approx(expected, rel=1e-12)
    # long A at 04-17's open (12) to 04-23's open (15), everything in
    assert run.metrics["total_return"] == pytest.approx(15 / 12 - 1, rel=1e-12)


def test_a_combinations_segments_are_those_flatnonzero_finds():
    """Segments.rows_of(k) against np.flatnonzero(combo == k), in order, for unsorted
    combinations (the 'add' rule keeps the intents' order), repeats and absent ones."""
    from backtest.sim.execution import Segments

    rng = np.random.default_rng(5)
    combo = rng.integers(0, 40, 500)
    z = np.zeros(500)
    seg = Segments(combo, z, z, z, z, np.array(["e"] * 500, dtype=object), disjoint=False)
    for k in range(-1, 42):
        np.testing.assert_array_equal(seg.rows_of(k), np.flatnonzero(combo == k))
