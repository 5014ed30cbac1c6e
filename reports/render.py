"""Render a results folder into ``index.html`` (self-contained) plus one PNG per chart.

The input is the folder a run wrote: ``run.json``, ``story.json`` (the answer, see
:mod:`backtest.app.story`), the tables (the per-pair ones as parquet or CSV, read alike by
:func:`read_table`; the others CSV), ``metrics.json`` and the study's summary table
``table_tests_by_window.csv``. The report is a pure function of those files, so
``backtest report DIR`` renders it again and the numbers shown are exactly the ones
saved. Nothing here computes a statistic; it selects, formats and draws. Text from
users (headlines, sources, tickers) is escaped by Jinja2's autoescape and drawn
literally in charts.

The page leads with the answer (what the news did, did trading it pay, how much to
trust it), then the details. Tables never scroll inside the page: a long one shows its
first rows and names the file that has them all.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import jinja2
import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from events.errors import InputError
from events.model import UNIVERSE_ROLE
from reports import charts

MAX_ROWS = 50  # rows of one HTML table; the file beside the report has them all
MAX_TICKERS_CHARTED = 30
MAX_CELL_CHARS = 400  # characters of one table cell shown
CSV_CHUNK_ROWS = 200_000  # rows per piece when the report reads one event of a large CSV

# The columns the report reads from each table; a table without them is refused.
REQUIRED = {
    "events": ("event_id", "headline"), "timing": ("published",),
    "ar": ("event_id", "ticker", "role", "rel_day", "ar", "cum_ar"),
    "car": ("event_id", "label"), "caar": ("group", "rel_day", "n", "caar", "caar_lo", "caar_hi"),
    "estimates": ("event_id", "ticker", "confounded_with", "n_excluded"),
    "equity": ("date", "equity", "drawdown"),
    "per_event": ("event_id", "ticker", "entry_time", "pnl"),
}


# --------------------------------------------------------------------------------------
# reading the results folder
# --------------------------------------------------------------------------------------


def table_file(folder: str | Path, name: str) -> Path | None:
    """The file of results table ``name`` in ``folder``: ``name.parquet`` (the per-pair
    tables' default; the AR table's is a folder of parquet parts) or ``name.csv``; None
    when the run wrote neither."""
    for suffix in (".parquet", ".csv"):
        path = Path(folder) / f"{name}{suffix}"
        if path.is_file() or (suffix == ".parquet" and path.is_dir()
                              and not path.is_symlink()):
            return path
    return None


def read_table(folder: str | Path, name: str, event_id: str | None = None
               ) -> pd.DataFrame | None:
    """Results table ``name`` (``"ar"``, ``"car"``, ``"tests"``, ...) of a results folder,
    whichever format the run wrote it in (``--format parquet`` or ``csv``); None when it
    is not there. ``event_id``: only that event's rows, read without loading the others
    (a universe study's AR table has millions of rows; the report needs one event's).

    Parquet comes back exactly as written (types and every digit); CSV with text kept as
    text (a ticker or event id ``NA`` is not missing: only empty cells are) and floats at
    the 10 significant digits it holds. Unreadable files raise pandas' or pyarrow's error
    (the report turns them into a one-line refusal)."""
    path = table_file(folder, name)
    if path is None:
        return None
    if path.suffix == ".parquet":
        where = None if event_id is None else [("event_id", "==", event_id)]
        return pd.read_parquet(path, engine="pyarrow", filters=where)
    options = {"keep_default_na": False, "na_values": [""], "low_memory": False}
    try:
        if event_id is None:
            return pd.read_csv(path, **options)
        # pieces of rows, each cut to the event: memory bounded by one piece
        with pd.read_csv(path, chunksize=CSV_CHUNK_ROWS, dtype={"event_id": str},
                         **options) as reader:
            parts = [part[part["event_id"] == event_id] for part in reader]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def table_rows(folder: str | Path, name: str) -> int:
    """How many rows table ``name`` has (0 when absent), without reading a parquet's data."""
    path = table_file(folder, name)
    if path is None:
        return 0
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        files = sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]
        return sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    with open(path, "rb") as fh:
        return max(sum(1 for _ in fh) - 1, 0)


