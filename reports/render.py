"""Render a results folder into ``index.html`` (self-contained) plus one PNG per chart.

The input is the folder a run wrote (``run.json``, the CSV tables, ``metrics.json``
and the study's summary table ``table_tests_by_window.csv``): the report is a pure
function of those files, so ``backtest report DIR`` renders it again and the
numbers shown are exactly the ones saved. Nothing here computes a statistic; it
selects, formats and draws. Text from users (headlines, sources, tickers) is
escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import jinja2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from events.errors import InputError
from events.model import UNIVERSE_ROLE
from reports import charts


def _png(fig, path: Path) -> str:
    """Save ``fig`` to ``path`` and return it base64-encoded for embedding."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    data = buf.getvalue()
    path.write_bytes(data)
    return base64.b64encode(data).decode("ascii")


# The columns the report reads from each table; a table without them is refused.
REQUIRED = {
    "events": ("event_id", "headline"), "timing": ("published",),
    "ar": ("event_id", "ticker", "role", "rel_day", "ar", "cum_ar"),
    "car": ("event_id", "label"), "caar": ("group", "rel_day", "n", "caar", "caar_lo", "caar_hi"),
    "estimates": ("event_id", "ticker", "confounded_with", "n_excluded"),
    "equity": ("date", "equity", "drawdown"),
    "per_event": ("event_id", "ticker", "entry_time", "pnl"),
}


def _read(folder: Path, name: str, shown: Path) -> pd.DataFrame | None:
    """A results table; text stays text (a ticker or event id ``NA`` is not missing: only
    empty cells are). Refusals name the file as ``shown / name``."""
    path = folder / f"{name}.csv"
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""], low_memory=False)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"not a readable results table ({type(exc).__name__}); run the "
                         f"command again to rewrite it", path=str(shown / path.name)) from None
    missing = [c for c in REQUIRED.get(name, ()) if c not in frame.columns]
    if missing and len(frame.columns):
        raise InputError(f"not a results table of this tool (no column {missing[0]!r}); run "
                         f"the command again to rewrite it", path=str(shown / path.name))
    return frame


