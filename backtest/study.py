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
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from backtest import models, stats
from backtest.prices import PricePanel
from backtest.quality import check_panel
from events.errors import InputError
from events.model import Calendar
from events.timing import event_timing, exchange_for, timing_table

if TYPE_CHECKING:  # the compiled kernels (numba) load only when a study runs
    from backtest import blocks

DEFAULT_CAR_WINDOWS = ((-1, 1), (0, 0), (0, 1), (0, 5), (2, 10), (-5, 10))
BLOCK = 20_000  # pairs per block: bounds the (pairs x estimation days) arrays held at once
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
    names = ("event_id", "ticker", "role", "label", "direction", "score", "day0", "pos0")
    rows, tags, skipped = [], [], []
    exchange_of: dict[tuple, str] = {}  # (ticker, listed exchange): looked up once each
    for event in calendar:
        timing = event_timing(event, market_exchange)
        for link in event.tickers:
            key = (link.ticker, link.exchange)
            exchange = exchange_of.get(key)
            if exchange is None:
                exchange = exchange_of[key] = exchange_for(link.ticker, link.exchange)
            reason = None
            if exchange != market_exchange:
                reason = (f"trades on {exchange}, the market benchmark {config.market} on "
                          f"{market_exchange}: one exchange per study")
            elif link.ticker == config.market:
                reason = f"is the market benchmark ({config.market})"
            elif config.model == "factors" and link.ticker in config.factors:
                reason = f"is a factor of the model ({link.ticker})"
            elif link.ticker not in tickers:
                reason = "no price data for this ticker"
            elif timing.day0 not in position:
                reason = (f"day 0 ({timing.day0.date()}) is outside the price data "
                          f"({sessions[0].date()} to {sessions[-1].date()})")
            if reason is not None:
                skipped.append({"event_id": event.id, "ticker": link.ticker, "reason": reason})
                continue
            rows.append((event.id, link.ticker, link.role, event.sentiment.label,
                         link.direction, event.sentiment.score, timing.day0,
                         position[timing.day0]))
            tags.append(event.tags)
    if not rows:
        return pd.DataFrame(), skipped
    frame = pd.DataFrame(dict(zip(names, map(list, zip(*rows)))))
    if any(tags):  # event tags become pair columns (groupable), after the pair's own
        tag_frame = pd.DataFrame(tags)
        frame = pd.concat([frame.drop(columns=[c for c in tag_frame if c in frame]),
                           tag_frame], axis=1)
    return frame, skipped


def _gather(values: np.ndarray, pos: np.ndarray, cols: np.ndarray, offsets: np.ndarray
            ) -> np.ndarray:
    """``values[pos + offset, col]`` for every pair and offset; NaN outside the data."""
    rows = pos[:, None] + offsets[None, :]
    inside = (rows >= 0) & (rows < values.shape[0])
    out = values[np.clip(rows, 0, values.shape[0] - 1), cols[:, None]]
    return np.where(inside, out, np.nan)


def _test_windows(config: StudyConfig) -> list[tuple[int, int]]:
    """The CAR windows, then every single event day not already one of them."""
    return list(config.car_windows) + [(d, d) for d in config.event_offsets
                                       if (d, d) not in config.car_windows]


def _layout(pairs: pd.DataFrame, config: StudyConfig, tickers: pd.Index, n_sessions: int
            ) -> tuple[blocks.PairLayout, list[str]]:
    """Where each pair's rows are and which statistics groups and clusters it is in.

    Group 0 is "all"; with ``group_by`` each pair is also in its own group
    1 + j (j over the sorted group keys). A cluster is a (group, day 0).
    """
    from backtest import blocks
    pos = pairs["pos0"].to_numpy(dtype=np.int64)
    cols = tickers.get_indexer(pairs["ticker"]).astype(np.int64)
    # Each pair's ticker's events, sorted by day 0: their windows leave estimation days out.
    order = np.lexsort((pos, cols))
    others = pos[order]
    bounds = np.searchsorted(cols[order], cols)
    counts = np.bincount(cols, minlength=len(tickers))[cols]
    if not config.exclude_other_events:
        counts = np.zeros_like(counts)
    names = ["all"]
    groups = np.zeros((len(pairs), 1), dtype=np.int64)
    if config.group_by:
        keys = _group_keys(pairs, config.group_by)
        codes, uniques = pd.factorize(keys, sort=True)
        names += list(uniques)
        groups = np.column_stack([groups[:, 0], 1 + codes])
    _, clusters = np.unique(groups * (n_sessions + 1) + pos[:, None], return_inverse=True)
    clusters = clusters.reshape(groups.shape).astype(np.int64)
    return blocks.PairLayout(pos, cols, others, bounds, bounds + counts, groups, clusters,
                             len(names), int(clusters.max()) + 1), names


