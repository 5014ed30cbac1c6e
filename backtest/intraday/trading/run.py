"""Simulate intraday orders on vectorbt's order kernel, and measure them.

Every position opens and closes inside one session (:mod:`backtest.intraday.trading.orders`),
so the portfolio is flat, all cash, at every session's end. Each traded session is one
vectorbt simulation (:func:`backtest.sim.vbt.fill_block`, the kernel behind
``Portfolio.from_orders`` with the project's pinned settings) that starts from the
previous one's cash: the same numbers as one simulation over every bar, in memory
bounded by a session.

Inside a session the timeline has two rows per bar, its open and its close (as the
daily simulator has two per session), so an order fills at the price it names: the
entry at its bar's open, a horizon exit at a bar's open, a close exit at the last bar's
close. Each order is its own column (a second event on a held ticker is a second
position, never merged), and cash is shared across all columns. An order's weight is a
target fraction of the portfolio's value at its bar (vectorbt ``targetpercent``:
``shares = weight x value / quote``, every order of a bar sized off the same value), or
a currency amount with ``sizing=notional``. Slippage moves each fill against us
(``quote x (1 +- slippage)``), fees are a fraction of the filled notional plus a fixed
amount per fill. No position is held overnight, so no borrow is charged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from backtest.intraday.bars import IntradayBars
from backtest.inference import event_inference
from backtest.sim.costs import DEFAULT_INIT_CASH, Costs, check_init_cash
from backtest.intraday.trading.orders import IntradayExecution, check_strategy, intraday_orders
from backtest.sim.metrics import event_returns, max_drawdown
from backtest.sim.results import trade_table
from backtest.sim.vbt import ffill, ffill_bfill, fill_block
from events.errors import ConfigError
from strategies.base import StrategyContext

DAILY_ONLY = ("hold", "fill", "stop", "overlap")  # news parameters an intraday run does not use
TRADE_COLUMNS = ["event_id", "ticker", "side", "leg", "entry_time", "entry_price", "exit_time",
                 "exit_price", "exit_reason", "size", "fees", "pnl", "return"]


@dataclass
class IntradayRun:
    """A news strategy traded on minute bars: orders, fills, equity and metrics.

    orders : :func:`~backtest.intraday.trading.orders.intraday_orders` (quotes, before costs)
    skipped : event_id, ticker, reason of every pick or event not traded
    trades : one per order filled: event_id, ticker, side, leg, entry_time, entry_price
        and exit_price (fills, slippage included), exit_time, exit_reason, size (shares),
        fees, pnl (net of fees and slippage), return (pnl over the entry notional)
    equity : portfolio value after each bar's close, over the traded sessions (index:
        the bar's open time, as bars are labelled)
    event_table : per event: event_id, news_day, pnl, value (before its first entry), ret
    metrics : see :func:`intraday_metrics`
    """

    strategy: str
    params: dict
    execution: IntradayExecution
    costs: Costs
    init_cash: float
    orders: pd.DataFrame
    skipped: pd.DataFrame
    trades: pd.DataFrame
    equity: pd.Series
    event_table: pd.DataFrame
    metrics: dict
    notes: list[str] = field(default_factory=list)
    params_text: str = ""

    def summary(self) -> str:
        """The result in words: settings, P&L, and how far the per-trade and per-event
        means can be trusted (trades on one headline are one piece of evidence)."""
        m, c = self.metrics, self.costs
        lines = [f"Intraday run: {self.strategy}"
                 + (f" ({self.params_text})" if self.params_text else "")
                 + f", {self.execution.text()}, fees {c.fees * 1e4:g} bp + {c.fixed_fees:g} "
                   f"per fill, slippage {c.slippage * 1e4:g} bp"]
        if not m["trades"]:
            lines.append("  no trades")
        else:
            lines.append(f"  {_n(m['trades'], 'trade')} on {_n(m['events_traded'], 'news event')} "
                         f"({_n(m['news_days'], 'news day')}): total return "
                         f"{m['total_return']:+.2%}, max drawdown {m['max_drawdown']:+.2%}, "
                         f"hit rate {m['hit_rate']:.0%}, fees {m['fees_paid']:,.2f}")
            lines.append(f"  per trade: mean {m['avg_trade_return']:+.3%} "
                         f"({_trust(m, 'trade')}; t clustered by event: "
                         f"{_n(m['events_traded'], 'independent event')}, not "
                         f"{_n(m['trades'], 'trade')})")
            lines.append(f"  per event: mean {m['event_mean_return']:+.3%} "
                         f"({_trust(m, 'event')}; t clustered by news day: "
                         f"{_n(m['news_days'], 'news day')})")
        if len(self.skipped):
            # reasons without their times and details, counted
            counts = self.skipped["reason"].str.replace(r" \(.*|\d{4}-.*", "",
                                                        regex=True).str.strip()
            lines.append(f"  skipped {len(self.skipped)}: " + "; ".join(
                f"{n} {why}" for why, n in counts.value_counts().sort_index().items()))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"IntradayRun({self.summary().splitlines()[1].strip()})"


def _n(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _trust(m: dict, kind: str) -> str:
    t, p, lo, hi = (m[f"{kind}_{k}"] for k in ("t", "p", "ci_lo", "ci_hi"))
    text = "t n/a" if not np.isfinite(t) else f"t {t:+.2f}, p {p:.3f}"
    if np.isfinite(lo):
        text += f", 95% interval {lo:+.3%} to {hi:+.3%}"
    else:
        text += ", too few clusters for an interval"
    return text


def run_intraday(strategy, ctx: StrategyContext, bars: IntradayBars,
                 execution: IntradayExecution | None = None, costs: Costs | None = None,
                 init_cash: float = DEFAULT_INIT_CASH) -> IntradayRun:
    """Trade a news strategy on minute bars after each news: orders
    (:func:`~backtest.intraday.trading.orders.intraday_orders`), fills on vectorbt
    (:func:`simulate_orders`), metrics (:func:`intraday_metrics`).

    ``ctx`` is the daily context (``backtest.sim.runs.strategy_context(calendar,
    panel)``); ``execution`` the latency and exit (default 60 s, the close); ``costs``
    fees and slippage (borrow is never charged: nothing is held overnight).

    >>> run = run_intraday(get_strategy("short_partners_on_bad_news"), ctx, bars,
    ...                    IntradayExecution.parse(latency="60s", exit="30m"))  # doctest: +SKIP
    >>> print(run.summary())                                                   # doctest: +SKIP
    """
    strategy = check_strategy(strategy)
    if strategy.params.stop > 0:
        raise ConfigError("stop is a daily rule (a close against the entry) and is not "
                          "applied intraday; use exit= a horizon", field="stop")
    execution = execution or IntradayExecution()
    costs = costs or Costs()
    init_cash = check_init_cash(init_cash)
    orders, skipped = intraday_orders(strategy, ctx, bars, execution)
    trades, equity, notes = simulate_orders(orders, bars, costs, init_cash,
                                            strategy.execution()["notional"])
    if costs.borrow_rate > 0 or costs.borrow_overrides:
        notes.append("borrow is not charged: no position is held overnight")
    table = trade_event_returns(trades, equity, bars, init_cash)
    # hold, fill, stop and overlap are daily rules: left out of the run's description
    words = [w for w in strategy.params_text().split() if w.split("=")[0] not in DAILY_ONLY]
    return IntradayRun(strategy.name, asdict(strategy.params), execution, costs, init_cash,
                       orders, skipped, trades, equity, table,
                       intraday_metrics(trades, equity, table, init_cash), notes, " ".join(words))


def order_rows(orders: pd.DataFrame, index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Timeline rows of each order's entry and exit: ``2 * bar`` is a bar's open,
    ``2 * bar + 1`` its close. A close exit's time is its bar's close, so its bar is the
    last one opening before it."""
    entry = 2 * index.get_indexer(orders["entry_time"])
    at_open = (orders["exit_reason"] == "horizon").to_numpy()
    exit_time = pd.DatetimeIndex(orders["exit_time"])
    exit_ = np.where(at_open, 2 * index.get_indexer(exit_time),
                     2 * (index.searchsorted(exit_time, side="left") - 1) + 1)
    return entry, exit_


