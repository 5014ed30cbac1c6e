"""Where prices come from: the bundled snapshot, a local parquet cache, yfinance.

>>> from backtest.data import PriceStore
>>> panel = PriceStore().load(["ORCL", "SPY"])       # bundled data, no network
>>> panel.returns["ORCL"].loc["2026-04-28"]          # doctest: +SKIP
-0.0404...

The store looks for each ticker in order: the snapshot shipped in the package
(``backtest/data/prices.parquet``, see ``SOURCES.md`` there), the per-user cache
(``$BACKTEST_CACHE_DIR`` or ``~/.cache/event-backtester``), then yfinance (unless
``offline``), whose download is written to the cache for the next run.
"""

from __future__ import annotations

import sys
import time
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from backtest.data.cache import PriceCache, default_cache_dir
from backtest.data.panel import COLUMNS, PricePanel
from backtest.data.yahoo import (CALL_TIMEOUT, OFFLINE_HINT, DownloadError, call_with_timeout,
                                 from_yfinance_frame, retry, yfinance_download)
from events.errors import InputError, PriceDataError
from events.model import Calendar, check_ticker
from events.timing import exchange_calendar


DEFAULT_MARKET = "SPY"  # the benchmark ticker of studies, strategy metrics and charts


def bundled_path() -> Path:
    """Path of the snapshot shipped inside the package."""
    return Path(str(resources.files("backtest") / "data" / "prices.parquet"))


