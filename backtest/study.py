"""The event study: abnormal returns for every (event, ticker) pair.

>>> import backtest
>>> res = backtest.study("openai", model="market")           # bundled calendar and prices
>>> res.car.query("window_start == 0 and window_end == 0")    # doctest: +SKIP
>>> res.tests.query("headline")                                # doctest: +SKIP

Method
------
* **Day 0** is the first session in which the news could trade
  (:func:`events.timing.event_timing`). Relative days count exchange sessions
  of the price panel, whose index holds every session, so a missing price is
  a missing return and offsets never shift.
* **Estimation window**: ``estimation_length`` sessions ending ``gap + 1``
  sessions before day 0 (defaults 250 and 10: days -260..-11). Days inside the
  event window of another calendar event of the same ticker are left out of it
  (``exclude_other_events``). Pairs with fewer than ``min_estimation_obs``
  usable days are skipped with the reason.
* **Models** (:mod:`backtest.models`): constant_mean, market_adjusted, market,
  factors (tickers or a factor file, RF subtracted where given), dimson,
  scholes_williams. Simple or log returns.
* **Measures**: AR, standardized AR (prediction-error variance), CAR per window
  with its variance including the covariance of the ARs, BHAR, CAAR paths.
* **Tests** across pairs, per day and per window (:mod:`backtest.stats`):
  cross-sectional t, Brown-Warner 1980 (crude dependence adjustment) and 1985
  (independence), Patell Z, BMP, Kolari-Pynnonen adjusted BMP and Patell,
  Corrado rank, Corrado-Zivney sign, generalized sign, Wilcoxon signed-rank,
  and a random pseudo-event-date test.
* **Clustering**: when two pairs of a group have windows on the same calendar
  days (one headline, several tickers; or one ticker in two nearby events)
  their ARs are cross-correlated and BMP/Patell over-reject; the
  Kolari-Pynnonen adjusted BMP is then the *headline* statistic of the group
  for that window (``tests.headline``), with r̄ weighted by calendar overlap
  (:func:`backtest.stats.mean_cross_correlation`). Otherwise the headline is BMP.
* **Confounding**: pairs whose event window overlaps another event window of
  the same ticker are flagged (``confounded_with``), not dropped.

Missing data: an AR is missing where the return or a regressor is; a CAR or
BHAR over a window with any missing day is NaN and ``n_missing`` says how many.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from backtest import models, stats
from backtest.prices import PricePanel
from backtest.quality import check_panel
from events.errors import InputError
from events.model import Calendar
from events.timing import event_timing, exchange_for, timing_table

DEFAULT_CAR_WINDOWS = ((-1, 1), (0, 0), (0, 1), (0, 5), (2, 10), (-5, 10))
BLOCK = 20_000  # pairs fitted at a time: bounds the (pairs x days x regressors) temporaries
STATISTICS = ("csect_t", "bw1980_cda_t", "bw1985_t", "patell_z", "kp_patell_z", "bmp_t",
              "kp_bmp_t", "corrado_rank_z", "cz_sign_z", "generalized_sign_z", "wilcoxon_w",
              "pseudo_event_z")
PAIR_COLUMNS = ("event_id", "ticker", "role", "label", "direction", "score")


@dataclass(frozen=True)
class StudyConfig:
    """Settings of an event study; every default is the one the docs describe."""

    model: str = "market"
    market: str = "SPY"
    factors: tuple[str, ...] = ()  # tickers used as factors by model="factors"
    returns: str = "simple"  # "simple" or "log"
    estimation_length: int = 250
    gap: int = 10
    event_window: tuple[int, int] = (-5, 10)
    car_windows: tuple[tuple[int, int], ...] = DEFAULT_CAR_WINDOWS
    min_estimation_obs: int = 120
    exclude_other_events: bool = True
    group_by: tuple[str, ...] = ("label", "role")
    pseudo_draws: int = 999  # random pseudo-event draws; 0 turns the test off
    seed: int = 20260428
    move_threshold: float = 0.25  # data quality: flag one-day moves beyond this, off-event

    def __post_init__(self):
        object.__setattr__(self, "event_window", tuple(self.event_window))
        object.__setattr__(self, "car_windows", tuple(tuple(w) for w in self.car_windows))
        object.__setattr__(self, "factors", tuple(self.factors))
        object.__setattr__(self, "group_by", tuple(self.group_by))
        if self.model not in models.MODELS:
            raise InputError(f"unknown model {self.model!r} (one of {', '.join(models.MODELS)})",
                             field="model")
        if self.returns not in ("simple", "log"):
            raise InputError(f"returns must be 'simple' or 'log', got {self.returns!r}",
                             field="returns")
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
        if not 3 <= self.min_estimation_obs <= self.estimation_length:
            raise InputError("min_estimation_obs must be between 3 and estimation_length",
                             field="min_estimation_obs")

    @property
    def estimation_offsets(self) -> np.ndarray:
        end = -(self.gap + 1)
        return np.arange(end - self.estimation_length + 1, end + 1)

    @property
    def event_offsets(self) -> np.ndarray:
        return np.arange(self.event_window[0], self.event_window[1] + 1)


@dataclass
class StudyResult:
    """Tidy outputs of :func:`run_study`; the column lists are a stable schema.

    ar : event_id, ticker, role, rel_day, date, ret, expected, ar, sar, label, cum_ar
    car : event_id, ticker, role, window_start, window_end, car, car_t, car_p, bhar,
        label, car_se, n_missing, confounded_with
    caar : group, rel_day, n, aar, caar, caar_lo, caar_hi (cross-sectional 95% band)
    tests : group, window_start, window_end, n, mean, statistic, value, p_value, headline,
        rbar, n_pos, n_neg
    estimates : event_id, ticker, model, coef_*, sigma, n_est, n_excluded, confounded_with
    skipped : event_id, ticker, reason
    timing : the event audit table (:func:`events.timing.timing_table`)
    quality : data-quality findings, check, ticker, date, detail (:mod:`backtest.quality`)
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
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)

    def settings(self) -> dict:
        """The config as plain JSON-able values."""
        out = asdict(self.config)
        out["event_window"] = list(self.config.event_window)
        out["car_windows"] = [list(w) for w in self.config.car_windows]
        out["factors"] = list(self.config.factors)
        out["group_by"] = list(self.config.group_by)
        return out

    def headline(self) -> pd.DataFrame:
        """The headline statistic of each group for each configured CAR window."""
        t = self.tests
        windows = set(self.config.car_windows)
        in_windows = np.array([(s, e) in windows for s, e in zip(t["window_start"],
                                                                 t["window_end"])], dtype=bool)
        return t[t["headline"].to_numpy(dtype=bool) & in_windows]


