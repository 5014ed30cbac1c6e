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
import io
import os
import sys
import tempfile
import time
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
EXTRA_COLUMNS = ["adj_close", "split"]  # yfinance downloads only
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
            h.update(pd.DatetimeIndex(frame.index).as_unit("ns").asi8.tobytes())
            h.update(np.ascontiguousarray(frame.to_numpy(dtype="float64")).tobytes())
        return h.hexdigest()[:16]

    def select(self, tickers: Iterable[str]) -> "PricePanel":
        cols = [t for t in dict.fromkeys(tickers) if t in self.close.columns]
        out = PricePanel(self.open[cols], self.close[cols], self.dividend[cols],
                         self.close_is_adjusted[cols], {t: self.sources.get(t, "") for t in cols})
        if "returns" in self.__dict__:  # returns are per column: keep what was computed
            out.__dict__["returns"] = self.returns[cols]
        return out

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
              "Volume": "volume", "Dividends": "dividend", "Adj Close": "adj_close",
              "Stock Splits": "split"}
    out = []
    for ticker in tickers:
        if ticker not in frame.columns.get_level_values(1):
            continue
        sub = frame.xs(ticker, axis=1, level=1)
        part = pd.DataFrame({ours: sub[theirs] if theirs in sub else np.nan
                             for theirs, ours in fields.items()}, index=sub.index)
        part = part.dropna(subset=["close"])
        part["dividend"] = part["dividend"].fillna(0.0)
        part["split"] = part["split"].fillna(0.0)
        part["ticker"] = ticker
        part["close_is_adjusted"] = False
        out.append(part.rename_axis("date").reset_index())
    if not out:
        return pd.DataFrame(columns=[*COLUMNS, *EXTRA_COLUMNS])
    # Raw (split-adjusted) prices drive the returns; the adjusted close and split
    # ratios are kept in the cache for reference and cross-checks.
    return pd.concat(out, ignore_index=True)[[*COLUMNS, *EXTRA_COLUMNS]]


class DownloadError(RuntimeError):
    """The network source failed (unreachable, timed out, refused): may be retried."""


