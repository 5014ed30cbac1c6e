"""How the console command ends: main's exit code, streams flushed, exit handlers run,
no interpreter teardown (``backtest.app.cli.run``)."""

from __future__ import annotations

import atexit
import subprocess
import sys
import threading

import pytest

from backtest.app import cli
from tests.helpers import backtest_command


def test_run_flushes_runs_the_exit_handlers_and_exits_with_mains_code(monkeypatch):
    calls = []
    monkeypatch.setattr(sys, "gettrace", lambda: None)  # as when not under coverage
    monkeypatch.setattr(sys, "getprofile", lambda: None)
    monkeypatch.setattr(cli, "main", lambda: 3)
    monkeypatch.setattr(cli.os, "_exit", lambda code: calls.append(("_exit", code)))
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: calls.append(("handlers",)))
    cli.run()
    assert calls == [("handlers",), ("_exit", 3)]


@pytest.mark.parametrize("hook", ["gettrace", "getprofile"])
def test_a_profiler_or_coverage_gets_the_normal_exit(monkeypatch, hook):
    """``python -m cProfile -m backtest`` and coverage write their results after the
    program returns: no quick exit under them."""
    monkeypatch.setattr(sys, "gettrace", lambda: None)
    monkeypatch.setattr(sys, "getprofile", lambda: None)
    monkeypatch.setattr(sys, hook, lambda: print)  # some hook is installed
    monkeypatch.setattr(cli, "main", lambda: 4)
    monkeypatch.setattr(cli.os, "_exit", lambda code: pytest.fail("os._exit under a hook"))
    with pytest.raises(SystemExit) as exc:
        cli.run()
    assert exc.value.code == 4


def test_a_thread_still_running_gets_the_normal_exit(monkeypatch):
    """A non-daemon thread alive at the end: sys.exit, which waits for it."""
    monkeypatch.setattr(cli, "main", lambda: 0)
    monkeypatch.setattr(cli.os, "_exit", lambda code: pytest.fail("os._exit despite a thread"))
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, daemon=False)
    worker.start()
    try:
        with pytest.raises(SystemExit) as exc:
            cli.run()
        assert exc.value.code == 0
    finally:
        stop.set()
        worker.join()


def test_the_command_prints_everything_and_keeps_its_exit_code(tmp_path):
    """The real console script: stdout complete (a table longer than a pipe buffer's
    worth of lines is not cut), exit 0; a refusal still exits 2 with its line; an atexit
    handler registered by the run's code runs (python -m backtest, same entry)."""
    ok = subprocess.run([*backtest_command(), "events", "show", "openai", "--format", "csv"],
                        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    assert lines[0].startswith("event_id,") and len(lines) > 30
    bad = subprocess.run([*backtest_command(), "study", "missing.yaml", "--offline"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.startswith("backtest: error:")
    probe = ("import atexit, sys; sys.argv = ['backtest', 'strategies', 'list']; "
             "atexit.register(lambda: open('ran.txt', 'w').write('yes')); "
             "from backtest.app.cli import run; run()")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ran.txt").read_text() == "yes"


def test_a_refused_calendar_never_imports_scipy_stats(tmp_path):
    """``backtest study BAD.yaml`` refuses before any statistics run, so it must not pay
    ``scipy.stats``' import (about a second; ``backtest.eventstudy.stats`` names scipy's
    submodules through ``scipy.``, which loads them on first use). A fresh interpreter,
    because this test session has long since imported scipy.stats."""
    from tests.helpers import FIXTURES

    probe = ("import sys\n"
             "from backtest.app.cli import main\n"
             f"code = main(['study', {str(FIXTURES / 'bad' / 'bad_timestamp.yaml')!r}, "
             f"'--offline', '--out', {str(tmp_path / 'out')!r}])\n"
             "print(code, 'scipy.stats' in sys.modules,\n"
             "      'backtest.eventstudy.stats' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.stdout.split() == ["2", "False", "True"], proc.stderr
    assert not (tmp_path / "out").exists()