def _name(folder: Path, name: str) -> str:
    """The file name of a table, as the report cites it (car.parquet or car.csv)."""
    path = table_file(folder, name)
    return path.name if path is not None else f"{name}.csv"


def _like_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """A parquet table as its CSV reads back, so the report shows the same either way:
    dates and times as the CSV's text, empty text as missing."""
    out = {}
    for name, col in frame.items():
        if pd.api.types.is_datetime64_any_dtype(col):
            codes, uniques = pd.factorize(col)  # format each distinct time once
            # code -1 (a missing time) picks the None appended last
            text = np.append(np.asarray(pd.Series(uniques).astype(str), dtype=object), None)
            col = pd.Series(text[codes], index=frame.index, dtype="str")
        elif pd.api.types.is_string_dtype(col) and not pd.api.types.is_numeric_dtype(col):
            col = col.where(col != "")
        out[name] = col
    return pd.DataFrame(out, index=frame.index)


def _read(folder: Path, name: str, shown: Path, event_id: str | None = None
          ) -> pd.DataFrame | None:
    """A results table for the report (:func:`read_table`, parquet shown as its CSV would
    be; ``event_id``: that event's rows only). Refusals name the file as ``shown / name``."""
    path = table_file(folder, name)
    if path is None:
        return None
    try:
        frame = read_table(folder, name, event_id)
        rows = table_rows(folder, name) if event_id is not None else len(frame)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, KeyError) as exc:
        # (pyarrow's ArrowInvalid is a ValueError; a truncated parquet an OSError; a
        # table without event_id a KeyError)
        raise InputError(f"not a readable results table ({type(exc).__name__}); run the "
                         f"command again to rewrite it", path=str(shown / path.name)) from None
    if path.suffix == ".parquet":
        frame = _like_csv(frame)
    missing = [c for c in REQUIRED.get(name, ()) if c not in frame.columns]
    if missing and (len(frame.columns) or rows):
        raise InputError(f"not a results table of this tool (no column {missing[0]!r}); run "
                         f"the command again to rewrite it", path=str(shown / path.name))
    return frame


def _read_text(folder: Path, name: str) -> pd.DataFrame:
    """A table of display strings (the study's summary): text kept as written, N a number."""
    path = folder / name
    if not path.is_file():
        return pd.DataFrame()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:  # no group had two or more pairs
        return pd.DataFrame()
    return frame


