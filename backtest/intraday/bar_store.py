"""Where minute bars come from: the per-user bar cache, then yfinance's intraday history.

>>> from backtest.intraday.bar_store import BarStore
>>> bars = BarStore().load(["ORCL", "SPY"], "1m", "2026-04-28", "2026-04-28")  # doctest: +SKIP
>>> bars.close["ORCL"].loc["2026-04-28 15:36":"2026-04-28 15:40"]                # doctest: +SKIP

The bundled data are daily only; bars come from a user's file (``backtest data import
--interval 1m FILE``, :mod:`backtest.intraday.barfiles`) or from yfinance (``backtest data
fetch --interval 5m TICKER``), and are kept in ``<cache>/bars/<interval>/<TICKER>.parquet``
(checksummed, timestamps in UTC; reports show exchange time). Yahoo keeps 1-minute bars
for 30 days, 2- to 30-minute bars for 60 days and hourly bars for 730 days
(:data:`~backtest.data.yahoo.YF_HISTORY_DAYS`): older bars must come from a file.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from backtest.intraday.barfiles import REGULAR, as_interval, classify_bars
from backtest.intraday.bars import BAR_COLUMNS, IntradayBars, interval_text, parse_interval
from backtest.data.cache import TickerFiles, default_cache_dir
from backtest.data.store import _tickers
from backtest.data.yahoo import (CALL_TIMEOUT, DownloadError, call_with_timeout,
                                 from_yfinance_intraday, intraday_requests, retry,
                                 yfinance_download_intraday)
from events.errors import ConfigError, PriceDataError

BAR_HINT = ("use --offline with cached bars, or put your bars in the cache with "
            "`backtest data import --interval 1m FILE`")


# The bar cache's schema: the long bar schema, whether a bar lies outside the regular
# session (kept only with --keep-extended), and where it came from.
BAR_CACHE_COLUMNS = [*BAR_COLUMNS, "extended", "source"]


def _valid_bars(frame: pd.DataFrame, ticker: str) -> bool:
    """True when a cached bar table has the bar schema: UTC timestamps, unique and
    sorted, this ticker only, positive finite closes, non-negative volume."""
    if list(frame.columns) != BAR_CACHE_COLUMNS or frame.empty:
        return False
    stamps = frame["timestamp"]
    if not isinstance(stamps.dtype, pd.DatetimeTZDtype) or str(stamps.dt.tz) != "UTC":
        return False
    if stamps.isna().any() or not stamps.is_monotonic_increasing or stamps.duplicated().any():
        return False
    if not (frame["ticker"].astype(str) == ticker).all() or frame["extended"].dtype != bool:
        return False
    try:
        prices = frame[["open", "high", "low", "close"]].to_numpy(dtype="float64")
        volume = frame["volume"].to_numpy(dtype="float64")
    except (ValueError, TypeError):
        return False
    return bool(np.isfinite(prices).all() and (prices > 0).all()
                and not (np.isfinite(volume) & (volume < 0)).any())


class BarCache(TickerFiles):
    """The bar cache of one interval: ``<dir>/bars/<interval>/<TICKER>.parquet`` (e.g.
    ``bars/1m/ORCL.parquet``) holds :data:`BAR_CACHE_COLUMNS`, timestamps in UTC,
    checksummed and written atomically like the daily prices
    (:class:`~backtest.data.cache.TickerFiles`, the one place of that logic).
    """

    def __init__(self, root: Path, interval: pd.Timedelta):
        self.interval = pd.Timedelta(interval)
        super().__init__(root, Path("bars") / interval_text(self.interval), _valid_bars)

    @staticmethod
    def intervals(root: Path) -> list[pd.Timedelta]:
        """The intervals with a folder in the bar cache under ``root``, shortest first."""
        folders = Path(root, "bars").glob("*m") if Path(root, "bars").is_dir() else []
        out = []
        for folder in folders:
            try:
                out.append(parse_interval(folder.name))
            except ConfigError:
                continue  # not a folder this tool writes
        return sorted(out)


class BarStore:
    """Serve sub-daily bars: the bar cache first, then yfinance within Yahoo's limits.

    Parameters
    ----------
    cache_dir : the cache folder (default :func:`~backtest.data.cache.default_cache_dir`);
        bars go to ``bars/<interval>/`` inside it.
    offline : never touch the network; tickers not in the cache are an error.
    download : the yfinance boundary, ``(tickers, interval, start, end) -> yfinance
        frame`` with yfinance's semantics (dates, ``end`` exclusive); tests replace it with
        a fake returning yfinance's intraday layout.
    retries, backoff, timeout : as for :class:`~backtest.data.store.PriceStore`.
    warn : where one-line warnings go (default: stderr).
    exchange : the exchange whose regular sessions the bars lie on (default XNYS).
    now : the current time (a callable; tests pin it), for Yahoo's history limits and
        to leave out a bar that is still forming.
    """

    def __init__(self, cache_dir: str | Path | None = None, offline: bool = False,
                 download: Callable[[list[str], str, str, str], pd.DataFrame] | None = None,
                 retries: int = 2, backoff: float = 0.5, timeout: float = CALL_TIMEOUT,
                 warn: Callable[[str], None] | None = None, sleep=time.sleep,
                 exchange: str = "XNYS", now: Callable[[], pd.Timestamp] | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        BarCache(self.cache_dir, pd.Timedelta(minutes=1))  # refuses a cache_dir that is a file
        self.offline = offline
        self._download = download or yfinance_download_intraday
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self._warn = warn or (lambda msg: print(f"backtest: warning: {msg}", file=sys.stderr))
        self._sleep = sleep
        self.exchange = exchange
        self._now = now or (lambda: pd.Timestamp.now(tz="UTC"))

    def cache(self, interval) -> BarCache:
        """The bar cache of ``interval`` (``"1m"``, ``"5m"``, a Timedelta)."""
        return BarCache(self.cache_dir, as_interval(interval))

    def fetch(self, tickers: Iterable[str], interval, start: str | None = None,
              end: str | None = None) -> dict[str, int]:
        """Download regular-session bars of ``tickers`` over ``[start, end]`` (dates in
        exchange time, inclusive; default: as far back as Yahoo keeps ``interval``, to
        today) and merge them into the cache (the download wins on overlapping bars).

        Returns the bars cached per ticker. A start beyond Yahoo's limit is a
        :class:`ConfigError` stating it; 1-minute requests are split into 7-day pieces.
        Bars off the regular session (Yahoo sometimes adds them) and a bar still forming
        are left out with a warning. Everything is downloaded before anything is written.
        """
        wanted = _tickers(tickers)
        if self.offline:
            raise PriceDataError("cannot download in offline mode", field="offline")
        step = as_interval(interval)
        name = interval_text(step)
        tz = self._tz()
        today = self._now().tz_convert(tz).tz_localize(None).normalize()
        parts = []
        for a, b in intraday_requests(name, start, end, today):
            raw = retry(lambda a=a, b=b: call_with_timeout(
                lambda: self._download(wanted, name, a, b), self.timeout),
                self.retries, self.backoff, self._sleep)
            parts.append(from_yfinance_intraday(raw, wanted, tz=str(tz)))
        long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=BAR_COLUMNS)
        long = long.drop_duplicates(["timestamp", "ticker"], keep="last")
        long = self._usable(long, step)
        return self.import_frame(long, step, "yfinance")

    def _usable(self, long: pd.DataFrame, step: pd.Timedelta) -> pd.DataFrame:
        """The downloaded bars a study may use: on the regular-session grid, complete
        (closed by now) and with positive prices; the rest is counted in one warning."""
        if long.empty:
            return long
        stamps = pd.DatetimeIndex(long["timestamp"])
        prices = long[["open", "high", "low", "close"]].to_numpy(dtype="float64")
        keep = ((classify_bars(stamps, step, self.exchange) == REGULAR)
                & (stamps + step <= self._now()) & (prices > 0).all(axis=1))
        if not keep.all():
            self._warn(f"left out {int((~keep).sum())} downloaded {interval_text(step)} bars "
                       f"outside the regular {self.exchange} session, still forming, or "
                       f"without prices")
        return long[keep]

    def import_frame(self, long: pd.DataFrame, interval, source: str) -> dict[str, int]:
        """Put checked long bars (:data:`BAR_COLUMNS`, optional ``extended``; see
        :func:`~backtest.intraday.barfiles.read_bar_table`) into the cache of ``interval``,
        merged per ticker with what is cached there: the new rows win on overlapping
        timestamps. Returns the bars now cached per ticker."""
        cache = self.cache(interval)
        long = long.assign(timestamp=pd.DatetimeIndex(long["timestamp"]).tz_convert("UTC")
                           .as_unit("ns"))
        if "extended" not in long:
            long = long.assign(extended=False)
        counts = {}
        for ticker, part in long.groupby("ticker", sort=True):
            part = part.assign(source=source, extended=part["extended"].astype(bool))
            old = cache.read(str(ticker))
            if old is not None:
                part = pd.concat([old[~old["timestamp"].isin(part["timestamp"])],
                                  part[BAR_CACHE_COLUMNS]], ignore_index=True)
            part = part.sort_values("timestamp", kind="stable")[BAR_CACHE_COLUMNS]
            part = part.astype({c: "float64" for c in ("open", "high", "low", "close",
                                                        "volume")})
            cache.write(str(ticker), part)
            counts[str(ticker)] = len(part)
        return counts

    def load(self, tickers: Iterable[str], interval, start: str | None = None,
             end: str | None = None, optional: Iterable[str] = ()) -> IntradayBars:
        """Regular-session bars of ``tickers`` at ``interval`` over the sessions ``[start,
        end]`` (dates in exchange time, inclusive; default: all cached).

        Each ticker comes from the cache, else from yfinance within Yahoo's limits (unless
        ``offline``); a corrupt cache file is never read (it is downloaded again). A ticker
        found nowhere is a :class:`PriceDataError` naming it and where it was looked for;
        tickers in ``optional`` are left out with one warning instead. Bars flagged
        extended in the cache (``--keep-extended``) are never served.
        """
        step = as_interval(interval)
        name = interval_text(step)
        wanted = _tickers(tickers)
        cache = self.cache(step)
        frames, sources, need = {}, {}, []
        for ticker in wanted:
            frame = cache.read(ticker)
            if frame is None and cache.path(ticker).exists():
                self._warn(f"cache file {cache.path(ticker)} is corrupt (checksum or content); "
                           + ("cannot rebuild it offline" if self.offline
                              else "downloading it again from yfinance"))
            if frame is not None:
                frames[ticker], sources[ticker] = frame, "cache"
            else:
                need.append(ticker)
        failure = ""
        if need and not self.offline:
            try:
                self.fetch(need, step, start, end)
            except DownloadError as exc:
                failure = f"yfinance failed: {exc}; {BAR_HINT}"
            except ConfigError as exc:  # beyond Yahoo's history limit, or no such interval
                failure = f"not from yfinance: {exc.reason}"
            for ticker in need:
                frame = cache.read(ticker)
                if frame is not None:
                    frames[ticker], sources[ticker] = frame, "yfinance"
        frames = {t: self._window(f, start, end) for t, f in frames.items()}
        found = [t for t in wanted if t in frames and len(frames[t])]
        missing = [t for t in wanted if t not in found]
        how = ("offline mode" if self.offline else failure or "yfinance returned no bars")
        if start or end:
            how = f"none between {start or 'the first'} and {end or 'the last'}; {how}"
        skip = set(_tickers(optional))
        if missing and set(missing) <= skip and found:
            self._warn(f"no {name} bars for {', '.join(missing)} ({how}): left out")
            missing = []
        if missing:
            raise PriceDataError(f"no {name} bars for {', '.join(missing)} (looked in the cache "
                                 f"{cache.dir}; {how})", field="tickers")
        long = pd.concat([frames[t] for t in found], ignore_index=True)
        bars = IntradayBars.from_long(long[BAR_COLUMNS], step, self.exchange,
                                      sources={t: sources[t] for t in found})
        return bars.select(found)

    def _window(self, frame: pd.DataFrame, start: str | None, end: str | None) -> pd.DataFrame:
        """The regular-session bars of a cached table on the sessions ``[start, end]``."""
        frame = frame[~frame["extended"]]
        day = (pd.DatetimeIndex(frame["timestamp"]).tz_convert(self._tz()).normalize()
               .tz_localize(None))
        keep = pd.Series(True, index=frame.index)
        if start:
            keep &= day >= pd.Timestamp(start)
        if end:
            keep &= day <= pd.Timestamp(end)
        return frame[keep.to_numpy()]

    def info(self) -> pd.DataFrame:
        """One row per cached interval and ticker: status, first and last bar (exchange
        time), bars (extended ones among them), source(s), sha256."""
        from backtest.intraday.barfiles import exchange_time

        rows = []
        for step in BarCache.intervals(self.cache_dir):
            cache = BarCache(self.cache_dir, step)
            for ticker in cache.tickers():
                frame = cache.read(ticker)
                row = {"interval": interval_text(step), "ticker": ticker,
                       "status": cache.status(ticker), "first": None, "last": None,
                       "bars": 0, "extended": 0, "source": "", "sha256": cache.sha256(ticker)}
                if frame is not None:
                    row.update(first=exchange_time(frame["timestamp"].iat[0], self.exchange),
                               last=exchange_time(frame["timestamp"].iat[-1], self.exchange),
                               bars=len(frame), extended=int(frame["extended"].sum()),
                               source=", ".join(sorted(frame["source"].astype(str).unique())))
                rows.append(row)
        return pd.DataFrame(rows, columns=["interval", "ticker", "status", "first", "last",
                                           "bars", "extended", "source", "sha256"])

    def _tz(self):
        from events.timing import exchange_calendar

        return exchange_calendar(self.exchange).tz

