"""The per-user price cache: one parquet file per ticker with a SHA-256 sidecar."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pandas as pd

from backtest.io import write_bytes_atomic

CACHE_ENV = "BACKTEST_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$BACKTEST_CACHE_DIR``, else ``$XDG_CACHE_HOME/event-backtester``, else ``~/.cache/...``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "event-backtester"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class PriceCache:
    """Per-ticker parquet files with a SHA-256 sidecar, written atomically.

    ``<dir>/prices/<TICKER>.parquet`` holds the long schema of
    :data:`backtest.data.panel.COLUMNS` plus ``source``; ``<TICKER>.parquet.sha256``
    its checksum. A file whose checksum is missing or wrong, or that parquet
    cannot read, is *corrupt*: it is never returned as data (``read`` gives None
    and the caller rebuilds it).
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
        write_bytes_atomic(path, data, fsync=True)
        write_bytes_atomic(path.with_name(path.name + ".sha256"),
                           (hashlib.sha256(data).hexdigest() + "\n").encode(), fsync=True)

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