def _json(path: Path, shown: Path) -> dict:
    """run.json, story.json, metrics.json or sweep.json of a results folder, refused in one
    line when empty, truncated or not a mapping."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"not a readable results file ({type(exc).__name__}); run the "
                         f"command again to rewrite it", path=str(shown / path.name)) from None
    if not isinstance(doc, dict):
        raise InputError("not a results file of this tool (not a JSON mapping)",
                         path=str(shown / path.name))
    return doc


DPI = 110  # the charts' resolution: 1100 pixels across a 10-inch figure


def _png(fig, path: Path) -> str:
    """Save ``fig`` to ``path`` as PNG at :data:`DPI` and return it base64-encoded for
    embedding.

    The figure is drawn once on its Agg canvas and the pixels written by matplotlib's own
    ``imsave``, as ``savefig`` writes them. ``savefig`` itself draws a figure with a layout
    engine (the charts' constrained layout) twice: a dry run that places the axes, then the
    real one. Once gives the same file, byte for byte (a test compares the two).
    """
    fig.dpi = DPI
    fig.canvas.draw()
    buf = io.BytesIO()
    matplotlib.image.imsave(buf, fig.canvas.buffer_rgba(), format="png", origin="upper",
                            dpi=fig.dpi)
    plt.close(fig)
    data = buf.getvalue()
    path.write_bytes(data)
    return base64.b64encode(data).decode("ascii")


# --------------------------------------------------------------------------------------
# numbers for people
# --------------------------------------------------------------------------------------


def _missing(v) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v))


def pct(v, signed: bool = True) -> str:
    return "" if _missing(v) else f"{v:+.2%}" if signed else f"{v:.1%}"


def num(v, fmt: str = "+.2f") -> str:
    return "" if _missing(v) else format(v, fmt)


def money(v, currency: str = "$") -> str:
    return "" if _missing(v) else f"{'-' if v < 0 else ''}{currency}{abs(v):,.2f}"


def bp(v) -> str:
    """A cost rate in basis points (0.0005 -> "5 bp")."""
    return "" if _missing(v) else f"{v * 1e4:g} bp"


UNIT_FORMAT = {"fraction": pct, "ratio": lambda v: num(v, ".2f"), "money": money,
               "probability": lambda v: num(v, ".3f"),
               "count": lambda v: "" if _missing(v) else f"{int(v):,}",
               "sessions": lambda v: "" if _missing(v) else f"{int(v):,}"}
SIGNED_FRACTIONS = ("total_return", "benchmark_return", "excess_return", "cagr",
                    "avg_trade_return", "max_drawdown", "event_mean_return", "event_ci_lo",
                    "event_ci_hi", "alpha_annual", "wf_oos_mean")


def metric_text(name: str, unit: str, value) -> str:
    if unit == "fraction" and name not in SIGNED_FRACTIONS:
        return pct(value, signed=False)
    return UNIT_FORMAT.get(unit, lambda v: num(v, ".3g"))(value)


def _cell(col: str, v, percent: tuple[str, ...]) -> str:
    if _missing(v):
        return ""
    if isinstance(v, (float, np.floating)):
        return f"{v:.2%}" if col in percent else f"{v:.4g}"
    return str(v)


def _table(frame: pd.DataFrame, percent: tuple[str, ...] = (), source: str = "",
           max_rows: int = MAX_ROWS) -> dict:
    """Rows of display strings (escaping happens in the template); text columns flagged.

    A long table shows its first ``max_rows`` rows and says where the rest is.
    """
    text = [not pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    shown = frame.head(max_rows)
    more = (f"first {max_rows} of {len(frame):,} rows"
            + (f"; all of them in {source}" if source else "")) if len(frame) > max_rows else ""
    return {"columns": list(frame.columns), "text": text, "more": more,
            "rows": [[_clip(_cell(c, v, percent), source) for c, v in zip(frame.columns, row)]
                     for row in shown.itertuples(index=False)]}


def _clip(text: str, source: str) -> str:
    """A cell's text cut at :data:`MAX_CELL_CHARS` (a universe event's 11,000 tickers),
    saying how long it was and where the whole text is."""
    if len(text) <= MAX_CELL_CHARS:
        return text
    return (text[:MAX_CELL_CHARS].rsplit(" ", 1)[0]
            + f" ... ({len(text):,} characters; all of it in {source or 'the table'})")


def _rows(columns: list[str], rows: list[list[str]], text: int = 1, more: str = "") -> dict:
    """A table of ready strings; the first ``text`` columns are text, the rest numbers."""
    return {"columns": columns, "text": [i < text for i in range(len(columns))],
            "rows": rows, "more": more}


# --------------------------------------------------------------------------------------
# the answer: what the news did, did it pay, how much to trust it
# --------------------------------------------------------------------------------------


def _answer(story: dict) -> dict:
    universe = story.get("universe")
    out = {"focus": story["focus"], "trust": story.get("trust", []), "reaction": None,
           "universe": (f"Besides the calendar's own links: {universe['text']}."
                        if universe else None),
           "chains": None,
           "groups": None, "pay": None, "window": None, "params": story.get("params")}
    # an abnormal-volume study: AV/CAV in log points (abnormal log volume), not percent
    measure = story.get("measure", "return")
    out["measure"] = {"volume": "abnormal log volume",
                      "volatility": "abnormal volatility (SAR^2 - 1)"}.get(measure,
                                                                          "abnormal return")
    ar, car, fmt = {"volume": ("AV", "CAV", num),
                    "volatility": ("AVOL", "CAVOL", num)}.get(measure, ("AR", "CAR", pct))
    if story.get("window"):
        s, e = story["window"]
        out["window"] = f"{car}({s:+d},{e:+d})"
        out["reaction"] = _rows(
            ["ticker", "role", "expected", f"{ar} day 0", "t", "p", out["window"], "t", "p",
             "moved as expected"],
            [[r["ticker"], r["role"], r["direction"], fmt(r["ar0"]), num(r["ar0_t"]),
              num(r["ar0_p"], ".3f"), fmt(r["car"]), num(r["car_t"]), num(r["car_p"], ".3f"),
              "yes" if r["as_expected"] else "no"] for r in story["reaction"]], text=3)
        out["groups"] = _rows(
            ["group", f"{car} measured", f"mean {out['window']}", "headline statistic",
             "value", "p", "pairs", "news days"],
            [[g["group"], "in expected direction" if g["signed"] else "as is", fmt(g["mean"]),
              g["label"], num(g["value"]), num(g["p_value"], ".3f"), f"{g['n']:,}",
              str(g["n_days"])] for g in story["groups"]], text=4)
        if story.get("chains"):
            out["chains"] = _rows(
                ["chain", "expected", "members", f"portfolio {out['window']}", "t", "p",
                 "members' mean", "members' test", "value", "p"],
                [[c["chain"], c["direction"], str(c["members"]), pct(c["portfolio_car"]),
                  num(c["portfolio_t"]), num(c["portfolio_p"], ".3f"),
                  pct(c["members_mean_car"]), c["members_label"], num(c["members_value"]),
                  num(c["members_p"], ".3f")] for c in story["chains"]], text=2)
    out["sweep"] = story.get("sweep")
    p = story.get("pnl")
    if p is not None:
        out["pay"] = _rows(["", ""], [
            ["Total return", pct(p["total_return"])],
            [f"{p['benchmark']} over the same sessions", pct(p["benchmark_return"])],
            ["Excess return", pct(p["excess_return"])],
            ["Sharpe ratio", num(p["sharpe"], ".2f")],
            ["Max drawdown", pct(p["max_drawdown"])],
            ["Trades (events traded)", f"{p['trades']} ({p['events_traded']})"],
            [f"P&L of {story['focus']['event_id']}",
             money(p["focus_pnl"]) + (f" on {p['focus_trades']} trades"
                                      if p["focus_pnl"] is not None else "not traded")],
        ])
    return out


# The sweep table's columns in the report (sweep.csv has every metric).
SWEEP_COLUMNS = ("total_return", "excess_return", "sharpe", "psr", "max_drawdown", "hit_rate",
                 "trades", "fees_paid")


def _sweep_figures(spec: dict) -> dict:
    """The sweep's inference figures as a table: what, value, how to read it."""
    m, why = spec["inference"], spec.get("reasons", {})
    wf = spec.get("walk_forward")

    def p(v) -> str:
        return "n/a" if _missing(v) else f"{v:.3f}"

    rows = [["Combinations tried", f"{m['trials']:,} ({m['distinct_trials']:,} distinct)",
             "the number of trials the figures below correct for"],
            ["Deflated Sharpe ratio of the best", p(m["dsr"]),
             f"chance its true Sharpe ratio beats {num(m['dsr_sr0_annual'], '.2f')} (annualized), "
             f"the best a skill-less strategy reaches in this many trials; 0.95 is convincing"],
            ["Reality check p (Hansen SPA)",
             p(m["spa_p"]) if not why.get("reality_check") else f"n/a ({why['reality_check']})",
             f"chance of a best this good if no combination beats not trading "
             f"({m['reality_check_combos']} distinct combinations, stationary bootstrap, "
             f"{m['reality_check_reps']} draws, mean block {num(m['reality_check_block'], 'g')} "
             f"days)"],
            ["Reality check p (White)", p(m["reality_check_p"]),
             "the same with every combination re-centred (more conservative)"],
            ["Probability of backtest overfitting",
             p(m["pbo"]) if not why.get("pbo") else f"n/a ({why['pbo']})",
             f"how often the in-sample best falls to the median or below on the other half of "
             f"the news days ({m['pbo_splits']:,} splits of {m['pbo_blocks']} blocks); 0.5 is "
             f"no better than chance"]]
    if wf is not None:
        o, i = wf["out_of_sample"], wf["in_sample"]
        rows.append(["Walk-forward, out of sample", f"{pct(o['mean'])} per event",
                     f"chosen on earlier events, scored on the next: p {p(o['p'])}, "
                     f"{o['n_events']} events on {o['n_days']} news days"])
        rows.append(["Walk-forward, in-sample best", f"{pct(i['mean'])} per event",
                     "the combination best over all events, on the same events (hindsight)"])
    table = _rows(["", "value", "how to read it"], rows, text=1)
    table["text"][2] = True
    return table


