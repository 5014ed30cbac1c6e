"""The answer a run gives, first: what the news did, whether trading it paid, how much to
trust both, as numbers and plain sentences (``story.json``, the report's first screen
and the terminal's few lines).

Everything here is read from the run's results (:class:`~backtest.eventstudy.StudyResult`,
:class:`~backtest.sim.runs.StrategyRun`); nothing is estimated again. The rules that
turn numbers into words are in :func:`trust_notes`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.eventstudy import stats
from backtest.eventstudy.result import FEW_NEWS_DAYS
from backtest.sim.metrics import METRIC_INFO
from events.model import UNIVERSE_ROLE, Calendar
from events.timing import event_timing, exchange_calendar

# Below these counts a strategy's result cannot separate skill from luck, whatever its
# Sharpe (a t-test of mean trade return needs roughly 30 independent trades to say much).
FEW_EVENTS, FEW_TRADES = 10, 30


def params_line(params: dict) -> str:
    """Strategy parameters as ``key=value`` words: lists joined with ``+``, empty lists as
    ``any``, floats without trailing zeros."""
    words = []
    for key, value in params.items():
        if isinstance(value, (list, tuple)):
            value = "+".join(map(str, value)) if value else "any"
        elif isinstance(value, float):
            value = f"{value:g}"
        words.append(f"{key}={value}")
    return " ".join(words)


def focus_of(calendar: Calendar, seed_event: str | None) -> str:
    """The event the run is about: ``seed_event``, else the latest by day 0."""
    return seed_event or max(calendar, key=lambda e: event_timing(e).day0).id


def _focus(calendar: Calendar, event_id: str) -> dict:
    event = calendar.get(event_id)
    timing = event_timing(event)
    tz = exchange_calendar(timing.exchange).tz
    when = (timing.published.tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z")
            if timing.published is not None else f"{event.date} ({event.session})")
    fill = {"open": "the day-0 open", "close": "the day-0 close"}[timing.first_fill]
    return {"event_id": event.id, "headline": event.headline, "source": event.source,
            "label": event.sentiment.label, "score": event.sentiment.score,
            "published": when, "day0": str(timing.day0.date()), "first_fill": fill}


def _reaction(study, event_id: str) -> list[dict]:
    table = study.reaction(event_id)
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
             for k, v in row.items()} for row in table.to_dict("records")]


def _groups(study) -> list[dict]:
    """The headline statistic of every group for the story window."""
    s, e = study.story_window()
    head = study.headline()
    head = head[(head["window_start"] == s) & (head["window_end"] == e)]
    return [{"group": r.group, "signed": bool(r.signed), "statistic": r.statistic,
             "label": stats.LABELS[r.statistic], "value": r.value, "p_value": r.p_value,
             "n": int(r.n), "n_days": int(r.n_days), "mean": r.mean}
            for r in head.itertuples() if r.n >= 2]


def _pnl(run, event_id: str) -> dict:
    m = run.metrics
    trades = run.simulation.trades
    ids = trades["event_id"].astype(str) if len(trades) else pd.Series(dtype=str)
    events = sorted({e for joined in ids for e in joined.split("+") if e})
    mine = trades[ids.str.split("+").apply(lambda parts: event_id in parts)] \
        if len(trades) else trades
    return {"benchmark": run.benchmark, "events_traded": len(events),
            "focus_pnl": float(mine["pnl"].sum()) if len(mine) else None,
            "focus_trades": int(len(mine)),
            **{k: m.get(k) for k in ("total_return", "benchmark_return", "excess_return",
                                     "sharpe", "max_drawdown", "trades")}}


def multiple_testing_notes(tests: pd.DataFrame) -> list[str]:
    """How many of the windows x groups headline tests are significant at 5% before and
    after Holm's correction for testing all of them (:func:`stats.adjusted_pvalues`)."""
    family = tests[tests["p_holm"].notna()]
    m = len(family)
    if m < 2:
        return []
    raw, holm = int((family["p_value"] < 0.05).sum()), int((family["p_holm"] < 0.05).sum())
    bh = int((family["p_bh"] < 0.05).sum())
    if raw == 0:
        return []
    return [f"{raw} of the {m} window x group tests have p < 0.05; corrected for testing all "
            f"{m}, {holm} {'survives' if holm == 1 else 'survive'} Holm and {bh} "
            f"Benjamini-Hochberg at 5%."]


