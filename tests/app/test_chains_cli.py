"""``backtest chains compare`` and ``chains show`` end to end, and their refusals."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest

from backtest.data.store import bundled_path
from tests.helpers import backtest_command


def _raw_total_return(ticker: str, start: str, end: str) -> float:
    """Total return of ``ticker`` from the close of ``start`` to the close of ``end``,
    from the raw snapshot: prod((close + dividend) / previous close)."""
    raw = pd.read_parquet(bundled_path())
    raw = raw[raw["ticker"] == ticker].assign(date=lambda d: pd.to_datetime(d["date"]))
    raw = raw.set_index("date").sort_index().loc[:end]
    growth = ((raw["close"] + raw["dividend"]) / raw["close"].shift(1)).loc[start:]
    return float(np.prod(growth.iloc[1:].to_numpy()) - 1.0)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("chains") / "cmp"
    proc = subprocess.run(backtest_command() + [
        "chains", "compare", "google", "openai", "--start", "2025-04-28", "--end", "2026-04-28",
        "--calendar", "openai", "--offline", "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout


def test_compare_writes_the_tables_and_the_report(compared):
    out, stdout = compared
    files = {p.name for p in out.iterdir()}
    assert {"chains.csv", "chain_members.csv", "chain_index.csv", "run.json", "index.html",
            "chain_index.png", "chain_contributions.png"} <= files
    table = pd.read_csv(out / "chains.csv")
    assert list(table["chain"]) == ["google", "openai", "google - openai"]
    assert list(table.columns[:12]) == [
        "chain", "start", "end", "members", "total_return", "benchmark_return",
        "excess_return", "alpha_annual", "alpha_t", "beta", "vol_annual", "max_drawdown"]
    assert set(table["start"]) == {"2025-04-28"} and set(table["end"]) == {"2026-04-28"}
    assert "google" in stdout and "report:" in stdout


def test_one_membership_buy_and_hold_is_the_mean_of_the_members(compared):
    out, _ = compared
    table = pd.read_csv(out / "chains.csv").set_index("chain")
    members = ["GOOGL", "AVGO", "TSM"]
    expected = np.mean([_raw_total_return(t, "2025-04-28", "2026-04-28") for t in members])
    assert table.loc["google", "total_return"] == pytest.approx(expected, rel=1e-9)
    bench = _raw_total_return("SPY", "2025-04-28", "2026-04-28")
    assert table.loc["google", "benchmark_return"] == pytest.approx(bench, rel=1e-9)
    contrib = pd.read_csv(out / "chain_members.csv")
    for chain, sub in contrib.groupby("chain"):
        assert sub["contribution"].sum() == pytest.approx(table.loc[chain, "total_return"],
                                                          abs=1e-9)


def test_news_split_multiplies_to_the_total(compared):
    out, _ = compared
    t = pd.read_csv(out / "chains.csv").set_index("chain")
    for chain in ("google", "openai"):
        row = t.loc[chain]
        assert (1 + row["event_return"]) * (1 + row["other_return"]) == pytest.approx(
            1 + row["total_return"], rel=1e-9)
        assert row["news_events"] >= 1 and 0 <= row["event_vs_other_p"] <= 1


def test_report_says_it_in_words(compared):
    out, _ = compared
    html = (out / "index.html").read_text()
    assert "How the chains did" in html and "google: " in html
    assert "Members and what each contributed" in html
    run = json.loads((out / "run.json").read_text())
    assert run["chains"]["names"] == ["google", "openai"]


def test_report_rerenders(compared, tmp_path):
    out, _ = compared
    proc = subprocess.run(backtest_command() + ["report", str(out)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "How the chains did" in (out / "index.html").read_text()


@pytest.mark.parametrize("args, says", [
    (["compare", "nope", "openai"], "no such chain file or bundled chain"),
    (["compare", "openai", "openai"], "named twice"),
    (["compare", "openai", "google", "--start", "2031-01-01"], "fewer than two sessions"),
    (["compare", "openai", "google", "--start", "yesterday"], "--start"),
    (["compare", "openai", "google", "--window", "3", "1"], "--window"),
    (["show", "nope"], "no such chain"),
])
def test_refusals_exit_2_with_one_line(tmp_path, args, says):
    proc = subprocess.run(backtest_command() + ["chains", *args, "--offline", "--out",
                                                str(tmp_path / "o")] if args[0] == "compare"
                          else backtest_command() + ["chains", *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and says in proc.stderr, proc.stderr
    assert not (tmp_path / "o").exists()


def test_show_lists_members_with_dates():
    proc = subprocess.run(backtest_command() + ["chains", "show", "openai"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "CRWV" in proc.stdout and "2025-03-28" in proc.stdout
    assert proc.stdout.startswith("openai: equal weights, buy and hold")
