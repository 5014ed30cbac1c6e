"""The simulator as it was first written, on vectorbt's public ``Portfolio.from_orders``.

A slow, obvious oracle for :func:`backtest.sim.simulate.run_grid`, which calls
vectorbt's order kernel on plain arrays, only on bars with orders, and in blocks
of combinations: per-intent Python loops for fill bars, stops and the overlap
rule, a dense target matrix over every bar, one ``Portfolio.from_orders`` call,
and ``pf.value()``, ``pf.assets()``, ``pf.orders`` and ``pf.trades`` read back.
Only the data classes and the bar timeline come from the code under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.sim.costs import Costs
from backtest.sim.execution import bar_timeline
from backtest.sim.results import TRADE_COLUMNS, SimulationResult

# The settings the first simulator passed (with sells before buys within a bar since
# 2026-12-02); everything else was vectorbt's default.
VBT_SETTINGS = {"direction": "both", "cash_sharing": True, "call_seq": "auto",
                "update_value": False, "ffill_val_price": True, "log": False}


def _bars(intents: pd.DataFrame, sessions: pd.DatetimeIndex, adj_open: pd.DataFrame,
          notes: list[str]) -> pd.DataFrame:
    """Entry and exit bar indices; fills at a missing open move to that session's close."""
    intents = intents.copy()
    for side in ("entry", "exit"):
        sess = intents[f"{side}_session"]
        pos = sessions.get_indexer(sess)
        if (pos < 0).any():
            bad = intents[pos < 0].iloc[0]
            raise ValueError(f"{bad['event_id']} {bad['ticker']}: {side} session "
                             f"{pd.Timestamp(bad[f'{side}_session']).date()} is not in the "
                             f"price data")
        at_open = intents[f"{side}_at"].eq("open").to_numpy()
        open_px = adj_open.to_numpy()[pos, adj_open.columns.get_indexer(intents["ticker"])]
        moved = at_open & ~np.isfinite(open_px)
        for i in np.flatnonzero(moved):
            notes.append(f"{intents['event_id'].iat[i]} {intents['ticker'].iat[i]}: no open "
                         f"price on {sess.iat[i].date()}, {side} moved to the close")
        intents[f"{side}_bar"] = pos * 2 + (~(at_open & ~moved)).astype(int)
    return intents


def _apply_stops(intents: pd.DataFrame, price: np.ndarray, col: dict, notes: list[str]
                 ) -> pd.DataFrame:
    """Move exits forward where a close went ``stop`` or more against the entry quote."""
    if intents["stop"].isna().all():
        return intents
    intents = intents.copy()
    for i, row in enumerate(intents.itertuples()):
        if not np.isfinite(row.stop) or row.stop <= 0:
            continue
        j = col[row.ticker]
        quote = price[row.entry_bar, j]
        first_close = row.entry_bar + 1 if row.entry_bar % 2 == 0 else row.entry_bar + 2
        closes = np.arange(first_close, row.exit_bar, 2)
        if closes.size == 0:
            continue
        move = row.direction * (price[closes, j] / quote - 1.0)
        hit = np.flatnonzero(move <= -row.stop)
        if hit.size and closes[hit[0]] + 1 < row.exit_bar:
            intents.iat[i, intents.columns.get_loc("exit_bar")] = closes[hit[0]] + 1
            notes.append(f"{row.event_id} {row.ticker}: stop {row.stop:.1%} hit at a close, "
                         f"exit at the next open")
    return intents


def _segments(intents: pd.DataFrame, rule: str, notes: list[str]) -> pd.DataFrame:
    """Apply the overlap rule per (combo, ticker): non-overlapping segments, or all for 'add'."""
    if rule == "add":
        return intents
    frame = intents.sort_values(["combo", "ticker", "entry_bar", "event_id"], kind="stable")
    combo, ticker = frame["combo"].to_numpy(), frame["ticker"].to_numpy()
    entry, exit_ = frame["entry_bar"].to_numpy(), frame["exit_bar"].to_numpy().copy()
    direction, ids = frame["direction"].to_numpy(), frame["event_id"].to_numpy().copy()
    keep = np.ones(len(frame), bool)
    cur = -1  # row of the segment being built
    for i in range(len(frame)):  # one pass over the sorted rows
        same = cur >= 0 and combo[i] == combo[cur] and ticker[i] == ticker[cur]
        if same and entry[i] <= exit_[cur]:
            keep[i] = False
            if rule == "extend" and direction[i] == direction[cur]:
                exit_[cur] = max(exit_[cur], exit_[i])
                ids[cur] = f"{ids[cur]}+{ids[i]}"
            elif combo[i] == combo[0]:  # report once, not for every sweep column
                why = "opposite position" if rule == "extend" else "position"
                notes.append(f"{ids[i]} {ticker[i]}: dropped, {why} from {ids[cur]} still open")
            continue
        cur = i
    out = frame.assign(exit_bar=exit_, event_id=ids)[keep]
    return out.reset_index(drop=True)