def trust_notes(study, run, pnl: dict | None, groups: list[dict], event_id: str) -> list[str]:
    """Plain sentences on how much to trust the numbers: thin evidence, skipped and
    confounded pairs, data-quality findings."""
    notes = []
    if pnl is not None:
        events, trades = pnl["events_traded"], pnl["trades"] or 0
        if trades == 0:
            notes.append("The strategy never traded: there is nothing to judge.")
        elif events < FEW_EVENTS or trades < FEW_TRADES:
            notes.append(f"{events} events, {trades} trades: too few to separate skill from "
                         f"luck, whatever the Sharpe ratio says.")
        if trades:
            notes += inference_notes(run.metrics, run.benchmark)
    for g in groups:
        p = g["p_value"]
        if p is not None and np.isfinite(p) and p < 0.05 and g["n_days"] < FEW_NEWS_DAYS:
            notes.append(f"{g['group']}: significant (p = {p:.3f}) but on {_days(g['n_days'])} "
                         f"only; one day more or less could change the verdict.")
    if groups and all(g["p_value"] is None or not np.isfinite(g["p_value"])
                      or g["p_value"] >= 0.10 for g in groups):
        notes.append("No group's reaction is significant at 10%: the moves may be noise.")
    if study is not None and "p_holm" in study.tests:
        notes += multiple_testing_notes(study.tests)
    if study is not None and study.config.exclude_flagged:
        n_bad = int(study.skipped["reason"].str.startswith("data quality: bad tick").sum()) \
            if len(study.skipped) else 0
        notes.append(f"Pairs with a bad tick (five-fold up or 80% down in a day) in their "
                     f"estimation or event window are left out: {n_bad} of them "
                     f"(exclude_flagged, the default of a universe study; --keep-flagged keeps "
                     f"them). The median and 5% trimmed mean CARs beside the mean in the "
                     f"tests tables show what one wild CAR would do.")
    if study is not None and study.config.measure == "volatility":
        notes.append("Abnormal volatility (SAR^2 - 1) is skewed: a usual day is about 0, a "
                     "3-sigma day 8. The sign, Wilcoxon, wild-bootstrap and GRANK tests need a "
                     "series symmetric around 0 and are left out; read Corrado's rank test, "
                     "the generalized sign test and the (KP-adj.) BMP t.")
    if study is not None and "garch_alpha" in study.estimates:
        bad = int(study.estimates["garch_alpha"].isna().sum())
        notes.append(f"GARCH(1,1) variances for {len(study.estimates) - bad} of "
                     f"{len(study.estimates)} pairs; "
                     + (f"{bad} did not converge or were not stationary and keep the "
                        f"constant variance." if bad else "every fit converged."))
    if study is not None and (study.config.winsorize or study.config.trim):
        how, share = (("winsorized", study.config.winsorize) if study.config.winsorize
                      else ("trimmed", study.config.trim))
        notes.append(f"Each group's CARs are {how} at {share:.1%} per tail before its CAR "
                     f"tests and its mean (rank and sign tests use every pair; the car table "
                     f"keeps each pair's own CAR).")
    if study is not None:
        skipped = study.skipped
        if len(skipped):
            reasons = skipped["reason"].str.split(":").str[0].value_counts()
            notes.append(f"{len(skipped)} pair{'s' if len(skipped) != 1 else ''} skipped ("
                         + "; ".join(f"{n} {r}" for r, n in reasons.items()) + ").")
        conf = study.estimates["confounded_with"].fillna("").astype(str)
        n_conf = int((conf != "").sum())
        if n_conf:
            focus_conf = study.estimates[(study.estimates["event_id"] == event_id)
                                         & (conf != "")]
            notes.append(f"{n_conf} pairs have another event of the same ticker inside their "
                         f"window (confounded)"
                         + (f", {len(focus_conf)} of them in this event" if len(focus_conf)
                            else "") + ".")
        q = study.quality
        if len(q):
            counts = q["check"].value_counts()
            worst = q[q["check"].isin(["bad_tick", "big_move"])]["ticker"].unique()[:5]
            notes.append("Data quality: " + ", ".join(f"{n} {c.replace('_', ' ')}"
                                                      for c, n in counts.items())
                         + (f" (tickers {', '.join(worst)})" if len(worst) else "")
                         + "; see quality.csv.")
    return notes


