"""Tests of the market-model event study (backtest.eventstudy: engine, models, stats).

Every expected number is derived independently of the engine: planted values in
synthetic data, closed forms, ``np.polyfit``, explicit matrices, scipy's t-test,
or the slow loops in ``_slow_reference.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from backtest.data.panel import PricePanel
from backtest.data.store import bundled_path, load_panel
from backtest.eventstudy import DEFAULT_CAR_WINDOWS, StudyConfig, run_study
from backtest.eventstudy.models import fit_ols
from events import parse_calendar
from events.loader import resolve_calendar
from events.timing import exchange_calendar
from tests._slow_reference import (
    SlowPair,
    other_event_positions,
    slow_mean_drop_nan,
    total_return_at,
)

# --------------------------------------------------------------------------------------
# synthetic market
# --------------------------------------------------------------------------------------

SESSIONS = pd.DatetimeIndex(exchange_calendar().sessions_in_range("2023-01-03", "2024-12-31"),
                            freq=None, name="date")
POS_A = 400  # day 0 of the planted event (AAA)
POS_B = 450  # day 0 of the zero-effect event (BBB)
ALPHA_A, BETA_A = 0.0004, 1.3
ALPHA_B, BETA_B = -0.0002, 0.7
PLANTED = {0: 0.05, 1: 0.02}
SIGMA_M = 0.01


def _event(event_id, day, tickers, label="bullish"):
    return {"id": event_id, "date": str(day.date()), "session": "before_open",
            "headline": f"synthetic {event_id}", "source": "test", "sentiment":
            {"label": label, "score": 50},
            "tickers": [{"ticker": t, "role": "partner", "direction": "up"} for t in tickers]}


SYN_CALENDAR = parse_calendar({"name": "synthetic", "events": [
    _event("planted", SESSIONS[POS_A], ["AAA"]),
    _event("null", SESSIONS[POS_B], ["BBB"], label="neutral"),
]})


def _panel_from_returns(returns: dict[str, np.ndarray], dividends=None) -> PricePanel:
    """Closes ``100 * prod(1 + r)`` (first return ignored), open = close * 0.99."""
    close = {}
    for t, r in returns.items():
        r = np.asarray(r, float).copy()
        r[0] = 0.0
        close[t] = 100.0 * np.cumprod(1.0 + r)
    close = pd.DataFrame(close, index=SESSIONS)
    div = pd.DataFrame(0.0, index=SESSIONS, columns=close.columns)
    if dividends:
        for t, d in dividends.items():
            div[t] = d
    return PricePanel(close * 0.99, close, div,
                      pd.Series(False, index=close.columns), {t: "synthetic" for t in close})


def _synthetic(noise_sd: float, seed: int = 7):
    """Market with random returns; AAA/BBB follow the market model plus noise and plants."""
    rng = np.random.default_rng(seed)
    n = len(SESSIONS)
    rm = rng.normal(0.0004, SIGMA_M, n)
    ea = rng.normal(0.0, noise_sd, n) if noise_sd else np.zeros(n)
    eb = rng.normal(0.0, noise_sd, n) if noise_sd else np.zeros(n)
    ra = ALPHA_A + BETA_A * rm + ea
    for k, v in PLANTED.items():
        ra[POS_A + k] += v
    rb = ALPHA_B + BETA_B * rm + eb
    return _panel_from_returns({"SPY": rm, "AAA": ra, "BBB": rb}), rm, ea, eb


def _ar(result, event_id, ticker):
    sub = result.ar[(result.ar.event_id == event_id) & (result.ar.ticker == ticker)]
    return sub.set_index("rel_day")["ar"]


def _car(result, event_id, ticker, start, end):
    sub = result.car[(result.car.event_id == event_id) & (result.car.ticker == ticker)
                     & (result.car.window_start == start) & (result.car.window_end == end)]
    assert len(sub) == 1
    return sub.iloc[0]


def _prediction_sd_bound(rm, pos0, noise_sd, k_days):
    """Closed-form upper bound on the SD of a K-day CAR estimate around its true value.

    SD = sigma * sqrt(K + K^2/n + (sum(Rm* - xbar))^2 / Sxx) (CLM 1997 4.4.3), computed
    here from the generated market returns of the estimation window.
    """
    est = rm[pos0 - 260: pos0 - 10]
    xbar, sxx = est.mean(), ((est - est.mean()) ** 2).sum()
    worst = max(abs(rm[pos0 + k] - xbar) for k in range(-5, 11)) * k_days
    return noise_sd * math.sqrt(k_days + k_days ** 2 / len(est) + worst ** 2 / sxx)


# --------------------------------------------------------------------------------------
# 1a. planted abnormal return
# --------------------------------------------------------------------------------------


def test_planted_abnormal_return_recovered_with_noise():
    """Planted +5% / +2% ARs recovered within 5 prediction SDs (closed form from the noise
    SD); a zero-effect event's CAR(-5,10) is within 4 SDs of 0; dates are not shifted."""
    noise = 0.002
    panel, rm, ea, eb = _synthetic(noise)
    res = run_study(SYN_CALENDAR, panel)
    ar = _ar(res, "planted", "AAA")
    tol1 = 5 * _prediction_sd_bound(rm, POS_A, noise, 1)
    assert abs(ar[0] - 0.05) < tol1
    assert abs(ar[1] - 0.02) < tol1
    tol2 = 5 * _prediction_sd_bound(rm, POS_A, noise, 2)
    assert abs(_car(res, "planted", "AAA", 0, 1)["car"] - 0.07) < tol2
    # Days without a plant are noise only.
    for k in (-5, -1, 2, 10):
        assert abs(ar[k]) < tol1
    # The planted effect is highly significant, the null one is not.
    assert _car(res, "planted", "AAA", 0, 1)["car_t"] > 10

    null_car = _car(res, "null", "BBB", -5, 10)["car"]
    assert abs(null_car) < 4 * _prediction_sd_bound(rm, POS_B, noise, 16)

    # Day 0 is the event date (before_open on a session) and offsets count sessions.
    sub = res.ar[res.ar.event_id == "planted"].set_index("rel_day")
    for k in (-5, 0, 1, 10):
        assert sub.loc[k, "date"] == SESSIONS[POS_A + k]