def _folds(folds: list[dict]) -> dict:
    return _rows(["fold", "chosen on", "scored on", "chosen parameters", "mean per event, "
                  "training", "mean per event, test", "in-sample best, test"],
                 [[str(f["fold"]), f"{f['train_from']} to {f['train_to']} ({f['train_events']} "
                   f"events)", f"{f['test_from']} to {f['test_to']} ({f['test_events']} events)",
                   f["chosen_params"], pct(f["train_mean"]), pct(f["test_mean"]),
                   pct(f["in_sample_best_test_mean"])] for f in folds], text=4)


def _metrics(story: dict) -> dict:
    return _rows(["metric", "value"], [[m["label"], metric_text(m["name"], m["unit"],
                                                                 m["value"])]
                                        for m in story.get("metrics", [])])


def _tests_by_window(table: pd.DataFrame) -> list[dict]:
    """The study's summary table, one readable table per CAR window: statistics down the
    side, groups across (a window's row of every statistic fits the page this way)."""
    out = []
    if table.empty:
        return out
    for window, sub in table.groupby("window", sort=False):
        sub = sub.set_index("group")
        rows = [[c] + [str(v) for v in sub[c]] for c in sub.columns if c != "window"]
        out.append({"window": window, "table": _rows(["", *sub.index], rows)})
    return out


