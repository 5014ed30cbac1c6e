"""News strategies on minute bars (backtest.intraday.trading), against hand computations.

Synthetic NYSE minute bars (tests/minute_bars.py) with a planted ORCL jump of -3% (log) in
the 15:37 UTC bar of 2026-04-28: that bar opens at the previous close, before the
jump, and closes after it; the 15:38 bar opens after it. News at 15:36 UTC with 60 s
latency enters at the 15:37 open, with 120 s at the 15:38 open. Every P&L is worked out
from the bar prices by hand (shares = weight x value / quote, fills moved by slippage,
fees on the filled notional), and one multi-session run is held to a plain
``vectorbt.Portfolio.from_orders`` call over every bar.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.intraday.bars import IntradayBars
from backtest.data.panel import PricePanel
from backtest.sim.costs import Costs
from backtest.intraday.trading import (IntradayExecution, intraday_audit, intraday_orders,
                                   run_intraday)
from backtest.sim.runs import strategy_context
from events import ConfigError, parse_calendar
from strategies import get_strategy
from strategies.news import ShortPartnersOnBadNews
from tests.minute_bars import minute_bars

UTC = "UTC"
JUMP = ("2026-04-28 15:37", math.log(0.97))
FEES, SLIP, CASH = 0.001, 0.002, 100_000.0
TICKERS = ["ORCL", "CRWV", "GOOGL"]


def _long(first="2026-04-27", last="2026-04-29", jumps=None, seed=1):
    return minute_bars(TICKERS, first, last, jumps={"ORCL": [JUMP]} if jumps is None else jumps,
                       seed=seed)


def _bars(long):
    return IntradayBars.from_long(long, pd.Timedelta("1min"))


def _daily(long) -> PricePanel:
    """Daily open and close from the minute bars: the session's first open, last close."""
    t = pd.DatetimeIndex(long["timestamp"]).tz_convert("America/New_York")
    g = long.assign(date=t.normalize().tz_localize(None)).groupby(["date", "ticker"])
    open_, close = g["open"].first().unstack(), g["close"].last().unstack()
    return PricePanel(open_, close, close * 0.0, pd.Series(False, index=close.columns),
                      {c: "test" for c in close})


def _event(id_, when=None, links=(("ORCL", "partner", "down"),), label="bearish", score=65,
           **timing):
    event = {"id": id_, "headline": "h", "source": "s",
             "sentiment": {"label": label, "score": score},
             "tickers": [{"ticker": t, "role": r, "direction": d} for t, r, d in links]}
    event.update({"timestamp": when} if when else timing)
    return event


def _ctx(events, long):
    return strategy_context(parse_calendar({"events": events}), _daily(long))


PARTNERS = (("ORCL", "partner", "down"), ("CRWV", "partner", "down"),
            ("GOOGL", "competitor", "up"))


@pytest.fixture(scope="module")
def week():
    long = _long()
    return long, _bars(long)


def _at(bars, field, when, ticker):
    return float(getattr(bars, field).at[pd.Timestamp(when, tz=UTC), ticker])


def _short_pnl(shares, quote_in, quote_out):
    """A short by hand: sold at quote_in x (1 - slippage), bought back at
    quote_out x (1 + slippage), fees on both filled notionals."""
    sold, bought = quote_in * (1 - SLIP), quote_out * (1 + SLIP)
    fees = FEES * shares * (sold + bought)
    return shares * (sold - bought) - fees, fees