def _yfinance_download(tickers: list[str], start: str | None, end: str | None) -> pd.DataFrame:
    """``yfinance.download`` of split-adjusted OHLCV plus dividends, yfinance's semantics:
    ``start`` inclusive, ``end`` exclusive. Without a start the whole history is
    fetched (yfinance's own default would be one month).

    yfinance logs failures instead of raising; when it returns nothing and
    recorded errors, they are raised as one :class:`DownloadError`.
    """
    import logging
    import warnings

    import yfinance as yf  # imported here: the offline path never needs it

    span = {"period": "max"} if start is None else {"start": start}
    if end is not None:
        span["end"] = end
    errors: list[str] = []

    class _Collect(logging.Handler):  # yfinance logs per-ticker failures; keep them
        def emit(self, record):
            errors.append(record.getMessage())

    logger = logging.getLogger("yfinance")
    handler, level, propagate = _Collect(logging.ERROR), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # we report failures ourselves, in one line
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # yfinance's own pandas deprecation noise
            frame = yf.download(tickers, auto_adjust=False, actions=True, progress=False,
                                threads=False, group_by="column", timeout=20, **span)
    except Exception as exc:  # noqa: BLE001 - yfinance wraps network errors in many types
        raise DownloadError(f"{type(exc).__name__}: {exc}") from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    detail = [e for e in errors if "Failed download" not in e]
    if (frame is None or frame.empty) and detail:
        raise DownloadError(detail[0].strip().splitlines()[0][:300])
    return frame


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``target``, fsync, then rename over it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class PriceCache:
    """Per-ticker parquet files with a SHA-256 sidecar, written atomically.

    ``<dir>/prices/<TICKER>.parquet`` holds the long schema of :data:`COLUMNS`
    plus ``source``; ``<TICKER>.parquet.sha256`` its checksum. A file whose
    checksum is missing or wrong, or that parquet cannot read, is *corrupt*:
    it is never returned as data (``read`` gives None and the caller rebuilds it).
    """

    def __init__(self, root: Path):
        self.dir = Path(root) / "prices"

    def path(self, ticker: str) -> Path:
        return self.dir / f"{ticker}.parquet"

    def tickers(self) -> list[str]:
        return sorted(p.name[:-len(".parquet")] for p in self.dir.glob("*.parquet"))

    def status(self, ticker: str) -> str:
        """'missing', 'ok' or 'corrupt'."""
        path = self.path(ticker)
        if not path.exists():
            return "missing"
        sidecar = path.with_name(path.name + ".sha256")
        if not sidecar.exists() or sidecar.read_text().strip() != _sha256(path):
            return "corrupt"
        return "ok"

    def read(self, ticker: str) -> pd.DataFrame | None:
        if self.status(ticker) != "ok":
            return None
        try:
            return pd.read_parquet(self.path(ticker))
        except Exception:  # noqa: BLE001 - any unreadable file is corrupt
            return None

    def write(self, ticker: str, frame: pd.DataFrame) -> None:
        buf = io.BytesIO()
        frame.reset_index(drop=True).to_parquet(buf, index=False)
        data = buf.getvalue()
        path = self.path(ticker)
        # Data first, checksum second: a crash in between leaves a mismatch, read as corrupt.
        _atomic_write(path, data)
        _atomic_write(path.with_name(path.name + ".sha256"),
                      (hashlib.sha256(data).hexdigest() + "\n").encode())

    def info(self) -> pd.DataFrame:
        """One row per cached ticker: status, first and last date, rows, source, sha256."""
        rows = []
        for ticker in self.tickers():
            status, frame = self.status(ticker), self.read(ticker)
            row = {"ticker": ticker, "status": status, "first": None, "last": None, "rows": 0,
                   "source": "", "sha256": _sha256(self.path(ticker))[:16]}
            if frame is not None and len(frame):
                dates = pd.to_datetime(frame["date"])
                row.update(first=dates.min().date(), last=dates.max().date(), rows=len(frame),
                           source=str(frame["source"].iloc[0]) if "source" in frame else "")
            rows.append(row)
        return pd.DataFrame(rows, columns=["ticker", "status", "first", "last", "rows", "source",
                                           "sha256"])


def _retry(fn, retries: int, backoff: float, sleep=time.sleep):
    """Call ``fn``; on a network failure retry with exponential backoff, then raise."""
    for attempt in range(retries + 1):
        try:
            return fn()
        except (DownloadError, ConnectionError, TimeoutError, OSError) as exc:
            if attempt == retries:
                raise DownloadError(str(exc) or type(exc).__name__) from None
            sleep(backoff * 2 ** attempt)
    raise AssertionError("unreachable")


