"""Execution: turn trade intents into fills, costs and an equity curve with vectorbt.

Daily data give two prices a session, the open and the close, so the
simulation runs on a two-bars-per-session timeline (each session's open, then
its close, stamped with the exchange's real open and close times). An intent
entering at "open" fills at that session's open bar; at "close", at its close
bar. Prices are on a total-return basis (:func:`backtest.returns.total_return_prices`),
so a short pays the dividends it owes.

Execution rules
---------------
* Sizing: at entry, the position is set to ``direction * weight`` of the
  portfolio's value (vectorbt ``targetpercent``, cash shared across tickers):
  ``shares = weight * value / quoted price``, where ``value`` is the portfolio
  value at that bar before any of its orders. At exit it is set to 0.
* Costs: ``slippage`` moves the fill price against us (a sell fills at
  ``quote * (1 - slippage)``, a buy at ``quote * (1 + slippage)``); ``fees`` is a
  fraction of the filled notional ``shares * fill price``; ``fixed_fees`` is
  added per fill.
* Overlaps: a new intent on a ticker already held in the same direction
  extends the holding to the later exit (no second order); an intent in the
  opposite direction while a position is open is dropped and reported.
* A ticker with no open price (adjusted-close-only data) cannot fill at the
  open; such an entry or exit moves to that session's close, and is reported.

All vectorbt settings that change numbers are passed explicitly here (see
:data:`VBT_SETTINGS`), never taken from vectorbt's global defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.prices import PricePanel
from events.errors import InputError
from events.timing import exchange_calendar

VBT_SETTINGS = {
    "size_type": "targetpercent",
    "direction": "both",
    "cash_sharing": True,
    "group_by": True,
    "call_seq": "default",  # column order: deterministic
    "update_value": False,  # all orders of one bar size off the same portfolio value
    "ffill_val_price": True,
}


@dataclass(frozen=True)
class Costs:
    """Trading costs applied to every fill."""

    fees: float = 0.0005  # 5 bp of notional per fill
    fixed_fees: float = 0.0  # currency per fill
    slippage: float = 0.0005  # 5 bp of price, against us

    def __post_init__(self):
        for name in ("fees", "fixed_fees", "slippage"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise InputError(f"must be a non-negative number, got {value!r}", field=name)


@dataclass
class SimulationResult:
    """Equity, fills and trades of one simulation.

    equity : portfolio value at each session's close (index: session date)
    bars : portfolio value at every bar (open and close; index: UTC time)
    trades : event_id, ticker, direction, entry_time, entry_price, exit_time,
        exit_price, size, fees, pnl, return
    notes : what the execution rules changed (overlaps dropped, fills moved)
    """

    equity: pd.Series
    bars: pd.Series
    trades: pd.DataFrame
    init_cash: float
    costs: Costs
    notes: list[str] = field(default_factory=list)


def _resolve_overlaps(intents: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Apply the overlap rule per ticker (see module docstring)."""
    kept = []
    for ticker, group in intents.sort_values(["entry_key", "event_id"]).groupby("ticker",
                                                                                sort=True):
        current = None
        for row in group.to_dict("records"):
            if current is not None and row["entry_key"] <= current["exit_key"]:
                if row["direction"] == current["direction"]:
                    if row["exit_key"] > current["exit_key"]:
                        current.update(exit_key=row["exit_key"], exit_bar=row["exit_bar"])
                    current["event_id"] += "+" + row["event_id"]
                else:
                    notes.append(f"{row['event_id']} {ticker}: dropped, opposite position "
                                 f"from {current['event_id']} still open")
                continue
            if current is not None:
                kept.append(current)
            current = dict(row)
        if current is not None:
            kept.append(current)
    return pd.DataFrame(kept)


