"""CI regression: experiments, baselines, `backtest check`, determinism, the pytest plugin."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from backtest.app.experiments import Tolerance, check, load_experiment
from events import InputError
from tests.helpers import ROOT

DEMO = ROOT / "experiments" / "demo_short_partners.yaml"


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "backtest", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture
def exp_dir(tmp_path):
    """A copy of the demo experiment with its own baseline folder."""
    shutil.copy(DEMO, tmp_path / "demo.yaml")
    return tmp_path


def test_tolerance_edges_decimal_exact():
    """On the bound passes, just beyond fails; rel and abs either; exact; NaN only equals NaN."""
    assert Tolerance(abs=0.01).allows(1.0, 1.01)           # 1.01 - 1.00 = 0.01 exactly
    assert not Tolerance(abs=0.01).allows(1.0, 1.0100001)
    assert Tolerance(rel=0.001).allows(200.0, 200.2)       # 0.001 * 200 = 0.2
    assert not Tolerance(rel=0.001).allows(200.0, 200.2000001)
    assert Tolerance(abs=0.5, rel=0.0).allows(10.0, 10.5)
    assert Tolerance(exact=True).allows(10, 10) and not Tolerance(exact=True).allows(10, 11)
    assert Tolerance(abs=1.0).allows(None, None) and not Tolerance(abs=1.0).allows(None, 0.0)


def test_shipped_experiments_pass_against_their_baselines():
    """The repo's experiments match the committed baselines (what .ci/run checks)."""
    results = check(sorted((ROOT / "experiments").glob("*.yaml")))
    assert len(results) >= 3 and all(r.passed for r in results)
    assert not any(r.data_changed for r in results)


