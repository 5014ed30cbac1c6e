"""Execution: turn trade intents into fills, costs and equity curves with vectorbt.

Daily data give two prices a session, the open and the close, so the
simulation runs on a two-bars-per-session timeline (each session's open, then
its close, stamped with the exchange's real open and close times). An intent
entering at "open" fills at that session's open bar; at "close", at its close
bar. Prices are on a total-return basis (:func:`backtest.returns.total_return_prices`),
so a short pays the dividends it owes.

Execution rules
---------------
* **Sizing**: an intent's weight is a fraction of portfolio value
  (vectorbt ``targetpercent``: ``shares = weight * value / quoted price``,
  ``value`` taken at that bar before any of its orders), or, with
  ``notional=True``, a currency amount (``targetvalue``). Cash is shared
  across tickers.
* **Costs**: ``slippage`` moves the fill against us (a sell fills at
  ``quote * (1 - slippage)``, a buy at ``quote * (1 + slippage)``); ``fees`` is a
  fraction of the filled notional; ``fixed_fees`` is added per fill.
* **Borrow**: a short held over a session's close pays
  ``shares * close * rate * calendar days to the next session / 360`` (ACT/360,
  so a weekend costs three days), with ``rate`` the annual borrow rate
  (``borrow_rate``, per-ticker ``borrow_overrides``). vectorbt has no borrow
  cost: it is charged here, as a cash outflow at that close, and reported per
  trade; it does not feed back into later sizing.
* **Stops**: an intent with ``stop = s`` is closed early when a session's close
  is ``s`` or more against its entry quote; it exits at the next session's open.
* **Overlaps** (a new intent on a ticker already held, per simulated column):
  ``extend``: same direction lengthens the holding to the later exit (one
  position, no second order), opposite direction is dropped and reported;
  ``skip``: the new intent is dropped; ``add``: targets add up while both are
  active. The target of a ticker changes at most once per bar, so there are
  never two orders on one bar.
* A ticker with no open price (adjusted-close-only data) cannot fill at the
  open; such an entry or exit moves to that session's close, and is reported.

All vectorbt settings that change numbers are passed explicitly here
(:data:`VBT_SETTINGS`), never taken from vectorbt's global defaults.

How it runs
-----------
Every combination of a sweep (``intents["combo"]``) is one column group of
vectorbt's order simulation (``vectorbt.portfolio.nb.simulate_from_orders_nb``,
the kernel behind ``Portfolio.from_orders``), with cash shared inside the
group. The kernel is called on plain C-ordered numpy arrays: going through
``Portfolio.from_orders`` and its pandas wrappers cost more than the fills
themselves (pandas stores frames column-major, so every wrap is a transposed
copy, and the kernel then reads prices across columns of a column-major
array). Portfolio value, positions and trades come from vectorbt's own record
functions (``cash_flow_nb``, ``assets_nb``, ``get_exit_trades_nb``, ...), the
same arithmetic ``Portfolio.value()`` and ``Portfolio.trades`` run. Large
sweeps are cut into blocks of combinations (:data:`BLOCK_CELLS`) on one shared
bar timeline, so memory stays bounded and every number is the one a single
call would give. What this module adds (bars, stops, overlaps, targets,
borrow, the trades table) is vectorized over all combinations at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.prices import PricePanel
from events.errors import InputError
from events.timing import exchange_calendar

VBT_SETTINGS = {
    "direction": "both",
    "cash_sharing": True,
    "call_seq": "default",  # column order: deterministic
    "update_value": False,  # all orders of one bar size off the same portfolio value
    "ffill_val_price": True,
    "log": False,
    # vectorbt's portfolio defaults, pinned: orders below 1e-8 shares are ignored, no
    # size cap or rounding, no random rejection, no cash lock, partial fills allowed,
    # fills at the bar's price, positions valued at it.
    "min_size": 1e-8,
    "max_size": np.inf,
    "size_granularity": np.nan,
    "reject_prob": 0.0,
    "lock_cash": False,
    "allow_partial": True,
    "raise_reject": False,
    "price": np.inf,  # inf: the bar's close (here the open or close quote of the bar)
    "val_price": np.inf,
    # Portfolio.value() valuation: missing prices forward- then back-filled; trades are
    # exit trades (one per exit order).
    "fillna_close": True,
    "trades_type": "exittrades",
}
OVERLAP_RULES = ("extend", "add", "skip")
TRADE_COLUMNS = ["event_id", "ticker", "direction", "entry_time", "entry_price", "exit_time",
                 "exit_price", "size", "fees", "borrow", "pnl", "return"]
BLOCK_CELLS = 4_000_000  # bars x columns per vectorbt call (about 32 MB per float array)
TARGET_ZERO = 1e-12  # a summed target weight closer to 0 than this is flat


@dataclass(frozen=True)
class Costs:
    """Trading costs: per fill (fees, fixed fees, slippage) and per night short (borrow)."""

    fees: float = 0.0005  # 5 bp of notional per fill
    fixed_fees: float = 0.0  # currency per fill
    slippage: float = 0.0005  # 5 bp of price, against us
    borrow_rate: float = 0.0  # annual rate on short notional (ACT/360)
    borrow_overrides: tuple[tuple[str, float], ...] = ()  # (ticker, annual rate)

    def __post_init__(self):
        object.__setattr__(self, "borrow_overrides",
                           tuple(sorted((str(t).upper(), float(r))
                                        for t, r in dict(self.borrow_overrides).items())))
        for name in ("fees", "fixed_fees", "slippage", "borrow_rate"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise InputError(f"must be a non-negative number, got {value!r}", field=name)
        for ticker, rate in self.borrow_overrides:
            if not np.isfinite(rate) or rate < 0:
                raise InputError(f"borrow rate of {ticker} must be non-negative, got {rate}",
                                 field="borrow_overrides")

    @classmethod
    def from_mapping(cls, c: dict) -> "Costs":
        """From an experiment file's ``costs`` (``borrow`` maps tickers to rates)."""
        return cls(fees=c.get("fees", 0.0005), fixed_fees=c.get("fixed_fees", 0.0),
                   slippage=c.get("slippage", 0.0005), borrow_rate=c.get("borrow_rate", 0.0),
                   borrow_overrides=tuple((c.get("borrow") or {}).items()))

    def borrow_of(self, ticker: str) -> float:
        return dict(self.borrow_overrides).get(ticker, self.borrow_rate)


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
class Segments:
    """Positions to hold after the overlap rule: one entry per (combination, ticker) holding.

    Arrays are aligned; ``combo`` is the combination's position in :attr:`GridRun.combos`,
    ``col`` the ticker's column. ``event_id`` joins the events merged into a holding.
    Sorted by (combo, col, entry bar) except under ``add``, which keeps the intents' order.
    """

    combo: np.ndarray
    col: np.ndarray
    entry: np.ndarray
    exit: np.ndarray
    signed: np.ndarray  # direction x weight
    event_id: np.ndarray  # object
    disjoint: bool  # holdings of one (combo, ticker) never overlap (every rule but add)


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
    :func:`backtest.metrics.summarize_grid` reads the arrays directly.
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
        ids = _event_ids(self.segments, k, t["col"], t["entry_bar"])
        frame = pd.DataFrame({
            "event_id": ids, "ticker": np.asarray(self.tickers, dtype=object)[t["col"]],
            "direction": np.where(t["direction"] == 0, "long", "short").astype(object),
            "entry_time": self.bars.take(t["entry_bar"]), "entry_price": t["entry_price"],
            "exit_time": self.bars.take(t["exit_bar"]), "exit_price": t["exit_price"],
            "size": t["size"], "fees": t["fees"], "borrow": t["borrow"], "pnl": t["pnl"],
            "return": t["return"]})
        return frame


