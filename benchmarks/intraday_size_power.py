"""Size and power of the intraday study's tests on synthetic minute bars.

Data: tests/minute_bars.py's one-factor minute bars with a U-shaped time-of-day volatility
(2.5x at the open, 1.5x at the close). Placebo news at random minutes:

* **size per pair**: share of |z| > 1.96 by horizon, with the study's time-of-day
  variances and with one variance for every bar (``sigma^2 x bars``): the second
  over-rejects near the open and under-rejects at midday;
* **size of the pooled test with correlated tickers**: two tickers sharing most of their
  noise, each event's pair pooled (a) as the study does, through the signed portfolio's
  own variance, and (b) naively, Stouffer over pairs as if independent;
* **power**: a planted jump at bar 0 of every placebo event.

    python benchmarks/intraday_size_power.py [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backtest.intraday.bars import IntradayBars  # noqa: E402
from backtest.intraday.study import IntradayConfig, run_intraday_study  # noqa: E402
from events.model import Calendar, Event, LinkedTicker, Sentiment  # noqa: E402
from tests.minute_bars import minute_bars  # noqa: E402

HORIZONS = ("5m", "30m", "close")


def _events(index, picks, tickers):
    links = tuple(LinkedTicker(t, "partner", "down") for t in tickers)
    return tuple(Event(f"p{k}", "placebo", "bench", Sentiment("bearish", 70), links,
                       timestamp=index[k]) for k in picks)


def _placebos(bars, rng):
    """One placebo minute per session after the first 35 days, at least 60 bars before
    the session's close: events of one session would share their bars to the close, and
    their tests would not be independent draws."""
    index = bars.index
    session = bars.session
    keep = index >= index[0] + pd.Timedelta(days=35)
    picks = []
    for day in pd.unique(session[keep]):
        pos = np.flatnonzero(session == day)
        picks.append(int(rng.choice(pos[:-60])))
    return index, np.array(picks)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    t = time.perf_counter()
    cfg = IntradayConfig(horizons=HORIZONS, group_by=(), exclude_other_events=False)

    # 1. size per pair, time-of-day scaling vs one variance
    bars = IntradayBars.from_long(minute_bars(["AAA"], "2024-01-02", "2026-04-29",
                                              seed=args.seed), pd.Timedelta("1min"))
    index, picks = _placebos(bars, rng)
    r = run_intraday_study(Calendar("b", _events(index, picks, ["AAA"])), bars, cfg)
    h = r.horizons.merge(r.pairs[["event_id", "ticker", "sigma", "bar0"]],
                         on=["event_id", "ticker"])
    h["z_flat"] = h["car"] / (h["sigma"] * np.sqrt(h["bars"]))
    local = pd.DatetimeIndex(h["bar0"]).tz_convert("America/New_York")
    h["part"] = np.where(local.hour * 60 + local.minute < 10 * 60 + 30, "first hour",
                         "later")
    print(f"Size at 5% (|z| > 1.96), {len(picks)} placebo events (one per session), "
          f"one ticker")
    print(f"{'horizon':<8} {'part':<11} {'N':>4} {'time-of-day z':>14} {'one variance':>13}")
    for (hz, part), g in h.groupby(["horizon", "part"], sort=False):
        print(f"{hz:<8} {part:<11} {len(g):>4} {np.mean(np.abs(g['z']) > 1.96):>14.3f} "
              f"{np.mean(np.abs(g['z_flat']) > 1.96):>13.3f}")

    # 2. pooled size with two correlated tickers (shared noise: corr about 0.8)
    base = minute_bars(["AAA", "BBB"], "2024-01-02", "2026-04-29", seed=args.seed + 1,
                       sigma=0.0004)
    common = minute_bars(["CMN"], "2024-01-02", "2026-04-29", seed=args.seed + 2,
                         sigma=0.0008, market_sigma=0.0)
    noise = np.log(common[common["ticker"] == "CMN"].set_index("timestamp")["close"])
    parts = []
    for t_ in ("AAA", "BBB"):
        one = base[base["ticker"] == t_].set_index("timestamp")
        shift = np.exp(noise - noise.iloc[0])
        parts.append(one.assign(open=one["open"] * shift.shift(1).fillna(1.0),
                                close=one["close"] * shift,
                                high=lambda f: np.maximum(f["open"], f["close"]) * 1.0005,
                                low=lambda f: np.minimum(f["open"], f["close"]) * 0.9995))
    spy = base[base["ticker"] == "SPY"].set_index("timestamp")
    corr_long = pd.concat([spy, *parts]).reset_index()
    bars2 = IntradayBars.from_long(corr_long, pd.Timedelta("1min"))
    index2, picks2 = _placebos(bars2, rng)
    cfg2 = IntradayConfig(horizons=HORIZONS, group_by=(), exclude_other_events=False)
    events2 = _events(index2, picks2, ["AAA", "BBB"])
    r2 = run_intraday_study(Calendar("b", events2), bars2, cfg2)
    print(f"\nPooled size at 5%, two tickers per event with correlated noise, "
          f"{len(picks2)} events (one per session)")
    print(f"{'horizon':<8} {'portfolio z':>12} {'naive Stouffer over pairs':>26}")
    for hz in HORIZONS:
        hh = r2.horizons[r2.horizons["horizon"] == hz]
        # per event: the study's portfolio z vs the pairs' z combined as if independent
        naive = hh.groupby("event_id")["z"].apply(lambda z: -z.sum() / np.sqrt(len(z)))
        port = []
        for ev in events2:
            one = run_intraday_study(Calendar("b", (ev,)), bars2, cfg2)
            row = one.pooled[one.pooled["horizon"] == hz]
            port.append(float(row["z"].iloc[0]))
        print(f"{hz:<8} {np.mean(np.abs(port) > 1.96):>12.3f} "
              f"{np.mean(np.abs(naive.iloc[:len(port)]) > 1.96):>26.3f}")
    rho = np.corrcoef(np.diff(np.log(bars2.close["AAA"].to_numpy()[:5000])),
                      np.diff(np.log(bars2.close["BBB"].to_numpy()[:5000])))[0, 1]
    print(f"(correlation of the two tickers' minute returns: {rho:.2f}; portfolio z from "
          f"{len(events2)} single-event studies)")

    # 3. power: a jump at bar 0 of every placebo event
    print("\nPower at 5%, one ticker, jump at bar 0 (minute returns sd about 0.09%)")
    print(f"{'jump':>6} {'5m':>6} {'30m':>6} {'close':>6}")
    for jump in (0.001, 0.002, 0.004):
        long = minute_bars(["AAA"], "2024-01-02", "2026-04-29", seed=args.seed,
                           jumps={"AAA": [(index[k], jump) for k in picks]})
        bj = IntradayBars.from_long(long, pd.Timedelta("1min"))
        rj = run_intraday_study(Calendar("b", _events(index, picks, ["AAA"])), bj, cfg)
        hz = rj.horizons.groupby("horizon")["p"].apply(lambda p: np.mean(p < 0.05))
        print(f"{jump:>6.3f} {hz['5m']:>6.3f} {hz['30m']:>6.3f} {hz['close']:>6.3f}")
    print(f"\n{time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
