"""The real ``backtest`` command refuses bad input with exit 2 and one line on stderr.

Every invocation runs the installed console script in its own empty temporary
working directory. The runs are started together in a module-scoped fixture
(they are independent processes), and each test then checks one result.

The bad calendars of ``tests/fixtures/bad/`` (``*.yaml``) are run as ``backtest study
FILE`` by ``test_bad_inputs.py``, which checks the same contract and the line named; here
every other bad file is given where a calendar belongs (a price or factor CSV as the
calendar), beside refusals of the command line itself.
"""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import FIXTURES, backtest_command

BAD = FIXTURES / "bad"
# the bad calendars run in test_bad_inputs.py; the other bad files, given as a calendar
NOT_CALENDARS = sorted(p for p in BAD.iterdir() if p.suffix != ".yaml")
STRATEGY = "short_partners_on_bad_news"


_command = backtest_command


@dataclass
class Run:
    cwd: Path
    out: Path
    returncode: int
    stdout: str
    stderr: str


def _cases(directory: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (arguments after the program, text the error line must contain)."""
    cases = {f"bad/{p.name}": (["study", str(p)], str(p)) for p in NOT_CALENDARS}
    cases["missing-path"] = (["study", "no-such-calendar.yaml"], "no-such-calendar.yaml")
    cases["directory-path"] = (["study", str(directory)], str(directory))
    cases["unknown-strategy"] = (["run", "openai", "--strategy", "nope"], "'nope'")
    cases["param-without-equals"] = (["run", "openai", "--strategy", STRATEGY,
                                      "--param", "hold"], "'hold'")
    cases["param-unknown-key"] = (["run", "openai", "--strategy", STRATEGY,
                                   "--param", "nope=1"], "'nope'")
    cases["param-bad-value"] = (["run", "openai", "--strategy", STRATEGY,
                                 "--param", "hold=abc"], "'abc'")
    cases["threads-zero"] = (["study", "openai", "--threads", "0"], "threads must be a positive")
    cases["threads-with-cluster"] = (["study", "openai", "--threads", "2", "--scheduler",
                                      "tcp://127.0.0.1:1"], "--threads is for a run on this")
    return cases


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Run, str]]:
    """Run every refusal case once, in parallel, each in a fresh empty cwd."""
    cache = tmp_path_factory.mktemp("cache")
    directory = tmp_path_factory.mktemp("a-directory")
    env = {**os.environ, "BACKTEST_CACHE_DIR": str(cache), "PYTHONDONTWRITEBYTECODE": "1"}

    def one(item):
        name, (args, needle) = item
        cwd = tmp_path_factory.mktemp("cwd")
        out = cwd / "report"
        argv = [*_command(), *args, "--offline"]
        if args[0] == "study":
            argv += ["--out", str(out)]
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=120)
        return name, (Run(cwd, out, proc.returncode, proc.stdout, proc.stderr), needle)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(pool.map(one, _cases(directory).items()))


def _check_refusal(run: Run, needle: str) -> None:
    """Exit 2, one 'backtest: error:' line naming the input, no traceback, nothing written."""
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert run.returncode == 2, run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("backtest: error: "), lines[0]
    assert needle in lines[0], lines[0]
    assert run.stdout == ""
    assert not run.out.exists()
    # The cwd is the report folder's parent: no half-written report, no leftover temp dirs.
    assert sorted(p.name for p in run.cwd.iterdir()) == []


@pytest.mark.parametrize("name", [p.name for p in NOT_CALENDARS])
def test_a_csv_given_as_the_calendar_exits_2_with_one_line(runs, name):
    """`backtest study BAD.csv --out DIR --offline` (a price or factor CSV where the calendar
    belongs) refuses cleanly, naming the file."""
    _check_refusal(*runs[f"bad/{name}"])


def test_missing_path_exits_2(runs):
    """A calendar path that does not exist is refused with exit 2 and one line."""
    _check_refusal(*runs["missing-path"])


def test_directory_path_exits_2(runs):
    """A directory given as the calendar is refused with exit 2 and one line."""
    _check_refusal(*runs["directory-path"])


def test_unknown_strategy_exits_2(runs):
    """`backtest run openai --strategy nope --offline` is refused with exit 2 and one line."""
    _check_refusal(*runs["unknown-strategy"])
    assert STRATEGY in runs["unknown-strategy"][0].stderr  # lists what is available


@pytest.mark.parametrize("case", ["param-without-equals", "param-unknown-key",
                                  "param-bad-value"])
def test_bad_param_exits_2(runs, case):
    """--param without '=', with an unknown key, or with an unreadable value: exit 2."""
    _check_refusal(*runs[case])


@pytest.mark.parametrize("case", ["threads-zero", "threads-with-cluster"])
def test_bad_threads_exits_2(runs, case):
    """--threads 0, or --threads with a cluster (whose workers decide): exit 2, one line."""
    _check_refusal(*runs[case])
