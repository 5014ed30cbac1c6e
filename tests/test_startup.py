"""Start-up stays light: ``import backtest`` and ``backtest --help`` load no heavy library.

Each check runs a fresh interpreter and reads its ``sys.modules`` at the end, failing on
the libraries only some commands need: vectorbt (a simulation), arch (GARCH,
bootstraps), matplotlib (a report), scipy.stats (the statistics) and numba (the study
kernels). An eager import of any of them in a package ``__init__`` or in a module the
parser reads (issue 21: 3 s before ``--help`` printed anything) fails here. The package
facades bind their names on first use (PEP 562); the last tests check that every public
name still resolves.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT, backtest_command

HEAVY = ("vectorbt", "arch", "matplotlib", "scipy.stats", "numba")
PROBE = """
import json, runpy, sys
args = json.loads(sys.argv[1])
try:
    if args[0] == "-c":
        exec(args[1])
    elif args[0] == "-m":  # what ``python -m backtest ...`` runs
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:  # the console script file itself
        sys.argv = args
        runpy.run_path(args[0], run_name="__main__")
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _heavy(args: list[str]) -> list[str]:
    """The HEAVY libraries (or any of their submodules) loaded in a fresh interpreter
    after running ``args``: ``["-c", code]``, ``["-m", module, ...]`` or a script path."""
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = json.loads(proc.stderr.strip().splitlines()[-1])
    assert "backtest" in modules
    return [h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules)]


def test_import_backtest_loads_no_heavy_library():
    assert _heavy(["-c", "import backtest"]) == []


def test_backtest_help_loads_no_heavy_library():
    """The console script itself (what a user types), every subcommand's parser built."""
    command = backtest_command()
    args = command[1:] if command[0] == sys.executable else command  # ["-m", "backtest"]
    assert _heavy([*args, "--help"]) == []


def test_the_check_sees_an_eager_import():
    """The probe itself: importing the engine loads numba, the chart module matplotlib,
    and the first statistic scipy.stats (which the statistics module loads lazily, so a
    refused input never pays for it), so a facade importing them eagerly would fail the
    tests above."""
    heavy = _heavy(["-c", "import backtest, backtest.eventstudy.engine, reports.charts"])
    assert {"numba", "matplotlib"} <= set(heavy)
    assert "scipy.stats" not in heavy
    heavy = _heavy(["-c", "import numpy as np, backtest.eventstudy.stats as s; "
                          "s.wilcoxon_signed_rank(np.array([0.01, -0.03, 0.02]))"])  # exact p
    assert "scipy.stats" in heavy


FACADES = ("backtest", "backtest.eventstudy", "backtest.data", "backtest.sim",
           "backtest.inference", "backtest.chains", "events", "strategies", "reports")


@pytest.mark.parametrize("package", FACADES)
def test_every_public_name_resolves(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    assert set(module.__all__) <= set(dir(module))
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        module.not_a_name  # noqa: B018 - the attribute access is the test


def test_simulate_is_the_function_not_its_module():
    """``backtest.sim.simulate`` names both a module and its function; the package gives
    the function, also after the module was imported by its own name."""
    importlib.import_module("backtest.sim.simulate")
    from backtest.sim import simulate

    assert inspect.isfunction(simulate)
