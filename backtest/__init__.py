"""Prices, event study, simulation and metrics: the engine of event-backtester.

Python API (pandas in, pandas out)::

    import backtest
    res = backtest.study("openai")                 # bundled calendar, bundled prices
    res.car, res.caar, res.tests, res.skipped       # tidy DataFrames
    res.summary()                                  # the tests, Eventus-style
    run = backtest.run("openai", "short_partners_on_bad_news", hold=3)
    run.metrics, run.simulation.trades

The layers, each importing only the ones below it::

    app/         the command line, jobs writing results folders, experiments under CI
    eventstudy/  abnormal returns, their tests and groups      sim/  fills, costs, metrics,
                                                                      strategy runs, sweeps
    data/        prices: bundled snapshot, cache, yfinance, user files, quality checks
    io.py        atomic writes, deterministic JSON   parallel.py  serial and Dask executors

vectorbt is imported only when something is simulated, numba only when a study runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

from backtest.data.store import DEFAULT_MARKET
from backtest.sim.costs import DEFAULT_INIT_CASH, Costs
from events.errors import CalendarError, ConfigError, InputError, PriceDataError

if TYPE_CHECKING:
    from backtest.data import PricePanel, PriceStore
    from backtest.eventstudy import StudyConfig, StudyResult, run_study

__all__ = ["CalendarError", "ConfigError", "Costs", "InputError", "PriceDataError", "PricePanel",
           "PriceStore", "StudyConfig", "StudyResult", "run", "run_study", "study"]

# The engine's names load on first use (PEP 562): ``import backtest`` (and every command,
# ``backtest --help`` included) would otherwise import scipy.stats and numba.
_SOURCES = {"PricePanel": "backtest.data.panel", "PriceStore": "backtest.data.store",
            "StudyConfig": "backtest.eventstudy.config",
            "StudyResult": "backtest.eventstudy.result",
            "run_study": "backtest.eventstudy.engine"}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
def study(calendar="openai", prices=None, factor_data=None, explain=(), **config) -> StudyResult:
    """Event study of ``calendar`` (a Calendar, a YAML path or a bundled name).

    ``config`` takes the fields of :class:`~backtest.eventstudy.StudyConfig` (model,
    market, factors, returns, estimation_length, gap, event_window, car_windows,
    min_estimation_obs, exclude_other_events, group_by, pseudo_draws, seed, measure:
    ``measure="volume"`` studies abnormal log volume, Campbell and Wasley 1996).
    ``prices`` replaces the price store; ``factor_data`` is a factor-return frame
    (:func:`backtest.data.load_factor_csv`) for ``model="factors"``. ``explain``
    (e.g. ``("score", "role", "beta")``) adds the cross-section of the CARs on those
    characteristics, clustered by news day, as ``result.xsection``.
    """
    from backtest.data import load_panel
    from backtest.eventstudy import StudyConfig, run_study
    from events.loader import resolve_calendar

    cal = resolve_calendar(calendar)
    cfg = StudyConfig(**config)
    if prices is None:
        prices = load_panel(cal, cfg.market, extra=cfg.factors)
    result = run_study(cal, prices, cfg, factor_data, explain=tuple(explain))
    if any(e.chains for e in cal):
        from backtest.chains import chain_event_study

        result.chains, _ = chain_event_study(cal, prices, cfg, factor_data)
    return result


def run(calendar="openai", strategy: str = "short_partners_on_bad_news", prices=None,
        costs=None, init_cash: float = DEFAULT_INIT_CASH, benchmark: str = DEFAULT_MARKET,
        **params):
    """Backtest a named strategy with ``params`` on ``calendar``; returns a
    :class:`~backtest.sim.runs.StrategyRun` (metrics against ``benchmark``)."""
    from backtest.data import load_panel
    from backtest.sim.runs import run_strategy
    from events.loader import resolve_calendar
    from strategies import get_strategy

    cal = resolve_calendar(calendar)
    panel = prices if prices is not None else load_panel(cal, benchmark)
    return run_strategy(cal, panel, get_strategy(strategy, **params), costs, init_cash,
                        benchmark)
