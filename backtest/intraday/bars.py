"""Sub-daily bars: :class:`IntradayBars`, the one minute-bar input of the intraday study
and the intraday simulator, on an exchange's real session minutes.

A bar is labelled by the time it **opens** (UTC inside, tz-aware), as yfinance and
most vendors do: the 1-minute bar ``14:30 UTC`` covers 14:30:00 to 14:30:59 and its
close is known at 14:31. The regular-session grid comes from exchange_calendars
(early closes and holidays included): for every session, the bar opens
``open, open + interval, ...`` up to the close. Each ticker's bars are reindexed to that
grid, so a minute without a trade is a NaN, never a skipped bar.

The bundled data are daily; minute bars come from a user's file
(``backtest data import --interval 1m FILE``) or from yfinance's intraday history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from events.errors import ConfigError

# The long schema of a bar file and of the bar cache (one row per bar and ticker).
BAR_COLUMNS = ["timestamp", "ticker", "open", "high", "low", "close", "volume"]
FIELDS = ("open", "high", "low", "close", "volume")
# Intervals we accept: they divide an hour, so every session's grid starts at its open.
INTERVALS = ("1m", "2m", "5m", "10m", "15m", "30m", "60m")


def parse_interval(text: str) -> pd.Timedelta:
    """``"1m"`` / ``"5min"`` / ``"1h"`` -> a Timedelta; only :data:`INTERVALS` are accepted."""
    m = re.fullmatch(r"\s*(\d+)\s*(m|min|h)\s*", str(text).lower())
    minutes = None if m is None else int(m.group(1)) * (60 if m.group(2) == "h" else 1)
    if minutes is None or f"{minutes}m" not in INTERVALS:
        raise ConfigError(f"interval must be one of {', '.join(INTERVALS)} (or 1h), got "
                          f"{text!r}", field="interval")
    return pd.Timedelta(minutes=minutes)


def interval_text(interval: pd.Timedelta) -> str:
    """The short name of an interval: ``Timedelta(minutes=5)`` -> ``"5m"``."""
    return f"{int(interval / pd.Timedelta(minutes=1))}m"


@lru_cache(maxsize=256)
def _session_grid(exchange: str, interval: pd.Timedelta, first: pd.Timestamp,
                  last: pd.Timestamp) -> tuple[pd.DatetimeIndex, np.ndarray]:
    from events.timing import exchange_calendar

    cal = exchange_calendar(exchange)
    sessions = cal.sessions_in_range(first, last)
    opens = cal.opens.reindex(sessions)
    closes = cal.closes.reindex(sessions)
    starts, labels = [], []
    for k, (o, c) in enumerate(zip(opens, closes)):
        n = int(np.ceil((c - o) / interval))  # a last partial bar still opens before the close
        starts.append(o + interval * np.arange(n))
        labels.append(np.full(n, k))
    index = pd.DatetimeIndex(np.concatenate(starts) if starts else [], tz="UTC",
                             name="timestamp")
    session_of = (np.asarray(sessions)[np.concatenate(labels)] if labels
                  else np.array([], dtype="datetime64[ns]"))
    return index, session_of


def session_grid(exchange: str, interval: pd.Timedelta, first, last
                 ) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """Regular-session bar opens of every session from ``first`` to ``last`` (dates),
    and the session (tz-naive date) of each bar."""
    index, session_of = _session_grid(exchange, pd.Timedelta(interval),
                                      pd.Timestamp(first).normalize(),
                                      pd.Timestamp(last).normalize())
    return index, pd.DatetimeIndex(session_of, name="session")


def first_bar_at_or_after(index: pd.DatetimeIndex, when: pd.Timestamp) -> int | None:
    """Position of the first bar of ``index`` that opens at or after ``when``, or None.

    This is the one rule for an intraday event's bar 0 (the study) and for a fill
    after news plus latency (the simulator): a bar that opened before the news
    already had a price set without it.
    """
    k = int(index.searchsorted(pd.Timestamp(when).tz_convert("UTC"), side="left"))
    return k if k < len(index) else None


@dataclass(frozen=True)
class IntradayBars:
    """Bars of several tickers at one interval on one exchange's regular sessions.

    ``open``, ``high``, ``low``, ``close``, ``volume``: frames indexed by bar open time
    (UTC, tz-aware, the session grid of :func:`session_grid`), one column per ticker,
    NaN where a ticker has no bar. Prices are as the source gives them (split-adjusted
    for yfinance); no dividend adjustment is needed within a day. ``session`` is each
    bar's session date; ``sources`` says where each ticker came from.
    """

    open: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    close: pd.DataFrame
    volume: pd.DataFrame
    interval: pd.Timedelta
    exchange: str = "XNYS"
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def index(self) -> pd.DatetimeIndex:
        return self.close.index

    @property
    def tickers(self) -> list[str]:
        return list(self.close.columns)

    @property
    def session(self) -> pd.DatetimeIndex:
        """The session (tz-naive date) of each bar: its date in exchange time (equity
        sessions do not cross midnight)."""
        from events.timing import exchange_calendar

        tz = exchange_calendar(self.exchange).tz
        return pd.DatetimeIndex(self.index.tz_convert(tz).normalize().tz_localize(None),
                                name="session")

    @classmethod
    def from_long(cls, long: pd.DataFrame, interval: pd.Timedelta, exchange: str = "XNYS",
                  sources: dict[str, str] | None = None) -> "IntradayBars":
        """From the long schema :data:`BAR_COLUMNS` (``timestamp`` tz-aware), already
        checked to lie on the session grid (see :mod:`backtest.intraday.barfiles`): the
        wide frames are reindexed to the full grid of the sessions the bars span."""
        stamps = pd.DatetimeIndex(long["timestamp"]).tz_convert("UTC")
        frame = long.assign(timestamp=stamps)
        from events.timing import exchange_calendar

        tz = exchange_calendar(exchange).tz
        local = stamps.tz_convert(tz)
        first = local.min().normalize().tz_localize(None)
        last = local.max().normalize().tz_localize(None)
        grid, _ = session_grid(exchange, interval, first, last)
        wide = {f: frame.pivot(index="timestamp", columns="ticker", values=f)
                .reindex(grid).astype("float64").rename_axis(columns=None) for f in FIELDS}
        tickers = sorted(frame["ticker"].unique())
        wide = {f: w.reindex(columns=tickers) for f, w in wide.items()}
        return cls(**wide, interval=pd.Timedelta(interval), exchange=exchange,
                   sources=dict(sources or {}))

    def to_long(self) -> pd.DataFrame:
        """The long schema :data:`BAR_COLUMNS`, bars without a close left out."""
        parts = {f: getattr(self, f).stack(future_stack=True) for f in FIELDS}
        long = pd.DataFrame(parts).rename_axis(["timestamp", "ticker"]).reset_index()
        return long[long["close"].notna()][BAR_COLUMNS].reset_index(drop=True)

    def select(self, tickers: list[str]) -> "IntradayBars":
        """These tickers only (in this order)."""
        return IntradayBars(**{f: getattr(self, f)[tickers] for f in FIELDS},
                            interval=self.interval, exchange=self.exchange,
                            sources={t: self.sources.get(t, "") for t in tickers})

    def asof(self, cut: pd.Timestamp) -> "IntradayBars":
        """The bars fully known at ``cut``: those that closed (open + interval) by then.

        The look-ahead audit cuts the data here at the news time plus latency.
        """
        keep = self.index + self.interval <= pd.Timestamp(cut).tz_convert("UTC")
        return IntradayBars(**{f: getattr(self, f).loc[keep] for f in FIELDS},
                            interval=self.interval, exchange=self.exchange,
                            sources=dict(self.sources))
