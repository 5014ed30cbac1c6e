"""Execution: turn trade intents into fills, costs and equity curves with vectorbt.

Daily data give two prices a session, the open and the close, so the
simulation runs on a two-bars-per-session timeline (each session's open, then
its close, stamped with the exchange's real open and close times). An intent
entering at "open" fills at that session's open bar; at "close", at its close
bar. Prices are on a total-return basis (:func:`backtest.data.returns.total_return_prices`),
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
(:data:`backtest.sim.vbt.VBT_SETTINGS`), never taken from vectorbt's global defaults.

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
call would give. Within a block only the sessions on which some column holds a
position or trades are simulated (:func:`live_sessions`; a sweep's combinations are flat
most of the time): on the others value stays the cash of the session before and nothing
accrues, which is checked on the fills (a position still open there, e.g. an exit that
could not fill, and the block runs on every session). What this module adds (bars, stops,
overlaps, targets, borrow, the trades table) is vectorized over all combinations at once.
"""


from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from backtest.sim.costs import DEFAULT_INIT_CASH, Costs, borrow_charge, check_init_cash
from backtest.sim.execution import apply_overlap, apply_stops, bar_timeline, fill_bars, orders
from backtest.sim.results import TRADE_COLUMNS, GridRun, SimulationResult, trade_borrow, trade_table
from backtest.sim.vbt import ffill, ffill_bfill, fill_block
from events.errors import ConfigError, PriceDataError
from strategies.base import OVERLAP_RULES

BLOCK_CELLS = 4_000_000  # bars x columns per vectorbt call (about 32 MB per float array)


def simulate(intents: pd.DataFrame, panel: PricePanel, costs: Costs | None = None,
             init_cash: float = DEFAULT_INIT_CASH, overlap: str = "extend", notional: bool = False
             ) -> SimulationResult:
    """Fill ``intents`` (see :func:`strategies.base.intents_frame`) on ``panel``'s prices."""
    grid = simulate_grid(intents.assign(combo=0), panel, costs, init_cash, overlap, notional)
    return grid[0]


def simulate_grid(intents: pd.DataFrame, panel: PricePanel, costs: Costs | None = None,
                  init_cash: float = DEFAULT_INIT_CASH, overlap: str = "extend",
                  notional: bool = False) -> dict[int, SimulationResult]:
    """Simulate many portfolios at once, one per value of ``intents['combo']``.

    All combinations share one simulation (:func:`run_grid`): columns are
    (combo, ticker) pairs, grouped by combo with cash shared inside each group.
    """
    costs = costs or Costs()
    check_init_cash(init_cash)
    if overlap not in OVERLAP_RULES:
        raise ConfigError(f"overlap must be one of {', '.join(OVERLAP_RULES)}",
                          field="overlap")
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
             init_cash: float = DEFAULT_INIT_CASH, overlap: str = "extend", notional: bool = False
             ) -> GridRun:
    """Simulate the non-empty ``intents`` of every combination; arrays, not frames.

    The steps, each over all combinations at once: fill bars, stops, the overlap
    rule, the target weight changes (orders), vectorbt's fills in blocks of
    combinations, then per session value, exposure, borrow and traded notional,
    and the trades with their borrow.
    """
    costs = costs or Costs()
    if overlap not in OVERLAP_RULES:
        raise ConfigError(f"overlap must be one of {', '.join(OVERLAP_RULES)}",
                          field="overlap")
    missing = sorted(set(intents["ticker"]) - set(panel.tickers))
    if missing:
        raise PriceDataError(f"no prices for traded tickers: {', '.join(missing)}",
                             field="tickers")
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
        fill_bars(intents, side, sessions, adj_open, col, notes) for side in ("entry", "exit"))
    exit_ = apply_stops(intents["stop"].to_numpy(dtype="float64"), direction, col, entry,
                         exit_, price, event_id, np.asarray(tickers, dtype=object), notes)
    segments = apply_overlap(combo, col, entry, exit_, direction,
                         intents["weight"].to_numpy(dtype="float64"), event_id,
                         np.asarray(tickers, dtype=object), overlap, notes)

    # Each combination's own span: its first entry to its last exit (as in the intents).
    n_combos, n_tickers = len(labels), len(tickers)
    span = np.empty((n_combos, 2), dtype=np.int64)
    span[:, 0], span[:, 1] = len(sessions), -1
    np.minimum.at(span[:, 0], combo, entry_pos)
    np.maximum.at(span[:, 1], combo, exit_pos)

    order_bar, order_col, order_size = orders(segments, n_tickers, len(price))
    sim = simulate_blocks(price, order_bar, order_col, order_size, n_combos, n_tickers,
                           sessions, tickers, costs, init_cash, notional)
    return GridRun(labels.tolist(), sessions, bar_timeline(sessions), tickers, init_cash, costs,
                   notes, sim["equity"], sim["exposure"], sim["traded"], span,
                   *trade_table(sim["trades"], n_combos, n_tickers), segments)


