"""Simulation: trade intents to fills, costs, equity and metrics, on vectorbt's order kernel.

=======================  =============================================================
module                   what
=======================  =============================================================
``costs``                :class:`Costs`: fees, slippage, borrow, the borrow formula
``execution``            the rules: fill bars, stops, overlaps, target-weight orders
``vbt``                  the adapter to vectorbt's order kernel (pinned settings)
``simulate``             :func:`simulate` one portfolio, :func:`run_grid` many at once
``results``              :class:`SimulationResult`, :class:`GridRun`, the trades table
``metrics``              performance metrics, one function per number
``runs``                 :class:`StrategyRun`: a strategy's intents, simulation, metrics
``sweeps``               parameter grids, every combination at once
``audit``                the look-ahead audit
=======================  =============================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

# ``simulate`` is the name of a module and of its function: bound lazily, the name would
# become the module as soon as anything imported ``backtest.sim.simulate``. It imports
# numpy and pandas only (vectorbt loads when a simulation runs, :mod:`backtest.sim.vbt`).
from backtest.sim.simulate import simulate

if TYPE_CHECKING:
    from backtest.sim.costs import DEFAULT_INIT_CASH, Costs
    from backtest.sim.results import GridRun, SimulationResult
    from backtest.sim.runs import StrategyRun, run_strategy

__all__ = ["DEFAULT_INIT_CASH", "Costs", "GridRun", "SimulationResult", "StrategyRun",
           "run_strategy", "simulate"]

# The other public names load on first use (PEP 562): ``runs`` brings the inference
# modules and the strategies, which the parser's ``backtest.sim.costs`` does not need.
_SOURCES = {"DEFAULT_INIT_CASH": "costs", "Costs": "costs", "GridRun": "results",
            "SimulationResult": "results", "StrategyRun": "runs", "run_strategy": "runs"}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
