"""Parameter sweeps: every combination of a grid, simulated in one vectorbt simulation.

Intents of all combinations go into one frame (strategies that build plain rows
hand them over without a frame per combination), one :func:`~backtest.simulate.run_grid`
fills them all, and :func:`~backtest.metrics.summarize_grid` computes every
combination's metrics from its arrays, vectorized across combinations.

>>> from backtest.sweep import expand_grid
>>> expand_grid({"hold": [1, 5], "threshold": [60, 70]})
[{'hold': 1, 'threshold': 60}, {'hold': 1, 'threshold': 70}, {'hold': 5, 'threshold': 60}, {'hold': 5, 'threshold': 70}]
"""

from __future__ import annotations

import itertools
import sys

import numpy as np
import pandas as pd

from backtest.metrics import no_trades, summarize_grid
from backtest.prices import PricePanel
from backtest.simulate import Costs, run_grid
from events.errors import InputError
from events.model import Calendar
from strategies.base import Strategy, intents_frame


def expand_grid(grid: dict[str, list]) -> list[dict]:
    """All combinations of the grid's values, in a stable order (first key slowest)."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]


def parse_grid(items: list[str]) -> dict[str, list[str]]:
    """``["hold=1,3,5", "threshold=50,60"]`` -> ``{"hold": [...], "threshold": [...]}``."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        parts = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not key or not parts:
            raise InputError(f"--grid expects KEY=V1,V2,..., got {item!r}", field="grid")
        if key in grid:
            raise InputError(f"--grid {key} given twice", field="grid")
        grid[key] = parts
    return grid


def run_sweep(calendar: Calendar, panel: PricePanel, strategy_cls, grid: dict[str, list],
              fixed: dict | None = None, costs: Costs | None = None,
              init_cash: float = 100_000.0, progress: bool = True, client=None,
              block: int = 100) -> pd.DataFrame:
    """Metrics of every grid combination: one row per combination, params then metrics.

    Intents are generated per combination (cheap); the fills of all combinations
    sharing an execution rule (overlap, sizing) run in one simulation
    (:func:`~backtest.simulate.run_grid`).
    With a Dask ``client`` (:mod:`backtest.cluster`), blocks of ``block``
    combinations run on the cluster; the rows are the same.
    """
    combos = expand_grid(grid)
    if not combos:
        raise InputError("empty grid", field="grid")
    if client is not None:
        from backtest.cluster import sweep_distributed

        rows = sweep_distributed(client, calendar, panel, strategy_cls, combos, fixed or {},
                                 costs, init_cash, block)
    else:
        rows = run_sweep_combos(calendar, panel, strategy_cls, combos, 0, fixed or {}, costs,
                                init_cash, progress)
    return pd.DataFrame(rows)


def run_sweep_combos(calendar: Calendar, panel: PricePanel, strategy_cls, combos: list[dict],
                     offset: int, fixed: dict, costs: Costs | None, init_cash: float,
                     progress: bool = False) -> list[dict]:
    """Rows (combo number, params, metrics) for ``combos``, numbered from ``offset``."""
    from backtest.runner import benchmark_returns, execution_of, strategy_context

    ctx = strategy_context(calendar, panel)
    batches: dict[tuple, _Batch] = {}
    show = progress and len(combos) >= 50
    for k, params in enumerate(combos, start=offset):
        if show and ((k - offset) % 50 == 0 or k - offset == len(combos) - 1):
            print(f"\rsweep: intents {k - offset + 1}/{len(combos)}", end="", file=sys.stderr,
                  flush=True)
        strategy = strategy_cls(**fixed, **params)
        key = tuple(sorted(execution_of(strategy).items()))
        batches.setdefault(key, _Batch()).add(k, strategy, ctx)
    if show:
        print(f"\rsweep: simulating {len(combos)} combinations in {len(batches)} "
              f"simulation(s)", file=sys.stderr, flush=True)
    bench = benchmark_returns(panel)
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