def simulate_blocks(price: np.ndarray, order_bar: np.ndarray, order_col: np.ndarray,
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
    trades, borrows = [], []
    rates = np.array([costs.borrow_of(t) for t in tickers], dtype="float64")
    nights = np.diff(sessions.to_numpy()).astype("timedelta64[D]").astype(float)
    nights = np.append(nights, 0.0)  # nothing accrues after the last simulated session
    filled = ffill_bfill(price)  # Portfolio.value() values positions at filled prices
    quoted = ffill(price)  # the last quote at or before each bar (ffill_val_price)
    per_block = max(1, BLOCK_CELLS // (len(price) * n_tickers))
    order_combo = order_col // n_tickers
    for k0 in range(0, n_combos, per_block):
        k1 = min(n_combos, k0 + per_block)
        mine = (order_combo >= k0) & (order_combo < k1)
        bar, col, size = order_bar[mine], order_col[mine] - k0 * n_tickers, order_size[mine]
        # Only the sessions where some column of the block holds a position or trades are
        # simulated: on the others every column is flat, so value stays the cash of the
        # session before and no borrow accrues (checked below; if not, every session).
        live = live_sessions(bar, col, size, n_sessions)
        if not len(live):  # no orders at all (zero weights, same-bar round trips)
            live = np.arange(n_sessions)
        while True:
            bars = np.column_stack([2 * live, 2 * live + 1]).ravel()
            out = fill_block(price[bars], filled[bars], quoted[bars],
                             np.searchsorted(bars, bar), col, size, k1 - k0, n_tickers,
                             costs, init_cash, notional)
            if len(live) == n_sessions or _flat_across_gaps(out["assets"], live, n_sessions):
                break
            out = None  # freed before the block runs again on every session
            live = np.arange(n_sessions)
        block = slice(k0, k1)
        value, assets, close = out["value"], out["assets"], out["close"]
        # Borrow charged at each close on shorts held overnight (sessions x columns).
        short = np.where(assets < 0, -assets * np.nan_to_num(close), 0.0)
        borrow = borrow_charge(short, np.tile(rates, k1 - k0), nights[live])
        paid = _on_sessions(sum_tickers(borrow, k1 - k0, n_tickers), live, n_sessions)
        value = _carried(value, live, n_sessions, init_cash)
        equity[:, block] = value - np.cumsum(paid, axis=0)
        gross = np.where(assets != 0, np.abs(assets * np.nan_to_num(close)), 0.0)
        exposure[:, block] = _on_sessions(sum_tickers(gross, k1 - k0, n_tickers), live,
                                          n_sessions) / value
        rec = out["orders"]
        np.add.at(traded, (bars[rec["idx"]] // 2, rec["col"] // n_tickers + k0),
                  np.abs(rec["size"] * rec["price"]))
        tr = out["trades"].copy()
        tr["entry_idx"], tr["exit_idx"] = bars[tr["entry_idx"]], bars[tr["exit_idx"]]
        borrows.append(_trade_borrow(tr, borrow, live, n_sessions))
        tr["col"] += k0 * n_tickers
        trades.append(tr)
    records = np.concatenate(trades)
    return {"equity": equity, "exposure": exposure, "traded": traded,
            "trades": (records, np.concatenate(borrows))}


def live_sessions(bar: np.ndarray, col: np.ndarray, target: np.ndarray,
                  n_sessions: int) -> np.ndarray:
    """The sessions (sorted positions) with an order or a column that may hold a position
    at their close: from each order with a nonzero target to its column's next order (the
    last session if none). A superset is harmless; a position left open by a partial fill
    is caught by :func:`_flat_across_gaps`."""
    order = np.lexsort((bar, col))
    bar, col, target = bar[order], col[order], target[order]
    session = bar // 2
    nxt = np.append(session[1:], n_sessions - 1)
    last_of_col = np.append(col[1:] != col[:-1], True)
    nxt[last_of_col] = n_sessions - 1
    held = target != 0
    cover = np.zeros(n_sessions + 1, dtype=np.int64)
    np.add.at(cover, session[held], 1)
    np.add.at(cover, nxt[held] + 1, -1)
    live = np.cumsum(cover[:-1]) > 0
    live[session] = True
    return np.flatnonzero(live)


def _flat_across_gaps(assets: np.ndarray, live: np.ndarray, n_sessions: int) -> bool:
    """Whether every column is flat at the close of each live session followed by skipped
    ones (``assets``: positions at the live sessions' closes)."""
    before_gap = np.append(np.diff(live) > 1, live[-1] < n_sessions - 1)
    return not assets[before_gap].any()


def _on_sessions(x: np.ndarray, live: np.ndarray, n_sessions: int) -> np.ndarray:
    """Rows ``x`` of the live sessions put on every session, zero on the others."""
    if len(live) == n_sessions:
        return x
    out = np.zeros((n_sessions, x.shape[1]))
    out[live] = x
    return out


def _carried(value: np.ndarray, live: np.ndarray, n_sessions: int, init_cash: float
             ) -> np.ndarray:
    """Portfolio values of the live sessions on every session: a skipped session keeps the
    value of the live one before it (flat, so its cash), or the initial cash."""
    if len(live) == n_sessions:
        return value
    slot = np.searchsorted(live, np.arange(n_sessions), side="right") - 1
    out = np.vstack([np.full((1, value.shape[1]), float(init_cash)), value])
    return out[slot + 1]


def _trade_borrow(trades: np.ndarray, borrow: np.ndarray, live: np.ndarray,
                  n_sessions: int) -> np.ndarray:
    """:func:`trade_borrow` of ``trades`` (bars on every session) from the borrow of the
    live sessions, on every session of the traded columns, so each trade's sum runs over
    the same axis (and rounds the same) as without skipped sessions."""
    if not len(trades) or not borrow.any():
        return np.zeros(len(trades))
    cols, where = np.unique(trades["col"], return_inverse=True)
    local = trades.copy()
    local["col"] = where
    return trade_borrow(local, _on_sessions(borrow[:, cols], live, n_sessions))


def sum_tickers(x: np.ndarray, n_combos: int, n_tickers: int) -> np.ndarray:
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
