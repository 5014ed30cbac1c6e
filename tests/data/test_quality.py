"""Data-quality checks: each planted problem is found, exactly, and nothing else is.

Panels are small and hand-made on real NYSE sessions (``tests/panels.py``); the
clean background series moves by +0.1% a day, far below the big-move threshold.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from backtest.data.quality import (
    big_moves,
    check_panel,
    late_listings,
    missing_sessions,
    nonpositive_prices,
)
from backtest.eventstudy import StudyConfig, run_study
from tests.panels import make_panel, sessions

N = 60
IDX = sessions("2025-01-02", N)  # 2025-01-02 ... (2025-01-09 closed: not in the index)


def clean(base: float = 100.0) -> list[float]:
    return [round(base * 1.001 ** k, 6) for k in range(N)]


def found(frame: pd.DataFrame) -> list[tuple[str, str, object]]:
    return sorted((r.check, r.ticker, r.date) for r in frame.itertuples())


def d(i: int):
    return IDX[i].date()


def no_pairs() -> pd.DataFrame:
    return pd.DataFrame(columns=["event_id", "ticker", "pos0"])


def test_guard_index_is_real_sessions():
    """The index skips the 2025-01-09 closure and weekends (hand-checked first days)."""
    assert [str(x.date()) for x in IDX[:6]] == ["2025-01-02", "2025-01-03", "2025-01-06",
                                                "2025-01-07", "2025-01-08", "2025-01-10"]


def test_clean_panel_has_no_findings():
    panel = make_panel(IDX, close={"AAA": clean(), "BBB": clean(50)})
    result = check_panel(panel)
    assert list(result.columns) == ["check", "ticker", "date", "detail"]
    assert result.empty


# --- missing closes ---------------------------------------------------------------------------

def test_six_session_nan_run_is_missing_and_nan_run():
    """Closes 20..25 missing (6 sessions): one 'missing' row and one 'nan_run' row, both on
    session 20, and nothing for the clean ticker."""
    close = clean()
    for i in range(20, 26):
        close[i] = np.nan
    panel = make_panel(IDX, close={"AAA": close, "BBB": clean(50)})
    result = check_panel(panel)
    assert found(result) == [("missing", "AAA", d(20)), ("nan_run", "AAA", d(20))]
    detail = dict(zip(result["check"], result["detail"]))
    assert detail["missing"].startswith("6 sessions without a close")
    assert detail["nan_run"] == f"6 consecutive missing sessions {d(20)} to {d(25)}"


def test_single_missing_close_is_missing_only():
    close = clean()
    close[30] = np.nan
    panel = make_panel(IDX, close={"AAA": close})
    result = check_panel(panel)
    assert found(result) == [("missing", "AAA", d(30))]
    assert result["detail"].iloc[0].startswith("1 sessions without a close")


@pytest.mark.parametrize("run, flagged", [(4, False), (5, True)])
def test_nan_run_threshold_is_inclusive(run, flagged):
    """With nan_run=5 a run of 4 is only 'missing'; a run of exactly 5 is a 'nan_run'."""
    close = clean()
    for i in range(10, 10 + run):
        close[i] = np.nan
    result = check_panel(make_panel(IDX, close={"AAA": close}), nan_run=5)
    checks = sorted(result["check"])
    assert checks == (["missing", "nan_run"] if flagged else ["missing"])


def test_two_gaps_are_counted_together_runs_separately():
    """Gaps of 2 and 6 sessions: one 'missing' row counting 8, one 'nan_run' for the 6."""
    close = clean()
    for i in (5, 6, *range(40, 46)):
        close[i] = np.nan
    result = missing_sessions(make_panel(IDX, close={"AAA": close}), nan_run=5)
    rows = sorted((r["check"], r["date"]) for r in result)
    assert rows == [("missing", d(5)), ("nan_run", d(40))]
    missing = [r for r in result if r["check"] == "missing"][0]
    assert missing["detail"].startswith("8 sessions without a close")


def test_nans_before_listing_and_after_delisting_are_not_missing():
    """Only gaps between a ticker's first and last price count."""
    close = clean()
    close[:7] = [np.nan] * 7
    close[-3:] = [np.nan] * 3
    assert check_panel(make_panel(IDX, close={"AAA": close})).empty


# --- non-positive prices ----------------------------------------------------------------------

def test_zero_open_is_nonpositive_only():
    """A zero open (the close-to-close returns are untouched): exactly one 'nonpositive'."""
    close = clean()
    open_ = list(close)
    open_[12] = 0.0
    panel = make_panel(IDX, close={"AAA": close, "BBB": clean(50)},
                       open_={"AAA": open_, "BBB": clean(50)})
    result = check_panel(panel)
    assert found(result) == [("nonpositive", "AAA", d(12))]
    assert "non-positive open" in result["detail"].iloc[0]