def _chain_rows(table: pd.DataFrame) -> dict:
    """chain_events.csv as a page-wide table: one row per event, chain and window."""
    rows = []
    for r in table.itertuples(index=False):
        label = r.members_test if isinstance(r.members_test, str) else ""
        rows.append([r.event_id, r.chain, r.direction,
                     f"({int(r.window_start):+d}, {int(r.window_end):+d})", str(r.members),
                     pct(r.portfolio_car), num(r.portfolio_t), num(r.portfolio_p, ".3f"),
                     pct(r.members_mean_car), label, num(r.members_value),
                     num(r.members_p, ".3f")])
    return _rows(["event", "chain", "expected", "window", "members", "portfolio CAR", "t", "p",
                  "members' mean CAR", "members' test", "value", "p"], rows, text=4,
                 more="" if len(rows) <= MAX_ROWS else f"all {len(rows)} rows in "
                                                      f"chain_events.csv")


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


def _details(run: dict) -> list[tuple[str, str]]:
    """The run's settings as (what, readable value) lines."""
    lines = [("Calendar", run["calendar"] + (f" ({run['calendar_path']})"
                                              if run.get("calendar_path") else "")),
             ("Data", f"{run['data_source']}, {run['data_range']}, data hash "
                      f"{run['data_hash']}")]
    st = run.get("study")
    if st:
        other = "other events' windows left out" if st["exclude_other_events"] else \
            "other events' windows kept"
        lines.append(("Study", f"{st['model'].replace('_', ' ')} model on {st['market']}"
                               + (f" (factors {', '.join(st['factors'])})" if st["factors"]
                                  else "")
                               + (", abnormal log volume ln(volume + 0.000255) (Campbell "
                                  "and Wasley 1996); estimation "
                                  if st.get("measure") == "volume" else
                                  f", {st['returns']} returns, abnormal volatility SAR^2 - 1;"
                                  f" estimation " if st.get("measure") == "volatility" else
                                  f", {st['returns']} returns; estimation ")
                               + (f"{st['estimation_dates'][0]} to "
                                  f"{st['estimation_dates'][1]} for every pair "
                                  f"({st['estimation_length']} sessions"
                                  if st.get("estimation_dates") else
                                  f"{st['estimation_length']} sessions ending day "
                                  f"{-(st['gap'] + 1)} (")
                               + f"at least {st['min_estimation_obs']}); "
                               f"event window {st['event_window'][0]:+d}..{st['event_window'][1]:+d}; "
                               f"{other}; groups "
                               + (" x ".join(st["group_by"]) or "all pairs only")))
    sg = run.get("strategy")
    if sg:
        c = sg["costs"]
        borrow = ", ".join(f"{t} {r:.1%}" for t, r in c["borrow_overrides"])
        lines.append(("Strategy", f"{sg['name']}: {sg.get('params_text') or ''}".strip()))
        lines.append(("Costs", f"fees {bp(c['fees'])} of notional + {money(c['fixed_fees'])} "
                               f"per fill; slippage {bp(c['slippage'])}; borrow "
                               f"{c['borrow_rate']:.1%} a year" + (f" ({borrow})" if borrow
                                                                   else "")
                               + f" ACT/360; initial cash {money(sg['init_cash'])}"))
    lines.append(("Versions", ", ".join(f"{k} {v}" for k, v in run["versions"].items())))
    lines.append(("Run time", f"{run['run_seconds']:.1f} s"))
    return lines