def simulate_grid(intents: pd.DataFrame, panel, costs: Costs | None = None,
                  init_cash: float = 100_000.0, overlap: str = "extend",
                  notional: bool = False) -> dict[int, SimulationResult]:
    """Simulate many portfolios at once, one per value of ``intents['combo']``.

    All combinations run in one vectorbt call: columns are (combo, ticker)
    pairs, grouped by combo with cash shared inside each group.
    """
    import vectorbt as vbt  # heavy: imported only when simulating

    costs = costs or Costs()
    notes: list[str] = []
    combos = sorted(intents["combo"].unique()) if len(intents) else [0]
    if intents.empty:
        equity = pd.Series(init_cash, index=panel.sessions[-1:], name="equity")
        return {c: SimulationResult(equity, pd.DataFrame(columns=TRADE_COLUMNS), init_cash,
                                    costs, ["no trades: the strategy produced no intents"],
                                    pd.Series(0.0, index=equity.index),
                                    pd.Series(0.0, index=equity.index)) for c in combos}
    missing = sorted(set(intents["ticker"]) - set(panel.tickers))
    if missing:
        raise ValueError(f"no prices for traded tickers: {', '.join(missing)}")

    tickers = sorted(intents["ticker"].unique())
    first, last = intents["entry_session"].min(), intents["exit_session"].max()
    sessions = panel.sessions[(panel.sessions >= first) & (panel.sessions <= last)]
    adj_open, adj_close = (frame.loc[sessions, tickers] for frame in panel.tr_prices)

    # Interleave open/close prices; a missing open is valued at the previous close.
    price = np.empty((2 * len(sessions), len(tickers)))
    price[1::2] = adj_close.to_numpy()
    price[0::2] = np.where(np.isfinite(adj_open.to_numpy()), adj_open.to_numpy(),
                           adj_close.shift(1).to_numpy())
    col = {t: j for j, t in enumerate(tickers)}
    intents = _bars(intents, sessions, adj_open, notes)
    intents = _apply_stops(intents, price, col, notes)
    segments = _segments(intents, overlap, notes)

    # Target per (combo, ticker) column: +w from the entry bar, -w from the exit bar.
    n_bars, n_cols = price.shape[0], len(combos) * len(tickers)
    combo_pos = {c: k for k, c in enumerate(combos)}
    seg_col = (segments["combo"].map(combo_pos).to_numpy() * len(tickers)
               + segments["ticker"].map(col).to_numpy())
    signed = (segments["direction"] * segments["weight"]).to_numpy(dtype="float64")
    delta = np.zeros((n_bars + 1, n_cols))
    np.add.at(delta, (segments["entry_bar"].to_numpy(), seg_col), signed)
    np.add.at(delta, (segments["exit_bar"].to_numpy(), seg_col), -signed)
    target = np.cumsum(delta, axis=0)[:n_bars]
    target[np.abs(target) < 1e-12] = 0.0
    changed = np.vstack([target[:1] != 0, np.diff(target, axis=0) != 0])
    size = np.where(changed, target, np.nan)

    bars = bar_timeline(sessions)
    columns = pd.MultiIndex.from_product([combos, tickers], names=["combo", "ticker"])
    price_all = pd.DataFrame(np.tile(price, (1, len(combos))), index=bars, columns=columns)
    pf = vbt.Portfolio.from_orders(
        close=price_all, size=pd.DataFrame(size, index=bars, columns=columns),
        size_type="targetvalue" if notional else "targetpercent",
        group_by=np.repeat(np.arange(len(combos)), len(tickers)), init_cash=init_cash,
        fees=costs.fees, fixed_fees=costs.fixed_fees, slippage=costs.slippage, **VBT_SETTINGS)

    value = pf.value().to_numpy().reshape(len(price_all), len(combos))  # (bars, combos)
    assets = pf.assets().to_numpy()  # (bars, cols), after each bar's orders
    borrow = _borrow(assets[1::2], price_all.to_numpy()[1::2], sessions, tickers, combos, costs)
    gross = np.where(assets != 0, np.abs(assets * np.nan_to_num(price_all.to_numpy())), 0.0)
    traded = _traded(pf, len(sessions), len(combos), len(tickers))
    results = {}
    seg_combo = segments["combo"].to_numpy()
    span = intents.groupby("combo").agg(first=("entry_session", "min"),
                                        last=("exit_session", "max"))
    for k, c in enumerate(combos):
        cols = slice(k * len(tickers), (k + 1) * len(tickers))
        paid = borrow[:, cols].sum(axis=1)
        # Each combination's own span, so its metrics equal a run of it alone.
        own = (sessions >= span.at[c, "first"]) & (sessions <= span.at[c, "last"])
        equity = pd.Series(value[1::2, k] - np.cumsum(paid), index=sessions, name="equity")
        exposure = pd.Series(gross[1::2, cols].sum(axis=1) / value[1::2, k], index=sessions)
        trades = _trades(pf, segments[seg_combo == c], bars, tickers, k, borrow[:, cols])
        results[c] = SimulationResult(equity[own], trades, init_cash, costs,
                                      notes if k == 0 else [], exposure[own],
                                      pd.Series(traded[:, k], index=sessions)[own])
    return results


