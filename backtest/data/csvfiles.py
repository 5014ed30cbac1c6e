"""Users' own data from CSV: prices (long or wide), daily returns and factor returns.

Price CSV, **long** schema (one row per date and ticker)::

    date,ticker,close[,open,high,low,volume,dividend,close_is_adjusted]
    2026-04-27,ORCL,172.96,...

``close`` is split-adjusted; ``dividend`` is the cash dividend on its ex-date
(default 0). Set ``close_is_adjusted`` true (1/true) for a ticker whose close
already includes dividends (an "adjusted close"); then give no dividends.

Price CSV, **wide** schema (adjusted closes, one column per ticker)::

    date,ORCL,SPY,NVDA
    2026-04-27,172.96,715.2,...

Dates are ISO ``YYYY-MM-DD``; every date must be an exchange session (XNYS).
A row on a weekend or holiday is refused, naming its line, unless
``drop_non_sessions`` is set: such rows are then dropped and reported in ``notes``.

Returns CSV (``--returns-csv``, instead of prices), **long** or **wide**::

    date,ticker,ret                 date,ORCL,SPY
    2026-04-28,ORCL,-0.0405         2026-04-28,-0.0405,0.0012

Daily total returns as decimals (0.012 for +1.2%), simple or log (``kind``); an
empty cell is a missing return. Each ticker becomes a total-return close series,
1.0 on the session before its first return (so every given return is kept),
then compounded; there are no opens (:func:`read_returns_csv`).

Factor CSV (for ``model="factors"``)::

    date,Mkt-RF,SMB,HML,RF
    20260427,0.12,-0.30,0.05,0.017

The first column holds dates (``YYYY-MM-DD`` or ``YYYYMMDD``; its header may be
empty, as in Kenneth French's files). Values are decimals, or percent with
``units="percent"`` (French's files are in percent). An ``RF`` column is the
risk-free rate, subtracted from the stocks' returns; the other columns are the
factors.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.data.panel import COLUMNS, PricePanel
from events.errors import ConfigError, PriceDataError
from events.files import MAX_CSV_BYTES, read_text
from events.model import check_ticker
from events.timing import exchange_calendar

TRUE = {"1", "true", "yes", "y", "t"}
LINE = "__line__"  # each row's line number in the file
ROW = "__row__"  # each row's number in a table without lines (parquet), 1 the first
MAX_COLUMNS = 20_000  # a wide file of more tickers belongs in a parquet universe panel
# Prices outside this range are refused: beyond it a fill price or a total-return factor
# can overflow or vanish in float arithmetic (and no listed share trades there).
PRICE_RANGE = (1e-6, 1e9)
RETURN_KINDS = ("simple", "log")
# A daily simple return beyond +1000% is a data error (or percent given as decimals).
MAX_RETURN = 10.0


def read_rows(path: str | Path) -> pd.DataFrame:
    """The rows of a CSV file as text, each with its line (column :data:`LINE`), blank
    lines dropped; the file is refused when too large, not text, or malformed (the
    daily and the minute-bar readers share this)."""
    path = Path(path)
    text = read_text(path, MAX_CSV_BYTES, PriceDataError, "CSV file", encoding="utf-8-sig")
    if not text.strip():
        raise PriceDataError("empty file", path=str(path))
    header = next(csv.reader(io.StringIO(text[:text.find("\n") if "\n" in text else None])),
                  [])
    if len(header) > MAX_COLUMNS:
        raise PriceDataError(f"{len(header):,} columns, more than {MAX_COLUMNS:,} (put a "
                             f"universe in a wide parquet file: --universe)", path=str(path),
                             line=1)
    names = [h.strip() for h in header]
    for j, name in enumerate(names):
        if j and not name:
            raise PriceDataError(f"column {j + 1} has no name", path=str(path), line=1)
        if name and name.upper() in (n.upper() for n in names[:j]):
            raise PriceDataError(f"column {name!r} appears twice", path=str(path), line=1,
                                 field=name)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                            skip_blank_lines=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        msg = str(exc).strip().splitlines()[-1]
        row = re.search(r"row (\d+)", msg)
        line = int(row.group(1)) + 1 if row else None  # pandas counts data rows from 0
        if "EOF inside string" in msg:
            msg = "a quoted field is never closed"
        raise PriceDataError(f"malformed CSV: {msg}", path=str(path), line=line) from None
    frame.columns = ["date" if str(c).startswith("Unnamed: 0") else str(c).strip()
                     for c in frame.columns]  # French's files leave the date header empty
    # Keep each row's line in the file (header = line 1), then drop blank lines.
    frame.insert(0, LINE, np.arange(len(frame)) + 2)
    data = frame.drop(columns=LINE)
    frame = frame[~data.apply(lambda col: col.str.strip() == "").all(axis=1)]
    if frame.empty:
        raise PriceDataError("no data rows (only a header)", path=str(path))
    return frame.reset_index(drop=True)


def _dates(values: pd.Series, path: str, column: str, lines: pd.Series) -> pd.DatetimeIndex:
    text = values.str.strip()
    compact = text.str.fullmatch(r"\d{8}")
    out = pd.to_datetime(text.where(~compact), format="%Y-%m-%d", errors="coerce")
    out = out.fillna(pd.to_datetime(text.where(compact), format="%Y%m%d", errors="coerce"))
    bad = out.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise PriceDataError(f"not a date (YYYY-MM-DD): {values.iat[i]!r}", path=path,
                             line=int(lines.iat[i]), field=column)
    return pd.DatetimeIndex(out)


def located(frame: pd.DataFrame, i: int) -> dict[str, int]:
    """Where the ``i``-th row of ``frame`` is in its file, as :class:`InputError` keywords:
    its ``line`` in a CSV file, its ``row`` in a parquet table."""
    return ({"line": int(frame[LINE].iat[i])} if LINE in frame.columns
            else {"row": int(frame[ROW].iat[i])})


def number_column(frame: pd.DataFrame, column: str, path: str, *, positive: bool,
                  default: float | None = None, signed: bool = False,
                  maximum: float = np.inf) -> np.ndarray:
    """A column of finite numbers: prices (``positive``) within :data:`PRICE_RANGE`,
    otherwise non-negative (dividends, volume) unless ``signed`` (factor returns).
    Text cells (a CSV file): empty (and nan, na, null) are missing; inf and text are
    refused by line. Numeric cells (a parquet table): NaN is missing, inf refused by row."""
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        empty = raw.isna()
        values = raw.astype("float64")
    else:
        text = raw.astype(str).str.strip()
        empty = text.eq("") | text.str.lower().isin(["nan", "na", "null"]) | raw.isna()
        values = pd.to_numeric(text.where(~empty), errors="coerce")
    bad = (values.isna() | ~np.isfinite(values.fillna(0.0))) & ~empty
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise PriceDataError(f"not a finite number: {raw.iat[i]!r}", path=path,
                             field=column, **located(frame, i))
    lo, hi = (PRICE_RANGE if positive else (-np.inf, np.inf) if signed
              else (0.0, maximum))
    out = values.notna() & ((values < lo) | (values > hi) | ((values <= 0) & positive))
    if out.any():
        i = int(np.flatnonzero(out.to_numpy())[0])
        what = (f"price must be positive and between {lo:g} and {hi:g}" if positive
                else f"must be between 0 and {hi:g}")
        raise PriceDataError(f"{what}, got {raw.iat[i]}", path=path, field=column,
                             **located(frame, i))
    if default is not None:
        values = values.fillna(default)
    return values.to_numpy(dtype="float64")


def read_price_csv(path: str | Path, drop_non_sessions: bool = False) -> tuple[PricePanel, list[str]]:
    """Read a long or wide price CSV into a :class:`PricePanel`; returns (panel, notes)."""
    shown = str(path)
    frame = _named_columns(read_rows(path), shown)
    if "ticker" in frame.columns:
        long = _long(frame, shown)
    else:
        long = _wide(frame, shown)
    long, notes = _sessions_only(long, shown, drop_non_sessions)
    notes += _order_notes(long, shown)
    return PricePanel.from_long(long.drop(columns=LINE), source=shown), notes


def _named_columns(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """The frame with its ``date`` column found (any case); a long file (one with a
    ``ticker`` column) gets all its column names in lower case."""
    lower = {c.lower(): c for c in frame.columns}
    if "date" not in lower:
        raise PriceDataError("missing column 'date'", path=path, line=1, field="date")
    return frame.rename(columns={v: k for k, v in lower.items()}
                        if "ticker" in lower else {lower["date"]: "date"})


def _order_notes(long: pd.DataFrame, path: str) -> list[str]:
    for ticker, dates in long.groupby("ticker")["date"]:
        if not pd.DatetimeIndex(dates).is_monotonic_increasing:
            return [f"{path}: rows of {ticker} are not in date order; sorted"]
    return []


def ticker_values(frame: pd.DataFrame, path: str) -> np.ndarray:
    """The ``ticker`` column of a long file, upper case, each checked by line (or row)."""
    raw = frame["ticker"]
    tickers = raw.astype(str).str.strip().str.upper().where(raw.notna(), "")
    if tickers.eq("").any():
        i = int(np.flatnonzero(tickers.eq("").to_numpy())[0])
        raise PriceDataError("empty ticker", path=path, field="ticker", **located(frame, i))
    for ticker in tickers.unique():  # the one ticker rule (also a safe cache file name)
        try:
            check_ticker(ticker)
        except ValueError as exc:
            i = int(np.flatnonzero(tickers.eq(ticker).to_numpy())[0])
            raise PriceDataError(str(exc), path=path, field="ticker",
                                 **located(frame, i)) from None
    return tickers.to_numpy()


def _ticker_columns(frame: pd.DataFrame, path: str) -> Iterator[tuple[str, str]]:
    """(column, ticker) of each data column of a wide file, its name checked as it is
    reached (so a bad name and a bad value are refused in the order of the columns)."""
    found = False
    for col in frame.columns:
        if col in ("date", LINE):
            continue
        if not col:
            raise PriceDataError("empty column name", path=path, line=1)
        try:
            ticker = check_ticker(col)
        except ValueError as exc:
            raise PriceDataError(str(exc), path=path, line=1, field=col[:40]) from None
        found = True
        yield col, ticker
    if not found:
        raise PriceDataError("no ticker columns", path=path, line=1)


def _no_duplicate_rows(long: pd.DataFrame, path: str) -> None:
    dup = long.duplicated(["date", "ticker"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise PriceDataError(f"duplicate row for {long['ticker'].iat[i]} on "
                             f"{long['date'].iat[i].date()}", path=path,
                             line=int(long[LINE].iat[i]), field="date")


def _unique_dates(dates: pd.DatetimeIndex, lines: pd.Series, path: str) -> None:
    if dates.duplicated().any():
        i = int(np.flatnonzero(dates.duplicated())[0])
        raise PriceDataError(f"duplicate date {dates[i].date()}", path=path,
                             line=int(lines.iat[i]), field="date")


def _long(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    if "close" not in frame.columns:
        raise PriceDataError("missing column 'close'", path=path, line=1, field="close")
    unknown = set(frame.columns) - set(COLUMNS) - {LINE}
    if unknown:
        raise PriceDataError(f"unknown column {sorted(unknown)[0]!r} (long schema: "
                             f"{', '.join(COLUMNS)})", path=path, line=1,
                             field=sorted(unknown)[0])
    lines = frame[LINE]
    out = pd.DataFrame({"date": _dates(frame["date"], path, "date", lines),
                        LINE: lines.to_numpy()})
    out["ticker"] = ticker_values(frame, path)
    for col in ("open", "high", "low", "close"):
        out[col] = (number_column(frame, col, path, positive=True) if col in frame.columns
                    else np.nan)
    out["volume"] = (number_column(frame, "volume", path, positive=False)
                     if "volume" in frame.columns else np.nan)
    out["dividend"] = (number_column(frame, "dividend", path, positive=False, default=0.0,
                                     maximum=PRICE_RANGE[1])
                       if "dividend" in frame.columns else 0.0)
    flag = frame.get("close_is_adjusted")
    out["close_is_adjusted"] = (flag.str.strip().str.lower().isin(TRUE).to_numpy()
                                if flag is not None else False)
    _no_duplicate_rows(out, path)
    return out


def _wide(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    lines = frame[LINE]
    dates = _dates(frame["date"], path, "date", lines)
    _unique_dates(dates, lines, path)
    parts = [pd.DataFrame({"date": dates, "ticker": ticker,
                           "close": number_column(frame, col, path, positive=True),
                           LINE: lines.to_numpy()})
             for col, ticker in _ticker_columns(frame, path)]
    out = pd.concat(parts, ignore_index=True).dropna(subset=["close"])
    for col in ("open", "high", "low", "volume"):
        out[col] = np.nan
    out["dividend"] = 0.0
    out["close_is_adjusted"] = True  # a wide file holds adjusted closes
    return out[[*COLUMNS, LINE]]


def read_returns_csv(path: str | Path, kind: str = "simple",
                     drop_non_sessions: bool = False) -> tuple[PricePanel, list[str]]:
    """Read a long or wide CSV of daily returns (schema in the module docstring) into a
    :class:`PricePanel` (:meth:`PricePanel.from_returns`) whose ``returns`` are the given
    simple returns, or ``expm1`` of log returns (``kind="log"``); returns (panel, notes).

    The anchor: each ticker's close is 1.0 on the XNYS session before its first return,
    so every given return is kept (none is spent on a starting price). The panel holds
    every session from the first anchor to the last date; a session without a return
    (an empty cell, or no row) has a NaN return, and the returns around it are unchanged.
    """
    if kind not in RETURN_KINDS:
        raise ConfigError(f"returns kind must be one of {', '.join(RETURN_KINDS)}, got "
                          f"{kind!r}", field="returns_kind")
    shown = str(path)
    frame = _named_columns(read_rows(path), shown)
    if "ticker" in frame.columns:
        long, columns = _long_returns(frame, shown, kind), {}
    else:
        long, columns = _wide_returns(frame, shown, kind)
    # Every row's date must be a session, even with an empty value: a date off the
    # exchange's calendar is a mistake in the file either way.
    long, notes = _sessions_only(long, shown, drop_non_sessions)
    notes += _order_notes(long, shown)
    long = long.dropna(subset=["ret"]).sort_values(["ticker", "date"], kind="stable")
    if long.empty:
        raise PriceDataError("no returns (every value is empty)", path=shown)
    _level_in_range(long, shown, columns)
    cal = exchange_calendar()
    first = long["date"].min()
    if first <= cal.first_session:
        i = int(np.flatnonzero(long["date"].eq(first).to_numpy())[0])
        raise PriceDataError(f"no XNYS session before {first.date()} to anchor the first "
                             f"return at 1.0 (the exchange calendar starts there)",
                             path=shown, line=int(long[LINE].iat[i]), field="date")
    sessions = pd.DatetimeIndex(cal.sessions_in_range(cal.previous_session(first),
                                                      long["date"].max()),
                                freq=None, name="date")
    wide = long.pivot(index="date", columns="ticker", values="ret").reindex(sessions)
    wide.columns.name = None
    return PricePanel.from_returns(wide, source=f"{kind} returns {shown}"), notes


def _long_returns(frame: pd.DataFrame, path: str, kind: str) -> pd.DataFrame:
    """date, ticker, ret (simple) and line of each row of a long returns file."""
    if "ret" not in frame.columns:
        raise PriceDataError("missing column 'ret' (long schema: date, ticker, ret)",
                             path=path, line=1, field="ret")
    unknown = sorted(set(frame.columns) - {"date", "ticker", "ret", LINE})
    if unknown:
        raise PriceDataError(f"unknown column {unknown[0]!r} (long schema: date, ticker, "
                             f"ret)", path=path, line=1, field=unknown[0])
    lines = frame[LINE]
    long = pd.DataFrame({"date": _dates(frame["date"], path, "date", lines),
                         "ticker": ticker_values(frame, path),
                         "ret": _returns(frame, "ret", path, kind), LINE: lines.to_numpy()})
    _no_duplicate_rows(long, path)
    return long


def _wide_returns(frame: pd.DataFrame, path: str, kind: str
                  ) -> tuple[pd.DataFrame, dict[str, str]]:
    """A wide returns file as long rows (date, ticker, ret, line), and each ticker's
    column as written in the header (the field a refusal names)."""
    columns = {ticker: col for col, ticker in _ticker_columns(frame, path)}
    lines = frame[LINE]
    dates = _dates(frame["date"], path, "date", lines)
    _unique_dates(dates, lines, path)
    long = pd.concat([pd.DataFrame({"date": dates, "ticker": ticker,
                                    "ret": _returns(frame, col, path, kind),
                                    LINE: lines.to_numpy()})
                      for ticker, col in columns.items()], ignore_index=True)
    return long, columns


def _returns(frame: pd.DataFrame, column: str, path: str, kind: str) -> np.ndarray:
    """A column of returns as simple returns (``expm1`` of log returns), NaN where empty;
    text, a loss of 100% or more and a gain beyond :data:`MAX_RETURN` refused by line."""
    given = number_column(frame, column, path, positive=False, signed=True)
    simple = np.expm1(given) if kind == "log" else given
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(simple) & ((simple <= -1.0) | (simple > MAX_RETURN))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = (f"log return {given[i]:g} is a simple return of {simple[i]:+.6g}; "
                if kind == "log" else "")
        raise PriceDataError(f"{what}a simple return must be above -1 (a total loss) and at "
                             f"most {MAX_RETURN:g} (+{MAX_RETURN:.0%}): decimals, not percent; "
                             f"got {frame[column].iat[i].strip()}", path=path,
                             line=int(frame[LINE].iat[i]), field=column)
    return simple


def _level_in_range(long: pd.DataFrame, path: str, columns: dict[str, str]) -> None:
    """Refuse returns whose compounded level (the close, from 1.0) leaves
    :data:`PRICE_RANGE`: the simulator fills at that close, and beyond the range it
    overflows or vanishes in float arithmetic. ``long`` is sorted by ticker and date;
    ``columns`` maps a wide file's tickers to their columns (the field named)."""
    level = (1.0 + long["ret"]).groupby(long["ticker"].to_numpy()).cumprod().to_numpy()
    lo, hi = PRICE_RANGE
    out = ~((level >= lo) & (level <= hi))
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise PriceDataError(f"{long['ticker'].iat[i]}: the returns compounded from 1.0 reach "
                             f"{level[i]:.3g} on {long['date'].iat[i].date()}, outside "
                             f"{lo:g} to {hi:g}", path=path, line=int(long[LINE].iat[i]),
                             field=columns.get(long["ticker"].iat[i], "ret"))


