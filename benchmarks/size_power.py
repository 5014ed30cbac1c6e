"""Size and power of the event-study test statistics on real US stock returns.

Brown and Warner (1985) style simulation: random (ticker, day 0) pairs drawn from
the ``../shared`` universe of adjusted closes, run through :func:`backtest.eventstudy.run_study`
(market model on SPY, default estimation and CAR windows), and the share of
replications in which each statistic rejects at 5% (two-sided ``p_value < 0.05``)
is recorded for the CAR windows (0, 0) and (-1, 1).

Designs (N pairs per replication, R replications, seeded numpy RNG):

* ``nonclustered``: N random tickers, each with its own, different day 0; no effect.
  Every statistic should reject about 5% of the time.
* ``clustered``: N random tickers sharing ONE day 0 (one event with N tickers); no
  effect. Statistics that assume independent pairs (BMP, Patell, cross-sectional t,
  sign/rank tests that ignore cross-correlation) over-reject; Kolari-Pynnonen and the
  tests built on the time series of portfolio ARs (Brown-Warner 1980, Corrado,
  pseudo-event) should not.
* ``clustered_corr``: as ``clustered`` but the N tickers come from a cluster of highly
  correlated residuals: the ``CORR_SET_SIZE`` eligible tickers whose full-sample
  market-model residuals correlate most with SMH's (semiconductors and tech/semis ETFs).
* ``few_days`` / ``few_days_corr``: N tickers (from all eligible / from the correlated
  set) on ``FEW_DAYS`` = 5 news days, N / 5 on each: the case of a calendar whose result
  rests on a handful of headlines. Tests that treat pairs as independent over-reject;
  the Ibragimov-Mueller t on the 5 day means should not.
* ``power``: the non-clustered design with a planted abnormal return on day 0: the
  close on day 0 and after is multiplied by ``1 + effect`` (the day-0 return becomes
  ``(1 + r)(1 + effect) - 1``, all later returns unchanged); ``few_days_power``: the
  ``few_days`` design with the same planted effect.

Universe filter (documented, applied once): a ticker is eligible when it has a close
on more than 95% of the sessions, no daily |return| above 50% (bad ticks and
reverse-split glitches would dominate the standardized statistics), at most 10% of
its returns exactly zero (stale quotes of illiquid listings, which break rank and sign
tests through ties), a daily return standard deviation of at least 0.5% (drops
cash-like T-bill/money-market funds whose "returns" are accrued interest: a planted
1% move would be a 30-sigma event for them), and is not an index level (``^TNX``,
``^IRX`` are yields). SPY is the market and never an event ticker.

Implementation: many replications go into one calendar; each event carries
``tags: {rep: "<r>"}`` and the study runs with ``group_by=("rep",)``, so each
replication is its own group in ``result.tests``. Every pair gets its own alias
column in the price panel (a copy of its ticker's closes, with the planted effect
for the power design), so replications cannot touch each other: no other-event
exclusions or planted days leak across replications, and each group's results are
those of a study of that replication alone.

Run ``python benchmarks/size_power.py [--reps 500] [--n 50]``; it prints a markdown
table and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from backtest.eventstudy import StudyConfig, run_study
from backtest.eventstudy.stats import STATISTIC_NAMES as STATISTICS
from events.loader import parse_calendar
from events.timing import exchange_calendar

UNIVERSE_PATH = (Path(__file__).resolve().parents[2] / "shared" / "data" / "universe"
                 / "us_adjclose_2023-01_2026-07.parquet")
MARKET = "SPY"
CORR_ANCHOR = "SMH"
CORR_SET_SIZE = 60
MIN_HISTORY = 270  # sessions before day 0 (estimation -260..-11 needs 261)
MIN_AFTER = 11  # sessions after day 0 (event window ends at +10)
WINDOWS = ((0, 0), (-1, 1))
DESIGNS = ("nonclustered", "clustered", "clustered_corr", "power", "few_days", "few_days_corr",
           "few_days_power")  # appended: each design seeds its RNG by its position
FEW_DAYS = 5  # news days of the few-days designs (N / 5 tickers on each)
ALPHA = 0.05


@dataclass(frozen=True)
class Universe:
    close: np.ndarray  # (T, M) adjusted closes on XNYS sessions
    sessions: pd.DatetimeIndex
    tickers: list[str]  # column names of ``close``
    market_col: int
    eligible: np.ndarray  # column indices of event-eligible tickers
    corr_set: np.ndarray  # column indices of the correlated cluster
    filter_counts: dict
    corr_set_rbar: float  # mean pairwise full-sample residual correlation in corr_set
    eligible_rbar: float  # same, for 300 random eligible tickers

    @property
    def day0_positions(self) -> np.ndarray:
        return np.arange(MIN_HISTORY, len(self.sessions) - MIN_AFTER)


def _residuals(r: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Full-sample market-model residuals of each column of ``r`` on ``m`` (NaN-aware)."""
    ok = np.isfinite(r) & np.isfinite(m)[:, None]
    mm = np.where(ok, m[:, None], np.nan)
    rr = np.where(ok, r, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        dm = mm - np.nanmean(mm, axis=0)
        dr = rr - np.nanmean(rr, axis=0)
        beta = np.nansum(dm * dr, axis=0) / np.nansum(dm * dm, axis=0)
    return dr - beta * dm


def _mean_pairwise_corr(res: np.ndarray) -> float:
    c = pd.DataFrame(res).corr(min_periods=100).to_numpy()
    return float(np.nanmean(c[np.triu_indices_from(c, 1)]))


def load_universe(path: Path = UNIVERSE_PATH, seed: int = 0) -> Universe:
    """Read the universe, put it on XNYS sessions and pick the eligible tickers."""
    raw = pd.read_parquet(path)
    sessions = pd.DatetimeIndex(
        exchange_calendar().sessions_in_range(raw.index.min(), raw.index.max()),
        freq=None, name="date")
    close = raw.reindex(sessions)
    if close.notna().any(axis=1).sum() != len(raw):
        raise ValueError("universe dates do not line up with XNYS sessions")
    if MARKET not in close.columns:
        raise ValueError(f"{MARKET} is not in the universe")
    values = close.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = values[1:] / values[:-1] - 1.0
    coverage = np.isfinite(values).mean(axis=0)
    n_ret = np.isfinite(r).sum(axis=0)
    max_abs = np.nanmax(np.abs(np.where(np.isfinite(r), r, 0.0)), axis=0)
    zero_share = (r == 0).sum(axis=0) / np.maximum(n_ret, 1)
    with warnings.catch_warnings():  # all-NaN columns (delisted early) give NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = np.nanstd(r, axis=0)
    names = np.asarray(close.columns, dtype=object)
    not_index = ~pd.Index(names).str.startswith("^")
    steps = [("coverage > 95%", coverage > 0.95),
             ("max |daily return| <= 50%", max_abs <= 0.5),
             ("zero-return days <= 10%", zero_share <= 0.10),
             ("daily return sd >= 0.5%", sd >= 0.005),
             ("not an index level (^...)", np.asarray(not_index)),
             (f"not the market ({MARKET})", names != MARKET)]
    keep = np.ones(len(names), bool)
    counts = {"all tickers": len(names)}
    for label, mask in steps:
        keep &= mask
        counts[label] = int(keep.sum())
    eligible = np.flatnonzero(keep)
    market_col = int(np.flatnonzero(names == MARKET)[0])

    res = _residuals(r[:, eligible], r[:, market_col])
    anchor = np.flatnonzero(names[eligible] == CORR_ANCHOR)
    if anchor.size != 1:
        raise ValueError(f"{CORR_ANCHOR} is not an eligible ticker")
    a = res[:, anchor[0]]
    ok = np.isfinite(res) & np.isfinite(a)[:, None]
    x = np.where(ok, res, 0.0)
    y = np.where(ok, a[:, None], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = ok.sum(axis=0)
        cov = (x * y).sum(0) / n - x.sum(0) / n * y.sum(0) / n
        corr = cov / np.sqrt(((x * x).sum(0) / n - (x.sum(0) / n) ** 2)
                             * ((y * y).sum(0) / n - (y.sum(0) / n) ** 2))
    corr[anchor[0]] = -np.inf  # the anchor itself is not in the set
    corr = np.where(np.isfinite(corr), corr, -np.inf)
    order = np.argsort(-corr, kind="stable")[:CORR_SET_SIZE]
    corr_set = eligible[order]
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(eligible), size=min(300, len(eligible)), replace=False)
    return Universe(values, sessions, list(close.columns), market_col, eligible, corr_set,
                    counts, _mean_pairwise_corr(res[:, order]),
                    _mean_pairwise_corr(res[:, sample]))


def draw_pairs(universe: Universe, design: str, reps: int, n: int, seed: int) -> list:
    """``reps`` replications of ``n`` (column, day-0 position) pairs for a design."""
    rng = np.random.default_rng([seed, DESIGNS.index(design)])
    positions = universe.day0_positions
    pool = universe.corr_set if design.endswith("_corr") else universe.eligible
    out = []
    for _ in range(reps):
        cols = rng.choice(pool, size=n, replace=False)
        if design in ("clustered", "clustered_corr"):
            pos = np.full(n, rng.choice(positions))
        elif design.startswith("few_days"):
            days = rng.choice(positions, size=FEW_DAYS, replace=False)
            pos = days[np.arange(n) % FEW_DAYS]
        else:
            pos = rng.choice(positions, size=n, replace=False)  # all different day 0s
        out.append(list(zip(cols.tolist(), pos.tolist())))
    return out


def _run_chunk(universe: Universe, reps: list, first_rep: int, effect: float,
               pseudo_draws: int, seed: int) -> pd.DataFrame:
    """One run_study over several replications; tests rows of the per-rep groups."""
    pairs = [(r, i, col, pos) for r, rep in enumerate(reps, first_rep)
             for i, (col, pos) in enumerate(rep)]
    close = np.empty((len(universe.sessions), len(pairs) + 1))
    close[:, 0] = universe.close[:, universe.market_col]
    aliases = [MARKET]
    for k, (_, _, col, pos) in enumerate(pairs, 1):
        close[:, k] = universe.close[:, col]
        if effect:
            close[pos:, k] *= 1.0 + effect
        aliases.append(f"P{k:06d}")
    frame = pd.DataFrame(close, index=universe.sessions, columns=aliases)
    panel = PricePanel(frame, frame, pd.DataFrame(0.0, index=frame.index, columns=aliases),
                       pd.Series(True, index=aliases), {t: "universe" for t in aliases})

    def event(eid, r, pos, tickers):
        return {"id": eid, "date": universe.sessions[pos].strftime("%Y-%m-%d"),
                "session": "before_open", "headline": "simulated null event",
                "source": "benchmarks/size_power.py",
                "sentiment": {"label": "neutral", "score": 50},
                "tickers": [{"ticker": t, "role": "subject", "direction": "up"}
                            for t in tickers], "tags": {"rep": str(r)}}

    # one event per replication and news day, linking the tickers of that day
    by_day: dict[tuple[int, int], list[str]] = {}
    for k, (r, _, _, pos) in enumerate(pairs, 1):
        by_day.setdefault((r, pos), []).append(aliases[k])
    events = [event(f"rep{r}-d{pos}", r, pos, names) for (r, pos), names in by_day.items()]
    calendar = parse_calendar({"name": "size_power", "events": events})
    config = StudyConfig(model="market", market=MARKET, group_by=("rep",),
                         pseudo_draws=pseudo_draws, seed=seed)
    result = run_study(calendar, panel, config)
    t = result.tests
    wanted = pd.MultiIndex.from_tuples(WINDOWS)
    t = t[(t["group"] != "all")
          & pd.MultiIndex.from_arrays([t["window_start"], t["window_end"]]).isin(wanted)]
    return t.assign(rep=t["group"].astype(int))


def simulate(universe: Universe, design: str, reps: int, n: int = 50, seed: int = 20260501,
             effect: float = 0.01, pseudo_draws: int = 199, chunk: int = 50) -> pd.DataFrame:
    """Tests rows (one per replication, window, statistic) of a design."""
    draws = draw_pairs(universe, design, reps, n, seed)
    eff = effect if design.endswith("power") else 0.0
    parts = [_run_chunk(universe, draws[s:s + chunk], s, eff, pseudo_draws, seed + s)
             for s in range(0, reps, chunk)]
    return pd.concat(parts, ignore_index=True)


def rejection_rates(tests: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """Share of replications rejecting at ``alpha``, per statistic (rows) and window."""
    ok = tests["p_value"].notna()
    rej = (tests["p_value"] < alpha).where(ok)
    out = (tests.assign(reject=rej)
           .groupby(["statistic", "window_start", "window_end"])["reject"].mean()
           .unstack(["window_start", "window_end"]))
    return out.reindex(list(STATISTICS))


def summary(tests: pd.DataFrame) -> dict:
    """Mean pairs per replication, mean KP r̄ per window, headline statistic of (0, 0)."""
    def win(w):
        return tests[(tests["window_start"] == w[0]) & (tests["window_end"] == w[1])]

    day0 = win((0, 0))
    per_rep = {w: win(w).drop_duplicates("rep") for w in WINDOWS}
    return {"mean_n": float(day0.drop_duplicates("rep")["n"].mean()),
            "rbar": {w: float(per_rep[w]["rbar"].mean()) for w in WINDOWS},
            "headline": ", ".join(sorted(set(day0.loc[day0["headline"], "statistic"])))}


def _fmt(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.1f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--seed", type=int, default=20260501)
    ap.add_argument("--effect", type=float, default=0.01)
    ap.add_argument("--pseudo-draws", type=int, default=199)
    ap.add_argument("--designs", default=",".join(DESIGNS),
                    help="comma-separated subset of the designs")
    args = ap.parse_args(argv)
    designs = tuple(d for d in args.designs.split(",") if d)
    unknown = set(designs) - set(DESIGNS)
    if unknown:
        print(f"unknown designs: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if not UNIVERSE_PATH.exists():
        print(f"universe file not found: {UNIVERSE_PATH}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    uni = load_universe(seed=args.seed)
    rates, info, times = {}, {}, {}
    for design in designs:
        t1 = time.perf_counter()
        tests = simulate(uni, design, args.reps, args.n, args.seed, args.effect,
                         args.pseudo_draws)
        times[design] = time.perf_counter() - t1
        rates[design], info[design] = rejection_rates(tests), summary(tests)
    total = time.perf_counter() - t0

    se = np.sqrt(ALPHA * (1 - ALPHA) / args.reps)
    titles = {"nonclustered": "size, non-clustered", "clustered": "size, clustered",
              "clustered_corr": "size, clustered-correlated",
              "few_days": f"size, {FEW_DAYS} news days",
              "few_days_corr": f"size, {FEW_DAYS} news days, correlated",
              "power": f"power, +{100 * args.effect:g}% AR",
              "few_days_power": f"power, {FEW_DAYS} news days, +{100 * args.effect:g}% AR"}
    print(f"## Rejection rates (%) at 5%, two-sided: R = {args.reps} replications, "
          f"N = {args.n} pairs each\n")
    head = ["statistic"] + [f"{titles[d]} {w}" for d in designs for w in WINDOWS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for stat in STATISTICS:
        cells = [_fmt(rates[d].loc[stat, w]) for d in designs for w in WINDOWS]
        print(f"| {stat} | " + " | ".join(cells) + " |")
    print()
    print(f"Binomial SE of a 5% rate with R = {args.reps}: {100 * se:.1f} points "
          f"(95% band {100 * (ALPHA - 1.96 * se):.1f}-{100 * (ALPHA + 1.96 * se):.1f}%). "
          f"n/a: pseudo_event_z is not computed for one-day windows.\n")
    print("| design | mean pairs with a day-0 AR | mean KP r̄ (0, 0) | mean KP r̄ (-1, 1) | "
          "headline statistic (0, 0) | seconds |")
    print("|---|---|---|---|---|---|")
    for d in designs:
        i = info[d]
        print(f"| {titles[d]} | {i['mean_n']:.1f} | {i['rbar'][(0, 0)]:.3f} | "
              f"{i['rbar'][(-1, 1)]:.3f} | {i['headline']} | {times[d]:.0f} |")
    print()
    print("Universe filter: " + "; ".join(f"{k}: {v}" for k, v in uni.filter_counts.items())
          + f". Day 0 drawn from {len(uni.day0_positions)} sessions "
          f"({uni.sessions[uni.day0_positions[0]].date()} to "
          f"{uni.sessions[uni.day0_positions[-1]].date()}).")
    names = [uni.tickers[c] for c in uni.corr_set]
    print(f"Correlated set: the {len(names)} eligible tickers whose full-sample market-model "
          f"residuals correlate most with {CORR_ANCHOR}'s (mean pairwise residual correlation "
          f"{uni.corr_set_rbar:.2f}, vs {uni.eligible_rbar:.2f} for 300 random eligible "
          f"tickers): {', '.join(names)}.")
    print(f"Model: market model on {MARKET}, default estimation (-260..-11) and CAR windows, "
          f"pseudo_draws = {args.pseudo_draws}, seed = {args.seed}. Total runtime "
          f"{total:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