def _confounded(pairs: pd.DataFrame, config: StudyConfig, codes: np.ndarray) -> list[str]:
    """Per pair, the other events of the same ticker (``codes``) whose windows overlap
    its window, in day-0 order."""
    a, b = config.event_window
    pos = pairs["pos0"].to_numpy().astype(np.int64)
    # One sorted key per pair: ticker first, then day 0. A pair's neighbours within
    # b - a sessions of the same ticker are one contiguous run of it.
    key = codes.astype(np.int64) * (int(pos.max()) + 2 * (b - a) + 2) + pos
    order = np.argsort(key, kind="stable")
    lo = np.searchsorted(key[order], key - (b - a))
    hi = np.searchsorted(key[order], key + (b - a), side="right")
    ids = pairs["event_id"].to_numpy()[order].tolist()
    confounded = [""] * len(pairs)
    for i in np.flatnonzero(hi - lo > 1):
        confounded[i] = "+".join(ids[j] for j in range(lo[i], hi[i]) if order[j] != i)
    return confounded


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
    reg = np.ascontiguousarray(_regressors(config.model, market, fmat))
    market3 = _regressors("dimson", market, None)[:, 1:]  # lag, market, lead (Scholes-Williams)
    from backtest import blocks

    rT = np.ascontiguousarray(r.T)  # one ticker's history contiguous: pairs read rows

    n_sessions = len(panel.sessions)
    layout, group_names = _layout(pairs, config, panel.returns.columns, n_sessions)
    windows = _test_windows(config)
    a = config.event_window[0]
    win_cols = np.array([(s - a, e - a) for s, e in windows], dtype=np.int64)
    confounded = _confounded(pairs, config, layout.cols)
    if client is not None:
        from backtest.cluster import study_distributed

        parts = study_distributed(client, rT, reg, market3, layout, config, win_cols, block)
    else:
        parts = [blocks.study_block(rT, reg, market3, layout.block(s, s + block), config,
                                    win_cols) for s in range(0, len(pairs), block)]
    res = blocks.combine(parts)

    short = np.flatnonzero(~res.kept)
    skipped += [{"event_id": e, "ticker": t,
                 "reason": f"insufficient estimation data: {int(n)} of "
                           f"{config.estimation_length} returns (minimum "
                           f"{config.min_estimation_obs})"}
                for e, t, n in zip(pairs["event_id"].to_numpy()[short],
                                   pairs["ticker"].to_numpy()[short], res.n[short])]
    keep = np.flatnonzero(res.kept)
    skipped_df = pd.DataFrame(skipped, columns=["event_id", "ticker", "reason"])
    if keep.size == 0:
        empty.skipped = skipped_df
        return empty
    per = res.take(keep)
    pairs = pairs.iloc[keep].reset_index(drop=True)
    confounded = [confounded[i] for i in keep]
    pos, cols = layout.pos[keep], layout.cols[keep]
    evt_off = config.event_offsets

    # BHAR compounds simple returns: back out of logs and add the risk-free rate back.
    if config.returns == "simple" and rf is None:
        y_simple, exp_simple = per["y"], per["expected"]
    else:
        y_simple = _gather(simple, pos, cols, evt_off)
        exp_simple = np.expm1(per["expected"]) if config.returns == "log" else per["expected"]
        if rf is not None:
            rows = np.clip(pos[:, None] + evt_off[None, :], 0, n_sessions - 1)
            exp_simple = exp_simple + rf[rows]
    date_idx = pos[:, None] + evt_off[None, :]
    dates = np.where((date_idx >= 0) & (date_idx < n_sessions), date_idx, -1)

    ar_df = _ar_frame(pairs, evt_off, per, dates, panel.sessions)
    car_df = _car_frame(pairs, per, y_simple, exp_simple, config, confounded)
    caar_df = _caar_frame(pairs, evt_off, per["ar"], layout.groups[keep], group_names)
    tests_df = _tests_frame(pairs, per, res, keep, layout, group_names, windows, config)
    coef = pd.DataFrame(per["coef"], columns=[f"coef_{n}" for n in
                                              _coef_names(config.model, fnames)])
    if config.model == "dimson":  # Dimson's beta is the sum of the three slopes
        coef["beta_sum"] = coef[["coef_beta_lag", "coef_beta", "coef_beta_lead"]].sum(axis=1)
    estimates = pd.concat([pairs[["event_id", "ticker"]].assign(model=config.model), coef],
                          axis=1).assign(sigma=np.sqrt(per["sigma2"]), n_est=per["n"],
                                         n_excluded=per["n_excluded"],
                                         confounded_with=confounded)
    return StudyResult(ar_df, car_df, caar_df, tests_df, estimates, skipped_df, timing, config,
                       panel.data_hash, panel.source_text(), {"factors": fnames}, quality_df)