def _sessions_only(long: pd.DataFrame, path: str, drop: bool) -> tuple[pd.DataFrame, list[str]]:
    cal = exchange_calendar()
    dates = pd.DatetimeIndex(long["date"])
    lo, hi = cal.first_session, cal.last_session
    inside = (dates >= lo) & (dates <= hi)
    sessions = cal.sessions_in_range(max(dates.min(), lo), min(dates.max(), hi))
    ok = inside & dates.isin(sessions)
    if ok.all():
        return long, []
    i = int(np.flatnonzero(~ok)[0])
    if not drop:
        raise PriceDataError(f"{dates[i].date()} is not an XNYS session (weekend or holiday); "
                             f"fix the row or pass --drop-non-sessions",
                             path=path, line=int(long[LINE].iat[i]), field="date")
    note = f"{path}: dropped {int((~ok).sum())} rows on non-session dates (first: {dates[i].date()})"
    return long[ok].reset_index(drop=True), [note]


def load_factor_csv(path: str | Path, units: str = "decimal") -> pd.DataFrame:
    """Factor returns (decimal) indexed by date, from the factor CSV schema above."""
    if units not in ("decimal", "percent"):
        raise ConfigError(f"units must be 'decimal' or 'percent', got {units!r}", field="units")
    shown = str(path)
    frame = read_rows(path)
    columns = [c for c in frame.columns if c != LINE]
    date_col = columns[0]
    dates = _dates(frame[date_col], shown, date_col, frame[LINE])
    if len(columns) < 2:
        raise PriceDataError("no factor columns", path=shown, line=1)
    data = {c: number_column(frame, c, shown, positive=False, signed=True) for c in columns[1:]}
    out = pd.DataFrame(data, index=dates)
    if dates.duplicated().any():
        i = int(np.flatnonzero(dates.duplicated())[0])
        raise PriceDataError(f"duplicate date {dates[i].date()}", path=shown,
                             line=int(frame[LINE].iat[i]), field=date_col)
    factors = [c for c in out.columns if c.upper() != "RF"]
    if not factors:
        raise PriceDataError("no factor columns besides RF (the risk-free rate)", path=shown,
                             line=1)
    for c in factors:  # a constant factor is collinear with the intercept: no model fits
        known = out[c].dropna()
        if known.nunique() < 2:
            raise PriceDataError("factor column is constant (it would be collinear with the "
                                 "intercept)", path=shown, line=1, field=c)
    if units == "percent":
        out = out / 100.0
    out.index.name = "date"
    return out.sort_index()
