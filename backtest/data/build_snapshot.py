"""Rebuild the bundled price snapshot from the raw source files.

Run from the project root (the raw files live outside the package, in ``../shared``)::

    python -m backtest.data.build_snapshot ../shared/data/raw

It writes ``backtest/data/prices.parquet``: one long table with a row per
(date, ticker) and the columns ``date, ticker, open, high, low, close, volume,
dividend, close_is_adjusted``. See ``SOURCES.md`` beside it for provenance.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd

from backtest.io import write_bytes_atomic

OHLCV_SOURCE = "SungKyu-Kim39__BackTester39"
ADJCLOSE_SOURCE = "dsturdy__Factor_Attribution"
OHLCV_TICKERS = [
    "ORCL", "CRWV", "GOOGL", "GOOG", "AVGO", "MSFT", "NVDA", "AMD", "AMZN", "META", "TSM",
    "SPY", "QQQ", "XLK", "SMCI", "DELL", "VRT", "CEG", "NBIS", "ARM", "MU",
]
ADJCLOSE_TICKERS = ["SMH", "SOXX", "VST"]
START, END = "2023-01-03", "2026-05-29"  # the OHLCV source's common range


def _ohlcv(raw: Path, ticker: str) -> pd.DataFrame:
    bars = pd.read_csv(raw / OHLCV_SOURCE / f"{ticker}.csv", parse_dates=["Date"])
    divs = pd.read_csv(raw / OHLCV_SOURCE / f"{ticker}_dividends.csv", parse_dates=["Date"])
    bars = bars.rename(columns=str.lower).rename(columns={"date": "date"})
    divs = divs.rename(columns={"Date": "date", "Dividend": "dividend"})
    # Several dividends on one ex-date would be summed; none occur in the data.
    divs = divs.groupby("date", as_index=False)["dividend"].sum()
    out = bars.merge(divs, on="date", how="left")
    unmatched = set(divs["date"]) - set(bars["date"])
    unmatched = {d for d in unmatched if START <= str(d.date()) <= END}
    if unmatched:
        raise SystemExit(f"{ticker}: dividend ex-dates without a price row: {sorted(unmatched)}")
    out["dividend"] = out["dividend"].fillna(0.0)
    out["close_is_adjusted"] = False
    return out


def _adjclose(raw: Path, ticker: str) -> pd.DataFrame:
    bars = pd.read_csv(raw / ADJCLOSE_SOURCE / f"{ticker}.csv", parse_dates=["Date"])
    out = bars.rename(columns={"Date": "date", "Close": "close"})
    for col in ("open", "high", "low", "volume"):
        out[col] = float("nan")
    out["dividend"] = 0.0  # already inside the adjusted close
    out["close_is_adjusted"] = True
    return out


def build(raw: Path) -> pd.DataFrame:
    frames = []
    for ticker in OHLCV_TICKERS:
        frames.append(_ohlcv(raw, ticker).assign(ticker=ticker))
    for ticker in ADJCLOSE_TICKERS:
        frames.append(_adjclose(raw, ticker).assign(ticker=ticker))
    df = pd.concat(frames, ignore_index=True)
    df = df[(df["date"] >= START) & (df["date"] <= END)]
    cols = ["date", "ticker", "open", "high", "low", "close", "volume", "dividend",
            "close_is_adjusted"]
    df = df[cols].sort_values(["ticker", "date"]).reset_index(drop=True)
    df["date"] = df["date"].dt.date
    df["volume"] = df["volume"].astype("float64")
    return df


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    raw = Path(argv[0] if argv else "../shared/data/raw")
    df = build(raw)
    target = Path(__file__).with_name("prices.parquet")
    buf = io.BytesIO()
    df.to_parquet(buf, index=False, compression="zstd")
    write_bytes_atomic(target, buf.getvalue())
    print(f"wrote {target} ({len(df)} rows, {df['ticker'].nunique()} tickers, "
          f"{target.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
