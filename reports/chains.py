"""Render a chain comparison folder (``backtest chains compare``) into ``index.html``.

Reads ``run.json``, ``chains.csv``, ``chain_members.csv`` and ``chain_index.csv`` and
draws the index lines with the spread and the members' contributions. Computes
nothing: every number shown is one saved in the CSVs.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from reports import charts
from reports.render import _json, _missing, _png, _read, _rows, _table, num, pct


def _sentence(row: pd.Series, benchmark: str) -> str:
    """One chain's line in words: its return, the benchmark's, alpha with its t."""
    alpha = ("alpha n/a" if _missing(row["alpha_annual"]) else
             f"alpha {pct(row['alpha_annual'])} a year (t {num(row['alpha_t'])})")
    return (f"{row['chain']}: {pct(row['total_return'])} from {row['start']} to {row['end']} "
            f"against {benchmark} {pct(row['benchmark_return'])}; {alpha}, beta "
            f"{num(row['beta'], '.2f')}, worst fall {pct(row['max_drawdown'])}.")


def _news(table: pd.DataFrame) -> dict | None:
    """The returns on event days against the other days, per chain."""
    rows = table[table["event_days"].notna()] if "event_days" in table else table.iloc[:0]
    if rows.empty:
        return None
    out = []
    for _, r in rows.iterrows():
        p = "n/a" if _missing(r["event_vs_other_p"]) else f"{r['event_vs_other_p']:.3f}"
        share = "n/a" if _missing(r["share_on_news"]) else f"{r['share_on_news']:.0%}"
        out.append([r["chain"], f"{int(r['news_events'])}", f"{int(r['event_days'])}",
                    pct(r["event_return"]), f"{int(r['sessions'] - r['event_days'])}",
                    pct(r["other_return"]), share, p])
    return _rows(["chain", "news events", "event days", "return on event days", "other days",
                  "return on other days", "share of the move on news",
                  "event vs other days, p"], out)


def render_chains_report(folder: str | Path, shown: str | Path | None = None) -> Path:
    """Write ``index.html`` and the chart PNGs of a chain comparison into ``folder``."""
    folder = Path(folder)
    shown = Path(shown) if shown is not None else folder
    run = _json(folder / "run.json", shown)
    table = _read(folder, "chains", shown)
    members = _read(folder, "chain_members", shown)
    lines = _read(folder, "chain_index", shown)
    spec = run["chains"]
    lines = lines.assign(date=lambda d: pd.to_datetime(d["date"])).set_index("date")
    spread = spec.get("spread")
    images = {
        "lines": _png(charts.chain_lines_chart(lines, spec["benchmark"], spread),
                      folder / "chain_index.png"),
        "contributions": _png(charts.contribution_chart(members),
                              folder / "chain_contributions.png"),
    }
    chains = table[table["chain"] != spread] if spread else table
    sentences = [_sentence(r, spec["benchmark"]) for _, r in chains.iterrows()]
    if spread:
        r = table[table["chain"] == spread].iloc[0]
        first, second = (chains.set_index("chain").loc[n, "total_return"]
                         for n in spec["names"][:2])
        sentences.append(
            f"The difference of the two totals is {(first - second) * 100:+.1f} points; "
            f"holding a dollar long {spec['names'][0]} and a dollar short {spec['names'][1]}, "
            f"reset daily, earned {pct(r['total_return'])} (alpha {pct(r['alpha_annual'])} "
            f"a year, t {num(r['alpha_t'])}), which is what trading the spread would have "
            f"paid.")
    percent = ("total_return", "benchmark_return", "excess_return", "alpha_annual",
               "vol_annual", "max_drawdown")
    main_cols = ["chain", "members", "total_return", "benchmark_return", "excess_return",
                 "alpha_annual", "alpha_t", "beta", "vol_annual", "max_drawdown", "sessions"]
    member_cols = ["chain", "ticker", "weight_at_start", "first_held", "sessions_held",
                   "return_while_held", "contribution", "stale_days"]
    s = {"sentences": sentences, "table": _table(table[main_cols], percent, "chains.csv"),
         "members": _table(members[member_cols], ("weight_at_start", "return_while_held",
                                                  "contribution"), "chain_members.csv"),
         "news": _news(table), "thin": _thin(table, spec)}
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.get_template("chains.html.j2").render(run=run, spec=spec, images=images, s=s)
    path = folder / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


def _thin(table: pd.DataFrame, spec: dict) -> list[str]:
    """What limits the answer, in words."""
    notes = list(spec.get("notes", []))
    sessions = int(np.nanmax(table["sessions"])) if len(table) else 0
    if sessions < 126:
        notes.append(f"Only {sessions} sessions: alpha and beta from under half a year of "
                     f"daily returns are rough.")
    for _, r in table.iterrows():
        if not _missing(r.get("alpha_t")) and abs(r["alpha_t"]) < 2:
            notes.append(f"{r['chain']}: the alpha is not distinguishable from zero "
                         f"(|t| {abs(r['alpha_t']):.2f} < 2, Newey-West errors).")
    return notes