# --------------------------------------------------------------------------------------
# the fill rule, latency and the planted jump
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("latency,entry", [("60s", "15:37"), ("120s", "15:38")])
def test_latency_chooses_the_bar_before_or_after_the_jump(week, latency, entry):
    """Short ORCL and CRWV (the partners expected down; GOOGL, a competitor, is not a
    partner) half each, exit at the close: P&L, fees and equity by hand."""
    long, bars = week
    ctx = _ctx([_event("miss", "2026-04-28T15:36:00Z", PARTNERS)], long)
    run = run_intraday(get_strategy("short_partners_on_bad_news"), ctx, bars,
                       IntradayExecution.parse(latency=latency, exit="close"),
                       Costs(fees=FEES, slippage=SLIP), CASH)
    t = run.trades.set_index("ticker")
    assert sorted(t.index) == ["CRWV", "ORCL"] and (t["side"] == -1).all()
    when = f"2026-04-28 {entry}"
    assert (t["entry_time"] == pd.Timestamp(when, tz=UTC)).all()
    # 2026-04-28 is a full day: the close is 16:00 New York, 20:00 UTC (the 19:59 bar)
    assert (t["exit_time"] == pd.Timestamp("2026-04-28 20:00", tz=UTC)).all()
    assert (t["exit_reason"] == "close").all()
    total = 0.0
    for ticker in ("ORCL", "CRWV"):
        quote_in = _at(bars, "open", when, ticker)
        quote_out = _at(bars, "close", "2026-04-28 19:59", ticker)
        shares = 0.5 * CASH / quote_in  # both orders size off the same 100,000
        pnl, fees = _short_pnl(shares, quote_in, quote_out)
        assert t.at[ticker, "size"] == pytest.approx(shares, rel=1e-12)
        assert t.at[ticker, "entry_price"] == pytest.approx(quote_in * (1 - SLIP), rel=1e-12)
        assert t.at[ticker, "exit_price"] == pytest.approx(quote_out * (1 + SLIP), rel=1e-12)
        assert t.at[ticker, "fees"] == pytest.approx(fees, rel=1e-9)
        assert t.at[ticker, "pnl"] == pytest.approx(pnl, rel=1e-9, abs=1e-6)
        total += pnl
    assert run.equity.iloc[-1] == pytest.approx(CASH + total, rel=1e-12)
    assert run.metrics["total_return"] == pytest.approx(total / CASH, rel=1e-9)


def test_the_jump_is_the_difference_between_60s_and_120s(week):
    """ORCL's short P&L at 60 s minus that at 120 s, by hand: the 15:37 open is before the
    -3% jump, the 15:38 open after it, so the earlier short earns about 3% of 50,000 more."""
    long, bars = week
    ctx = _ctx([_event("miss", "2026-04-28T15:36:00Z")], long)
    pnl = {}
    for latency in ("60s", "120s"):
        run = run_intraday(get_strategy("short_partners_on_bad_news"), ctx, bars,
                           IntradayExecution.parse(latency, "close"),
                           Costs(fees=FEES, slippage=SLIP), CASH)
        pnl[latency] = float(run.trades["pnl"].iat[0])
    o37, o38 = _at(bars, "open", "2026-04-28 15:37", "ORCL"), _at(bars, "open",
                                                                   "2026-04-28 15:38", "ORCL")
    out = _at(bars, "close", "2026-04-28 19:59", "ORCL")
    assert 0.965 < o38 / o37 < 0.975  # the planted jump, plus one minute of noise
    by_hand = _short_pnl(CASH / o37, o37, out)[0] - _short_pnl(CASH / o38, o38, out)[0]
    assert pnl["60s"] - pnl["120s"] == pytest.approx(by_hand, rel=1e-9)
    assert 0.02 * CASH < by_hand < 0.04 * CASH


def test_latency_zero_and_seconds(week):
    """Latency 0: news at 15:36:00 enters at the 15:36 bar (it opens at the news); news at
    16:36:20 enters at 16:37 (the 16:36 bar opened before the news)."""
    long, bars = week
    ctx = _ctx([_event("a", "2026-04-28T15:36:00Z"), _event("b", "2026-04-28T16:36:20Z")],
               long)
    orders, _ = intraday_orders(get_strategy("short_partners_on_bad_news"), ctx, bars,
                                IntradayExecution(latency=pd.Timedelta(0)))
    entry = orders.set_index("event_id")["entry_time"]
    assert entry["a"] == pd.Timestamp("2026-04-28 15:36", tz=UTC)
    assert entry["b"] == pd.Timestamp("2026-04-28 16:37", tz=UTC)
    assert _at(bars, "open", "2026-04-28 15:36", "ORCL") == \
        orders.set_index("event_id").at["a", "entry_price"]


