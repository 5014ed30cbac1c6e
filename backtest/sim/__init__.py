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

from backtest.sim.costs import DEFAULT_INIT_CASH, Costs
from backtest.sim.results import GridRun, SimulationResult
from backtest.sim.runs import StrategyRun, run_strategy
from backtest.sim.simulate import simulate

__all__ = ["DEFAULT_INIT_CASH", "Costs", "GridRun", "SimulationResult", "StrategyRun",
           "run_strategy", "simulate"]
