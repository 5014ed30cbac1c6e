"""The intraday study against closed forms, slow loops and planted effects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.intraday.bars import IntradayBars
from backtest.intraday.study import (IntradayConfig, periodic_variance,
                                          run_intraday_study)
from events.errors import ConfigError, PriceDataError
from events.model import Calendar, Event, LinkedTicker, Sentiment
from tests.minute_bars import minute_bars

NEWS = pd.Timestamp("2026-04-28 15:36", tz="UTC")  # 11:36 New York, during the session


def _event(when=NEWS, tickers=(("ORCL", "partner", "down"), ("CRWV", "partner", "down")),
           event_id="e1", **kw) -> Event:
    links = tuple(LinkedTicker(t, r, d) for t, r, d in tickers)
    return Event(event_id, "OpenAI missed its targets", "test", Sentiment("bearish", 65), links,
                 timestamp=when, **kw)


def _bars(first="2026-03-20", last="2026-04-29", **kw) -> IntradayBars:
    kw.setdefault("beta", {"ORCL": 1.2, "CRWV": 1.8})
    return IntradayBars.from_long(minute_bars(["ORCL", "CRWV"], first, last, **kw),
                                  pd.Timedelta("1min"))


def _row(result, ticker, horizon):
    h = result.horizons
    return h[(h["ticker"] == ticker) & (h["horizon"] == horizon)].iloc[0]


def test_planted_jump_is_recovered_at_its_minute():
    bars = _bars(jumps={"ORCL": [("2026-04-28 15:37", -0.03)],
                        "CRWV": [("2026-04-28 15:37", -0.05)]})
    r = run_intraday_study(Calendar("c", (_event(),)), bars)
    path = r.path[r.path["ticker"] == "ORCL"].set_index("offset")
    assert path.loc[-1, "car"] == 0.0  # from the last price before the news
    assert abs(path.loc[0, "car"]) < 0.005  # the news minute itself: noise only
    assert path.loc[1, "ar"] == pytest.approx(-0.03, abs=0.005)  # the jump's minute
    assert _row(r, "ORCL", "5m")["car"] == pytest.approx(-0.03, abs=0.008)
    assert _row(r, "CRWV", "5m")["car"] == pytest.approx(-0.05, abs=0.008)
    assert _row(r, "ORCL", "5m")["z"] < -5 and bool(_row(r, "ORCL", "5m")["as_expected"])
    pooled = r.pooled.set_index(["group", "horizon"])
    assert pooled.loc[("all", "5m"), "signed_car"] == pytest.approx(0.04, abs=0.008)
    assert pooled.loc[("all", "5m"), "events"] == 1
    assert "single observation" in pooled.loc[("all", "5m"), "note"]


def test_market_adjusted_car_is_the_log_price_relative():
    bars = _bars(overnight=0.004, seed=3)
    cfg = IntradayConfig(model="market_adjusted")
    r = run_intraday_study(Calendar("c", (_event(),)), bars, cfg)
    c, o = bars.close, bars.open
    k0 = c.index.get_loc(NEWS)
    before = c.index[k0 - 1]
    for ticker in ("ORCL", "CRWV"):
        for horizon, bars_n in (("5m", 5), ("60m", 60)):
            end = c.index[k0 + bars_n - 1]
            expect = (np.log(c.at[end, ticker] / c.at[before, ticker])
                      - np.log(c.at[end, "SPY"] / c.at[before, "SPY"]))
            assert _row(r, ticker, horizon)["car"] == pytest.approx(expect, rel=1e-10)
        # to the close: the session's last bar, 19:59 UTC on a 16:00 New York close
        last = pd.Timestamp("2026-04-28 19:59", tz="UTC")
        expect = (np.log(c.at[last, ticker] / c.at[before, ticker])
                  - np.log(c.at[last, "SPY"] / c.at[before, "SPY"]))
        assert _row(r, ticker, "close")["car"] == pytest.approx(expect, rel=1e-10)
        # to the next open: the next session's first bar's open price
        nxt = pd.Timestamp("2026-04-29 13:30", tz="UTC")
        expect = (np.log(o.at[nxt, ticker] / c.at[before, ticker])
                  - np.log(o.at[nxt, "SPY"] / c.at[before, "SPY"]))
        row = _row(r, ticker, "next_open")
        assert row["car"] == pytest.approx(expect, rel=1e-10)
        assert row["end"] == nxt


def _slow_market_model(bars, ticker, k0_session, n_sessions=20):
    """OLS on every non-first bar of the n sessions before the event's, by np.polyfit."""
    sess = bars.session
    days = sorted(set(sess[sess < k0_session]))[-n_sessions:]
    logc = np.log(bars.close)
    r = logc.diff()
    first = np.r_[True, sess[1:] != sess[:-1]]
    rows = sess.isin(days) & ~first
    beta, alpha = np.polyfit(r["SPY"][rows], r[ticker][rows], 1)
    return alpha, beta, rows, days


