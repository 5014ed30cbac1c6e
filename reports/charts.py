"""Matplotlib charts of study and strategy results. Plots what it is given; computes nothing.

Every text comes from the user or the data (headlines, tickers, event ids), so every
chart draws text literally: ``$500B ... $100B`` is a headline, not math
(:func:`_literal`).
"""

from __future__ import annotations

import functools
import textwrap

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from events.model import UNIVERSE_ROLE  # noqa: E402

def _literal(chart):
    """Run a chart function with matplotlib's math parsing off, so that ``$``, ``_`` and
    ``^`` in user text are drawn as written (each Text keeps the setting it was made with)."""
    @functools.wraps(chart)
    def draw(*args, **kwargs):
        with plt.rc_context({"text.parse_math": False}):
            return chart(*args, **kwargs)
    return draw


# Bearish and bullish news in different hues (reds, blues), neutral in greys; within a
# label each role has its own line style and shade, so no two groups look alike.
LABEL_COLORS = {"bearish": ("#c0392b", "#e67e22", "#8e44ad", "#d35400", "#6e2c00"),
                "bullish": ("#1f77b4", "#17a2b8", "#2ca02c", "#5b4fcf", "#0b3d5c"),
                "neutral": ("#555555", "#888888", "#333333", "#aaaaaa", "#000000")}
# the calendar's roles, then the universe study's "universe" (every ticker the calendar
# does not link): a dark shade and a dash-dot-dot line of its own, never a partner's twin
ROLE_ORDER = ("partner", "supplier", "competitor", "subject", UNIVERSE_ROLE)
ROLE_STYLES = {"partner": "-", "supplier": "-.", "competitor": "--", "subject": ":",
               UNIVERSE_ROLE: (0, (6, 2, 1, 2, 1, 2))}
# Ten clearly different hues first; then the same hues dashed (never a light twin).
TICKER_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                 "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def _label_line_ends(ax, ends: list[list]) -> None:
    """Name each line at its last point, nudging labels apart so none overlap."""
    if not ends:
        return
    ends.sort(key=lambda e: e[0])
    lo, hi = ax.get_ylim()
    gap = (hi - lo) * 0.035
    placed = []
    for y, x, name, color in ends:
        y_text = max(y, placed[-1] + gap) if placed else y
        placed.append(y_text)
        ax.annotate(name, (x, y), xytext=(x + 0.25, y_text), textcoords="data", fontsize=8,
                    va="center", color=color)
    ax.set_xlim(right=max(e[1] for e in ends) + 1.2)


def _style_of(group: str) -> tuple[str, str | tuple]:
    """(colour, line style) of a group key such as "bearish partner"."""
    words = group.split()
    label = next((w for w in words if w in LABEL_COLORS), None)
    role = next((w for w in words if w in ROLE_STYLES), None)
    if label is None:
        return "#222222", ROLE_STYLES.get(role, "-")
    shade = ROLE_ORDER.index(role) if role in ROLE_ORDER else 0
    return LABEL_COLORS[label][shade], ROLE_STYLES.get(role, "-")


# What a study measured: (day, cumulative, average cumulative, words, shown in percent)
MEASURES = {
    "return": ("AR", "CAR", "CAAR", "abnormal return", True),
    "volume": ("AV", "CAV", "CAAV", "abnormal log volume", False),
    "volatility": ("AVOL", "CAVOL", "CAAVOL", "abnormal volatility (SAR^2 - 1)", False),
}


def _finish(ax, title: str, ylabel: str, percent: bool = True) -> None:
    ax.set_title(title, fontsize=12, loc="left")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))


