"""Matplotlib charts of study and strategy results. Plots what it is given; computes nothing.

Every text comes from the user or the data (headlines, tickers, event ids), so every
chart draws text literally: ``$500B ... $100B`` is a headline, not math
(:func:`_literal`).
"""

from __future__ import annotations

import functools

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

def _literal(chart):
    """Run a chart function with matplotlib's math parsing off, so that ``$``, ``_`` and
    ``^`` in user text are drawn as written (each Text keeps the setting it was made with)."""
    @functools.wraps(chart)
    def draw(*args, **kwargs):
        with plt.rc_context({"text.parse_math": False}):
            return chart(*args, **kwargs)
    return draw


ROLE_COLORS = {"partner": "#d62728", "supplier": "#ff7f0e", "subject": "#1f77b4",
               "competitor": "#2ca02c", "all": "#444444"}
LABEL_STYLES = {"bearish": "-", "bullish": "--", "neutral": ":"}
ROLE_STYLES = {"partner": "-", "subject": "-", "supplier": "-.", "competitor": "--"}


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


def _style_of(group: str) -> tuple[str, str]:
    words = group.split()
    role = next((w for w in words if w in ROLE_COLORS), "all")
    label = next((w for w in words if w in LABEL_STYLES), "bearish")
    return ROLE_COLORS[role], LABEL_STYLES[label]


def _finish(ax, title: str, ylabel: str) -> None:
    ax.set_title(title, fontsize=12, loc="left")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))


@_literal
def caar_chart(caar: pd.DataFrame, min_n: int = 3) -> Figure:
    """CAAR path per group with its 95% band.

    Groups with fewer than ``min_n`` pairs are left out (their band is too wide
    to read) and so is the pooled "all" group, which mixes good and bad news.
    The y axis follows the CAAR lines; a band wider than that is clipped.
    """
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    lows, highs = [0.0], [0.0]
    for group, sub in caar.groupby("group", sort=False):
        n = int(sub["n"].max())
        if n < min_n or group == "all":
            continue
        color, style = _style_of(group)
        ax.plot(sub["rel_day"], sub["caar"], style, color=color, lw=2, label=f"{group} (N={n})")
        ax.fill_between(sub["rel_day"], sub["caar_lo"], sub["caar_hi"], color=color, alpha=0.12)
        lows.append(sub["caar"].min())
        highs.append(sub["caar"].max())
    span = max(highs) - min(lows) or 0.01
    ax.set_ylim(min(lows) - 0.6 * span, max(highs) + 0.6 * span)
    ax.axvline(0, color="black", lw=1)
    ax.axhline(0, color="black", lw=0.6, alpha=0.6)
    ax.set_xlabel("sessions relative to day 0")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=9, frameon=False)
    else:
        ax.text(0.5, 0.5, f"no group has {min_n} or more pairs", transform=ax.transAxes,
                ha="center", color="#666")
    _finish(ax, "Cumulative average abnormal return by group (95% band)", "CAAR")
    return fig


@_literal
def car_lines_chart(ar: pd.DataFrame, event_id: str, headline: str = "") -> Figure:
    """Per-ticker CAR paths of one event, colored by role."""
    fig, ax = plt.subplots(figsize=(10, 5.5), layout="constrained")
    sub = ar[ar["event_id"] == event_id]
    palette = plt.get_cmap("tab20").colors
    ends = []
    for k, (ticker, rows) in enumerate(sub.groupby("ticker", sort=True)):
        role = rows["role"].iloc[0]
        line, = ax.plot(rows["rel_day"], rows["cum_ar"], ROLE_STYLES.get(role, "-"), marker="o",
                        ms=3, lw=1.6, color=palette[k % len(palette)], label=f"{ticker} ({role})")
        last = rows.dropna(subset=["cum_ar"]).tail(1)
        if len(last):
            ends.append([last["cum_ar"].iloc[0], last["rel_day"].iloc[0], ticker, line.get_color()])
    _label_line_ends(ax, ends)
    ax.axvline(0, color="black", lw=1)
    ax.axhline(0, color="black", lw=0.6, alpha=0.6)
    ax.set_xlabel("sessions relative to day 0")
    ax.legend(loc="best", fontsize=8, frameon=False, ncol=2)
    title = f"CAR per ticker: {event_id}"
    if headline:
        short = headline if len(headline) <= 90 else headline[:87] + "..."
        title += f"\n{short}"
    _finish(ax, title, "CAR (market model)")
    return fig


