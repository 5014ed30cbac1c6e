"""Parameter sweeps, the look-ahead audit, and their command-line entry points, on the
bundled OpenAI calendar and price snapshot (offline).

* A sweep simulates all combinations in one simulation; each row must equal, metric by
  metric, a separate ``run_strategy`` of that combination (an independent path).
* The audit must pass every built-in, and catch a strategy written here that peeks at
  returns after day 0 (with the event ids) and one that fills before the news.
* Deciding on data cut at the news' availability gives the same intents as on the full data.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.app.commands import parse_grid
from backtest.data.store import load_panel
from backtest.sim.audit import audit
from backtest.sim.costs import Costs
from backtest.sim.runs import run_strategy, strategy_context
from backtest.sim.sweeps import expand_grid, run_sweep
from events import InputError
from events.loader import resolve_calendar
from strategies import get_strategy
from strategies.base import Strategy, StrategyContext, intents_frame, param
from strategies.news import LongOnGoodNews, ShortPartnersOnBadNews
from tests.helpers import ROOT

# The bundled calendar's events (events/calendars/openai.yaml), read by eye.
ALL_EVENTS = ["stargate-2025-01-21", "deepseek-r1-2025-01-27", "oracle-rpo-2025-09-09",
              "nvidia-invests-2025-09-22", "amd-openai-2025-10-06", "broadcom-openai-2025-10-13",
              "aws-openai-2025-11-03", "oracle-q2-2025-12-10", "openai-miss-2026-04-28"]
BEARISH_FIRST_TICKER = {"deepseek-r1-2025-01-27": "NVDA", "oracle-q2-2025-12-10": "ORCL",
                        "openai-miss-2026-04-28": "ORCL"}


ONLY_RUN = {"event_t", "event_p", "event_ci_lo", "event_ci_hi", "alpha_annual", "alpha_t",
            "alpha_p"}


@pytest.fixture(scope="module")
def bundled():
    cal = resolve_calendar("openai")
    return cal, load_panel(cal)


@pytest.fixture(scope="module")
def ctx(bundled):
    cal, panel = bundled
    return strategy_context(cal, panel)


def _same(a, b, rel=1e-9):
    if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
        return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return a == pytest.approx(b, rel=rel, abs=1e-12)


# --------------------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls,grid,fixed", [
    (ShortPartnersOnBadNews, {"hold": [1, 5], "threshold": [60, 80]}, {"stop": 0.05}),
    (LongOnGoodNews, {"overlap": ["extend", "add"], "gross": [0.5, 1.0]}, {"hold": 10}),
], ids=["hold-x-threshold", "overlap-x-gross"])
def test_sweep_equals_separate_runs(bundled, cls, grid, fixed):
    """Each row of run_sweep (all combinations in one simulation per execution rule)
    equals a separate run_strategy of that combination, metric by metric (rel 1e-9), with
    borrow and fees on."""
    cal, panel = bundled
    costs = Costs(fees=0.0005, slippage=0.0005, borrow_rate=0.03,
                  borrow_overrides=(("CRWV", 0.1),))
    table = run_sweep(cal, panel, cls, grid, fixed, costs, progress=False).table
    combos = [dict(zip(grid, values)) for values in
              [(a, b) for a in list(grid.values())[0] for b in list(grid.values())[1]]]
    assert len(table) == 4
    assert list(table["combo"]) == [0, 1, 2, 3]
    for k, combo in enumerate(combos):
        row = table.iloc[k]
        for key, value in combo.items():
            assert row[key] == value
        run = run_strategy(cal, panel, cls(**fixed, **combo), costs)
        assert run.metrics["trades"] > 0
        # a sweep row has every metric but the run's own inference (its t, interval and
        # alpha), which only the chosen combination gets
        assert set(run.metrics) - set(row.index) == ONLY_RUN
        for name, value in run.metrics.items():
            if name not in ONLY_RUN:
                assert _same(float(row[name]), float(value)), (combo, name, row[name], value)
    assert table["trades"].nunique() > 1 or table["total_return"].nunique() > 1


def test_sweep_combination_without_trades_matches_a_separate_run(bundled):
    """threshold=90: no bearish event scores that high, so the combination has no intents.
    Its sweep row must still say what a separate run says: no trades, no return, the
    initial cash as final equity and no fees or borrow paid."""
    cal, panel = bundled
    table = run_sweep(cal, panel, ShortPartnersOnBadNews, {"hold": [1], "threshold": [60, 90]},
                      progress=False).table
    row = table[table["threshold"] == 90].iloc[0]
    run = run_strategy(cal, panel, ShortPartnersOnBadNews(hold=1, threshold=90))
    assert run.metrics["trades"] == 0 and run.metrics["final_equity"] == 100_000.0
    for name in ("trades", "total_return", "final_equity", "fees_paid", "borrow_paid"):
        assert _same(float(row[name]), float(run.metrics[name])), (name, row[name])


def test_expand_and_parse_grid():
    assert expand_grid({"hold": [1, 5], "threshold": [60, 70]}) == [
        {"hold": 1, "threshold": 60}, {"hold": 1, "threshold": 70},
        {"hold": 5, "threshold": 60}, {"hold": 5, "threshold": 70}]
    assert parse_grid(["hold=1, 3,5", "threshold=50"]) == {"hold": ["1", "3", "5"],
                                                            "threshold": ["50"]}
    for bad in (["hold"], ["=1,2"], ["hold="], ["hold=1", "hold=2"]):
        with pytest.raises(InputError):
            parse_grid(bad)


# --------------------------------------------------------------------------------------
# the audit
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,params", [
    ("short_partners_on_bad_news", {}),
    ("short_partners_on_bad_news", {"sizing": "vol", "hedge": True, "threshold": 50}),
    ("long_on_good_news", {}),
    ("long_on_good_news", {"sizing": "vol", "hedge": True, "fill": "next_open"}),
    ("pair_trade", {"hedge": True}),
    ("fade_the_reaction", {"threshold": 0}),
    ("fade_the_reaction", {"sizing": "vol", "roles": "partner+supplier+subject"}),
])
def test_builtins_have_no_look_ahead(ctx, name, params):
    strategy = get_strategy(name, **params)
    assert len(strategy.intents(ctx)) > 0  # the audit has something to check
    leaks = audit(strategy, ctx)
    assert leaks.empty, leaks.to_string()


class PeekAhead(Strategy):
    """Deliberately leaky: for bearish news, long or short the first ticker by the sign of
    its return 3 sessions after day 0, read from the full data (ctx.data)."""

    name = "peek_ahead"

    @dataclass(frozen=True)
    class Params:
        hold: int = param(5, help="sessions held")

    def intents(self, ctx):
        rows = []
        for event in ctx.calendar:
            t = ctx.timings[event.id]
            ticker = event.tickers[0].ticker
            if event.sentiment.label == "bearish":
                future = ctx.session_after(t.day0, 3)
                r = ctx.data.returns[ticker].get(future, np.nan)  # the leak
                if not np.isfinite(r):
                    continue
                direction = 1 if r > 0 else -1
            else:
                direction = 1  # honest: decided from the label alone
            rows.append(dict(event_id=event.id, ticker=ticker, direction=direction, weight=0.2,
                             entry_session=t.day0, entry_at=t.first_fill,
                             exit_session=ctx.session_after(t.day0, self.params.hold),
                             exit_at=t.first_fill))
        return intents_frame(rows)


class EarlyBird(Strategy):
    """Deliberately wrong: enters at the close of the session before day 0."""

    name = "early_bird"

    def intents(self, ctx):
        rows = []
        for event in ctx.calendar:
            t = ctx.timings[event.id]
            rows.append(dict(event_id=event.id, ticker=event.tickers[0].ticker, direction=1,
                             weight=0.1, entry_session=ctx.session_after(t.day0, -1),
                             entry_at="close", exit_session=ctx.session_after(t.day0, 2),
                             exit_at="close"))
        return intents_frame(rows)


def test_audit_catches_a_strategy_that_reads_future_returns(ctx):
    """PeekAhead leaks on the three bearish events (and only there): each is reported with
    its event id and first ticker; the honest bullish events are not."""
    assert set(PeekAhead().intents(ctx)["event_id"]) == set(ALL_EVENTS)
    leaks = audit(PeekAhead(), ctx)
    assert not leaks.empty
    assert set(zip(leaks["event_id"], leaks["ticker"])) == set(BEARISH_FIRST_TICKER.items())
    assert set(leaks["kind"]) == {"changed_or_missing"}
    assert all("differs when data end" in d for d in leaks["detail"])


def test_audit_catches_a_fill_before_the_news(ctx):
    """EarlyBird fills at the close before day 0, before the news was tradable: a
    'before_news' leak for every event of the calendar."""
    leaks = audit(EarlyBird(), ctx)
    before = leaks[leaks["kind"] == "before_news"]
    assert sorted(before["event_id"]) == sorted(ALL_EVENTS)
    assert all("before the news was tradable" in d for d in before["detail"])


@pytest.mark.parametrize("name,params,n_events", [
    ("short_partners_on_bad_news", {}, 3),
    ("short_partners_on_bad_news", {"sizing": "vol", "hedge": True, "threshold": 50}, 3),
    ("pair_trade", {"sizing": "vol"}, 2),
    ("long_on_good_news", {"sizing": "vol", "hedge": True}, 6),
])
def test_truncating_data_at_availability_gives_the_same_intents(ctx, name, params, n_events):
    """For every event: rebuild the context with data = ctx.data.asof(event's available
    time) (future session dates still known) and compare that event's intents with the
    full run. A strategy that only uses what was known when the news came out decides the
    same way."""
    strategy = get_strategy(name, **params)
    full = strategy.intents(ctx)
    checked = 0
    for event in ctx.calendar:
        mine = full[full["event_id"] == event.id].reset_index(drop=True)
        if mine.empty:
            continue
        cut = StrategyContext(ctx.calendar, ctx.timings,
                              ctx.data.asof(ctx.timings[event.id].available),
                              calendar_sessions=ctx.sessions)
        again = strategy.intents(cut)
        again = again[again["event_id"] == event.id].reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, again, check_exact=False, rtol=1e-12,
                                      obj=f"{name} {params} {event.id}")
        checked += 1
    assert checked == n_events


# --------------------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------------------


def _command() -> list[str]:
    script = Path(sys.executable).parent / "backtest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "backtest"]


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    cases = {
        "sweep": ["sweep", "openai", "--strategy", "short_partners_on_bad_news",
                  "--grid", "hold=1,3", "--grid", "gross=0.5,1", "--borrow-rate", "0.02",
                  "--borrow", "crwv=0.08", "--borrow", "AMD=0.5", "--offline",
                  "--out", "OUT"],
        "audit_fade": ["audit", "openai", "--strategy", "fade_the_reaction", "--offline"],
        "audit_leak": ["audit", "openai", "--strategy", "test_sweep_audit:PeekAhead",
                       "--offline"],
        "sweep_bad_key": ["sweep", "openai", "--strategy", "short_partners_on_bad_news",
                          "--grid", "holdd=1,3", "--offline", "--out", "OUT"],
        "sweep_wf": ["sweep", "openai", "--strategy", "long_on_good_news", "--grid",
                     "hold=1,3,5", "--grid", "threshold=50,70", "--walk-forward", "2",
                     "--offline", "--out", "OUT"],
        "sweep_wf_too_many": ["sweep", "openai", "--strategy", "long_on_good_news", "--grid",
                              "hold=1,3", "--walk-forward", "40", "--offline", "--out", "OUT"],
    }

    def one(name):
        root = tmp_path_factory.mktemp(name)
        # this file is the plug-in module "test_sweep_audit"; it imports tests.helpers
        pythonpath = [str(Path(__file__).parent), str(ROOT),
                      *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env = {**os.environ, "BACKTEST_CACHE_DIR": str(cache),
               "PYTHONPATH": os.pathsep.join(pythonpath)}
        args = [str(root / "out") if a == "OUT" else a for a in cases[name]]
        proc = subprocess.run(_command() + args, cwd=root, env=env, capture_output=True,
                              text=True, timeout=180)
        return name, (root / "out", proc)

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        return dict(pool.map(one, cases))


CLI_COSTS = Costs(fees=0.0005, slippage=0.0005, borrow_rate=0.02,
                  borrow_overrides=(("CRWV", 0.08), ("AMD", 0.5)))


def test_cli_sweep_writes_one_row_per_combination_and_a_report(cli, bundled):
    """`backtest sweep ... --grid hold=1,3 --grid gross=0.5,1` with borrow rates: sweep.csv has
    the 4 combinations (first key slowest), each row's total return and trade count equal a
    separate run_strategy with the same costs (the CLI's default 5 bp fees and slippage),
    index.html is written, and the report's run is the best combination by Sharpe."""
    out, proc = cli["sweep"]
    assert proc.returncode == 0, proc.stderr
    assert (out / "index.html").is_file()
    table = pd.read_csv(out / "sweep.csv")
    assert len(table) == 4
    assert list(zip(table["hold"], table["gross"])) == [(1, 0.5), (1, 1.0), (3, 0.5), (3, 1.0)]
    assert list(table["combo"]) == [0, 1, 2, 3]
    spec = json.loads((out / "sweep.json").read_text())
    assert spec["params"] == ["hold", "gross"] and spec["metric"] == "sharpe"
    assert spec["inference"]["trials"] == 4 and spec["walk_forward"] is None
    cal, panel = bundled
    for row in table.itertuples():
        run = run_strategy(cal, panel, ShortPartnersOnBadNews(hold=int(row.hold),
                                                              gross=float(row.gross)),
                           CLI_COSTS)
        assert row.total_return == pytest.approx(run.metrics["total_return"], rel=1e-8)
        assert row.borrow_paid == pytest.approx(run.metrics["borrow_paid"], rel=1e-8)
        assert row.borrow_paid > 0
        assert row.trades == run.metrics["trades"]
    best = table.sort_values(["sharpe", "combo"], ascending=[False, True]).iloc[0]
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["params"]["hold"] == best["hold"]
    assert meta["params"]["gross"] == best["gross"]
    assert spec["best"] == best["combo"]
    # the sweep's figures are the best run's metrics too (backtest check can guard them)
    for key, value in spec["inference"].items():
        assert meta["metrics"][key] == value, key


def test_cli_sweep_walk_forward_leads_the_answer(cli):
    """--walk-forward 2: walkforward.csv has two folds in time order with the chosen
    parameters, sweep.json and metrics.json the out-of-sample figures, the terminal says
    whether the best is more than luck before "Did it pay", and the report shows the
    figures, the folds and the logit chart before the sweep's cells."""
    out, proc = cli["sweep_wf"]
    assert proc.returncode == 0, proc.stderr
    folds = pd.read_csv(out / "walkforward.csv")
    assert list(folds["fold"]) == [1, 2]
    assert (folds["train_to"] < folds["test_from"]).all()
    assert folds["test_from"].iloc[1] > folds["test_to"].iloc[0]
    spec = json.loads((out / "sweep.json").read_text())
    assert spec["walk_forward"]["folds"] == 2
    assert spec["inference"]["wf_oos_events"] == folds["test_events"].sum()
    lines = proc.stdout.splitlines()
    sweep_line = next(i for i, line in enumerate(lines) if line.startswith("Sweep: "))
    pay_line = next(i for i, line in enumerate(lines) if line.startswith("Did it pay"))
    assert sweep_line < pay_line
    assert ("indistinguishable from luck" in lines[sweep_line]
            or "unlikely to be luck alone" in lines[sweep_line])
    html = (out / "index.html").read_text()
    assert html.index("Is the best combination more than luck?") < html.index("Did it pay")
    assert (html.index("How far the best can be trusted") < html.index("Walk-forward by events")
            < html.index("Every combination"))
    if spec["inference"]["pbo"] is not None:
        assert (out / "pbo_logits.png").is_file() and "logits of CSCV" in html


def test_cli_walk_forward_with_more_folds_than_news_days_is_refused(cli):
    out, proc = cli["sweep_wf_too_many"]
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "news days" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


def test_cli_audit_passes_fade_the_reaction(cli):
    _, proc = cli["audit_fade"]
    assert proc.returncode == 0, proc.stderr
    assert "no look-ahead" in proc.stdout and "9 events" in proc.stdout


def test_cli_audit_exits_1_on_a_leak(cli):
    _, proc = cli["audit_leak"]
    assert proc.returncode == 1, proc.stderr
    for event_id in BEARISH_FIRST_TICKER:
        assert event_id in proc.stdout
    assert "look-ahead leak" in proc.stderr


def test_cli_unknown_grid_key_exits_2(cli):
    out, proc = cli["sweep_bad_key"]
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "'holdd'" in err[0]
    assert not out.exists()


def _tr_close(panel, ticker, session):
    """Total-return close anchored at the last close: C_t * prod over later ex-dates s of
    C_s / (C_s + D_s) (each later dividend scales earlier prices down by that ratio)."""
    c, d = panel.close[ticker], panel.dividend[ticker]
    factor = 1.0
    for s in d.index[(d.index > session) & (d > 0)]:
        factor *= c[s] / (c[s] + d[s])
    return c[session] * factor


def test_cli_borrow_rates_by_hand(cli, bundled):
    """The sweep's report run, with `--borrow-rate 0.02 --borrow crwv=0.08 --borrow AMD=0.5`:
    each short trade's borrow in trades.csv equals
    size * total-return close * rate * calendar days to the next session / 360,
    summed over the closes from the entry session to the session before the exit session
    (ACT/360, rates by ticker, ticker case-insensitive); metrics borrow_paid is their sum
    and per_event costs = fees + borrow."""
    out, proc = cli["sweep"]
    assert proc.returncode == 0, proc.stderr
    _, panel = bundled
    trades = pd.read_csv(out / "trades.csv")
    sessions = panel.sessions
    rates = {"CRWV": 0.08, "AMD": 0.5}
    total = 0.0
    assert {"CRWV", "AMD", "NVDA"} <= set(trades["ticker"])
    for r in trades.itertuples():
        assert r.direction == "short"
        entry = pd.Timestamp(r.entry_time).tz_convert("America/New_York").normalize()
        exit_ = pd.Timestamp(r.exit_time).tz_convert("America/New_York").normalize()
        entry, exit_ = entry.tz_localize(None), exit_.tz_localize(None)
        held = sessions[(sessions >= entry) & (sessions < exit_)]
        expected = 0.0
        for s in held:
            nxt = sessions[sessions.get_loc(s) + 1]
            expected += (r.size * _tr_close(panel, r.ticker, s) * rates.get(r.ticker, 0.02)
                         * (nxt - s).days / 360)
        assert r.borrow == pytest.approx(expected, rel=1e-8), r.ticker
        total += expected
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["metrics"]["borrow_paid"] == pytest.approx(total, rel=1e-8)
    per_event = pd.read_csv(out / "per_event.csv")
    assert np.allclose(per_event["costs"], per_event["fees"] + per_event["borrow"])
    run = json.loads((out / "run.json").read_text())
    assert run["strategy"]["costs"]["borrow_rate"] == 0.02
    assert sorted(map(tuple, run["strategy"]["costs"]["borrow_overrides"])) == [
        ("AMD", 0.5), ("CRWV", 0.08)]
