"""``--returns-csv FILE [--returns-kind simple|log]`` through the command's entry point.

A study reads the file and says so in run.json; a bad file, or ``--prices`` with
``--returns-csv``, exits 2 with one line naming file, line and field, and writes
nothing. The runs call :func:`backtest.app.cli.main` (what the console script runs)
in this process: a new process per refusal would cost seconds of imports each.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from backtest.app.cli import main
from backtest.data.store import PriceStore
from reports import read_table

CALENDAR = ("events:\n  - id: miss\n    timestamp: 2026-04-28T15:36:00Z\n    headline: h\n"
            "    source: s\n    sentiment: {label: bearish, score: 65}\n"
            "    tickers:\n      - {ticker: ORCL, role: partner, direction: down}\n")

# name -> (file text, where the error line points: "line: field", or "" for the file)
BAD = {
    "text": ("date,ticker,ret\n2025-01-21,ORCL,abc\n", "2: ret"),
    "total-loss": ("date,ticker,ret\n2025-01-21,ORCL,0.01\n2025-01-22,ORCL,-1\n", "3: ret"),
    "absurd": ("date,ORCL,SPY\n2025-01-21,0.01,0.02\n2025-01-22,0.01,11\n", "3: SPY"),
    "duplicate": ("date,ticker,ret\n2025-01-21,ORCL,0.01\n2025-01-21,ORCL,0.02\n", "3: date"),
    "no-ret-column": ("date,ticker,return\n2025-01-21,ORCL,0.01\n", "1: ret"),
    "no-date-column": ("day,ORCL\n2025-01-21,0.01\n", "1: date"),
    "holiday": ("date,ORCL\n2025-01-20,0.01\n", "2: date"),
    "empty": ("", ""),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The bundled ORCL and SPY prices, a wide CSV of their returns and a calendar."""
    folder = tmp_path_factory.mktemp("inputs")
    prices = PriceStore(offline=True).load(["ORCL", "SPY"])
    wide = prices.returns.dropna(how="all")
    good = folder / "mine.csv"
    good.write_text("date,ORCL,SPY\n" + "\n".join(
        f"{d:%Y-%m-%d},{float(wide.at[d, 'ORCL'])!r},{float(wide.at[d, 'SPY'])!r}"
        for d in wide.index) + "\n")
    cal = folder / "cal.yaml"
    cal.write_text(CALENDAR)
    return prices, good, cal


@pytest.fixture
def study(inputs, tmp_path, monkeypatch, capsys):
    """Run ``backtest study CAL ARGS --offline --out report`` in an empty cwd;
    (exit code, stdout, stderr, cwd)."""
    _, _, cal = inputs
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("BACKTEST_CACHE_DIR", str(tmp_path / "cache"))

    def run(*args: str):
        code = main(["study", str(cal), *args, "--offline", "--out", "report"])
        out = capsys.readouterr()
        return code, out.out, out.err, cwd

    return run


def _refused(code, out, err, cwd) -> str:
    """Exit 2, one 'backtest: error:' line, nothing written; the line."""
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("backtest: error: "), err
    assert out == ""
    assert list(cwd.iterdir()) == []  # no report, no leftover temporary folder
    return lines[0]


def test_study_on_returns_uses_them_and_says_so(inputs, study):
    """The day-0 return is the bundled prices' own; run.json names the returns file."""
    prices, good, _ = inputs
    code, _, err, cwd = study("--returns-csv", str(good), "--pseudo-draws", "0")
    assert code == 0, err
    run = json.loads((cwd / "report" / "run.json").read_text())
    assert run["data_source"] == f"simple returns {good}"
    assert run["data_sources"] == {"ORCL": f"simple returns {good}",
                                   "SPY": f"simple returns {good}"}
    close = prices.close["ORCL"]
    day0 = close.index.get_loc(pd.Timestamp("2026-04-28"))
    ar = read_table(cwd / "report", "ar").query("rel_day == 0")
    expected = close.iloc[day0] / close.iloc[day0 - 1] - 1
    assert ar["ret"].iloc[0] == pytest.approx(expected, abs=1e-14)  # parquet: every digit


def test_prices_and_returns_together_are_refused(inputs, study):
    _, good, _ = inputs
    line = _refused(*study("--returns-csv", str(good), "--prices", str(good)))
    assert "--prices or --returns-csv, not both" in line


def test_returns_kind_without_a_file_is_refused(study):
    assert "--returns-kind is for --returns-csv" in _refused(*study("--returns-kind", "log"))


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_returns_file_exits_2_naming_file_line_and_field(study, tmp_path, name):
    text, where = BAD[name]
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    line = _refused(*study("--returns-csv", str(path)))
    assert line.startswith(f"backtest: error: {path}:{where}: " if where
                           else f"backtest: error: {path}: "), line