@_literal
def equity_chart(equity: pd.DataFrame, init_cash: float, title: str,
                 benchmark: str = "benchmark") -> Figure:
    """Strategy value, and the benchmark's buy-and-hold value if given, as % on initial cash."""
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
    """Underwater curve: distance below the running peak of equity."""
    fig, ax = plt.subplots(figsize=(10, 3.2), layout="constrained")
    ax.fill_between(drawdown.index, drawdown, 0.0, color="#d62728", alpha=0.35, step="post")
    ax.plot(drawdown.index, drawdown, color="#d62728", lw=1)
    ax.set_xlabel("session")
    _finish(ax, "Drawdown (underwater)", "below peak")
    fig.autofmt_xdate()
    return fig


@_literal
def per_event_chart(per_event: pd.DataFrame) -> Figure:
    """P&L of each (event, ticker) trade, net of fees and borrow, grouped by event."""
    rows = per_event.sort_values(["entry_time", "event_id", "ticker"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(10, max(3.0, 0.28 * len(rows) + 1.2)), layout="constrained")
    colors = np.where(rows["pnl"] >= 0, "#2ca02c", "#d62728")
    labels = [f"{e} {t}" for e, t in zip(rows["event_id"], rows["ticker"])]
    ax.barh(range(len(rows)), rows["pnl"], color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.6)
    ax.set_xlabel("P&L, net of fees and borrow (currency)")
    ax.set_title("P&L per event and ticker", loc="left", fontsize=12)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


@_literal
def ar_heatmap(ar: pd.DataFrame, event_id: str) -> Figure:
    """Abnormal return of each ticker (rows) on each day relative to day 0 (columns)."""
    sub = ar[ar["event_id"] == event_id]
    grid = sub.pivot_table(index="ticker", columns="rel_day", values="ar", aggfunc="first")
    values = grid.to_numpy(dtype=float)
    lim = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.01
    fig, ax = plt.subplots(figsize=(10, max(2.8, 0.42 * len(grid) + 1.5)), layout="constrained")
    im = ax.imshow(values, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns], fontsize=8)
    ax.set_yticks(range(grid.shape[0]), list(grid.index), fontsize=9)
    ax.set_xlabel("sessions relative to day 0")
    ax.set_title(f"Abnormal returns by ticker and day: {event_id}", loc="left", fontsize=12)
    bar = fig.colorbar(im, ax=ax, label="AR")
    bar.formatter = PercentFormatter(1.0, decimals=0)
    bar.update_ticks()
    return fig


@_literal
def sweep_heatmap(table: pd.DataFrame, x: str, y: str, metric: str = "sharpe") -> Figure:
    """A metric over two swept parameters (mean over any other swept parameter)."""
    grid = table.pivot_table(index=y, columns=x, values=metric, aggfunc="mean")
    fig, ax = plt.subplots(figsize=(8, 5.5), layout="constrained")
    im = ax.imshow(grid.to_numpy(dtype=float), cmap="RdYlGn", aspect="auto", origin="lower")
    ax.set_xticks(range(grid.shape[1]), [str(v) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(v) for v in grid.index])
    values = grid.to_numpy(dtype=float)
    lo, hi = np.nanmin(values), np.nanmax(values)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):  # white text on the dark ends of the colour scale
            dark = hi > lo and abs((v - lo) / (hi - lo) - 0.5) > 0.35
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9,
                    color="white" if dark else "black")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{metric} by {x} and {y}", loc="left")
    fig.colorbar(im, ax=ax, label=metric)
    return fig
