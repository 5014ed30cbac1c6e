"""Prices, event study, simulation and metrics: the engine of event-backtester.

Python API (pandas in, pandas out)::

    import backtest
    res = backtest.study("openai")                 # bundled calendar, bundled prices
    res.car, res.caar, res.tests, res.skipped       # tidy DataFrames
    run = backtest.run("openai", "short_partners_on_bad_news", hold=3)
    run.metrics, run.simulation.trades

The submodule ``backtest.study`` is imported here, before the function
``study`` below is defined, so the name ``backtest.study`` stays the function.
vectorbt is imported only when something is simulated.
"""

from __future__ import annotations

from backtest.prices import PricePanel, PriceStore
from backtest.simulate import Costs
from backtest.study import StudyConfig, StudyResult, run_study

__all__ = ["Costs", "PricePanel", "PriceStore", "StudyConfig", "StudyResult", "run",
           "run_study", "study"]


def study(calendar="openai", prices=None, factor_data=None, **config):
    """Event study of ``calendar`` (a Calendar, a YAML path or a bundled name).

    ``config`` takes the fields of :class:`~backtest.study.StudyConfig` (model,
    market, factors, returns, estimation_length, gap, event_window, car_windows,
    min_estimation_obs, exclude_other_events, group_by, pseudo_draws, seed).
    ``prices`` replaces the price store; ``factor_data`` is a factor-return frame
    (:func:`backtest.csvdata.load_factor_csv`) for ``model="factors"``.
    """
    from backtest.runner import load_panel, resolve_calendar

    cal = resolve_calendar(calendar)
    cfg = StudyConfig(**config)
    if prices is None:
        prices = load_panel(cal, cfg.market, extra=cfg.factors)
    return run_study(cal, prices, cfg, factor_data)


def run(calendar="openai", strategy: str = "short_partners_on_bad_news", prices=None,
        costs=None, **params):
    """Backtest a named strategy with ``params`` on ``calendar``; returns a StrategyRun."""
    from backtest.runner import load_panel, resolve_calendar, run_strategy
    from strategies import get_strategy

    cal = resolve_calendar(calendar)
    panel = prices if prices is not None else load_panel(cal)
    return run_strategy(cal, panel, get_strategy(strategy, **params), costs)
