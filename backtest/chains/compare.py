"""Compare chains: "the Google chain rose 300% while OpenAI's rose 75%", measured.

For each chain, over one period (:func:`backtest.chains.index.chain_index`), and for
the spread long the first chain and short the second:

* ``total_return`` compounds the daily index returns; ``benchmark_return`` is the
  benchmark's total return over the same sessions and ``excess_return`` the difference;
* ``alpha_annual``, ``alpha_t``, ``beta``: OLS of the daily returns on the benchmark's
  with Newey-West errors (:func:`backtest.inference.calendar_time_alpha`);
* ``vol_annual``: the daily standard deviation (ddof 1) times sqrt(252);
  ``max_drawdown``: the largest fall of the index from a previous high;
* the **spread** earns ``r_A,t - r_B,t`` each day (a dollar long A and a dollar short B,
  reset daily), compounded: ``prod(1 + r_A,t - r_B,t) - 1``;
* **on the news**: with a calendar, the sessions inside the event windows
  ``[day0 + a, day0 + b]`` of the events that link any member (or the chain) are the
  chain's *event days*; their compounded return, the other days' compounded return
  (the two multiply to the total), the share of the log move that came on event days,
  and Welch's t-test of mean daily return on event days against the other days
  (scipy ``ttest_ind(equal_var=False)``), which says whether the news days differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.chains.index import ChainIndex, chain_index
from backtest.data.panel import PricePanel
from backtest.inference import calendar_time_alpha
from events.errors import ConfigError, PriceDataError
from events.model import Calendar, Chain
from events.timing import event_timing

TRADING_DAYS = 252
TABLE_COLUMNS = ["chain", "start", "end", "members", "total_return", "benchmark_return",
                 "excess_return", "alpha_annual", "alpha_t", "beta", "vol_annual",
                 "max_drawdown", "sessions", "news_events", "event_days", "event_return",
                 "other_return", "share_on_news", "event_vs_other_p"]


@dataclass
class ChainComparison:
    """The comparison of two (or more) chains; ``table`` is ``chains.csv``.

    ``members`` (``chain_members.csv``): each member's weight at the start, sessions
    held, return while held and contribution to its chain's return. ``lines``
    (``chain_index.csv``): the index lines, 100 at the start, for each chain, the
    spread and the benchmark.
    """

    table: pd.DataFrame
    members: pd.DataFrame
    lines: pd.DataFrame
    indices: dict[str, ChainIndex]
    benchmark: str
    window: tuple[int, int] | None = None
    calendar: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """The table, percentages as text: what a reader looks at first."""
        out = self.table[["chain", "members", "total_return", "benchmark_return",
                          "alpha_annual", "alpha_t", "beta", "max_drawdown"]].copy()
        for col in ("total_return", "benchmark_return", "alpha_annual", "max_drawdown"):
            out[col] = out[col].map(lambda v: f"{v:+.1%}" if np.isfinite(v) else "n/a")
        for col in ("alpha_t", "beta"):
            out[col] = out[col].map(lambda v: f"{v:+.2f}" if np.isfinite(v) else "n/a")
        return out.set_index("chain")

    def __repr__(self) -> str:
        return f"ChainComparison({self.benchmark})\n{self.summary().to_string()}"


def compare_chains(chains: list[Chain], panel: PricePanel, benchmark: str = "SPY",
                   start=None, end=None, calendar: Calendar | None = None,
                   window: tuple[int, int] = (0, 1)) -> ChainComparison:
    """Index each chain over the sessions from ``start`` to ``end`` and compare them
    (see the module docstring); the spread row is long the first, short the second."""
    if len(chains) < 1:
        raise ConfigError("name at least one chain", field="chains")
    if len({c.name for c in chains}) != len(chains):
        raise ConfigError("a chain is named twice", field="chains")
    if benchmark not in panel.close.columns:
        raise PriceDataError(f"benchmark {benchmark} is not in the price data",
                             field="benchmark")
    indices = {c.name: chain_index(c, panel, start, end) for c in chains}
    sessions = next(iter(indices.values())).returns.index
    bench_r = panel.returns[benchmark].reindex(sessions)
    bench_r.iloc[0] = np.nan  # the base close: no return yet
    rows, members = [], []
    for chain in chains:
        idx = indices[chain.name]
        row = {"chain": chain.name, "members": " ".join(idx.members.loc[
            idx.members["sessions_held"] > 0, "ticker"])}
        row.update(_line_stats(idx.returns, bench_r))
        row.update(_news_split(idx.returns, chain, calendar, window))
        rows.append(row)
        members.append(idx.members)
    if len(chains) >= 2:
        a, b = chains[0].name, chains[1].name
        spread = indices[a].returns - indices[b].returns
        row = {"chain": f"{a} - {b}", "members": f"long {a}, short {b}"}
        row.update(_line_stats(spread, bench_r))
        # a dollar-neutral position is not measured against buying the benchmark
        row.update(benchmark_return=np.nan, excess_return=np.nan)
        rows.append(row)
    table = pd.DataFrame(rows)
    table.insert(1, "start", sessions[0].strftime("%Y-%m-%d"))
    table.insert(2, "end", sessions[-1].strftime("%Y-%m-%d"))
    table = table.reindex(columns=TABLE_COLUMNS)
    lines = pd.DataFrame({name: idx.level for name, idx in indices.items()})
    if len(chains) >= 2:
        lines[f"{chains[0].name} - {chains[1].name}"] = _level(spread)
    lines[benchmark] = _level(bench_r)
    lines.index.name = "date"
    notes = []
    if len(chains) >= 2:
        shared = sorted(set(chains[0].tickers) & set(chains[1].tickers))
        if shared:
            notes.append(f"{', '.join(shared)} {'is' if len(shared) == 1 else 'are'} in both "
                         f"{chains[0].name} and {chains[1].name}: the spread nets "
                         f"{'its' if len(shared) == 1 else 'their'} moves partly out")
    for row in rows:
        if calendar is not None and row.get("news_events", 99) < 5:
            notes.append(f"{row['chain']}: {row['news_events']} news events in the period, "
                         f"too few to tell whether its news days differ from the others")
    stale = pd.concat(members)
    for _, m in stale[stale["stale_days"] > 0].iterrows():
        notes.append(f"{m['ticker']} ({m['chain']}): {m['stale_days']} sessions without a "
                     f"close were held at the last close")
    return ChainComparison(table, pd.concat(members, ignore_index=True), lines, indices,
                           benchmark, window if calendar is not None else None,
                           calendar.name if calendar is not None else None, notes)


def _level(returns: pd.Series) -> pd.Series:
    """100 at the base close, compounding the daily returns after it."""
    return 100.0 * (1.0 + returns.fillna(0.0)).cumprod()


def max_drawdown(level: pd.Series) -> float:
    """The largest fall from a previous high, ``min_t (L_t / max_{s<=t} L_s - 1)``."""
    return float((level / level.cummax() - 1.0).min())


def _line_stats(returns: pd.Series, bench: pd.Series) -> dict:
    r = returns.iloc[1:].to_numpy(dtype=float)
    b = bench.iloc[1:].to_numpy(dtype=float)
    total = float(np.prod(1.0 + r) - 1.0)
    bench_total = float(np.prod(1.0 + b) - 1.0)
    fit = calendar_time_alpha(r, b)
    return {"total_return": total, "benchmark_return": bench_total,
            "excess_return": total - bench_total, "alpha_annual": fit.alpha_annual,
            "alpha_t": fit.alpha_t, "beta": fit.beta,
            "vol_annual": float(np.std(r, ddof=1) * np.sqrt(TRADING_DAYS)),
            "max_drawdown": max_drawdown(_level(returns)), "sessions": int(r.size)}


def event_days(chain: Chain, calendar: Calendar, sessions: pd.DatetimeIndex,
               window: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Which ``sessions`` lie in the event windows of the calendar's events that link a
    member of ``chain`` (or the chain itself), and how many such events there are."""
    members = set(chain.tickers)
    mask = np.zeros(len(sessions), dtype=bool)
    n_events = 0
    for event in calendar:
        if not ({lt.ticker for lt in event.tickers} & members
                or any(link.chain == chain.name for link in event.chains)):
            continue
        day0 = event_timing(event).day0
        pos = int(sessions.searchsorted(day0))
        lo, hi = pos + window[0], pos + window[1]
        if hi < 1 or lo >= len(sessions):
            continue  # outside the period
        n_events += 1
        mask[max(lo, 1):min(hi, len(sessions) - 1) + 1] = True
    return mask, n_events


def _news_split(returns: pd.Series, chain: Chain, calendar: Calendar | None,
                window: tuple[int, int]) -> dict:
    if calendar is None:
        return {}
    from scipy import stats

    mask, n_events = event_days(chain, calendar, returns.index, window)
    r = returns.to_numpy(dtype=float)
    on, off = r[mask], r[1:][~mask[1:]]
    total = np.prod(1.0 + r[1:]) - 1.0
    on_total, off_total = np.prod(1.0 + on) - 1.0, np.prod(1.0 + off) - 1.0
    share = (np.log1p(on_total) / np.log1p(total)
             if total > -1 and abs(np.log1p(total)) > 1e-12 else np.nan)
    p = (float(stats.ttest_ind(on, off, equal_var=False).pvalue)
         if on.size >= 2 and off.size >= 2 else np.nan)
    return {"news_events": n_events, "event_days": int(mask.sum()),
            "event_return": float(on_total), "other_return": float(off_total),
            "share_on_news": float(share), "event_vs_other_p": p}