# --------------------------------------------------------------------------------------
# pairs, windows, regressors
# --------------------------------------------------------------------------------------


def _pairs(calendar: Calendar, panel: PricePanel, config: StudyConfig):
    """Resolve (event, ticker) pairs to panel positions; collect skip reasons."""
    sessions = panel.sessions
    position = {d: i for i, d in enumerate(sessions)}
    market_exchange = exchange_for(config.market)
    tickers = set(panel.tickers)
    rows, skipped = [], []
    for event in calendar:
        timing = event_timing(event, market_exchange)
        for link in event.tickers:
            base = {"event_id": event.id, "ticker": link.ticker}
            exchange = exchange_for(link.ticker, link.exchange)
            if exchange != market_exchange:
                skipped.append({**base, "reason": f"trades on {exchange}, the market benchmark "
                                f"{config.market} on {market_exchange}: one exchange per study"})
            elif link.ticker == config.market:
                skipped.append({**base, "reason": f"is the market benchmark ({config.market})"})
            elif config.model == "factors" and link.ticker in config.factors:
                skipped.append({**base, "reason": f"is a factor of the model ({link.ticker})"})
            elif link.ticker not in tickers:
                skipped.append({**base, "reason": "no price data for this ticker"})
            elif timing.day0 not in position:
                skipped.append({**base, "reason": f"day 0 ({timing.day0.date()}) is outside the "
                                f"price data ({sessions[0].date()} to {sessions[-1].date()})"})
            else:
                rows.append({**base, "role": link.role, "label": event.sentiment.label,
                             "direction": link.direction, "score": event.sentiment.score,
                             **{k: v for k, v in event.tags.items()},
                             "day0": timing.day0, "pos0": position[timing.day0]})
    return pd.DataFrame(rows), skipped


