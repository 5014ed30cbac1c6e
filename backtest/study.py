"""The event study: abnormal returns for every (event, ticker) pair.

>>> from backtest import study
>>> result = study("openai")                        # bundled calendar and prices
>>> result.car.query("window_start == 0 and window_end == 0")   # doctest: +SKIP

Method (market model, MacKinlay 1997):

* Day 0 is the first session in which the news could trade
  (:func:`events.timing.event_timing`); relative days count exchange sessions.
* The estimation window is ``estimation_length`` sessions ending ``gap + 1``
  sessions before day 0 (defaults 250 and 10: days -260..-11). The market
  model is fitted by OLS on the days where both the stock and the market
  have a return; pairs with fewer than ``min_estimation_obs`` such days are
  skipped, with the reason, in ``skipped``.
* ARs are computed over ``event_window`` (default -5..+10). A missing
  return stays missing (offsets are never shifted); a CAR over a window with
  any missing AR is NaN, and the row says how many days were missing.
* CAR t-statistics use the CAR variance including estimation error and the
  covariance of the ARs (:func:`backtest.stats.car_variance`), Student-t with
  n - 2 degrees of freedom.
* CAAR per group (default: sentiment label x role) with the cross-sectional
  t-test and 95% interval (:func:`backtest.stats.cross_sectional_test`).
  Pairs that share a news day are not independent, so this test overstates
  significance for clustered events; the report says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from backtest import stats
from backtest.prices import PricePanel
from events.errors import InputError
from events.model import Calendar
from events.timing import event_timing, timing_table

DEFAULT_CAR_WINDOWS = ((-1, 1), (0, 0), (0, 1), (0, 5), (2, 10), (-5, 10))


@dataclass(frozen=True)
class StudyConfig:
    """Settings of an event study; every field has the default the docs describe."""

    market: str = "SPY"
    estimation_length: int = 250
    gap: int = 10
    event_window: tuple[int, int] = (-5, 10)
    car_windows: tuple[tuple[int, int], ...] = DEFAULT_CAR_WINDOWS
    min_estimation_obs: int = 120
    group_by: tuple[str, ...] = ("label", "role")

    def __post_init__(self):
        a, b = self.event_window
        if a > 0 or b < 0:
            raise InputError(f"event window must contain day 0, got ({a}, {b})",
                             field="event_window")
        if self.estimation_length < 3 or self.gap < 0:
            raise InputError("estimation_length must be >= 3 and gap >= 0",
                             field="estimation_length")
        if -(self.gap + 1) >= a:
            raise InputError(f"estimation window (ends at day {-(self.gap + 1)}) overlaps the "
                             f"event window starting at day {a}", field="gap")
        for s, e in self.car_windows:
            if not (a <= s <= e <= b):
                raise InputError(f"CAR window ({s}, {e}) is not inside the event window "
                                 f"({a}, {b})", field="car_windows")
        if self.min_estimation_obs < 3:
            raise InputError("min_estimation_obs must be at least 3", field="min_estimation_obs")

    @property
    def estimation_offsets(self) -> np.ndarray:
        end = -(self.gap + 1)
        return np.arange(end - self.estimation_length + 1, end + 1)

    @property
    def event_offsets(self) -> np.ndarray:
        return np.arange(self.event_window[0], self.event_window[1] + 1)


@dataclass
class StudyResult:
    """Tidy outputs of :func:`run_study` (pandas frames, one row per observation).

    ar : event_id, ticker, role, label, rel_day, date, ret, market, expected, ar, sar, car
    car : event_id, ticker, role, label, window_start, window_end, car, car_se, car_t,
        car_p, n_missing
    caar : group, rel_day, n, aar, caar, caar_lo, caar_hi (95% cross-sectional band)
    tests : group, window_start, window_end, n, mean_car, sd, t, p_value, ci_lo, ci_hi
    estimates : event_id, ticker, alpha, beta, sigma, n_est
    skipped : event_id, ticker, reason
    timing : the event audit table (:func:`events.timing.timing_table`)
    """

    ar: pd.DataFrame
    car: pd.DataFrame
    caar: pd.DataFrame
    tests: pd.DataFrame
    estimates: pd.DataFrame
    skipped: pd.DataFrame
    timing: pd.DataFrame
    config: StudyConfig
    data_hash: str
    data_source: str = ""
    extra: dict = field(default_factory=dict)

    def settings(self) -> dict:
        """The config as plain JSON-able values."""
        return {k: (list(map(list, v)) if k == "car_windows" else
                    list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(self.config).items()}


def _pairs(calendar: Calendar, panel: PricePanel, config: StudyConfig):
    """Resolve (event, ticker) pairs to panel positions; collect skip reasons."""
    sessions = panel.sessions
    rows, skipped = [], []
    for event in calendar:
        timing = event_timing(event)
        for link in event.tickers:
            base = {"event_id": event.id, "ticker": link.ticker}
            if link.ticker == config.market:
                skipped.append({**base, "reason": f"is the market benchmark ({config.market})"})
                continue
            if link.ticker not in panel.close.columns:
                skipped.append({**base, "reason": "no price data for this ticker"})
                continue
            if timing.day0 not in sessions:
                skipped.append({**base, "reason": f"day 0 ({timing.day0.date()}) is outside the "
                                f"price data ({sessions[0].date()} to {sessions[-1].date()})"})
                continue
            rows.append({**base, "role": link.role, "direction": link.direction,
                         "label": event.sentiment.label, "score": event.sentiment.score,
                         "day0": timing.day0, "pos0": sessions.get_loc(timing.day0)})
    return pd.DataFrame(rows), skipped


def _gather(values: np.ndarray, pos: np.ndarray, cols: np.ndarray | None, offsets: np.ndarray
            ) -> np.ndarray:
    """``values[pos + offset, col]`` for every pair and offset; NaN outside the data."""
    rows = pos[:, None] + offsets[None, :]
    inside = (rows >= 0) & (rows < values.shape[0])
    rows = np.clip(rows, 0, values.shape[0] - 1)
    out = values[rows] if cols is None else values[rows, cols[:, None]]
    return np.where(inside, out, np.nan)


def run_study(calendar: Calendar, panel: PricePanel, config: StudyConfig | None = None
              ) -> StudyResult:
    """Market-model event study of every (event, linked ticker) pair in ``calendar``."""
    config = config or StudyConfig()
    if config.market not in panel.close.columns:
        raise InputError(f"market benchmark {config.market} is not in the price data",
                         field="market")
    pairs, skipped = _pairs(calendar, panel, config)
    returns = panel.returns
    tickers = list(returns.columns)
    r = returns.to_numpy(dtype="float64")
    m = returns[config.market].to_numpy(dtype="float64")

    if not pairs.empty:
        pos = pairs["pos0"].to_numpy()
        cols = pairs["ticker"].map(tickers.index).to_numpy()
        est_y = _gather(r, pos, cols, config.estimation_offsets)
        est_x = _gather(m, pos, None, config.estimation_offsets)
        fit = stats.fit_market_model(est_y, est_x)
        enough = fit.n >= config.min_estimation_obs
        for i in np.flatnonzero(~enough):
            skipped.append({"event_id": pairs.at[i, "event_id"], "ticker": pairs.at[i, "ticker"],
                            "reason": f"insufficient estimation data: {int(fit.n[i])} of "
                                      f"{config.estimation_length} returns (minimum "
                                      f"{config.min_estimation_obs})"})
        pairs = pairs[enough].reset_index(drop=True)
        keep = np.flatnonzero(enough)
        fit = stats.MarketModelFit(*(getattr(fit, f)[keep] for f in
                                     ("alpha", "beta", "sigma2", "n", "x_mean", "x_ss")))
        pos, cols = pos[keep], cols[keep]
    skipped_df = pd.DataFrame(skipped, columns=["event_id", "ticker", "reason"])

    if pairs.empty:
        empty = pd.DataFrame()
        return StudyResult(empty, empty, empty, empty, empty, skipped_df,
                           timing_table(calendar), config, panel.data_hash, panel.source_text())

    offsets = config.event_offsets
    y = _gather(r, pos, cols, offsets)
    x = _gather(m, pos, None, offsets)
    ar = stats.abnormal_returns(y, x, fit)
    sar = ar / np.sqrt(stats.prediction_error_variance(x, fit))
    dates = _gather(panel.sessions.asi8.astype("float64"), pos, None, offsets)

    ar_df = _ar_frame(pairs, offsets, y, x, ar, sar, dates)
    car_df = _car_frame(pairs, offsets, ar, x, fit, config)
    caar_df = _caar_frame(pairs, offsets, ar, config)
    tests_df = _tests_frame(pairs, car_df, config)
    estimates = pairs[["event_id", "ticker"]].assign(
        alpha=fit.alpha, beta=fit.beta, sigma=np.sqrt(fit.sigma2), n_est=fit.n)
    return StudyResult(ar_df, car_df, caar_df, tests_df, estimates, skipped_df,
                       timing_table(calendar), config, panel.data_hash, panel.source_text())


def _ar_frame(pairs, offsets, y, x, ar, sar, dates) -> pd.DataFrame:
    n_pairs, n_days = ar.shape
    rep = pairs.loc[np.repeat(np.arange(n_pairs), n_days),
                    ["event_id", "ticker", "role", "label"]].reset_index(drop=True)
    date = pd.to_datetime(np.where(np.isfinite(dates), dates, np.nan).ravel())
    cum = np.cumsum(ar, axis=1)  # NaN from the first missing day on
    return rep.assign(rel_day=np.tile(offsets, n_pairs), date=date, ret=y.ravel(),
                      market=x.ravel(), expected=(y - ar).ravel(), ar=ar.ravel(),
                      sar=sar.ravel(), car=cum.ravel())


def _window_slice(offsets: np.ndarray, start: int, end: int) -> slice:
    i = int(np.searchsorted(offsets, start))
    return slice(i, i + end - start + 1)


def _car_frame(pairs, offsets, ar, x, fit, config) -> pd.DataFrame:
    frames = []
    for start, end in config.car_windows:
        sl = _window_slice(offsets, start, end)
        window_ar, window_x = ar[:, sl], x[:, sl]
        missing = (~np.isfinite(window_ar)).sum(axis=1)
        car = np.where(missing == 0, np.nansum(window_ar, axis=1), np.nan)
        se = np.sqrt(stats.car_variance(window_x, fit))
        t = car / se
        frames.append(pairs[["event_id", "ticker", "role", "label"]].assign(
            window_start=start, window_end=end, car=car, car_se=se, car_t=t,
            car_p=stats.t_pvalue(t, fit.n - 2), n_missing=missing))
    return pd.concat(frames, ignore_index=True)


def _group_keys(frame: pd.DataFrame, group_by: tuple[str, ...]) -> pd.Series:
    if not group_by:
        return pd.Series("all", index=frame.index)
    return frame[list(group_by)].astype(str).agg(" ".join, axis=1)


def _caar_frame(pairs, offsets, ar, config) -> pd.DataFrame:
    """CAAR path per group: mean over pairs of CAR(a, tau), tau = a..b, with its 95% band."""
    cum = np.cumsum(ar, axis=1)
    keys = _group_keys(pairs, config.group_by)
    frames = []
    for group in ["all", *sorted(keys.unique())]:
        rows = np.ones(len(pairs), bool) if group == "all" else (keys == group).to_numpy()
        cs = stats.cross_sectional_test(cum[rows], axis=0)
        aar = np.nanmean(ar[rows], axis=0) if rows.sum() else np.full(len(offsets), np.nan)
        frames.append(pd.DataFrame({"group": group, "rel_day": offsets, "n": cs.n, "aar": aar,
                                    "caar": cs.mean, "caar_lo": cs.lo, "caar_hi": cs.hi}))
    return pd.concat(frames, ignore_index=True)


def _tests_frame(pairs, car_df, config) -> pd.DataFrame:
    keys = _group_keys(car_df, config.group_by)
    rows = []
    for (start, end), sub in car_df.groupby(["window_start", "window_end"], sort=False):
        for group in ["all", *sorted(keys.unique())]:
            values = sub["car"] if group == "all" else sub.loc[keys[sub.index] == group, "car"]
            cs = stats.cross_sectional_test(values.to_numpy()[:, None], axis=0)
            rows.append({"group": group, "window_start": start, "window_end": end,
                         "n": int(cs.n[0]), "mean_car": cs.mean[0], "sd": cs.sd[0],
                         "t": cs.t[0], "p_value": cs.p[0], "ci_lo": cs.lo[0],
                         "ci_hi": cs.hi[0]})
    return pd.DataFrame(rows)
