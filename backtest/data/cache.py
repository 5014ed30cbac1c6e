"""The per-user cache of daily prices and sub-daily bars: one parquet file per ticker with a
SHA-256 sidecar."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from backtest.data.panel import COLUMNS
from backtest.io import write_bytes_atomic
from events.errors import ConfigError, PriceDataError
from events.model import check_ticker

CACHE_ENV = "BACKTEST_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$BACKTEST_CACHE_DIR``, else ``$XDG_CACHE_HOME/event-backtester``, else ``~/.cache/...``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "event-backtester"


def _valid_content(frame: pd.DataFrame, ticker: str) -> bool:
    """True when a cached table has the long price schema with sane values."""
    if not set(COLUMNS) <= set(frame.columns) or frame.empty:
        return False
    try:
        dates = pd.to_datetime(frame["date"])
        close = frame["close"].to_numpy(dtype="float64")
        other = frame[["open", "dividend"]].to_numpy(dtype="float64")
    except (ValueError, TypeError):
        return False
    if getattr(dates.dt, "tz", None) is not None or dates.isna().any():
        return False
    if not (frame["ticker"].astype(str) == ticker).all():
        return False
    finite = np.isfinite(close)
    return bool(finite.any() and (close[finite] > 0).all()
                and not (np.isfinite(other) & (other < 0)).any())


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TickerFiles:
    """One parquet file per ticker in a folder, each with a SHA-256 sidecar, written
    atomically: the one checksum and atomic-write logic of the daily price cache
    (:class:`PriceCache`) and the bar cache
    (:class:`backtest.intraday.bar_store.BarCache`).

    ``<folder>/<TICKER>.parquet`` holds the rows, ``<TICKER>.parquet.sha256`` its
    checksum. A file whose checksum is missing or wrong, that parquet cannot read, or
    whose content ``valid(frame, ticker)`` rejects is *corrupt*: it is never returned as
    data (``read`` gives None and the caller rebuilds it).
    """

    def __init__(self, root: Path, folder: Path, valid: Callable[[pd.DataFrame, str], bool]):
        root = Path(root)
        if root.exists() and not root.is_dir():
            raise ConfigError(f"the price cache must be a folder, but {root} is a file (set "
                              f"--cache-dir or ${CACHE_ENV} to a folder)", field="cache_dir")
        self.dir = root / folder
        self._valid = valid

    def path(self, ticker: str) -> Path:
        """The file of ``ticker``; a name that is not a ticker never becomes a path."""
        try:
            return self.dir / f"{check_ticker(ticker)}.parquet"
        except ValueError as exc:
            raise PriceDataError(str(exc), field="ticker") from None

    def tickers(self) -> list[str]:
        return sorted(p.name[:-len(".parquet")] for p in self.dir.glob("*.parquet"))

    def status(self, ticker: str) -> str:
        """'missing', 'ok' or 'corrupt' (see :meth:`read`)."""
        if not self.path(ticker).exists():
            return "missing"
        return "ok" if self.read(ticker) is not None else "corrupt"

    def sha256(self, ticker: str) -> str:
        """The first 16 hex digits of the file's SHA-256 (as ``data info`` shows it)."""
        return _sha256(self.path(ticker))[:16]

    def read(self, ticker: str) -> pd.DataFrame | None:
        """The cached rows, or None when the file is missing or corrupt: a wrong checksum,
        unreadable parquet, or content that is not the cache's schema (an old layout, text
        prices, non-positive prices, ...) even under a valid checksum."""
        path = self.path(ticker)
        sidecar = path.with_name(path.name + ".sha256")
        try:
            if not path.exists() or not sidecar.exists() \
                    or sidecar.read_text().strip() != _sha256(path):
                return None
            frame = pd.read_parquet(path)
        except Exception:  # noqa: BLE001 - any unreadable file is corrupt
            return None
        return frame if self._valid(frame, ticker) else None

    def write(self, ticker: str, frame: pd.DataFrame) -> None:
        buf = io.BytesIO()
        frame.reset_index(drop=True).to_parquet(buf, index=False)
        data = buf.getvalue()
        path = self.path(ticker)
        # Data first, checksum second: a crash in between leaves a mismatch, read as corrupt.
        write_bytes_atomic(path, data, fsync=True)
        write_bytes_atomic(path.with_name(path.name + ".sha256"),
                           (hashlib.sha256(data).hexdigest() + "\n").encode(), fsync=True)


class PriceCache(TickerFiles):
    """The daily price cache: ``<dir>/prices/<TICKER>.parquet`` holds the long schema of
    :data:`backtest.data.panel.COLUMNS` plus ``source``, checksummed and written
    atomically (:class:`TickerFiles`); a corrupt file is never read.
    """

    def __init__(self, root: Path):
        super().__init__(root, Path("prices"), _valid_content)

    def info(self) -> pd.DataFrame:
        """One row per cached ticker: status, first and last date, rows, source, sha256."""
        rows = []
        for ticker in self.tickers():
            status, frame = self.status(ticker), self.read(ticker)
            row = {"ticker": ticker, "status": status, "first": None, "last": None, "rows": 0,
                   "source": "", "sha256": self.sha256(ticker)}
            if frame is not None and len(frame):
                dates = pd.to_datetime(frame["date"])
                row.update(first=dates.min().date(), last=dates.max().date(), rows=len(frame),
                           source=str(frame["source"].iloc[0]) if "source" in frame else "")
            rows.append(row)
        return pd.DataFrame(rows, columns=["ticker", "status", "first", "last", "rows", "source",
                                           "sha256"])

