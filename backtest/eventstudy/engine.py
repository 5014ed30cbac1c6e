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
* **Models** (:mod:`backtest.eventstudy.models`): constant_mean, market_adjusted, market,
  factors (tickers or a factor file, RF subtracted where given), dimson,
  scholes_williams. Simple or log returns.
* **Measures**: AR, standardized AR (prediction-error variance), CAR per window
  with its variance including the covariance of the ARs, BHAR, CAAR paths.
* **Tests** across pairs, per day and per window (:data:`backtest.eventstudy.stats.STATISTICS`):
  cross-sectional t, Brown-Warner 1980 (crude dependence adjustment) and 1985
  (independence), Patell Z, BMP, Kolari-Pynnonen adjusted BMP and Patell,
  Corrado rank, Corrado-Zivney sign, generalized sign, Wilcoxon signed-rank,
  and a random pseudo-event-date test.
* **Clustering**: when two pairs of a group have windows on the same calendar
  days (one headline, several tickers; or one ticker in two nearby events)
  their ARs are cross-correlated and BMP/Patell over-reject; the
  Kolari-Pynnonen adjusted BMP is then the *headline* statistic of the group
  for that window (``tests.headline``), with r̄ weighted by calendar overlap
  (:func:`backtest.eventstudy.stats.mean_cross_correlation`). Otherwise the headline is BMP.
* **Confounding**: pairs whose event window overlaps another event window of
  the same ticker are flagged (``confounded_with``), not dropped.

Missing data: an AR is missing where the return or a regressor is; a CAR or
BHAR over a window with any missing day is NaN and ``n_missing`` says how many.

Abnormal volume (``measure="volume"``, Campbell and Wasley 1996, "Measuring abnormal
daily trading volume for samples of NYSE/ASE and NASDAQ securities using parametric
and nonparametric test statistics", RQFA 6(3)): the series studied is the log volume
``V_it = ln(n_it + 0.000255)``, ``n_it`` the day's share volume as the source reports
it (:func:`log_volume`); a day with zero or missing volume is missing. The normal value
is the estimation-window mean (constant_mean) or a market model on the market
ticker's log volume ``V_mt`` (market); AR is then the abnormal log volume, CAR its sum,
and every test applies unchanged. BHAR has no meaning for volume: NaN. Every pair is
expected to trade more than normal (direction "up"), whatever the news' sign.

Abnormal volatility (``measure="volatility"``): the series studied is each day's squared
standardized AR minus 1, ``AVOL_it = SAR_it^2 - 1 = AR_it^2 / Var(AR_it) - 1``, the
variance from the return model (``s^2 (1 + x'(X'X)^-1 x)``; with ``model="garch"`` the
GARCH forecast, Bollerslev 1986): 0 when a day moved as much as the model expects, 8 when
its AR was three times its standard deviation. Estimation days get ``e_t^2 / s^2 - 1``
from their residuals, so every test applies unchanged (the rank tests and GRANK are the
ones to read: the series is skewed); a window's variance is ``K`` times the estimation
variance of the series. BHAR is NaN; every pair is expected "up" (more volatile).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from backtest.data.quality import check_panel
from backtest.eventstudy import stats, xsection
from backtest.eventstudy.config import StudyConfig
from backtest.eventstudy.models import get_model, market_lag_lead
from backtest.eventstudy.pairs import (
    confounded_with,
    estimation_by_dates,
    groups_with_pairs,
    pair_layout,
    resolve_pairs,
    test_windows,
)
from backtest.eventstudy.result import ARParts, ARRows, StudyResult, ar_frame
from backtest.parallel import ThreadExecutor, in_process, local_map_blocks, serial_map_blocks
from events.errors import ConfigError, OutputError, PriceDataError
from events.model import Calendar
from events.timing import timing_table

# pairs per block: bounds the (pairs x estimation days) arrays held at once (21.7 MB each
# with 271 days; 20,000 was no faster on 30k-100k pairs and held twice that per thread)
BLOCK = 10_000
MAX_GARCH_PAIRS = 5_000  # one arch fit per pair: minutes beyond this, not seconds
# Campbell and Wasley (1996): V = ln(n + 0.000255), the constant keeps ln finite near zero.
VOLUME_CONSTANT = 0.000255