def _p(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}" if v >= 0.001 else "< 0.001"


def inference_notes(m: dict, benchmark: str) -> list[str]:
    """Sentences on the strategy's own inference figures (per event, calendar time, PSR)."""
    notes = []
    mean, p = m.get("event_mean_return"), m.get("event_p")
    if mean is not None and np.isfinite(mean):
        days = int(m.get("news_days") or 0)
        tail = ("" if p is not None and np.isfinite(p) and p < 0.05
                else ": not distinguishable from zero")
        ci = (f"; 95% interval {_pct(m.get('event_ci_lo'))} to {_pct(m.get('event_ci_hi'))} "
              f"from resampling news days" if np.isfinite(m.get("event_ci_lo", np.nan))
              else "; too few news days for an interval")
        notes.append(f"Per event it made {_pct(mean)} on average (t {_num(m.get('event_t'))}, "
                     f"p {_p(p)}, {m.get('events_traded')} events on {_days(days)}{ci}){tail}.")
    alpha = m.get("alpha_annual")
    if alpha is not None and np.isfinite(alpha):
        notes.append(f"In calendar time, alpha against {benchmark} is {_pct(alpha)} a year "
                     f"(t {_num(m.get('alpha_t'))}, p {_p(m.get('alpha_p'))}, Newey-West).")
    psr = m.get("psr")
    if psr is not None and np.isfinite(psr):
        notes.append(f"Probabilistic Sharpe ratio {psr:.2f}: the chance the true Sharpe ratio is "
                     f"above 0{' (0.95 would be convincing)' if psr < 0.95 else ''}.")
    return notes


def sweep_story(inference, table: pd.DataFrame, params: list[str]) -> dict:
    """A sweep's verdict: the inference figures, the walk-forward folds, and sentences that
    say plainly whether the best combination is distinguishable from luck."""
    m = inference.as_metrics()
    best = table.loc[table["combo"] == inference.best].iloc[0]
    best_text = params_line({k: best[k] for k in params})
    luck = inference.luck()
    o, r = inference.overfitting, inference.reality
    words = [f"The best of {inference.trials} combinations by {inference.metric} "
             f"({best_text}) is " + ("indistinguishable from luck" if luck
                                    else "unlikely to be luck alone") + ":"]
    words.append(f"deflated Sharpe ratio {_num(inference.dsr, '.2f')} (0.95 would be "
                 f"convincing; {inference.trials} trials, {inference.distinct} distinct)"
                 if np.isfinite(inference.dsr) else "deflated Sharpe ratio n/a")
    words.append(f"reality check p {_p(r.spa_p)} (Hansen SPA; White {_p(r.rc_p)}) for beating "
                 f"not trading" if not r.reason else f"reality check n/a ({r.reason})")
    words.append(f"probability of backtest overfitting {o.pbo:.2f} over {o.n_splits} splits "
                 f"of {o.n_blocks} blocks of news days" if not o.reason
                 else f"probability of backtest overfitting n/a ({o.reason})")
    folds = []
    wf = inference.walkforward
    if wf is not None:
        of, ins = wf.out_of_sample, wf.in_sample
        words.append(f"walk-forward over {len(wf.folds)} folds: chosen on earlier events, "
                     f"{_pct(of.mean)} per event out of sample (p {_p(of.p)}, {of.n_events} "
                     f"events on {_days(of.n_days)}) against {_pct(ins.mean)} for the "
                     f"in-sample best on the same events")
        by_combo = table.set_index("combo")
        for row in wf.folds.to_dict("records"):
            row["chosen_params"] = params_line({k: by_combo.loc[row["chosen"], k]
                                                for k in params})
            folds.append(row)
    sentence = words[0] + " " + "; ".join(words[1:]) + "."
    return {"luck": luck, "best": inference.best, "best_params": best_text,
            "sentence": sentence, "figures": m, "folds": folds,
            "pbo_reason": o.reason, "reality_reason": r.reason}


