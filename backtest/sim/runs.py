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
from backtest.sim.metrics import METRICS, drawdown, summarize
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

    def summary(self) -> pd.DataFrame:
        """The metrics as a table (metric, value), in the order of ``metrics.json``'s keys."""
        order = [m for m in METRICS if m in self.metrics]
        order += [m for m in self.metrics if m not in order]
        return pd.DataFrame({"metric": order, "value": [self.metrics[m] for m in order]})

    def write(self, folder: str | Path) -> None:
        """metrics.json, trades.csv, per_event.csv, intents.csv and equity.csv in ``folder``.

        equity.csv: date, equity, drawdown and, with a benchmark, its buy-and-hold
        value from the same initial cash (total return).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        sim = self.simulation
        write_csv(sim.trades, folder / "trades.csv")
        write_csv(per_event(sim.trades), folder / "per_event.csv")
        write_csv(self.intents, folder / "intents.csv")
        frame = pd.DataFrame({"equity": sim.equity, "drawdown": drawdown(sim.equity)})
        if self.benchmark_returns is not None:
            b = self.benchmark_returns.reindex(sim.equity.index).fillna(0.0)
            frame["benchmark"] = sim.init_cash * (1.0 + b).cumprod()
        write_csv(frame.rename_axis("date"), folder / "equity.csv", index=True)
        write_json(folder / "metrics.json",
                   {"strategy": self.strategy, "params": self.params, "metrics": self.metrics,
                    "data_hash": self.data_hash})

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
                 benchmark: str = DEFAULT_BENCHMARK) -> StrategyRun:
    """Ask the strategy for intents, simulate them and measure them against ``benchmark``."""
    intents = strategy.intents(strategy_context(calendar, panel))
    sim = simulate(intents, panel, costs or Costs(), init_cash, **strategy.execution())
    bench = benchmark_returns(panel, benchmark)
    return StrategyRun(strategy.name, asdict(strategy.params), intents, sim,
                       summarize(sim, bench), panel.data_hash, benchmark, bench)


def per_event(trades: pd.DataFrame) -> pd.DataFrame:
    """P&L per (event, ticker): entry, exit, return, pnl and costs (fees + borrow)."""
    cols = ["event_id", "ticker", "direction", "entry_time", "exit_time", "return", "pnl",
            "fees", "borrow"]
    out = trades[cols].copy()
    out["costs"] = out["fees"] + out["borrow"]
    return out
