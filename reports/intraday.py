"""Render an intraday study folder (``backtest study --interval 1m``) into ``index.html``.

Reads ``run.json``, ``events.csv``, ``intraday_pairs.csv``, ``intraday_horizons.csv``,
``intraday_pooled.csv``, ``intraday_daily.csv`` and ``intraday_path`` (parquet or CSV),
and draws each event's minute path. Computes nothing: every number shown is one saved in
those files. Headlines and tickers are escaped by Jinja2 and drawn literally in charts.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from reports import charts
from reports.render import _json, _missing, _png, _read, _rows, _table, pct

MAX_EVENTS_CHARTED = 12
HORIZON_WORDS = {"close": "to the close", "next_open": "to the next open"}


def _horizon_words(h: str) -> str:
    return HORIZON_WORDS.get(h, f"in the first {h[:-1]} minutes")


def _pair_sentence(rows: pd.DataFrame) -> str:
    """One pair in words: its first horizon's abnormal move, and what was left at the close."""
    first = rows.iloc[0]
    close = rows[rows["horizon"] == "close"]
    text = (f"{first['ticker']} ({first['role']}, expected {first['direction']}): abnormal "
            f"{pct(first['car'])} {_horizon_words(first['horizon'])} (z {first['z']:+.1f}, "
            f"p {first['p']:.2g})")
    if len(close) and not _missing(close["car"].iloc[0]):
        c = close.iloc[0]
        held = ("held" if np.sign(c["car"]) == np.sign(first["car"])
                and abs(c["car"]) >= 0.5 * abs(first["car"]) else "faded")
        text += f"; {pct(c['car'])} to the close (z {c['z']:+.1f}): the move {held}"
    return text + "."


def _reasons(pairs: pd.DataFrame) -> pd.Series:
    """Each pair's skip reason as text ("" for a studied pair; a CSV reads an all-empty
    column as NaN)."""
    return pairs["skipped"].astype(object).where(pairs["skipped"].notna(), "").astype(str)


def _trust(run: dict, pairs: pd.DataFrame, pooled: pd.DataFrame) -> list[str]:
    """What limits the answer, in words."""
    notes = list(run["intraday"].get("notes", []))
    kept = pairs[_reasons(pairs) == ""]
    n_events = kept["event_id"].nunique()
    if n_events < 3:
        notes.insert(0, f"{n_events} news event{'s' if n_events != 1 else ''} with minute "
                        f"bars: each z tests one event against its own estimation sessions; "
                        f"there is no test across news events (a t across events needs at "
                        f"least three).")
    per_event = kept.groupby("event_id").size()
    if (per_event > 1).any():
        notes.append("Tickers of one headline move together within the minute: the pooled "
                     "lines test each event's signed portfolio against the portfolio's own "
                     "estimation-period variance, never the pairs as if independent.")
    stale = kept[kept["stale_share"] > 0.2]
    for _, r in stale.iterrows():
        notes.append(f"{r['ticker']}: {r['stale_share']:.0%} of its window's bars had no "
                     f"trade (the last price carried forward): its path moves in steps.")
    skipped = pairs[_reasons(pairs) != ""]
    if len(skipped):
        notes.append(f"{len(skipped)} pair(s) skipped, reasons in intraday_pairs.csv "
                     f"(e.g. {skipped['ticker'].iloc[0]}: {skipped['skipped'].iloc[0]}).")
    return notes