def _chains(study, event_id: str) -> list[dict]:
    """The event's linked chains as one security, for the story window."""
    table = study.chains
    if table is None or table.empty:
        return []
    s, e = study.story_window()
    rows = table[(table["event_id"] == event_id) & (table["window_start"] == s)
                 & (table["window_end"] == e)]
    out = []
    for row in rows.to_dict("records"):
        row = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
               for k, v in row.items()}
        row["members_label"] = stats.LABELS.get(row["members_statistic"], "") if isinstance(
            row["members_statistic"], str) else ""
        out.append(row)
    return out


def universe_text(universe: dict) -> str:
    """``9,763 universe tickers, 4,406 (45%) moved as expected (each in the car table)``."""
    n, k = universe["n"], universe["as_expected"]
    return (f"{n:,} universe tickers, {k:,} ({k / n:.0%}) moved as expected (each one's AR "
            f"and CAR in the ar and car tables)")


def build_story(calendar: Calendar, study, run, seed_event: str | None,
                sweep=None) -> dict:
    """The run's answer as plain data (see the module docstring); ``sweep`` (a
    :class:`~backtest.sim.sweeps.SweepResult` and its inference) adds the sweep's verdict."""
    event_id = focus_of(calendar, seed_event)
    story = {"focus": _focus(calendar, event_id), "reaction": [], "groups": [],
             "window": None, "pnl": None, "params": None, "metrics": [], "sweep": None,
             "chains": []}
    if sweep is not None:
        result, inference = sweep
        story["sweep"] = sweep_story(inference, result.table, result.params)
    if study is not None and study.config.measure != "return":  # (absent: returns)
        story["measure"] = study.config.measure
    if study is not None and not study.car.empty:
        story["window"] = list(study.story_window())
        story["reaction"] = _reaction(study, event_id)
        universe = [r for r in story["reaction"] if r["role"] == UNIVERSE_ROLE]
        if universe:  # thousands of tickers: the calendar's own links, then a count
            story["reaction"] = [r for r in story["reaction"] if r["role"] != UNIVERSE_ROLE]
            story["universe"] = {"n": len(universe),
                                 "as_expected": sum(bool(r["as_expected"]) for r in universe),
                                 "groups": sorted({r["group"] for r in universe})}
            story["universe"]["text"] = universe_text(story["universe"])
        story["groups"] = _groups(study)
        story["chains"] = _chains(study, event_id)
    if run is not None:
        story["pnl"] = _pnl(run, event_id)
        story["params"] = run.params_text or params_line(run.params)
        story["metrics"] = [{"name": m.name, "label": m.label, "unit": m.unit,
                             "value": run.metrics[m.name]}
                            for m in METRIC_INFO if m.name in run.metrics]
    story["trust"] = trust_notes(study, run, story["pnl"], story["groups"], event_id)
    return story


# --------------------------------------------------------------------------------------
# the terminal's few lines
# --------------------------------------------------------------------------------------


def _days(n: int) -> str:
    return f"{n} news day" + ("" if n == 1 else "s")


def _pct(v, signed=True) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:+.2%}" if signed else f"{v:.2%}"


def _num(v, fmt="+.2f") -> str:
    return "n/a" if v is None or not np.isfinite(v) else format(v, fmt)


def _log_points(v) -> str:
    """An abnormal log volume (a log difference): +1.10 is three times the normal volume."""
    return _num(v, "+.2f")