class PriceStore:
    """Serve daily prices: bundled snapshot, then local cache, then yfinance.

    Parameters
    ----------
    cache_dir : where downloaded prices are kept (default :func:`default_cache_dir`).
    offline : never touch the network; tickers found nowhere locally are an error.
    use_bundled : serve the shipped snapshot first (default True).
    download : the yfinance boundary, ``(tickers, start, end) -> yfinance frame``
        with yfinance's semantics (``end`` exclusive); tests replace it with a
        fake that returns recorded responses or raises.
    retries, backoff : network retries and the first wait in seconds (doubling).
    batch : tickers per download call (a progress line shows for several batches).
    warn : where one-line warnings go (default: stderr).
    """

    def __init__(self, cache_dir: str | Path | None = None, offline: bool = False,
                 use_bundled: bool = True,
                 download: Callable[[list[str], str | None, str | None], pd.DataFrame] | None = None,
                 retries: int = 3, backoff: float = 1.0, batch: int = 50,
                 warn: Callable[[str], None] | None = None, sleep=time.sleep):
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.cache = PriceCache(self.cache_dir)
        self.offline = offline
        self.use_bundled = use_bundled
        self._download = download or _yfinance_download
        self.retries, self.backoff, self.batch = retries, backoff, batch
        self._warn = warn or (lambda msg: print(f"backtest: warning: {msg}", file=sys.stderr))
        self._sleep = sleep

    @cached_property
    def _bundled(self) -> pd.DataFrame:
        return pd.read_parquet(bundled_path())

    def _bundled_has(self, ticker: str) -> bool:
        return self.use_bundled and bool((self._bundled["ticker"] == ticker).any())

    def fetch(self, tickers: Iterable[str], start: str | None = None, end: str | None = None
              ) -> dict[str, int]:
        """Download ``tickers`` over ``[start, end]`` and merge them into the cache.

        Returns the rows cached per ticker. Raises :class:`DownloadError` when the
        network fails after the retries, :class:`InputError` when offline.
        """
        wanted = list(dict.fromkeys(t.upper() for t in tickers))
        if self.offline:
            raise InputError("cannot download in offline mode", field="offline")
        # Our range is inclusive; yfinance's end is exclusive.
        end_excl = (None if end is None else
                    (pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d"))
        batches = [wanted[i:i + self.batch] for i in range(0, len(wanted), self.batch)]
        counts = {}
        for k, chunk in enumerate(batches, 1):
            if len(batches) > 1:
                print(f"\rdownloading batch {k}/{len(batches)} "
                      f"({min(k * self.batch, len(wanted))}/{len(wanted)} tickers)",
                      end="" if k < len(batches) else "\n", file=sys.stderr, flush=True)
            raw = _retry(lambda: self._download(chunk, start, end_excl), self.retries,
                         self.backoff, self._sleep)
            fetched = from_yfinance_frame(raw, chunk)
            for ticker, part in fetched.groupby("ticker"):
                old = self.cache.read(ticker)
                part = part.assign(source="yfinance", date=pd.to_datetime(part["date"]))
                if old is not None:  # merge: the new download wins on overlapping dates
                    old = old.assign(date=pd.to_datetime(old["date"]))
                    old = old[~old["date"].isin(part["date"])]
                    part = pd.concat([old, part], ignore_index=True)
                self.cache.write(ticker, part.sort_values("date"))
                counts[ticker] = len(part)
        return counts

    def import_frame(self, long: pd.DataFrame, source: str) -> dict[str, int]:
        """Put a long-schema price table (e.g. a user's CSV) into the cache, per ticker."""
        counts = {}
        for ticker, part in long.groupby("ticker"):
            part = part.assign(source=source, date=pd.to_datetime(part["date"]))
            self.cache.write(str(ticker), part.sort_values("date")[[*COLUMNS, "source"]])
            counts[str(ticker)] = len(part)
        return counts

    def load(self, tickers: Iterable[str], start: str | None = None, end: str | None = None
             ) -> PricePanel:
        """Prices for ``tickers`` (all sources merged), trimmed to ``[start, end]``.

        Order per ticker: bundled snapshot, cache, yfinance. A corrupt cache file
        is rebuilt from yfinance, never read; if the network fails, a one-line
        warning names the failure, or an :class:`InputError` says no data exists.
        """
        wanted = list(dict.fromkeys(t.upper() for t in tickers))
        parts, sources, need = [], {}, []
        for ticker in wanted:
            if self._bundled_has(ticker):
                parts.append(self._bundled[self._bundled["ticker"] == ticker])
                sources[ticker] = "bundled"
                continue
            status = self.cache.status(ticker)
            cached = self.cache.read(ticker) if status == "ok" else None
            if status != "missing" and cached is None:
                self._warn(f"cache file {self.cache.path(ticker)} is corrupt (checksum); "
                           + ("cannot rebuild it offline" if self.offline
                              else "rebuilding it from yfinance"))
            if cached is not None:
                parts.append(cached[COLUMNS])
                sources[ticker] = "cache"
            else:
                need.append(ticker)
        failure = ""
        if need and not self.offline:
            try:
                self.fetch(need)
            except DownloadError as exc:
                failure = f"yfinance failed after {self.retries} retries: {exc}"
            for ticker in need:
                frame = self.cache.read(ticker)
                if frame is not None:
                    parts.append(frame[COLUMNS])
                    sources[ticker] = "yfinance"
        missing = [t for t in wanted if t not in sources]
        if missing:
            how = "offline mode" if self.offline else failure or "yfinance returned no rows"
            raise InputError(f"no price data for {', '.join(missing)} (looked in the bundled "
                             f"snapshot, the cache {self.cache.dir}; {how})", field="tickers")
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
        return sorted(names | set(self.cache.tickers()))