def _gather(values: np.ndarray, pos: np.ndarray, cols: np.ndarray | None, offsets: np.ndarray
            ) -> np.ndarray:
    """``values[pos + offset, col]`` for every pair and offset; NaN outside the data.

    ``values`` is (T,) or (T, N) with ``cols`` (P,), or (T, K) regressors with
    ``cols`` None, giving (P, W) or (P, W, K).
    """
    rows = pos[:, None] + offsets[None, :]
    inside = (rows >= 0) & (rows < values.shape[0])
    rows = np.clip(rows, 0, values.shape[0] - 1)
    out = values[rows] if cols is None else values[rows, cols[:, None]]
    if out.ndim == 3:
        inside = inside[:, :, None]
    return np.where(inside, out, np.nan)


def _other_event_windows(pairs: pd.DataFrame, config: StudyConfig, n_sessions: int):
    """Estimation-day mask of other events' windows, and confounded-with labels, per pair.

    Per ticker, a coverage count over sessions of all its event windows: a pair's
    estimation day is excluded where the count is positive (its own window never
    reaches its own estimation window, which ends before day ``a``).
    """
    a, b = config.event_window
    est = config.estimation_offsets
    codes, uniques = pd.factorize(pairs["ticker"])
    pos = pairs["pos0"].to_numpy()
    cover = np.zeros((n_sessions + 1, len(uniques)), dtype=np.int32)
    np.add.at(cover, (np.clip(pos + a, 0, n_sessions), codes), 1)
    np.add.at(cover, (np.clip(pos + b + 1, 0, n_sessions), codes), -1)
    cover = np.cumsum(cover, axis=0)[:n_sessions]
    rows = pos[:, None] + est[None, :]
    inside = (rows >= 0) & (rows < n_sessions)
    excluded = inside & (cover[np.clip(rows, 0, n_sessions - 1), codes[:, None]] > 0)
    # Confounded: another pair of the same ticker within b - a sessions (neighbours in order).
    order = np.lexsort((pos, codes))
    same = codes[order][1:] == codes[order][:-1]
    close = same & (np.diff(pos[order]) <= b - a)
    flagged = np.zeros(len(pairs), bool)
    flagged[order[1:][close]] = True
    flagged[order[:-1][close]] = True
    confounded = [""] * len(pairs)
    ids = pairs["event_id"].to_numpy()
    # Pairs of one ticker are contiguous in ``order``; look for overlaps only there.
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for group in np.split(order, bounds):
        if len(group) < 2 or not flagged[group].any():
            continue
        gpos = pos[group]
        for i in group[flagged[group]]:
            near = group[np.abs(gpos - pos[i]) <= b - a]
            confounded[i] = "+".join(ids[j] for j in near if j != i)
    return excluded, confounded


def _regressors(model: str, market: np.ndarray, factors: np.ndarray | None) -> np.ndarray:
    """Regressor matrix (T, K) of a model on the session timeline."""
    ones = np.ones_like(market)
    if model == "constant_mean":
        return ones[:, None]
    if model == "factors":
        return np.column_stack([ones, factors])
    if model == "dimson":
        lag = np.concatenate([[np.nan], market[:-1]])
        lead = np.concatenate([market[1:], [np.nan]])
        return np.column_stack([ones, lag, market, lead])
    return np.column_stack([ones, market])  # market, market_adjusted, scholes_williams


def _fit(model: str, y: np.ndarray, X: np.ndarray, market_x: np.ndarray | None
         ) -> models.ModelFit:
    if model == "market_adjusted":
        return models.fit_fixed(y, X, np.array([0.0, 1.0]))
    if model == "scholes_williams":
        return models.fit_scholes_williams(y, X[:, :, 1], market_x[:, :, 0], market_x[:, :, 2])
    return models.fit_ols(y, X)


