"""One source for defaults and one benchmark: the command line, the Python API and
experiment files read the same settings, and ``--market`` moves the study, the strategy's
metrics and the chart labels together."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from backtest.app.cli import build_parser
from backtest.app.commands import costs, key_values, parse_grid, study_config
from backtest.app.experiments import load_experiment
from backtest.data import bundled_path
from backtest.eventstudy import StudyConfig
from backtest.sim.costs import DEFAULT_INIT_CASH, Costs
from events.errors import ConfigError
from reports import read_table
from tests.helpers import ROOT


def test_cli_defaults_are_the_config_defaults():
    """With no options, the study and cost options build exactly StudyConfig() and Costs()."""
    args = build_parser().parse_args(["run", "openai", "--strategy", "x"])
    assert study_config(args) == StudyConfig()
    assert costs(args) == Costs()
    assert args.init_cash == DEFAULT_INIT_CASH
    sweep = build_parser().parse_args(["sweep", "openai", "--strategy", "x", "--grid", "a=1"])
    assert sweep.market == StudyConfig().market and costs(sweep) == Costs()


def test_a_changed_default_reaches_the_cli(monkeypatch):
    """The parser reads the dataclass, not a copy of its numbers: change a default, the
    option's default follows."""
    @dataclasses.dataclass(frozen=True)
    class Patched(StudyConfig):
        gap: int = 7
        pseudo_draws: int = 5

    monkeypatch.setattr("backtest.eventstudy.config.StudyConfig", Patched)
    args = build_parser().parse_args(["study", "openai"])
    assert (args.gap, args.pseudo_draws) == (7, 5)


def test_key_values_refuses_repeats_and_missing_equals():
    assert key_values(["hold=3", "roles=partner+supplier", "labels="], "param") == {
        "hold": "3", "roles": "partner+supplier", "labels": ""}
    with pytest.raises(ConfigError, match="--param hold given twice"):
        key_values(["hold=3", "hold=5"], "param")
    with pytest.raises(ConfigError, match="expects KEY=VALUE"):
        key_values(["hold"], "param")
    assert parse_grid(["hold=1, 3,5"]) == {"hold": ["1", "3", "5"]}
    with pytest.raises(ConfigError, match="--grid"):
        parse_grid(["hold="])


def _bundled_total_return(ticker: str, sessions: pd.DatetimeIndex) -> float:
    """Buy and hold of ``ticker`` over ``sessions`` from the raw snapshot: the product of
    (close + dividend) / previous close, the first session's return included."""
    raw = pd.read_parquet(bundled_path())
    raw = raw[raw["ticker"] == ticker].assign(date=lambda d: pd.to_datetime(d["date"]))
    raw = raw.set_index("date").sort_index()
    growth = (raw["close"] + raw["dividend"]) / raw["close"].shift(1)
    return float(np.prod(growth.reindex(sessions).to_numpy()) - 1.0)


@pytest.fixture(scope="module")
def qqq_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("qqq") / "run"
    proc = subprocess.run([sys.executable, "-m", "backtest", "run", "openai", "--strategy",
                           "short_partners_on_bad_news", "--market", "QQQ", "--offline",
                           "--pseudo-draws", "0", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def test_market_moves_the_study_the_metrics_and_the_labels(qqq_run):
    run = json.loads((qqq_run / "run.json").read_text())
    assert run["study"]["market"] == "QQQ" and run["strategy"]["benchmark"] == "QQQ"
    equity = pd.read_csv(qqq_run / "equity.csv", parse_dates=["date"]).set_index("date")
    metrics = json.loads((qqq_run / "metrics.json").read_text())["metrics"]
    # the first row is the close before the first simulated session (both curves at 0%)
    assert equity.iloc[0]["equity"] == equity.iloc[0]["benchmark"] == 100_000
    sessions = pd.DatetimeIndex(equity.index[1:])
    expected = _bundled_total_return("QQQ", sessions)
    assert metrics["benchmark_return"] == pytest.approx(expected, rel=1e-10)
    assert metrics["benchmark_return"] != pytest.approx(
        _bundled_total_return("SPY", sessions), rel=1e-3)
    html = (qqq_run / "index.html").read_text()
    assert "QQQ over the same sessions" in html and "alpha against QQQ" in html
    assert "SPY over the same sessions" not in html and "alpha against SPY" not in html
    # the study regressed on QQQ: no pair lists QQQ as its own ticker, estimates differ from SPY
    assert "QQQ" not in set(read_table(qqq_run, "car")["ticker"])


def test_experiment_study_block_is_read_whole(tmp_path):
    """Every StudyConfig field can be set in an experiment; a typo is refused with a hint."""
    base = (ROOT / "experiments" / "demo_short_partners.yaml").read_text()
    good = tmp_path / "good.yaml"
    good.write_text(base.replace("calendar: openai",
                                 "calendar: openai\nstudy: {market: QQQ, gap: 5, "
                                 "group_by: [role], car_windows: [[0, 1]]}"))
    exp = load_experiment(good)
    assert exp.study == StudyConfig(market="QQQ", gap=5, group_by=("role",),
                                    car_windows=((0, 1),))
    bad = tmp_path / "bad.yaml"
    bad.write_text(base.replace("calendar: openai", "calendar: openai\nstudy: {markt: QQQ}"))
    with pytest.raises(ConfigError, match=r"study\.markt: unknown study setting 'markt' "
                                          r"\(did you mean 'market'\?\)"):
        load_experiment(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(base.replace("calendar: openai", "calendar: openai\nstudy: {gap: ten}"))
    with pytest.raises(ConfigError, match=r"study\.gap: must be an integer"):
        load_experiment(wrong)
    proc = subprocess.run([sys.executable, "-m", "backtest", "run", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "did you mean 'market'" in proc.stderr