def terminal_lines(story: dict, max_tickers: int = 8) -> list[str]:
    """The story in a few lines for the terminal (the report has all of it); a volume
    study (``story["measure"] == "volume"``) says AV/CAV, abnormal log volume, for AR/CAR,
    a volatility study AVOL/CAVOL."""
    f = story["focus"]
    lines = [f"What the news did: {f['event_id']} ({f['label']} {f['score']:g}), published "
             f"{f['published']}, day 0 {f['day0']}, first fill at {f['first_fill']}"]
    measure = story.get("measure", "return")
    ar, car, fmt = {"volume": ("AV", "CAV", _log_points),
                    "volatility": ("AVOL", "CAVOL", _log_points)}.get(measure,
                                                                    ("AR", "CAR", _pct))
    if measure == "volume":
        lines.append("  measured: abnormal log volume (Campbell and Wasley 1996), AV = "
                     "ln(volume + 0.000255) minus its normal value, CAV = sum of AVs")
    elif measure == "volatility":
        lines.append("  measured: abnormal volatility, AVOL = SAR^2 - 1 (the day's squared AR "
                     "over its model variance, minus 1: 0 is a usual day, 8 a 3-sigma move), "
                     "CAVOL = sum of AVOLs")
    if story["window"]:
        s, e = story["window"]
        for r in story["reaction"][:max_tickers]:
            verdict = "as expected" if r["as_expected"] else "against the expectation"
            lines.append(f"  {r['ticker']:<6} {r['role']:<10} expected {r['direction']:<4}  "
                         f"{ar} day 0 {fmt(r['ar0'])} (t {_num(r['ar0_t'])}, p "
                         f"{_num(r['ar0_p'], '.3f')})  {car}({s:+d},{e:+d}) {fmt(r['car'])} "
                         f"(p {_num(r['car_p'], '.3f')})  {verdict}")
        if len(story["reaction"]) > max_tickers:
            lines.append(f"  ... {len(story['reaction']) - max_tickers} more in the report")
        universe = story.get("universe")
        if universe:
            lines.append(f"  and {universe['text']}")
        mine = ({r["group"] for r in story["reaction"]} | {"all"}
                | set((universe or {}).get("groups", ())))
        for g in story["groups"]:
            if g["group"] not in mine:  # the report lists every group
                continue
            what = "in expected direction" if g["signed"] else "mean"
            lines.append(f"  {g['group']}: {car}({s:+d},{e:+d}) {what} {fmt(g['mean'])}, "
                         f"{g['label']} {_num(g['value'])} (p {_num(g['p_value'], '.3f')}), "
                         f"{g['n']:,} pairs on {_days(g['n_days'])}")
        for c in story.get("chains", []):
            lines.append(f"  {c['chain']} chain as one security ({c['members']} members): "
                         f"CAR({s:+d},{e:+d}) {_pct(c['portfolio_car'])} (t "
                         f"{_num(c['portfolio_t'])}, p {_num(c['portfolio_p'], '.3f')}); its "
                         f"members as pairs: {c['members_label'] or 'n/a'} "
                         f"{_num(c['members_value'])} (p {_num(c['members_p'], '.3f')})")
    if story.get("sweep"):
        lines.append("Sweep: " + story["sweep"]["sentence"])
    p = story["pnl"]
    if p is not None:
        focus = ("" if p["focus_pnl"] is None else
                 f"; this event: {p['focus_pnl']:+,.0f} on {p['focus_trades']} trades")
        lines.append(f"Did it pay: total return {_pct(p['total_return'])} against "
                     f"{p['benchmark']} {_pct(p['benchmark_return'])} (excess "
                     f"{_pct(p['excess_return'])}), Sharpe {_num(p['sharpe'])}, max drawdown "
                     f"{_pct(p['max_drawdown'])}, {p['trades']} trades on "
                     f"{p['events_traded']} events{focus}")
        lines.append(f"  parameters: {story['params']}")
    if story["trust"]:
        lines.append("How much to trust it: " + " ".join(story["trust"]))
    return lines