@_literal
def caar_chart(caar: pd.DataFrame, min_n: int = 3, measure: str = "return") -> Figure:
    """CAAR path per group with its 95% band (of abnormal volume or volatility when that is
    what the study measured: ``measure``, labels and units follow it).

    Groups with fewer than ``min_n`` pairs are left out (their band is too wide to
    read), and the chart names them under its axis, so a reader comparing it with the
    table knows why a group is missing. A group that pools both expected directions
    (``signed``) shows its CARs in the expected direction, and says so in its label.
    The y axis follows the CAAR lines; a band wider than that is clipped.
    """
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    lows, highs = [0.0], [0.0]
    left_out = []
    for group, sub in caar.groupby("group", sort=False):
        n = int(sub["n"].max())
        if n < min_n:
            left_out.append(f"{group} (N={n})")
            continue
        signed = bool(sub["signed"].iloc[0]) if "signed" in sub else False
        color, style = _style_of(group)
        name = f"{group}, in expected direction (N={n})" if signed else f"{group} (N={n})"
        ax.plot(sub["rel_day"], sub["caar"], linestyle=style, color=color,
                lw=2.6 if signed else 2, label=name)
        ax.fill_between(sub["rel_day"], sub["caar_lo"], sub["caar_hi"], color=color, alpha=0.12)
        lows.append(sub["caar"].min())
        highs.append(sub["caar"].max())
    span = max(highs) - min(lows) or 0.01
    ax.set_ylim(min(lows) - 0.6 * span, max(highs) + 0.6 * span)
    ax.axvline(0, color="black", lw=1)
    ax.axhline(0, color="black", lw=0.6, alpha=0.6)
    ax.set_xlabel("sessions relative to day 0 (the first session the news could trade)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=9, frameon=False)
    else:
        ax.text(0.5, 0.5, f"no group has {min_n} or more pairs", transform=ax.transAxes,
                ha="center", color="#666")
    _, _, avg, words, percent = MEASURES[measure]
    _finish(ax, f"Cumulative average {words} by group (95% band)", avg, percent)
    if left_out:
        # under the x label, from the axes' left edge; constrained layout makes room
        ax.annotate(_left_out_note(left_out, min_n), xy=(0, 0),
                    xycoords=("axes fraction", ax.xaxis.label), xytext=(0, -4),
                    textcoords="offset points", va="top", ha="left", fontsize=8,
                    color="#555")
    return fig


def _left_out_note(groups: list[str], min_n: int, shown: int = 3) -> str:
    """"not drawn, under 3 pairs: a (N=2), b (N=1)", naming at most ``shown`` groups."""
    more = f", and {len(groups) - shown} more" if len(groups) > shown else ""
    return textwrap.fill(f"not drawn, under {min_n} pairs: " + ", ".join(groups[:shown]) + more,
                         width=150)


def _ticker_style(k: int) -> tuple[str, str]:
    return TICKER_COLORS[k % len(TICKER_COLORS)], ("-" if k < len(TICKER_COLORS) else "--")


@_literal
def car_lines_chart(ar: pd.DataFrame, event_id: str, headline: str = "", model: str = "market",
                    rebase: str = "day-1", news: str = "", measure: str = "return") -> Figure:
    """Per-ticker CAR paths of one event.

    ``rebase="day-1"`` (the default) cumulates from the close before day 0, so day 0
    shows that day's AR and earlier days the drift into the news (negative time);
    ``"start"`` cumulates from the first day of the event window. Day 0 is marked, with
    ``news`` (when the news came out) beside it.
    """
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    sub = ar[ar["event_id"] == event_id]
    ends = []
    for k, (ticker, rows) in enumerate(sub.groupby("ticker", sort=True)):
        rows = rows.sort_values("rel_day")
        path = rows["cum_ar"]
        if rebase == "day-1" and (rows["rel_day"] == -1).any():
            path = path - rows.loc[rows["rel_day"] == -1, "cum_ar"].iloc[0]
        role = rows["role"].iloc[0]
        color, style = _ticker_style(k)
        line, = ax.plot(rows["rel_day"], path, style, marker="o", ms=3, lw=1.6, color=color,
                        label=f"{ticker} ({role})")
        last = path.dropna().tail(1)
        if len(last):
            ends.append([last.iloc[0], rows.loc[last.index[0], "rel_day"], ticker,
                         line.get_color()])
    _label_line_ends(ax, ends)
    ax.axvline(0, color="black", lw=1.2)
    ax.annotate("day 0" + (f"\n{news}" if news else ""), (0, 1), xycoords=("data", "axes fraction"),
                xytext=(4, -4), textcoords="offset points", va="top", fontsize=8)
    if rebase == "day-1":
        ax.axvline(-1, color="#999", lw=0.8, ls=":")
    ax.axhline(0, color="black", lw=0.6, alpha=0.6)
    ax.set_xlabel("sessions relative to day 0")
    ax.legend(loc="lower left", fontsize=8, frameon=False, ncol=2)
    _, cum, _, _, percent = MEASURES[measure]
    title = f"{cum} per ticker: {event_id}"
    if headline:
        short = headline if len(headline) <= 90 else headline[:87] + "..."
        title += f"\n{short}"
    start = "the close before day 0" if rebase == "day-1" else "the window start"
    _finish(ax, title, f"{cum} from {start} ({model.replace('_', ' ')} model)", percent)
    return fig


@_literal
def equity_chart(equity: pd.DataFrame, init_cash: float, title: str,
                 benchmark: str = "benchmark") -> Figure:
    """Strategy value and the benchmark's buy-and-hold value, as % on initial cash; both
    start at 0% on the first row (the close before the first trade)."""
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    ax.plot(equity.index, equity["equity"] / init_cash - 1.0, color="#1f77b4", lw=1.8,
            label="strategy (net of costs)")
    if "benchmark" in equity:
        ax.plot(equity.index, equity["benchmark"] / init_cash - 1.0, color="#7f7f7f", lw=1.4,
                ls="--", label=f"{benchmark} buy and hold")
    ax.axhline(0, color="black", lw=0.6, alpha=0.6)
    ax.set_xlabel("session")
    ax.legend(loc="best", frameon=False)
    _finish(ax, title, "return on initial cash")
    fig.autofmt_xdate()
    return fig


@_literal
def drawdown_chart(drawdown: pd.Series) -> Figure:
    """Underwater curve: distance below the running peak of equity (area and line drawn
    through the same points)."""
    fig, ax = plt.subplots(figsize=(10, 3.2), layout="constrained")
    ax.fill_between(drawdown.index, drawdown, 0.0, color="#d62728", alpha=0.35, lw=0)
    ax.plot(drawdown.index, drawdown, color="#d62728", lw=1)
    ax.set_xlabel("session")
    _finish(ax, "Drawdown (underwater)", "below peak")
    fig.autofmt_xdate()
    return fig


@_literal
def per_event_chart(per_event: pd.DataFrame, currency: str = "$") -> Figure:
    """P&L of each (event, ticker) trade, net of fees and borrow, grouped by event."""
    rows = per_event.sort_values(["entry_time", "event_id", "ticker"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.28 * len(rows) + 1.2)), layout="constrained")
    colors = np.where(rows["pnl"] >= 0, "#2ca02c", "#d62728")
    labels = [f"{e} {t}" for e, t in zip(rows["event_id"], rows["ticker"])]
    ax.barh(range(len(rows)), rows["pnl"], color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel(f"P&L, net of fees and borrow ({currency})")
    ax.set_title("P&L per event and ticker", loc="left", fontsize=12)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


@_literal
def ar_heatmap(ar: pd.DataFrame, event_id: str, max_annotated: int = 400,
               measure: str = "return") -> Figure:
    """Abnormal return of each ticker (rows) on each day relative to day 0 (columns): red
    down, green up, white at 0; day 0 framed; values written in the cells of a small grid."""
    from matplotlib.colors import TwoSlopeNorm

    sub = ar[ar["event_id"] == event_id]
    grid = sub.pivot_table(index="ticker", columns="rel_day", values="ar", aggfunc="first",
                           dropna=False)
    values = grid.to_numpy(dtype=float)
    lim = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.01
    lim = lim or 0.01
    fig, ax = plt.subplots(figsize=(10, max(2.8, 0.42 * len(grid) + 1.5)), layout="constrained")
    im = ax.imshow(values, cmap="RdYlGn", norm=TwoSlopeNorm(0.0, -lim, lim), aspect="auto")
    cols = list(grid.columns)
    ax.set_xticks(range(len(cols)), [str(c) for c in cols], fontsize=8)
    ax.set_yticks(range(grid.shape[0]), list(grid.index), fontsize=9)
    if 0 in cols:
        j = cols.index(0)
        ax.add_patch(plt.Rectangle((j - 0.5, -0.5), 1, grid.shape[0], fill=False, lw=2,
                                   ec="black"))
    day, _, _, words, percent = MEASURES[measure]
    scale = 100 if percent else 1
    if values.size <= max_annotated:
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, f"{v * scale:+.1f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(v) > 0.6 * lim else "black")
    ax.set_xlabel("sessions relative to day 0 (framed)" + ("; cells in %" if percent else ""))
    ax.set_title(f"{words[0].upper() + words[1:]} by ticker and day: {event_id}", loc="left",
                 fontsize=12)
    bar = fig.colorbar(im, ax=ax, label=day)
    if percent:
        bar.formatter = PercentFormatter(1.0, decimals=0)
        bar.update_ticks()
    return fig


@_literal
def sweep_heatmap(table: pd.DataFrame, x: str, y: str, metric: str = "sharpe") -> Figure:
    """A metric over two swept parameters (mean over any other swept parameter); a cell
    whose combinations never traded says so."""
    grid = table.pivot_table(index=y, columns=x, values=metric, aggfunc="mean", dropna=False)
    trades = table.pivot_table(index=y, columns=x, values="trades", aggfunc="max",
                               dropna=False).reindex_like(grid)
    fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    values = grid.to_numpy(dtype=float)
    im = ax.imshow(values, cmap="RdYlGn", aspect="auto", origin="lower")
    ax.set_xticks(range(grid.shape[1]), [str(v) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(v) for v in grid.index])
    finite = values[np.isfinite(values)]
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):  # white text on the dark ends of the colour scale
            dark = hi > lo and abs((v - lo) / (hi - lo) - 0.5) > 0.35
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9,
                    color="white" if dark else "black")
        elif trades.iat[i, j] == 0:
            ax.text(j, i, "no trades", ha="center", va="center", fontsize=8, color="#555")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{metric} by {x} and {y}", loc="left")
    fig.colorbar(im, ax=ax, label=metric)
    return fig


