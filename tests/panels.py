"""Small hand-made price panels on real NYSE sessions, for tests."""

from __future__ import annotations

import pandas as pd

from backtest.data.panel import PricePanel
from events.timing import exchange_calendar


def sessions(start: str, n: int) -> pd.DatetimeIndex:
    """The first ``n`` NYSE sessions from ``start``."""
    cal = exchange_calendar()
    s = cal.sessions_in_range(start, pd.Timestamp(start) + pd.Timedelta(days=3 * n + 10))[:n]
    return pd.DatetimeIndex(s, freq=None, name="date")


def make_panel(index: pd.DatetimeIndex, close: dict[str, list[float]],
               open_: dict[str, list[float]] | None = None,
               dividend: dict[str, list[float]] | None = None) -> PricePanel:
    """A PricePanel from plain lists (opens default to the closes)."""
    close_df = pd.DataFrame(close, index=index, dtype="float64")
    open_df = pd.DataFrame(open_ or close, index=index, dtype="float64")
    div_df = pd.DataFrame(dividend or {k: [0.0] * len(index) for k in close}, index=index,
                          dtype="float64")
    adjusted = pd.Series(False, index=close_df.columns)
    return PricePanel(open_df, close_df, div_df, adjusted, {t: "test" for t in close})