def _coef_names(model: str, fnames: list[str]) -> list[str]:
    return {"constant_mean": ["alpha"], "factors": ["alpha", *fnames],
            "dimson": ["alpha", "beta_lag", "beta", "beta_lead"]}.get(model, ["alpha", "beta"])


def _ar_frame(pairs, offsets, per, dates, sessions) -> pd.DataFrame:
    n_pairs, n_days = per["ar"].shape
    rep = np.repeat(np.arange(n_pairs), n_days)
    flat = dates.ravel()
    date = pd.Series(sessions.take(np.where(flat >= 0, flat, 0))).where(flat >= 0)
    # take() on the string arrays themselves: no per-row conversion of 20 copies
    columns = {name: pairs[name].array.take(rep) for name in ("event_id", "ticker", "role")}
    return pd.DataFrame({
        **columns, "rel_day": np.tile(offsets, n_pairs), "date": date.to_numpy(),
        "ret": per["y"].ravel(), "expected": per["expected"].ravel(), "ar": per["ar"].ravel(),
        "sar": per["sar"].ravel(), "label": pairs["label"].array.take(rep),
        "cum_ar": np.cumsum(per["ar"], axis=1).ravel(),
    })


def _car_frame(pairs, per, y_simple, exp_simple, config, confounded):
    frames = []
    a = config.event_window[0]
    for j, (start, end) in enumerate(config.car_windows):
        sl = slice(start - a, end - a + 1)
        car, se, missing = per["car"][:, j], np.sqrt(per["var"][:, j]), per["missing"][:, j]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = car / se
        # BHAR = prod(1 + R) - prod(1 + E[R]) over the window (Barber and Lyon 1997).
        bhar = np.prod(1.0 + y_simple[:, sl], axis=1) - np.prod(1.0 + exp_simple[:, sl], axis=1)
        frames.append(pd.DataFrame({
            "event_id": pairs["event_id"], "ticker": pairs["ticker"], "role": pairs["role"],
            "window_start": start, "window_end": end, "car": car, "car_t": t,
            "car_p": stats.t_pvalue(t, per["dof"]), "bhar": np.where(missing == 0, bhar, np.nan),
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
    # An event without a tag is its own group, "(missing)", not dropped or merged.
    parts = [frame[g].astype(object).where(frame[g].notna(), "(missing)").astype(str)
             for g in group_by]
    keys = parts[0]
    for part in parts[1:]:  # column-wise joins: a row-wise apply takes seconds at 100k pairs
        keys = keys + " " + part
    return keys


def _groups(groups: np.ndarray, names: list[str]) -> list[tuple[int, str, np.ndarray]]:
    """(statistics group, name, its pairs) for the groups that have pairs, "all" first."""
    out = []
    for g, name in enumerate(names):
        rows = np.flatnonzero((groups == g).any(axis=1))
        if rows.size:
            out.append((g, name, rows))
    return out


def _caar_frame(pairs, offsets, ar, groups, names) -> pd.DataFrame:
    """CAAR path per group: mean over pairs of CAR(a, tau), tau = a..b, with its 95% band."""
    cum = np.cumsum(ar, axis=1)
    frames = []
    for _, group, rows in _groups(groups, names):
        cs = stats.cross_sectional_test(cum[rows], axis=0)
        counts = np.isfinite(ar[rows]).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            aar = np.nansum(ar[rows], axis=0) / counts
        frames.append(pd.DataFrame({"group": group, "rel_day": offsets, "n": cs.n, "aar": aar,
                                    "caar": cs.mean, "caar_lo": cs.lo, "caar_hi": cs.hi}))
    return pd.concat(frames, ignore_index=True)


def _tests_frame(pairs, per, res, keep, layout, names, windows, config) -> pd.DataFrame:
    """Every statistic, for every group, for each CAR window and each single event day.

    Reads the per-pair CARs and the blocks' sums (:class:`backtest.blocks.BlockResult`):
    daily rank and sign sums, the estimation AAR series, per-cluster residual sums. A
    window whose CAR is missing for some pairs leaves those pairs out of its sums
    (their estimation ARs, ``res.rare_resid``, are taken back out).
    """
    est0, length = int(config.estimation_offsets[0]), config.estimation_length
    dof = per["dof"].astype("float64")
    rng = np.random.default_rng(config.seed)
    day0 = pairs["pos0"].to_numpy()
    groups, clusters = layout.groups[keep], layout.clusters[keep]
    size = np.bincount(clusters.ravel(), minlength=layout.n_clusters).astype("float64")
    cluster_day0 = np.zeros(layout.n_clusters, dtype=np.int64)
    cluster_day0[clusters.ravel()] = np.repeat(day0, clusters.shape[1])
    rare_row = np.full(len(keep), -1)
    rare_row[np.searchsorted(keep, res.rare)] = np.arange(len(res.rare))
    rare_cum = stats.estimation_cumsum(res.rare_resid)
    columns = {k: [] for k in ("group", "window_start", "window_end", "n", "mean", "statistic",
                               "value", "p_value", "headline", "rbar", "n_pos", "n_neg")}
    for g, group, idx in _groups(groups, names):
        h = int(np.flatnonzero((groups[idx[0]] == g))[0])  # membership column of group g
        cl = np.unique(clusters[idx, h])  # sorted by day 0 (codes follow (group, day 0))
        g_day0, g_dof = day0[idx], dof[idx]
        ranks = stats.DailyRanks.from_sums(res.rank_u[g], res.rank_u_n[g], res.rank_g[g],
                                           res.rank_g_n[g])
        sums = stats.ClusterSums(cluster_day0[cl], size[cl], res.S[cl], res.Q[cl], res.C[cl],
                                 offset=est0)
        gaps = np.diff(np.sort(g_day0))
        for j, (start, end) in enumerate(windows):
            car, var, k = per["car"][idx, j], per["var"][idx, j], end - start + 1
            # Pairs without this CAR leave the window's sums.
            out = idx[~np.isfinite(car)]
            rows = rare_row[out]
            lost = np.where(np.isfinite(res.rare_resid[rows]), res.rare_resid[rows], 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                aar = ((res.est_sum[g] - lost.sum(axis=0))
                       / (res.est_n[g] - np.isfinite(res.rare_resid[rows]).sum(axis=0)))
            # Pairs whose K-day windows share calendar days are cross-correlated.
            headline = "kp_bmp_t" if (gaps < k).any() else "bmp_t"
            rbar = sums.rbar(k)
            days = length + np.arange(start, end + 1) - config.event_window[0]
            pseudo = (np.nan, np.nan)
            if start != end and config.pseudo_draws:
                cum_w, size_w = res.cum[cl].copy(), size[cl].copy()
                where = np.searchsorted(cl, clusters[out, h])
                np.subtract.at(cum_w, where, rare_cum[rows])
                np.subtract.at(size_w, where, 1.0)
                comp = stats.overlapping(cluster_day0[cl], k)[size_w > 0]
                starts = np.flatnonzero(np.diff(np.concatenate([[-1], comp])))
                comp_cum = (np.add.reduceat(cum_w[size_w > 0], starts, axis=0)
                            if starts.size else np.zeros((0, length + 1)))
                n_car = int(np.isfinite(car).sum())
                pseudo = stats.pseudo_event_test_sums(
                    float(np.nanmean(car)) if n_car else np.nan, n_car, comp_cum, k,
                    config.pseudo_draws, rng)
            values = {
                "csect_t": stats.csect_t(car),
                "bw1980_cda_t": stats.bw1980_cda_t(car, None, k, aar),
                "bw1985_t": stats.bw1985_t(car, var),
                "patell_z": stats.patell_z(car, var, g_dof),
                "kp_patell_z": stats.kp_patell_z(car, var, g_dof, rbar),
                "bmp_t": stats.bmp_t(car, var),
                "kp_bmp_t": stats.kp_bmp_t(car, var, rbar),
                "corrado_rank_z": ranks.corrado(days),
                "cz_sign_z": ranks.sign(days),
                "generalized_sign_z": stats.generalized_sign_z(car, None, per["share"][idx]),
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