def test_market_model_and_time_of_day_variance_match_slow_loops():
    bars = _bars(seed=5)
    r = run_intraday_study(Calendar("c", (_event(),)), bars)
    pair = r.pairs.set_index("ticker").loc["ORCL"]
    alpha, beta, rows, days = _slow_market_model(bars, "ORCL", pd.Timestamp("2026-04-28"))
    assert pair["beta"] == pytest.approx(beta, rel=1e-9)
    assert pair["alpha"] == pytest.approx(alpha, rel=1e-6, abs=1e-12)
    # z of 15m: CAR over the sum of per-slot variances, each the mean squared estimation AR
    # of its slot and the two slots either side (a Python loop over sessions and slots)
    logc = np.log(bars.close)
    ar = logc["ORCL"].diff() - alpha - beta * logc["SPY"].diff()
    sess = bars.session
    sq: dict[int, list[float]] = {}
    for day in days:
        day_ar = ar[sess == day].to_numpy()
        for s, v in enumerate(day_ar):
            if s > 0:  # the first bar's own return (open to close) differs; tested apart
                sq.setdefault(s, []).append(v ** 2)
    k0 = bars.index.get_loc(NEWS)
    slot0 = k0 - np.flatnonzero(sess == pd.Timestamp("2026-04-28"))[0]
    var = 0.0
    for s in range(slot0, slot0 + 15):
        near = [x for q in range(s - 2, s + 3) if q >= 1 for x in sq.get(q, [])]
        var += np.mean(near)
    car = ar.iloc[k0:k0 + 15].sum()
    row = _row(r, "ORCL", "15m")
    assert row["car"] == pytest.approx(car, rel=1e-9)
    assert row["z"] == pytest.approx(car / np.sqrt(var), rel=1e-9)


def test_periodic_variance_pools_neighbours_but_not_the_first_slot():
    ar = np.array([1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 3.0, 4.0])
    slot = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    v = periodic_variance(ar, slot, 4, pool=1)
    assert v[0] == 1.0  # slot 0 alone
    assert v[1] == pytest.approx((4 + 9) / 2)  # slots 1, 2 (no slot 0)
    assert v[2] == pytest.approx((4 + 9 + 16) / 3)
    assert v[3] == pytest.approx((9 + 16) / 2)


def test_bar0_rules_seconds_before_the_open_after_the_close_and_holidays():
    bars = _bars(overnight=0.004)
    cases = {
        "sec": (pd.Timestamp("2026-04-28 15:36:20", tz="UTC"), "2026-04-28 15:37"),
        "pre": (pd.Timestamp("2026-04-28 11:00", tz="UTC"), "2026-04-28 13:30"),
        "post": (pd.Timestamp("2026-04-27 21:10", tz="UTC"), "2026-04-28 13:30"),
        "friday_night": (pd.Timestamp("2026-04-03 22:00", tz="UTC"), "2026-04-06 13:30"),
    }  # 2026-04-03 is Good Friday (no session): the next is Monday the 6th
    events = tuple(_event(when, event_id=k) for k, (when, _) in cases.items())
    r = run_intraday_study(Calendar("c", events), bars)
    bar0 = r.pairs.drop_duplicates("event_id").set_index("event_id")["bar0"]
    for k, (_, expect) in cases.items():
        assert bar0[k] == pd.Timestamp(expect, tz="UTC"), k