@_literal
def pbo_logit_chart(logits: np.ndarray, pbo: float, n_blocks: int) -> Figure:
    """The distribution of the logit of the in-sample best's out-of-sample relative rank
    over all CSCV splits; the share at or left of 0 is the PBO."""
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    lam = np.asarray(logits, dtype=float)
    lim = max(1.0, float(np.max(np.abs(lam)))) if lam.size else 1.0
    bins = np.linspace(-lim, lim, 31)
    ax.hist(lam[lam <= 0], bins=bins, color="#c0392b", alpha=0.8,
            label="best in sample at or below the median out of sample")
    ax.hist(lam[lam > 0], bins=bins, color="#27ae60", alpha=0.8,
            label="above the median out of sample")
    ax.axvline(0.0, color="#333", lw=1)
    ax.set_xlabel("logit of the out-of-sample relative rank of the in-sample best")
    ax.set_ylabel("splits")
    ax.set_title(f"Probability of backtest overfitting {pbo:.2f} ({lam.size:,} splits of "
                 f"{n_blocks} blocks of news days)", loc="left")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return fig


@_literal
def chain_lines_chart(lines: pd.DataFrame, benchmark: str, spread: str | None = None
                      ) -> Figure:
    """Index lines (100 at the start) of each chain and the benchmark; the spread (long
    the first chain, short the second) in a panel below when there is one."""
    rows = 2 if spread else 1
    fig, axes = plt.subplots(rows, 1, figsize=(10, 6.5 if spread else 5), sharex=True,
                             layout="constrained", squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1.4][:rows]})
    ax = axes[0, 0]
    chains = [c for c in lines.columns if c not in (benchmark, spread)]
    ends = []
    for k, name in enumerate(chains):
        color = TICKER_COLORS[k % len(TICKER_COLORS)]
        ax.plot(lines.index, lines[name], color=color, lw=2, label=name)
        ends.append((lines[name].iloc[-1], name, color))
    ax.plot(lines.index, lines[benchmark], color="#555555", lw=1.4, ls="--", label=benchmark)
    ends.append((lines[benchmark].iloc[-1], benchmark, "#555555"))
    for y, name, color in ends:
        ax.annotate(f"{name} {y / 100 - 1:+.0%}", (lines.index[-1], y), xytext=(6, 0),
                    textcoords="offset points", va="center", fontsize=9, color=color)
    ax.axhline(100, color="black", lw=0.6, alpha=0.6)
    ax.set_title("Chain indices, total return (100 at the start)", fontsize=12, loc="left")
    ax.set_ylabel("index")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=9, frameon=False)
    if spread:
        sp = axes[1, 0]
        sp.plot(lines.index, lines[spread] / 100 - 1, color="#8e44ad", lw=1.8)
        sp.axhline(0, color="black", lw=0.6, alpha=0.6)
        sp.set_title(f"Spread: {spread} (long the first, short the second, reset daily)",
                     fontsize=11, loc="left")
        sp.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        sp.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    return fig