def _factor_matrix(config: StudyConfig, panel: PricePanel, factor_data: pd.DataFrame | None,
                   transform) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
    """(factor returns (T, k), risk-free (T,) or None, names) for model="factors"."""
    if config.model != "factors":
        return None, None, []
    if factor_data is not None:
        data = factor_data.reindex(panel.sessions)
        names = [c for c in data.columns if c.upper() != "RF"]
        rf = data["RF"].to_numpy(dtype="float64") if "RF" in data.columns else None
        return data[names].to_numpy(dtype="float64"), rf, names
    names = list(config.factors) or [config.market]
    missing = [t for t in names if t not in panel.close.columns]
    if missing:
        raise InputError(f"factor tickers not in the price data: {', '.join(missing)}",
                         field="factors")
    return transform(panel.returns[names].to_numpy(dtype="float64")), None, names


# --------------------------------------------------------------------------------------
# the study
# --------------------------------------------------------------------------------------


def run_study(calendar: Calendar, panel: PricePanel, config: StudyConfig | None = None,
              factor_data: pd.DataFrame | None = None, client=None, block: int = BLOCK
              ) -> StudyResult:
    """Event study of every (event, linked ticker) pair of ``calendar`` on ``panel``.

    With a Dask ``client`` (:mod:`backtest.cluster`) the per-pair fits run on the
    cluster in blocks of ``block`` pairs; the results are identical.

    ``factor_data`` (optional, for ``model="factors"``): factor returns indexed
    by session date in decimals, e.g. from :func:`backtest.factors.load_factor_csv`;
    an ``RF`` column is subtracted from the stocks' returns.
    """
    config = config or StudyConfig()
    if config.market not in panel.close.columns:
        raise InputError(f"market benchmark {config.market} is not in the price data",
                         field="market")
    transform = np.log1p if config.returns == "log" else (lambda a: a)
    pairs, skipped = _pairs(calendar, panel, config)
    timing = timing_table(calendar)
    used = [*dict.fromkeys([*pairs.get("ticker", []), config.market, *config.factors])]
    available = set(panel.tickers)
    quality_df = check_panel(panel.select([t for t in used if t in available]),
                             pairs if not pairs.empty else None, config.event_window,
                             int(config.estimation_offsets[0]), config.move_threshold)
    empty = StudyResult(*(pd.DataFrame() for _ in range(5)),
                        pd.DataFrame(skipped, columns=["event_id", "ticker", "reason"]),
                        timing, config, panel.data_hash, panel.source_text(),
                        quality=quality_df)
    if pairs.empty:
        return empty

    simple = panel.returns.to_numpy(dtype="float64")
    r = transform(simple)
    market = r[:, list(panel.returns.columns).index(config.market)]
    fmat, rf, fnames = _factor_matrix(config, panel, factor_data, transform)
    if rf is not None:
        r = r - rf[:, None]
    reg = _regressors(config.model, market, fmat)
    market3 = _regressors("dimson", market, None)[:, 1:]  # lag, market, lead (Scholes-Williams)

    pos = pairs["pos0"].to_numpy()
    cols = pairs["ticker"].map({t: j for j, t in enumerate(panel.returns.columns)}).to_numpy()
    est_off, evt_off = config.estimation_offsets, config.event_offsets

    excluded, confounded = _other_event_windows(pairs, config, len(panel.sessions))
    if not config.exclude_other_events:
        excluded = np.zeros_like(excluded)
    if client is not None:
        from backtest.cluster import fit_distributed

        fit = fit_distributed(client, r, reg, market3, pos, cols, excluded, config, block)
    else:
        fit = fit_blocks(r, reg, market3, pos, cols, excluded, config, block)

    enough = (fit.n >= config.min_estimation_obs) & np.isfinite(fit.sigma2)
    for i in np.flatnonzero(~enough):
        skipped.append({"event_id": pairs.at[i, "event_id"], "ticker": pairs.at[i, "ticker"],
                        "reason": f"insufficient estimation data: {int(fit.n[i])} of "
                                  f"{config.estimation_length} returns (minimum "
                                  f"{config.min_estimation_obs})"})
    keep = np.flatnonzero(enough)
    pairs = pairs.iloc[keep].reset_index(drop=True)
    fit, pos, cols = fit.take(keep), pos[keep], cols[keep]
    excluded, confounded = excluded[keep], [confounded[i] for i in keep]
    skipped_df = pd.DataFrame(skipped, columns=["event_id", "ticker", "reason"])
    if pairs.empty:
        empty.skipped = skipped_df
        return empty

    y = _gather(r, pos, cols, evt_off)
    X = _gather(reg, pos, None, evt_off)
    expected = models.predict(fit, X)
    ar = y - expected
    with np.errstate(invalid="ignore", divide="ignore"):  # missing days stay NaN
        sar = ar / np.sqrt(models.prediction_variance(fit, X))
    # BHAR compounds simple returns: back out of logs and add the risk-free rate back.
    rf_evt = _gather(rf, pos, None, evt_off) if rf is not None else 0.0
    y_simple = _gather(simple, pos, cols, evt_off)
    exp_simple = (np.expm1(expected) if config.returns == "log" else expected) + rf_evt
    date_idx = pos[:, None] + evt_off[None, :]
    dates = np.where((date_idx >= 0) & (date_idx < len(panel.sessions)),
                     date_idx, -1)

    ar_df = _ar_frame(pairs, evt_off, y, expected, ar, sar, dates, panel.sessions)
    car_df = _car_frame(pairs, evt_off, ar, X, y_simple, exp_simple, fit, config, confounded)
    caar_df = _caar_frame(pairs, evt_off, ar, config)
    est_days = (pos[:, None] + est_off[None, :])
    tests_df = _tests_frame(pairs, ar, X, fit, est_days, len(panel.sessions), config)
    coef = pd.DataFrame(fit.coef, columns=[f"coef_{n}" for n in
                                           _coef_names(config.model, fnames)])
    if config.model == "dimson":  # Dimson's beta is the sum of the three slopes
        coef["beta_sum"] = coef[["coef_beta_lag", "coef_beta", "coef_beta_lead"]].sum(axis=1)
    estimates = pd.concat([pairs[["event_id", "ticker"]].assign(model=config.model), coef],
                          axis=1).assign(sigma=np.sqrt(fit.sigma2), n_est=fit.n,
                                         n_excluded=excluded.sum(axis=1),
                                         confounded_with=confounded)
    return StudyResult(ar_df, car_df, caar_df, tests_df, estimates, skipped_df, timing, config,
                       panel.data_hash, panel.source_text(), {"factors": fnames}, quality_df)