def test_news_before_the_open_counts_the_overnight_gap():
    open_bar = pd.Timestamp("2026-04-28 13:30", tz="UTC")
    bars = _bars(jumps={"ORCL": [(open_bar, -0.04)]})
    pre = pd.Timestamp("2026-04-28 11:00", tz="UTC")
    r = run_intraday_study(Calendar("c", (_event(pre),)), bars)
    assert _row(r, "ORCL", "5m")["car"] == pytest.approx(-0.04, abs=0.012)


def test_early_close_ends_the_close_horizon_at_13_new_york():
    bars = _bars("2025-10-20", "2025-12-01")
    when = pd.Timestamp("2025-11-28 15:00", tz="UTC")  # 10:00 New York, the day after Thanksgiving
    r = run_intraday_study(Calendar("c", (_event(when),)), bars)
    row = _row(r, "ORCL", "close")
    assert row["end"] == pd.Timestamp("2025-11-28 18:00", tz="UTC")
    assert row["bars"] == 180
    assert _row(r, "ORCL", "next_open")["end"] == pd.Timestamp("2025-12-01 14:30", tz="UTC")


def test_portfolio_test_carries_the_correlation_of_same_event_tickers():
    """Two tickers with the same noise are one bet: the pooled z must equal one ticker's z,
    not sqrt(2) times it as if the two were independent."""
    long = minute_bars(["AAA"], "2026-03-20", "2026-04-29", seed=9,
                       jumps={"AAA": [("2026-04-28 15:40", -0.004)]})
    twin = long[long["ticker"] == "AAA"].assign(ticker="BBB")
    bars = IntradayBars.from_long(pd.concat([long, twin]), pd.Timedelta("1min"))
    ev = _event(tickers=(("AAA", "partner", "down"), ("BBB", "partner", "down")))
    r = run_intraday_study(Calendar("c", (ev,)), bars)
    pooled = r.pooled.set_index(["group", "horizon"]).loc[("all", "15m")]
    assert pooled["z"] == pytest.approx(_row(r, "AAA", "15m")["z"] * -1, rel=1e-9)


def test_null_data_rejects_about_five_percent():
    """Placebo news at random minutes of data without effects: |z| > 1.96 in about 5%."""
    bars = _bars("2026-01-02", "2026-04-29", seed=11)
    rng = np.random.default_rng(0)
    index = bars.index[bars.index >= pd.Timestamp("2026-02-10", tz="UTC")]
    picks = np.sort(rng.choice(len(index) - 400, 120, replace=False))
    events = tuple(_event(index[k], event_id=f"p{k}") for k in picks)
    # placebos share sessions: keep each other's sessions in the estimation (no news there)
    cfg = IntradayConfig(horizons=("5m", "30m"), group_by=(), exclude_other_events=False)
    r = run_intraday_study(Calendar("c", events), bars, cfg)
    rejected = (r.horizons["p"] < 0.05).mean()
    assert 0.01 <= rejected <= 0.10, rejected  # 480 tests; a 5% test gives 2.5%-7.5%
    pooled = r.pooled.set_index("horizon")
    assert pooled.loc["5m", "events"] == 120
    assert abs(pooled.loc["5m", "t_events"]) < 3.3


