"""The price panel: daily prices of many tickers on one exchange's sessions.

Every price source (the bundled snapshot, the cache, yfinance, a user's CSV, a
universe parquet) ends up as a :class:`PricePanel`, the one input of the event
study and the simulator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

import numpy as np
import pandas as pd

from backtest.data.returns import total_return_prices, total_returns
from events.errors import PriceDataError

# The long schema every source is normalized to (one row per date and ticker).
COLUMNS = ["date", "ticker", "open", "high", "low", "close", "volume", "dividend",
           "close_is_adjusted"]


HASH_ROWS = 64  # sessions per piece fed to the hash


def _update_rows(h, values: np.ndarray) -> None:
    """Feed ``h`` the bytes of ``values`` (sessions x tickers) in row-major order, as
    ``np.ascontiguousarray(values).tobytes()`` would give them, a few sessions at a time: a
    frame's array is column-major, and transposing it in pieces that stay in the CPU's
    cache is about twice as fast as one copy of the whole (a universe: 82 MB a frame)."""
    for start in range(0, len(values), HASH_ROWS):
        h.update(np.ascontiguousarray(values[start:start + HASH_ROWS]))


@dataclass(frozen=True)
class PricePanel:
    """Daily prices as wide frames (sessions x tickers), plus where they came from.

    ``open``/``close`` are split-adjusted, not dividend-adjusted, except for
    tickers in ``close_is_adjusted`` (whose close already is a total-return
    series and whose open may be NaN). ``returns`` are total returns
    (:func:`backtest.data.returns.total_returns`). The index holds every
    exchange session of the range, so a missing price is a NaN, never a skipped day.

    ``volume`` (optional) is the daily share volume as the source reports it, on the
    same sessions and tickers as ``close``, NaN where unknown (a universe panel or a
    wide CSV has adjusted closes only: all NaN). It is what an abnormal-volume study
    reads (``measure="volume"``, Campbell and Wasley 1996); prices never depend on it,
    so it is not part of :attr:`data_hash` (see :attr:`volume_hash`).
    """

    open: pd.DataFrame
    close: pd.DataFrame
    dividend: pd.DataFrame
    close_is_adjusted: pd.Series
    sources: dict[str, str] = field(default_factory=dict)  # ticker -> bundled/cache/yfinance
    volume: pd.DataFrame | None = None  # sessions x tickers, NaN where unknown

    def __post_init__(self):
        vol = (pd.DataFrame(np.nan, index=self.close.index, columns=self.close.columns)
               if self.volume is None else
               self.volume.reindex(index=self.close.index, columns=self.close.columns))
        object.__setattr__(self, "volume", vol.astype("float64"))

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
            _update_rows(h, frame.to_numpy(dtype="float64"))
        return h.hexdigest()[:16]

    @cached_property
    def volume_hash(self) -> str:
        """SHA-256 (first 16 hex) of the volume, recorded by the studies that read it
        (``data_hash`` stays the hash of the prices alone)."""
        h = hashlib.sha256(b"volume")
        h.update(",".join(self.volume.columns).encode())
        h.update(pd.DatetimeIndex(self.volume.index).as_unit("ns").asi8.tobytes())
        _update_rows(h, self.volume.to_numpy(dtype="float64"))
        return h.hexdigest()[:16]

    def without_volume(self) -> list[str]:
        """The tickers with no volume on any session."""
        return [t for t in self.tickers if not self.volume[t].notna().any()]

    def select(self, tickers: Iterable[str]) -> "PricePanel":
        cols = [t for t in dict.fromkeys(tickers) if t in self.close.columns]
        out = PricePanel(self.open[cols], self.close[cols], self.dividend[cols],
                         self.close_is_adjusted[cols], {t: self.sources.get(t, "") for t in cols},
                         self.volume[cols])
        if "returns" in self.__dict__:  # returns are per column: keep what was computed
            out.__dict__["returns"] = self.returns[cols]
        return out

    def with_returns(self, extra: pd.DataFrame, source: str = "derived") -> "PricePanel":
        """This panel plus securities given by their daily returns (a chain held as one
        portfolio): ``returns`` are exactly ``extra``; the close is the compounded level
        (missing where the return is), the open and the volume missing, no dividends."""
        extra = extra.reindex(self.sessions)
        level = (1.0 + extra.fillna(0.0)).cumprod().where(extra.notna())
        out = PricePanel(pd.concat([self.open, level * np.nan], axis=1),
                         pd.concat([self.close, level], axis=1),
                         pd.concat([self.dividend, (level * 0.0).fillna(0.0)], axis=1),
                         pd.concat([self.close_is_adjusted,
                                    pd.Series(True, index=extra.columns)]),
                         {**self.sources, **{c: source for c in extra.columns}},
                         pd.concat([self.volume, level * np.nan], axis=1))
        out.__dict__["returns"] = pd.concat([self.returns, extra], axis=1)
        return out

    @classmethod
    def from_returns(cls, returns: pd.DataFrame, source: str) -> PricePanel:
        """A panel of securities given only by their daily simple total returns
        (sessions x tickers, NaN where missing); its ``returns`` are exactly ``returns``.

        Each close is a total-return level: 1.0 on the session before the ticker's first
        return (the anchor, when that session is a row of ``returns``), then ``prod(1 + r)``. The
        close is NaN where the return is, and the level carries over that day unchanged,
        so the close after a gap is still one given return away from the last close
        (what :func:`~backtest.data.returns.total_return_prices` and the chain index
        chain across). ``total_returns`` of such closes would be NaN on the day after a
        gap as well, so the given returns are kept instead of recomputed. Open NaN, no
        dividends, ``close_is_adjusted``.
        """
        started = returns.notna().cummax()
        anchor = started.shift(-1, fill_value=False) & ~started
        level = (1.0 + returns.fillna(0.0)).cumprod()  # 1.0 up to each anchor
        close = level.where(returns.notna() | anchor)
        none = pd.DataFrame(np.nan, index=close.index, columns=close.columns)
        out = cls(none, close, none.fillna(0.0), pd.Series(True, index=close.columns),
                  {t: source for t in close.columns})
        out.__dict__["returns"] = returns.astype("float64")
        return out

    def source_text(self) -> str:
        kinds = sorted(set(self.sources.values()))
        return ", ".join(kinds) if kinds else "unknown"

    def to_long(self) -> pd.DataFrame:
        """The panel back in the long schema of :data:`COLUMNS` (rows with a close only)."""
        frames = []
        for ticker in self.tickers:
            part = pd.DataFrame({"date": self.sessions, "ticker": ticker,
                                 "open": self.open[ticker].to_numpy(),
                                 "close": self.close[ticker].to_numpy(),
                                 "dividend": self.dividend[ticker].to_numpy(),
                                 "volume": self.volume[ticker].to_numpy()})
            part = part.dropna(subset=["close"])
            part["high"] = part["low"] = float("nan")
            part["close_is_adjusted"] = bool(self.close_is_adjusted[ticker])
            frames.append(part)
        return pd.concat(frames, ignore_index=True)[COLUMNS]

    @classmethod
    def from_long(cls, df: pd.DataFrame, source: str) -> "PricePanel":
        """Build a panel from a long table with the columns of :data:`COLUMNS` (a table
        without ``volume`` gives a panel whose volume is all NaN)."""
        df = df.copy()
        df["date"] = pd.to_datetime(df["date"])
        if df.duplicated(["date", "ticker"]).any():
            dup = df[df.duplicated(["date", "ticker"])].iloc[0]
            raise PriceDataError(f"duplicate row for {dup['ticker']} on {dup['date'].date()}",
                                 path=source)

        def wide(col):
            return df.pivot(index="date", columns="ticker", values=col).sort_index()

        close = wide("close")
        close.columns.name = None
        close.index.name = "date"
        open_ = wide("open").reindex_like(close)
        dividend = wide("dividend").reindex_like(close).fillna(0.0)
        volume = (wide("volume").reindex_like(close).astype("float64")
                  if "volume" in df.columns else None)
        adjusted = df.groupby("ticker")["close_is_adjusted"].first().reindex(close.columns)
        return cls(open_, close, dividend, adjusted.astype(bool),
                   {t: source for t in close.columns}, volume)
