"""What a simulation returns: one portfolio (:class:`SimulationResult`) or a whole grid
of combinations as arrays (:class:`GridRun`), and the trades table built from
vectorbt's trade records."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.sim.costs import Costs
from backtest.sim.execution import Segments

TRADE_COLUMNS = ["event_id", "ticker", "direction", "entry_time", "entry_price", "exit_time",
                 "exit_price", "size", "fees", "borrow", "pnl", "return"]


@dataclass
class SimulationResult:
    """Equity, trades and notes of one simulated portfolio.

    equity : portfolio value at each session's close, net of borrow (index: session)
    trades : event_id, ticker, direction, entry_time, entry_price, exit_time,
        exit_price, size, fees, borrow, pnl (net of fees and borrow), return
    notes : what the execution rules changed (overlaps dropped, fills moved, stops hit)
    exposure : gross position value / equity at each session's close
    traded : traded notional per session
    """

    equity: pd.Series
    trades: pd.DataFrame
    init_cash: float
    costs: Costs
    notes: list[str] = field(default_factory=list)
    exposure: pd.Series = field(default_factory=pd.Series)
    traded: pd.Series = field(default_factory=pd.Series)


@dataclass
class GridRun:
    """Everything one :func:`run_grid` call simulated, as arrays over all combinations.

    Session arrays are (sessions, combinations) over the union of all combinations'
    spans; ``span[k]`` holds the first and last session row of combination ``k``'s
    own span (first entry to last exit), the rows its results and metrics use.
    ``trades`` maps each trades-table column to an array over all trades, ordered by
    combination, then as the table is (entry bar, ticker, vectorbt's order); the trades
    of combination ``k`` are rows ``trade_bounds[k]:trade_bounds[k + 1]``.
    :meth:`result` cuts one combination out as a :class:`SimulationResult`;
    :func:`backtest.sim.metrics.summarize_grid` reads the arrays directly.
    """

    combos: list
    sessions: pd.DatetimeIndex
    bars: pd.DatetimeIndex
    tickers: list[str]
    init_cash: float
    costs: Costs
    notes: list[str]
    equity: np.ndarray
    exposure: np.ndarray
    traded: np.ndarray
    span: np.ndarray
    trades: dict[str, np.ndarray]
    trade_bounds: np.ndarray
    segments: Segments

    def __post_init__(self):
        self._position = {c: k for k, c in enumerate(self.combos)}

    def result(self, combo) -> SimulationResult:
        """The :class:`SimulationResult` of one combination (by its label)."""
        k = self._position[combo]
        lo, hi = self.span[k]
        own = slice(lo, hi + 1)
        index = self.sessions[own]
        return SimulationResult(
            pd.Series(self.equity[own, k], index=index, name="equity"), self.trades_frame(k),
            self.init_cash, self.costs, self.notes if k == 0 else [],
            pd.Series(self.exposure[own, k], index=index),
            pd.Series(self.traded[own, k], index=index))

    def trades_frame(self, k: int) -> pd.DataFrame:
        """The trades table of the combination at position ``k``."""
        rows = slice(self.trade_bounds[k], self.trade_bounds[k + 1])
        if rows.start == rows.stop:
            return pd.DataFrame([], columns=TRADE_COLUMNS)
        t = {name: values[rows] for name, values in self.trades.items()}
        ids = event_ids(self.segments, k, t["col"], t["entry_bar"])
        frame = pd.DataFrame({
            "event_id": ids, "ticker": np.asarray(self.tickers, dtype=object)[t["col"]],
            "direction": np.where(t["direction"] == 0, "long", "short").astype(object),
            "entry_time": self.bars.take(t["entry_bar"]), "entry_price": t["entry_price"],
            "exit_time": self.bars.take(t["exit_bar"]), "exit_price": t["exit_price"],
            "size": t["size"], "fees": t["fees"], "borrow": t["borrow"], "pnl": t["pnl"],
            "return": t["return"]})
        return frame


def trade_borrow(trades: np.ndarray, borrow: np.ndarray) -> np.ndarray:
    """Borrow paid by each trade: the borrow of its ticker column on every night it was
    held, shared by size among the trades held that night.

    vectorbt splits a position into several trades on partial exits (overlap
    "add"), so a night can be shared. Each trade's nightly amounts are summed over
    the whole session axis (zeros off its nights) with numpy's sum, row by row.
    """
    out = np.zeros(len(trades))
    if not len(trades) or not borrow.any():
        return out
    n_sessions = len(borrow)
    first, stop = trades["entry_idx"] // 2, trades["exit_idx"] // 2  # nights [first, stop)
    col, size = trades["col"], trades["size"]
    # Size held per night and column, summed over trades in record order.
    held = np.zeros_like(borrow)
    for a, b, c, s in zip(first.tolist(), stop.tolist(), col.tolist(), size.tolist()):
        held[a:b, c] += s
    nights = np.arange(n_sessions)
    for lo in range(0, len(trades), 2048):
        part = slice(lo, lo + 2048)
        on = (nights >= first[part, None]) & (nights < stop[part, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(on, size[part, None] / held.T[col[part]], 0.0)
        out[part] = np.ascontiguousarray(share * borrow.T[col[part]]).sum(axis=1)
    return out


def trade_table(sim_trades: tuple[np.ndarray, np.ndarray], n_combos: int, n_tickers: int
                 ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Trades-table columns over all combinations, in table order, and each combination's
    row bounds."""
    rec, paid = sim_trades
    combo, col = rec["col"] // n_tickers, rec["col"] % n_tickers
    order = np.lexsort((np.arange(len(rec)), col, rec["entry_idx"], combo))
    rec, paid, combo, col = rec[order], paid[order], combo[order], col[order]
    pnl = rec["pnl"] - paid
    table = {"col": col, "direction": rec["direction"], "entry_bar": rec["entry_idx"],
             "entry_price": rec["entry_price"], "exit_bar": rec["exit_idx"],
             "exit_price": rec["exit_price"], "size": rec["size"],
             "fees": rec["entry_fees"] + rec["exit_fees"], "borrow": paid, "pnl": pnl,
             "return": pnl / (rec["size"] * rec["entry_price"])}
    return table, np.searchsorted(combo, np.arange(n_combos + 1))


def event_ids(seg: Segments, k: int, col: np.ndarray, entry: np.ndarray) -> list[str]:
    """The events behind each trade of combination ``k``: the segments of its ticker open
    at the trade's entry bar, their ids joined by "+" without repeats."""
    mine = seg.rows_of(k)
    s_col, s_entry, s_exit = seg.col[mine], seg.entry[mine], seg.exit[mine]
    s_id = seg.event_id[mine]
    if not seg.disjoint:
        out = []
        for c, e in zip(col.tolist(), entry.tolist()):
            hit = s_id[(s_col == c) & (s_entry <= e) & (s_exit > e)]
            out.append(join_ids(list(hit)) if len(hit) else "")
        return out
    # Sorted segments that never overlap: only the last one starting at or before the
    # entry can be open then.
    big = int(max(s_entry.max(initial=0), entry.max(initial=0))) + 1
    at = np.searchsorted(s_col * big + s_entry, col * big + entry, side="right") - 1
    safe = np.maximum(at, 0)
    hit = (at >= 0) & (s_col[safe] == col) & (s_exit[safe] > entry)
    joined = {i: join_ids([i]) for i in set(s_id[safe[hit]].tolist())}
    return [joined[i] if h else "" for i, h in zip(s_id[safe].tolist(), hit.tolist())]


def join_ids(ids: list[str]) -> str:
    """``["a+b", "b+c"]`` -> ``"a+b+c"``."""
    return "+".join(dict.fromkeys("+".join(ids).split("+")))
