"""Render results into ``index.html`` (self-contained) plus one PNG per chart.

Everything shown comes from the study and strategy results; this module
formats and draws, it computes no statistic. Text from users (headlines,
sources) is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import jinja2
import numpy as np
import matplotlib.pyplot as plt
import pandas as pd

from reports import charts


def _png(fig, path: Path) -> str:
    """Save ``fig`` to ``path`` and return it base64-encoded for embedding."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    data = buf.getvalue()
    path.write_bytes(data)
    return base64.b64encode(data).decode("ascii")


def _table(frame: pd.DataFrame, percent: tuple[str, ...] = (), digits: int = 4) -> dict:
    """Rows of display strings (escaping happens in the template)."""
    def fmt(col, v):
        if isinstance(v, float):
            if pd.isna(v):
                return ""
            return f"{v:.2%}" if col in percent else f"{v:.{digits}g}"
        if isinstance(v, pd.Timestamp):
            return v.isoformat(sep=" ") if (v.hour or v.minute) else str(v.date())
        return "" if v is None or v is pd.NaT else str(v)
    return {"columns": list(frame.columns),
            "rows": [[fmt(c, v) for c, v in zip(frame.columns, row)]
                     for row in frame.itertuples(index=False)]}


def _tests_table(tests: pd.DataFrame, windows) -> dict:
    """One row per (group, CAR window): N, mean CAR, the headline statistic first, then the rest."""
    wanted = set(windows)
    in_window = np.array([(s, e) in wanted for s, e in zip(tests["window_start"],
                                                           tests["window_end"])], dtype=bool)
    t = tests.loc[in_window & (tests["n"] >= 2).to_numpy()]
    rows = []
    for (group, s, e), sub in t.groupby(["group", "window_start", "window_end"], sort=False):
        head = sub[sub["headline"]].iloc[0]
        cells = {"group": group, "window": f"({s:+d}, {e:+d})", "N": str(int(head["n"])),
                 "mean CAR": f"{head['mean']:.2%}",
                 "headline": f"{head['statistic']} {head['value']:.2f} (p={head['p_value']:.3f})"}
        for r in sub.itertuples():
            cells[r.statistic] = "" if pd.isna(r.value) else f"{r.value:.2f} (p={r.p_value:.3f})"
        rows.append(cells)
    frame = pd.DataFrame(rows)
    return {"columns": list(frame.columns), "rows": frame.fillna("").values.tolist()}


def render_report(out: Path, meta: dict, calendar, study=None, run=None) -> Path:
    """Write ``index.html`` and the chart PNGs into ``out``; return the HTML path."""
    out = Path(out)
    images, sections = {}, {}
    seed = meta.get("seed_event")
    if study is not None and not study.ar.empty:
        images["caar"] = _png(charts.caar_chart(study.caar), out / "caar_by_group.png")
        headline = calendar.get(seed).headline if seed else ""
        images["car_lines"] = _png(charts.car_lines_chart(study.ar, seed, headline),
                                   out / "car_seed_event.png")
        sections["tests"] = _tests_table(study.tests, study.config.car_windows)
        seed_car = study.car[study.car["event_id"] == seed].drop(columns=["event_id"])
        sections["seed_car"] = _table(seed_car, percent=("car", "car_se"))
        sections["config"] = study.settings()
    if study is not None:
        sections["skipped"] = _table(study.skipped)
        sections["quality"] = _table(study.quality)
    if run is not None:
        images["equity"] = _png(charts.equity_chart(run.simulation.equity,
                                                    run.simulation.init_cash,
                                                    f"Equity: {run.strategy}"),
                                out / "equity.png")
        sections["trades"] = _table(run.simulation.trades, percent=("return",))
        sections["metrics"] = run.metrics
        sections["params"] = json.dumps(run.params, default=str)
        sections["costs"] = run.simulation.costs
        sections["notes"] = run.simulation.notes
    timing = study.timing if study is not None else None
    if timing is not None:
        sections["timing"] = _table(timing.drop(columns=["published_local"]))
    events = [{"id": e.id, "time": e.time_text, "headline": e.headline, "source": e.source,
               "label": e.sentiment.label, "score": e.sentiment.score,
               "tickers": ", ".join(f"{t.ticker} ({t.role})" for t in e.tickers)}
              for e in calendar]
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.get_template("report.html.j2").render(meta=meta, images=images, s=sections,
                                                     events=events, has_study=study is not None,
                                                     has_run=run is not None)
    path = out / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


def render_sweep(out: Path, calendar, table: pd.DataFrame, params: list[str], best_run,
                 data_hash: str, metric: str = "sharpe") -> Path:
    """Sweep report: the metrics table, a heatmap over the first two parameters, and the
    equity curve of the best combination by ``metric``."""
    out = Path(out)
    images = {}
    if len(params) >= 2:
        images["heatmap"] = _png(charts.sweep_heatmap(table, params[0], params[1], metric),
                                 out / "sweep_heatmap.png")
    images["equity"] = _png(charts.equity_chart(best_run.simulation.equity,
                                                best_run.simulation.init_cash,
                                                f"Equity of the best {metric}: {best_run.params}"),
                            out / "equity_best.png")
    shown = table.sort_values(metric, ascending=False)
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.get_template("sweep.html.j2").render(
        calendar=calendar.name, strategy=best_run.strategy, n=len(table), params=params,
        metric=metric, data_hash=data_hash, images=images,
        table=_table(shown, percent=("total_return", "max_drawdown", "cagr")))
    path = out / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
