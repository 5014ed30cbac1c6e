"""End to end: `backtest demo` on a fresh install writes a complete, deterministic report."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backtest.app.jobs import run_job
from reports import read_table
from strategies import get_strategy

SECTIONS = ["What the news did", "Did it pay", "How much to trust it", "Event study",
            "CAAR by group", "AR heatmap", "Tests by window and group", "Confounded pairs",
            "Skipped pairs", "Strategy", "Drawdown", "P&amp;L per event", "Metrics", "Trades",
            "Events", "Event audit", "Data quality", "Run details"]


@pytest.fixture(scope="module")
def numba_cache(tmp_path_factory) -> Path:
    """The console demo's own, empty, numba cache: whatever it compiles lands here."""
    return tmp_path_factory.mktemp("numba-cache")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory, numba_cache) -> Path:
    cwd = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    proc = subprocess.run([sys.executable, "-m", "backtest", "demo", "--offline"], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**env, "NUMBA_CACHE_DIR": str(numba_cache)})
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr  # run as Python, as silent as compiled
    out = cwd / "reports" / "demo"
    assert f"report: {out / 'index.html'}" in proc.stdout
    # the terminal tells the answer before the path
    assert proc.stdout.startswith("What the news did: openai-miss-2026-04-28")
    assert "Did it pay: total return" in proc.stdout and "How much to trust it:" in proc.stdout
    return out


def test_demo_writes_html_with_sections_and_images(demo_dir):
    html = (demo_dir / "index.html").read_text()
    for heading in SECTIONS:
        assert re.search(rf"<h[23][^>]*>{re.escape(heading)}", html), heading
    pngs = sorted(demo_dir.glob("*.png"))
    assert len(pngs) >= 2
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(embedded) == len(pngs) >= 6
    for data in embedded:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in html and "https://" not in html.split("</style>")[0]


def test_demo_tables_show_the_seed_event(demo_dir):
    """The demo's tables carry the seed event and the CRWV skip."""
    car = read_table(demo_dir, "car")
    seed = car[(car["event_id"] == "openai-miss-2026-04-28") & (car["ticker"] == "ORCL")]
    assert set(seed["role"]) == {"partner"} and ((seed["window_start"] == 0)
                                                 & (seed["window_end"] == 0)).sum() == 1
    skipped = (demo_dir / "skipped.csv").read_text()
    assert "oracle-rpo-2025-09-09,CRWV,insufficient estimation data" in skipped
    for name in ("ar.parquet", "caar.csv", "tests.csv", "timing.parquet", "trades.csv",
                 "equity.csv", "metrics.json"):
        assert (demo_dir / name).stat().st_size > 0, name


def test_same_inputs_give_identical_metrics(demo_dir, tmp_path):
    """A second run in this process writes a byte-identical metrics.json."""
    out = run_job("openai", tmp_path / "again", strategy=get_strategy("short_partners_on_bad_news"))
    assert (out / "metrics.json").read_bytes() == (demo_dir / "metrics.json").read_bytes()


def test_the_console_demo_runs_the_kernels_as_python_with_the_compiled_numbers(
        demo_dir, numba_cache, tmp_path):
    """``backtest demo`` compiles nothing (its numba cache stays empty) and every table
    equals, bit for bit, the same job run here with the kernels compiled."""
    from backtest.eventstudy import kernels

    if not hasattr(kernels.estimation_ols, "py_func"):
        pytest.skip("this test process runs numba as Python (NUMBA_DISABLE_JIT): nothing "
                    "compiled to compare with")
    assert not any(p.is_file() for p in numba_cache.rglob("*")), "the demo compiled"
    out = run_job("openai", tmp_path / "compiled",
                  strategy=get_strategy("short_partners_on_bad_news"),
                  title="Demo: OpenAI compute-chain news, study and short-partners strategy")
    tables = ("ar", "car", "estimates", "timing")
    for name in tables:
        pd.testing.assert_frame_equal(read_table(demo_dir, name), read_table(out, name),
                                      check_exact=True, obj=name)
    written = sorted(p.name for p in demo_dir.iterdir())
    assert written == sorted(p.name for p in out.iterdir())
    others = [n for n in written if n.endswith((".csv", ".json")) and n != "run.json"]
    assert len(others) >= 14, others
    for name in others:  # every other table and summary, byte for byte
        assert (demo_dir / name).read_bytes() == (out / name).read_bytes(), name
    ran, here = (json.loads((d / "run.json").read_text()) for d in (demo_dir, out))
    ran.pop("run_seconds"), here.pop("run_seconds")
    assert ran == here


@pytest.mark.parametrize("argv, disabled", [
    (["demo", "--offline"], "1"), (["demo", "--compile"], None), (["study", "openai"], None),
    (["run", "demo"], None), (["demo", "--comp"], None), (["demo", "--offline", "--co"], None)])
def test_only_the_demo_runs_numba_as_python(monkeypatch, argv, disabled):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    monkeypatch.setattr(os, "environ", env)  # this process's own environment is not touched
    monkeypatch.delitem(sys.modules, "numba", raising=False)  # as in a fresh console process
    from backtest.app import cli

    cli._plain_python_for_demo(argv)
    assert env.get("NUMBA_DISABLE_JIT") == disabled


def test_a_users_numba_setting_is_kept_and_an_imported_numba_left_alone(monkeypatch):
    from backtest.app import cli

    env = {**os.environ, "NUMBA_DISABLE_JIT": "0"}
    monkeypatch.setattr(os, "environ", env)
    with monkeypatch.context() as m:
        m.delitem(sys.modules, "numba", raising=False)
        cli._plain_python_for_demo(["demo"])
    assert env["NUMBA_DISABLE_JIT"] == "0"
    del env["NUMBA_DISABLE_JIT"]
    import numba  # noqa: F401 - imported, as by an earlier command of this process
    cli._plain_python_for_demo(["demo"])  # numba already imported here: too late to choose
    assert "NUMBA_DISABLE_JIT" not in env


def test_headline_is_escaped(tmp_path):
    """A headline with markup shows as text, never as a live tag."""
    cal = tmp_path / "evil.yaml"
    cal.write_text(
        "events:\n"
        "  - id: evil\n"
        "    timestamp: 2026-04-28T15:36:00Z\n"
        "    headline: <script>alert(1)</script> & <b>bold</b>\n"
        "    source: '<img src=x onerror=alert(2)>'\n"
        "    sentiment: {label: bearish, score: 65}\n"
        "    tickers:\n"
        "      - {ticker: ORCL, role: partner, direction: down}\n")
    out = run_job(cal, tmp_path / "out")
    html = (out / "index.html").read_text()
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html


def test_interrupted_run_keeps_previous_report(tmp_path, monkeypatch):
    """If rendering fails midway, the previous report stays as it was and no temp folder is left."""
    out = run_job("openai", tmp_path / "r")
    before = (out / "index.html").read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("reports.render_report", boom)
    with pytest.raises(RuntimeError):
        run_job("openai", tmp_path / "r")
    assert (out / "index.html").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
