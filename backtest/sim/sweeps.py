"""Parameter sweeps: every combination of a grid, simulated in one vectorbt simulation,
and how far its best combination can be trusted.

Intents of all combinations go into one frame (strategies that build plain rows
hand them over without a frame per combination), one :func:`~backtest.sim.simulate.run_grid`
fills them all, and :func:`~backtest.sim.metrics.summarize_grid` computes every
combination's metrics from its arrays, vectorized across combinations. Beside the
metrics, a :class:`SweepResult` keeps every combination's daily returns and return per
event, which :meth:`SweepResult.inference` needs: the deflated Sharpe ratio, the
probability of backtest overfitting, the reality check and the walk-forward
(:mod:`backtest.inference`).

>>> from backtest.sim.sweeps import expand_grid
>>> expand_grid({"hold": [1, 5], "threshold": [60, 70]})
[{'hold': 1, 'threshold': 60}, {'hold': 1, 'threshold': 70}, {'hold': 5, 'threshold': 60}, {'hold': 5, 'threshold': 70}]
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from backtest.parallel import serial_map_blocks
from backtest.sim.costs import DEFAULT_INIT_CASH, Costs
from backtest.inference import (Overfitting, RealityCheck, deflated_sharpe,
                                probability_of_overfitting, reality_check, walk_forward)
from backtest.inference.walkforward import WalkForward
from backtest.sim.metrics import TRADING_DAYS, event_sums, no_trades, summarize_grid
from backtest.sim.results import GridRun, event_ids
from backtest.sim.runs import DEFAULT_BENCHMARK, benchmark_returns, strategy_context
from backtest.sim.simulate import run_grid
from events.errors import ConfigError
from events.model import Calendar
from events.timing import event_timing
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
              max_combinations: int = MAX_COMBINATIONS) -> SweepResult:
    """Every grid combination simulated: a :class:`SweepResult` whose ``table`` has one row
    per combination, params then metrics.

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
    parts = list(map_blocks(run_sweep_combos, (calendar, panel), blocks))
    return SweepResult.assemble(parts, panel.sessions, calendar, list(grid))


def run_sweep_combos(calendar: Calendar, panel: PricePanel, strategy_cls, combos: list[dict],
                     offset: int, fixed: dict, costs: Costs | None, init_cash: float,
                     progress: bool = False, benchmark: str = DEFAULT_BENCHMARK) -> dict:
    """For ``combos``, numbered from ``offset``: ``rows`` (combo number, params, metrics),
    ``daily`` (combo -> first session and daily returns over its own span) and
    ``events`` (combo -> event ids and returns per event)."""
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
    rows, daily, per_event = {}, {}, {}
    names = list(combos[0]) if combos else []
    for key, batch in batches.items():
        intents = batch.intents()
        metrics = {}
        if len(intents):
            grid = run_grid(intents, panel, costs, init_cash, **dict(key))
            metrics = summarize_grid(grid, bench)
            daily.update(grid_daily_returns(grid))
            per_event.update(grid_event_returns(grid))
        for k, strategy in batch.strategies:
            rows[k] = {"combo": k, **{p: getattr(strategy.params, p) for p in names},
                       **(metrics[k] if k in metrics
                          else no_trades(init_cash, bench is not None))}
    return {"rows": [rows[k] for k in sorted(rows)], "daily": daily, "events": per_event}


def grid_daily_returns(grid: GridRun) -> dict:
    """combo -> (first session of its span, its daily returns ``V_t / V_{t-1} - 1`` there,
    the first against the initial cash), as :func:`~backtest.sim.metrics.daily_returns`."""
    out = {}
    sessions = list(grid.sessions)  # boxed once: a Timestamp per index look-up is slow
    for k, (lo, hi) in enumerate(grid.span.tolist()):
        e = grid.equity[lo:hi + 1, k]
        prev = np.concatenate([[grid.init_cash], e[:-1]])
        out[grid.combos[k]] = (sessions[lo], e / prev - 1.0)
    return out


