"""Where prices come from: the bundled snapshot, a local parquet cache, yfinance.

>>> from backtest.prices import PriceStore
>>> panel = PriceStore().load(["ORCL", "SPY"])       # bundled data, no network
>>> panel.returns["ORCL"].loc["2026-04-28"]          # doctest: +SKIP
-0.0404...

The store looks for each ticker in order: the snapshot shipped in the package
(``backtest/data/prices.parquet``, see ``SOURCES.md`` there), the per-user cache
(``$BACKTEST_CACHE_DIR`` or ``~/.cache/event-backtester``), then yfinance (unless
``offline``), whose download is written to the cache for the next run.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from backtest.returns import total_return_prices, total_returns
from events.errors import InputError
from events.timing import exchange_calendar

COLUMNS = ["date", "ticker", "open", "high", "low", "close", "volume", "dividend",
           "close_is_adjusted"]
CACHE_ENV = "BACKTEST_CACHE_DIR"


def bundled_path() -> Path:
    """Path of the snapshot shipped inside the package."""
    return Path(str(resources.files("backtest") / "data" / "prices.parquet"))


def default_cache_dir() -> Path:
    """``$BACKTEST_CACHE_DIR``, else ``$XDG_CACHE_HOME/event-backtester``, else ``~/.cache/...``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "event-backtester"


