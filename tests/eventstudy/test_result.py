"""What a study returns teaches its reader: StudyResult.summary(), repr, HTML, write();
StrategyRun.summary(); named test results; one error class per kind of failure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import backtest
from backtest.eventstudy import stats
from backtest.eventstudy.result import SUMMARY_FILE
from events.errors import CalendarError, ConfigError, InputError, PriceDataError


@pytest.fixture(scope="module")
def res():
    return backtest.study("openai", pseudo_draws=99)


def test_summary_is_one_row_per_window_and_group_headline_first(res):
    table = res.summary()
    groups = res.tests.query("n >= 2")[["group", "window_start", "window_end"]]
    windows = set(res.config.car_windows)
    wanted = {(g, s, e) for g, s, e in groups.itertuples(index=False) if (s, e) in windows}
    assert len(table) == len(wanted)
    # the DeepSeek suppliers (one day 0): KP-adjusted BMP first, value and p as in tests
    row = table[(table["group"] == "bearish supplier") & (table["window"] == "(+0, +0)")].iloc[0]
    t = res.tests.query("group == 'bearish supplier' and window_start == 0 and window_end == 0")
    kp = t[t["statistic"] == "kp_bmp_t"].iloc[0]
    cell = f"{kp['value']:.2f} (p={kp['p_value']:.3f}){stats.stars(kp['p_value'])}"
    assert row["headline"] == row["KP-adj. BMP t"] == cell
    assert row["headline statistic"] == "KP-adj. BMP t"
    assert list(table.columns[:12]) == ["window", "group", "N", "news days", "evidence", "CAR",
                                        "mean CAR", "median CAR", "5% trimmed mean", "pos:neg",
                                        "headline statistic", "headline"]
    assert list(table.columns[12:14]) == ["Holm p", "BH q"]
    assert list(table.columns[14:]) == [s.label for s in stats.STATISTICS]
    # thin evidence in words: one news day says so, every group of 5 or more says nothing
    assert row["evidence"] == "thin: 1 news day"
    assert (table.loc[table["news days"] >= 5, "evidence"] == "").all()
    few = table[table["news days"].between(2, 4)]
    assert (few["evidence"] == few["news days"].map(lambda d: f"thin: {d} news days")).all()
    # Holm over every (window, group) row of this table: m x the smallest p, by hand
    family = res.tests[res.tests["p_holm"].notna()]
    assert len(family) == len(table)
    smallest = family["p_value"].min()
    assert family["p_holm"].min() == pytest.approx(min(1.0, len(family) * smallest))
    assert (family["p_holm"] >= family["p_value"]).all()
    assert (family["p_bh"] <= family["p_holm"] + 1e-15).all()  # BH never stricter than Holm
    assert row["news days"] == 1 and row["CAR"] == "as is"  # one day 0, all expected down
    pooled = table[(table["group"] == "all") & (table["window"] == "(+0, +0)")].iloc[0]
    assert pooled["CAR"] == "in expected direction"
    assert row["N"] == int(kp["n"]) and row["mean CAR"] == f"{kp['mean']:.2%}"


def test_wilcoxon_w_is_shown_as_the_rank_sum_it_is(res):
    """W+ is a sum of ranks, a multiple of 1/2: the table shows "507" or "506.5", not
    "507.00"; every other statistic keeps two decimals."""
    table = res.summary()
    w = res.tests[res.tests["statistic"] == "wilcoxon_w"]
    shown = 0
    for row in table.to_dict("records"):
        s, e = (int(x) for x in row["window"].strip("()").split(", "))
        v = w[(w["group"] == row["group"]) & (w["window_start"] == s)
              & (w["window_end"] == e)]["value"].iloc[0]
        cell = row["Wilcoxon W+"]
        if not np.isfinite(v):
            assert cell == ""
            continue
        assert 2 * v == round(2 * v)  # a rank sum: whole or half
        number = cell.split(" (p=")[0]
        assert number == (str(int(v)) if v == int(v) else f"{int(v)}.5"), (cell, v)
        assert float(number) == v
        shown += 1
    assert shown >= 5
    bmp = table["BMP t"].dropna().str.split(" ").str[0]
    assert bmp.str.fullmatch(r"-?\d+\.\d\d").all()
    # the formatter by itself, on hand-picked values
    fmt = stats.BY_NAME["wilcoxon_w"].format_value
    assert [fmt(507.0), fmt(506.5), fmt(0.0), fmt(5_000_050_000.0)] == \
        ["507", "506.5", "0", "5000050000"]
    assert stats.BY_NAME["bmp_t"].format_value(3.0) == "3.00"


def test_repr_html_and_write(res, tmp_path):
    text = repr(res)
    assert text.startswith("StudyResult(market model on SPY: 9 events")
    assert "skipped" in text and len(text) < 300
    html = res._repr_html_()
    assert "<table" in html and "KP-adj. BMP t" in html
    res.write(tmp_path / "out")
    names = {p.name for p in (tmp_path / "out").iterdir()}
    # the bundled calendar's OpenAI-miss event links the openai chain: chain_events.csv
    assert {"ar.parquet", "car.parquet", "caar.csv", "tests.csv", "estimates.parquet",
            "skipped.csv", "quality.csv", "timing.parquet", "chain_events.csv",
            SUMMARY_FILE} == names
    back = pd.read_parquet(tmp_path / "out" / "car.parquet")
    pd.testing.assert_frame_equal(back, res.car)  # parquet: every digit and type kept


def test_strategy_run_summary_lists_the_metrics():
    run = backtest.run("openai", "short_partners_on_bad_news")
    table = run.summary()
    assert list(table["metric"][:4]) == ["total_return", "benchmark_return", "excess_return",
                                         "sharpe"]
    shown = dict(zip(table["metric"], table["value"]))
    assert shown.keys() == run.metrics.keys()
    for name, value in run.metrics.items():  # NaN (no interval on 3 news days) shows as NaN
        assert shown[name] == value or (np.isnan(shown[name]) and np.isnan(value)), name
    assert "trades" in repr(run) and "<table" in run._repr_html_()


def test_statistics_return_named_results_that_unpack():
    car = np.array([0.01, 0.02, -0.005, 0.03])
    result = stats.csect_t(car)
    t, p = result
    assert (result.statistic, result.p_value) == (t, p)
    mean, sd = car.mean(), car.std(ddof=1)
    assert t == pytest.approx(mean / (sd / 2))
    assert all(isinstance(s.compute, type(lambda: 0)) for s in stats.STATISTICS)
    assert len(stats.STATISTIC_NAMES) == len(set(stats.STATISTIC_NAMES)) == 18


def test_one_error_class_per_kind(tmp_path):
    bad = tmp_path / "cal.yaml"
    bad.write_text("events: [1, 2]\n")
    with pytest.raises(CalendarError):
        backtest.study(str(bad))
    with pytest.raises(ConfigError):
        backtest.study("openai", model="capm")
    with pytest.raises(PriceDataError):
        backtest.PriceStore(offline=True, cache_dir=tmp_path).load(["NOSUCHTICKER"])
    for kind in (CalendarError, ConfigError, PriceDataError):
        assert issubclass(kind, InputError)


def test_results_plot_for_notebooks(res):
    """StudyResult.plot and StrategyRun.plot return matplotlib figures; the equity line and
    its benchmark both start at 0% on the close before the first trade."""
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    for kind in ("caar", "car", "heatmap"):
        fig = res.plot(kind)
        assert isinstance(fig, Figure)
        plt.close(fig)
    run = backtest.run("openai", "short_partners_on_bad_news")
    fig = run.plot()
    lines = fig.axes[0].get_lines()
    starts = [line.get_ydata()[0] for line in lines if len(line.get_ydata()) > 2]
    assert starts == [0.0, 0.0]
    frame = run.equity_frame()
    assert frame.index[0] < run.simulation.equity.index[0]
    assert frame.iloc[0]["equity"] == frame.iloc[0]["benchmark"] == 100_000.0
    plt.close(fig)
    with pytest.raises(ValueError):
        res.plot("pie")


def test_exclude_flagged_skips_pairs_with_a_bad_tick_and_robust_means_ignore_it():
    """A $1 -> $250 tick inside one pair's window: with exclude_flagged that pair is
    skipped with the day named; without, the mean CAR jumps while the median and the
    trimmed mean barely move."""
    import pandas as pd

    from backtest.data import PriceStore
    from backtest.eventstudy import StudyConfig, run_study
    from events.loader import parse_calendar

    panel = PriceStore(offline=True).load(["ORCL", "MSFT", "NVDA", "AMD", "AVGO", "SPY"])
    close = panel.close.copy()
    day = pd.Timestamp("2025-09-11")
    close.loc[day, "AMD"] = close.loc[day, "AMD"] * 250  # a bad tick on day +1
    bad = type(panel)(panel.open, close, panel.dividend, panel.close_is_adjusted,
                      panel.sources)
    cal = parse_calendar({"name": "t", "events": [{
        "id": "e", "date": "2025-09-10", "session": "before_open", "headline": "h",
        "source": "s", "sentiment": {"label": "bullish", "score": 60},
        "tickers": [{"ticker": t, "role": "partner", "direction": "up"}
                    for t in ("ORCL", "MSFT", "NVDA", "AMD", "AVGO")]}]})
    kept = run_study(cal, bad, StudyConfig(pseudo_draws=0))
    dropped = run_study(cal, bad, StudyConfig(pseudo_draws=0, exclude_flagged=True))
    assert list(dropped.skipped["ticker"]) == ["AMD"]
    assert "bad tick on 2025-09-11" in dropped.skipped["reason"].iloc[0]
    assert "AMD" not in set(dropped.car["ticker"])
    row = kept.tests[(kept.tests["group"] == "all") & (kept.tests["window_start"] == 0)
                     & (kept.tests["window_end"] == 1)].iloc[0]
    cars = kept.car[(kept.car["window_start"] == 0) & (kept.car["window_end"] == 1)]["car"]
    assert row["mean"] > 10  # +25,000% on one of five pairs
    assert row["median"] == pytest.approx(float(np.median(cars)))
    assert abs(row["median"]) < 0.2
    assert "exclude_flagged" not in StudyConfig().as_dict()  # stored settings stay equal
    assert StudyConfig(exclude_flagged=True).as_dict()["exclude_flagged"] is True


def test_the_ar_table_is_written_in_pieces_as_it_is_whole(tmp_path):
    """The writer streams the AR table from the study's arrays, a few pairs at a time,
    without building it: the parquet reads back as the whole table, the CSV is byte for
    byte the whole table's CSV; one event's rows equal the table cut to that event."""
    from backtest.eventstudy.result import ARRows
    from backtest.io import write_csv, write_table_pieces

    fresh = backtest.study("openai", pseudo_draws=0)
    assert isinstance(fresh.ar_rows, ARRows)  # not built yet
    rows = fresh.ar_rows
    event = "openai-miss-2026-04-28"
    alone = rows.of_event(event)
    assert len(alone) and isinstance(fresh.ar_rows, ARRows)  # still not built
    for fmt in ("parquet", "csv"):
        write_table_pieces(rows.pieces(pairs=3), tmp_path, "ar_pieces", fmt)
    whole = fresh.ar  # built now, and kept
    assert fresh.ar is whole and len(whole) == len(rows)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "ar_pieces.parquet"), whole,
                                  check_exact=True)
    write_csv(whole, tmp_path / "whole.csv")
    assert (tmp_path / "ar_pieces.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    cut = whole[whole["event_id"] == event].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, cut, check_exact=True)
    assert rows.of_event("no-such-event").empty
    # reaction() reads one event's rows: the same answer from the arrays as from the table
    pd.testing.assert_frame_equal(backtest.study("openai", pseudo_draws=0).reaction(event),
                                  fresh.reaction(event))


def test_no_pieces_write_an_empty_table(tmp_path):
    from backtest.io import write_table_pieces

    for fmt in ("parquet", "csv"):
        path = write_table_pieces(iter(()), tmp_path, "empty", fmt)
        assert path.is_file()
    assert pd.read_parquet(tmp_path / "empty.parquet").empty
