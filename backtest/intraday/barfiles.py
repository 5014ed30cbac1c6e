"""Users' minute (or any sub-daily) bars from a long CSV or parquet file.

Schema, one row per bar and ticker (the bar is labelled by the time it **opens**)::

    timestamp,ticker,open,high,low,close,volume
    2026-04-28T13:30:00Z,ORCL,172.10,172.55,171.90,172.40,51234
    2026-04-28T09:31:00-04:00,ORCL,172.40,172.60,172.20,172.25,40410

``timestamp`` is ISO 8601 **with its timezone** (``Z`` or an offset such as ``-04:00``;
a parquet column must be tz-aware); a naive time is refused, because it could be UTC or
New York time and a guess moves every bar by hours. ``volume`` may be left out or
empty (unknown); open, high, low and close are required. A file ending in ``.parquet``
(or ``.pq``) is read as parquet, any other as CSV. Column names are case-insensitive.

Every bar must open on the interval's grid of a regular session of the exchange
(XNYS: 09:30 to 16:00 New York, 13:00 on early-close days, none on weekends and
holidays; from exchange_calendars). A bar off the grid (14:30:30 for 1m, 14:32 for
5m), on a non-session day, or outside regular hours is refused, naming its line (a CSV
file) or row (parquet, 1 the first). With ``keep_extended`` the bars outside regular
hours on a session day (pre- and post-market) are kept instead, flagged ``extended``
in the cache; the study's input, :class:`~backtest.intraday.bars.IntradayBars`, always
holds the regular-session bars only.

The whole file is checked before anything is returned, so a refused file writes nothing.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.intraday.bars import BAR_COLUMNS, IntradayBars, interval_text, parse_interval
from backtest.intraday.bars import session_grid
from backtest.data.csvfiles import (LINE, ROW, located, number_column, read_rows,
                                    ticker_values)
from events.errors import PriceDataError
from events.files import MAX_PARQUET_BYTES, read_bytes

PARQUET_SUFFIXES = (".parquet", ".pq")
OPTIONAL = ("volume",)
NO_TZ = "timestamp has no timezone (write 2026-04-28T15:36:00Z or -04:00)"
# What a bar is, relative to the exchange's sessions (see classify_bars).
REGULAR, EXTENDED, OFF_GRID, NO_SESSION = 0, 1, 2, 3


def as_interval(interval) -> pd.Timedelta:
    """An interval given as text (``"1m"``, ``"5min"``, ``"1h"``) or as a Timedelta,
    checked against :data:`~backtest.intraday.bars.INTERVALS`."""
    if isinstance(interval, str):
        return parse_interval(interval)
    return parse_interval(interval_text(pd.Timedelta(interval)))


def read_bar_file(path: str | Path, interval, exchange: str = "XNYS",
                  keep_extended: bool = False) -> tuple[IntradayBars, list[str]]:
    """Read a bar file (schema in the module docstring) into :class:`IntradayBars` of its
    regular-session bars; returns (bars, notes). ``interval``: ``"1m"``, ``"5m"``, ...
    (:data:`backtest.intraday.bars.INTERVALS`) or a Timedelta. Refusals are one-line
    :class:`PriceDataError`.
    """
    long, notes = read_bar_table(path, interval, exchange, keep_extended)
    regular = long[~long["extended"]]
    bars = IntradayBars.from_long(regular[BAR_COLUMNS], as_interval(interval), exchange,
                                  sources=dict.fromkeys(regular["ticker"].unique(), str(path)))
    return bars, notes


def read_bar_table(path: str | Path, interval, exchange: str = "XNYS",
                   keep_extended: bool = False) -> tuple[pd.DataFrame, list[str]]:
    """The checked bars of a file as a long table: :data:`BAR_COLUMNS` (``timestamp`` in
    UTC) plus ``extended`` (True for a bar outside regular hours, kept only with
    ``keep_extended``), sorted by ticker and time; returns (table, notes). This is what
    ``backtest data import --interval`` puts in the bar cache."""
    step = as_interval(interval)
    shown = str(path)
    frame = _read_table(path)
    frame = _bar_columns(frame, shown)
    long = pd.DataFrame({"timestamp": _timestamps(frame, shown),
                         "ticker": ticker_values(frame, shown)})
    for col in ("open", "high", "low", "close"):
        long[col] = number_column(frame, col, shown, positive=True)
        missing = np.isnan(long[col].to_numpy())
        if missing.any():
            i = int(np.flatnonzero(missing)[0])
            raise PriceDataError("missing price (a bar needs open, high, low and close)",
                                 path=shown, field=col, **located(frame, i))
    long["volume"] = (number_column(frame, "volume", shown, positive=False)
                      if "volume" in frame.columns else np.nan)
    _consistent(long, frame, shown)
    _no_duplicates(long, frame, shown, exchange)
    kind = classify_bars(pd.DatetimeIndex(long["timestamp"]), step, exchange)
    _on_sessions(long, frame, kind, step, exchange, shown, keep_extended)
    long["extended"] = kind == EXTENDED
    notes = []
    if not long.groupby("ticker", sort=False)["timestamp"].is_monotonic_increasing.all():
        notes.append(f"{shown}: bars are not in time order per ticker; sorted")
    n_ext = int(long["extended"].sum())
    if n_ext:
        notes.append(f"{shown}: kept {n_ext} bars outside regular {exchange} hours in the "
                     f"cache, flagged extended (--keep-extended); studies and the intraday "
                     f"simulator use regular-session bars only")
    long = long.sort_values(["ticker", "timestamp"], kind="stable").reset_index(drop=True)
    _finest_step(long, step, shown)
    return long, notes


def _finest_step(long: pd.DataFrame, step: pd.Timedelta, path: str) -> None:
    """Refuse bars coarser than ``--interval``: 5-minute bars also lie on the 1-minute grid,
    but read as 1-minute bars four of five minutes would look like no trade. The closest
    two bars of one ticker on one day must be ``step`` apart (a ticker with a single bar a
    day says nothing)."""
    stamps = pd.DatetimeIndex(long["timestamp"])
    same = ((long["ticker"].to_numpy()[1:] == long["ticker"].to_numpy()[:-1])
            & (stamps.normalize()[1:] == stamps.normalize()[:-1]))
    gaps = np.diff(stamps.asi8)[same]
    if len(gaps) and gaps.min() > step.value:
        finest = pd.Timedelta(int(gaps.min()))
        raise PriceDataError(f"the closest bars of a ticker are {interval_text(finest)} "
                             f"apart: these look like {interval_text(finest)} bars, not "
                             f"{interval_text(step)} (give --interval {interval_text(finest)})",
                             path=path, field="timestamp")


def _read_table(path: str | Path) -> pd.DataFrame:
    """The rows of a CSV file (text, with :data:`LINE`) or of a parquet table (typed, with
    :data:`ROW`), refused when too large, unreadable or empty."""
    shown = str(path)
    if Path(path).suffix.lower() not in PARQUET_SUFFIXES:
        return read_rows(path)
    data = read_bytes(path, MAX_PARQUET_BYTES, PriceDataError, "parquet file")
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise PriceDataError(f"not a readable parquet file ({type(exc).__name__})",
                             path=shown) from None
    if frame.empty:
        raise PriceDataError("no data rows", path=shown)
    frame = frame.reset_index(drop=not isinstance(frame.index, pd.DatetimeIndex))
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.insert(0, ROW, np.arange(1, len(frame) + 1))
    return frame


def _bar_columns(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """The frame with lower-case column names, every required column present and no
    unknown one."""
    header = {"line": 1} if LINE in frame.columns else {}
    lower = [c if c in (LINE, ROW) else c.lower() for c in frame.columns]
    for j, name in enumerate(lower):
        if name in lower[:j]:
            raise PriceDataError(f"column {frame.columns[j]!r} appears twice", path=path,
                                 field=name, **header)
    frame = frame.set_axis(lower, axis=1)
    for col in BAR_COLUMNS:
        if col not in frame.columns and col not in OPTIONAL:
            raise PriceDataError(f"missing column {col!r} (bar schema: "
                                 f"{', '.join(BAR_COLUMNS)})", path=path, field=col, **header)
    unknown = sorted(set(frame.columns) - set(BAR_COLUMNS) - {LINE, ROW})
    if unknown:
        raise PriceDataError(f"unknown column {unknown[0]!r} (bar schema: "
                             f"{', '.join(BAR_COLUMNS)})", path=path, field=unknown[0],
                             **header)
    return frame


def _timestamps(frame: pd.DataFrame, path: str) -> pd.Series:
    """The ``timestamp`` column in UTC: ISO 8601 text with a timezone, or a tz-aware
    parquet column; a naive or unreadable time is refused by line (or row)."""
    raw = frame["timestamp"]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed, has_tz = raw.dt.tz_convert("UTC"), pd.Series(True, index=raw.index)
    elif pd.api.types.is_datetime64_dtype(raw):
        parsed, has_tz = raw, pd.Series(False, index=raw.index)
    else:
        text = raw.astype(str).str.strip().where(raw.notna(), "")
        parsed = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
        has_tz = text.str.contains(r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$", regex=True)
    bad = parsed.isna() | ~has_tz
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        what = (NO_TZ if not parsed.isna().iat[i] else
                f"not a timestamp (ISO 8601 with a timezone, e.g. 2026-04-28T15:36:00Z): "
                f"{raw.iat[i]!r}")
        raise PriceDataError(what, path=path, field="timestamp", **located(frame, i))
    return parsed.dt.as_unit("ns").reset_index(drop=True)


def _consistent(long: pd.DataFrame, frame: pd.DataFrame, path: str) -> None:
    """Refuse a bar whose high is below its open or close, or whose low is above them."""
    o, h, lo, c = (long[k].to_numpy() for k in ("open", "high", "low", "close"))
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    for col, bad, what in (("high", h < top, "below max(open, close) = {:g}"),
                           ("low", lo > bottom, "above min(open, close) = {:g}")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            bound = top[i] if col == "high" else bottom[i]
            raise PriceDataError(f"{col} {long[col].iat[i]:g} is {what.format(bound)}",
                                 path=path, field=col, **located(frame, i))


def _no_duplicates(long: pd.DataFrame, frame: pd.DataFrame, path: str, exchange: str) -> None:
    dup = long.duplicated(["timestamp", "ticker"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise PriceDataError(f"duplicate bar for {long['ticker'].iat[i]} at "
                             f"{exchange_time(long['timestamp'].iat[i], exchange)}",
                             path=path, field="timestamp", **located(frame, i))


def classify_bars(stamps: pd.DatetimeIndex, interval: pd.Timedelta, exchange: str = "XNYS"
                  ) -> np.ndarray:
    """What each bar open time is on the exchange: :data:`REGULAR` (on the regular-session
    grid of :func:`~backtest.intraday.bars.session_grid`), :data:`EXTENDED` (on a session day,
    on the interval's grid counted from the open, but outside regular hours),
    :data:`OFF_GRID` (between grid points) or :data:`NO_SESSION` (a weekend or holiday)."""
    from events.timing import exchange_calendar

    kind = np.full(len(stamps), NO_SESSION, dtype=np.int8)
    if not len(stamps):
        return kind
    cal = exchange_calendar(exchange)
    day = stamps.tz_convert(cal.tz).normalize().tz_localize(None)
    opens = pd.DatetimeIndex(cal.opens.reindex(day.as_unit("ns")).to_numpy(), tz="UTC")
    session = ~opens.isna()
    if not session.any():
        return kind
    grid, _ = session_grid(exchange, interval, day[session].min(), day[session].max())
    aligned = session & (((stamps - opens) % interval) == pd.Timedelta(0))
    kind[session] = OFF_GRID
    kind[aligned] = EXTENDED
    kind[aligned & stamps.isin(grid)] = REGULAR
    return kind


def _on_sessions(long: pd.DataFrame, frame: pd.DataFrame, kind: np.ndarray,
                 interval: pd.Timedelta, exchange: str, path: str, keep_extended: bool) -> None:
    """Refuse the first bar that is not on a regular session's grid (extended hours are
    allowed with ``keep_extended``)."""
    refused = (kind != REGULAR) & ~((kind == EXTENDED) & keep_extended)
    if not refused.any():
        return
    from events.timing import exchange_calendar

    i = int(np.flatnonzero(refused)[0])
    when = long["timestamp"].iat[i]
    cal = exchange_calendar(exchange)
    local = when.tz_convert(cal.tz)
    shown = exchange_time(when, exchange)
    if kind[i] == NO_SESSION:
        what = f"{local:%Y-%m-%d} is not an {exchange} session (weekend or holiday): {shown}"
    else:
        day = local.normalize().tz_localize(None)
        o = cal.opens[day].tz_convert(cal.tz)
        c = cal.closes[day].tz_convert(cal.tz)
        if kind[i] == OFF_GRID:
            what = (f"{shown} is not on the {interval_text(interval)} grid (bars open at "
                    f"{o:%H:%M}, {o + interval:%H:%M}, ... {cal.tz})")
        else:
            what = (f"{shown} is outside the regular session of {local:%Y-%m-%d} "
                    f"({o:%H:%M}-{c:%H:%M} {cal.tz}); pass --keep-extended to keep such "
                    f"bars in the cache, flagged")
    raise PriceDataError(what, path=path, field="timestamp", **located(frame, i))


def exchange_time(when: pd.Timestamp, exchange: str = "XNYS") -> str:
    """``2025-11-28 13:05 America/New_York (18:05 UTC)``: a bar time as reports show it."""
    from events.timing import exchange_calendar

    tz = exchange_calendar(exchange).tz
    utc = pd.Timestamp(when).tz_convert("UTC")
    seconds = ":%S" if utc.second else ""
    return (f"{utc.tz_convert(tz).strftime(f'%Y-%m-%d %H:%M{seconds}')} {tz} "
            f"({utc.strftime(f'%H:%M{seconds}')} UTC)")