def test_news_outside_the_session_enters_the_next_first_bar(week):
    """After the close (21:00 UTC): the next session's first bar, 13:30 UTC; before the
    open with the latency running past it (13:29:30 + 60 s): the 13:31 bar; a weekend
    is not involved here, the grid has no bars outside sessions."""
    long, bars = week
    ctx = _ctx([_event("late", "2026-04-28T21:00:00Z"),
                _event("early", "2026-04-29T13:29:30Z"),
                _event("dawn", "2026-04-29T11:00:00Z")], long)
    orders, _ = intraday_orders(get_strategy("short_partners_on_bad_news"), ctx, bars,
                                IntradayExecution.parse("60s", "30m"))
    entry = orders.set_index("event_id")["entry_time"]
    assert entry["late"] == pd.Timestamp("2026-04-29 13:30", tz=UTC)
    assert entry["dawn"] == pd.Timestamp("2026-04-29 13:30", tz=UTC)
    assert entry["early"] == pd.Timestamp("2026-04-29 13:31", tz=UTC)


# --------------------------------------------------------------------------------------
# exits
# --------------------------------------------------------------------------------------


def test_horizon_exit_and_horizon_past_the_close(week):
    """exit=30m: entry 15:37, exit at the 16:07 open; news at 19:45 enters 19:46, and
    19:46 + 30m is past the last bar: the close at 20:00 (``session_end``)."""
    long, bars = week
    ctx = _ctx([_event("mid", "2026-04-28T15:36:00Z"), _event("late", "2026-04-27T19:45:00Z")],
               long)
    run = run_intraday(get_strategy("short_partners_on_bad_news"), ctx, bars,
                       IntradayExecution.parse("60s", "30m"), Costs(fees=FEES, slippage=SLIP),
                       CASH)
    o = run.orders.set_index("event_id")
    assert o.at["mid", "exit_time"] == pd.Timestamp("2026-04-28 16:07", tz=UTC)
    assert o.at["mid", "exit_reason"] == "horizon"
    assert o.at["mid", "exit_price"] == _at(bars, "open", "2026-04-28 16:07", "ORCL")
    assert o.at["late", "exit_time"] == pd.Timestamp("2026-04-27 20:00", tz=UTC)
    assert o.at["late", "exit_reason"] == "session_end"
    assert o.at["late", "exit_price"] == _at(bars, "close", "2026-04-27 19:59", "ORCL")
    # 'late' (04-27) trades first with all the cash; 'mid' sizes off what it left
    t = run.trades.set_index("event_id")
    q = _at(bars, "open", "2026-04-27 19:46", "ORCL")
    pnl_late = _short_pnl(CASH / q, q, o.at["late", "exit_price"])[0]
    q2 = _at(bars, "open", "2026-04-28 15:37", "ORCL")
    pnl_mid = _short_pnl((CASH + pnl_late) / q2, q2, o.at["mid", "exit_price"])[0]
    assert t.at["late", "pnl"] == pytest.approx(pnl_late, rel=1e-9)
    assert t.at["mid", "pnl"] == pytest.approx(pnl_mid, rel=1e-9)
    assert run.equity.iloc[-1] == pytest.approx(CASH + pnl_late + pnl_mid, rel=1e-12)


