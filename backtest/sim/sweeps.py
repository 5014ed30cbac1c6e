"""Parameter sweeps: every combination of a grid, simulated in one vectorbt simulation.

Intents of all combinations go into one frame (strategies that build plain rows
hand them over without a frame per combination), one :func:`~backtest.sim.simulate.run_grid`
fills them all, and :func:`~backtest.sim.metrics.summarize_grid` computes every
combination's metrics from its arrays, vectorized across combinations.

>>> from backtest.sim.sweeps import expand_grid
>>> expand_grid({"hold": [1, 5], "threshold": [60, 70]})
[{'hold': 1, 'threshold': 60}, {'hold': 1, 'threshold': 70}, {'hold': 5, 'threshold': 60}, {'hold': 5, 'threshold': 70}]
"""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from backtest.parallel import serial_map_blocks
from backtest.sim.costs import DEFAULT_INIT_CASH, Costs
from backtest.sim.metrics import no_trades, summarize_grid
from backtest.sim.runs import DEFAULT_BENCHMARK, benchmark_returns, strategy_context
from backtest.sim.simulate import run_grid
from events.errors import ConfigError
from events.model import Calendar
from strategies.base import Strategy, intents_frame


MAX_COMBINATIONS = 20_000  # a larger grid is refused unless the limit is raised


def expand_grid(grid: dict[str, list]) -> list[dict]:
    """All combinations of the grid's values, in a stable order (first key slowest)."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def run_sweep(calendar: Calendar, panel: PricePanel, strategy_cls, grid: dict[str, list],
              fixed: dict | None = None, costs: Costs | None = None,
              init_cash: float = DEFAULT_INIT_CASH, progress: bool = True,
              map_blocks=serial_map_blocks, block: int | None = None,
              benchmark: str = DEFAULT_BENCHMARK,
              max_combinations: int = MAX_COMBINATIONS) -> pd.DataFrame:
    """Metrics of every grid combination: one row per combination, params then metrics.

    A grid of more than ``max_combinations`` is refused before anything is built.

    Intents are generated per combination (cheap); the fills of all combinations
    sharing an execution rule (overlap, sizing) run in one simulation
    (:func:`~backtest.sim.simulate.run_grid`). With ``block``, the combinations
    run in blocks of that many through ``map_blocks`` (a Dask cluster's, see
    :mod:`backtest.parallel`); without, in one block. The rows are the same.
    """
    n = math.prod(len(v) for v in grid.values()) if grid else 0
    if n == 0:
        raise ConfigError("empty grid", field="grid")
    if n > max_combinations:
        raise ConfigError(f"the grid has {n:,} combinations, more than {max_combinations:,} "
                          f"(raise the limit with --max-combinations)", field="grid")
    if block is not None and (isinstance(block, bool) or not isinstance(block, int)
                              or block < 1):
        raise ConfigError(f"block must be a positive number of combinations, got {block!r}",
                          field="block")
    combos = expand_grid(grid)
    size = block or len(combos)
    blocks = [(strategy_cls, combos[s:s + size], s, fixed or {}, costs, init_cash,
               progress and block is None, benchmark) for s in range(0, len(combos), size)]
    parts = map_blocks(run_sweep_combos, (calendar, panel), blocks)
    return pd.DataFrame([row for part in parts for row in part])


def run_sweep_combos(calendar: Calendar, panel: PricePanel, strategy_cls, combos: list[dict],
                     offset: int, fixed: dict, costs: Costs | None, init_cash: float,
                     progress: bool = False, benchmark: str = DEFAULT_BENCHMARK) -> list[dict]:
    """Rows (combo number, params, metrics) for ``combos``, numbered from ``offset``."""
    ctx = strategy_context(calendar, panel)
    batches: dict[tuple, _Batch] = {}
    show = progress and len(combos) >= 50
    for k, params in enumerate(combos, start=offset):
        if show and ((k - offset) % 50 == 0 or k - offset == len(combos) - 1):
            print(f"\rsweep: intents {k - offset + 1}/{len(combos)}", end="", file=sys.stderr,
                  flush=True)
        strategy = strategy_cls(**fixed, **params)
        key = tuple(sorted(strategy.execution().items()))
        batches.setdefault(key, _Batch()).add(k, strategy, ctx)
    if show:
        print(f"\rsweep: simulating {len(combos)} combinations in {len(batches)} "
              f"simulation(s)", file=sys.stderr, flush=True)
    bench = benchmark_returns(panel, benchmark)
    rows = {}
    names = list(combos[0]) if combos else []
    for key, batch in batches.items():
        intents = batch.intents()
        metrics = (summarize_grid(run_grid(intents, panel, costs, init_cash, **dict(key)),
                                  bench) if len(intents) else {})
        for k, strategy in batch.strategies:
            rows[k] = {"combo": k, **{p: getattr(strategy.params, p) for p in names},
                       **(metrics[k] if k in metrics
                          else no_trades(init_cash, bench is not None))}
    return [rows[k] for k in sorted(rows)]


class _Batch:
    """Combinations sharing an execution rule, and their intents.

    A strategy whose ``intents`` is the default (rows turned into a frame) gives
    its rows; all rows of the batch then become one frame. Others give frames.
    """

    def __init__(self):
        self.strategies: list[tuple[int, Strategy]] = []
        self.rows: list[dict] = []
        self.row_combo: list[int] = []
        self.frames: list[pd.DataFrame] = []

    def add(self, k: int, strategy: Strategy, ctx) -> None:
        self.strategies.append((k, strategy))
        if type(strategy).intents is Strategy.intents:
            rows = strategy.intent_rows(ctx)
            self.rows += rows
            self.row_combo += [k] * len(rows)
        else:
            frame = strategy.intents(ctx)
            if len(frame):
                self.frames.append(frame.assign(combo=k))

    def intents(self) -> pd.DataFrame:
        frames = list(self.frames)
        if self.rows:
            frames.insert(0, intents_frame(self.rows).assign(
                combo=np.asarray(self.row_combo, dtype=np.int64)))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