def log_volume(volume: np.ndarray) -> np.ndarray:
    """Campbell and Wasley's (1996) log volume ``ln(n + 0.000255)`` of share volumes ``n``;
    NaN where the volume is missing or zero (a source's zero usually means no data).
    With share counts (n >= 1) the constant moves V by at most 0.000255."""
    volume = np.asarray(volume, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(volume > 0, np.log(volume + VOLUME_CONSTANT), np.nan)


def _without_volume(panel: PricePanel, pairs: pd.DataFrame, config: StudyConfig
                    ) -> tuple[pd.DataFrame, list[dict]]:
    """The pairs whose ticker has volume, and the others as skipped rows. Refused in one
    line when no pair has volume (a universe panel, a CSV without a volume column) or the
    market model's benchmark has none."""
    none = set(panel.without_volume())
    gone = pairs["ticker"].isin(none).to_numpy()
    market = config.model == "market" and config.market in none
    if gone.all() or market:
        missing = [*dict.fromkeys(pairs["ticker"][gone] if gone.all() else []),
                   *([config.market] if market else [])]
        if all(panel.sources.get(t, "").startswith("universe:") for t in missing):
            raise PriceDataError("the universe panel has adjusted closes only: no volume "
                                 "(--measure volume needs share volume)", field="measure")
        shown = ", ".join(missing[:8]) + (f" and {len(missing) - 8} more"
                                          if len(missing) > 8 else "")
        raise PriceDataError(f"no volume for {shown} in the price data (--measure volume "
                             f"needs share volume: a long CSV's volume column, bundled or "
                             f"downloaded prices)", field="measure")
    rows = [{"event_id": e, "ticker": t, "reason": "no volume for this ticker in the price "
                                                   "data (measure volume)"}
            for e, t in zip(pairs["event_id"][gone], pairs["ticker"][gone])]
    return pairs[~gone].reset_index(drop=True), rows


def run_study(calendar: Calendar, panel: PricePanel, config: StudyConfig | None = None,
              factor_data: pd.DataFrame | None = None, map_blocks=local_map_blocks,
              block: int | None = None, explain: tuple[str, ...] = (),
              ar_parts: str | Path | None = None, single_days: bool = True) -> StudyResult:
    """Event study of every (event, linked ticker) pair of ``calendar`` on ``panel``.

    The per-pair work runs in blocks of ``block`` pairs (default :data:`BLOCK`; a study of
    fewer than four such blocks is cut into four, :func:`_default_block`) through
    ``map_blocks``
    (``fn, shared, blocks -> results in order``): by default on this process's threads,
    one per CPU (:class:`backtest.parallel.ThreadExecutor`), serially with
    :func:`backtest.parallel.serial_map_blocks`, or on a Dask cluster
    (:class:`backtest.parallel.DaskExecutor`); the results are identical, since a block
    does the same arithmetic wherever it runs. The data-quality checks of the studied
    tickers (``result.quality``) run on a thread of their own while the study builds its
    tables (serially, or with ``exclude_flagged``, which needs them first: before).

    ``factor_data`` (optional, for ``model="factors"``): factor returns indexed
    by session date in decimals, e.g. from :func:`backtest.data.load_factor_csv`;
    an ``RF`` column is subtracted from the stocks' returns.

    ``explain`` (e.g. ``("score", "role", "beta")``): the cross-section of the CARs on
    these characteristics, clustered by news day (:mod:`backtest.eventstudy.xsection`),
    in ``result.xsection``.

    ``ar_parts`` (a folder, e.g. ``results/ar.parquet``): each block writes its pairs' AR
    rows there as one parquet part (on a cluster, the worker running it), and the result's
    AR table reads them from there (:class:`~backtest.eventstudy.result.ARParts`): no
    per-pair-day array is gathered, which bounds a study's memory by its blocks. The folder
    is created; parts already in it are replaced.

    ``single_days=False``: the statistics of the CAR windows only, not also of every
    single event day (a study whose caller reads only those, such as a chain's: a fifth of
    the test rows; the CAR windows' rows are the same either way).
    """
    config = config or StudyConfig()
    model = get_model(config.model)
    if block is not None and (not isinstance(block, int) or isinstance(block, bool)
                              or block < 1):
        raise ConfigError(f"block must be a positive number of pairs, got {block!r}",
                          field="block")
    if not config.estimation_dates and \
            config.estimation_length + config.gap + 1 > len(panel.sessions):
        raise ConfigError(f"an estimation window of {config.estimation_length} sessions "
                          f"(and a gap of {config.gap}) is longer than the price data "
                          f"({len(panel.sessions)} sessions)", field="estimation_length")
    if model.uses_factors and factor_data is None and not config.factors:
        raise ConfigError("model 'factors' needs factors: --factors T1,T2 (tickers) or "
                          "--factors-csv FILE", field="factors")
    if config.market not in panel.close.columns:
        raise PriceDataError(f"market benchmark {config.market} is not in the price data",
                             field="market")
    transform = np.log1p if config.returns == "log" else (lambda a: a)
    if model.conditional_variance and isinstance(map_blocks, ThreadExecutor):
        # arch's GARCH fits are Python (threads gain nothing) and each is wrapped in
        # warnings.catch_warnings, which is not thread-safe: one block after another
        map_blocks = serial_map_blocks
    pairs, skipped = resolve_pairs(calendar, panel, config)
    block = block or _default_block(len(pairs))
    if model.conditional_variance and len(pairs) > MAX_GARCH_PAIRS:
        raise ConfigError(f"--model {config.model} fits one GARCH per pair (about 50 ms each): "
                          f"{len(pairs):,} pairs would take about {len(pairs) * 0.05 / 60:,.0f} "
                          f"minutes; it takes at most {MAX_GARCH_PAIRS:,} pairs", field="model")
    # by dates: one estimation window for all (est_start), estimation_length set to it
    config, est_start, pairs, meets = estimation_by_dates(pairs, config, panel.sessions)
    skipped += meets
    volume = config.measure == "volume"
    if volume and not pairs.empty:  # more trading than normal is the expected move
        pairs, no_volume = _without_volume(panel, pairs, config)
        skipped += no_volume
        pairs = pairs.assign(direction="up")
    if config.measure == "volatility" and not pairs.empty:  # more volatile than normal
        pairs = pairs.assign(direction="up")
    if explain and not pairs.empty:
        explain = xsection.explain_terms(explain, pairs)
    timing = timing_table(calendar)
    # in order of first appearance (pd.unique: not a Python string per pair)
    used = [*dict.fromkeys([*(pd.unique(pairs["ticker"]) if len(pairs) else []),
                            config.market, *config.factors])]
    check = partial(check_panel, panel, pairs if not pairs.empty else None, config.event_window,
                    _estimation_start(pairs, config, est_start), config.move_threshold,
                    tickers=used)
    if config.exclude_flagged and not pairs.empty:  # the flagged pairs leave the study now
        quality_df = check()
        pairs, flagged = _drop_flagged(pairs, quality_df, panel.sessions, config, est_start)
        skipped += flagged
        quality = lambda: quality_df  # noqa: E731
    else:
        quality = check  # run beside the tables below, or here if the study ends first

    def empty() -> StudyResult:
        return StudyResult(*(pd.DataFrame() for _ in range(5)),
                           pd.DataFrame(skipped, columns=["event_id", "ticker", "reason"]),
                           timing, config, panel.data_hash, panel.source_text(),
                           quality=quality())

    if pairs.empty:
        return empty()

    simple = panel.returns.to_numpy(dtype="float64")
    r = transform(simple)
    if volume:  # the series studied: log volume, per ticker and of the market
        r = log_volume(panel.volume.reindex(columns=panel.returns.columns).to_numpy())
    market = r[:, int(np.flatnonzero(panel.returns.columns == config.market)[0])]
    fmat, rf, fnames = _factor_matrix(config, panel, factor_data, transform)
    if factor_data is not None and fmat is not None:
        pairs, uncovered = _uncovered_by_factors(pairs, fmat, rf, panel.sessions, config)
        skipped += uncovered
        if pairs.empty:
            return empty()
    if rf is not None:
        r = r - rf[:, None]
    reg = np.ascontiguousarray(model.regressors(market, fmat))
    market3 = market_lag_lead(market)  # lag, market, lead (Scholes-Williams)
    from backtest.eventstudy import blocks  # the compiled kernels load only when a study runs

    rT = np.ascontiguousarray(r.T)  # one ticker's history contiguous: pairs read rows
    # BHAR compounds simple returns: the blocks back out of logs and add the risk-free rate
    # back (empty: the study's returns are the simple ones)
    none = np.zeros((0, 0))
    sT = (np.ascontiguousarray(simple.T) if config.returns == "log" or rf is not None
          else none)
    rf_arr = rf if rf is not None else np.zeros(0)

    n_sessions = len(panel.sessions)
    layout, group_names = pair_layout(pairs, config, panel.returns.columns, n_sessions,
                                      est_start)
    windows = test_windows(config) if single_days else list(config.car_windows)
    a = config.event_window[0]
    win_cols = np.array([(s - a, e - a) for s, e in windows], dtype=np.int64)
    confounded = confounded_with(pairs, config, layout.cols)
    # The returns, regressors and event positions are shared by every block (a cluster
    # receives them once); a block carries only its own pairs' layout.
    starts = range(0, len(pairs), block)
    if ar_parts is not None:
        ar_parts = _parts_folder(ar_parts)
        text = pairs[["event_id", "ticker", "role", "label"]]
        sinks = [blocks.ARPart(str(ar_parts), k, text.iloc[s:s + block], panel.sessions)
                 for k, s in enumerate(starts)]
    else:
        sinks = [None] * len(starts)
    # Kept between the passes only where the blocks run in this process (on a cluster
    # they would travel) and fit the bound; else the second pass fits again.
    keep_ranked = (in_process(map_blocks) and
                   len(pairs) * config.estimation_length <= blocks.KEEP_RANKED_CELLS)
    parts = map_blocks(blocks.study_block, (rT, reg, market3, layout.others, sT, rf_arr),
                       [(layout.block(s, s + block), config, win_cols, sink, keep_ranked)
                        for s, sink in zip(starts, sinks)])
    res = blocks.combine(parts, n_pairs=len(pairs), own=in_process(map_blocks))
    del parts
    if ar_parts is not None:
        _check_parts(ar_parts, len(starts))
    # Second pass: the generalized rank test needs each group's cross-sectional spread of
    # standardized CARs before it can rank a pair's CAR among its own residuals.
    gscar = _generalized_scar(res, layout)
    if res.ranked is not None:
        ranked, res.ranked = res.ranked, None
        grank = blocks.combine_sums(map_blocks(
            blocks.grank_ranked, (),
            [(ranked[k], res.sigma2[s:s + block], layout.block(s, s + block),
              gscar[s:s + block]) for k, s in enumerate(starts)]))
        del ranked
    else:
        grank = blocks.combine_sums(map_blocks(
            blocks.grank_block, (rT, reg, market3, layout.others),
            [(layout.block(s, s + block), config, gscar[s:s + block]) for s in starts]))
    del gscar  # (pairs x groups x windows) floats, not needed again

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
        return empty()
    if quality is check:  # the checks' table is needed only in the result
        quality = _beside(map_blocks, check)
    all_kept = keep.size == len(res.kept)
    per = res.take(slice(None) if all_kept else keep)  # all kept: no copy
    # The AR table's arrays stay as the blocks gave them (blocks.BlockRows), every pair's
    # rows: the table takes its kept rows when it is built (not a copy now, of every
    # pair-day cell).
    ar_arrays = {name: getattr(res, name) for name in blocks.AR_ARRAYS}
    for name in blocks.PER_PAIR + blocks.AR_ARRAYS:  # from here on the kept pairs' copies
        setattr(res, name, None)
    pairs = pairs.iloc[keep].reset_index(drop=True)
    confounded = confounded[keep]
    evt_off = config.event_offsets

    if ar_parts is not None:
        ar_rows = ARParts(ar_parts)
    else:
        ar_rows = _ar_rows(pairs, evt_off, ar_arrays, None if all_kept else keep,
                           layout.pos[keep], panel.sessions)
    del ar_arrays
    # each pair's own group, as text taken from the few names (not an object per pair)
    group_of = pd.Series(group_names).take(layout.groups[keep][:, -1]).reset_index(drop=True)
    car_df = _car_frame(pairs.assign(group=group_of), per, config, confounded)
    caar_df = _caar_frame(evt_off, res, layout.groups[keep], layout.mult[keep], group_names)
    tests_df = _tests_frame(pairs, per, res, keep, layout, group_names, windows, config,
                            grank, fixed_estimation=est_start is not None)
    coef = model.estimates(pd.DataFrame(per["coef"], columns=[
        f"coef_{n}" for n in model.coef_names(fnames)]))
    estimates = pd.concat([pairs[["event_id", "ticker"]].assign(model=config.model), coef],
                          axis=1).assign(sigma=np.sqrt(per["sigma2"]), n_est=per["n"],
                                         n_excluded=per["n_excluded"],
                                         confounded_with=confounded, dof=per["dof"])
    if model.conditional_variance:  # the volatility model's parameters, per pair
        estimates = estimates.assign(garch_omega=per["vol_params"][:, 0],
                                     garch_alpha=per["vol_params"][:, 1],
                                     garch_beta=per["vol_params"][:, 2])
    result = StudyResult(ar_rows, car_df, caar_df, tests_df, estimates, skipped_df, timing, config,
                         panel.data_hash, panel.source_text(), {"factors": fnames}, quality())
    if explain:
        result.xsection = xsection.cross_section(car_df, pairs, estimates, tuple(explain),
                                                 config.car_windows)
    return result



def _beside(map_blocks, work):
    """Start ``work()`` on a thread of its own, to run beside the rest of the study, and
    return the function that waits for its result (raising its error, if any). Serially
    (``serial_map_blocks``, ``threads=1``) it runs here and now instead.

    The data-quality checks run so while the study builds its tables and tests: much of
    that is Python on one core, and the checks' array work releases the GIL."""
    if map_blocks is serial_map_blocks or getattr(map_blocks, "workers", None) == 1:
        done = work()
        return lambda: done
    pool = ThreadPoolExecutor(1, thread_name_prefix="quality")
    future = pool.submit(work)
    pool.shutdown(wait=False)  # the thread ends after its one task

    def result():
        try:
            return future.result()
        finally:
            pool.shutdown(wait=True)  # and has ended when the study returns

    return result


MIN_SPLIT = 1_000  # pairs: a smaller study is one block
SPLIT = 4  # a study of fewer than SPLIT x BLOCK pairs is cut into SPLIT blocks


def _default_block(n_pairs: int) -> int:
    """:data:`BLOCK`, or for a study of fewer than ``SPLIT x BLOCK`` pairs an even cut into
    ``SPLIT`` blocks (fewer, of at least :data:`MIN_SPLIT` pairs, for a small one), so a small study keeps several threads busy (10,000
    pairs: four blocks of 2,500, not one block and idle threads). A function of the pair
    count only, never of the machine or the executor: the blocks' sums are added block
    after block, so another cut would change the last bits of the statistics."""
    if n_pairs >= SPLIT * BLOCK:
        return BLOCK
    k = min(SPLIT, max(1, n_pairs // MIN_SPLIT))  # blocks of at least MIN_SPLIT pairs
    return max(1, -(-n_pairs // k))


def _generalized_scar(res, layout) -> np.ndarray:
    """``SCAR*`` of every pair, group membership and test window (P, m, W): the pair's
    standardized CAR signed in the group, over the group's cross-sectional standard
    deviation (ddof 1) of those (Kolari and Pynnonen 2011); NaN where the pair
    was not kept or has no CAR."""
    n_pairs, n_win = res.car.shape
    # one window at a time, on a contiguous (W, P) copy: a window's temporaries are a few
    # pair-long vectors (all windows at once held seven (P, W) arrays: 1.4 GB at 1M pairs)
    scar = np.sqrt(res.var.T)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(res.car.T, scar, out=scar)
    out = np.full((n_pairs, layout.groups.shape[1], n_win), np.nan)
    ng = layout.n_groups
    for h in range(layout.groups.shape[1]):
        g, m = layout.groups[:, h], layout.mult[:, h]
        member = res.kept & (g >= 0)
        for j in range(n_win):
            x = m * scar[j]
            rows = np.flatnonzero(member & np.isfinite(x))
            gr, xr = g[rows], x[rows]
            n = np.bincount(gr, minlength=ng).astype("float64")
            s1 = np.bincount(gr, weights=xr, minlength=ng)
            s2 = np.bincount(gr, weights=xr ** 2, minlength=ng)
            with np.errstate(invalid="ignore", divide="ignore"):
                sd = np.sqrt(np.maximum(s2 - s1 * s1 / n, 0.0) / (n - 1))
            out[rows, h, j] = xr / sd[gr]
    return out


def _uncovered_by_factors(pairs: pd.DataFrame, fmat: np.ndarray, rf: np.ndarray | None,
                          sessions: pd.DatetimeIndex, config: StudyConfig
                          ) -> tuple[pd.DataFrame, list[dict]]:
    """The pairs whose event window the factor file covers, and the others as skipped
    rows naming the first session without factor returns (not silently empty ARs)."""
    missing = ~np.isfinite(fmat).all(axis=1)
    if rf is not None:
        missing |= ~np.isfinite(rf)
    if not missing.any():
        return pairs, []
    a, b = config.event_window
    rows = pairs["pos0"].to_numpy()[:, None] + np.arange(a, b + 1)[None, :]
    inside = (rows >= 0) & (rows < len(sessions))
    hole = missing[np.clip(rows, 0, len(sessions) - 1)] & inside
    gone = hole.any(axis=1)
    out = []
    for i in np.flatnonzero(gone):
        first = sessions[rows[i][hole[i]][0]].date()
        out.append({"event_id": pairs["event_id"].iat[i], "ticker": pairs["ticker"].iat[i],
                    "reason": f"factor data does not cover the event window (no factor "
                              f"returns on {first})"})
    return pairs[~gone].reset_index(drop=True), out


def _estimation_start(pairs: pd.DataFrame, config: StudyConfig, est_start: int | None):
    """Each pair's first estimation session relative to its day 0 (an array with
    estimation dates, one offset otherwise)."""
    if est_start is None or pairs.empty:
        return int(config.estimation_offsets[0])
    return est_start - pairs["pos0"].to_numpy()


def _drop_flagged(pairs: pd.DataFrame, quality: pd.DataFrame, sessions: pd.DatetimeIndex,
                  config: StudyConfig, est_start: int | None = None
                  ) -> tuple[pd.DataFrame, list[dict]]:
    """The pairs without a bad tick of their ticker inside their estimation or event
    window, and the others as skipped rows naming the day."""
    bad = quality[quality["check"] == "bad_tick"] if len(quality) else quality
    if bad.empty:
        return pairs, []
    pos0 = pairs["pos0"].to_numpy()
    est_lo = pos0 + _estimation_start(pairs, config, est_start)
    est_hi = est_lo + config.estimation_length - 1
    evt_lo, evt_hi = pos0 + config.event_window[0], pos0 + config.event_window[1]
    # every (pair, bad tick of its ticker): few per ticker, so this stays small
    ticks = pd.DataFrame({"ticker": bad["ticker"].to_numpy(),
                          "p": sessions.get_indexer(pd.to_datetime(bad["date"])),
                          "order": np.arange(len(bad))})
    both = pd.DataFrame({"ticker": pairs["ticker"].to_numpy(),
                         "pair": np.arange(len(pairs))}).merge(ticks, on="ticker")
    i, p = both["pair"].to_numpy(), both["p"].to_numpy()
    inside = ((est_lo[i] <= p) & (p <= est_hi[i])) | ((evt_lo[i] <= p) & (p <= evt_hi[i]))
    # a pair's reason names the first of its bad ticks in the quality table's order
    first = both[inside].sort_values(["pair", "order"]).drop_duplicates("pair")
    gone = np.zeros(len(pairs), dtype=bool)
    gone[first["pair"].to_numpy()] = True
    days = pd.to_datetime(bad["date"]).dt.date.to_numpy()[first["order"].to_numpy()]
    rows = [{"event_id": e, "ticker": t,
             "reason": f"data quality: bad tick on {d} in its window (exclude_flagged; "
                       f"--keep-flagged keeps it)"}
            for e, t, d in zip(pairs["event_id"].to_numpy()[first["pair"].to_numpy()],
                               pairs["ticker"].to_numpy()[first["pair"].to_numpy()], days)]
    return pairs[~gone].reset_index(drop=True), rows


def _parts_folder(folder) -> Path:
    """The folder the blocks write the AR table's parts into: created, old parts removed
    (a part this study does not write must not be read as one of its rows)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.parquet"):
        old.unlink()
    return folder


def _check_parts(folder: Path, n_blocks: int) -> None:
    """Every block's AR part is in ``folder``, or a clear error: workers of a remote cluster
    write into their own file systems unless the results folder is on one they share."""
    lost = [k for k in range(n_blocks) if not (folder / f"part-{k:05d}.parquet").is_file()]
    if lost:
        raise OutputError(f"{len(lost)} of {n_blocks} parts of the AR table are not in the "
                          f"results folder (first: part-{lost[0]:05d}.parquet): the Dask workers "
                          f"must write to a file system this machine shares (or use --format "
                          f"csv)", path=str(folder))


def _ar_rows(pairs, offsets, arrays, keep, pos, sessions) -> ARRows:
    """The AR table as :class:`ARRows`: only the arrays it is made from stay alive.

    ``pairs`` and ``pos`` (day-0 positions) are the kept pairs'; ``arrays`` (y, expected,
    ar, sar) every pair's (:class:`~backtest.eventstudy.blocks.BlockRows`), ``keep`` the
    kept pairs' rows in them (None: every pair)."""
    text = pairs[["event_id", "ticker", "role", "label"]]

    def build(rows: np.ndarray) -> pd.DataFrame:
        at = rows if keep is None else keep[rows]
        date_idx = pos[rows, None] + offsets[None, :]
        dates = np.where((date_idx >= 0) & (date_idx < len(sessions)), date_idx, -1)
        return ar_frame(text.iloc[rows].reset_index(drop=True), offsets,
                         {name: a.take(at) for name, a in arrays.items()}, dates, sessions)

    return ARRows(build, text["event_id"].to_numpy(), len(offsets))


def _car_frame(pairs, per, config, confounded):
    """One row per pair and CAR window, window by window (pair order within each), its
    numbers built straight from the per-pair arrays (not a frame per window concatenated:
    that held them twice, 0.9 GB more at 1M pairs), its texts as chunks that share the
    pairs' own buffers."""
    n_win, n_pairs = len(config.car_windows), len(pairs)

    def text(values):  # the pairs' column once per window: arrow chunks of one buffer
        values = pd.Series(values).reset_index(drop=True)
        return pd.concat([values] * n_win, ignore_index=True)

    def by_window(a):  # (P, >= n_win) -> the first n_win columns, window-major
        return np.ascontiguousarray(a[:, :n_win].T).reshape(-1)

    car, se = by_window(per["car"]), np.sqrt(by_window(per["var"]))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = car / se
    starts, ends = (np.repeat(np.array(w, dtype=np.int64), n_pairs)
                    for w in zip(*config.car_windows))
    confounded = pd.Series(confounded).array
    return pd.DataFrame({
        "event_id": text(pairs["event_id"]), "ticker": text(pairs["ticker"]),
        "role": text(pairs["role"]), "window_start": starts, "window_end": ends,
        "car": car, "car_t": t, "car_p": stats.t_pvalue(t, np.tile(per["dof"], n_win)),
        "bhar": by_window(per["bhar"]), "label": text(pairs["label"]), "car_se": se,
        "n_missing": by_window(per["missing"]), "confounded_with": text(confounded),
        "direction": text(pairs["direction"]), "group": text(pairs["group"]),
    }, copy=False)  # the arrays as the columns, not copied into one block


def _member(groups: np.ndarray, g: int, rows: np.ndarray) -> int:
    """The membership column in which the pairs ``rows`` belong to group ``g``."""
    return int(np.flatnonzero(groups[rows[0]] == g)[0])


def _caar_frame(offsets, res, groups, mult, names) -> pd.DataFrame:
    """CAAR path per group: mean over pairs of CAR(a, tau), tau = a..b, with its 95% band;
    in a group of both expected directions, of the CARs in the expected direction. From the
    blocks' moments of the running CARs (:func:`backtest.eventstudy.blocks.group_moments`)."""
    frames = []
    for g, group, rows in groups_with_pairs(groups, names):
        m = mult[rows, _member(groups, g, rows)]
        cs = stats.cross_sectional_from_moments(res.caar_n[g], res.caar_mean[g], res.caar_m2[g])
        with np.errstate(invalid="ignore", divide="ignore"):
            aar = res.aar_sum[g] / res.aar_n[g]
        frames.append(pd.DataFrame({"group": group, "rel_day": offsets,
                                    "n": cs.n.astype(np.int64), "aar": aar,
                                    "caar": cs.mean, "caar_lo": cs.lo, "caar_hi": cs.hi,
                                    "signed": bool((m < 0).any())}))
    return pd.concat(frames, ignore_index=True)


def _tests_frame(pairs, per, res, keep, layout, names, windows, config, grank,
                 fixed_estimation: bool = False) -> pd.DataFrame:
    """Every statistic, for every group, for each CAR window and each single event day.

    Reads the per-pair CARs and the blocks' sums
    (:class:`backtest.eventstudy.blocks.BlockResult`):
    daily rank and sign sums, the estimation AAR series, per-cluster residual sums. A
    window whose CAR is missing for some pairs leaves those pairs out of its sums
    (their estimation ARs, ``res.rare_resid``, are taken back out).
    """
    est0, length = int(config.estimation_offsets[0]), config.estimation_length
    skewed = config.measure == "volatility"  # SAR^2 - 1: tests needing symmetry left out
    dof = per["dof"].astype("float64")
    rng = np.random.default_rng(config.seed)
    day0 = pairs["pos0"].to_numpy()
    groups, clusters, mult = layout.groups[keep], layout.clusters[keep], layout.mult[keep]
    size = np.bincount(clusters.ravel(), minlength=layout.n_clusters).astype("float64")
    cluster_day0 = np.zeros(layout.n_clusters, dtype=np.int64)
    cluster_day0[clusters.ravel()] = np.repeat(day0, clusters.shape[1])
    rare_row = np.full(len(keep), -1)
    rare_row[np.searchsorted(keep, res.rare)] = np.arange(len(res.rare))
    rare_cum = stats.estimation_cumsum(res.rare_resid)
    wanted = set(config.car_windows)  # the wild bootstrap runs on these only (its cost)
    columns = {k: [] for k in ("group", "window_start", "window_end", "n", "mean", "statistic",
                               "value", "p_value", "headline", "rbar", "n_pos", "n_neg",
                               "n_days", "signed", "median", "trimmed_mean")}
    for g, group, idx in groups_with_pairs(groups, names):
        h = _member(groups, g, idx)  # membership column of group g
        m = mult[idx, h]  # each pair's sign in the group (expected direction if pooled)
        signed = bool((m < 0).any())
        share = np.where(m > 0, per["share"][idx], per["share_neg"][idx])
        cl = np.unique(clusters[idx, h])  # sorted by day 0 (codes follow (group, day 0))
        g_day0, g_dof = day0[idx], dof[idx]
        # each pair's news day as a code 0..G-1, and what depends only on the window
        # length k (headline, rbar): worked out once per group, not once per window
        day_code = np.unique(g_day0, return_inverse=True)[1].ravel()
        lengths = {end - start + 1 for start, end in windows}
        headlines = {k: stats.headline_statistic(g_day0, k) for k in lengths}
        ranks = stats.DailyRanks.from_sums(res.rank_u[g], res.rank_u_n[g], res.rank_g[g],
                                           res.rank_g_n[g], n=len(idx))
        # Columns are days relative to each cluster's day 0, or (estimation dates) the same
        # calendar days for every cluster.
        sums = stats.ClusterSums(cluster_day0[cl], size[cl], res.S[cl], res.Q[cl], res.C[cl],
                                 offset=None if fixed_estimation else est0)
        rbars = {k: sums.rbar(k) for k in lengths}
        # Winsorized or trimmed CARs for the CAR tests (after the pairs without a CAR left
        # the sums below: the rank tests and their sums keep every pair).
        def robust_car(j):
            return stats.robust_sample(m * per["car"][idx, j], config.winsorize, config.trim)

        # The wild bootstrap of every CAR window at once: scipy's cost is per news day, so
        # one call per group, not one per window (stats.wild_cluster_ts).
        car_windows = [j for j, w in enumerate(windows) if w in wanted and not skewed]
        robust = {j: robust_car(j) for j in car_windows}
        wild = dict(zip(car_windows, stats.wild_cluster_ts(
            np.array([robust[j] for j in car_windows]).reshape(len(car_windows), len(idx)),
            g_day0)))
        for j, (start, end) in enumerate(windows):
            car, var, k = m * per["car"][idx, j], per["var"][idx, j], end - start + 1
            # Pairs without this CAR leave the window's sums (signed as they went in).
            gone = ~np.isfinite(car)
            out, m_out = idx[gone], m[gone][:, None]
            rows = rare_row[out]
            lost = np.where(np.isfinite(res.rare_resid[rows]), m_out * res.rare_resid[rows], 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                aar = ((res.est_sum[g] - lost.sum(axis=0))
                       / (res.est_n[g] - np.isfinite(res.rare_resid[rows]).sum(axis=0)))
            car = robust[j] if j in robust else robust_car(j)
            headline = headlines[k]
            rbar = rbars[k]
            days = length + np.arange(start, end + 1) - config.event_window[0]
            pseudo = stats.NO_RESULT
            if start != end and config.pseudo_draws:
                cum_w, size_w = res.cum[cl].copy(), size[cl].copy()
                where = np.searchsorted(cl, clusters[out, h])
                np.subtract.at(cum_w, where, m_out * rare_cum[rows])
                np.subtract.at(size_w, where, 1.0)
                comp = stats.overlapping(cluster_day0[cl], k)[size_w > 0]
                starts = np.flatnonzero(np.diff(np.concatenate([[-1], comp])))
                comp_cum = (np.add.reduceat(cum_w[size_w > 0], starts, axis=0)
                            if starts.size else np.zeros((0, length + 1)))
                n_car = int(np.isfinite(car).sum())
                pseudo = stats.pseudo_event_test_sums(
                    float(np.nanmean(car)) if n_car else np.nan, n_car, comp_cum, k,
                    config.pseudo_draws, rng)
            grank_t = stats.grank_from_sums(grank[0][g, j], grank[1][g, j], grank[2][g, j],
                                            grank[3][g, j])
            sl = slice(start - config.event_window[0], end - config.event_window[0] + 1)
            day_n = res.aar_n[g, sl]
            with np.errstate(invalid="ignore", divide="ignore"):  # NaN on a day without ARs
                day_aar = res.aar_sum[g, sl] / day_n
                day_inflation = res.infl_sum[g, sl] / res.infl_n[g, sl]
            sample = stats.WindowSample(car, var, g_dof, share, k, aar, rbar, ranks, days,
                                        pseudo, g_day0, grank_t, day_aar, day_n,
                                        day_inflation, wild.get(j, stats.NO_RESULT))
            n = int(np.isfinite(car).sum())
            mean = float(np.nansum(car) / n) if n else np.nan
            n_pos, n_neg = int((car > 0).sum()), int((car < 0).sum())
            n_days = int(np.count_nonzero(np.bincount(day_code[np.isfinite(car)])))  # news days
            median, trimmed = stats.robust_means(car)
            for statistic in stats.STATISTICS:
                value, p = (stats.NO_RESULT if skewed and statistic.symmetric_null
                            else statistic.compute(sample))
                name = statistic.name
                for key, v in (("group", group), ("window_start", start), ("window_end", end),
                               ("n", n), ("mean", mean), ("statistic", name), ("value", value),
                               ("p_value", p), ("headline", name == headline), ("rbar", rbar),
                               ("n_pos", n_pos), ("n_neg", n_neg), ("n_days", n_days),
                               ("signed", signed), ("median", median),
                               ("trimmed_mean", trimmed)):
                    columns[key].append(v)
    out = pd.DataFrame(columns)
    # The family the summary reads: the headline test of every group (two or more pairs)
    # and CAR window, adjusted for testing all of them at once.
    family = (out["headline"].to_numpy(dtype=bool) & (out["n"] >= 2).to_numpy()
              & np.array([(s, e) in wanted for s, e in zip(out["window_start"],
                                                            out["window_end"])], dtype=bool))
    out["p_holm"], out["p_bh"] = np.nan, np.nan
    if family.any():
        holm, bh = stats.adjusted_pvalues(out.loc[family, "p_value"].to_numpy())
        out.loc[family, "p_holm"], out.loc[family, "p_bh"] = holm, bh
    return out


def _factor_matrix(config: StudyConfig, panel: PricePanel, factor_data: pd.DataFrame | None,
                   transform) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
    """(factor returns (T, k), risk-free (T,) or None, names) for model="factors"."""
    if not get_model(config.model).uses_factors:
        return None, None, []
    if factor_data is not None:
        data = factor_data.reindex(panel.sessions)
        names = [c for c in data.columns if c.upper() != "RF"]
        rf = data["RF"].to_numpy(dtype="float64") if "RF" in data.columns else None
        return data[names].to_numpy(dtype="float64"), rf, names
    names = list(config.factors)
    missing = [t for t in names if t not in panel.close.columns]
    if missing:
        raise PriceDataError(f"factor tickers not in the price data: {', '.join(missing)}",
                             field="factors")
    return transform(panel.returns[names].to_numpy(dtype="float64")), None, names