def _borrow(assets_close: np.ndarray, close: np.ndarray, sessions: pd.DatetimeIndex,
            tickers: list[str], combos: list, costs: Costs) -> np.ndarray:
    """Borrow charged at each session's close on shorts held overnight (sessions x cols)."""
    days = np.diff(sessions.to_numpy()).astype("timedelta64[D]").astype(float)
    days = np.append(days, 0.0)  # nothing accrues after the last simulated session
    rates = np.tile([costs.borrow_of(t) for t in tickers], len(combos))
    short = np.where(assets_close < 0, -assets_close * np.nan_to_num(close), 0.0)
    return short * rates[None, :] * days[:, None] / 360.0


def _traded(pf, n_sessions: int, n_combos: int, n_tickers: int) -> np.ndarray:
    """Traded notional per session and combo."""
    out = np.zeros((n_sessions, n_combos))
    rec = pf.orders.values
    if len(rec):
        np.add.at(out, (rec["idx"] // 2, rec["col"] // n_tickers),
                  np.abs(rec["size"] * rec["price"]))
    return out


def _trades(pf, segments: pd.DataFrame, bars: pd.DatetimeIndex, tickers: list[str], k: int,
            borrow: np.ndarray) -> pd.DataFrame:
    """vectorbt's trades of combo ``k`` with the events they came from and their borrow cost."""
    rec = pf.trades.values  # structured array
    n = len(tickers)
    rec = rec[(rec["col"] >= k * n) & (rec["col"] < (k + 1) * n)]
    # A session's borrow on a ticker is shared by the trades open over that night, by size
    # (vectorbt splits a position into several trades on partial exits, overlap="add").
    held = np.zeros((len(rec), borrow.shape[0]))
    for i, r in enumerate(rec):
        held[i, int(r["entry_idx"]) // 2:int(r["exit_idx"]) // 2] = r["size"]
    share = np.zeros_like(held)
    for j in np.unique(rec["col"] - k * n):
        mine = (rec["col"] - k * n) == j
        total = held[mine].sum(axis=0)
        share[mine] = np.divide(held[mine], total, out=np.zeros_like(held[mine]),
                                where=total > 0)
    seg_t, seg_s, seg_e = (segments[c].to_numpy() for c in ("ticker", "entry_bar", "exit_bar"))
    seg_id = segments["event_id"].to_numpy()
    rows = []
    for i, r in enumerate(rec):
        j = r["col"] - k * n
        ticker, entry, exit_ = tickers[j], int(r["entry_idx"]), int(r["exit_idx"])
        hit = seg_id[(seg_t == ticker) & (seg_s <= entry) & (seg_e > entry)]
        ids = "+".join(dict.fromkeys("+".join(hit).split("+"))) if len(hit) else ""
        paid = float((share[i] * borrow[:, j]).sum())  # closes held overnight
        fees = r["entry_fees"] + r["exit_fees"]
        rows.append({
            "event_id": ids, "ticker": ticker,
            "direction": "long" if r["direction"] == 0 else "short",
            "entry_time": bars[entry], "entry_price": r["entry_price"],
            "exit_time": bars[exit_], "exit_price": r["exit_price"], "size": r["size"],
            "fees": fees, "borrow": paid, "pnl": r["pnl"] - paid,
            "return": (r["pnl"] - paid) / (r["size"] * r["entry_price"]),
        })
    trades = pd.DataFrame(rows, columns=TRADE_COLUMNS)
    return trades.sort_values(["entry_time", "ticker"], kind="stable").reset_index(drop=True)
