"""One strategy run: ask a strategy for intents, simulate them, measure the result.

>>> import backtest
>>> run = backtest.run("openai", "short_partners_on_bad_news", hold=3)
>>> run.metrics["total_return"], run.simulation.trades          # doctest: +SKIP
>>> run.summary()                                                # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from backtest.data.panel import PricePanel
from backtest.data.store import DEFAULT_MARKET
from backtest.io import write_csv, write_json
from backtest.sim.costs import DEFAULT_INIT_CASH, Costs
from backtest.inference import calendar_time_alpha, event_inference
from backtest.sim.execution import bar_timeline
from backtest.sim.metrics import METRIC, METRIC_INFO, daily_returns, drawdown, event_returns, summarize
from backtest.sim.results import SimulationResult
from backtest.sim.simulate import simulate
from events.model import Calendar
from events.timing import event_timing
from strategies import MarketData, Strategy, StrategyContext

DEFAULT_BENCHMARK = DEFAULT_MARKET


@dataclass
class StrategyRun:
    """A strategy's intents, its simulation and its metrics.

    ``metrics`` are :func:`backtest.sim.metrics.summarize` of the simulation
    against ``benchmark``; ``summary()`` lists them, ``write(folder)`` saves
    metrics.json, trades.csv, per_event.csv, intents.csv and equity.csv.
    """

    strategy: str
    params: dict
    intents: pd.DataFrame
    simulation: SimulationResult
    metrics: dict = field(default_factory=dict)
    data_hash: str = ""
    benchmark: str = DEFAULT_BENCHMARK
    benchmark_returns: pd.Series | None = field(default=None, repr=False)
    data_range: str = ""  # first and last session of the prices the run read
    start: pd.Timestamp | None = None  # the session before the first one simulated
    params_text: str = ""  # the parameters that matter, as key=value words
    event_table: pd.DataFrame | None = field(default=None, repr=False)  # per-event returns

    def summary(self) -> pd.DataFrame:
        """The metrics as a table, most important first: metric, label, value, unit."""
        order = [m.name for m in METRIC_INFO if m.name in self.metrics]
        order += [m for m in self.metrics if m not in order]
        return pd.DataFrame({"metric": order,
                             "label": [METRIC[m].label if m in METRIC else m for m in order],
                             "value": [self.metrics[m] for m in order],
                             "unit": [METRIC[m].unit if m in METRIC else "" for m in order]})

    def write(self, folder: str | Path) -> None:
        """metrics.json, trades.csv, per_event.csv, event_returns.csv, intents.csv and
        equity.csv in ``folder``.

        equity.csv: date, equity, drawdown and, with a benchmark, its buy-and-hold
        value from the same initial cash (total return); its first row is the close
        before the first simulated session, where both are the initial cash.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        sim = self.simulation
        write_csv(sim.trades, folder / "trades.csv")
        write_csv(per_event(sim.trades), folder / "per_event.csv")
        if self.event_table is not None:
            write_csv(self.event_table, folder / "event_returns.csv")
        write_csv(self.intents, folder / "intents.csv")
        write_csv(self.equity_frame().rename_axis("date"), folder / "equity.csv", index=True)
        write_json(folder / "metrics.json",
                   {"strategy": self.strategy, "params": self.params, "metrics": self.metrics,
                    "data_hash": self.data_hash})

    def plot(self, kind: str = "equity"):
        """A matplotlib figure: ``"equity"`` (value against the benchmark's buy and hold,
        from 0%) or ``"drawdown"``."""
        from reports import charts

        frame = self.equity_frame()
        if kind == "drawdown":
            return charts.drawdown_chart(frame["drawdown"])
        if kind != "equity":
            raise ValueError(f"kind must be equity or drawdown, got {kind!r}")
        return charts.equity_chart(frame, self.simulation.init_cash,
                                   f"Equity: {self.strategy}", self.benchmark)

    def equity_frame(self) -> pd.DataFrame:
        """Per session: equity, drawdown and, with a benchmark, its buy-and-hold value from
        the same initial cash (total return); the first row is the close before the first
        simulated session, where both are the initial cash (so both start at 0%)."""
        sim = self.simulation
        frame = pd.DataFrame({"equity": sim.equity, "drawdown": drawdown(sim.equity)})
        if self.benchmark_returns is not None:
            b = self.benchmark_returns.reindex(sim.equity.index).fillna(0.0)
            frame["benchmark"] = sim.init_cash * (1.0 + b).cumprod()
        if self.start is not None and len(sim.trades):
            first = pd.DataFrame({c: [sim.init_cash if c != "drawdown" else 0.0]
                                  for c in frame.columns}, index=[self.start])
            frame = pd.concat([first, frame])
        return frame

    def __repr__(self) -> str:
        m = self.metrics
        total, sharpe = m.get("total_return"), m.get("sharpe")
        text = (f"{total:+.2%}" if isinstance(total, float) else "n/a")
        return (f"StrategyRun({self.strategy}: {m.get('trades', 0)} trades, total return "
                f"{text}, Sharpe {sharpe if sharpe is None else round(sharpe, 3)}; "
                f"benchmark {self.benchmark})")

    def _repr_html_(self) -> str:
        import html

        return (f"<p><b>{html.escape(repr(self))}</b></p>"
                + self.summary().to_html(index=False, escape=True))