def test_zero_close_is_nonpositive_and_its_returns_are_bad_ticks():
    """A zero close is 'nonpositive'; the -100% and the +inf returns around it are also
    flagged as big moves (they are a bad tick), and nothing else is."""
    close = clean()
    close[12] = 0.0
    panel = make_panel(IDX, close={"AAA": close}, open_={"AAA": clean()})  # open stays > 0
    result = check_panel(panel)
    # -100% then +inf: beyond five-fold either way, so price errors (bad ticks)
    assert found(result) == [("bad_tick", "AAA", d(12)), ("bad_tick", "AAA", d(13)),
                             ("nonpositive", "AAA", d(12))]
    assert nonpositive_prices(panel)[0]["detail"].startswith("1 non-positive close")


def test_negative_close_is_nonpositive():
    close = clean()
    close[12] = -5.0
    rows = nonpositive_prices(make_panel(IDX, close={"AAA": close}, open_={"AAA": clean()}))
    assert [(r["check"], r["ticker"], r["date"]) for r in rows] == [
        ("nonpositive", "AAA", d(12))]


def test_bad_open_and_close_give_one_row_each():
    """make_panel's opens default to the closes: a zero there is one row for the close and
    one for the open, each counting its own bad prices."""
    close = clean()
    close[12] = close[20] = 0.0
    rows = nonpositive_prices(make_panel(IDX, close={"AAA": close}))
    assert sorted(r["detail"] for r in rows) == [
        f"2 non-positive close prices (first {d(12)})",
        f"2 non-positive open prices (first {d(12)})"]


# --- big one-day moves ------------------------------------------------------------------------

def jumped(at: int, factor: float = 1.4) -> list[float]:
    """The clean series with a one-day jump by ``factor`` on session ``at`` (level kept)."""
    close = clean()
    return close[:at] + [c * factor for c in close[at:]]


def test_forty_percent_move_away_from_events_is_flagged():
    """+40% on session 30, no event: one 'big_move' on that date (+40.1%: the jump on top
    of the +0.1% drift)."""
    panel = make_panel(IDX, close={"AAA": jumped(30), "BBB": clean(50)})
    result = check_panel(panel)
    assert found(result) == [("big_move", "AAA", d(30))]
    assert "+40.1%" in result["detail"].iloc[0]


def test_big_move_threshold():
    """A +20% day is not flagged at the default 0.25; at threshold 0.15 it is."""
    panel = make_panel(IDX, close={"AAA": jumped(30, 1.2)})
    assert check_panel(panel).empty
    assert found(check_panel(panel, move_threshold=0.15)) == [("big_move", "AAA", d(30))]


def test_forty_percent_drop_is_flagged_too():
    panel = make_panel(IDX, close={"AAA": jumped(30, 0.6)})
    assert found(check_panel(panel)) == [("big_move", "AAA", d(30))]


@pytest.mark.parametrize("offset, flagged", [
    (0, False), (3, False), (-5, False), (10, False),  # inside the (-5, 10) event window
    (-6, True), (11, True),                            # just outside it
])
def test_move_inside_the_event_window_is_not_flagged(offset, flagged):
    """An event of AAA with day 0 at session 35, window (-5, 10): a +40% day at
    35 + offset is expected news inside the window, a possible bad tick outside it."""
    pos0 = 35
    panel = make_panel(IDX, close={"AAA": jumped(pos0 + offset)})
    pairs = pd.DataFrame({"event_id": ["e"], "ticker": ["AAA"], "pos0": [pos0]})
    result = check_panel(panel, pairs, window=(-5, 10), estimation_start=-30)
    expected = [("big_move", "AAA", d(pos0 + offset))] if flagged else []
    assert found(result) == expected


def test_another_tickers_event_does_not_excuse_a_move():
    """BBB's event at session 30 does not cover AAA's +40% on that same day."""
    panel = make_panel(IDX, close={"AAA": jumped(30), "BBB": clean(50)})
    pairs = pd.DataFrame({"event_id": ["e"], "ticker": ["BBB"], "pos0": [30]})
    rows = big_moves(panel, pairs, (-5, 10))
    assert [(r["ticker"], r["date"]) for r in rows] == [("AAA", d(30))]
    result = check_panel(panel, pairs, estimation_start=-30)
    assert found(result) == [("big_move", "AAA", d(30))]


# --- late listings ----------------------------------------------------------------------------

def listed_from(first: int) -> list[float]:
    close = clean()
    return [np.nan] * first + close[first:]


def test_late_listing_is_flagged_for_the_late_ticker_only():
    """Day 0 at session 40, estimation from day -30 = session 10. NEW starts trading at
    session 15 (after 10): 'late_listing' dated its first price. OLD (from session 0) and
    EDGE (from exactly session 10) are fine. The NaNs before listing are not 'missing'."""
    panel = make_panel(IDX, close={"OLD": clean(), "NEW": listed_from(15),
                                   "EDGE": listed_from(10)})
    pairs = pd.DataFrame({"event_id": ["ev"] * 3, "ticker": ["OLD", "NEW", "EDGE"],
                          "pos0": [40, 40, 40]})
    result = check_panel(panel, pairs, window=(-5, 10), estimation_start=-30)
    assert found(result) == [("late_listing", "NEW", d(15))]
    detail = result["detail"].iloc[0]
    assert detail == (f"ev: first price {d(15)} is after the estimation window starts "
                      f"({d(10)})")


