"""The vectorbt kernel adapter: fills of one block of combinations on plain arrays.

vectorbt's order kernel (``vectorbt.portfolio.nb.simulate_from_orders_nb``, the
one behind ``Portfolio.from_orders``) is called here on C-ordered numpy arrays,
with every setting that changes numbers pinned in :data:`VBT_SETTINGS` and
passed explicitly; portfolio value, positions and trades come from vectorbt's
own record functions (``cash_flow_nb``, ``assets_nb``, ``get_exit_trades_nb``),
the same arithmetic ``Portfolio.value()`` and ``Portfolio.trades`` run. vectorbt
is imported only when something is simulated.
"""

from __future__ import annotations

import numpy as np

from backtest.sim.costs import Costs

VBT_SETTINGS = {
    "direction": "both",
    "cash_sharing": True,
    # within a bar, sells before buys (vectorbt's automatic call sequence, by order value;
    # deterministic): a short bought back at an exit is paid by the long sold at it, never
    # left half open for want of cash (a hedged book at its exit)
    "call_seq": "auto",
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


def fill_block(price: np.ndarray, filled: np.ndarray, quoted: np.ndarray, bar: np.ndarray,
               col: np.ndarray, size: np.ndarray, n_combos: int, n_tickers: int, costs: Costs,
               init_cash: float, notional: bool) -> dict:
    """One vectorbt simulation of ``n_combos`` column groups of ``n_tickers`` columns.

    The order kernel only runs on the bars where some column has an order: on
    the others it would only note each column's latest price, so it is given
    that price (``val_price``, the last quote at or before the bar, which is
    what ``ffill_val_price`` keeps: ``quoted``, the caller's forward-filled ``price``)
    and the fills are those of a run over every bar. Order bars are then mapped back,
    and value, positions and trades are computed over the whole timeline by vectorbt's
    record functions. ``price`` may leave out sessions on which every column is flat
    (:func:`backtest.sim.simulate.simulate_blocks` does): ``quoted`` and ``filled``
    (``price`` forward- then back-filled) are then rows of the full timeline's.

    Within a bar, orders that sell run before orders that buy (``call_seq="auto"`` in
    :data:`VBT_SETTINGS`), so a short bought back never waits for the cash of a long sold
    at the same bar.

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
            val_price=np.tile(quoted[rows], (1, n_combos)),
            **kernel_args(costs, notional), max_orders=max(1, len(size)), max_logs=0,
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


def kernel_args(costs: Costs, notional: bool) -> dict:
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
                slippage=np.asarray(float(costs.slippage)),
                auto_call_seq=s["call_seq"] == "auto",
                ffill_val_price=s["ffill_val_price"], update_value=s["update_value"],
                init_temp_records=False)
    return args


def ffill(a: np.ndarray) -> np.ndarray:
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


def ffill_bfill(a: np.ndarray) -> np.ndarray:
    """``DataFrame.ffill().bfill()`` per column: then leading missing values from the first
    later row."""
    return ffill(ffill(a)[::-1])[::-1]