def simulate_orders(orders: pd.DataFrame, bars: IntradayBars, costs: Costs, init_cash: float,
                    notional: bool = False) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Fill ``orders`` session by session on vectorbt: (trades, equity by bar, notes).

    Each session's columns are its orders (in table order), its rows the open and close
    of each of its bars; the price of a column is its ticker's. A column's target is
    ``side x weight`` from its entry row and 0 from its exit row.
    """
    notes: list[str] = []
    index = bars.index
    if orders.empty:
        return (pd.DataFrame(columns=TRADE_COLUMNS),
                pd.Series([init_cash], index=index[:1], name="equity", dtype="float64"), notes)
    session = bars.session.to_numpy()
    column = bars.close.columns.get_indexer(orders["ticker"])
    opens, closes = bars.open.to_numpy(), bars.close.to_numpy()
    entry, exit_ = order_rows(orders, index)
    order_session = session[entry // 2]
    target = orders["side"].to_numpy() * orders["weight"].to_numpy(dtype="float64")
    cash, curves, parts = init_cash, [], []
    for day in np.unique(order_session):
        mine = np.flatnonzero(order_session == day)
        lo, hi = np.searchsorted(session, day, side="left"), np.searchsorted(session, day,
                                                                             side="right")
        cols = column[mine]
        price = np.empty((2 * (hi - lo), len(mine)))
        price[0::2], price[1::2] = opens[lo:hi][:, cols], closes[lo:hi][:, cols]
        n = len(mine)
        out = fill_block(price, ffill_bfill(price), ffill(price),
                         np.r_[entry[mine], exit_[mine]] - 2 * lo,
                         np.r_[np.arange(n), np.arange(n)], np.r_[target[mine], np.zeros(n)],
                         1, n, costs, cash, notional)
        value = out["value"][:, 0]
        held = np.flatnonzero(out["assets"][-1] != 0)
        for k in held:  # only when cash ran out at an exit; never expected with sells first
            notes.append(f"{orders['event_id'].iat[mine[k]]} {orders['ticker'].iat[mine[k]]}: "
                         f"still held at the session's close after its exit (not enough "
                         f"cash to close it), valued at that close without exit costs")
        curves.append(pd.Series(value, index=index[lo:hi]))
        table, _ = trade_table((out["trades"], np.zeros(len(out["trades"]))), 1, n)
        filled = mine[table["col"]]
        for i in sorted(set(mine) - set(filled.tolist())):
            notes.append(f"{orders['event_id'].iat[i]} {orders['ticker'].iat[i]}: not filled "
                         f"(no cash or a zero size)")
        o = orders.iloc[filled]
        parts.append(pd.DataFrame({
            "event_id": o["event_id"].to_numpy(), "ticker": o["ticker"].to_numpy(),
            "side": o["side"].to_numpy(), "leg": o["leg"].to_numpy(),
            "entry_time": o["entry_time"].to_numpy(), "entry_price": table["entry_price"],
            "exit_time": o["exit_time"].to_numpy(), "exit_price": table["exit_price"],
            "exit_reason": o["exit_reason"].to_numpy(), "size": table["size"],
            "fees": table["fees"], "pnl": table["pnl"], "return": table["return"]}))
        cash = float(value[-1])  # flat at the session's end: the value is all cash
    trades = pd.concat(parts, ignore_index=True)[TRADE_COLUMNS]
    for name in ("entry_time", "exit_time"):
        trades[name] = pd.DatetimeIndex(trades[name]).tz_convert("UTC")
    equity = pd.concat(curves).rename("equity").rename_axis("bar")
    return trades, equity, notes


def trade_event_returns(trades: pd.DataFrame, equity: pd.Series, bars: IntradayBars,
                        init_cash: float) -> pd.DataFrame:
    """Per event: its trades' P&L over the portfolio value at the bar close before its
    first entry (:func:`backtest.sim.metrics.event_returns`, Fama 1998, Sec. 4), with its
    news day (the session of that entry)."""
    if trades.empty:
        out = event_returns([], [], [], [], init_cash)
        out.insert(1, "news_day", pd.DatetimeIndex([]))
        return out
    rows = equity.index.get_indexer(trades["entry_time"])
    out = event_returns(trades["event_id"], trades["pnl"], rows, equity.to_numpy(), init_cash)
    first = trades.groupby("event_id", sort=False)["entry_time"].min()
    day = bars.session[bars.index.get_indexer(first.reindex(out["event_id"]))]
    out.insert(1, "news_day", day)
    return out


def intraday_metrics(trades: pd.DataFrame, equity: pd.Series, table: pd.DataFrame,
                     init_cash: float) -> dict:
    """total_return, final_equity, max_drawdown (over the bar equity, from the initial
    cash; Magdon-Ismail and Atiya 2004), trades, events_traded, news_days, hit_rate (share
    of trades with a positive P&L), fees_paid, and two means with their trust:

    * ``avg_trade_return`` with ``trade_t``, ``trade_p``, ``trade_ci_lo``/``hi``: the
      mean return per trade, its t from OLS on a constant with errors **clustered by
      event** (Cameron and Miller 2015; Student-t with G - 1 df for G events), since the
      trades of one headline move together and are one piece of evidence, and a
      percentile bootstrap interval resampling whole events (Efron and Tibshirani 1993,
      ch. 13; from 5 events);
    * ``event_mean_return`` with ``event_t``, ... : the mean return per event
      (:func:`trade_event_returns`), clustered by news day the same way.

    Both from :func:`backtest.inference.event_inference`.
    """
    nan = float("nan")
    if trades.empty:
        return {"total_return": 0.0, "final_equity": init_cash, "max_drawdown": 0.0,
                "trades": 0, "events_traded": 0, "news_days": 0, "hit_rate": nan,
                "fees_paid": 0.0, "avg_trade_return": nan, "trade_t": nan, "trade_p": nan,
                "trade_ci_lo": nan, "trade_ci_hi": nan, "event_mean_return": nan,
                "event_t": nan, "event_p": nan, "event_ci_lo": nan, "event_ci_hi": nan}
    per_trade = event_inference(trades["return"].to_numpy(dtype="float64"),
                                trades["event_id"].to_numpy())
    per_event = event_inference(table["ret"].to_numpy(), table["news_day"].to_numpy())
    final = float(equity.iloc[-1])
    return {"total_return": final / init_cash - 1.0, "final_equity": final,
            "max_drawdown": max_drawdown(np.r_[init_cash, equity.to_numpy()]),
            "trades": int(len(trades)), "events_traded": per_trade.n_days,
            "news_days": per_event.n_days,
            "hit_rate": float((trades["pnl"] > 0).mean()),
            "fees_paid": float(trades["fees"].sum()),
            "avg_trade_return": per_trade.mean, "trade_t": per_trade.t, "trade_p": per_trade.p,
            "trade_ci_lo": per_trade.ci_lo, "trade_ci_hi": per_trade.ci_hi,
            "event_mean_return": per_event.mean, "event_t": per_event.t,
            "event_p": per_event.p, "event_ci_lo": per_event.ci_lo,
            "event_ci_hi": per_event.ci_hi}