@_literal
def contribution_chart(members: pd.DataFrame) -> Figure:
    """Each member's contribution to its chain's total return (they add up to it)."""
    chains = list(dict.fromkeys(members["chain"]))
    fig, axes = plt.subplots(1, len(chains), figsize=(10, 0.9 + 0.42 * members.groupby(
        "chain").size().max()), layout="constrained", squeeze=False)
    for k, chain in enumerate(chains):
        ax = axes[0, k]
        sub = members[members["chain"] == chain].sort_values("contribution")
        colors = ["#2e7d32" if v >= 0 else "#c62828" for v in sub["contribution"]]
        ax.barh(sub["ticker"], sub["contribution"], color=colors)
        for y, v in enumerate(sub["contribution"]):
            ax.annotate(f"{v:+.1%}", (v, y), xytext=(3 if v >= 0 else -3, 0),
                        textcoords="offset points", va="center", fontsize=8,
                        ha="left" if v >= 0 else "right")
        ax.axvline(0, color="black", lw=0.6)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_title(f"{chain}: {sub['contribution'].sum():+.1%} in all", fontsize=11,
                     loc="left")
        ax.grid(True, axis="x", alpha=0.3)
        lo, hi = min(0.0, sub["contribution"].min()), max(0.0, sub["contribution"].max())
        pad = 0.25 * ((hi - lo) or 0.01)
        ax.set_xlim(lo - pad, hi + pad)
    fig.suptitle("Contribution of each member to its chain's return", x=0.01, ha="left",
                 fontsize=12)
    return fig