def test_early_close_exits_at_1300_new_york():
    """2025-11-28 (the day after Thanksgiving) closes at 13:00 New York, 18:00 UTC: the
    close exit is the 17:59 bar's close."""
    long = _long("2025-11-26", "2025-11-28", jumps={})
    bars = _bars(long)
    ctx = _ctx([_event("friday", "2025-11-28T15:00:00Z")], long)
    orders, _ = intraday_orders(get_strategy("short_partners_on_bad_news"), ctx, bars,
                                IntradayExecution.parse("60s", "close"))
    row = orders.iloc[0]
    assert row["entry_time"] == pd.Timestamp("2025-11-28 15:01", tz=UTC)
    assert row["exit_time"] == pd.Timestamp("2025-11-28 18:00", tz=UTC)
    assert row["exit_price"] == _at(bars, "close", "2025-11-28 17:59", "ORCL")
    assert bars.index[bars.index.normalize() == pd.Timestamp("2025-11-28", tz=UTC)][-1] == \
        pd.Timestamp("2025-11-28 17:59", tz=UTC)


# --------------------------------------------------------------------------------------
# skipped, refused, deterministic
# --------------------------------------------------------------------------------------


def test_skipped_with_reasons():
    """A date+session event has no minute; a ticker without minute bars, and one with no
    open at the entry bar, are skipped; the rest of the event still trades."""
    long = _long()
    gap = (long["ticker"] == "CRWV") & (long["timestamp"] == pd.Timestamp("2026-04-28 15:37",
                                                                           tz=UTC))
    bars = _bars(long[~gap])
    links = PARTNERS[:2] + (("AMD", "partner", "down"),)
    ctx = _ctx([_event("flag", date="2026-04-28", session="after_close"),
                _event("miss", "2026-04-28T15:36:00Z", links),
                _event("weak", "2026-04-28T16:00:00Z", score=40)], long)
    run = run_intraday(get_strategy("short_partners_on_bad_news"), ctx, bars)
    reasons = {(r.event_id, r.ticker): r.reason for r in run.skipped.itertuples()}
    assert reasons[("flag", "")].startswith("no publication minute")
    assert reasons[("miss", "AMD")] == "no minute bars"
    assert reasons[("miss", "CRWV")].startswith("no price at the entry bar 2026-04-28 15:37")
    assert len(reasons) == 3  # 'weak' fails the threshold: not traded, not "skipped"
    assert list(run.trades["ticker"]) == ["ORCL"]
    # as the daily intents: a ticker without prices is left out before sizing (half each
    # for ORCL and CRWV); CRWV's entry cannot fill, so its half stays in cash
    assert run.orders["weight"].iat[0] == pytest.approx(1 / 2)
    assert "skipped 3: 1 no minute bars; 1 no price at the entry bar; 1 no publication " \
        "minute" in run.summary()


@pytest.mark.parametrize("kwargs,field", [
    ({"latency": "-5s"}, "latency"), ({"latency": "2d"}, "latency"),
    ({"latency": 60}, "latency"), ({"latency": "soon"}, "latency"),
    ({"exit": "0m"}, "exit"), ({"exit": "2d"}, "exit"), ({"exit": "open"}, "exit"),
    ({"exit": pd.Timedelta("-1min")}, "exit"), ({"latency": pd.NaT}, "latency"),
])
def test_bad_latency_or_exit_is_refused(kwargs, field):
    with pytest.raises(ConfigError) as err:
        IntradayExecution.parse(**kwargs)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ") and "\n" not in str(err.value)


def test_settings_are_read():
    ex = IntradayExecution.parse("90s", "1h")
    assert ex.latency == pd.Timedelta(seconds=90) and ex.horizon == pd.Timedelta(hours=1)
    assert IntradayExecution.parse("0", "CLOSE").horizon is None
    assert IntradayExecution().latency == pd.Timedelta(seconds=60)
    assert IntradayExecution.parse("500ms", "30 min").exit == pd.Timedelta(minutes=30)
    assert ex.text() == "latency 90s, exit after 60m"