def strategy_context(calendar: Calendar, panel: PricePanel) -> StrategyContext:
    """The context a strategy sees: calendar, timings and total-return prices."""
    return StrategyContext(calendar, {e.id: event_timing(e) for e in calendar},
                           MarketData.from_frames(*panel.tr_prices))


def benchmark_returns(panel: PricePanel, ticker: str = DEFAULT_BENCHMARK) -> pd.Series | None:
    """The benchmark's daily total returns, or None when it is not in the panel."""
    return panel.returns[ticker] if ticker in panel.tickers else None


def run_strategy(calendar: Calendar, panel: PricePanel, strategy: Strategy,
                 costs: Costs | None = None, init_cash: float = DEFAULT_INIT_CASH,
                 benchmark: str = DEFAULT_BENCHMARK, factors: pd.DataFrame | None = None
                 ) -> StrategyRun:
    """Ask the strategy for intents, simulate them and measure them against ``benchmark``.

    Besides :func:`~backtest.sim.metrics.summarize`, the metrics say how much to trust
    the result (:func:`inference_metrics`); ``factors`` (daily returns by session, one
    column each) join the benchmark in the calendar-time regression.
    """
    ctx = strategy_context(calendar, panel)
    intents = strategy.intents(ctx)
    sim = simulate(intents, panel, costs or Costs(), init_cash, **strategy.execution())
    bench = benchmark_returns(panel, benchmark)
    at = panel.sessions.searchsorted(sim.equity.index[0]) if len(sim.equity) else 0
    start = panel.sessions[at - 1] if at > 0 else None
    table = trade_event_returns(sim, {i: t.day0 for i, t in ctx.timings.items()})
    metrics = {**summarize(sim, bench), **inference_metrics(sim, table, bench, factors)}
    return StrategyRun(strategy.name, asdict(strategy.params), intents, sim, metrics,
                       panel.data_hash, benchmark, bench,
                       f"{panel.sessions[0].date()} to {panel.sessions[-1].date()}", start,
                       strategy.params_text(), table)


def trade_event_returns(sim: SimulationResult, day0: dict) -> pd.DataFrame:
    """The simulation's return per event (:func:`~backtest.sim.metrics.event_returns`) with
    each event's news day (``day0``: event id -> session)."""
    trades = sim.trades
    if len(trades) == 0:
        out = event_returns([], [], [], [], sim.init_cash)
    else:
        rows = bar_timeline(sim.equity.index).get_indexer(trades["entry_time"]) // 2
        out = event_returns(trades["event_id"].astype(str).str.split("+").str[0], trades["pnl"],
                            rows, sim.equity, sim.init_cash)
    out.insert(1, "day0", pd.DatetimeIndex([day0[i] for i in out["event_id"]]))
    return out


def inference_metrics(sim: SimulationResult, table: pd.DataFrame, bench: pd.Series | None,
                      factors: pd.DataFrame | None = None) -> dict:
    """Per-event inference (:func:`backtest.inference.event_inference`: mean, t clustered
    by news day, bootstrap interval over news days) and the calendar-time alpha
    (:func:`backtest.inference.calendar_time_alpha`, Newey-West) of one simulation."""
    out = event_inference(table["ret"].to_numpy(), table["day0"].to_numpy()).as_metrics()
    nan = float("nan")
    alpha = {"alpha_annual": nan, "alpha_t": nan, "alpha_p": nan}
    if bench is not None and len(sim.trades):
        r = daily_returns(sim.equity, sim.init_cash)
        x = bench.reindex(r.index).fillna(0.0)
        f = factors.reindex(r.index).to_numpy(dtype="float64") if factors is not None else None
        ct = calendar_time_alpha(r.to_numpy(), x.to_numpy(), f)
        alpha = {"alpha_annual": ct.alpha_annual, "alpha_t": ct.alpha_t, "alpha_p": ct.alpha_p}
    return {**out, **alpha}


def per_event(trades: pd.DataFrame) -> pd.DataFrame:
    """P&L per (event, ticker): entry, exit, return, pnl and costs (fees + borrow)."""
    cols = ["event_id", "ticker", "direction", "entry_time", "exit_time", "return", "pnl",
            "fees", "borrow"]
    out = trades[cols].copy()
    out["costs"] = out["fees"] + out["borrow"]
    return out