def _json(path: Path, shown: Path) -> dict:
    """run.json, metrics.json or sweep.json of a results folder, refused in one line when
    empty, truncated or not a mapping."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"not a readable results file ({type(exc).__name__}); run the "
                         f"command again to rewrite it", path=str(shown / path.name)) from None
    if not isinstance(doc, dict):
        raise InputError("not a results file of this tool (not a JSON mapping)",
                         path=str(shown / path.name))
    return doc


def _read_text(folder: Path, name: str) -> pd.DataFrame:
    """A table of display strings (the study's summary): text kept as written, N a number."""
    path = folder / name
    if not path.is_file():
        return pd.DataFrame()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:  # no group had two or more pairs
        return pd.DataFrame()
    return frame.astype({"N": "int64"}) if "N" in frame.columns else frame


PERCENT_METRICS = ("total_return", "cagr", "max_drawdown", "hit_rate", "avg_trade_return",
                   "exposure", "avg_gross_exposure", "benchmark_return", "excess_return")
MONEY_METRICS = ("final_equity", "fees_paid", "borrow_paid")


def _fmt(col: str, v, percent: tuple[str, ...]) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return f"{v:.2%}" if col in percent else f"{v:.4g}"
    return str(v)


MAX_ROWS = 300  # rows of one HTML table; the CSV beside the report has them all


def _table(frame: pd.DataFrame, percent: tuple[str, ...] = (), source: str = "") -> dict:
    """Rows of display strings (escaping happens in the template); text columns flagged.

    Long tables show their first :data:`MAX_ROWS` rows and say where the rest is.
    """
    text = [not pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    shown = frame.head(MAX_ROWS)
    more = (f"first {MAX_ROWS} of {len(frame):,} rows"
            + (f"; all of them in {source}" if source else "")) if len(frame) > MAX_ROWS else ""
    return {"columns": list(frame.columns), "text": text, "more": more,
            "rows": [[_fmt(c, v, percent) for c, v in zip(frame.columns, row)]
                     for row in shown.itertuples(index=False)]}


def _metrics_table(metrics: dict) -> dict:
    rows = []
    for k, v in metrics.items():
        if isinstance(v, float) and np.isfinite(v):
            v = (f"{v:.2%}" if k in PERCENT_METRICS else f"{v:,.2f}" if k in MONEY_METRICS
                 else f"{v:.3f}")
        rows.append([k, "" if isinstance(v, float) else str(v)])
    return {"columns": ["metric", "value"], "text": [True, False], "rows": rows, "more": ""}


MAX_TICKERS_CHARTED = 30


def _chart_pairs(ar: pd.DataFrame, event_id: str) -> pd.DataFrame:
    """The seed event's rows, at most :data:`MAX_TICKERS_CHARTED` tickers. In a universe study
    the calendar's own links are charted (the largest |CAR| of thousands of tickers are mostly
    bad ticks); without links, the largest final |cumulative AR|."""
    sub = ar[ar["event_id"] == event_id]
    if sub["ticker"].nunique() <= MAX_TICKERS_CHARTED:
        return sub
    linked = sub[sub["role"] != UNIVERSE_ROLE]
    if len(linked):
        sub = linked
    last = sub.sort_values("rel_day").groupby("ticker").tail(1).set_index("ticker")
    keep = last["cum_ar"].abs().fillna(0.0).sort_values(ascending=False).index
    return sub[sub["ticker"].isin(keep[:MAX_TICKERS_CHARTED])]


def render_report(folder: str | Path, shown: str | Path | None = None) -> Path:
    """Write ``index.html`` and the chart PNGs into ``folder`` from the results in it.

    ``shown`` is the folder to name in a refusal (the user's, when ``folder`` is a
    temporary copy of it)."""
    folder = Path(folder)
    shown = Path(shown) if shown is not None else folder
    run = _json(folder / "run.json", shown)
    t = {name: _read(folder, name, shown) for name in
         ("events", "timing", "ar", "car", "caar", "tests", "estimates", "skipped", "quality",
          "trades", "per_event", "equity", "sweep")}
    metrics = (_json(folder / "metrics.json", shown).get("metrics")
               if (folder / "metrics.json").is_file() else None)
    seed = run.get("seed_event")
    images = dict.fromkeys(("caar", "car_lines", "heatmap", "equity", "drawdown", "per_event",
                            "sweep"))
    sections = dict.fromkeys(("eventus", "seed_car", "confounded", "skipped", "quality",
                              "timing", "trades", "metrics", "sweep", "sweep_spec"))
    if t["ar"] is not None and len(t["ar"]):
        images["caar"] = _png(charts.caar_chart(t["caar"]), folder / "caar_by_group.png")
        headline = ""
        if t["events"] is not None and seed in set(t["events"]["event_id"]):
            headline = t["events"].set_index("event_id").at[seed, "headline"]
        shown = _chart_pairs(t["ar"], seed)
        images["car_lines"] = _png(charts.car_lines_chart(shown, seed, headline),
                                   folder / "car_seed_event.png")
        images["heatmap"] = _png(charts.ar_heatmap(shown, seed), folder / "ar_heatmap.png")
        sections["eventus"] = _table(_read_text(folder, "table_tests_by_window.csv"),
                                     source="table_tests_by_window.csv")
        seed_car = t["car"][t["car"]["event_id"] == seed].drop(columns=["event_id", "label"])
        sections["seed_car"] = _table(seed_car, percent=("car", "car_se", "bhar"),
                                      source="car.csv")
        conf = t["estimates"][t["estimates"]["confounded_with"].notna()
                              & (t["estimates"]["confounded_with"].astype(str) != "")]
        sections["confounded"] = _table(conf[["event_id", "ticker", "confounded_with",
                                              "n_excluded"]], source="estimates.csv")
    if t["skipped"] is not None:
        sections["skipped"] = _table(t["skipped"], source="skipped.csv")
    if t["quality"] is not None:
        sections["quality"] = _table(t["quality"], source="quality.csv")
    if t["timing"] is not None:
        sections["timing"] = _table(t["timing"].drop(columns=["published"]), source="timing.csv")
    strategy = run.get("strategy")
    if strategy and t["equity"] is not None:
        eq = t["equity"].assign(date=lambda d: pd.to_datetime(d["date"])).set_index("date")
        images["equity"] = _png(charts.equity_chart(eq, strategy["init_cash"],
                                                    f"Equity: {strategy['name']}",
                                                    strategy.get("benchmark", "benchmark")),
                                folder / "equity.png")
        images["drawdown"] = _png(charts.drawdown_chart(eq["drawdown"]), folder / "drawdown.png")
        if t["per_event"] is not None and len(t["per_event"]):
            images["per_event"] = _png(charts.per_event_chart(t["per_event"]),
                                       folder / "per_event_pnl.png")
        sections["trades"] = _table(t["trades"], percent=("return",), source="trades.csv")
        sections["metrics"] = _metrics_table(metrics or {})
    if t["sweep"] is not None and (folder / "sweep.json").is_file():
        spec = _json(folder / "sweep.json", shown)
        params, metric = spec["params"], spec["metric"]
        if len(params) >= 2:
            images["sweep"] = _png(charts.sweep_heatmap(t["sweep"], params[0], params[1],
                                                        metric), folder / "sweep_heatmap.png")
        sections["sweep"] = _table(t["sweep"].sort_values(metric, ascending=False),
                                   percent=("total_return", "max_drawdown", "cagr"),
                                   source="sweep.csv")
        sections["sweep_spec"] = spec
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.get_template("report.html.j2").render(
        run=run, images=images, s=sections,
        events=_table(t["events"], source="events.csv") if t["events"] is not None else None)
    path = folder / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