@dataclass(frozen=True)
class PricePanel:
    """Daily prices as wide frames (sessions x tickers), plus where they came from.

    ``open``/``close`` are split-adjusted, not dividend-adjusted, except for
    tickers in ``close_is_adjusted`` (whose close already is a total-return
    series and whose open may be NaN). ``returns`` are total returns
    (:func:`backtest.returns.total_returns`).
    """

    open: pd.DataFrame
    close: pd.DataFrame
    dividend: pd.DataFrame
    close_is_adjusted: pd.Series
    sources: dict[str, str] = field(default_factory=dict)  # ticker -> bundled/cache/yfinance

    @property
    def tickers(self) -> list[str]:
        return list(self.close.columns)

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.close.index

    @cached_property
    def returns(self) -> pd.DataFrame:
        return total_returns(self.close, self.dividend)

    @cached_property
    def tr_prices(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(open, close) on a total-return basis, for simulation."""
        return total_return_prices(self.open, self.close, self.dividend)

    @cached_property
    def data_hash(self) -> str:
        """SHA-256 (first 16 hex) of exactly these prices, for reproducibility."""
        h = hashlib.sha256()
        for name in ("open", "close", "dividend"):
            frame = getattr(self, name)
            h.update(name.encode())
            h.update(",".join(frame.columns).encode())
            h.update(frame.index.asi8.tobytes())
            h.update(np.ascontiguousarray(frame.to_numpy(dtype="float64")).tobytes())
        return h.hexdigest()[:16]

    def select(self, tickers: Iterable[str]) -> "PricePanel":
        cols = [t for t in dict.fromkeys(tickers) if t in self.close.columns]
        return PricePanel(self.open[cols], self.close[cols], self.dividend[cols],
                          self.close_is_adjusted[cols],
                          {t: self.sources.get(t, "") for t in cols})

    def source_text(self) -> str:
        kinds = sorted(set(self.sources.values()))
        return ", ".join(kinds) if kinds else "unknown"

    @classmethod
    def from_long(cls, df: pd.DataFrame, source: str) -> "PricePanel":
        """Build a panel from a long table with the columns of :data:`COLUMNS`."""
        df = df.copy()
        df["date"] = pd.to_datetime(df["date"])
        if df.duplicated(["date", "ticker"]).any():
            dup = df[df.duplicated(["date", "ticker"])].iloc[0]
            raise InputError(f"duplicate row for {dup['ticker']} on {dup['date'].date()}",
                             path=source)

        def wide(col):
            return df.pivot(index="date", columns="ticker", values=col).sort_index()

        close = wide("close")
        close.columns.name = None
        close.index.name = "date"
        open_ = wide("open").reindex_like(close)
        dividend = wide("dividend").reindex_like(close).fillna(0.0)
        adjusted = df.groupby("ticker")["close_is_adjusted"].first().reindex(close.columns)
        return cls(open_, close, dividend, adjusted.astype(bool),
                   {t: source for t in close.columns})


def from_yfinance_frame(raw: pd.DataFrame, tickers: list[str]) -> pd.DataFrame:
    """Normalize ``yfinance.download(..., auto_adjust=False, actions=True)`` to our long schema.

    yfinance returns MultiIndex columns ``(field, ticker)`` (also for a single
    ticker since 0.2.48) and a DatetimeIndex that may be tz-aware.
    """
    if raw is None or raw.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame = raw.copy()
    if not isinstance(frame.columns, pd.MultiIndex):
        frame.columns = pd.MultiIndex.from_product([frame.columns, tickers[:1]])
    if frame.columns.nlevels == 2 and frame.columns.get_level_values(0).isin(tickers).all():
        frame = frame.swaplevel(0, 1, axis=1)  # group_by="ticker" layout
    idx = pd.DatetimeIndex(frame.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    frame.index = idx.normalize()
    fields = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
              "Volume": "volume", "Dividends": "dividend"}
    out = []
    for ticker in tickers:
        if ticker not in frame.columns.get_level_values(1):
            continue
        sub = frame.xs(ticker, axis=1, level=1)
        part = pd.DataFrame({ours: sub[theirs] if theirs in sub else np.nan
                             for theirs, ours in fields.items()}, index=sub.index)
        part = part.dropna(subset=["close"])
        part["dividend"] = part["dividend"].fillna(0.0)
        part["ticker"] = ticker
        part["close_is_adjusted"] = False
        out.append(part.rename_axis("date").reset_index())
    if not out:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(out, ignore_index=True)[COLUMNS]


def _yfinance_download(tickers: list[str], start: str | None, end: str | None) -> pd.DataFrame:
    """``yfinance.download`` of split-adjusted OHLCV plus dividends, yfinance's semantics:
    ``start`` inclusive, ``end`` exclusive. Without a start the whole history is
    fetched (yfinance's own default would be one month).
    """
    import yfinance as yf  # imported here: the offline path never needs it

    span = {"period": "max"} if start is None else {"start": start}
    if end is not None:
        span["end"] = end
    return yf.download(tickers, auto_adjust=False, actions=True, progress=False, threads=False,
                       group_by="column", **span)


def _atomic_parquet(df: pd.DataFrame, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class PriceStore:
    """Serve daily prices: bundled snapshot, then local cache, then yfinance.

    Parameters
    ----------
    cache_dir : where downloaded prices are kept as parquet (one file per ticker).
    offline : never touch the network; tickers found nowhere locally are an error.
    use_bundled : serve the shipped snapshot first (default True).
    download : the yfinance boundary, ``(tickers, start, end) -> yfinance frame``
        with yfinance's semantics (``end`` exclusive); tests replace it with a
        fake that returns recorded responses.
    """

    def __init__(self, cache_dir: str | Path | None = None, offline: bool = False,
                 use_bundled: bool = True,
                 download: Callable[[list[str], str | None, str | None], pd.DataFrame] | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.offline = offline
        self.use_bundled = use_bundled
        self._download = download or _yfinance_download

    @cached_property
    def _bundled(self) -> pd.DataFrame:
        return pd.read_parquet(bundled_path())

    def _cache_file(self, ticker: str) -> Path:
        return self.cache_dir / "prices" / f"{ticker}.parquet"

    def load(self, tickers: Iterable[str], start: str | None = None, end: str | None = None
             ) -> PricePanel:
        """Prices for ``tickers`` (all sources merged), trimmed to ``[start, end]``."""
        wanted = list(dict.fromkeys(t.upper() for t in tickers))
        parts, sources, missing = [], {}, []
        bundled = self._bundled if self.use_bundled else None
        for ticker in wanted:
            if bundled is not None and (bundled["ticker"] == ticker).any():
                parts.append(bundled[bundled["ticker"] == ticker])
                sources[ticker] = "bundled"
            elif self._cache_file(ticker).exists():
                parts.append(pd.read_parquet(self._cache_file(ticker)))
                sources[ticker] = "cache"
            else:
                missing.append(ticker)
        if missing and not self.offline:
            # Our range is inclusive; yfinance's end is exclusive.
            end_excl = (None if end is None else
                        (pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
            fetched = from_yfinance_frame(self._download(missing, start, end_excl), missing)
            for ticker, part in fetched.groupby("ticker"):
                _atomic_parquet(part.reset_index(drop=True), self._cache_file(ticker))
                parts.append(part)
                sources[ticker] = "yfinance"
            missing = [t for t in missing if t not in sources]
        if missing:
            how = "offline mode" if self.offline else "yfinance returned nothing"
            raise InputError(f"no price data for {', '.join(missing)} (bundled snapshot, "
                             f"cache {self.cache_dir}; {how})", field="tickers")
        df = pd.concat(parts, ignore_index=True)
        panel = PricePanel.from_long(df, source="prices")
        # Index = every exchange session in range, so a missing day is a NaN, never skipped.
        sessions = exchange_calendar().sessions_in_range(panel.sessions[0], panel.sessions[-1])
        sessions = pd.DatetimeIndex(sessions, freq=None, name="date")
        panel = PricePanel(panel.open.reindex(sessions), panel.close.reindex(sessions),
                           panel.dividend.reindex(sessions).fillna(0.0),
                           panel.close_is_adjusted, sources)
        if start or end:
            sl = slice(start, end)
            panel = PricePanel(panel.open.loc[sl], panel.close.loc[sl], panel.dividend.loc[sl],
                               panel.close_is_adjusted, sources)
        return panel

    def available(self) -> list[str]:
        """Tickers in the bundled snapshot and the cache."""
        names = set(self._bundled["ticker"]) if self.use_bundled else set()
        cache = self.cache_dir / "prices"
        if cache.exists():
            names |= {p.stem for p in cache.glob("*.parquet")}
        return sorted(names)