def test_strategies_without_an_intraday_form_are_refused(week):
    long, bars = week
    ctx = _ctx([_event("miss", "2026-04-28T15:36:00Z")], long)
    with pytest.raises(ConfigError, match="strategy: fade_the_reaction decides after"):
        run_intraday(get_strategy("fade_the_reaction"), ctx, bars)
    with pytest.raises(ConfigError, match="stop: "):
        run_intraday(get_strategy("short_partners_on_bad_news", stop=0.05), ctx, bars)


def _same_metrics(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]) or (isinstance(a[k], float) and math.isnan(a[k])
                                  and math.isnan(b[k])), k


def test_deterministic(week):
    long, bars = week
    events = [_event(f"e{i}", f"2026-04-2{7 + i % 3}T1{4 + i}:1{i}:00Z", PARTNERS)
              for i in range(5)]
    args = (get_strategy("pair_trade"), _ctx(events, long), bars,
            IntradayExecution.parse("60s", "45m"), Costs(fees=FEES, slippage=SLIP), CASH)
    one, two = run_intraday(*args), run_intraday(*args)
    pd.testing.assert_frame_equal(one.orders, two.orders)
    pd.testing.assert_frame_equal(one.trades, two.trades)
    pd.testing.assert_series_equal(one.equity, two.equity)
    _same_metrics(one.metrics, two.metrics)
    assert one.summary() == two.summary()


# --------------------------------------------------------------------------------------
# metrics and an independent vectorbt run
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many():
    """Six events over three sessions, two partners each, 30-minute horizon."""
    long = _long()
    events = [_event(f"e{i}", f"2026-04-{27 + i // 2}T{14 + 2 * (i % 2)}:0{i}:00Z",
                     PARTNERS[:2]) for i in range(6)]
    ctx = _ctx(events, long)
    bars = _bars(long)
    run = run_intraday(get_strategy("short_partners_on_bad_news"), ctx, bars,
                       IntradayExecution.parse("60s", "30m"), Costs(fees=FEES, slippage=SLIP),
                       CASH)
    return bars, run


def test_per_trade_t_is_clustered_by_event(many):
    """The per-trade t by hand: OLS on a constant, errors clustered by event with the
    small-sample factor G/(G-1) (n-1)/(n-k) (Cameron and Miller 2015, Sec. VI.B; k = 1)."""
    _, run = many
    r = run.trades["return"].to_numpy()
    g = run.trades["event_id"].to_numpy()
    n, groups = len(r), np.unique(g)
    G = len(groups)
    u = r - r.mean()
    meat = sum(u[g == k].sum() ** 2 for k in groups)
    se = math.sqrt(G / (G - 1) * (n - 1) / (n - 1) * meat / n ** 2)
    m = run.metrics
    assert m["trades"] == 12 and m["events_traded"] == 6 and m["news_days"] == 3
    assert m["avg_trade_return"] == pytest.approx(r.mean(), rel=1e-12)
    assert m["trade_t"] == pytest.approx(r.mean() / se, rel=1e-9)
    assert m["hit_rate"] == pytest.approx((run.trades["pnl"] > 0).mean())
    assert m["trade_ci_lo"] < m["avg_trade_return"] < m["trade_ci_hi"]  # 6 events >= 5
    assert math.isnan(m["event_ci_lo"])  # 3 news days: too few for an interval
    assert "6 independent events, not 12 trades" in run.summary()