def test_skipped_pairs_say_why():
    bars = _bars()
    flag = Event("flag", "h", "s", Sentiment("bearish", 70),
                 (LinkedTicker("ORCL", "partner", "down"),), date=pd.Timestamp("2026-04-28").date(),
                 session="during_session")
    early = _event(pd.Timestamp("2026-03-23 15:00", tz="UTC"), event_id="early")
    missing = _event(tickers=(("NVDA", "supplier", "down"),), event_id="nvda")
    before = _event(pd.Timestamp("2025-01-21 15:00", tz="UTC"), event_id="before")
    after = _event(pd.Timestamp("2026-05-20 15:00", tz="UTC"), event_id="after")
    r = run_intraday_study(Calendar("c", (flag, early, missing, before, after)), bars)
    why = r.pairs.groupby("event_id")["skipped"].first()
    assert "without a minute" in why["flag"]
    assert "estimation sessions" in why["early"]
    assert "no 1m bars for NVDA" in why["nvda"]
    # news before the data start is not moved to the first bar of the data
    assert why["before"] == "no 1m bars in the news session 2025-01-21"
    assert why["after"] == "no 1m bars in the news session 2026-05-20"
    assert r.horizons.empty


def test_refusals():
    with pytest.raises(ConfigError, match="window"):
        IntradayConfig(window=(5, 10))
    with pytest.raises(ConfigError, match="model"):
        IntradayConfig(model="garch")
    with pytest.raises(ConfigError, match="horizon"):
        IntradayConfig(horizons=("5s",))
    bars = _bars()
    with pytest.raises(PriceDataError, match="market"):
        run_intraday_study(Calendar("c", (_event(),)), bars, IntradayConfig(market="QQQ"))
    five = IntradayBars.from_long(minute_bars(["ORCL"], "2026-03-20", "2026-04-29",
                                              interval="5min"), pd.Timedelta("5min"))
    with pytest.raises(ConfigError, match="whole number"):
        run_intraday_study(Calendar("c", (_event(tickers=(("ORCL", "partner", "down"),)),)),
                           five, IntradayConfig(horizons=("7m",)))


def test_same_inputs_same_numbers():
    bars = _bars(seed=2)
    a = run_intraday_study(Calendar("c", (_event(),)), bars)
    b = run_intraday_study(Calendar("c", (_event(),)), bars)
    pd.testing.assert_frame_equal(a.horizons, b.horizons)
    pd.testing.assert_frame_equal(a.pooled, b.pooled)
    pd.testing.assert_frame_equal(a.path, b.path)


def test_other_news_of_the_ticker_is_left_out_of_its_estimation():
    """An earlier event's -10% minute on ORCL must not widen the later event's variances:
    with it left out, the later event's numbers equal those on data without that jump."""
    early = pd.Timestamp("2026-04-20 15:00", tz="UTC")
    cal = Calendar("c", (_event(early, event_id="early"), _event(event_id="late")))
    jumped = _bars(seed=4, jumps={"ORCL": [(early + pd.Timedelta(minutes=1), -0.10)]})
    plain = _bars(seed=4)
    a = run_intraday_study(cal, jumped)
    b = run_intraday_study(cal, plain)
    def late(r):
        return r.horizons[r.horizons["event_id"] == "late"].reset_index(drop=True)

    pd.testing.assert_frame_equal(late(a), late(b), rtol=1e-9)
    pairs = a.pairs.set_index(["event_id", "ticker"])
    assert pairs.loc[("late", "ORCL"), "other_news_sessions"] == 1
    assert pairs.loc[("late", "ORCL"), "estimation_sessions"] == 19
    kept = run_intraday_study(cal, jumped, IntradayConfig(exclude_other_events=False))
    sigma = kept.pairs.set_index(["event_id", "ticker"]).loc[("late", "ORCL"), "sigma"]
    assert sigma > 1.2 * pairs.loc[("late", "ORCL"), "sigma"]  # the jump would inflate it


