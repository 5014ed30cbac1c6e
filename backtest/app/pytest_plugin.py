"""pytest plugin: guard strategy metrics in your own test suite.

Installed with event-backtester (entry point ``pytest11``)::

    def test_demo_strategy(backtest_check):
        backtest_check("experiments/demo_short_partners.yaml")

fails the test, with the table of ``backtest check``, when a guarded metric
moves beyond its tolerance. A relative path is read from the pytest root (the
project folder), wherever pytest was started. ``pytest --update-baselines``
rewrites the baselines instead. Nothing heavy is imported until the fixture is used.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--update-baselines", action="store_true", default=False,
                     help="event-backtester: write new metric baselines instead of comparing")


@pytest.fixture
def backtest_check(request):
    """Call with an experiment path (and optionally ``baselines=DIR``); fails on a regression."""
    update = request.config.getoption("--update-baselines")

    def run(experiment, baselines=None):
        import warnings
        from pathlib import Path

        from backtest.app.experiments import check, format_table

        root = request.config.rootpath  # paths are the project's, wherever pytest runs
        path = Path(experiment) if Path(experiment).is_absolute() else root / experiment
        folder = (Path(baselines) if baselines is None or Path(baselines).is_absolute()
                  else root / baselines) if baselines else None
        with warnings.catch_warnings():  # the libraries' own warnings are not the user's
            warnings.simplefilter("ignore")
            results = check([path], folder, update)
        if not update and not all(r.passed for r in results):
            pytest.fail("metric regression\n" + format_table(results), pytrace=False)
        return results

    return run
