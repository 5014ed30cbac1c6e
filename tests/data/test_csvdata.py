"""Users' own CSV data: price files (long and wide) and factor files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from backtest.data.csvfiles import load_factor_csv, read_price_csv
from backtest.data.store import PriceStore
from events import InputError
from reports import read_table
from tests.helpers import write_file

_write = write_file  # (folder, name, text) -> path


def test_long_csv_with_dividend_gives_total_return(tmp_path):
    """(C_t + D_t) / C_{t-1} - 1 by hand on a three-day long file."""
    path = _write(tmp_path, "p.csv",
                  "date,ticker,close,dividend\n"
                  "2025-03-03,AAA,100,\n2025-03-04,AAA,98,1.5\n2025-03-05,AAA,99,0\n"
                  "2025-03-03,BBB,10,\n2025-03-04,BBB,11,\n2025-03-05,BBB,12.1,\n")
    panel, notes = read_price_csv(path)
    assert notes == []
    assert panel.returns.loc["2025-03-04", "AAA"] == pytest.approx((98 + 1.5) / 100 - 1)
    assert panel.returns.loc["2025-03-05", "BBB"] == pytest.approx(0.1)


def test_wide_csv_equals_long_csv(tmp_path):
    """The same adjusted closes as wide and as long files give the same returns."""
    wide = _write(tmp_path, "w.csv", "date,AAA,BBB\n2025-03-03,100,10\n2025-03-04,101,9\n"
                                     "2025-03-05,99.99,9.9\n")
    long = _write(tmp_path, "l.csv", "date,ticker,close,close_is_adjusted\n"
                                     "2025-03-03,AAA,100,1\n2025-03-04,AAA,101,1\n"
                                     "2025-03-05,AAA,99.99,1\n2025-03-03,BBB,10,1\n"
                                     "2025-03-04,BBB,9,1\n2025-03-05,BBB,9.9,1\n")
    a, _ = read_price_csv(wide)
    b, _ = read_price_csv(long)
    pd.testing.assert_frame_equal(a.returns, b.returns)
    assert a.returns.loc["2025-03-04", "BBB"] == pytest.approx(-0.1)


@pytest.mark.parametrize("text, line, field", [
    ("date,ticker,close\n2025-03-03,AAA,100\n2025-03-08,AAA,101\n", 3, "date"),  # Saturday
    ("date,ticker,close\n2025-03-03,AAA,100\n2025-13-04,AAA,101\n", 3, "date"),
    ("date,ticker,close\n2025-03-03,AAA,abc\n", 2, "close"),
    ("date,ticker,close\n2025-03-03,AAA,100\n2025-03-04,AAA,-1\n", 3, "close"),
    ("date,ticker,close\n2025-03-03,AAA,100\n2025-03-03,AAA,100\n", 3, "date"),
    ("date,ticker,close,volumne\n2025-03-03,AAA,100,5\n", 1, "volumne"),
    ("day,ticker,close\n2025-03-03,AAA,100\n", 1, "date"),
])
def test_bad_price_rows_are_refused_with_line_and_field(tmp_path, text, line, field):
    path = _write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as err:
        read_price_csv(path)
    assert str(err.value).startswith(f"{path}:{line}: {field}:")


def test_non_session_rows_can_be_dropped_explicitly(tmp_path):
    path = _write(tmp_path, "p.csv", "date,AAA\n2025-03-03,1\n2025-03-08,2\n2025-03-10,3\n")
    panel, notes = read_price_csv(path, drop_non_sessions=True)
    assert "2025-03-08" not in panel.close.index.strftime("%Y-%m-%d")
    assert "dropped 1 rows" in notes[0]


def test_factor_csv_percent_and_compact_dates(tmp_path):
    """Kenneth French style: empty first header, YYYYMMDD dates, percent values."""
    path = _write(tmp_path, "ff.csv", ",Mkt-RF,SMB,RF\n20250303,1.5,-0.2,0.02\n"
                                      "20250304,-0.5,0.1,0.02\n")
    ff = load_factor_csv(path, units="percent")
    assert list(ff.columns) == ["Mkt-RF", "SMB", "RF"]
    assert ff.loc["2025-03-03", "Mkt-RF"] == pytest.approx(0.015)
    assert ff.loc["2025-03-04", "RF"] == pytest.approx(0.0002)


def test_factor_model_with_rf_matches_lstsq(tmp_path):
    """model=factors with a factor file: ORCL's excess return on [1, Mkt-RF] by lstsq."""
    import backtest
    from backtest.data.store import load_panel
    from events.loader import resolve_calendar

    cal = resolve_calendar("openai")
    panel = load_panel(cal)
    spy = panel.returns["SPY"]
    rf = pd.Series(0.0001, index=spy.index)  # 1 bp a day
    rows = "\n".join(f"{d:%Y-%m-%d},{float(m) - 0.0001!r},0.0001" for d, m in spy.dropna().items())
    path = _write(tmp_path, "f.csv", "date,MKT,RF\n" + rows + "\n")
    res = backtest.study(cal, prices=panel, factor_data=load_factor_csv(path), model="factors",
                         exclude_other_events=False)
    sessions = panel.sessions
    pos0 = sessions.get_loc(pd.Timestamp("2026-04-28"))
    est = slice(pos0 - 260, pos0 - 10)
    y = (panel.returns["ORCL"] - rf).to_numpy()[est]
    x = (spy - rf).to_numpy()[est]
    coef = np.linalg.lstsq(np.column_stack([np.ones_like(x), x]), y, rcond=None)[0]
    day0 = pos0
    expected_ar = (panel.returns["ORCL"].iloc[day0] - rf.iloc[day0]
                   - coef[0] - coef[1] * (spy.iloc[day0] - rf.iloc[day0]))
    ar = res.ar.query("event_id == 'openai-miss-2026-04-28' and ticker == 'ORCL' "
                      "and rel_day == 0")["ar"].iloc[0]
    assert ar == pytest.approx(expected_ar, abs=1e-12)


def test_cli_study_on_user_prices(tmp_path):
    """`backtest study CAL --prices FILE` uses the user's prices, not the store."""
    store = PriceStore(offline=True).load(["ORCL", "SPY"])
    rows = [f"{d:%Y-%m-%d},{t},{float(store.close.at[d, t])!r},{float(store.dividend.at[d, t])!r}"
            for t in ("ORCL", "SPY") for d in store.sessions]
    prices = _write(tmp_path, "mine.csv", "date,ticker,close,dividend\n" + "\n".join(rows))
    cal = _write(tmp_path, "cal.yaml",
                 "events:\n  - id: miss\n    timestamp: 2026-04-28T15:36:00Z\n"
                 "    headline: h\n    source: s\n    sentiment: {label: bearish, score: 65}\n"
                 "    tickers:\n      - {ticker: ORCL, role: partner, direction: down}\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "backtest", "study", str(cal), "--prices",
                           str(prices), "--out", str(out), "--offline"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ar = read_table(out, "ar").query("rel_day == 0")
    assert ar["ret"].iloc[0] == pytest.approx(165.96000671386719 / 172.9600067138672 - 1)
