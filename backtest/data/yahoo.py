"""The yfinance boundary: download daily bars and normalize them to the long schema.

Only this module talks to yfinance. Tests replace :func:`yfinance_download` (or
pass ``download=`` to the store) with a fake that returns yfinance's real frame
layouts; nothing in the test suite touches the network.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd

from backtest.data.panel import COLUMNS

EXTRA_COLUMNS = ["adj_close", "split"]  # yfinance downloads only


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


def yfinance_download(tickers: list[str], start: str | None, end: str | None) -> pd.DataFrame:
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
