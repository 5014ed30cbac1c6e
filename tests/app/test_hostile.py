"""Hostile but realistic input, through the real command line, one case per class of failure.

Each case runs ``backtest ...`` in its own folder, with ``HOME`` and the price cache in
temporary folders, and must end as the contract says: exit code 2 (0 where the tool
should just work), one to three lines on stderr, no traceback, within 60 seconds,
nothing written outside the target, no user file changed, no output left behind by a
refusal. The classes follow issue 16: (1) data loss and writes outside the target,
(3) hangs and memory blow-ups, (4) wrong values accepted silently, (5) tracebacks
instead of one line, (6) text that breaks reports. Plug-in code (2) is tested in
``tests/strategies/test_strategies_api.py``; interrupted and concurrent runs, and
generated inputs (hypothesis), at the end of this file.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backtest.io import MARKER
from reports import read_table
from tests.helpers import ROOT, backtest_command

EVENT = """  - id: {id}
    date: 2025-01-21
    session: after_close
    headline: {headline}
    source: s
    sentiment: {{label: bullish, score: 50}}
    tickers: [{{ticker: {ticker}, role: partner, direction: up}}]
"""
CALENDAR = "name: {name}\nevents:\n" + EVENT
# "billion laughs": nine levels of nine aliases, 9^9 (387 million) strings once expanded
BOMB = "a: &a [" + ", ".join(['"lol"'] * 9) + "]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")
) + "events: *i\n"
EXPERIMENT = (ROOT / "experiments" / "demo_short_partners.yaml").read_text()
RUN = ["run", "openai", "--strategy", "short_partners_on_bad_news", "--offline",
       "--pseudo-draws", "0"]


def _calendar(name="cal", headline="h", ticker="ORCL", event_id="a") -> str:
    return CALENDAR.format(name=name, id=event_id, headline=headline, ticker=ticker)


@dataclass
class Case:
    args: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)  # created in the folder
    rc: int = 2
    says: str = ""  # a fragment of the error line
    env: dict[str, str] = field(default_factory=dict)
    dirs: tuple[str, ...] = ()  # folders created (with a user file) before the run
    writes: tuple[str, ...] = ()  # what a successful run must create (glob patterns)


CASES: dict[str, Case] = {
    # ---- 1. data loss, writes outside the target -------------------------------------
    "out_user_folder": Case([*RUN, "--out", "mine"], dirs=("mine",),
                            says="not a results folder of this tool"),
    "out_existing_file": Case([*RUN, "--out", "notes.txt"], {"notes.txt": "my notes\n"},
                              says="exists and is a file"),
    "out_root": Case([*RUN, "--out", "/"], says="is /, the home folder"),
    "out_dot": Case([*RUN, "--out", "."], says="the current folder"),
    "out_parent": Case([*RUN, "--out", ".."], says="the current folder or one above it"),
    "out_symlink": Case([*RUN, "--out", "link"], says="symbolic link"),
    "out_sys": Case([*RUN, "--out", "/sys/backtest-x"], says="cannot write here"),
    "out_under_a_file": Case([*RUN, "--out", "notes.txt/x"], {"notes.txt": "my notes\n"},
                             says="is a file"),
    "name_escapes": Case(["study", "cal.yaml", "--offline", "--pseudo-draws", "0"],
                         {"cal.yaml": _calendar(name="../../victim")}, rc=0,
                         writes=("reports/study-victim-*/index.html",)),
    "import_ticker_path": Case(["data", "import", "p.csv"],
                               {"p.csv": "date,ticker,close\n2025-01-02,../../x,10\n"},
                               says="p.csv:2: ticker: not a ticker"),
    "import_ticker_slash": Case(["data", "import", "p.csv"],
                                {"p.csv": "date,ticker,close\n2025-01-02,A/B,10\n"},
                                says="p.csv:2: ticker: not a ticker"),
    "import_ticker_5000": Case(["data", "import", "p.csv"],
                               {"p.csv": f"date,ticker,close\n2025-01-02,{'A' * 5000},10\n"},
                               says="p.csv:2: ticker: not a ticker"),
    "fetch_ticker_path": Case(["data", "fetch", "../../x"], says="not a ticker"),
    "import_over_user_calendar": Case(
        ["events", "import", "h.csv", "--out", "mine.yaml"],
        {"h.csv": "timestamp,headline\n2026-04-28T15:36:00Z,OpenAI misses revenue targets\n",
         "mine.yaml": "name: mine\nevents: []\n"}, says="was not written by this tool"),
    "experiment_name_escapes": Case(
        ["check", "e.yaml", "--update"],
        {"e.yaml": EXPERIMENT.replace("name: demo-short-partners", "name: ../../../victim")
         .replace("calendar: openai", "calendar: openai")}, rc=0,
        writes=("baselines/victim.json",)),
    # ---- 3. hangs and memory blow-ups --------------------------------------------------
    "yaml_alias_bomb": Case(["study", "bomb.yaml", "--offline"], {"bomb.yaml": BOMB},
                            says="alias bomb"),
    "experiment_alias_bomb": Case(["check", "e.yaml"],
                                  {"e.yaml": BOMB.replace("events: *i", "calendar: *i")},
                                  says="alias bomb"),
    "yaml_50mb": Case(["events", "show", "big.yaml"],
                      {"big.yaml": "events:\n" + _calendar()[len("name: cal\nevents:\n"):]
                       + "# " + "x" * (50 * 1024 * 1024) + "\n"}, says="more than the 8 MB"),
    "yaml_deep": Case(["events", "show", "deep.yaml"],
                      {"deep.yaml": "[" * 20_000 + "]" * 20_000}, says="nested more than"),
    "csv_100k_columns": Case(
        [*RUN, "--prices", "wide.csv", "--out", "o"],
        {"wide.csv": "date," + ",".join(f"T{i}" for i in range(100_000)) + "\n2025-01-02,"
         + ",".join("1" for _ in range(100_000)) + "\n"}, says="more than 20,000"),
    "prices_dev_zero": Case([*RUN, "--prices", "/dev/zero", "--out", "o"],
                            says="not a regular file"),
    "grid_million": Case(["sweep", "openai", "--strategy", "pair_trade", "--offline",
                          "--grid", "hold=" + ",".join(map(str, range(1, 101))),
                          "--grid", "threshold=" + ",".join(map(str, range(1, 101))),
                          "--grid", "gross=" + ",".join(map(str, range(1, 101)))],
                         says="1,000,000 combinations"),
    # ---- 4. wrong values accepted silently ---------------------------------------------
    "cal_headline_list": Case(["events", "show", "c.yaml"],
                              {"c.yaml": _calendar(headline="[a, b]")},
                              says="c.yaml:6: events[0].headline: must be text"),
    "cal_source_mapping": Case(["events", "show", "c.yaml"],
                               {"c.yaml": _calendar().replace("source: s", "source: {x: 1}")},
                               says="events[0].source: must be text"),
    "cal_null_tag": Case(["events", "show", "c.yaml"],
                         {"c.yaml": _calendar() + "    tags: {theme: }\n"},
                         says="tags.theme"),
    "cal_duplicate_events": Case(["events", "show", "c.yaml"],
                                 {"c.yaml": _calendar() + "events:\n" + EVENT.format(
                                     id="b", headline="h", ticker="ORCL")},
                                 says="duplicate key 'events'"),
    "cal_duplicate_inner": Case(["events", "show", "c.yaml"],
                                {"c.yaml": _calendar().replace("    source: s\n",
                                                               "    source: s\n    source: t\n")},
                                says="duplicate key 'source'"),
    "cal_merge_key": Case(["events", "show", "c.yaml"],
                          {"c.yaml": "base: &b {label: bullish, score: 50}\n" + _calendar()
                           .replace("sentiment: {label: bullish, score: 50}",
                                    "sentiment: {<<: *b}").replace("name: cal\n", "")},
                          says="merge keys"),
    "prices_inf": Case(["data", "import", "p.csv"],
                       {"p.csv": "date,ticker,close\n2025-01-02,ORCL,inf\n"},
                       says="p.csv:2: close: not a finite number"),
    "prices_infinity": Case(["data", "import", "p.csv"],
                            {"p.csv": "date,ticker,close\n2025-01-02,ORCL,Infinity\n"},
                            says="not a finite number"),
    "prices_huge": Case(["data", "import", "p.csv"],
                        {"p.csv": "date,ticker,close\n2025-01-02,ORCL,1e300\n"},
                        says="between 1e-06 and 1e+09"),
    "prices_tiny": Case(["data", "import", "p.csv"],
                        {"p.csv": "date,ticker,close\n2025-01-02,ORCL,1e-300\n"},
                        says="between 1e-06 and 1e+09"),
    "prices_negative_dividend": Case(["data", "import", "p.csv"],
                                     {"p.csv": "date,ticker,close,dividend\n"
                                               "2025-01-02,ORCL,10,-1\n"},
                                     says="dividend: must be between 0 and"),
    "prices_duplicate_column": Case(["data", "import", "p.csv"],
                                    {"p.csv": "date,ORCL,orcl\n2025-01-02,1,2\n"},
                                    says="appears twice"),
    "prices_empty_column_name": Case(["data", "import", "p.csv"],
                                     {"p.csv": "date,ORCL,,SPY\n2025-01-02,1,2,3\n"},
                                     says="column 3 has no name"),
    "factor_constant": Case(["study", "openai", "--model", "factors", "--factors-csv", "f.csv",
                             "--offline"],
                            {"f.csv": "date,F1,RF\n20250102,1,0\n20250103,1,0\n"},
                            says="F1: factor column is constant"),
    "factor_none": Case(["study", "openai", "--model", "factors", "--factors-csv", "f.csv",
                         "--offline"], {"f.csv": "date,RF\n20250102,0\n20250103,0\n"},
                        says="no factor columns besides RF"),
    "param_gross_nan": Case([*RUN, "--param", "gross=nan"], says="gross must be a finite"),
    "param_stop_inf": Case([*RUN, "--param", "stop=inf"], says="stop must be a finite"),
    "param_notional_nan": Case([*RUN, "--param", "notional=nan"], says="notional"),
    "param_unknown_role": Case([*RUN, "--param", "roles=partner+buyer"], says="'buyer'"),
    "param_unknown_label": Case([*RUN, "--param", "labels=bearishh"], says="'bearishh'"),
    "param_zero_lookback": Case([*RUN, "--param", "vol_lookback=0"], says="vol_lookback"),
    "param_twice": Case([*RUN, "--param", "hold=3", "--param", "hold=5"],
                        says="--param hold given twice"),
    "pseudo_draws_negative": Case(["study", "openai", "--offline", "--pseudo-draws", "-5"],
                                  says="pseudo_draws"),
    "estimation_too_long": Case(["study", "openai", "--offline", "--estimation", "4000"],
                                says="longer than the price data"),
    "factors_model_without_factors": Case(["study", "openai", "--offline", "--model",
                                           "factors"], says="needs factors"),
    "factors_twice": Case(["study", "openai", "--offline", "--model", "factors",
                           "--factors", "SPY,SMH,SPY"], says="listed twice"),
    "init_cash_zero": Case([*RUN, "--init-cash", "0"], says="init_cash: must be a positive"),
    "fees_infinite": Case([*RUN, "--fees", "inf"], says="fees"),
    # ---- 5. tracebacks instead of one line ---------------------------------------------
    "exp_text_for_number": Case(["check", "e.yaml"], {"e.yaml": EXPERIMENT.replace(
        "init_cash: 100000", "init_cash: lots")}, says="init_cash: must be a finite number"),
    "exp_list_for_mapping": Case(["check", "e.yaml"], {"e.yaml": EXPERIMENT.replace(
        "costs: {fees: 0.0005, fixed_fees: 0.0, slippage: 0.0005, borrow_rate: 0.005, "
        "borrow: {CRWV: 0.05}}", "costs: [1, 2]")}, says="costs: must be a mapping"),
    "exp_null_param": Case(["check", "e.yaml"], {"e.yaml": EXPERIMENT.replace(
        "hold: 5}", "hold: null}")}, says="strategy.params.hold"),
    "exp_nan_tolerance": Case(["check", "e.yaml"], {"e.yaml": EXPERIMENT.replace(
        "sharpe: {abs: 0.01}", "sharpe: {abs: .nan}")}, says="guard.sharpe.abs"),
    "baseline_nan": Case(["check", "e.yaml"],
                         {"e.yaml": EXPERIMENT,
                          "baselines/demo-short-partners.json": json.dumps(
                              {"experiment": "x", "metrics": {"sharpe": "NaN"}, "data_hash": "x"}
                          ).replace('"NaN"', "NaN")}, says="corrupted baseline"),
    "baseline_deep_json": Case(["check", "e.yaml"],
                               {"e.yaml": EXPERIMENT, "baselines/demo-short-partners.json":
                                "[" * 100_000 + "]" * 100_000}, says="nested too deeply"),
    "cache_dir_is_a_file": Case(["study", "openai", "--offline"], {"cachefile": "x"},
                                env={"BACKTEST_CACHE_DIR": "cachefile"},
                                says="the price cache must be a folder"),
    "seed_negative": Case(["study", "openai", "--offline", "--seed", "-1"], says="seed"),
    "winsorize_half": Case(["study", "openai", "--offline", "--winsorize", "0.5"],
                           says="winsorize is the share cut from each tail"),
    "trim_nan": Case(["study", "openai", "--offline", "--trim", "nan"], says="trim"),
    "winsorize_and_trim": Case(["study", "openai", "--offline", "--winsorize", "0.01",
                                "--trim", "0.01"], says="two answers to one question"),
    "block_negative": Case(["study", "openai", "--offline", "--block", "-5"], says="block"),
    "junit_unwritable": Case(["check", str(ROOT / "experiments" / "demo_fade.yaml"),
                              "--junit", "notes.txt/check.xml"], {"notes.txt": "my notes\n"},
                             says="is a file, not a folder"),
    "junit_user_file": Case(["check", str(ROOT / "experiments" / "demo_fade.yaml"),
                             "--junit", "notes.txt"], {"notes.txt": "my notes\n"},
                            says="was not written by this tool"),
    "report_not_ours": Case(["report", "mine"], dirs=("mine",),
                            says="not a results folder of this tool"),
    "sweep_unknown_metric": Case(["sweep", "openai", "--strategy", "pair_trade", "--grid",
                                  "hold=1,2", "--metric", "sharpee", "--offline"],
                                 says="unknown metric 'sharpee'"),
    # ---- 6. text that breaks or vanishes in reports ------------------------------------
    "dollar_headline": Case(["run", "c.yaml", "--strategy", "long_on_good_news", "--offline",
                             "--pseudo-draws", "0", "--out", "o"],
                            {"c.yaml": _calendar(headline="'Stargate: $500B now, $100B at "
                                                          "once_x^2'")}, rc=0,
                            writes=("o/index.html", "o/car_seed_event.png")),
}


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` (links as links) with a hash of its bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "link"
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _run_case(base: Path, name: str, case: Case):
    # the case's folder is two levels down, so that "../../victim" is inside base
    cwd = base / name / "work" / "here"
    cwd.mkdir(parents=True)
    for rel, content in case.files.items():
        path = cwd / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    for rel in case.dirs:
        (cwd / rel).mkdir()
        (cwd / rel / "my_file.txt").write_text("mine\n")
    if name == "out_symlink":
        (cwd / "target").mkdir()
        (cwd / "link").symlink_to(cwd / "target")
    if name == "name_escapes":  # a user's folder where the unsafe name would land
        (base / name / "victim").mkdir()
        (base / name / "victim" / "keep.txt").write_text("mine\n")
    before = _tree(base / name)
    home = base / name / "home"
    env = {**os.environ, "HOME": str(home), "BACKTEST_CACHE_DIR": str(base / name / "cache"),
           **case.env}
    started = time.time()
    proc = subprocess.run(backtest_command() + case.args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    return name, (proc, time.time() - started, before, _tree(base / name), cwd)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(lambda kv: _run_case(base, *kv), CASES.items()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_handled(runs, name):
    case = CASES[name]
    proc, seconds, before, after, cwd = runs[name]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == case.rc, proc.stderr
    assert seconds < 60
    lines = proc.stderr.strip().splitlines()
    changed = {k for k in before if after.get(k) != before[k]}
    assert not changed, f"user files changed: {changed}"
    if case.rc == 2:
        assert 1 <= len(lines) <= 3, proc.stderr
        assert lines[-1].startswith("backtest: error: ") and case.says in lines[-1], lines
        new = [k for k in set(after) - set(before) if not k.startswith("home/")]
        assert not new, f"a refusal wrote {sorted(new)}"  # (libraries cache in HOME)
    else:
        for rel in case.writes:
            assert len(list(cwd.glob(rel))) == 1, rel
        targets = tuple(f"work/here/{w.split('/')[0]}/" for w in case.writes)
        outside = [k for k in set(after) - set(before)
                   if not k.startswith(targets + ("cache/", "home/"))]
        assert not outside, f"written outside the target: {outside}"


def test_the_dollar_headline_is_drawn_literally(runs):
    """The chart title holds the headline as written (matplotlib did not read it as math)."""
    proc, *_, cwd = runs["dollar_headline"]
    assert proc.returncode == 0, proc.stderr
    html = (cwd / "o" / "index.html").read_text()
    assert "Stargate: $500B now, $100B at once_x^2" in html


def test_a_network_that_never_answers_gives_up_within_30_s(tmp_path):
    """A proxy that accepts connections and never replies: ``data fetch`` stops within 30 s
    with one line naming --offline and ``backtest data import``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])  # accept, never answer
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    proxy = f"http://127.0.0.1:{server.getsockname()[1]}"
    env = {**os.environ, "HOME": str(tmp_path), "HTTPS_PROXY": proxy, "HTTP_PROXY": proxy,
           "https_proxy": proxy, "http_proxy": proxy, "ALL_PROXY": proxy}
    started = time.time()
    try:
        proc = subprocess.run(backtest_command() + ["data", "fetch", "IBM", "--cache-dir",
                                                    str(tmp_path / "cache")],
                              env=env, capture_output=True, text=True, timeout=60)
    finally:
        server.close()
    assert time.time() - started < 30 + 5  # the budget, plus starting Python
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "--offline" in proc.stderr and "backtest data import" in proc.stderr
    assert not (tmp_path / "cache" / "prices").exists() or \
        not list((tmp_path / "cache" / "prices").iterdir())


