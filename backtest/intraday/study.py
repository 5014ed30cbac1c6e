"""Intraday event study: what the first minutes and hours after the news did, from bars.

For each (event, linked ticker) pair:

* **bar 0** is the first regular-session bar that opens at or after the news time
  (:func:`backtest.intraday.bars.first_bar_at_or_after`). News before the open or after the
  close gets the next session's first bar, whose overnight gap is then part of the
  reaction; a ``during_session`` event without a minute has no bar 0 and is skipped.
* **returns** are log returns on the session grid. A session's first bar is split into
  its overnight gap ``ln(open / previous close)`` and its own ``ln(close / open)``; every
  other bar is ``ln(close / previous close)``. A minute without a trade keeps the last
  price (previous-tick: its return is 0 and the move shows when the stock trades again).
* **abnormal returns** ``AR = r - (alpha + beta r_m)`` against the market's bar returns,
  the market model fitted by OLS on the previous ``estimation`` sessions' bars at the same
  interval (gaps left out of the fit; the gap's AR is ``gap - beta gap_m``); or
  market-adjusted, ``AR = r - r_m``.
* **time-of-day scaling**: the variance of an AR at slot ``s`` (the bar's position in its
  session) is the mean squared estimation-period AR at that slot, pooled over ``pool``
  neighbouring slots, and the gap has its own (Andersen and Bollerslev 1997's periodic
  component: minute returns are several times as volatile at the open as at midday, so
  one variance for all bars over-rejects at the open and under-rejects at midday).
* **horizons** (5, 15, 30, 60 minutes, to the close, to the next open):
  ``CAR_h = sum of the ARs from bar 0 through the horizon`` (from the last price before
  the news), ``z = CAR_h / sqrt(sum of the bars' variances)`` against the standard normal.
  The next-open horizon ends with the next session's gap (its open price).

**Same-event tickers move together** (one headline moves ORCL and CoreWeave in the same
minute), so pairs are not pooled as if independent. The pooled test of each group of an
event uses the *portfolio* of its pairs, each signed by its expected direction: the
portfolio's own estimation-period ARs give its time-of-day variance, which carries the
tickers' correlation (Brown and Warner 1980's crude dependence adjustment, at the bar
level). Events are then combined with Stouffer's Z (independent news events), and when
there are at least three, a t across events of their standardized CARs (Boehmer,
Musumeci and Poulsen 1991). One event is one observation: the pooled line says so.

References
----------
Andersen, T. G., Bollerslev, T. (1997). Intraday periodicity and volatility persistence
    in financial markets. *Journal of Empirical Finance* 4(2-3), 115-158.
Brown, S. J., Warner, J. B. (1980). Measuring security price performance. *JFE* 8(3).
Boehmer, E., Musumeci, J., Poulsen, A. B. (1991). Event-study methodology under
    conditions of event-induced variance. *JFE* 30(2), 253-272.
Stouffer, S. A., Suchman, E. A., DeVinney, L. C., Star, S. A., Williams, R. M. (1949).
    *The American Soldier*, vol. 1. Princeton University Press (the combined Z).
Hansen, P. R., Lunde, A. (2006). Realized variance and market microstructure noise.
    *JBES* 24(2), 127-161 (previous-tick prices on a regular grid).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from backtest.intraday.bars import IntradayBars, first_bar_at_or_after, interval_text
from events.errors import ConfigError
from events.model import Calendar, Event
from events.timing import event_timing

INTRADAY_MODELS = ("market", "market_adjusted")
DEFAULT_HORIZONS = ("5m", "15m", "30m", "60m", "close", "next_open")
PAIR_COLUMNS = ["event_id", "ticker", "role", "direction", "news_time", "bar0", "bar0_local",
                "session", "model", "alpha", "beta", "sigma", "estimation_bars",
                "estimation_sessions", "other_news_sessions", "stale_share", "skipped"]
HORIZON_COLUMNS = ["event_id", "ticker", "role", "direction", "horizon", "bars", "capped", "end",
                   "end_local", "car", "raw", "z", "p", "expected", "as_expected"]
PATH_COLUMNS = ["event_id", "ticker", "offset", "minutes", "time", "time_local", "ar", "car",
                "raw", "session_start"]
POOLED_COLUMNS = ["group", "horizon", "pairs", "events", "clusters", "signed_car", "z", "p",
                  "t_events", "p_t", "note"]


@dataclass(frozen=True)
class IntradayConfig:
    """Settings of an intraday study (all have defaults).

    window : bars before and after bar 0 in the minute path, e.g. (-30, 120) for 1-minute
        bars: 30 minutes before the news to two hours after, in trading time.
    horizons : "Nm" (N minutes from bar 0, a whole number of bars), "close" (the
        session's last bar) and "next_open" (through the next session's opening gap).
    model : "market" (OLS on the estimation bars) or "market_adjusted" (alpha 0, beta 1).
    estimation : sessions before bar 0's session whose bars fit the model and the
        time-of-day variances; min_sessions of them must have bars.
    pool : time-of-day slots on either side pooled into each slot's variance.
    group_by : pair columns whose values each get a pooled line ("role", "direction");
        "all" pairs always get one.
    exclude_other_events : leave out of a pair's estimation the sessions in which another
        event of the calendar moved the same ticker (their reaction is not a normal day).
    """

    window: tuple[int, int] = (-30, 120)
    horizons: tuple[str, ...] = DEFAULT_HORIZONS
    model: str = "market"
    market: str = "SPY"
    estimation: int = 20
    min_sessions: int = 5
    pool: int = 2
    group_by: tuple[str, ...] = ("role",)
    exclude_other_events: bool = True

    def __post_init__(self):
        a, b = self.window
        if not (a <= 0 <= b):
            raise ConfigError(f"window must hold bar 0 (A <= 0 <= B), got {a} {b}",
                              field="window")
        if b - a > 5000:
            raise ConfigError(f"window of {b - a + 1} bars is more than 5,001", field="window")
        if self.model not in INTRADAY_MODELS:
            raise ConfigError(f"an intraday study supports --model {' or '.join(INTRADAY_MODELS)},"
                              f" got {self.model!r}", field="model")
        if not (1 <= self.min_sessions <= self.estimation <= 250):
            raise ConfigError(f"estimation must be 1..250 sessions and at least min_sessions "
                              f"({self.min_sessions}), got {self.estimation}",
                              field="estimation")
        if not 0 <= self.pool <= 30:
            raise ConfigError(f"pool must be 0..30 slots, got {self.pool}", field="pool")
        if not self.horizons or len(set(self.horizons)) != len(self.horizons):
            raise ConfigError(f"horizons must be distinct and at least one, got "
                              f"{','.join(self.horizons) or 'none'}", field="horizons")
        for h in self.horizons:
            if h not in ("close", "next_open") and not re.fullmatch(r"[1-9]\d{0,3}m", h):
                raise ConfigError(f"horizon must be Nm (minutes), close or next_open, got "
                                  f"{h!r}", field="horizons")
        for g in self.group_by:
            if g not in ("role", "direction"):
                raise ConfigError(f"intraday groups are role and direction, got {g!r}",
                                  field="group_by")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class IntradayResult:
    """What an intraday study found.

    pairs : one row per (event, ticker): bar 0 (UTC and exchange time), the fit, the share
        of stale (no-trade) bars, or why the pair was skipped.
    horizons : one row per pair and horizon: CAR (log, from the last price before the
        news), raw move (log), z and p, expected sign and whether it moved that way.
    path : one row per pair and bar of the window: AR, CAR and raw move from the news.
    pooled : one row per group and horizon: signed portfolio CAR (mean over events), its
        combined Z, the t across events when there are at least three, a note in words.
    """

    config: IntradayConfig
    interval: pd.Timedelta
    exchange: str
    pairs: pd.DataFrame
    horizons: pd.DataFrame
    path: pd.DataFrame
    pooled: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A plain-text summary: pairs, the pooled table and each pair's horizons."""
        kept = self.pairs[self.pairs["skipped"] == ""]
        lines = [f"Intraday study, {interval_text(self.interval)} bars on {self.exchange}, "
                 f"model {self.config.model}: {len(kept)} of {len(self.pairs)} pairs, "
                 f"{kept['event_id'].nunique()} news events"]
        for _, r in self.pairs[self.pairs["skipped"] != ""].iterrows():
            lines.append(f"  skipped {r.event_id}/{r.ticker}: {r.skipped}")
        if len(self.pooled):
            lines.append("")
            lines.append(self.pooled.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if len(self.horizons):
            lines.append("")
            show = self.horizons[["event_id", "ticker", "horizon", "car", "z", "p",
                                  "as_expected"]]
            lines.append(show.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        lines += self.notes
        return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Formulas (each one place)
# --------------------------------------------------------------------------------------

def bar_returns(close: np.ndarray, open_: np.ndarray, first: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log returns on a bar grid: (bar, gap, stale) for ``(bars, tickers)`` prices.

    ``first`` marks each session's first bar. Prices carry forward over bars without a
    trade (previous-tick, Hansen and Lunde 2006), so such a bar's return is 0 (``stale``
    marks them). A first bar's return is split: ``gap = ln(open / previous close)``
    and ``bar = ln(close / open)``; other bars ``bar = ln(close / previous close)``.
    With no open at a first bar (no trade in it) the whole move is in ``bar``.
    """
    stale = ~np.isfinite(close)
    filled = pd.DataFrame(close).ffill().to_numpy()
    logc = np.log(filled)
    prev = np.vstack([np.full((1, close.shape[1]), np.nan), logc[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        logo = np.log(np.where(np.isfinite(open_) & ~stale, open_, np.nan))
    has_open = first[:, None] & np.isfinite(logo)
    gap = np.where(has_open, logo - prev, 0.0)
    bar = np.where(has_open, logc - logo, logc - prev)
    return bar, np.where(np.isfinite(gap), gap, 0.0), stale


def market_model_fit(r: np.ndarray, rm: np.ndarray) -> tuple[float, float, float, int]:
    """OLS ``r = alpha + beta r_m + e`` on complete rows: (alpha, beta, sigma, n)
    (MacKinlay 1997, eq. 6-8; sigma with n - 2 degrees of freedom)."""
    keep = np.isfinite(r) & np.isfinite(rm)
    n = int(keep.sum())
    if n < 3:
        return np.nan, np.nan, np.nan, n
    x, y = rm[keep], r[keep]
    xm, ym = x.mean(), y.mean()
    sxx = ((x - xm) ** 2).sum()
    beta = ((x - xm) * (y - ym)).sum() / sxx if sxx > 0 else 0.0
    alpha = ym - beta * xm
    e = y - alpha - beta * x
    return float(alpha), float(beta), float(np.sqrt((e ** 2).sum() / (n - 2))), n


def periodic_variance(ar: np.ndarray, slot: np.ndarray, n_slots: int, pool: int
                      ) -> np.ndarray:
    """Variance of an AR at each intraday slot: the mean of squared ARs at that slot over
    the estimation sessions, pooled over ``pool`` slots on either side (Andersen and
    Bollerslev 1997, the periodic component from mean squared returns per interval).

    Slot 0 (the session's first bar, after the auction) is never pooled with others.
    ``ar`` and ``slot`` are flat arrays of the estimation bars; NaN ARs are left out.
    """
    keep = np.isfinite(ar)
    sq = np.bincount(slot[keep], weights=ar[keep] ** 2, minlength=n_slots)[:n_slots]
    cnt = np.bincount(slot[keep], minlength=n_slots)[:n_slots].astype(float)
    if pool and n_slots > 1:
        kernel = np.ones(2 * pool + 1)
        rest_sq = np.convolve(sq[1:], kernel, mode="same")
        rest_cnt = np.convolve(cnt[1:], kernel, mode="same")
        sq = np.r_[sq[:1], rest_sq]
        cnt = np.r_[cnt[:1], rest_cnt]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, sq / cnt, np.nan)


def news_clusters(events: dict) -> dict:
    """Cluster label of each key: events (key -> (session, tickers)) of one session that
    share a ticker are one cluster (transitively): two headlines minutes apart on ORCL
    measure one reaction, and combining them as independent would grow the Z by sqrt(2)."""
    keys = list(events)
    parent = list(range(len(keys)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_session: dict = {}
    for i, k in enumerate(keys):
        by_session.setdefault((k[1], events[k][0]), []).append(i)  # same group, same session
    for members in by_session.values():
        seen: dict[str, int] = {}
        for i in members:
            for ticker in events[keys[i]][1]:
                if ticker in seen:
                    parent[root(i)] = root(seen[ticker])
                else:
                    seen[ticker] = i
    return {k: root(i) for i, k in enumerate(keys)}


def stouffer_z(z: np.ndarray) -> float:
    """Stouffer et al. (1949) combined Z of independent tests: ``sum z_e / sqrt(E)``."""
    z = z[np.isfinite(z)]
    return float(z.sum() / np.sqrt(len(z))) if len(z) else np.nan


def normal_p(z) -> np.ndarray:
    """Two-sided p-value of a standard-normal statistic."""
    from backtest.eventstudy.stats import _normal_p

    return _normal_p(np.asarray(z, dtype=float))


# --------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------

def _bar0_time(event: Event, exchange: str
               ) -> tuple[pd.Timestamp | None, pd.Timestamp | None, str]:
    """(the moment bar 0 must open at or after, the session it must be in, or a reason
    there is none)."""
    timing = event_timing(event, exchange)
    if timing.published is not None:
        return timing.published, timing.day0, ""
    if event.session == "during_session":
        return None, None, "during_session without a minute: no intraday bar 0"
    return timing.available, timing.day0, ""  # before the open / after the close: next open


def _horizon_end(h: str, interval: pd.Timedelta, k0: int, last_of_session: int
                 ) -> tuple[int, bool, bool]:
    """(last bar of the horizon, ends with the next session's gap, capped at the close):
    a minute horizon that would run past the session's last bar ends there instead (the
    overnight gap is the next_open horizon's, and trading exits at the close too)."""
    end, with_gap = _horizon_bars(h, interval, k0, last_of_session)
    if end > last_of_session:
        return last_of_session, with_gap, True
    return end, with_gap, False


def _horizon_bars(h: str, interval: pd.Timedelta, k0: int, last_of_session: int
                  ) -> tuple[int, bool]:
    """(last bar index of the horizon, ends with the next session's gap)."""
    if h == "close":
        return last_of_session, False
    if h == "next_open":
        return last_of_session, True
    minutes = pd.Timedelta(minutes=int(h[:-1]))
    n = minutes / interval
    if n != int(n) or n < 1:
        raise ConfigError(f"horizon {h} is not a whole number of {interval_text(interval)} "
                          f"bars", field="horizons")
    return k0 + int(n) - 1, False


def run_intraday_study(calendar: Calendar, bars: IntradayBars,
                       config: IntradayConfig | None = None) -> IntradayResult:
    """Intraday event study of every (event, linked ticker) pair of ``calendar``.

    ``bars`` must hold the market ticker (``config.market``) and the calendar's tickers
    (a ticker without bars is skipped, with the reason). See the module docstring for
    the method; :class:`IntradayResult` for the tables.
    """
    config = config or IntradayConfig()
    interval, exchange = bars.interval, bars.exchange
    if config.market not in bars.tickers:
        from events.errors import PriceDataError

        raise PriceDataError(f"no {interval_text(interval)} bars for the market "
                             f"{config.market}", field="market")
    for h in config.horizons:  # refuse a bad horizon before any work
        if h not in ("close", "next_open"):
            _horizon_bars(h, interval, 0, 0)
    index = bars.index
    tz = _tz(exchange)
    session = bars.session.to_numpy()
    first = np.r_[True, session[1:] != session[:-1]] if len(session) else np.array([], bool)
    starts = np.flatnonzero(first)
    session_no = np.cumsum(first) - 1
    slot = np.arange(len(index)) - starts[session_no] if len(index) else np.array([], int)
    n_slots = int(slot.max()) + 1 if len(slot) else 1
    last_bar = np.r_[starts[1:] - 1, len(index) - 1] if len(starts) else np.array([], int)

    tickers = bars.tickers
    col = {t: j for j, t in enumerate(tickers)}
    ret, gap, stale = bar_returns(bars.close.to_numpy(), bars.open.to_numpy(), first)
    m = col[config.market]
    a, b = config.window
    pair_rows, horizon_rows, path_rows = [], [], []
    portfolio: dict[tuple[str, str, str], dict] = {}

    located = [(event, *_locate(event, exchange, index, session, interval))
               for event in calendar]
    # Each ticker's news sessions: another event's reaction is not a normal day for the model
    news_sessions: dict[str, set[int]] = {}
    for event, k0, _, _ in located:
        if k0 is not None:
            for link in event.tickers:
                news_sessions.setdefault(link.ticker, set()).add(int(session_no[k0]))

    close = bars.close.to_numpy()
    longest = max([_horizon_bars(h, interval, 0, 0)[0] + 1 for h in config.horizons
                   if h not in ("close", "next_open")], default=0)
    for event, k0_all, t0, reason in located:
        # Work on the event's own span of bars (its estimation sessions to its last horizon):
        # every per-pair array below is a view of that span, not of all the data.
        s0 = session_no[k0_all] if k0_all is not None else -1
        lo, hi = 0, 0
        if k0_all is not None:
            lo = max(0, min(starts[max(0, s0 - config.estimation)], k0_all + a))
            hi = min(len(index), max(k0_all + b, last_bar[s0] + 1, k0_all + longest - 1) + 1)
        span = slice(lo, hi)
        e_index, e_first, e_slot, e_sno = index[span], first[span], slot[span], session_no[span]
        e_ret, e_gap, e_stale, e_close = ret[span], gap[span], stale[span], close[span]
        k0 = k0_all - lo if k0_all is not None else None
        e_last = last_bar[s0] - lo if k0_all is not None else -1
        window_est = ((e_sno >= s0 - config.estimation) & (e_sno < s0)
                      if k0 is not None else np.zeros(len(e_index), bool))
        for link in event.tickers:
            base = {"event_id": event.id, "ticker": link.ticker, "role": link.role,
                    "direction": link.direction, "news_time": t0,
                    "bar0": e_index[k0] if k0 is not None else pd.NaT,
                    "bar0_local": e_index[k0].tz_convert(tz) if k0 is not None else pd.NaT,
                    "session": pd.Timestamp(session[k0_all]) if k0 is not None else pd.NaT,
                    "model": config.model}
            why = reason or ("" if link.ticker in col else
                             f"no {interval_text(interval)} bars for {link.ticker}")
            j = col.get(link.ticker)
            if not why and not np.isfinite(e_close[:k0 + 1, j]).any():
                why = f"no {link.ticker} bar before bar 0 in its estimation sessions"
            est, n_est_sessions, n_other = window_est, 0, 0
            traded = np.isfinite(e_close[:, j]) & np.isfinite(e_close[:, m]) if j is not None \
                else None
            if not why and not traded[k0:e_last + 1].any():
                why = (f"no {link.ticker} and {config.market} bars together in the news "
                       f"session after bar 0")
            if not why:
                # only sessions in which the ticker and the market both traded estimate
                est = window_est & np.isin(e_sno, np.unique(e_sno[traded & window_est]))
                other = news_sessions.get(link.ticker, set()) - {int(s0)}
                if config.exclude_other_events and other:
                    hit = np.isin(e_sno, sorted(other)) & window_est
                    n_other = len(np.unique(e_sno[hit]))
                    est = est & ~hit
                n_est_sessions = len(np.unique(e_sno[est]))
                if n_est_sessions < config.min_sessions:
                    why = (f"{n_est_sessions} estimation sessions of bars before "
                           f"{pd.Timestamp(session[k0_all]).date()}"
                           + (f" ({n_other} left out: other news on {link.ticker})"
                              if n_other else "") + f", fewer than {config.min_sessions}")
            if why:
                pair_rows.append({**base, "skipped": why})
                continue
            fit_rows = est & ~e_first
            if config.model == "market":
                alpha, beta, sigma, n_fit = market_model_fit(
                    np.where(e_stale[:, j], np.nan, e_ret[:, j])[fit_rows], e_ret[fit_rows, m])
            else:
                alpha, beta, n_fit = 0.0, 1.0, int(fit_rows.sum())
                sigma = float(np.nanstd(e_ret[fit_rows, j] - e_ret[fit_rows, m], ddof=1))
            if not np.isfinite(beta):
                pair_rows.append({**base, "skipped": f"{n_fit} estimation bars: too few to fit"})
                continue
            ar = e_ret[:, j] - alpha - beta * e_ret[:, m]
            ar_gap = np.where(e_first, e_gap[:, j] - beta * e_gap[:, m], 0.0)
            var = periodic_variance(ar[est], e_slot[est], n_slots, config.pool)
            gap_var = float(np.nanmean(ar_gap[est & e_first] ** 2)) if (est & e_first).any() \
                else np.nan
            bar_var = var[e_slot] + np.where(e_first, gap_var, 0.0)
            total = ar + ar_gap
            window_bars = np.arange(k0 + a, k0 + b + 1)
            inside = (window_bars >= 0) & (window_bars < len(e_index))
            stale_share = float(e_stale[k0:min(k0 + b + 1, len(e_index)), j].mean())
            pair_rows.append({**base, "alpha": alpha, "beta": beta, "sigma": sigma,
                              "estimation_bars": n_fit, "estimation_sessions": n_est_sessions,
                              "other_news_sessions": n_other,
                              "stale_share": stale_share, "skipped": ""})
            path_rows.append(_path(event.id, link.ticker, window_bars[inside], k0, total,
                                   e_ret[:, j] + e_gap[:, j], e_index, tz, e_first, interval))
            sign = link.sign
            for h in config.horizons:
                end, with_gap, capped = _horizon_end(h, interval, k0, e_last)
                car = total[k0:end + 1].sum()
                raw = (e_ret[k0:end + 1, j] + e_gap[k0:end + 1, j]).sum()
                v = bar_var[k0:end + 1].sum()
                end_time = e_index[end] + interval
                if with_gap:
                    nxt = end + 1
                    if nxt >= len(e_index):
                        horizon_rows.append({**_hbase(base), "horizon": h, "bars": np.nan,
                                             "capped": False, "end": pd.NaT, "end_local": pd.NaT,
                                             "car": np.nan, "raw": np.nan, "z": np.nan,
                                             "p": np.nan, "expected": sign,
                                             "as_expected": None})
                        continue
                    car += ar_gap[nxt]
                    raw += e_gap[nxt, j]
                    v += gap_var
                    end_time = e_index[nxt]
                z = car / np.sqrt(v) if v > 0 else np.nan
                horizon_rows.append({**_hbase(base), "horizon": h, "bars": end - k0 + 1,
                                     "capped": capped, "end": end_time,
                                     "end_local": end_time.tz_convert(tz),
                                     "car": car, "raw": raw, "z": z,
                                     "p": np.nan, "expected": sign,  # all at once below
                                     "as_expected": bool(np.sign(car) == sign)})
            # The signed AR series of this pair, for its event's portfolios.
            groups = ["all"] + [f"{g}={getattr(link, g)}" for g in config.group_by]
            for g in groups:
                key = (event.id, g)
                p = portfolio.setdefault(key, {"k0": k0, "est": np.zeros(len(e_index), bool),
                                               "total": [], "gap": [], "last": e_last,
                                               "first": e_first, "slot": e_slot,
                                               "session": int(s0), "tickers": set()})
                p["tickers"].add(link.ticker)
                p["est"] = p["est"] | est
                out = window_est & ~est  # this pair's left-out sessions: no estimation AR
                p["total"].append(np.where(out, np.nan, sign * total))
                p["gap"].append(np.where(out, np.nan, sign * ar_gap))

    horizons = pd.DataFrame(horizon_rows, columns=HORIZON_COLUMNS)
    horizons["p"] = normal_p(horizons["z"].to_numpy(dtype=float))  # NaN stays NaN
    pooled = _pooled(portfolio, config, interval, n_slots)
    notes = [f"Returns are log returns of {interval_text(interval)} bars on {exchange}'s "
             f"regular sessions; times in the tables are UTC (columns *_local: exchange "
             f"time)."]
    return IntradayResult(config, interval, exchange,
                          pd.DataFrame(pair_rows, columns=PAIR_COLUMNS),
                          horizons,
                          (pd.concat(path_rows, ignore_index=True) if path_rows
                           else pd.DataFrame(columns=PATH_COLUMNS)),
                          pd.DataFrame(pooled, columns=POOLED_COLUMNS), notes)


def _locate(event: Event, exchange: str, index: pd.DatetimeIndex, session: np.ndarray,
            interval: pd.Timedelta) -> tuple[int | None, pd.Timestamp | None, str]:
    """(bar 0's position, the time it opens at or after, or a reason there is none)."""
    t0, day0, reason = _bar0_time(event, exchange)
    k0 = first_bar_at_or_after(index, t0) if t0 is not None else None
    after_last = (k0 is not None and k0 > 0 and pd.Timestamp(session[k0 - 1]) == day0
                  and pd.Timestamp(session[k0]) != day0)
    if after_last:  # news inside the session's last bar: the next session's first bar
        return k0, t0, reason
    if t0 is not None and (k0 is None or pd.Timestamp(session[k0]) != day0):
        # the data start after the news (or end before it): no bar of its session
        return None, t0, f"no {interval_text(interval)} bars in the news session {day0.date()}"
    return k0, t0, reason


def _tz(exchange: str):
    from events.timing import exchange_calendar

    return exchange_calendar(exchange).tz


def _hbase(base: dict) -> dict:
    return {k: base[k] for k in ("event_id", "ticker", "role", "direction")}


def _path(event_id, ticker, window_bars, k0, total, raw, index, tz, first, interval
          ) -> pd.DataFrame:
    """AR, CAR and raw move at each window bar, cumulated from the last price before the
    news (so both are 0 at the close of bar -1)."""
    offsets = window_bars - k0
    c = np.cumsum(total[window_bars])
    r = np.cumsum(raw[window_bars])
    at_news = np.flatnonzero(offsets == -1)
    c0 = c[at_news[0]] if len(at_news) else 0.0
    r0 = r[at_news[0]] if len(at_news) else 0.0
    times = index[window_bars]
    return pd.DataFrame({"event_id": event_id, "ticker": ticker, "offset": offsets,
                         "minutes": offsets * (interval / pd.Timedelta(minutes=1)),
                         "time": times, "time_local": times.tz_convert(tz),
                         "ar": total[window_bars], "car": c - c0, "raw": r - r0,
                         "session_start": first[window_bars]})


def _pooled(portfolio: dict, config: IntradayConfig, interval, n_slots) -> list[dict]:
    """Per group and horizon: each event's signed portfolio CAR and z, combined over
    independent clusters of events (:func:`news_clusters`)."""
    per: dict[tuple[str, str], list[tuple[float, float, int, int]]] = {}
    cluster = news_clusters({key: (p["session"], p["tickers"]) for key, p in portfolio.items()})
    for (event_id, group), p in portfolio.items():
        from backtest.eventstudy.stats import _nanmean  # NaN without a warning: no pair there

        total = _nanmean(np.vstack(p["total"]), axis=0)
        ar_gap = _nanmean(np.vstack(p["gap"]), axis=0)
        est, k0, last, first, slot = p["est"], p["k0"], p["last"], p["first"], p["slot"]
        bar_only = total - ar_gap
        var = periodic_variance(bar_only[est], slot[est], n_slots, config.pool)
        gap_var = float(np.nanmean(ar_gap[est & first] ** 2)) if (est & first).any() else np.nan
        bar_var = var[slot] + np.where(first, gap_var, 0.0)
        for h in config.horizons:
            end, with_gap, _ = _horizon_end(h, interval, k0, last)
            car, v = total[k0:end + 1].sum(), bar_var[k0:end + 1].sum()
            if with_gap:
                if end + 1 >= len(total):
                    continue
                car += ar_gap[end + 1]
                v += gap_var
            z = car / np.sqrt(v) if v > 0 else np.nan
            per.setdefault((group, h), []).append((car, z, len(p["total"]),
                                                   cluster[(event_id, group)]))
    rows = []
    from backtest.eventstudy.stats import csect_t

    for (group, h), vals in per.items():
        labels = np.array([v[3] for v in vals])
        ids = np.unique(labels)
        # one observation per cluster: the mean of its events' CARs and z (the mean of
        # correlated z has variance at most 1, so the combined Z stays conservative)
        car = np.array([np.mean([v[0] for v in vals if v[3] == c]) for c in ids])
        z = np.array([np.mean([v[1] for v in vals if v[3] == c]) for c in ids])
        n_events, n_clusters = len(vals), len(ids)
        zc = stouffer_z(z)
        t = csect_t(z) if n_clusters >= 3 else None
        merged = (f" in {n_clusters} independent clusters (events of one session sharing a "
                  f"ticker count once)" if n_clusters < n_events else "")
        note = ("one news event: a single observation, not a tested effect across news"
                if n_events == 1 else
                f"{n_events} news events{merged}: one observation, not a tested effect"
                if n_clusters == 1 else
                f"{n_events} news events{merged}: too few for a t across events"
                if n_clusters < 3 else f"{n_events} news events{merged}")
        rows.append({"group": group, "horizon": h, "pairs": sum(v[2] for v in vals),
                     "events": n_events, "clusters": n_clusters,
                     "signed_car": float(np.nanmean(car)), "z": zc,
                     "p": float(normal_p(zc)), "t_events": t.statistic if t else np.nan,
                     "p_t": t.p_value if t else np.nan, "note": note})
    order = {h: i for i, h in enumerate(config.horizons)}
    rows.sort(key=lambda r: (r["group"] != "all", r["group"], order[r["horizon"]]))
    return rows