def _page(folder: Path, template: str, **values) -> Path:
    """Render ``template`` (autoescaped: headlines and tickers are the user's text) into
    ``folder/index.html``."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("reports", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    out = folder / "index.html"
    out.write_text(env.get_template(template).render(**values), encoding="utf-8")
    return out


def _inputs(folder: str | Path, shown, kind: str, names: tuple[str, ...]):
    """(folder, shown, run.json, its ``kind`` section, the named tables) of a results folder."""
    folder = Path(folder)
    shown = Path(shown) if shown is not None else folder
    run = _json(folder / "run.json", shown)
    return folder, shown, run, run[kind], [_read(folder, n, shown) for n in names]


def render_intraday_report(folder: str | Path, shown: str | Path | None = None) -> Path:
    """Write ``index.html`` and one minute-path PNG per event into ``folder``."""
    folder, shown, run, spec, tables = _inputs(
        folder, shown, "intraday", ("events", "intraday_pairs", "intraday_horizons",
                                    "intraday_pooled", "intraday_daily", "intraday_path"))
    events, pairs, horizons, pooled, daily, path = tables
    headline = dict(zip(events["event_id"], events["headline"]))
    kept = pairs[_reasons(pairs) == ""]
    seed = run["seed_event"]
    order = [seed] + [e for e in kept["event_id"].drop_duplicates() if e != seed]
    charted = [e for e in order if e in set(kept["event_id"])][:MAX_EVENTS_CHARTED]
    minute_marks = tuple(int(h[:-1]) for h in spec["horizons"] if h.endswith("m"))
    sections = []
    for k, event_id in enumerate(charted):
        ev_pairs = kept[kept["event_id"] == event_id]
        news = str(ev_pairs["bar0_local"].iloc[0])
        said = (f"news {str(ev_pairs['news_local'].iloc[0])[11:19]}"
                if "news_local" in ev_pairs else "")
        image = _png(charts.minute_path_chart(path, event_id, headline.get(event_id, ""),
                                              f"{news}\n{said}".strip(), spec["interval"],
                                              spec["model"], minute_marks),
                     folder / f"intraday_path_{k:02d}.png")
        h = horizons[horizons["event_id"] == event_id]
        sentences = [_pair_sentence(rows) for _, rows in h.groupby("ticker", sort=False)]
        side = _daily_rows(h, daily[daily["event_id"] == event_id])
        sections.append({"event_id": event_id, "headline": headline.get(event_id, ""),
                         "news": str(ev_pairs["news_local"].iloc[0]) if "news_local" in ev_pairs
                         else str(ev_pairs["news_time"].iloc[0]), "bar0": news,
                         "image": image, "sentences": sentences,
                         "table": _horizon_grid(h, spec["horizons"]),
                         "daily": side})
    pooled_cols = ["group", "horizon", "pairs", "events", "clusters", "signed_car", "z", "p",
                   "t_events", "p_t"]
    if pooled["t_events"].isna().all():  # fewer than three events everywhere: said in words
        pooled_cols = pooled_cols[:-2]
    notes = pooled["note"].dropna().unique() if len(pooled) else []
    s = {"sections": sections,
         "pooled": _table(pooled[pooled_cols], ("signed_car",), "intraday_pooled.csv"),
         "pooled_note": "; ".join(notes) if len(notes) <= 3 else "",
         "pairs": _table(pairs[["event_id", "ticker", "role", "direction", "bar0_local",
                                "beta", "sigma", "estimation_sessions", "stale_share",
                                "skipped"]], ("sigma", "stale_share"), "intraday_pairs.csv"),
         "trust": _trust(run, pairs, pooled),
         "more_events": max(0, kept["event_id"].nunique() - len(charted))}
    return _page(folder, "intraday.html.j2", run=run, spec=spec, s=s)


def _horizon_grid(h: pd.DataFrame, horizons: list[str]) -> dict:
    """One row per ticker, one column per horizon: the CAR with its z, and the time the
    horizon ends (exchange time) in the header row's note."""
    rows = []
    for ticker, g in h.groupby("ticker", sort=False):
        g = g.set_index("horizon")
        cells = []
        for hz in horizons:
            r = g.loc[hz] if hz in g.index else None
            capped = r is not None and str(r.get("capped", False)) == "True"
            cells.append("" if r is None or _missing(r["car"]) else
                         f"{pct(r['car'])} (z {r['z']:+.1f})" + (", to the close" if capped
                                                                else ""))
        first = g.iloc[0]
        rows.append([ticker, f"{first['role']}, {first['direction']}", *cells])
    ends = h.drop_duplicates("horizon").set_index("horizon")["end_local"]
    head = [f"{hz} (to {str(ends.get(hz, ''))[11:16]})" if hz in ends else hz
            for hz in horizons]
    return _rows(["ticker", "role, expected", *head], rows, text=2)


def _daily_rows(h: pd.DataFrame, daily: pd.DataFrame) -> dict | None:
    """The same pair's daily day-0 AR and CAR(0, +1) beside its intraday to-close CAR."""
    if daily.empty:
        return None
    close = h[h["horizon"] == "close"].set_index("ticker")["car"]
    rows = []
    for _, d in daily.iterrows():
        rows.append([d["ticker"], str(d["day0"]),
                     pct(close.get(d["ticker"], np.nan)) if d["ticker"] in close else "",
                     pct(d["daily_ar0"]), f"{d['daily_ar0_p']:.3g}", pct(d["daily_car01"]),
                     f"{d['daily_car01_p']:.3g}"])
    return _rows(["ticker", "day 0", "intraday: news to close (log)", "daily AR day 0",
                  "p", "daily CAR(0,+1)", "p"], rows, text=2)


def render_intraday_run_report(folder: str | Path, shown: str | Path | None = None) -> Path:
    """Write ``index.html`` and ``intraday_equity.png`` of an intraday run into ``folder``."""
    folder, shown, run, spec, tables = _inputs(
        folder, shown, "intraday_run", ("intraday_trades", "intraday_orders",
                                        "intraday_skipped", "intraday_events",
                                        "intraday_equity"))
    trades, orders, skipped, events, equity = tables
    image = (_png(charts.intraday_equity_chart(equity, spec["init_cash"],
                                               f"{spec['strategy']}: {spec['execution']}"),
                  folder / "intraday_equity.png") if len(equity) else None)
    trade_cols = [c for c in ("event_id", "ticker", "side", "leg", "entry_time_local",
                              "entry_price", "exit_time_local", "exit_price", "exit_reason",
                              "size", "fees", "pnl", "return") if c in trades.columns]
    thin = []
    n_events = int(trades["event_id"].nunique()) if len(trades) else 0
    if n_events < 5:
        thin.append(f"{n_events} news event(s) traded: the means are anecdotes, not evidence "
                    f"(the bootstrap interval needs at least five events).")
    if len(trades) > n_events:
        thin.append("Trades on one headline move together: the per-trade t is clustered by "
                    "event, so the evidence counts events, not trades.")
    thin += list(spec.get("notes", []))
    s = {"summary": spec["summary"], "image": image,
         "trades": _table(trades[trade_cols], ("return",), "intraday_trades.csv"),
         "events": _table(events, ("ret",), "intraday_events.csv"),
         "skipped": _table(skipped, (), "intraday_skipped.csv") if len(skipped) else None,
         "orders": len(orders), "thin": thin}
    return _page(folder, "intraday_run.html.j2", run=run, spec=spec, s=s)