def fit_blocks(r: np.ndarray, reg: np.ndarray, market3: np.ndarray, pos: np.ndarray,
               cols: np.ndarray, excluded: np.ndarray, config: StudyConfig,
               block: int = BLOCK) -> models.ModelFit:  # noqa: D417
    """Gather each pair's estimation window and fit its model, ``block`` pairs at a time.

    Pure function of arrays (returns, regressors, pair positions), so blocks can
    run anywhere; the result is the same whatever the block size (each pair's
    fit uses only its own rows).
    """
    est_off = config.estimation_offsets
    parts = []
    for start in range(0, len(pos), block):
        sl = slice(start, start + block)
        y_est = _gather(r, pos[sl], cols[sl], est_off)
        y_est = np.where(excluded[sl], np.nan, y_est)
        X_est = _gather(reg, pos[sl], None, est_off)
        m3 = (_gather(market3, pos[sl], None, est_off) if config.model == "scholes_williams"
              else None)
        parts.append(_fit(config.model, y_est, X_est, m3))
    return models.ModelFit(*(np.concatenate([getattr(f, name) for f in parts])
                             for name in ("coef", "sigma2", "n", "dof", "xtx_inv", "resid")))


def _coef_names(model: str, fnames: list[str]) -> list[str]:
    return {"constant_mean": ["alpha"], "factors": ["alpha", *fnames],
            "dimson": ["alpha", "beta_lag", "beta", "beta_lead"]}.get(model, ["alpha", "beta"])