@_literal
def minute_path_chart(path: pd.DataFrame, event_id: str, headline: str = "", news: str = "",
                      interval: str = "1m", model: str = "market",
                      horizons: tuple[int, ...] = (5, 15, 30, 60)) -> Figure:
    """Per-ticker CAR path of one event by bar, from the last price before the news.

    x is minutes of trading time from bar 0 (the first bar opening at or after the news);
    bar 0 is marked with ``news`` (the news time in exchange time) beside it, the minute
    horizons by faint lines, and a session boundary (the close, then the next open) by a
    dotted line.
    """
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    sub = path[path["event_id"] == event_id]
    ends = []
    for k, (ticker, rows) in enumerate(sub.groupby("ticker", sort=True)):
        rows = rows.sort_values("minutes")
        color, style = _ticker_style(k)
        line, = ax.plot(rows["minutes"], rows["car"], style, lw=1.4, color=color,
                        label=ticker, drawstyle="steps-post")
        last = rows.dropna(subset=["car"]).tail(1)
        if len(last):
            ends.append([last["car"].iloc[0], last["minutes"].iloc[0], ticker,
                         line.get_color()])
    for m in horizons:
        ax.axvline(m, color="#bbb", lw=0.7)
        ax.annotate(f"{m}m", (m, 0), xycoords=("data", "axes fraction"), xytext=(2, 2),
                    textcoords="offset points", fontsize=7, color="#777")
    starts = sub.loc[sub["session_start"].astype(bool) & (sub["minutes"] > 0), "minutes"]
    for m in sorted(set(starts)):
        ax.axvline(m, color="#555", lw=0.9, ls=":")
        ax.annotate("close / next open", (m, 0.5), xycoords=("data", "axes fraction"),
                    xytext=(3, 0), textcoords="offset points", fontsize=7, rotation=90)
    if ends:
        span = sub["minutes"].max() - sub["minutes"].min()
        ends.sort(key=lambda e: e[0])
        lo, hi = ax.get_ylim()
        placed = []
        for y, x, name, color in ends:
            y_text = max(y, placed[-1] + (hi - lo) * 0.035) if placed else y
            placed.append(y_text)
            ax.annotate(name, (x, y), xytext=(x + span * 0.01, y_text), fontsize=8,
                        va="center", color=color)
        ax.set_xlim(right=sub["minutes"].max() + span * 0.08)
    ax.axvline(0, color="black", lw=1.2)
    ax.annotate("bar 0" + (f"\n{news}" if news else ""), (0, 1),
                xycoords=("data", "axes fraction"), xytext=(4, -4),
                textcoords="offset points", va="top", fontsize=8)
    ax.axhline(0, color="black", lw=0.6, alpha=0.6)
    ax.set_xlabel(f"minutes of trading time from bar 0 ({interval} bars)")
    ax.legend(loc="lower left", fontsize=8, frameon=False, ncol=2)
    title = f"CAR by minute: {event_id}"
    if headline:
        title += "\n" + (headline if len(headline) <= 90 else headline[:87] + "...")
    _finish(ax, title, f"CAR from the last price before the news "
                       f"({model.replace('_', ' ')})")
    return fig


@_literal
def intraday_equity_chart(equity: pd.DataFrame, init_cash: float, title: str) -> Figure:
    """Portfolio value after each bar's close over the traded sessions only (the days in
    between hold no position): x counts bars, each session's start labelled by its date."""
    fig, ax = plt.subplots(figsize=(10, 4.2), layout="constrained")
    x = np.arange(len(equity))
    ax.plot(x, equity["equity"], color="#1f77b4", lw=1.4)
    ax.axhline(init_cash, color="black", lw=0.6, alpha=0.6)
    day = equity["time_local"].astype(str).str[:10]
    starts = np.flatnonzero(np.r_[True, day.to_numpy()[1:] != day.to_numpy()[:-1]])
    for k in starts:
        ax.axvline(k, color="#999", lw=0.7, ls=":")
    shown = starts if len(starts) <= 12 else starts[:: int(np.ceil(len(starts) / 12))]
    ax.set_xticks(shown, [day.iloc[k] for k in shown], rotation=30, ha="right", fontsize=8)
    ax.set_xlabel("traded sessions (bars; days without a position left out)")
    _finish(ax, title, "portfolio value", percent=False)
    return fig