def bar_timeline(sessions: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Two bars per session: the exchange open and close times (UTC)."""
    cal = exchange_calendar()
    opens = cal.opens.reindex(sessions).to_numpy()
    closes = cal.closes.reindex(sessions).to_numpy()
    return pd.DatetimeIndex(np.column_stack([opens, closes]).ravel(), tz="UTC", name="bar")


def simulate(intents: pd.DataFrame, panel: PricePanel, costs: Costs | None = None,
             init_cash: float = 100_000.0, overlap: str = "extend", notional: bool = False
             ) -> SimulationResult:
    """Fill ``intents`` (see :func:`strategies.base.intents_frame`) on ``panel``'s prices."""
    grid = simulate_grid(intents.assign(combo=0), panel, costs, init_cash, overlap, notional)
    return grid[0]


def simulate_grid(intents: pd.DataFrame, panel: PricePanel, costs: Costs | None = None,
                  init_cash: float = 100_000.0, overlap: str = "extend",
                  notional: bool = False) -> dict[int, SimulationResult]:
    """Simulate many portfolios at once, one per value of ``intents['combo']``.

    All combinations share one simulation (:func:`run_grid`): columns are
    (combo, ticker) pairs, grouped by combo with cash shared inside each group.
    """
    costs = costs or Costs()
    if overlap not in OVERLAP_RULES:
        raise InputError(f"overlap must be one of {', '.join(OVERLAP_RULES)}", field="overlap")
    if intents.empty:
        combos = [0]
        equity = pd.Series(init_cash, index=panel.sessions[-1:], name="equity")
        return {c: SimulationResult(equity, pd.DataFrame(columns=TRADE_COLUMNS), init_cash,
                                    costs, ["no trades: the strategy produced no intents"],
                                    pd.Series(0.0, index=equity.index),
                                    pd.Series(0.0, index=equity.index)) for c in combos}
    run = run_grid(intents, panel, costs, init_cash, overlap, notional)
    return {c: run.result(c) for c in run.combos}


def run_grid(intents: pd.DataFrame, panel: PricePanel, costs: Costs | None = None,
             init_cash: float = 100_000.0, overlap: str = "extend", notional: bool = False
             ) -> GridRun:
    """Simulate the non-empty ``intents`` of every combination; arrays, not frames.

    The steps, each over all combinations at once: fill bars, stops, the overlap
    rule, the target weight changes (orders), vectorbt's fills in blocks of
    combinations, then per session value, exposure, borrow and traded notional,
    and the trades with their borrow.
    """
    costs = costs or Costs()
    if overlap not in OVERLAP_RULES:
        raise InputError(f"overlap must be one of {', '.join(OVERLAP_RULES)}", field="overlap")
    missing = sorted(set(intents["ticker"]) - set(panel.tickers))
    if missing:
        raise InputError(f"no prices for traded tickers: {', '.join(missing)}", field="tickers")
    notes: list[str] = []
    tickers = sorted(intents["ticker"].unique())
    first, last = intents["entry_session"].min(), intents["exit_session"].max()
    sessions = panel.sessions[(panel.sessions >= first) & (panel.sessions <= last)]
    adj_open, adj_close = (frame.loc[sessions, tickers].to_numpy(dtype="float64")
                           for frame in panel.tr_prices)

    # Interleave open/close prices; a missing open is valued at the previous close.
    price = np.empty((2 * len(sessions), len(tickers)))
    price[1::2] = adj_close
    prev_close = np.vstack([np.full((1, len(tickers)), np.nan), adj_close[:-1]])
    price[0::2] = np.where(np.isfinite(adj_open), adj_open, prev_close)

    labels, combo = np.unique(intents["combo"].to_numpy(), return_inverse=True)
    col = pd.Index(tickers).get_indexer(intents["ticker"])
    event_id = intents["event_id"].to_numpy(dtype=object)
    direction = intents["direction"].to_numpy()
    (entry_pos, entry), (exit_pos, exit_) = (
        _fill_bars(intents, side, sessions, adj_open, col, notes) for side in ("entry", "exit"))
    exit_ = _apply_stops(intents["stop"].to_numpy(dtype="float64"), direction, col, entry,
                         exit_, price, event_id, np.asarray(tickers, dtype=object), notes)
    segments = _segments(combo, col, entry, exit_, direction,
                         intents["weight"].to_numpy(dtype="float64"), event_id,
                         np.asarray(tickers, dtype=object), overlap, notes)

    # Each combination's own span: its first entry to its last exit (as in the intents).
    n_combos, n_tickers = len(labels), len(tickers)
    span = np.empty((n_combos, 2), dtype=np.int64)
    span[:, 0], span[:, 1] = len(sessions), -1
    np.minimum.at(span[:, 0], combo, entry_pos)
    np.maximum.at(span[:, 1], combo, exit_pos)

    order_bar, order_col, order_size = _orders(segments, n_tickers, len(price))
    sim = _simulate_blocks(price, order_bar, order_col, order_size, n_combos, n_tickers,
                           sessions, tickers, costs, init_cash, notional)
    return GridRun(labels.tolist(), sessions, bar_timeline(sessions), tickers, init_cash, costs,
                   notes, sim["equity"], sim["exposure"], sim["traded"], span,
                   *_trade_table(sim["trades"], n_combos, n_tickers), segments)


def _fill_bars(intents: pd.DataFrame, side: str, sessions: pd.DatetimeIndex,
               adj_open: np.ndarray, col: np.ndarray, notes: list[str]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Session row and bar of each intent's ``side`` ("entry" or "exit").

    Bar ``2 * row`` is the session's open, ``2 * row + 1`` its close; a fill at a
    missing open moves to that session's close.
    """
    sess = intents[f"{side}_session"]
    pos = sessions.get_indexer(sess)
    if (pos < 0).any():
        bad = intents.iloc[int(np.flatnonzero(pos < 0)[0])]
        raise InputError(f"{bad['event_id']} {bad['ticker']}: {side} session "
                         f"{pd.Timestamp(bad[f'{side}_session']).date()} is not in the "
                         f"price data", field=f"{side}_session")
    at_open = intents[f"{side}_at"].eq("open").to_numpy()
    moved = at_open & ~np.isfinite(adj_open[pos, col])
    for i in np.flatnonzero(moved):
        notes.append(f"{intents['event_id'].iat[i]} {intents['ticker'].iat[i]}: no open "
                     f"price on {sess.iat[i].date()}, {side} moved to the close")
    return pos, pos * 2 + (~(at_open & ~moved)).astype(int)


def _apply_stops(stop: np.ndarray, direction: np.ndarray, col: np.ndarray, entry: np.ndarray,
                 exit_: np.ndarray, price: np.ndarray, event_id: np.ndarray,
                 tickers: np.ndarray, notes: list[str]) -> np.ndarray:
    """Exit bars, moved forward where a close went ``stop`` or more against the entry quote.

    The closes each intent holds over are laid out as one row per intent (padded to
    the longest holding), so all intents are checked in one pass; the exit becomes
    the open after the first close that breaches the stop.
    """
    rows = np.flatnonzero(np.isfinite(stop) & (stop > 0))
    if rows.size == 0:
        return exit_
    first_close = entry[rows] + 1 + entry[rows] % 2  # the first close after the entry bar
    n_closes = np.maximum(0, (exit_[rows] - first_close + 1) // 2)  # closes before the exit
    width = int(n_closes.max())
    if width == 0:
        return exit_
    closes = first_close[:, None] + 2 * np.arange(width)
    held = np.arange(width) < n_closes[:, None]
    j = col[rows][:, None]
    quote = price[entry[rows], col[rows]][:, None]
    move = direction[rows][:, None] * (price[np.where(held, closes, 0), j] / quote - 1.0)
    breach = held & (move <= -stop[rows][:, None])
    new_exit = closes[np.arange(rows.size), breach.argmax(axis=1)] + 1
    hit = breach.any(axis=1) & (new_exit < exit_[rows])
    exit_ = exit_.copy()
    exit_[rows[hit]] = new_exit[hit]
    for i in rows[hit]:
        notes.append(f"{event_id[i]} {tickers[col[i]]}: stop {stop[i]:.1%} hit at a close, "
                     f"exit at the next open")
    return exit_


def _segments(combo: np.ndarray, col: np.ndarray, entry: np.ndarray, exit_: np.ndarray,
              direction: np.ndarray, weight: np.ndarray, event_id: np.ndarray,
              tickers: np.ndarray, rule: str, notes: list[str]) -> Segments:
    """Apply the overlap rule per (combo, ticker): non-overlapping segments, or all for 'add'.

    Intents are sorted by (combo, ticker, entry bar, event id); one pass then
    merges (``extend``) or drops each intent that starts while its ticker's
    current segment is still open.
    """
    signed = direction * weight
    if rule == "add":
        return Segments(combo, col, entry, exit_, signed, event_id, disjoint=False)
    ids_order = pd.factorize(pd.Series(event_id), sort=True)[0]
    order = np.lexsort((np.arange(len(combo)), ids_order, entry, col, combo))
    k, j, start = combo[order].tolist(), col[order].tolist(), entry[order].tolist()
    end, sign, ids = exit_[order].tolist(), direction[order].tolist(), event_id[order].tolist()
    keep = [True] * len(order)
    cur = -1  # row of the segment being built
    for i in range(len(order)):  # one pass over the sorted rows
        if cur >= 0 and k[i] == k[cur] and j[i] == j[cur] and start[i] <= end[cur]:
            keep[i] = False
            if rule == "extend" and sign[i] == sign[cur]:
                end[cur] = max(end[cur], end[i])
                ids[cur] = f"{ids[cur]}+{ids[i]}"
            elif k[i] == k[0]:  # report once, not for every sweep column
                why = "opposite position" if rule == "extend" else "position"
                notes.append(f"{ids[i]} {tickers[j[i]]}: dropped, {why} from {ids[cur]} "
                             f"still open")
            continue
        cur = i
    keep = np.asarray(keep)
    kept = order[keep]  # original rows of the kept segments
    return Segments(combo[kept], col[kept], entry[kept], np.asarray(end, dtype=np.int64)[keep],
                    signed[kept], np.asarray(ids, dtype=object)[keep], disjoint=True)


def _orders(seg: Segments, n_tickers: int, n_bars: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Target-weight orders (bar, column, target) of every (combo, ticker) column.

    A column's target is the running sum of +weight at each segment's entry bar
    and -weight at its exit bar; it is ordered wherever it changes. Only the
    bars where some segment starts or ends are visited, in the order (and with
    the same additions) of a dense ``np.add.at`` and ``cumsum`` over all bars,
    so the targets are the same to the last bit.
    """
    cols = seg.combo * n_tickers + seg.col
    bars = np.concatenate([seg.entry, seg.exit])
    key = np.concatenate([cols, cols]) * (n_bars + 1) + bars
    cells, where = np.unique(key, return_inverse=True)  # sorted by (column, bar)
    delta = np.zeros(len(cells))
    np.add.at(delta, where, np.concatenate([seg.signed, -seg.signed]))
    col, bar = np.divmod(cells, n_bars + 1)
    # Running sum per column: one padded row per column, summed left to right.
    first = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
    length = np.diff(np.r_[first, len(cells)])
    row = np.repeat(np.arange(len(first)), length)
    slot = np.arange(len(cells)) - np.repeat(first, length)
    grid = np.zeros((len(first), int(length.max(initial=0))))
    grid[row, slot] = delta
    target = np.cumsum(grid, axis=1)[row, slot]
    target[np.abs(target) < TARGET_ZERO] = 0.0
    before = np.where(slot > 0, np.r_[0.0, target[:-1]], 0.0)  # the column's previous target
    order = (target != before) & (bar < n_bars) & ~np.isnan(target)  # NaN: no order
    return bar[order], col[order], target[order]


def _simulate_blocks(price: np.ndarray, order_bar: np.ndarray, order_col: np.ndarray,
                     order_size: np.ndarray, n_combos: int, n_tickers: int,
                     sessions: pd.DatetimeIndex, tickers: list[str], costs: Costs,
                     init_cash: float, notional: bool) -> dict:
    """vectorbt's fills for blocks of combinations, and what each session's close shows.

    Returns (sessions, combos) arrays ``equity`` (value net of cumulative borrow),
    ``exposure`` and ``traded``, and ``trades``: vectorbt's exit trade records
    (columns numbered over all combinations) with a ``borrow`` array beside them.
    """
    n_sessions = len(sessions)
    equity = np.empty((n_sessions, n_combos))
    exposure = np.empty((n_sessions, n_combos))
    traded = np.zeros((n_sessions, n_combos))
    trades, trade_borrow = [], []
    rates = np.array([costs.borrow_of(t) for t in tickers], dtype="float64")
    nights = np.diff(sessions.to_numpy()).astype("timedelta64[D]").astype(float)
    nights = np.append(nights, 0.0)  # nothing accrues after the last simulated session
    filled = _ffill_bfill(price)  # Portfolio.value() values positions at filled prices
    per_block = max(1, BLOCK_CELLS // (len(price) * n_tickers))
    order_combo = order_col // n_tickers
    for k0 in range(0, n_combos, per_block):
        k1 = min(n_combos, k0 + per_block)
        mine = (order_combo >= k0) & (order_combo < k1)
        out = _fill_block(price, filled, order_bar[mine], order_col[mine] - k0 * n_tickers,
                          order_size[mine], k1 - k0, n_tickers, costs, init_cash, notional)
        block = slice(k0, k1)
        value, assets, close = out["value"], out["assets"], out["close"]
        # Borrow charged at each close on shorts held overnight (sessions x columns).
        short = np.where(assets < 0, -assets * np.nan_to_num(close), 0.0)
        borrow = short * np.tile(rates, k1 - k0)[None, :] * nights[:, None] / 360.0
        paid = _sum_tickers(borrow, k1 - k0, n_tickers)
        equity[:, block] = value - np.cumsum(paid, axis=0)
        gross = np.where(assets != 0, np.abs(assets * np.nan_to_num(close)), 0.0)
        exposure[:, block] = _sum_tickers(gross, k1 - k0, n_tickers) / value
        rec = out["orders"]
        np.add.at(traded, (rec["idx"] // 2, rec["col"] // n_tickers + k0),
                  np.abs(rec["size"] * rec["price"]))
        tr = out["trades"]
        trade_borrow.append(_trade_borrow(tr, borrow))
        tr = tr.copy()
        tr["col"] += k0 * n_tickers
        trades.append(tr)
    records = np.concatenate(trades)
    return {"equity": equity, "exposure": exposure, "traded": traded,
            "trades": (records, np.concatenate(trade_borrow))}


def _sum_tickers(x: np.ndarray, n_combos: int, n_tickers: int) -> np.ndarray:
    """(sessions, combos) sums of ``x`` (sessions, combos x tickers) over each combination's
    tickers, added one ticker at a time in column order.

    The order is part of the result: numpy's own ``sum`` over a row adds pairwise
    and rounds differently, and these sums have always been sequential.
    """
    x = x.reshape(len(x), n_combos, n_tickers)
    out = x[:, :, 0].copy()
    for t in range(1, n_tickers):
        out += x[:, :, t]
    return out


def _fill_block(price: np.ndarray, filled: np.ndarray, bar: np.ndarray, col: np.ndarray,
                size: np.ndarray, n_combos: int, n_tickers: int, costs: Costs,
                init_cash: float, notional: bool) -> dict:
    """One vectorbt simulation of ``n_combos`` column groups of ``n_tickers`` columns.

    The order kernel only runs on the bars where some column has an order: on
    the others it would only note each column's latest price, so it is given
    that price (``val_price``, the last quote at or before the bar, which is
    what ``ffill_val_price`` keeps) and the fills are those of a run over every
    bar. Order bars are then mapped back, and value, positions and trades are
    computed over the whole timeline by vectorbt's record functions.

    Returns the order and exit trade records, and at each session's close the
    portfolio value per group, the position and the price per column.
    """
    from vectorbt.portfolio import nb
    from vectorbt.portfolio.enums import CallSeqType, Direction, order_dt
    from vectorbt.records.nb import col_map_nb

    n_bars, n_cols = len(price), n_combos * n_tickers
    shape = (n_bars, n_cols)
    group_lens = np.full(n_combos, n_tickers, dtype=np.int64)
    cash = np.full(n_combos, float(init_cash))
    rows = np.unique(bar)  # the bars with an order
    orders = np.empty(0, dtype=order_dt)
    if len(rows):
        target = np.full((len(rows), n_cols), np.nan)
        target[np.searchsorted(rows, bar), col] = size
        orders, _ = nb.simulate_from_orders_nb(
            target.shape, group_lens, cash,
            nb.build_call_seq(target.shape, group_lens, CallSeqType.Default), size=target,
            close=np.tile(price[rows], (1, n_combos)),
            val_price=np.tile(_ffill(price)[rows], (1, n_combos)),
            **_kernel_args(costs, notional), max_orders=max(1, len(size)), max_logs=0,
            flex_2d=True)
        orders = orders.copy()
        orders["idx"] = rows[orders["idx"]]
    col_map = col_map_nb(orders["col"], n_cols)
    # Portfolio.value() of each group, as vectorbt computes it: cash from the cash
    # flows, plus positions valued at the filled close (0 where flat).
    cash_flow = nb.cash_flow_grouped_nb(nb.cash_flow_nb(shape, orders, col_map, False),
                                        group_lens)
    cash_now = nb.cash_grouped_nb(shape, cash_flow, group_lens, cash)
    assets = nb.assets_nb(nb.asset_flow_nb(shape, orders, col_map, Direction.Both))
    at_close = np.ascontiguousarray(assets[1::2])
    mark = np.tile(filled[1::2], (1, n_combos))
    asset_value = np.where(at_close == 0, 0.0, mark) * at_close
    value = cash_now[1::2] + nb.asset_value_grouped_nb(asset_value, group_lens)
    # Exit trades read the close only for a position still open after the last bar.
    last = np.broadcast_to(np.tile(price[-1], n_combos), shape)
    return {"orders": orders, "trades": nb.get_exit_trades_nb(orders, last, col_map),
            "value": value, "assets": at_close, "close": np.tile(price[1::2], (1, n_combos))}


def _kernel_args(costs: Costs, notional: bool) -> dict:
    """Keyword arguments of ``simulate_from_orders_nb``: costs, sizing and the pinned
    :data:`VBT_SETTINGS`.

    Every argument is passed, none left to the kernel's defaults: numba keys an
    omitted array default by the array's ``id``, so the compiled kernel would miss
    its on-disk cache in every new process (measured: 2 s more per warm
    ``backtest demo``, and one more cache file per run).
    """
    from vectorbt.portfolio.enums import Direction, SizeType

    s = VBT_SETTINGS
    pinned = {"price": s["price"], "direction": Direction.Both, "min_size": s["min_size"],
              "max_size": s["max_size"], "size_granularity": s["size_granularity"],
              "reject_prob": s["reject_prob"], "lock_cash": s["lock_cash"],
              "allow_partial": s["allow_partial"], "raise_reject": s["raise_reject"],
              "log": s["log"]}
    args = {name: np.asarray(value) for name, value in pinned.items()}
    args.update(size_type=np.asarray(SizeType.TargetValue if notional
                                     else SizeType.TargetPercent),
                fees=np.asarray(float(costs.fees)), fixed_fees=np.asarray(float(costs.fixed_fees)),
                slippage=np.asarray(float(costs.slippage)), auto_call_seq=False,
                ffill_val_price=s["ffill_val_price"], update_value=s["update_value"],
                init_temp_records=False)
    return args


def _ffill(a: np.ndarray) -> np.ndarray:
    """Missing values filled from the last earlier row (``DataFrame.ffill()``), per column;
    leading missing values stay missing."""
    gaps = np.flatnonzero(np.isnan(a).any(axis=0))
    if gaps.size == 0:
        return a
    out = a.copy()
    part = a[:, gaps]
    last = np.maximum.accumulate(np.where(np.isnan(part), 0, np.arange(len(a))[:, None]),
                                 axis=0)
    out[:, gaps] = np.take_along_axis(part, last, axis=0)
    return out


def _ffill_bfill(a: np.ndarray) -> np.ndarray:
    """``DataFrame.ffill().bfill()`` per column: then leading missing values from the first
    later row."""
    return _ffill(_ffill(a)[::-1])[::-1]


def _trade_borrow(trades: np.ndarray, borrow: np.ndarray) -> np.ndarray:
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


def _trade_table(sim_trades: tuple[np.ndarray, np.ndarray], n_combos: int, n_tickers: int
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


def _event_ids(seg: Segments, k: int, col: np.ndarray, entry: np.ndarray) -> list[str]:
    """The events behind each trade of combination ``k``: the segments of its ticker open
    at the trade's entry bar, their ids joined by "+" without repeats."""
    mine = np.flatnonzero(seg.combo == k)
    s_col, s_entry, s_exit = seg.col[mine], seg.entry[mine], seg.exit[mine]
    s_id = seg.event_id[mine]
    if not seg.disjoint:
        out = []
        for c, e in zip(col.tolist(), entry.tolist()):
            hit = s_id[(s_col == c) & (s_entry <= e) & (s_exit > e)]
            out.append(_join_ids(list(hit)) if len(hit) else "")
        return out
    # Sorted segments that never overlap: only the last one starting at or before the
    # entry can be open then.
    big = int(max(s_entry.max(initial=0), entry.max(initial=0))) + 1
    at = np.searchsorted(s_col * big + s_entry, col * big + entry, side="right") - 1
    safe = np.maximum(at, 0)
    hit = (at >= 0) & (s_col[safe] == col) & (s_exit[safe] > entry)
    joined = {i: _join_ids([i]) for i in set(s_id[safe[hit]].tolist())}
    return [joined[i] if h else "" for i, h in zip(s_id[safe].tolist(), hit.tolist())]


def _join_ids(ids: list[str]) -> str:
    """``["a+b", "b+c"]`` -> ``"a+b+c"``."""
    return "+".join(dict.fromkeys("+".join(ids).split("+")))