def _ar_frame(pairs, offsets, y, expected, ar, sar, dates, sessions) -> pd.DataFrame:
    n_pairs, n_days = ar.shape
    rep = pairs.loc[np.repeat(np.arange(n_pairs), n_days),
                    ["event_id", "ticker", "role", "label"]].reset_index(drop=True)
    flat = dates.ravel()
    date = pd.Series(sessions.take(np.where(flat >= 0, flat, 0))).where(flat >= 0)
    return pd.DataFrame({
        "event_id": rep["event_id"], "ticker": rep["ticker"], "role": rep["role"],
        "rel_day": np.tile(offsets, n_pairs), "date": date.to_numpy(), "ret": y.ravel(),
        "expected": expected.ravel(), "ar": ar.ravel(), "sar": sar.ravel(),
        "label": rep["label"], "cum_ar": np.cumsum(ar, axis=1).ravel(),
    })


def _window_slice(offsets: np.ndarray, start: int, end: int) -> slice:
    i = int(np.searchsorted(offsets, start))
    return slice(i, i + end - start + 1)


def _car_frame(pairs, offsets, ar, X, y_simple, exp_simple, fit, config, confounded):
    frames = []
    for start, end in config.car_windows:
        sl = _window_slice(offsets, start, end)
        window_ar = ar[:, sl]
        missing = (~np.isfinite(window_ar)).sum(axis=1)
        car = np.where(missing == 0, np.nansum(window_ar, axis=1), np.nan)
        se = np.sqrt(models.window_variance(fit, X[:, sl]))
        with np.errstate(invalid="ignore", divide="ignore"):
            t = car / se
        # BHAR = prod(1 + R) - prod(1 + E[R]) over the window (Barber and Lyon 1997).
        es = np.broadcast_to(exp_simple, y_simple.shape)[:, sl]
        bhar = np.prod(1.0 + y_simple[:, sl], axis=1) - np.prod(1.0 + es, axis=1)
        frames.append(pd.DataFrame({
            "event_id": pairs["event_id"], "ticker": pairs["ticker"], "role": pairs["role"],
            "window_start": start, "window_end": end, "car": car, "car_t": t,
            "car_p": stats.t_pvalue(t, fit.dof), "bhar": np.where(missing == 0, bhar, np.nan),
            "label": pairs["label"], "car_se": se, "n_missing": missing,
            "confounded_with": confounded,
        }))
    return pd.concat(frames, ignore_index=True)


def _group_keys(frame: pd.DataFrame, group_by: tuple[str, ...]) -> pd.Series:
    missing = [g for g in group_by if g not in frame.columns]
    if missing:
        raise InputError(f"cannot group by {', '.join(missing)}: not a pair column or event "
                         f"tag", field="group_by")
    if not group_by:
        return pd.Series("all", index=frame.index)
    return frame[list(group_by)].astype(str).agg(" ".join, axis=1)


def _groups(pairs: pd.DataFrame, config: StudyConfig) -> list[tuple[str, np.ndarray]]:
    keys = _group_keys(pairs, config.group_by).to_numpy()
    out = [("all", np.arange(len(pairs)))]
    if config.group_by:
        out += [(g, np.flatnonzero(keys == g)) for g in sorted(set(keys))]
    return out


def _caar_frame(pairs, offsets, ar, config) -> pd.DataFrame:
    """CAAR path per group: mean over pairs of CAR(a, tau), tau = a..b, with its 95% band."""
    cum = np.cumsum(ar, axis=1)
    frames = []
    for group, rows in _groups(pairs, config):
        cs = stats.cross_sectional_test(cum[rows], axis=0)
        counts = np.isfinite(ar[rows]).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            aar = np.nansum(ar[rows], axis=0) / counts
        frames.append(pd.DataFrame({"group": group, "rel_day": offsets, "n": cs.n, "aar": aar,
                                    "caar": cs.mean, "caar_lo": cs.lo, "caar_hi": cs.hi}))
    return pd.concat(frames, ignore_index=True)


