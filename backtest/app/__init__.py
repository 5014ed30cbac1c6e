"""The application: the ``backtest`` command, jobs that write results, experiments under CI.

``cli`` builds the parser, ``commands`` has one function per command, ``jobs``
runs a study and/or strategy and writes the results folder and report,
``experiments`` reads experiment files and compares metrics with baselines,
``pytest_plugin`` guards metrics in a user's own test suite.
"""