def test_equals_one_portfolio_from_orders_over_every_bar(many):
    """The session-by-session simulation equals one plain ``Portfolio.from_orders`` over
    all bars of the three sessions (two rows a bar, open then close; one column per
    order; cash shared): equity at every bar close and each trade's P&L."""
    import vectorbt as vbt

    bars, run = many
    o = run.orders
    index = bars.index
    stamps = np.column_stack([index, index + pd.Timedelta("30s")]).ravel()
    cols = [f"{e}:{t}" for e, t in zip(o["event_id"], o["ticker"])]
    price = pd.DataFrame({c: np.column_stack([bars.open[t], bars.close[t]]).ravel()
                          for c, t in zip(cols, o["ticker"])}, index=stamps)
    size = pd.DataFrame(np.nan, index=stamps, columns=cols)
    for c, row in zip(cols, o.itertuples()):
        size.at[row.entry_time, c] = row.side * row.weight  # an open row
        exit_row = row.exit_time if row.exit_reason == "horizon" else \
            index[index < row.exit_time][-1] + pd.Timedelta("30s")
        size.at[exit_row, c] = 0.0
    pf = vbt.Portfolio.from_orders(close=price, size=size, size_type="targetpercent",
                                   direction="both", fees=FEES, slippage=SLIP, init_cash=CASH,
                                   cash_sharing=True, group_by=True, call_seq="auto",
                                   update_value=False, ffill_val_price=True)
    value = pf.value().to_numpy()[1::2]  # after each bar's close
    assert np.allclose(run.equity.to_numpy(), pd.Series(value, index=index)
                       .reindex(run.equity.index).to_numpy(), rtol=1e-12)
    assert value[-1] == pytest.approx(run.equity.iloc[-1], rel=1e-12)
    pnl = pf.trades.records_readable.groupby("Column")["PnL"].sum().reindex(cols).to_numpy()
    assert np.allclose(pnl, run.trades["pnl"].to_numpy(), rtol=1e-10)


# --------------------------------------------------------------------------------------
# the look-ahead audit
# --------------------------------------------------------------------------------------


class PeekingShort(ShortPartnersOnBadNews):
    """A leak on purpose: picks each partner's side from its close five minutes after the
    news (short if it fell, buy if it rose), read straight from ``ctx.bars``."""

    name = "peeking_short"

    def picks(self, event, ctx):
        out = []
        for lt in self.selected(event):
            closes = ctx.bars.close[lt.ticker]
            before = closes[closes.index < event.timestamp]
            after = closes[closes.index >= event.timestamp + pd.Timedelta("5min")]
            if len(before) and len(after):
                out.append((lt, -1 if after.iloc[0] < before.iloc[-1] else +1))
        return out


def _audit_ctx(week):
    long, bars = week
    events = [_event("miss", "2026-04-28T15:36:00Z", PARTNERS),
              _event("good", "2026-04-27T17:00:00Z", [("ORCL", "partner", "up"),
                                                      ("GOOGL", "partner", "up")],
                     label="bullish", score=80),
              _event("both", "2026-04-29T13:00:00Z", PARTNERS),
              _event("flag", date="2026-04-28", session="during_session")]
    return _ctx(events, long), bars


def test_audit_catches_a_strategy_that_peeks_at_later_bars(week):
    ctx, bars = _audit_ctx(week)
    leaks = intraday_audit(PeekingShort(), ctx, bars)
    assert set(leaks["kind"]) == {"changed_or_missing"}
    assert set(leaks["event_id"]) == {"miss", "both"}
    assert {"ORCL", "CRWV"} <= set(leaks["ticker"])
    assert "when data end at 2026-04-28 15:37:00+00:00" in \
        leaks[leaks["event_id"] == "miss"]["detail"].iat[0]


@pytest.mark.parametrize("name,params", [
    ("short_partners_on_bad_news", {}), ("long_on_good_news", {}), ("pair_trade", {}),
    ("short_partners_on_bad_news", {"sizing": "vol"}),
], ids=["short", "long", "pair", "short-vol"])
def test_builtins_pass_the_audit(week, name, params):
    ctx, bars = _audit_ctx(week)
    strategy = get_strategy(name, **params)
    orders, _ = intraday_orders(strategy, ctx, bars)
    assert len(orders)  # the audit has something to check
    leaks = intraday_audit(strategy, ctx, bars, IntradayExecution.parse("120s", "30m"))
    assert leaks.empty, leaks.to_string()