def test_changed_parameter_fails_and_names_the_metric(exp_dir):
    """hold 5 -> 3 moves total_return and sharpe: exit 1, table names them REGRESSED."""
    assert _cli("check", exp_dir / "demo.yaml", "--update").returncode == 0
    text = (exp_dir / "demo.yaml").read_text().replace("hold: 5", "hold: 3")
    (exp_dir / "demo.yaml").write_text(text)
    proc = _cli("check", exp_dir / "demo.yaml", "--junit", exp_dir / "j.xml", "--format",
                "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)[0]
    rows = {r["metric"]: r for r in doc["metrics"]}
    moved = {m for m, r in rows.items() if r["status"] != "ok"}
    assert {"total_return", "sharpe"} <= moved
    # each verdict follows the metric's better direction, worked out here by hand
    better = {"total_return": 1, "sharpe": 1, "max_drawdown": 1, "hit_rate": 1,
              "fees_paid": -1, "borrow_paid": -1, "trades": 0, "psr": 1,
              "event_mean_return": 1, "alpha_annual": 1}
    for m in moved:
        up = rows[m]["now"] > rows[m]["baseline"]
        want = ("changed" if better[m] == 0 else
                "improved" if up == (better[m] > 0) else "regressed")
        assert rows[m]["status"] == want, (m, rows[m])
    assert doc["settings_changed"] == ["params.hold: 5 -> 3"]
    assert not doc["data_changed"]  # the data did not change: the parameters did
    table = _cli("check", exp_dir / "demo.yaml").stdout
    assert "setting changed since the baseline: params.hold: 5 -> 3" in table
    assert "beyond tolerance: the baseline no longer matches" in table
    suite = ET.parse(exp_dir / "j.xml").getroot().find("testsuite")
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert "total_return" in failed


def test_json_format_and_exit_zero_when_unchanged(exp_dir):
    assert _cli("check", exp_dir / "demo.yaml", "--update").returncode == 0
    proc = _cli("check", exp_dir / "demo.yaml", "--format", "json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert doc[0]["passed"] is True
    assert {m["metric"] for m in doc[0]["metrics"]} == set(load_experiment(DEMO).guard)


def test_missing_baseline_says_how_to_create_it(exp_dir):
    proc = _cli("check", exp_dir / "demo.yaml")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert f"backtest check {exp_dir / 'demo.yaml'} --update" in proc.stderr


@pytest.mark.parametrize("content", ["{not json", '{"metrics": {"sharpe": "high"}, '
                                                  '"data_hash": "x"}', "[]"])
def test_corrupted_baseline_is_refused(exp_dir, content):
    (exp_dir / "baselines").mkdir()
    (exp_dir / "baselines" / "demo-short-partners.json").write_text(content)
    proc = _cli("check", exp_dir / "demo.yaml")
    assert proc.returncode == 2 and "corrupted baseline" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_update_rewrites_and_reports_changes(exp_dir):
    assert _cli("check", exp_dir / "demo.yaml", "--update").returncode == 0
    before = json.loads((exp_dir / "baselines" / "demo-short-partners.json").read_text())
    text = (exp_dir / "demo.yaml").read_text().replace("hold: 5", "hold: 3")
    (exp_dir / "demo.yaml").write_text(text)
    proc = _cli("check", exp_dir / "demo.yaml", "--update")
    assert proc.returncode == 0 and "updated" in proc.stdout
    after = json.loads((exp_dir / "baselines" / "demo-short-partners.json").read_text())
    assert after["metrics"]["total_return"] != before["metrics"]["total_return"]
    assert not list((exp_dir / "baselines").glob(".*tmp"))  # atomic: no temp file left


@pytest.mark.parametrize("text, line, field", [
    ("calendar: openai\nstrategy: x\n", 1, "guard"),
    ("calendar: openai\nstrategy: x\nguard: {sharpe: {abss: 1}}\n", 3, "guard.sharpe"),
    ("calendar: openai\nstrategy: x\nguard: {sharpe: loose}\n", 3, "guard.sharpe"),
    ("calendar: openai\nstrategy: x\nguard: {sharpe: exact}\ncosts: {feez: 1}\n", 4,
     "costs.feez"),
    ("calendar: openai\nstratgy: x\nguard: {sharpe: exact}\n", 2, "stratgy"),
    ("calendar: openai\nstrategy: x\nguard: {dsr: exact}\nsweep: {grid: {hold: 3}}\n", 4,
     "sweep.grid.hold"),
    ("calendar: openai\nstrategy: x\nguard: {dsr: exact}\nsweep: {grid: {}}\n", 4,
     "sweep.grid"),
    ("calendar: openai\nstrategy: x\nguard: {dsr: exact}\n"
     "sweep: {grid: {hold: [1]}, metric: luck}\n", 4, "sweep.metric"),
    ("calendar: openai\nstrategy: x\nguard: {dsr: exact}\n"
     "sweep: {grid: {hold: [1]}, walk_forward: 0}\n", 4, "sweep.walk_forward"),
    ("calendar: openai\nstrategy: x\nguard: {dsr: exact}\n"
     "sweep: {grid: {hold: [1]}, folds: 2}\n", 4, "sweep.folds"),
])
def test_bad_experiment_files_are_refused(tmp_path, text, line, field):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_experiment(path)
    assert str(err.value).startswith(f"{path}:{line}: {field}:")


def test_sweep_experiment_guards_the_inference_figures(tmp_path):
    """The shipped sweep experiment: its baseline holds the deflated Sharpe ratio, PBO,
    the reality check and the walk-forward; widening the grid changes them, and the check
    fails naming them (the trial count is part of the deflation)."""
    shutil.copy(ROOT / "experiments" / "demo_sweep.yaml", tmp_path / "sweep.yaml")
    assert _cli("check", tmp_path / "sweep.yaml", "--update").returncode == 0
    base = json.loads((tmp_path / "baselines" / "demo-sweep.json").read_text())
    assert {"dsr", "pbo", "spa_p", "wf_oos_mean"} <= set(base["metrics"])
    assert base["settings"]["sweep"]["walk_forward"] == 3
    text = (tmp_path / "sweep.yaml").read_text().replace("hold: [1, 3, 5, 10]",
                                                         "hold: [1, 2, 3, 4, 5, 10]")
    (tmp_path / "sweep.yaml").write_text(text)
    proc = _cli("check", tmp_path / "sweep.yaml", "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)[0]
    moved = {r["metric"] for r in doc["metrics"] if r["status"] != "ok"}
    assert "dsr" in moved, doc
    assert any(c.startswith("sweep.grid.hold") for c in doc["settings_changed"]), doc


def test_unknown_guarded_metric_is_refused(exp_dir):
    text = (exp_dir / "demo.yaml").read_text().replace("trades: exact", "trade_count: exact")
    (exp_dir / "demo.yaml").write_text(text)
    proc = _cli("check", exp_dir / "demo.yaml", "--update")
    assert proc.returncode == 2 and "trade_count" in proc.stderr


def test_metrics_json_is_byte_identical_across_processes(tmp_path):
    """Two separate processes, same experiment: the same metrics.json bytes."""
    for name in ("a", "b"):
        assert _cli("run", DEMO, "--out", tmp_path / name).returncode == 0
    a, b = ((tmp_path / n / "metrics.json").read_bytes() for n in ("a", "b"))
    assert a == b
    assert b"NaN" not in a  # valid JSON: NaN is written as null


def test_pytest_plugin_fixture(tmp_path):
    """A user's test with the backtest_check fixture passes, then fails after a change."""
    shutil.copy(DEMO, tmp_path / "demo.yaml")
    (tmp_path / "test_user.py").write_text(
        "def test_demo(backtest_check):\n    backtest_check('demo.yaml')\n")
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"]
    first = subprocess.run([*run, "--update-baselines"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stdout
    assert subprocess.run(run, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300).returncode == 0
    (tmp_path / "demo.yaml").write_text((tmp_path / "demo.yaml").read_text()
                                        .replace("hold: 5", "hold: 2"))
    failed = subprocess.run(run, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1 and "params.hold: 5 -> 2" in failed.stdout
    assert "regressed" in failed.stdout or "improved" in failed.stdout
    assert "warning" not in failed.stdout.lower()  # third-party warnings kept out
    # the path is read from the pytest root: the same test passes from a subfolder
    (tmp_path / "sub").mkdir()
    again = subprocess.run([*run[:-1], "--rootdir", str(tmp_path), str(tmp_path / "test_user.py"),
                            "--update-baselines"], cwd=tmp_path / "sub", capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stdout