def read_bundled() -> pd.DataFrame:
    """The bundled snapshot, or one line saying why it cannot be read (e.g. a git-lfs
    pointer checked out instead of the file)."""
    path = bundled_path()
    try:
        head = path.read_bytes()[:200]
    except OSError as exc:
        raise PriceDataError(f"the bundled snapshot cannot be read: {exc.strerror}",
                             path=str(path)) from None
    first = head.split(b"\n", 1)[0]
    # a git-lfs pointer: a text line "version <the lfs spec>" where the parquet bytes should be
    if not head.startswith(b"PAR1") and first.startswith(b"version ") and b"git-lfs" in first:
        raise PriceDataError("the bundled snapshot is a git-lfs pointer, not the data: run "
                             "`git lfs pull` (or reinstall the package)", path=str(path))
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise PriceDataError(f"the bundled snapshot is not a readable parquet file "
                             f"({type(exc).__name__}); reinstall the package",
                             path=str(path)) from None


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
    retries, backoff : network retries and the first wait in seconds (doubling); no
        retry starts after 30 s (:data:`backtest.data.yahoo.RETRY_BUDGET`).
    timeout : seconds one download call may take before it counts as no answer.
    batch : tickers per download call (a progress line shows for several batches).
    warn : where one-line warnings go (default: stderr).
    """

    def __init__(self, cache_dir: str | Path | None = None, offline: bool = False,
                 use_bundled: bool = True,
                 download: Callable[[list[str], str | None, str | None], pd.DataFrame] | None = None,
                 retries: int = 2, backoff: float = 0.5, batch: int = 50,
                 warn: Callable[[str], None] | None = None, sleep=time.sleep,
                 timeout: float = CALL_TIMEOUT):
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.cache = PriceCache(self.cache_dir)
        self.offline = offline
        self.use_bundled = use_bundled
        self._download = download or yfinance_download
        self.retries, self.backoff, self.batch, self.timeout = retries, backoff, batch, timeout
        self._warn = warn or (lambda msg: print(f"backtest: warning: {msg}", file=sys.stderr))
        self._sleep = sleep

    @cached_property
    def _bundled(self) -> pd.DataFrame:
        return read_bundled()

    def _bundled_has(self, ticker: str) -> bool:
        return self.use_bundled and bool((self._bundled["ticker"] == ticker).any())

    def is_bundled(self, ticker: str) -> bool:
        """True when ``ticker`` is served from the bundled snapshot (it comes first)."""
        return self._bundled_has(ticker)

    def fetch(self, tickers: Iterable[str], start: str | None = None, end: str | None = None
              ) -> dict[str, int]:
        """Download ``tickers`` over ``[start, end]`` and merge them into the cache.

        Returns the rows cached per ticker. Raises :class:`DownloadError` when the
        network fails after the retries, :class:`InputError` when offline.
        """
        wanted = _tickers(tickers)
        if self.offline:
            raise PriceDataError("cannot download in offline mode", field="offline")
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
            raw = retry(lambda: call_with_timeout(
                lambda: self._download(chunk, start, end_excl), self.timeout),
                self.retries, self.backoff, self._sleep)
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

    def load(self, tickers: Iterable[str], start: str | None = None, end: str | None = None,
             optional: Iterable[str] = ()) -> PricePanel:
        """Prices for ``tickers`` (all sources merged), trimmed to ``[start, end]``.

        Order per ticker: bundled snapshot, cache, yfinance. A corrupt cache file
        is rebuilt from yfinance, never read; if the network fails, a one-line
        warning names the failure, or an :class:`InputError` says no data exists.
        Tickers in ``optional`` that have no data anywhere are left out of the panel
        with one warning line instead (a study then skips their pairs, with the reason).
        """
        wanted = _tickers(tickers)
        parts, sources, need = [], {}, []
        for ticker in wanted:
            if self._bundled_has(ticker):
                parts.append(self._bundled[self._bundled["ticker"] == ticker])
                sources[ticker] = "bundled"
                continue
            cached = self.cache.read(ticker)
            if cached is None and self.cache.path(ticker).exists():
                self._warn(f"cache file {self.cache.path(ticker)} is corrupt (checksum or "
                           f"content); "
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
                failure = f"yfinance failed: {exc}; {OFFLINE_HINT}"
            for ticker in need:
                frame = self.cache.read(ticker)
                if frame is not None:
                    parts.append(frame[COLUMNS])
                    sources[ticker] = "yfinance"
        missing = [t for t in wanted if t not in sources]
        how = "offline mode" if self.offline else failure or "yfinance returned no rows"
        skip = set(_tickers(optional))
        if missing and set(missing) <= skip and len(sources):
            self._warn(f"no price data for {', '.join(missing)} ({how}): their pairs are "
                       f"skipped (--strict refuses instead)")
            missing = []
        if missing:
            raise PriceDataError(f"no price data for {', '.join(missing)} (looked in the bundled "
                                 f"snapshot, the cache {self.cache.dir}; {how})", field="tickers")
        df = pd.concat(parts, ignore_index=True)
        panel = PricePanel.from_long(df, source="prices")
        # Index = every exchange session in range, so a missing day is a NaN, never skipped.
        sessions = exchange_calendar().sessions_in_range(panel.sessions[0], panel.sessions[-1])
        sessions = pd.DatetimeIndex(sessions, freq=None, name="date")
        panel = PricePanel(panel.open.reindex(sessions), panel.close.reindex(sessions),
                           panel.dividend.reindex(sessions).fillna(0.0),
                           panel.close_is_adjusted, sources, panel.volume.reindex(sessions))
        if start or end:
            sl = slice(start, end)
            panel = PricePanel(panel.open.loc[sl], panel.close.loc[sl], panel.dividend.loc[sl],
                               panel.close_is_adjusted, sources, panel.volume.loc[sl])
        return panel

    def available(self) -> list[str]:
        """Tickers in the bundled snapshot and the cache."""
        names = set(self._bundled["ticker"]) if self.use_bundled else set()
        return sorted(names | set(self.cache.tickers()))


def _tickers(tickers: Iterable[str]) -> list[str]:
    """Tickers checked (:func:`events.model.check_ticker`) and without repeats, in order."""
    out = []
    for t in tickers:
        try:
            out.append(check_ticker(t))
        except ValueError as exc:
            raise PriceDataError(str(exc), field="tickers") from None
    return list(dict.fromkeys(out))


def load_panel(calendar: Calendar, market: str = DEFAULT_MARKET, store: PriceStore | None = None,
               extra: tuple[str, ...] = (), strict: bool = False) -> PricePanel:
    """Prices for every ticker of the calendar, the market benchmark and ``extra`` tickers.

    A calendar ticker with no data anywhere is left out with a warning, and the study
    skips its pairs with the reason; with ``strict`` (and always for the benchmark and
    the ``extra`` tickers) it is refused, naming the calendar line that asked for it.
    """
    store = store or PriceStore()
    needed = {market, *extra}
    optional = () if strict else [t for t in calendar.tickers if t not in needed]
    try:
        return store.load([*calendar.tickers, market, *extra], optional=optional)
    except InputError as exc:
        # Name the calendar line that asked for the first missing ticker.
        missing = set(exc.reason.split(" (")[0].removeprefix("no price data for ").split(", "))
        for i, event in enumerate(calendar):
            for j, link in enumerate(event.tickers):
                if link.ticker in missing:
                    raise PriceDataError(exc.reason, path=event.path or calendar.path,
                                         line=link.line,
                                         field=f"events[{i}].tickers[{j}].ticker") from None
        raise