def _tests_frame(pairs, ar, X, fit, est_days, n_sessions, config) -> pd.DataFrame:
    """Every statistic, for every group, for each CAR window and each single event day.

    Per group, what does not depend on the window (ranks, signs, cluster sums of
    residuals, the estimation AAR series) is built once and read per window.
    """
    offsets = config.event_offsets
    est_ar = fit.resid  # (P, L) estimation-window ARs
    n_est = est_ar.shape[1]
    windows = list(config.car_windows) + [(d, d) for d in offsets
                                           if (d, d) not in config.car_windows]
    per_window = {}
    for start, end in windows:
        sl = _window_slice(offsets, start, end)
        window_ar = ar[:, sl]
        car = np.where(np.isfinite(window_ar).all(axis=1), window_ar.sum(axis=1), np.nan)
        per_window[start, end] = (sl, car, models.window_variance(fit, X[:, sl]))
    dof = fit.dof.astype("float64")
    rng = np.random.default_rng(config.seed)
    day0 = pairs["pos0"].to_numpy()
    share = stats.positive_share(est_ar)
    cumsum = stats.estimation_cumsum(est_ar) if config.pseudo_draws else None
    columns = {k: [] for k in ("group", "window_start", "window_end", "n", "mean", "statistic",
                               "value", "p_value", "headline", "rbar", "n_pos", "n_neg")}
    for group, idx in _groups(pairs, config):
        g_est, g_dof, g_day0 = est_ar[idx], dof[idx], day0[idx]
        ranks = stats.DailyRanks.from_ar(np.concatenate([g_est, ar[idx]], axis=1))
        sums = stats.ClusterSums.build(g_est, fit.sigma2[idx], est_days[idx], n_sessions,
                                       g_day0)
        aar = stats._nanmean(g_est, axis=0)
        gaps = np.diff(np.sort(g_day0))
        for (start, end), (sl, car_all, var_all) in per_window.items():
            car, var, k = car_all[idx], var_all[idx], sl.stop - sl.start
            # Pairs whose K-day windows share calendar days are cross-correlated.
            headline = "kp_bmp_t" if (gaps < k).any() else "bmp_t"
            rbar = sums.rbar(k)
            days = n_est + np.arange(sl.start, sl.stop)
            pseudo = (stats.pseudo_event_test(car, g_est, stats.overlapping(g_day0, k), k,
                                              config.pseudo_draws, rng, cumsum[idx])
                      if start != end and config.pseudo_draws else (np.nan, np.nan))
            values = {
                "csect_t": stats.csect_t(car),
                "bw1980_cda_t": stats.bw1980_cda_t(car, g_est, k, aar),
                "bw1985_t": stats.bw1985_t(car, var),
                "patell_z": stats.patell_z(car, var, g_dof),
                "kp_patell_z": stats.kp_patell_z(car, var, g_dof, rbar),
                "bmp_t": stats.bmp_t(car, var),
                "kp_bmp_t": stats.kp_bmp_t(car, var, rbar),
                "corrado_rank_z": ranks.corrado(days),
                "cz_sign_z": ranks.sign(days),
                "generalized_sign_z": stats.generalized_sign_z(car, g_est, share[idx]),
                "wilcoxon_w": stats.wilcoxon_signed_rank(car),
                "pseudo_event_z": pseudo,
            }
            n = int(np.isfinite(car).sum())
            mean = float(np.nansum(car) / n) if n else np.nan
            n_pos, n_neg = int((car > 0).sum()), int((car < 0).sum())
            for name in STATISTICS:
                value, p = values[name]
                for key, v in (("group", group), ("window_start", start), ("window_end", end),
                               ("n", n), ("mean", mean), ("statistic", name), ("value", value),
                               ("p_value", p), ("headline", name == headline), ("rbar", rbar),
                               ("n_pos", n_pos), ("n_neg", n_neg)):
                    columns[key].append(v)
    return pd.DataFrame(columns)
