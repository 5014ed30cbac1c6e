"""Daily returns as input (``--returns-csv``): long and wide files, simple and log returns.

Expected values come from prices written by hand (closes 100, 110, 99 are returns
+10% and -10%) or from the bundled prices' own returns, never from the reader.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import backtest
from backtest.data.csvfiles import read_returns_csv
from backtest.data.store import PriceStore
from backtest.sim.costs import Costs
from events import InputError
from reports import read_table
from tests.helpers import write_file

# Tuesday 2025-01-21 follows Martin Luther King Day: the anchor session is Friday the 17th.
DAYS = ["2025-01-21", "2025-01-22", "2025-01-23", "2025-01-24"]
ANCHOR = "2025-01-17"
PRICES = {"AAA": [100.0, 110.0, 99.0, 103.95, 93.555], "BBB": [50.0, 51.0, 49.98, 50.4798,
                                                              50.4798]}


_write = write_file  # (folder, name, text) -> path


def _hand_returns(kind: str) -> dict[str, list[float]]:
    """Each ticker's returns on DAYS from PRICES (the first price is the anchor's)."""
    out = {}
    for ticker, closes in PRICES.items():
        ratio = np.array(closes[1:]) / np.array(closes[:-1])
        out[ticker] = list(np.log(ratio) if kind == "log" else ratio - 1.0)
    return out


def _csv(schema: str, returns: dict[str, list[float]]) -> str:
    if schema == "long":
        rows = [f"{d},{t},{float(r)!r}" for t, rs in returns.items() for d, r in zip(DAYS, rs)]
        return "date,ticker,ret\n" + "\n".join(rows) + "\n"
    rows = [",".join([d, *(repr(float(returns[t][i])) for t in returns)])
            for i, d in enumerate(DAYS)]
    return "date," + ",".join(returns) + "\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize("schema", ["long", "wide"])
@pytest.mark.parametrize("kind", ["simple", "log"])
def test_returns_of_known_prices_come_back_exactly(tmp_path, schema, kind):
    """Returns written from hand prices give a panel whose returns are the prices' ones and
    whose close is the price divided by the first price (1.0 on the anchor session)."""
    path = _write(tmp_path, "r.csv", _csv(schema, _hand_returns(kind)))
    panel, notes = read_returns_csv(path, kind)
    assert notes == []
    assert list(panel.sessions.strftime("%Y-%m-%d")) == [ANCHOR, *DAYS]
    for ticker, closes in PRICES.items():
        expected = np.array(closes[1:]) / np.array(closes[:-1]) - 1.0
        got = panel.returns[ticker]
        assert np.isnan(got.loc[ANCHOR])  # nothing before the anchor
        np.testing.assert_allclose(got.loc[DAYS].to_numpy(), expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(panel.close[ticker].to_numpy(),
                                   np.array(closes) / closes[0], rtol=0, atol=1e-12)
    assert panel.returns.loc["2025-01-22", "AAA"] == pytest.approx(-0.10, abs=1e-12)
    assert panel.open.isna().all().all()
    assert (panel.dividend == 0.0).all().all()
    assert panel.close_is_adjusted.all()
    assert panel.source_text() == f"{kind} returns {path}"


def test_a_missing_return_stays_missing_and_the_next_is_kept(tmp_path):
    """An empty cell is a NaN return on that day only; the return after it is the given
    one, in the returns and in the total-return prices the simulator trades."""
    path = _write(tmp_path, "r.csv", "date,AAA,BBB\n2025-01-21,0.10,0.01\n2025-01-22,,0.02\n"
                                     "2025-01-23,-0.10,0.03\n2025-01-24,0.05,\n")
    panel, _ = read_returns_csv(path)
    r = panel.returns
    assert r["AAA"].isna().tolist() == [True, False, True, False, False]
    assert r.loc["2025-01-23", "AAA"] == -0.10
    assert r.loc["2025-01-24", "AAA"] == 0.05
    assert r["BBB"].isna().tolist() == [True, False, False, False, True]
    _, close = panel.tr_prices
    assert close.loc["2025-01-23", "AAA"] / close.loc["2025-01-21", "AAA"] == pytest.approx(0.9)
    assert close.loc["2025-01-23", "AAA"] == pytest.approx(1.1 * 0.9)


def test_a_session_without_a_row_is_a_missing_return(tmp_path):
    """Long rows that skip a session (Wednesday) leave a NaN there, not a two-day return."""
    path = _write(tmp_path, "r.csv", "date,ticker,ret\n2025-01-21,AAA,0.1\n"
                                     "2025-01-23,AAA,-0.1\n")
    panel, _ = read_returns_csv(path)
    assert list(panel.sessions.strftime("%Y-%m-%d")) == [ANCHOR, *DAYS[:3]]
    assert np.isnan(panel.returns.loc["2025-01-22", "AAA"])
    assert panel.returns.loc["2025-01-23", "AAA"] == -0.1


def test_non_session_rows_can_be_dropped_explicitly(tmp_path):
    path = _write(tmp_path, "r.csv", "date,AAA\n2025-01-21,0.1\n2025-01-25,0.2\n"
                                     "2025-01-27,0.3\n")
    panel, notes = read_returns_csv(path, drop_non_sessions=True)
    assert "2025-01-25" not in panel.sessions.strftime("%Y-%m-%d")
    assert panel.returns.loc["2025-01-27", "AAA"] == 0.3
    assert "dropped 1 rows" in notes[0]


@pytest.mark.parametrize("text, line, field", [
    ("date,ticker,ret\n2025-01-21,AAA,abc\n", 2, "ret"),  # not a number
    ("date,ticker,ret\n2025-01-21,AAA,0.1\n2025-01-22,AAA,-1\n", 3, "ret"),  # a total loss
    ("date,ticker,ret\n2025-01-21,AAA,-1.5\n", 2, "ret"),
    ("date,ticker,ret\n2025-01-21,AAA,12\n", 2, "ret"),  # percent, or a bad tick
    ("date,AAA,BBB\n2025-01-21,0.1,0.2\n2025-01-22,0.1,inf\n", 3, "BBB"),
    ("date,AAA\n2025-01-21,0.1\n2025-01-22,10.5\n", 3, "AAA"),
    ("date,ticker,ret\n2025-01-21,AAA,0.1\n2025-01-21,AAA,0.2\n", 3, "date"),  # duplicate
    ("date,AAA\n2025-01-21,0.1\n2025-01-21,0.2\n", 3, "date"),
    ("date,ticker,close\n2025-01-21,AAA,100\n", 1, "ret"),  # a price file
    ("date,ticker,ret,close\n2025-01-21,AAA,0.1,100\n", 1, "close"),
    ("day,AAA\n2025-01-21,0.1\n", 1, "date"),
    ("date,AAA\n2025-01-25,0.1\n", 2, "date"),  # a Saturday
    ("date,AAA\n2025-13-01,0.1\n", 2, "date"),
    ("date,ticker,ret\n2025-01-21,,0.1\n", 2, "ticker"),
    ("date,AAA\n2000-01-03,0.1\n", 2, "date"),  # no session before it to anchor on
    # compounded, +1000% a day leaves the price range the simulator can fill at
    ("date,AAA\n" + "".join(f"{d:%Y-%m-%d},10\n" for d in
                            pd.bdate_range("2025-02-03", periods=10)), 10, "AAA"),
])
def test_bad_returns_are_refused_with_line_and_field(tmp_path, text, line, field):
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as err:
        read_returns_csv(path)
    assert str(err.value).startswith(f"{path}:{line}: {field}:"), str(err.value)


def test_log_returns_are_bounded_as_their_simple_returns(tmp_path):
    """log(11) is +1000%: a log return above it is refused; -3 (a 95% fall) is kept."""
    path = _write(tmp_path, "r.csv", "date,AAA\n2025-01-21,-3\n2025-01-22,2.5\n")
    with pytest.raises(InputError, match=r"r\.csv:3: AAA: log return 2\.5"):
        read_returns_csv(path, "log")
    path.write_text("date,AAA\n2025-01-21,-3\n")
    panel, _ = read_returns_csv(path, "log")
    assert panel.returns.loc["2025-01-21", "AAA"] == pytest.approx(np.exp(-3.0) - 1.0)


@pytest.mark.parametrize("text", ["", "\n\n", "date,ticker,ret\n", "date,AAA\n2025-01-21,\n"])
def test_empty_files_are_refused(tmp_path, text):
    path = _write(tmp_path, "empty.csv", text)
    with pytest.raises(InputError) as err:
        read_returns_csv(path)
    assert str(err.value).startswith(f"{path}: ")


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """Prices of three bundled tickers and a long returns CSV of their own total returns."""
    prices = PriceStore(offline=True).load(["ORCL", "NVDA", "SPY"])
    rows = [f"{d:%Y-%m-%d},{t},{float(r)!r}" for t in prices.tickers
            for d, r in prices.returns[t].dropna().items()]
    path = tmp_path_factory.mktemp("returns") / "bundled.csv"
    path.write_text("date,ticker,ret\n" + "\n".join(rows) + "\n")
    return prices, path


def test_study_on_the_bundled_returns_equals_the_study_on_the_prices(bundled, tmp_path):
    """The same CARs (car.csv) from the prices and from a file of their returns."""
    prices, path = bundled
    panel, _ = read_returns_csv(path)
    assert panel.sessions.equals(prices.sessions)  # the anchor is the first price's day
    for name, source in (("prices", prices), ("returns", panel)):
        backtest.study("openai", prices=source, pseudo_draws=0).write(tmp_path / name)
    a, b = (read_table(tmp_path / name, "car") for name in ("prices", "returns"))
    assert set(b["ticker"]) == {"ORCL", "NVDA"} and len(b) == len(a) > 0
    keys = ["event_id", "ticker", "window_start", "window_end"]
    both = a.merge(b, on=keys, suffixes=("_p", "_r"))
    assert len(both) == len(a)
    for col in ("car", "car_t", "car_se", "bhar"):
        np.testing.assert_allclose(both[f"{col}_r"], both[f"{col}_p"], rtol=0, atol=1e-10,
                                   err_msg=col)


def test_a_strategy_on_returns_fills_at_the_close(bundled, tmp_path):
    """No opens: a fill at the next open moves to that session's close (with a note), and a
    trade's price move is the bundled prices' compounded return between those closes."""
    prices, path = bundled
    panel, _ = read_returns_csv(path)
    cal = _write(tmp_path, "cal.yaml",  # after the close: the strategy enters at the next open
                 "events:\n  - id: late\n    timestamp: 2026-04-27T22:00:00Z\n"
                 "    headline: h\n    source: s\n    sentiment: {label: bearish, score: 65}\n"
                 "    tickers:\n      - {ticker: ORCL, role: partner, direction: down}\n")
    run = backtest.run(cal, prices=panel, costs=Costs(fees=0.0, slippage=0.0))
    assert any("no open price on 2026-04-28, entry moved to the close" in n
               for n in run.simulation.notes)
    trade = run.simulation.trades.iloc[0]
    entry, exit_ = (pd.Timestamp(trade[c]).tz_convert("America/New_York").tz_localize(None)
                    .normalize() for c in ("entry_time", "exit_time"))
    held = prices.returns["ORCL"].loc[entry:exit_].iloc[1:]  # after the entry close
    assert trade["exit_price"] / trade["entry_price"] == pytest.approx((1 + held).prod(),
                                                                       abs=1e-12)