def test_late_listing_one_row_per_pair():
    """Two events of NEW, both with estimation windows starting before its listing, and a
    third whose window starts after it: two rows, named by event."""
    panel = make_panel(IDX, close={"NEW": listed_from(15)})
    pairs = pd.DataFrame({"event_id": ["a", "b", "c"], "ticker": ["NEW"] * 3,
                          "pos0": [30, 40, 50]})
    rows = late_listings(panel, pairs, estimation_start=-30)
    # windows start at sessions 0, 10 and 20; NEW's first price is session 15
    assert [r["detail"].split(":")[0] for r in rows] == ["a", "b"]
    assert {r["date"] for r in rows} == {d(15)}


def test_estimation_window_before_the_data_is_late_listing():
    """A window starting before the panel's first session is short too (start_pos < 0)."""
    panel = make_panel(IDX, close={"AAA": clean()})
    pairs = pd.DataFrame({"event_id": ["early"], "ticker": ["AAA"], "pos0": [20]})
    result = check_panel(panel, pairs, estimation_start=-30)
    assert found(result) == [("late_listing", "AAA", d(0))]


# --- on the bundled calendar and data ---------------------------------------------------------

@pytest.fixture(scope="module")
def bundled_study():
    from backtest.data.store import PriceStore, load_panel
    from events.loader import resolve_calendar

    cal = resolve_calendar("openai")
    panel = load_panel(cal, store=PriceStore(offline=True))
    return run_study(cal, panel, StudyConfig(pseudo_draws=0))


def test_crwv_is_a_late_listing_in_the_bundled_study(bundled_study):
    """CRWV's first bundled price is its 2025-03-28 IPO. With 250 estimation sessions ending
    10 before day 0, windows start 260 sessions before day 0: about a year (~252 sessions)
    plus a week. For oracle-rpo (day 0 2025-09-10) and oracle-q2 (2025-12-11) that is in
    2024, before the IPO; for openai-miss (2026-04-28) it is mid-April 2025, after it."""
    q = bundled_study.quality
    late = q[q["check"] == "late_listing"]
    assert sorted(late["ticker"]) == ["CRWV", "CRWV"]
    events = sorted(d.split(":")[0] for d in late["detail"])
    assert events == ["oracle-q2-2025-12-10", "oracle-rpo-2025-09-09"]
    assert set(late["date"].astype(str)) == {"2025-03-28"}


def test_quality_findings_have_the_schema(bundled_study):
    q = bundled_study.quality
    assert list(q.columns) == ["check", "ticker", "date", "detail"]
    assert set(q["check"]) <= {"missing", "nan_run", "nonpositive", "big_move", "late_listing"}


def test_report_has_a_data_quality_section_showing_crwv(tmp_path):
    from backtest.app.jobs import run_job

    out = run_job("openai", tmp_path / "report", config=StudyConfig(pseudo_draws=0))
    html = (out / "index.html").read_text()
    match = re.search(r"<h2[^>]*>Data quality</h2>(.*?)(?=<h2|\Z)", html, re.S)
    assert match, "no 'Data quality' heading"
    section = match.group(1)
    assert "CRWV" in section and "late_listing" in section
    assert "oracle-rpo-2025-09-09" in section
    quality_csv = pd.read_csv(out / "quality.csv")
    assert (quality_csv["check"] == "late_listing").sum() == 2


def test_an_event_move_is_news_but_a_price_error_is_flagged_even_near_events():
    """ORCL's +35.9% on 2025-09-10 (day 0 of the Oracle RPO event) is not a possible bad
    tick; a close jumping from 0.01 to 2.50 is, inside an event window and in a universe
    study (whose universe links cover every day)."""
    from backtest.data import PriceStore

    panel = PriceStore(offline=True).load(["ORCL", "SPY"])
    pos = panel.sessions.get_loc(pd.Timestamp("2025-09-10"))
    assert panel.returns["ORCL"].iat[pos] == pytest.approx(0.359, abs=0.001)
    pairs = pd.DataFrame({"event_id": ["oracle-rpo"], "ticker": ["ORCL"], "pos0": [pos],
                          "role": ["subject"]})
    assert check_panel(panel, pairs).query("ticker == 'ORCL' and check != 'late_listing'").empty
    close = clean()
    close[20] = 0.01
    close[21] = 2.50
    tick = make_panel(IDX, close={"AAA": close})
    near = pd.DataFrame({"event_id": ["e", "u"], "ticker": ["AAA", "AAA"], "pos0": [20, 21],
                         "role": ["partner", "universe"]})
    rows = check_panel(tick, near, window=(-5, 10))
    assert ("bad_tick", "AAA", d(21)) in found(rows)
    ticks = rows[rows["check"] == "bad_tick"].set_index("date")["detail"]
    assert "+24,900% (close 0.01 -> 2.5)" in ticks[d(21)]
    universe = check_panel(tick, near.iloc[[1]], window=(-5, 10), move_threshold=0.25)
    # only the universe link is near: it excuses nothing, so the -99.6% day is flagged too
    assert ("bad_tick", "AAA", d(20)) in found(universe)