def test_hedge_leg_and_vol_sizing_are_decided_at_the_news():
    """With 20+ daily returns before the news, ``hedge=True`` adds a SPY leg against the
    partners' beta exposure, entering and leaving with them; the audit finds no leak."""
    long = _long("2026-03-25", "2026-04-29")
    bars = _bars(long)
    ctx = _ctx([_event("miss", "2026-04-28T15:36:00Z", PARTNERS)], long)
    strategy = get_strategy("short_partners_on_bad_news", hedge=True, sizing="vol")
    execution = IntradayExecution.parse("60s", "30m")
    orders, _ = intraday_orders(strategy, ctx, bars, execution)
    hedge = orders[orders["leg"] == "hedge"]
    assert list(hedge["ticker"]) == ["SPY"] and hedge["side"].iat[0] == +1
    assert orders["entry_time"].nunique() == 1 and orders["exit_time"].nunique() == 1
    main = orders[orders["leg"] == "main"]
    assert main["weight"].sum() == pytest.approx(1.0) and main["weight"].nunique() == 2
    assert intraday_audit(strategy, ctx, bars, execution).empty


def test_audit_flags_an_entry_before_news_plus_latency(week, monkeypatch):
    """A fill rule that entered a bar early would be caught (the rule patched here)."""
    from backtest.intraday.trading import orders as module

    ctx, bars = _audit_ctx(week)
    rule = module.entry_bar

    def early(exchange, interval, when):
        bar, session = rule(exchange, interval, when)
        return bar - interval, session

    monkeypatch.setattr(module, "entry_bar", early)
    leaks = intraday_audit(get_strategy("short_partners_on_bad_news"), ctx, bars)
    assert set(leaks["kind"]) == {"before_news"}
    assert "before the news plus latency 2026-04-28 15:37:00+00:00" in leaks["detail"].iat[0]


def test_a_long_sold_pays_for_a_short_bought_back_at_the_same_bar():
    """Short AAA and long BBB, each the whole equity; AAA rises 5% before the exit. At the
    exit bar the long must be sold before the short is bought back (its cash pays for it):
    P&L by hand, -1,000 x (100 e^0.05 - 100), and the book flat after the exit."""
    from backtest.intraday.trading.run import simulate_orders
    from backtest.sim.costs import Costs

    long = minute_bars(["AAA", "BBB"], "2026-04-28", "2026-04-28", sigma=0.0, market_sigma=0.0,
                       jumps={"AAA": [("2026-04-28 15:00", 0.05), ("2026-04-28 19:00", 0.10)]})
    bars = IntradayBars.from_long(long, pd.Timedelta("1min"))
    t = pd.Timestamp("2026-04-28 14:00", tz="UTC")
    orders = pd.DataFrame({
        "event_id": ["e", "e"], "ticker": ["AAA", "BBB"], "side": [-1, 1], "weight": [1.0, 1.0],
        "entry_time": [t, t], "entry_price": [np.nan, np.nan],
        "exit_time": [t + pd.Timedelta(hours=2)] * 2, "exit_price": [np.nan, np.nan],
        "exit_reason": ["horizon", "horizon"], "leg": ["main", "main"],
        "decided_at": [t - pd.Timedelta(minutes=1)] * 2})
    trades, equity, notes = simulate_orders(orders, bars, Costs(fees=0.0, slippage=0.0), 100_000)
    loss = 1000 * (100 * np.exp(0.05) - 100)
    aaa = trades[trades["ticker"] == "AAA"]
    assert len(aaa) == 1 and aaa["size"].iloc[0] == pytest.approx(1000)
    assert aaa["pnl"].iloc[0] == pytest.approx(-loss, rel=1e-9)
    assert equity.iloc[-1] == pytest.approx(100_000 - loss, rel=1e-9)  # AAA's later +10%: not ours
    assert not notes