def test_planted_abnormal_return_exact_without_noise():
    """Zero noise: OLS must return the generating alpha/beta exactly and ARs equal the
    planted values (0 on every other window day)."""
    panel, rm, _, _ = _synthetic(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        res = run_study(SYN_CALENDAR, panel)
    est = res.estimates.set_index("ticker")
    assert est.loc["AAA", "coef_alpha"] == pytest.approx(ALPHA_A, abs=1e-10)
    assert est.loc["AAA", "coef_beta"] == pytest.approx(BETA_A, abs=1e-10)
    assert est.loc["BBB", "coef_alpha"] == pytest.approx(ALPHA_B, abs=1e-10)
    assert est.loc["BBB", "coef_beta"] == pytest.approx(BETA_B, abs=1e-10)
    assert est.loc["AAA", "n_est"] == 250
    ar = _ar(res, "planted", "AAA")
    for k in range(-5, 11):
        assert ar[k] == pytest.approx(PLANTED.get(k, 0.0), abs=1e-10), k
    assert np.allclose(_ar(res, "null", "BBB").to_numpy(), 0.0, atol=1e-10)
    assert _car(res, "planted", "AAA", 0, 1)["car"] == pytest.approx(0.07, abs=1e-10)
    assert _car(res, "planted", "AAA", -5, 10)["car"] == pytest.approx(0.07, abs=1e-10)
    assert _car(res, "planted", "AAA", 2, 10)["car"] == pytest.approx(0.0, abs=1e-10)


# --------------------------------------------------------------------------------------
# real bundled data
# --------------------------------------------------------------------------------------

# Day 0 of each bundled event, worked out by hand from the timing rules
# (before_open on a session -> that day; after_close -> next session; during -> that day).
DAY0 = {
    "stargate-2025-01-21": "2025-01-22",  # after_close Tue -> Wed
    "deepseek-r1-2025-01-27": "2025-01-27",  # before_open Mon
    "oracle-rpo-2025-09-09": "2025-09-10",  # after_close Tue -> Wed
    "nvidia-invests-2025-09-22": "2025-09-22",  # during_session
    "amd-openai-2025-10-06": "2025-10-06",
    "broadcom-openai-2025-10-13": "2025-10-13",
    "aws-openai-2025-11-03": "2025-11-03",
    "oracle-q2-2025-12-10": "2025-12-11",  # after_close Wed -> Thu
    "openai-miss-2026-04-28": "2026-04-28",  # 15:36 UTC = 11:36 New York, during session
}


@pytest.fixture(scope="module")
def result(calendar, panel):
    """The default study: estimation windows leave out the ticker's other event windows."""
    return run_study(calendar, panel, StudyConfig())


@pytest.fixture(scope="module")
def result_noexcl(calendar, panel):
    """The study with the full 250-day estimation window of every pair."""
    return run_study(calendar, panel, StudyConfig(exclude_other_events=False))


def _slow_pairs(calendar, panel, exclude):
    """Every (event, ticker) pair of the bundled calendar, by the slow reference; with
    ``exclude`` the positions -5..+10 around the ticker's other events (day 0 from the
    hand-derived DAY0 table) are left out of the estimation window."""
    close, div = panel.close, panel.dividend
    pos0_of = {eid: panel.sessions.get_loc(pd.Timestamp(d)) for eid, d in DAY0.items()}
    ticker_events = {}
    for event in calendar:
        for link in event.tickers:
            ticker_events.setdefault(link.ticker, []).append(event.id)
    out = {}
    for event in calendar:
        pos0 = pos0_of[event.id]
        for link in event.tickers:
            t = link.ticker
            excluded = (other_event_positions(pos0_of, ticker_events, event.id, t)
                        if exclude else set())
            ref = SlowPair(close[t].to_numpy(), div[t].to_numpy(), close["SPY"].to_numpy(),
                           div["SPY"].to_numpy(), pos0, excluded=excluded)
            ref.n_excluded = sum(1 for k in range(-260, -10) if pos0 + k in excluded)
            ref.sign = 1.0 if link.direction == "up" else -1.0  # the calendar's direction
            out[(event.id, t)] = (event.sentiment.label, link.role, ref)
    return out


@pytest.fixture(scope="module")
def slow_pairs(calendar, panel):
    return _slow_pairs(calendar, panel, exclude=False)


@pytest.fixture(scope="module")
def slow_pairs_excl(calendar, panel):
    return _slow_pairs(calendar, panel, exclude=True)


def test_orcl_raw_return_2026_04_28(panel):
    """ORCL close-to-close on 2026-04-28 is about -4.0% (published move), from raw closes."""
    c = panel.close["ORCL"]
    raw = c.loc["2026-04-28"] / c.loc["2026-04-27"] - 1.0
    assert raw == pytest.approx(-0.040, abs=0.0005)
    assert panel.dividend.loc["2026-04-28", "ORCL"] == 0.0
    assert panel.returns.loc["2026-04-28", "ORCL"] == pytest.approx(raw, abs=1e-15)


def test_orcl_ar_matches_slow_market_model(panel, result_noexcl):
    """ORCL AR on day 0 of openai-miss equals a hand-built fit: positions pos0-260..pos0-11,
    returns from close+dividend by hand, np.polyfit(market, stock, 1) (no exclusion)."""
    pos0 = panel.sessions.get_loc(pd.Timestamp("2026-04-28"))
    c, d = panel.close["ORCL"].to_numpy(), panel.dividend["ORCL"].to_numpy()
    mc, md = panel.close["SPY"].to_numpy(), panel.dividend["SPY"].to_numpy()
    ys = [(c[p] + d[p]) / c[p - 1] - 1 for p in range(pos0 - 260, pos0 - 10)]
    xs = [(mc[p] + md[p]) / mc[p - 1] - 1 for p in range(pos0 - 260, pos0 - 10)]
    assert len(ys) == 250
    b, a = np.polyfit(xs, ys, 1)
    r0 = (c[pos0] + d[pos0]) / c[pos0 - 1] - 1
    rm0 = (mc[pos0] + md[pos0]) / mc[pos0 - 1] - 1
    expected = r0 - (a + b * rm0)

    ar = _ar(result_noexcl, "openai-miss-2026-04-28", "ORCL")
    assert ar[0] == pytest.approx(expected, abs=1e-10)
    est = result_noexcl.estimates.set_index(["event_id", "ticker"]).loc[
        ("openai-miss-2026-04-28", "ORCL")]
    assert est["coef_alpha"] == pytest.approx(a, abs=1e-10)
    assert est["coef_beta"] == pytest.approx(b, abs=1e-10)
    assert est["n_est"] == 250
    assert est["n_excluded"] == 0


def test_orcl_openai_miss_excludes_other_event_windows(panel, result):
    """Default config: ORCL's estimation window for openai-miss (positions pos0-260..pos0-11,
    about 2025-04 to 2026-04) drops the -5..+10 sessions around ORCL's other events that
    fall inside it: oracle-q2 (day 0 2025-12-11: 16 sessions) and oracle-rpo (2025-09-10)
    plus nvidia-invests (2025-09-22), which are 8 sessions apart so their windows overlap
    (16 + 8 = 24 sessions). The January 2025 events lie before the window. So 40 sessions
    are dropped and n_est = 250 - 40 = 210 (all ORCL returns exist there). The fit is
    np.polyfit on the hand-built returns of the remaining positions; AR to 1e-10."""
    s = panel.sessions
    pos0 = s.get_loc(pd.Timestamp("2026-04-28"))
    est = set(range(pos0 - 260, pos0 - 10))
    # The hand facts the count rests on.
    assert s.get_loc(pd.Timestamp("2025-09-22")) - s.get_loc(pd.Timestamp("2025-09-10")) == 8
    assert s.get_loc(pd.Timestamp("2025-01-27")) + 10 < pos0 - 260
    dropped = set()
    for day0 in ("2025-01-22", "2025-01-27", "2025-09-10", "2025-09-22", "2025-12-11"):
        p = s.get_loc(pd.Timestamp(day0))
        dropped |= {p + k for k in range(-5, 11)} & est
    q2 = s.get_loc(pd.Timestamp("2025-12-11"))
    assert len({q2 + k for k in range(-5, 11)} & est) == 16
    assert len(dropped) == 40

    c, d = panel.close["ORCL"].to_numpy(), panel.dividend["ORCL"].to_numpy()
    mc, md = panel.close["SPY"].to_numpy(), panel.dividend["SPY"].to_numpy()
    keep = sorted(est - dropped)
    ys = [(c[p] + d[p]) / c[p - 1] - 1 for p in keep]
    xs = [(mc[p] + md[p]) / mc[p - 1] - 1 for p in keep]
    assert len(ys) == 210 and not np.isnan(ys).any() and not np.isnan(xs).any()
    b, a = np.polyfit(xs, ys, 1)

    row = result.estimates.set_index(["event_id", "ticker"]).loc[
        ("openai-miss-2026-04-28", "ORCL")]
    assert row["n_est"] == 210
    assert row["n_excluded"] == 40
    assert row["coef_alpha"] == pytest.approx(a, abs=1e-10)
    assert row["coef_beta"] == pytest.approx(b, abs=1e-10)
    ar = _ar(result, "openai-miss-2026-04-28", "ORCL")
    for k in range(-5, 11):
        p = pos0 + k
        r = (c[p] + d[p]) / c[p - 1] - 1
        rm = (mc[p] + md[p]) / mc[p - 1] - 1
        assert ar[k] == pytest.approx(r - (a + b * rm), abs=1e-10), k
    # The SlowPair reference with the same excluded positions agrees.
    ref = SlowPair(c, d, mc, md, pos0, excluded=dropped)
    assert ref.n == 210
    np.testing.assert_allclose(ar.to_numpy(), [ref.ar[k] for k in range(-5, 11)], rtol=0,
                               atol=1e-10)


def test_confounded_with_flags_overlapping_event_windows(panel, result, calendar):
    """stargate (day 0 2025-01-22) and deepseek (2025-01-27) are 3 sessions apart, so their
    -5..+10 windows overlap: ORCL and NVDA, listed in both, are flagged with the other
    event (in estimates and car); MSFT/stargate and ORCL/oracle-q2 have no other event
    of their ticker within 15 sessions and are not flagged. Every pair's flag equals a
    loop over the ticker's other events with |day-0 distance| <= 15 sessions."""
    s = panel.sessions
    assert s.get_loc(pd.Timestamp("2025-01-27")) - s.get_loc(pd.Timestamp("2025-01-22")) == 3
    est = result.estimates.set_index(["event_id", "ticker"])["confounded_with"]
    for t in ("ORCL", "NVDA"):
        assert est[("stargate-2025-01-21", t)] == "deepseek-r1-2025-01-27"
        assert est[("deepseek-r1-2025-01-27", t)] == "stargate-2025-01-21"
    assert est[("stargate-2025-01-21", "MSFT")] == ""
    assert est[("oracle-q2-2025-12-10", "ORCL")] == ""
    car = result.car
    flagged = car[(car.event_id == "stargate-2025-01-21") & (car.ticker == "ORCL")]
    assert (flagged["confounded_with"] == "deepseek-r1-2025-01-27").all()

    pos0_of = {eid: s.get_loc(pd.Timestamp(d)) for eid, d in DAY0.items()}
    listed = [(e.id, link.ticker) for e in calendar for link in e.tickers]
    for (eid, t), flag in est.items():
        expected = {e2 for e2, t2 in listed
                    if t2 == t and e2 != eid and abs(pos0_of[e2] - pos0_of[eid]) <= 15}
        assert set(filter(None, flag.split("+"))) == expected, (eid, t)


def test_every_pair_matches_slow_reference(slow_pairs, result_noexcl):
    """Without exclusion, every kept pair's ARs and every CAR/t in result.car equal the
    slow reference."""
    _check_every_pair(slow_pairs, result_noexcl)


def test_every_pair_matches_slow_reference_with_exclusion(slow_pairs_excl, result):
    """Default config: every kept pair's fit, ARs and CAR/t equal the slow reference that
    leaves out the positions around the ticker's other events (n_est, n_excluded too)."""
    _check_every_pair(slow_pairs_excl, result)
    est = result.estimates.set_index(["event_id", "ticker"])
    assert (est["n_excluded"] > 0).any()
    for key in est.index:
        ref = slow_pairs_excl[key][2]
        assert est.loc[key, "n_est"] == ref.n, key
        assert est.loc[key, "n_excluded"] == ref.n_excluded, key


def _check_every_pair(slow, res):
    kept = set(map(tuple, res.estimates[["event_id", "ticker"]].to_numpy()))
    expected_kept = {k for k, (_, _, ref) in slow.items() if ref.n >= 120}
    assert kept == expected_kept
    for key in kept:
        ref = slow[key][2]
        ar = _ar(res, *key)
        np.testing.assert_allclose(ar.to_numpy(), [ref.ar[k] for k in range(-5, 11)],
                                   rtol=0, atol=1e-10, err_msg=str(key))
        for s, e in DEFAULT_CAR_WINDOWS:
            row = _car(res, *key, s, e)
            assert row["car"] == pytest.approx(ref.car(s, e), abs=1e-10), (key, s, e)
            assert row["car_t"] == pytest.approx(ref.car_t(s, e), rel=1e-8), (key, s, e)


def test_orcl_car_t_matches_matrix_variance(slow_pairs, result_noexcl):
    """CAR(-1,+1) t-stat equals CAR / sqrt(s^2 gamma'(I + X*(X'X)^-1 X*')gamma) built with
    explicit matrices (Campbell-Lo-MacKinlay 1997, 4.4.3), and p from Student-t(n-2)."""
    _, _, ref = slow_pairs[("openai-miss-2026-04-28", "ORCL")]
    row = _car(result_noexcl, "openai-miss-2026-04-28", "ORCL", -1, 1)
    assert row["car"] == pytest.approx(ref.car(-1, 1), abs=1e-10)
    assert row["car_se"] == pytest.approx(math.sqrt(ref.car_variance_matrix(-1, 1)), rel=1e-8)
    assert row["car_t"] == pytest.approx(ref.car_t(-1, 1), rel=1e-8)
    assert row["car_p"] == pytest.approx(2 * sps.t.sf(abs(ref.car_t(-1, 1)), ref.n - 2),
                                         rel=1e-8)
    # Standardised AR of day 0: AR / sqrt(V[0, 0]), the one-day case of the same matrix.
    ar = result_noexcl.ar
    sar = ar[(ar.event_id == "openai-miss-2026-04-28")
             & (ar.ticker == "ORCL")].set_index("rel_day")["sar"]
    assert sar[0] == pytest.approx(ref.ar[0] / math.sqrt(ref.car_variance_matrix(0, 0)),
                                   rel=1e-8)


def test_short_history_pair_is_skipped(result, panel):
    """CRWV listed 2025-03-28: for day 0 = 2025-09-10 the window pos0-260..pos0-11 holds
    fewer than 120 CRWV returns (counted here by hand), so the pair is skipped."""
    pos0 = panel.sessions.get_loc(pd.Timestamp("2025-09-10"))
    c = panel.close["CRWV"].to_numpy()
    have = sum(1 for p in range(pos0 - 260, pos0 - 10)
               if not math.isnan(total_return_at(c, np.zeros(len(c)), p)))
    assert have < 120
    sk = result.skipped[(result.skipped.event_id == "oracle-rpo-2025-09-09")
                        & (result.skipped.ticker == "CRWV")]
    assert len(sk) == 1
    reason = sk.iloc[0]["reason"]
    assert "insufficient estimation data" in reason
    assert str(have) in reason
    car = result.car
    assert car[(car.event_id == "oracle-rpo-2025-09-09") & (car.ticker == "CRWV")].empty
    assert result.ar[(result.ar.event_id == "oracle-rpo-2025-09-09")
                     & (result.ar.ticker == "CRWV")].empty


def _check_cross_section(slow, res):
    kept = {k: v for k, v in slow.items() if v[2].n >= 120}
    groups = {"all": list(kept.values())}
    for label, role, ref in kept.values():
        groups.setdefault(f"{label} {role}", []).append((label, role, ref))
    assert set(res.tests.group) == set(groups)
    assert "bearish partner" in groups and len(groups["bearish partner"]) >= 5

    tests = res.tests[res.tests.statistic == "csect_t"].set_index(
        ["group", "window_start", "window_end"])
    assert tests.index.is_unique
    # A group pooling both expected directions averages CARs signed by direction.
    sign = {group: ([ref.sign for _, _, ref in members]
                    if len({ref.sign for _, _, ref in members}) > 1 else [1.0] * len(members))
            for group, members in groups.items()}
    assert sign["all"] != [1.0] * len(groups["all"])  # the bundled calendar pools both
    for group, members in groups.items():
        for s, e in DEFAULT_CAR_WINDOWS:
            cars = [m * ref.car(s, e) for m, (_, _, ref) in zip(sign[group], members)]
            row = tests.loc[(group, s, e)]
            assert bool(row["signed"]) == (set(sign[group]) == {1.0, -1.0})
            mean, n = slow_mean_drop_nan(cars)
            assert row["n"] == n
            assert row["mean"] == pytest.approx(mean, abs=1e-12)
            if n < 2:
                assert math.isnan(row["value"]) and math.isnan(row["p_value"])
                continue
            ref_t = sps.ttest_1samp(cars, 0.0, nan_policy="omit")
            assert row["value"] == pytest.approx(ref_t.statistic, rel=1e-8), (group, s, e)
            assert row["p_value"] == pytest.approx(ref_t.pvalue, rel=1e-8), (group, s, e)

    # CAAR path and its 95% band: loop mean of CAR(-5, tau), and scipy's t interval.
    caar = res.caar.set_index(["group", "rel_day"])
    for group, members in groups.items():
        for tau in range(-5, 11):
            cums = [m * ref.cum_from_window_start(tau)
                    for m, (_, _, ref) in zip(sign[group], members)]
            mean, n = slow_mean_drop_nan(cums)
            aar, _ = slow_mean_drop_nan([m * ref.ar[tau]
                                         for m, (_, _, ref) in zip(sign[group], members)])
            assert caar.loc[(group, tau), "n"] == n
            assert caar.loc[(group, tau), "caar"] == pytest.approx(mean, abs=1e-12)
            assert caar.loc[(group, tau), "aar"] == pytest.approx(aar, abs=1e-12)
            if n >= 2:
                lo, hi = sps.ttest_1samp(cums, 0.0, nan_policy="omit").confidence_interval(0.95)
                assert caar.loc[(group, tau), "caar_lo"] == pytest.approx(lo, rel=1e-8)
                assert caar.loc[(group, tau), "caar_hi"] == pytest.approx(hi, rel=1e-8)


def test_cross_sectional_tests_match_scipy_and_caar_matches_loop(slow_pairs, result_noexcl):
    """The 'csect_t' rows of result.tests (value, p_value) equal scipy.stats.ttest_1samp of
    the (slow-reference) CARs of each group; result.caar equals a loop mean over pairs of
    cumulative AR from day -5, with scipy's 95% t interval as its band."""
    _check_cross_section(slow_pairs, result_noexcl)


def test_cross_sectional_tests_with_exclusion(slow_pairs_excl, result):
    """The same check for the default (exclusion) study against the excluding reference."""
    _check_cross_section(slow_pairs_excl, result)


def test_ar_dates_do_not_depend_on_index_resolution(calendar, result):
    """A panel built with the public PricePanel.from_long (pandas 3 gives a datetime64[s]
    index) must give the same ARs and the same calendar dates as the store-loaded panel:
    day 0 of openai-miss is 2026-04-28 (hand-derived, see DAY0)."""
    raw = pd.read_parquet(bundled_path())
    raw = raw[raw["ticker"].isin([*calendar.tickers, "SPY"])]
    res = run_study(calendar, PricePanel.from_long(raw, source="test"), StudyConfig())
    np.testing.assert_allclose(res.ar["ar"], result.ar["ar"], rtol=0, atol=1e-15)
    day0 = res.ar[(res.ar.event_id == "openai-miss-2026-04-28") & (res.ar.rel_day == 0)]
    assert (day0["date"] == pd.Timestamp("2026-04-28")).all(), day0["date"].iloc[0]


def test_exclusion_and_confounding_boundaries_on_synthetic_events():
    """AAA has events with day 0 at positions 400, 415, 440 and 456. Windows -5..+10 of two
    events overlap iff their day 0s are at most 15 sessions apart: 400/415 (15 apart, day
    +10 of one is day -5 of the other) are confounded, 440/456 (16 apart) are not.
    Estimation windows (pos0-260..pos0-11) drop the other events' window positions, counted
    by hand: 400 -> none; 415 -> 395..404 (10); 440 -> 395..425 (31); 456 -> 395..425 and
    435..445 (42). Fits and ARs equal the slow reference with those positions dropped."""
    panel, _, _, _ = _synthetic(0.002)
    day0s = [400, 415, 440, 456]
    cal = parse_calendar({"name": "syn", "events": [
        _event(f"e{p}", SESSIONS[p], ["AAA"]) for p in day0s]})
    res = run_study(cal, panel, StudyConfig(pseudo_draws=0))
    hand_excluded = {400: set(), 415: set(range(395, 405)), 440: set(range(395, 426)),
                     456: set(range(395, 426)) | set(range(435, 446))}
    hand_confounded = {400: {"e415"}, 415: {"e400"}, 440: set(), 456: set()}
    est = res.estimates.set_index("event_id")
    c, d = panel.close["AAA"].to_numpy(), panel.dividend["AAA"].to_numpy()
    mc, md = panel.close["SPY"].to_numpy(), panel.dividend["SPY"].to_numpy()
    for p in day0s:
        row = est.loc[f"e{p}"]
        assert row["n_excluded"] == len(hand_excluded[p]), p
        assert row["n_est"] == 250 - len(hand_excluded[p]), p
        assert set(filter(None, row["confounded_with"].split("+"))) == hand_confounded[p], p
        ref = SlowPair(c, d, mc, md, p, excluded=hand_excluded[p])
        assert row["coef_beta"] == pytest.approx(ref.beta, abs=1e-10)
        ar = _ar(res, f"e{p}", "AAA")
        np.testing.assert_allclose(ar.to_numpy(), [ref.ar[k] for k in range(-5, 11)],
                                   rtol=0, atol=1e-10)
    # Without exclusion every window is the full 250 days; confounding is still flagged.
    res0 = run_study(cal, panel, StudyConfig(pseudo_draws=0, exclude_other_events=False))
    est0 = res0.estimates.set_index("event_id")
    assert (est0["n_est"] == 250).all() and (est0["n_excluded"] == 0).all()
    assert est0.loc["e400", "confounded_with"] == "e415"


# --------------------------------------------------------------------------------------
# 1e. missing data
# --------------------------------------------------------------------------------------


def test_missing_close_does_not_shift_offsets():
    """A NaN close on day +2 makes returns (hence ARs) of days +2 and +3 NaN, leaves every
    other AR identical, and CARs over windows touching +2/+3 NaN with n_missing counted;
    a NaN close in the estimation window drops exactly two estimation returns."""
    full, _, _, _ = _synthetic(0.002)
    res_full = run_study(SYN_CALENDAR, full)

    close = full.close.copy()
    close.iloc[POS_A + 2, close.columns.get_loc("AAA")] = np.nan
    close.iloc[POS_A - 100, close.columns.get_loc("BBB")] = np.nan  # estimation window
    gap = PricePanel(full.open, close, full.dividend, full.close_is_adjusted, full.sources)
    assert np.isnan(gap.returns["AAA"].iloc[POS_A + 2])
    assert np.isnan(gap.returns["AAA"].iloc[POS_A + 3])
    res = run_study(SYN_CALENDAR, gap)

    ar_full, ar = _ar(res_full, "planted", "AAA"), _ar(res, "planted", "AAA")
    for k in range(-5, 11):
        if k in (2, 3):
            assert np.isnan(ar[k]), k
        else:
            assert ar[k] == ar_full[k], k
    sub = res.ar[res.ar.event_id == "planted"].set_index("rel_day")
    for k in range(-5, 11):
        assert sub.loc[k, "date"] == SESSIONS[POS_A + k]

    for s, e in DEFAULT_CAR_WINDOWS:
        row = _car(res, "planted", "AAA", s, e)
        n_bad = sum(1 for k in (2, 3) if s <= k <= e)
        assert row["n_missing"] == n_bad, (s, e)
        if n_bad:
            assert np.isnan(row["car"]), (s, e)
        else:
            assert row["car"] == _car(res_full, "planted", "AAA", s, e)["car"]

    # BBB: the gap lies in its estimation window, so the fit uses 248 returns; compare
    # with np.polyfit on the same hand-built returns.
    c, mc = close["BBB"].to_numpy(), close["SPY"].to_numpy()
    z = np.zeros(len(c))
    pairs = [(total_return_at(mc, z, p), total_return_at(c, z, p))
             for p in range(POS_B - 260, POS_B - 10)]
    pairs = [(x, y) for x, y in pairs if not (np.isnan(x) or np.isnan(y))]
    assert len(pairs) == 248
    b, a = np.polyfit(*zip(*pairs), 1)
    est = res.estimates.set_index("ticker").loc["BBB"]
    assert est["n_est"] == 248
    assert est["coef_alpha"] == pytest.approx(a, abs=1e-12)
    assert est["coef_beta"] == pytest.approx(b, abs=1e-10)


# --------------------------------------------------------------------------------------
# 1f. invariants
# --------------------------------------------------------------------------------------


def test_scaling_prices_leaves_ars_unchanged():
    """Multiplying a stock's open/close/dividend by a constant leaves its returns, hence
    its market-model fit and ARs, unchanged (returns are scale-free)."""
    base, _, _, _ = _synthetic(0.002)
    scale = pd.Series(1.0, index=base.close.columns)
    scale["AAA"] = 37.25
    scaled = PricePanel(base.open * scale, base.close * scale, base.dividend * scale,
                        base.close_is_adjusted, base.sources)
    r0, r1 = run_study(SYN_CALENDAR, base), run_study(SYN_CALENDAR, scaled)
    np.testing.assert_allclose(r1.ar["ar"], r0.ar["ar"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(r1.car["car_t"], r0.car["car_t"], rtol=1e-9)
    np.testing.assert_allclose(r1.estimates["coef_beta"], r0.estimates["coef_beta"],
                               rtol=1e-10)


def test_stock_identical_to_market(panel):
    """A ticker whose prices and dividends equal SPY's: alpha = 0, beta = 1, every AR = 0."""
    def add_twin(frame):
        return frame.assign(TWIN=frame["SPY"])

    twin = PricePanel(add_twin(panel.open), add_twin(panel.close), add_twin(panel.dividend),
                      pd.concat([panel.close_is_adjusted, pd.Series({"TWIN": False})]),
                      {**panel.sources, "TWIN": "test"})
    cal = parse_calendar({"events": [
        _event("twin", pd.Timestamp("2025-12-11"), ["TWIN"]),
    ]})
    with np.errstate(divide="ignore", invalid="ignore"):
        res = run_study(cal, twin)
    est = res.estimates.iloc[0]
    assert est["coef_alpha"] == pytest.approx(0.0, abs=1e-15)
    assert est["coef_beta"] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.abs(res.ar["ar"].to_numpy()) < 1e-15)
    assert np.all(np.abs(res.car["car"].to_numpy()) < 1e-14)


# --------------------------------------------------------------------------------------
# 1g. property test of the batched OLS
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(1, 4), length=st.integers(8, 60),
       alpha=st.floats(-0.01, 0.01), beta=st.floats(-3.0, 3.0),
       noise=st.sampled_from([0.0, 1e-4, 0.01, 0.05]), nan_frac=st.floats(0.0, 0.4))
def test_fit_ols_market_model_matches_polyfit(seed, n_rows, length, alpha, beta, noise,
                                              nan_frac):
    """Batched fit_ols on X = [1, x] equals np.polyfit row by row (alpha = coef[:, 0],
    beta = coef[:, 1]), with s^2 = SSR/(n-2), dof = n - 2 and n counted by hand, NaNs in
    y or x dropped pairwise; residuals NaN exactly on the dropped days."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 0.01, (n_rows, length))
    y = alpha + beta * x + rng.normal(0.0, noise, (n_rows, length))
    x[rng.random((n_rows, length)) < nan_frac / 2] = np.nan
    y[rng.random((n_rows, length)) < nan_frac / 2] = np.nan
    for i in range(n_rows):  # keep at least 4 complete observations per row
        x[i, :4] = np.where(np.isnan(x[i, :4]), rng.normal(0.0, 0.01, 4), x[i, :4])
        y[i, :4] = np.where(np.isnan(y[i, :4]), alpha + beta * x[i, :4], y[i, :4])
    X = np.stack([np.ones_like(x), x], axis=2)  # (P, L, 2); NaN in x makes the day unusable
    fit = fit_ols(y, X)
    for i in range(n_rows):
        keep = [j for j in range(length) if not (np.isnan(x[i, j]) or np.isnan(y[i, j]))]
        xi, yi = x[i, keep], y[i, keep]
        b, a = np.polyfit(xi, yi, 1)
        resid = yi - (a + b * xi)
        assert fit.n[i] == len(keep)
        assert fit.dof[i] == len(keep) - 2
        assert fit.coef[i, 1] == pytest.approx(b, rel=1e-7, abs=1e-9)
        assert fit.coef[i, 0] == pytest.approx(a, rel=1e-7, abs=1e-11)
        assert fit.sigma2[i] == pytest.approx(resid @ resid / (len(keep) - 2),
                                              rel=1e-6, abs=1e-18)
        dropped = [j for j in range(length) if j not in keep]
        assert np.isnan(fit.resid[i, dropped]).all()
        np.testing.assert_allclose(fit.resid[i, keep], resid, rtol=0, atol=1e-12)


def test_headline_view_has_one_statistic_per_group_and_car_window():
    """StudyResult.headline(): exactly one row per (group, configured CAR window)."""
    from backtest import study

    res = study("openai")
    h = res.headline()
    keys = list(zip(h["group"], h["window_start"], h["window_end"]))
    assert len(keys) == len(set(keys)) == res.tests["group"].nunique() * len(res.config.car_windows)
    assert set(h["statistic"]) <= {"kp_bmp_t", "bmp_t"}
    # DeepSeek suppliers share one day 0: their headline is the KP-adjusted BMP.
    row = h[(h["group"] == "bearish supplier") & (h["window_start"] == 0) & (h["window_end"] == 0)]
    assert row["statistic"].iloc[0] == "kp_bmp_t"


def test_blocks_do_not_change_the_study():
    """Studying 7 pairs per block gives bit-identical per-pair results (fits, ARs, CARs)
    and the same test statistics (only the order in which block sums are added differs)."""
    cal = resolve_calendar("openai")
    panel = load_panel(cal)
    config = StudyConfig(group_by=("label", "role"))
    whole = run_study(cal, panel, config)
    small = run_study(cal, panel, config, block=7)
    for name in ("ar", "car", "estimates", "caar", "skipped"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(small, name))
    pd.testing.assert_frame_equal(whole.tests, small.tests, check_exact=False, rtol=1e-12,
                                  atol=1e-14)


def test_grouping_by_a_tag_some_events_lack():
    """Events without the tag form their own "(missing)" group; every pair is counted in
    exactly one (tag, role) group, as a plain count over the CAR table says."""
    import dataclasses

    cal = resolve_calendar("openai")
    tagged = [dataclasses.replace(e, tags={"theme": "chips"}) if k % 2 == 0 else e
              for k, e in enumerate(cal.events)]
    cal = dataclasses.replace(cal, events=tuple(tagged))
    res = run_study(cal, load_panel(cal), StudyConfig(group_by=("theme", "role")))
    theme = {e.id: e.tags.get("theme", "(missing)") for e in cal.events}
    car = res.car[(res.car["window_start"] == 0) & (res.car["window_end"] == 0)]
    expected = (car["event_id"].map(theme) + " " + car["role"]).value_counts()
    tests = res.tests[(res.tests["statistic"] == "csect_t") & (res.tests["window_start"] == 0)
                      & (res.tests["window_end"] == 0) & (res.tests["group"] != "all")]
    got = tests.set_index("group")["n"]
    assert any(g.startswith("(missing) ") for g in got.index)
    assert any(g.startswith("chips ") for g in got.index)
    assert got.sort_index().astype(int).to_dict() == expected.sort_index().to_dict()


def test_single_days_off_keeps_the_car_windows_rows_exactly():
    """run_study(single_days=False) (what the chain studies ask for): tests.csv holds the
    CAR windows only, each row equal to the full study's, and every other table equal."""
    from backtest.data.store import load_panel
    from events.loader import resolve_calendar

    cal = resolve_calendar("openai")
    panel = load_panel(cal)
    config = StudyConfig(group_by=("role",))
    full = run_study(cal, panel, config)
    cars = run_study(cal, panel, config, single_days=False)
    windows = set(config.car_windows)
    keep = [(s, e) in windows for s, e in zip(full.tests["window_start"],
                                                full.tests["window_end"])]
    assert 0 < sum(keep) < len(keep)
    pd.testing.assert_frame_equal(full.tests[keep].reset_index(drop=True), cars.tests,
                                  check_exact=True)
    for name in ("car", "caar", "estimates", "skipped"):
        pd.testing.assert_frame_equal(getattr(full, name), getattr(cars, name),
                                      check_exact=True)


def test_the_ar_table_holds_the_kept_pairs_rows_when_some_are_skipped(calendar, panel):
    """With a pair left out for too little estimation data in the middle of the calendar,
    the AR table (built from every pair's arrays, the kept rows taken when it is built) has
    exactly the kept pairs, in the CAR table's order; each pair's ARs sum to its CAR
    (-1, +1) and its dates are the sessions around its day 0; one event's rows and the
    table in pieces are the same rows."""
    result = run_study(calendar, panel, StudyConfig())
    event = "oracle-rpo-2025-09-09"
    alone = result.ar_rows.of_event(event)  # before the table is built
    pieces = pd.concat(list(result.ar_rows.pieces(pairs=2)), ignore_index=True)
    skipped = set(zip(result.skipped["event_id"], result.skipped["ticker"]))
    assert ("oracle-rpo-2025-09-09", "CRWV") in skipped
    ar = result.ar
    car = result.car[(result.car["window_start"] == -1) & (result.car["window_end"] == 1)]
    pairs = list(dict.fromkeys(zip(ar["event_id"], ar["ticker"])))
    assert pairs == list(zip(car["event_id"], car["ticker"]))
    assert not skipped & set(pairs)
    # the skipped pair is not the last: a row taken by the wrong index would show below
    assert pairs.index(("oracle-rpo-2025-09-09", "ORCL")) < len(pairs) - 1
    for (event_id, ticker), want in zip(pairs, car["car"]):
        rows = ar[(ar["event_id"] == event_id) & (ar["ticker"] == ticker)]
        window = rows[rows["rel_day"].between(-1, 1)]
        if np.isfinite(want):
            assert window["ar"].sum() == pytest.approx(want, rel=1e-12, abs=1e-15)
        day0 = rows.loc[rows["rel_day"] == 0, "date"].iloc[0]
        pos0 = panel.sessions.get_loc(day0)
        np.testing.assert_array_equal(
            rows["date"].to_numpy(),
            panel.sessions[pos0 + rows["rel_day"].to_numpy()].to_numpy())
    pd.testing.assert_frame_equal(alone, ar[ar["event_id"] == event].reset_index(drop=True))
    pd.testing.assert_frame_equal(pieces, ar)