# --------------------------------------------------------------------------------------
# interrupted and concurrent runs
# --------------------------------------------------------------------------------------


def _start(args, cwd):
    return subprocess.Popen(backtest_command() + args, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_temp(cwd: Path, name: str, proc, timeout=120) -> Path:
    deadline = time.time() + timeout
    while time.time() < deadline:
        temps = [p for p in cwd.glob(f".{name}.tmp-*") if (p / MARKER).exists()]
        if temps:
            return temps[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    raise AssertionError("no temporary folder appeared")


def _stopped(pid: int, timeout=30) -> None:
    """Wait until the process ``pid`` is stopped (SIGSTOP taken: state T in /proc)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(f"/proc/{pid}/stat") as fh:
            if fh.read().rsplit(")", 1)[1].split()[0] in ("T", "t"):
                return
        time.sleep(0.001)
    raise AssertionError(f"process {pid} did not stop")


def _interrupt_while_writing(cwd: Path, args: list[str], sig, attempts: int = 5):
    """Start a run that replaces ``cwd/out`` and send it ``sig`` while it is writing its
    temporary folder: the run is stopped (SIGSTOP) as soon as the folder appears, and
    signalled only if the folder is still there, so the signal cannot land after the
    swap. A run that swapped in its folder before it could be stopped (a loaded machine)
    is let finish and the next attempt writes another report (hold=3, 4, ...: every
    attempt a different one, so an attempt that was not interrupted cannot pass as one).
    Returns the folder's tree before the interrupted attempt and its process."""
    for attempt in range(attempts):
        before = _tree(cwd / "out")
        proc = _start([*args, "--param", f"hold={3 + attempt}"], cwd)
        _wait_for_temp(cwd, "out", proc)
        os.kill(proc.pid, signal.SIGSTOP)
        _stopped(proc.pid)
        if any((p / MARKER).exists() for p in cwd.glob(".out.tmp-*")):
            proc.send_signal(sig)
            if sig != signal.SIGKILL:
                os.kill(proc.pid, signal.SIGCONT)
            proc.communicate(timeout=60)
            return before, proc
        os.kill(proc.pid, signal.SIGCONT)  # too late: it finished its swap
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    raise AssertionError(f"no run could be stopped while writing in {attempts} attempts")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_run_keeps_the_previous_report(tmp_path, sig):
    """A run killed while it writes its results leaves the previous report as it was; a
    SIGINT cleans up its temporary folder at once, a SIGKILL's is removed by the next run."""
    args = [*RUN, "--out", "out"]
    first = subprocess.run(backtest_command() + args, cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    before, proc = _interrupt_while_writing(tmp_path, args, sig)
    assert _tree(tmp_path / "out") == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and not leftovers
    else:
        assert leftovers  # nothing can clean up after SIGKILL...
        again = subprocess.run(backtest_command() + args, cwd=tmp_path, capture_output=True,
                               text=True, timeout=300)
        assert again.returncode == 0, again.stderr  # ...but the next run does
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_a_recorded_ctrl_c_stops_every_swap(tmp_path):
    """Once a Ctrl-C is recorded (what the command line's SIGINT handler does before it
    raises), an atomic folder or file write raises KeyboardInterrupt instead of swapping
    its result in: the previous folder and file stay, no temporary is left."""
    from backtest import io

    with io.atomic_dir(tmp_path / "out") as tmp:
        (tmp / "run.json").write_text("old")
    io.write_atomic(tmp_path / "f.txt", "old")
    io.note_interrupt()
    try:
        with pytest.raises(KeyboardInterrupt):
            with io.atomic_dir(tmp_path / "out") as tmp:
                (tmp / "run.json").write_text("new")
        with pytest.raises(KeyboardInterrupt):
            io.write_atomic(tmp_path / "f.txt", "new")
    finally:
        io.clear_interrupt()
    assert (tmp_path / "out" / "run.json").read_text() == "old"
    assert (tmp_path / "f.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt", "out"]
    with io.atomic_dir(tmp_path / "out") as tmp:  # cleared: writes swap in again
        (tmp / "run.json").write_text("new")
    assert (tmp_path / "out" / "run.json").read_text() == "new"


def test_a_ctrl_c_lost_on_its_way_up_still_keeps_the_previous_report(tmp_path, monkeypatch):
    """A KeyboardInterrupt raised inside C code that clears errors (numpy's dtype
    comparison) is lost and the run goes on: the Ctrl-C was recorded all the same, so
    the run does not replace its previous report and exits 130. Here the study records
    one (as the SIGINT handler does) and carries on, as such a run would; the command
    after it, with nothing recorded, writes its report as usual."""
    from backtest import io
    from backtest.app import jobs
    from backtest.app.cli import main

    args = ["study", "openai", "--offline", "--pseudo-draws", "0", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    before = _tree(tmp_path / "out")
    real = jobs.run_study

    def lost_ctrl_c(*a, **k):
        io.note_interrupt()  # the handler ran; its exception vanished in C code
        return real(*a, **k)

    monkeypatch.setattr(jobs, "run_study", lost_ctrl_c)
    assert main([*args, "--pseudo-draws", "9"]) == 130
    assert _tree(tmp_path / "out") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    monkeypatch.setattr(jobs, "run_study", real)
    assert main([*args, "--pseudo-draws", "9"]) == 0  # the record does not outlive its run
    assert _tree(tmp_path / "out") != before


def test_a_killed_swap_puts_the_previous_folder_back(tmp_path):
    """Killed between moving the old folder aside and moving the new one in: the next run
    beside it finds the old folder under its moved-aside name and restores it."""
    from backtest.io import _remove_stale, atomic_dir

    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "run.json").write_text("{}")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    aside = tmp_path / f".out.old-{dead}-abc123"
    aside.mkdir()
    (aside / MARKER).write_text('{"tool": "event-backtester"}')
    (tmp_path / "out").rename(aside / "previous")
    _remove_stale(tmp_path, "out")
    assert (tmp_path / "out" / "run.json").read_text() == "{}"
    assert not aside.exists()


@pytest.mark.parametrize("attempt", range(3))
def test_two_runs_on_one_target_never_mix(tmp_path, attempt):
    """A study and a strategy run written to the same --out at the same time: the folder
    holds exactly one of them, whole, and no temporary folder is left."""
    study = _start(["study", "openai", "--offline", "--pseudo-draws", "0", "--out", "out"],
                   tmp_path)
    run = _start([*RUN, "--out", "out"], tmp_path)
    for proc in (study, run):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    files = {p.name for p in (tmp_path / "out").iterdir()}
    meta = json.loads((tmp_path / "out" / "run.json").read_text())
    if meta["strategy"] is None:
        assert "metrics.json" not in files and "equity.png" not in files
    else:
        assert {"metrics.json", "equity.png", "trades.csv"} <= files
    assert {"index.html", "ar.parquet", MARKER} <= files
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_a_ticker_and_an_event_called_NA_stay_NA(tmp_path):
    """NA is a real ticker (and may be an event id): the report reads the result tables
    back as text, so the NA rows show NA, not a blank."""
    import pandas as pd

    from backtest.data import PriceStore

    panel = PriceStore(offline=True).load(["ORCL", "SPY"])
    wide = pd.DataFrame({"NA": panel.close["ORCL"], "SPY": panel.close["SPY"]}).dropna()
    wide.rename_axis("date").to_csv(tmp_path / "p.csv", date_format="%Y-%m-%d")
    (tmp_path / "c.yaml").write_text(_calendar(ticker="NA", event_id="NA"))
    proc = subprocess.run(backtest_command() + ["study", "c.yaml", "--prices", "p.csv",
                                                "--offline", "--pseudo-draws", "0", "--out",
                                                "o"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    html = (tmp_path / "o" / "index.html").read_text()
    assert '<td class="text">NA</td>' in html
    car = read_table(tmp_path / "o", "car")
    assert set(car["ticker"]) == {"NA"} and set(car["event_id"]) == {"NA"}
    assert "CARs of NA" in html and "AR heatmap: NA" in html