def test_a_news_session_without_bars_is_skipped_not_carried_forward():
    long = minute_bars(["ORCL", "CRWV"], "2026-03-20", "2026-04-29")
    day = pd.DatetimeIndex(long["timestamp"]).tz_convert("America/New_York").normalize()
    gone = (day == pd.Timestamp("2026-04-28", tz="America/New_York")) & (long["ticker"] == "ORCL")
    bars = IntradayBars.from_long(long[~gone], pd.Timedelta("1min"))
    r = run_intraday_study(Calendar("c", (_event(),)), bars)
    why = r.pairs.set_index("ticker")["skipped"]
    assert "no ORCL and SPY bars together in the news session" in why["ORCL"]
    assert why["CRWV"] == ""


def test_estimation_counts_only_sessions_the_ticker_traded():
    long = minute_bars(["ORCL", "CRWV"], "2026-03-20", "2026-04-29")
    stamps = pd.DatetimeIndex(long["timestamp"])
    late = (long["ticker"] != "ORCL") | (stamps >= pd.Timestamp("2026-04-24", tz="UTC"))
    bars = IntradayBars.from_long(long[late], pd.Timedelta("1min"))
    r = run_intraday_study(Calendar("c", (_event(),)), bars)
    orcl = r.pairs.set_index("ticker").loc["ORCL"]
    assert orcl["skipped"].startswith("2 estimation sessions")  # 04-24 and 04-27 only
    assert r.pairs.set_index("ticker").loc["CRWV", "estimation_sessions"] == 20


def test_news_in_the_last_bar_of_a_session_goes_to_the_next_open():
    bars = _bars()
    when = pd.Timestamp("2026-04-27 19:59:30", tz="UTC")  # inside the 15:59 New York bar
    r = run_intraday_study(Calendar("c", (_event(when),)), bars)
    assert (r.pairs["bar0"] == pd.Timestamp("2026-04-28 13:30", tz="UTC")).all()
    assert (r.pairs["skipped"] == "").all()


def test_a_minute_horizon_stops_at_the_close_and_says_so():
    bars = _bars()
    when = pd.Timestamp("2026-04-28 19:30", tz="UTC")  # 15:30 New York: 60m would cross
    r = run_intraday_study(Calendar("c", (_event(when),)), bars)
    row = _row(r, "ORCL", "60m")
    assert bool(row["capped"]) and row["bars"] == 30
    assert row["end"] == pd.Timestamp("2026-04-28 20:00", tz="UTC")
    assert row["car"] == _row(r, "ORCL", "close")["car"]
    assert not bool(_row(r, "ORCL", "5m")["capped"])


def test_headlines_minutes_apart_on_one_ticker_are_one_observation():
    bars = _bars(seed=8)
    a = _event(event_id="a")
    b = _event(NEWS + pd.Timedelta(minutes=2), event_id="b")
    other_day = _event(pd.Timestamp("2026-04-21 16:00", tz="UTC"), event_id="c",
                       tickers=(("ORCL", "partner", "down"),))
    cfg = IntradayConfig(exclude_other_events=False, group_by=())
    r = run_intraday_study(Calendar("c", (a, b, other_day)), bars, cfg)
    pooled = r.pooled.set_index("horizon").loc["close"]
    assert pooled["events"] == 3 and pooled["clusters"] == 2
    assert "2 independent clusters" in pooled["note"]
    # the two same-session events enter once, as the mean of their z
    one = {e: run_intraday_study(Calendar("c", (ev,)), bars, cfg).pooled.set_index("horizon")
           .loc["close", "z"] for e, ev in (("a", a), ("b", b), ("c", other_day))}
    expect = ((one["a"] + one["b"]) / 2 + one["c"]) / np.sqrt(2)
    assert pooled["z"] == pytest.approx(expect, rel=1e-9)


def test_horizon_lists_are_refused_when_empty_or_repeated():
    with pytest.raises(ConfigError, match="distinct"):
        IntradayConfig(horizons=("5m", "5m"))
    with pytest.raises(ConfigError, match="at least one"):
        IntradayConfig(horizons=())
