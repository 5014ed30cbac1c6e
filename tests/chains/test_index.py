"""Chain indices against hand computations on tiny price tables.

The expected values are worked out step by step here, in the order a person would do
it on paper (value held in each member, close by close), not with the code's loop.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from backtest.chains import chain_index, compare_chains, max_drawdown
from events.model import Chain, ChainMember
from tests.panels import make_panel, sessions

NAN = float("nan")
IDX = sessions("2025-03-03", 5)  # Mon 3 .. Fri 7 March 2025


def _panel():
    # A pays a 1.00 dividend on 6 March; C lists on 5 March.
    return make_panel(IDX, close={"A": [100, 110, 99, 99, 108.9], "B": [50, 50, 55, 55, 44],
                                  "C": [NAN, NAN, 20, 22, 22], "M": [10, 10, 10, 10, 10]},
                      dividend={"A": [0, 0, 0, 1.0, 0], "B": [0] * 5, "C": [0] * 5,
                                "M": [0] * 5})


def _chain(rebalance="none", **kw):
    return Chain("abc", (ChainMember("A"), ChainMember("B"),
                         ChainMember("C", start=dt.date(2025, 3, 5))), rebalance=rebalance, **kw)


def test_buy_and_hold_with_a_member_joining_and_a_dividend():
    idx = chain_index(_chain(), _panel())
    # close of 3 Mar: 1.0 split A 0.5, B 0.5
    a, b = 0.5, 0.5
    a, b = a * 1.10, b * 1.00            # 4 Mar: A +10%, B 0%
    pnl_a, pnl_b = [0.05], [0.0]
    a_prev, b_prev = a, b
    a, b = a * 0.90, b * 1.10            # 5 Mar: A -10%, B +10%
    pnl_a.append(a - a_prev)
    pnl_b.append(b - b_prev)
    total = a + b                        # C joins at this close: split in three
    assert total == pytest.approx(1.045)
    a = b = c = total / 3
    r_a = (99 + 1.0) / 99 - 1            # 6 Mar: A's dividend, C +10%
    pnl_a.append(a * r_a)
    pnl_b.append(0.0)
    pnl_c = [c * 0.10]
    a, c = a * (1 + r_a), c * 1.10
    pnl_a.append(a * 0.10)               # 7 Mar: A +10%, B -20%, C 0%
    pnl_b.append(b * -0.20)
    pnl_c.append(0.0)
    a, b = a * 1.10, b * 0.80
    expected = a + b + c - 1.0
    assert idx.total_return == pytest.approx(expected, abs=1e-12)
    assert idx.level.iloc[0] == 100.0
    assert idx.level.iloc[-1] == pytest.approx(100 * (1 + expected), abs=1e-10)
    m = idx.members.set_index("ticker")
    assert m.loc["A", "contribution"] == pytest.approx(sum(pnl_a), abs=1e-12)
    assert m.loc["B", "contribution"] == pytest.approx(sum(pnl_b), abs=1e-12)
    assert m.loc["C", "contribution"] == pytest.approx(sum(pnl_c), abs=1e-12)
    assert m["contribution"].sum() == pytest.approx(expected, abs=1e-12)
    assert list(m["weight_at_start"]) == [0.5, 0.5, 0.0]
    assert m.loc["C", "first_held"] == "2025-03-05" and m.loc["C", "sessions_held"] == 2
    assert m.loc["A", "return_while_held"] == pytest.approx(1.1 * 0.9 * (1 + r_a) * 1.1 - 1)
    # the daily returns compound to the level
    assert np.prod(1 + idx.returns.iloc[1:]) - 1 == pytest.approx(expected, abs=1e-12)


def test_daily_rebalancing_is_the_mean_of_the_members_each_day():
    idx = chain_index(_chain("daily"), _panel())
    r_a = (99 + 1.0) / 99 - 1
    days = [(0.10 + 0.0) / 2, (-0.10 + 0.10) / 2, (r_a + 0.0 + 0.10) / 3, (0.10 - 0.20 + 0) / 3]
    assert idx.total_return == pytest.approx(np.prod([1 + d for d in days]) - 1, abs=1e-12)
    assert idx.members["contribution"].sum() == pytest.approx(idx.total_return, abs=1e-12)


def test_fixed_weights_and_a_member_that_leaves():
    chain = Chain("ab", (ChainMember("A", 3.0), ChainMember("B", 1.0, end=dt.date(2025, 3, 5))),
                  weighting="fixed")
    idx = chain_index(chain, _panel())
    a, b = 0.75 * 1.10 * 0.90, 0.25 * 1.00 * 1.10     # held to the close of 5 Mar
    a = a + b                                          # B sold: everything in A
    r_a = (99 + 1.0) / 99 - 1
    assert idx.total_return == pytest.approx(a * (1 + r_a) * 1.10 - 1.0, abs=1e-12)
    assert idx.members.set_index("ticker").loc["B", "sessions_held"] == 2


def test_a_missing_close_holds_the_mark_and_the_next_close_catches_up():
    panel = make_panel(IDX, close={"A": [100, NAN, 121, 121, 121], "M": [1] * 5})
    idx = chain_index(Chain("a", (ChainMember("A"),)), panel)
    assert idx.returns.iloc[1] == 0.0 and idx.returns.iloc[2] == pytest.approx(0.21)
    assert idx.total_return == pytest.approx(0.21)
    assert idx.members["stale_days"].iloc[0] == 1


def test_start_and_end_cut_the_period_at_closes():
    idx = chain_index(Chain("a", (ChainMember("A"),)), _panel(), "2025-03-04", "2025-03-06")
    assert list(idx.level.index) == list(IDX[1:4])
    assert idx.total_return == pytest.approx(0.9 * (100 / 99) - 1, abs=1e-12)


def test_spread_is_a_minus_b_compounded_daily():
    panel = _panel()
    one, two = Chain("one", (ChainMember("A"),)), Chain("two", (ChainMember("B"),))
    cmp = compare_chains([one, two], panel, benchmark="M")
    ra = [0.10, -0.10, (99 + 1.0) / 99 - 1, 0.10]
    rb = [0.0, 0.10, 0.0, -0.20]
    spread = cmp.table.set_index("chain").loc["one - two"]
    assert spread["total_return"] == pytest.approx(
        np.prod([1 + x - y for x, y in zip(ra, rb)]) - 1, abs=1e-12)
    assert cmp.table.set_index("chain").loc["one", "total_return"] == pytest.approx(
        np.prod([1 + x for x in ra]) - 1, abs=1e-12)
    assert cmp.table.set_index("chain").loc["one", "benchmark_return"] == 0.0
    assert list(cmp.lines.columns) == ["one", "two", "one - two", "M"]


def test_max_drawdown_by_hand():
    assert max_drawdown(pd.Series([100, 120, 90, 130, 117])) == pytest.approx(90 / 120 - 1)


def test_a_chain_with_no_member_on_the_first_day_is_refused():
    from events.errors import PriceDataError

    chain = Chain("c", (ChainMember("C", start=dt.date(2025, 3, 5)),))
    with pytest.raises(PriceDataError, match="no member belongs"):
        chain_index(chain, _panel())