def bar_timeline(sessions: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Two bars per session: the exchange open and close times (UTC)."""
    cal = exchange_calendar()
    opens = cal.opens.reindex(sessions).to_numpy()
    closes = cal.closes.reindex(sessions).to_numpy()
    return pd.DatetimeIndex(np.column_stack([opens, closes]).ravel(), tz="UTC", name="bar")


def simulate(intents: pd.DataFrame, panel: PricePanel, costs: Costs | None = None,
             init_cash: float = 100_000.0) -> SimulationResult:
    """Fill ``intents`` (see :func:`strategies.base.intents_frame`) on ``panel``'s prices."""
    import vectorbt as vbt  # heavy: imported only when simulating

    costs = costs or Costs()
    notes: list[str] = []
    if intents.empty:
        sessions = panel.sessions[-1:]
        equity = pd.Series(init_cash, index=sessions, name="equity")
        return SimulationResult(equity, equity.copy(), _empty_trades(), init_cash, costs,
                                ["no trades: the strategy produced no intents"])
    missing = sorted(set(intents["ticker"]) - set(panel.tickers))
    if missing:
        raise InputError(f"no prices for traded tickers: {', '.join(missing)}", field="tickers")

    tickers = sorted(intents["ticker"].unique())
    first = intents["entry_session"].min()
    last = intents["exit_session"].max()
    sessions = panel.sessions[(panel.sessions >= first) & (panel.sessions <= last)]
    adj_open, adj_close = (frame.loc[sessions, tickers] for frame in panel.tr_prices)

    intents = intents.copy()
    for side in ("entry", "exit"):
        at, sess = intents[f"{side}_at"], intents[f"{side}_session"]
        no_open = [(at.iat[i] == "open") and not np.isfinite(adj_open.at[sess.iat[i], t])
                   for i, t in enumerate(intents["ticker"])]
        for i in np.flatnonzero(no_open):
            notes.append(f"{intents['event_id'].iat[i]} {intents['ticker'].iat[i]}: no open "
                         f"price on {sess.iat[i].date()}, {side} moved to the close")
        intents.loc[no_open, f"{side}_at"] = "close"
        intents[f"{side}_bar"] = (sessions.get_indexer(sess) * 2
                                  + (intents[f"{side}_at"] == "close").astype(int))
        intents[f"{side}_key"] = intents[f"{side}_bar"]
    intents = _resolve_overlaps(intents, notes)

    # Interleave open/close prices; a missing open is valued at the previous close.
    price = np.empty((2 * len(sessions), len(tickers)))
    price[1::2] = adj_close.to_numpy()
    prev_close = adj_close.shift(1).to_numpy()
    price[0::2] = np.where(np.isfinite(adj_open.to_numpy()), adj_open.to_numpy(), prev_close)
    bars = bar_timeline(sessions)
    price = pd.DataFrame(price, index=bars, columns=tickers)
    size = np.full(price.shape, np.nan)
    col = {t: j for j, t in enumerate(tickers)}
    for row in intents.itertuples():
        size[row.entry_bar, col[row.ticker]] = row.direction * row.weight
        size[row.exit_bar, col[row.ticker]] = 0.0

    pf = vbt.Portfolio.from_orders(
        close=price, size=pd.DataFrame(size, index=bars, columns=tickers),
        init_cash=init_cash, fees=costs.fees, fixed_fees=costs.fixed_fees,
        slippage=costs.slippage, **VBT_SETTINGS)
    value = pf.value()
    equity = pd.Series(value.to_numpy()[1::2], index=sessions, name="equity")
    trades = _trades(pf, intents, bars, tickers)
    return SimulationResult(equity, value.rename("value"), trades, init_cash, costs, notes)


def _empty_trades() -> pd.DataFrame:
    return pd.DataFrame(columns=["event_id", "ticker", "direction", "entry_time", "entry_price",
                                 "exit_time", "exit_price", "size", "fees", "pnl", "return"])


def _trades(pf, intents: pd.DataFrame, bars: pd.DatetimeIndex, tickers: list[str]
            ) -> pd.DataFrame:
    rec = pf.trades.records
    by_entry = {(tickers[c], e): i for i, (c, e) in
                enumerate(zip(rec["col"], rec["entry_idx"]))}
    rows = []
    for row in intents.sort_values(["entry_bar", "ticker"]).itertuples():
        i = by_entry.get((row.ticker, row.entry_bar))
        if i is None:
            continue
        rows.append({
            "event_id": row.event_id, "ticker": row.ticker,
            "direction": "long" if row.direction > 0 else "short",
            "entry_time": bars[rec["entry_idx"][i]], "entry_price": rec["entry_price"][i],
            "exit_time": bars[rec["exit_idx"][i]], "exit_price": rec["exit_price"][i],
            "size": rec["size"][i], "fees": rec["entry_fees"][i] + rec["exit_fees"][i],
            "pnl": rec["pnl"][i], "return": rec["return"][i],
        })
    return pd.DataFrame(rows, columns=_empty_trades().columns)