def render_report(folder: str | Path, shown: str | Path | None = None) -> Path:
    """Write ``index.html`` and the chart PNGs into ``folder`` from the results in it.

    ``shown`` is the folder to name in a refusal (the user's, when ``folder`` is a
    temporary copy of it)."""
    folder = Path(folder)
    shown = Path(shown) if shown is not None else folder
    run = _json(folder / "run.json", shown)
    story = _json(folder / "story.json", shown) if (folder / "story.json").is_file() else None
    seed = run.get("seed_event")
    t = {name: _read(folder, name, shown) for name in
         ("events", "timing", "caar", "tests", "estimates", "skipped", "quality",
          "trades", "per_event", "equity", "sweep", "chain_events", "xsection")}
    # Of the per-pair tables the report shows the seed event only: read just its rows.
    t.update({name: _read(folder, name, shown, event_id=seed) for name in ("ar", "car")})
    images = dict.fromkeys(("caar", "car_lines", "heatmap", "equity", "drawdown", "per_event",
                            "sweep", "pbo"))
    s = dict.fromkeys(("answer", "windows", "seed_car", "confounded", "skipped", "quality",
                       "timing", "trades", "metrics", "sweep", "sweep_spec", "no_trades",
                       "sweep_figures", "folds", "chains", "xsection", "xsection_window"))
    s["answer"] = _answer(story) if story else None
    study = run.get("study")
    if t["ar"] is not None and table_rows(folder, "ar"):
        measure = (study or {}).get("measure", "return")
        images["caar"] = _png(charts.caar_chart(t["caar"], measure=measure),
                              folder / "caar_by_group.png")
        headline = ""
        if t["events"] is not None and seed in set(t["events"]["event_id"]):
            headline = t["events"].set_index("event_id").at[seed, "headline"]
        pairs = _chart_pairs(t["ar"], seed)
        news = story["focus"]["published"] if story else ""
        images["car_lines"] = _png(charts.car_lines_chart(
            pairs, seed, headline, model=study["model"] if study else "market",
            rebase=(run.get("report") or {}).get("car_from", "day-1"), news=news,
            measure=measure), folder / "car_seed_event.png")
        images["heatmap"] = _png(charts.ar_heatmap(pairs, seed, measure=measure),
                                 folder / "ar_heatmap.png")
        s["windows"] = _tests_by_window(_read_text(folder, "table_tests_by_window.csv"))
        seed_car = t["car"][t["car"]["event_id"] == seed].drop(
            columns=[c for c in ("event_id", "label") if c in t["car"].columns])
        s["seed_car"] = _table(seed_car, percent=("car", "car_se", "bhar")
                               if measure == "return" else ("bhar",), source=_name(folder, "car"))
        conf = t["estimates"][t["estimates"]["confounded_with"].notna()
                              & (t["estimates"]["confounded_with"].astype(str) != "")]
        s["confounded"] = _table(conf[["event_id", "ticker", "confounded_with",
                                       "n_excluded"]], source=_name(folder, "estimates"))
    if t["xsection"] is not None and len(t["xsection"]):
        xs = t["xsection"]
        if story and story.get("window"):
            s0, e0 = story["window"]
            xs = xs[(xs["window_start"] == s0) & (xs["window_end"] == e0)]
        s["xsection"] = _table(xs.drop(columns=["window_start", "window_end"]),
                               source="xsection.csv (every window)")
        s["xsection_window"] = (f"CAR({int(xs['window_start'].iloc[0]):+d},"
                                f"{int(xs['window_end'].iloc[0]):+d})" if len(xs) else "")
    if t["chain_events"] is not None and len(t["chain_events"]):
        s["chains"] = _chain_rows(t["chain_events"])
    if t["skipped"] is not None:
        s["skipped"] = _table(t["skipped"], source="skipped.csv")
    if t["quality"] is not None:
        s["quality"] = _table(t["quality"], source="quality.csv")
    if t["timing"] is not None:
        s["timing"] = _table(t["timing"].drop(columns=["published"]),
                             source=_name(folder, "timing"))
    strategy = run.get("strategy")
    if strategy and t["equity"] is not None:
        eq = t["equity"].assign(date=lambda d: pd.to_datetime(d["date"])).set_index("date")
        bench = strategy.get("benchmark", "benchmark")
        images["equity"] = _png(charts.equity_chart(eq, strategy["init_cash"],
                                                    f"Equity: {strategy['name']} against "
                                                    f"{bench}", bench), folder / "equity.png")
        images["drawdown"] = _png(charts.drawdown_chart(eq["drawdown"]), folder / "drawdown.png")
        if t["per_event"] is not None and len(t["per_event"]):
            images["per_event"] = _png(charts.per_event_chart(t["per_event"]),
                                       folder / "per_event_pnl.png")
        s["trades"] = _table(t["trades"], percent=("return",), source="trades.csv")
        s["metrics"] = _metrics(story) if story else None
    if t["sweep"] is not None and (folder / "sweep.json").is_file():
        spec = _json(folder / "sweep.json", shown)
        params, metric = spec["params"], spec["metric"]
        if len(params) >= 2:
            images["sweep"] = _png(charts.sweep_heatmap(t["sweep"], params[0], params[1],
                                                        metric), folder / "sweep_heatmap.png")
        ranked = t["sweep"].sort_values([metric, "combo"], ascending=[False, True],
                                        na_position="last")
        shown_cols = ["combo", *params] + [c for c in dict.fromkeys(SWEEP_COLUMNS + (metric,))
                                            if c in ranked.columns and c not in params]
        s["sweep"] = _table(ranked[shown_cols], percent=("total_return", "excess_return",
                                                         "max_drawdown", "hit_rate"),
                            source="sweep.csv (every metric)")
        s["no_trades"] = int((t["sweep"]["trades"] == 0).sum())
        s["sweep_spec"] = spec
        if "inference" in spec:
            s["sweep_figures"] = _sweep_figures(spec)
            folds = (story or {}).get("sweep") or {}
            s["folds"] = _folds(folds["folds"]) if folds.get("folds") else None
            logits = _read(folder, "pbo_logits", shown)
            inf = spec["inference"]
            if logits is not None and len(logits) and not _missing(inf["pbo"]):
                images["pbo"] = _png(charts.pbo_logit_chart(logits["logit"].to_numpy(),
                                                            inf["pbo"], inf["pbo_blocks"]),
                                     folder / "pbo_logits.png")
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.get_template("report.html.j2").render(
        run=run, images=images, s=s, details=_details(run),
        events=_table(t["events"], source="events.csv") if t["events"] is not None else None)
    path = folder / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
