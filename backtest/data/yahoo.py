"""The yfinance boundary: download daily and intraday bars, normalize them to the long schemas.

Only this module talks to yfinance. Tests replace :func:`yfinance_download` and
:func:`yfinance_download_intraday` (or pass ``download=`` to the stores) with a fake that
returns yfinance's real frame layouts; nothing in the test suite touches the network.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd

from backtest.data.panel import COLUMNS
from events.errors import ConfigError

EXTRA_COLUMNS = ["adj_close", "split"]  # yfinance downloads only


def _by_ticker(raw: pd.DataFrame, tickers: list[str]):
    """``(ticker, fields)`` of each requested ticker in a ``yfinance.download`` frame.

    yfinance returns MultiIndex columns ``(Price, Ticker)`` for ``group_by="column"``
    (also for a single ticker since 0.2.48), ``(Ticker, Price)`` for
    ``group_by="ticker"``, and flat columns with ``multi_level_index=False``.
    """
    frame = raw
    if not isinstance(frame.columns, pd.MultiIndex):
        frame = frame.set_axis(pd.MultiIndex.from_product([frame.columns, tickers[:1]]), axis=1)
    if frame.columns.nlevels == 2 and frame.columns.get_level_values(0).isin(tickers).all():
        frame = frame.swaplevel(0, 1, axis=1)  # group_by="ticker" layout
    present = set(frame.columns.get_level_values(1))
    for ticker in tickers:
        if ticker in present:
            yield ticker, frame.xs(ticker, axis=1, level=1)


def from_yfinance_frame(raw: pd.DataFrame, tickers: list[str]) -> pd.DataFrame:
    """Normalize ``yfinance.download(..., auto_adjust=False, actions=True)`` to our long schema.

    Columns as :func:`_by_ticker` reads them; a DatetimeIndex that may be tz-aware.
    """
    if raw is None or raw.empty:
        return pd.DataFrame(columns=COLUMNS)
    idx = pd.DatetimeIndex(raw.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    frame = raw.set_axis(idx.normalize(), axis=0)
    fields = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
              "Volume": "volume", "Dividends": "dividend", "Adj Close": "adj_close",
              "Stock Splits": "split"}
    out = []
    for ticker, sub in _by_ticker(frame, tickers):
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


def from_yfinance_intraday(raw: pd.DataFrame, tickers: list[str],
                           tz: str = "America/New_York") -> pd.DataFrame:
    """Normalize ``yfinance.download(..., interval="1m", auto_adjust=False)`` to the long
    bar schema :data:`~backtest.intraday.bars.BAR_COLUMNS`, timestamps in UTC.

    yfinance labels an intraday bar by its open, in an index named ``Datetime`` that is
    tz-aware in the exchange's time (America/New_York for US listings); a naive index
    (``ignore_tz=True``) is read as exchange time ``tz``. Columns as :func:`_by_ticker`
    reads them; a ticker's rows without a close (the union index yfinance builds for
    several tickers) are left out. Prices are split-adjusted, as yfinance gives them.
    """
    fields = {"Open": "open", "High": "high", "Low": "low", "Close": "close",
              "Volume": "volume"}
    columns = ["timestamp", "ticker", *fields.values()]  # BAR_COLUMNS (this layer is below it)
    if raw is None or raw.empty:
        return pd.DataFrame(columns=columns)
    idx = pd.DatetimeIndex(raw.index)
    idx = (idx.tz_localize(tz) if idx.tz is None else idx).tz_convert("UTC").as_unit("ns")
    frame = raw.set_axis(idx.rename("timestamp"), axis=0)
    out = []
    for ticker, sub in _by_ticker(frame, tickers):
        part = pd.DataFrame({ours: (sub[theirs] if theirs in sub else np.nan)
                             for theirs, ours in fields.items()}, index=sub.index)
        part = part.astype("float64").dropna(subset=["close"])
        out.append(part.assign(ticker=ticker).reset_index())
    if not out:
        return pd.DataFrame(columns=columns)
    return pd.concat(out, ignore_index=True)[columns]


class DownloadError(RuntimeError):
    """The network source failed (unreachable, timed out, refused): may be retried."""


def yfinance_download(tickers: list[str], start: str | None, end: str | None) -> pd.DataFrame:
    """``yfinance.download`` of split-adjusted OHLCV plus dividends, yfinance's semantics:
    ``start`` inclusive, ``end`` exclusive. Without a start the whole history is
    fetched (yfinance's own default would be one month).

    yfinance logs failures instead of raising; when it returns nothing and
    recorded errors, they are raised as one :class:`DownloadError`.
    """
    span = {"period": "max"} if start is None else {"start": start}
    if end is not None:
        span["end"] = end
    return _yf_download(tickers, actions=True, **span)


def yfinance_download_intraday(tickers: list[str], interval: str, start: str, end: str
                               ) -> pd.DataFrame:
    """``yfinance.download`` of regular-session bars (``prepost=False``) at ``interval``
    (``"1m"``, ``"5m"``, ...), split-adjusted, from ``start`` (a date, inclusive, in
    exchange time) to ``end`` (exclusive). Yahoo's history limits apply
    (:data:`YF_HISTORY_DAYS`); :class:`~backtest.intraday.bar_store.BarStore` checks them
    and splits 1-minute requests before calling this."""
    return _yf_download(tickers, interval=interval, prepost=False, start=start, end=end)


def _yf_download(tickers: list[str], **options) -> pd.DataFrame:
    """``yfinance.download(tickers, auto_adjust=False, group_by="column", ...)`` with
    yfinance's logged per-ticker failures collected and raised as one
    :class:`DownloadError` when nothing came back."""
    import logging
    import warnings

    import yfinance as yf  # imported here: the offline path never needs it

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
            frame = yf.download(tickers, auto_adjust=False, progress=False, threads=False,
                                group_by="column", timeout=20, **options)
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


# How far back Yahoo serves intraday bars, in days before today, per interval (yfinance
# 1.x, scrapers/history.py; Yahoo refuses older starts). 10m bars do not exist there.
YF_HISTORY_DAYS = {"1m": 30, "2m": 60, "5m": 60, "15m": 60, "30m": 60, "60m": 730}
# Yahoo serves at most 8 days of 1m bars per request; we ask for 7 (DST days are 25 hours).
YF_1M_DAYS_PER_REQUEST = 7


def intraday_requests(interval: str, start: str | None, end: str | None, today: pd.Timestamp
                      ) -> list[tuple[str, str]]:
    """The ``(start, end)`` date pairs (end exclusive) to ask yfinance for bars of
    ``interval`` over ``[start, end]`` (inclusive dates in exchange time; default: as far
    back as Yahoo goes, to ``today``). A start beyond Yahoo's history limit, or an
    interval Yahoo does not have, is a :class:`ConfigError` stating the limit; 1-minute
    requests are split into :data:`YF_1M_DAYS_PER_REQUEST`-day pieces."""
    if interval not in YF_HISTORY_DAYS:
        raise ConfigError(f"yfinance has no {interval} bars (it has "
                          f"{', '.join(YF_HISTORY_DAYS)}); import them from a file instead",
                          field="interval")
    days = YF_HISTORY_DAYS[interval]
    today = pd.Timestamp(today).normalize()
    earliest = today - pd.Timedelta(days=days - 1)  # the first whole day inside the limit
    first = earliest if start is None else pd.Timestamp(start).normalize()
    last = today if end is None else min(pd.Timestamp(end).normalize(), today)
    if first < earliest:
        raise ConfigError(f"yfinance serves {interval} bars for the last {days} days only: "
                          f"the earliest start today is {earliest.date()}, got {first.date()} "
                          f"(import older bars from a file: backtest data import --interval "
                          f"{interval} FILE)", field="start")
    if last < first:
        raise ConfigError(f"the end ({last.date()}) is before the start ({first.date()})",
                          field="end")
    step = pd.Timedelta(days=YF_1M_DAYS_PER_REQUEST if interval == "1m" else days)
    stop = last + pd.Timedelta(days=1)
    edges = [*pd.date_range(first, stop, freq=step, inclusive="left"), stop]
    return [(a.strftime("%Y-%m-%d"), b.strftime("%Y-%m-%d")) for a, b in zip(edges, edges[1:])]


CALL_TIMEOUT = 25.0  # seconds one download call may take before it counts as no answer
RETRY_BUDGET = 30.0  # seconds after the first try when no further retry starts
OFFLINE_HINT = ("use --offline with bundled or cached prices, or put your prices in the cache "
                "with `backtest data import FILE.csv`")


class DownloadTimeout(DownloadError):
    """The source gave no answer in time (a network that accepts and never replies)."""


def call_with_timeout(fn, timeout: float):
    """``fn()``, or :class:`DownloadTimeout` once ``timeout`` seconds pass without a result.

    The call runs in a daemon thread: a request that never returns is abandoned (it
    cannot block the process from exiting), not waited for.
    """
    result: dict = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            result["error"] = exc

    thread = threading.Thread(target=target, name="backtest-download", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise DownloadTimeout(f"no answer within {timeout:g} s (is the network down or "
                              f"blocked?)")
    if "error" in result:
        raise result["error"]
    return result["value"]


def retry(fn, retries: int, backoff: float, sleep=time.sleep, budget: float = RETRY_BUDGET,
          clock=time.monotonic):
    """Call ``fn``; on a network failure retry with exponential backoff, then raise.

    No retry starts once ``budget`` seconds have passed, and a call that got no answer
    at all (:class:`DownloadTimeout`) is not retried: a silent network stays silent.
    """
    start = clock()
    for attempt in range(retries + 1):
        try:
            return fn()
        except DownloadTimeout:
            raise
        except (DownloadError, ConnectionError, TimeoutError, OSError) as exc:
            wait = backoff * 2 ** attempt
            if attempt == retries or clock() - start + wait > budget:
                raise DownloadError(str(exc) or type(exc).__name__) from None
            sleep(wait)
    raise AssertionError("unreachable")
