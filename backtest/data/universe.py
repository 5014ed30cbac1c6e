"""Study a calendar against every ticker of a price panel (a universe).

``backtest study CALENDAR --universe PANEL.parquet`` reads a wide parquet file
of adjusted closes (a DatetimeIndex of sessions, one column per ticker, NaN
where a ticker has no price, e.g. ``../shared/data/universe/``) and links every
ticker to every event: tickers the calendar already links keep their role; the
others get role ``universe`` (:data:`events.model.UNIVERSE_ROLE`) and the direction
the event's sentiment implies (bearish: down). Outputs are the usual tidy tables, usually with
``--group-by role`` or ``label`` and a cluster (``--cluster local``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from backtest.data.panel import PricePanel
from events.errors import PriceDataError
from events.model import UNIVERSE_ROLE, Calendar, LinkedTicker, check_ticker
from events.timing import exchange_calendar


def load_universe(path: str | Path) -> PricePanel:
    """A wide parquet of adjusted closes as a PricePanel on XNYS sessions (no volume:
    its ``volume`` is all NaN, so an abnormal-volume study refuses it).

    The file must be a regular file; every column name must be a ticker
    (:func:`events.model.check_ticker`); dates are made the exchange's sessions.
    """
    if Path(path).exists() and not Path(path).is_file():
        raise PriceDataError("is not a regular file, expected a parquet file", path=str(path))
    try:
        wide = pd.read_parquet(path)
    except FileNotFoundError:
        raise PriceDataError("no such file", path=str(path)) from None
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a bad file
        raise PriceDataError(f"not a readable parquet file ({type(exc).__name__})",
                             path=str(path)) from None
    if not isinstance(wide.index, pd.DatetimeIndex) or wide.empty:
        raise PriceDataError("expected a DatetimeIndex of sessions and one column per ticker",
                             path=str(path))
    sessions = exchange_calendar().sessions_in_range(wide.index.min(), wide.index.max())
    close = wide.reindex(pd.DatetimeIndex(sessions, name="date")).astype("float64")
    try:
        close.columns = [check_ticker(str(c)) for c in close.columns]
    except ValueError as exc:
        raise PriceDataError(f"column {exc}", path=str(path)) from None
    if not close.columns.is_unique:
        raise PriceDataError("a ticker appears twice among the columns", path=str(path))
    return PricePanel(close, close, close * 0.0, pd.Series(True, index=close.columns),
                      {t: f"universe:{Path(path).name}" for t in close.columns})


def expand_calendar(calendar: Calendar, tickers: list[str]) -> Calendar:
    """Every event linked to every ticker (linked ones keep their role)."""
    events = []
    for event in calendar:
        linked = {lt.ticker for lt in event.tickers}
        direction = "down" if event.sentiment.label == "bearish" else "up"
        extra = tuple(LinkedTicker(t, UNIVERSE_ROLE, direction) for t in tickers
                      if t not in linked)
        events.append(replace(event, tickers=event.tickers + extra))
    return Calendar(calendar.name, tuple(events), calendar.path)