def grid_event_returns(grid: GridRun) -> dict:
    """combo -> (event ids, return per event), as
    :func:`~backtest.sim.metrics.event_returns` of its trades: for every combination at
    once (:func:`_grid_event_returns_loop` is the same, one combination at a time, and
    runs where holdings of one ticker may overlap, the ``add`` rule).

    A trade's event is the first of the ids of the holding open at its entry (the
    segment of its combination and ticker that starts last at or before it); per
    (combination, event), in the order the combination's trades first name it: the
    P&L summed in trade order, over the equity at the close before its first entry
    (the initial cash when that is the first session of the span)."""
    seg = grid.segments
    if not seg.disjoint:
        return _grid_event_returns_loop(grid)
    t, bounds = grid.trades, np.asarray(grid.trade_bounds)
    n_combos = len(grid.combos)
    combo = np.repeat(np.arange(n_combos), np.diff(bounds))
    col, entry = t["col"].astype(np.int64), t["entry_bar"].astype(np.int64)
    # segments are sorted by (combo, col, entry): one search for every trade
    big = int(max(seg.entry.max(initial=0), entry.max(initial=0))) + 1
    width = int(max(seg.col.max(initial=0), col.max(initial=0))) + 1
    at = np.searchsorted((seg.combo * width + seg.col) * big + seg.entry,
                         (combo * width + col) * big + entry, side="right") - 1
    safe = np.maximum(at, 0)
    hit = ((at >= 0) & (seg.combo[safe] == combo) & (seg.col[safe] == col)
           & (seg.exit[safe] > entry))
    first_id = pd.Series(seg.event_id, dtype=object).str.split("+").str[0]
    # codes in order of appearance, not sorted: an id no trade reaches is never compared
    seg_code, names = pd.factorize(np.append(first_id.to_numpy(dtype=object), ""),
                                   use_na_sentinel=False)
    names = np.asarray(names, dtype=object)
    code = np.where(hit, seg_code[:-1][safe] if len(seg.combo) else 0, seg_code[-1])
    # one group per (combination, event), numbered in order of first appearance
    group, key = pd.factorize(combo * len(names) + code)
    g_combo, g_event = np.divmod(key, len(names))
    pnl = np.bincount(group, weights=t["pnl"].astype("float64"), minlength=len(key))
    lo = grid.span[:, 0].astype(np.int64)
    first = np.full(len(key), np.iinfo(np.int64).max)
    np.minimum.at(first, group, entry // 2 - lo[combo])
    value = np.where(first >= 1, grid.equity[lo[g_combo] + np.maximum(first - 1, 0), g_combo],
                     grid.init_cash)
    ret = pnl / value
    cut = np.searchsorted(g_combo, np.arange(n_combos + 1))
    events = names[g_event]
    return {c: (events[cut[k]:cut[k + 1]].tolist(), ret[cut[k]:cut[k + 1]])
            for k, c in enumerate(grid.combos)}


def _grid_event_returns_loop(grid: GridRun) -> dict:
    """:func:`grid_event_returns` one combination at a time, from its trades' events
    (:func:`event_ids`) and :func:`event_sums`."""
    out = {}
    t, bounds = grid.trades, grid.trade_bounds
    for k, (lo, hi) in enumerate(grid.span.tolist()):
        mine = slice(bounds[k], bounds[k + 1])
        ids = event_ids(grid.segments, k, t["col"][mine], t["entry_bar"][mine])
        events, pnl, value = event_sums([i.split("+")[0] for i in ids], t["pnl"][mine],
                                        t["entry_bar"][mine] // 2 - lo,
                                        grid.equity[lo:hi + 1, k], grid.init_cash)
        out[grid.combos[k]] = (events, pnl / value)
    return out


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


@dataclass
class SweepInference:
    """How far a sweep's best combination can be trusted (see :meth:`SweepResult.inference`).

    ``dsr``/``sr0``: deflated Sharpe ratio of the best and the per-period Sharpe ratio
    it was deflated by; ``trials``: combinations tried; ``overfitting``, ``reality``,
    ``walkforward`` (None without folds): their results.
    """

    best: int
    metric: str
    trials: int
    distinct: int
    dsr: float
    sr0: float
    overfitting: Overfitting
    reality: RealityCheck
    walkforward: WalkForward | None = None

    def as_metrics(self) -> dict:
        """The figures for ``metrics.json`` (flat, JSON-ready)."""
        out = {"dsr": self.dsr, "dsr_sr0_annual": self.sr0 * np.sqrt(TRADING_DAYS),
               "trials": self.trials, "distinct_trials": self.distinct,
               **self.overfitting.as_metrics(), **self.reality.as_metrics()}
        if self.walkforward is not None:
            out.update(self.walkforward.as_metrics())
        return out

    def luck(self) -> bool:
        """True when the best combination is indistinguishable from luck: the reality
        check does not reject at 5%, or the deflated Sharpe ratio is below 0.95."""
        p, d = self.reality.spa_p, self.dsr
        return not (np.isfinite(p) and p < 0.05 and np.isfinite(d) and d >= 0.95)


@dataclass
class SweepResult:
    """A sweep: ``table`` (one row per combination: combo, params, metrics), and what the
    inference on it needs.

    ``events``: the events any combination traded (event_id index, ``day0``), in time
    order; ``event_returns``: (events, combinations) return per event, 0 where a
    combination did not trade it; ``daily``: daily returns of each distinct return
    series on one calendar (0 where flat), ``series[k]`` the column of combination k;
    ``spans[k]``: the first and last row of combination k's own span in ``daily``
    (-1 without trades).
    """

    table: pd.DataFrame
    params: list[str]
    events: pd.DataFrame = field(repr=False)
    event_returns: np.ndarray = field(repr=False)
    daily: pd.DataFrame = field(repr=False)
    series: np.ndarray = field(repr=False)
    spans: np.ndarray = field(repr=False)

    @classmethod
    def assemble(cls, parts: list[dict], sessions: pd.DatetimeIndex, calendar: Calendar,
                 params: list[str]) -> SweepResult:
        table = pd.DataFrame([row for part in parts for row in part["rows"]])
        daily = {k: v for part in parts for k, v in part["daily"].items()}
        per_event = {k: v for part in parts for k, v in part["events"].items()}
        n = len(table)
        # events: all any combination traded, by news day
        day0 = {e.id: event_timing(e).day0 for e in calendar}
        ids = sorted({i for ev, _ in per_event.values() for i in ev},
                     key=lambda i: (day0[i], i))
        row_of = {i: r for r, i in enumerate(ids)}
        ev = np.zeros((len(ids), n))
        for k, (names, rets) in per_event.items():
            ev[[row_of[i] for i in names], k] = rets
        events = pd.DataFrame({"day0": pd.DatetimeIndex([day0[i] for i in ids])},
                              index=pd.Index(ids, name="event_id"))
        # per combination: its mean return per event traded, on how many events and days
        mean, count, days = np.full(n, np.nan), np.zeros(n, dtype=np.int64), np.zeros(
            n, dtype=np.int64)
        for k, (names, rets) in per_event.items():
            if len(names):
                mean[k], count[k] = float(np.mean(rets)), len(names)
                days[k] = len({day0[i] for i in names})
        table = table.assign(event_mean_return=mean, events_traded=count, news_days=days)
        # daily returns on one calendar: the union of the combinations' spans
        spans = np.full((n, 2), -1, dtype=np.int64)
        if daily:
            first = min(start for start, _ in daily.values())
            position = {day: i for i, day in enumerate(sessions)}
            last = sessions[max(position[start] + len(r) - 1 for start, r in daily.values())]
            axis = sessions[(sessions >= first) & (sessions <= last)]
        else:
            axis = sessions[-1:]
        columns, series, seen = [], np.zeros(n, dtype=np.int64), {}
        zero = np.zeros(len(axis))
        on_axis = {day: i for i, day in enumerate(axis)}
        for k in range(n):
            col = zero
            if k in daily:
                start, r = daily[k]
                lo = on_axis[start]
                spans[k] = (lo, lo + len(r) - 1)
                col = zero.copy()
                col[lo:lo + len(r)] = r
            key = col.tobytes()
            if key not in seen:
                seen[key] = len(columns)
                columns.append(col)
            series[k] = seen[key]
        frame = pd.DataFrame(np.column_stack(columns), index=axis)
        return cls(table, params, events, ev, frame, series, spans)

    def returns_of(self, combo: int) -> pd.Series:
        """Daily returns of one combination over its own span (first entry to last exit)."""
        lo, hi = self.spans[combo]
        if lo < 0:
            return pd.Series([], dtype="float64")
        return self.daily.iloc[lo:hi + 1, self.series[combo]]

    def ranked(self, metric: str) -> pd.DataFrame:
        """The table from the best ``metric`` down (ties: lower combo first, NaN last)."""
        if metric not in self.table.columns:
            names = [c for c in self.table.columns if c != "combo" and c not in self.params]
            raise ConfigError(f"unknown metric {metric!r} (one of {', '.join(names)})",
                              field="metric")
        return self.table.sort_values([metric, "combo"], ascending=[False, True],
                                      na_position="last")

    def inference(self, metric: str = "sharpe", folds: int | None = None,
                  reps: int = 1000) -> SweepInference:
        """Deflated Sharpe ratio of the best by ``metric`` (N = every combination tried),
        probability of backtest overfitting over blocks of news days, reality check of
        every combination against not trading, and with ``folds`` a walk-forward.

        PBO and the walk-forward choose by mean event return (the one measure defined
        on any subset of events); the reality check uses daily returns on one calendar.
        """
        best = int(self.ranked(metric)["combo"].iloc[0])
        trial_sr = self.table["sharpe"].to_numpy(dtype="float64") / np.sqrt(TRADING_DAYS)
        dsr, sr0 = deflated_sharpe(self.returns_of(best).to_numpy(), trial_sr)
        days = self.events["day0"].to_numpy()
        wf = (walk_forward(self.event_returns, days, folds, list(self.table["combo"]))
              if folds else None)
        return SweepInference(best, metric, len(self.table), self.daily.shape[1], dsr, sr0,
                              probability_of_overfitting(self.event_returns, days),
                              reality_check(self.daily.to_numpy(), reps=reps), wf)
