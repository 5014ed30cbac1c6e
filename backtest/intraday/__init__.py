"""Intraday: minute bars, what the first minutes after the news did, and trading them.

===================================  =====================================================
module                               what
===================================  =====================================================
:mod:`~backtest.intraday.bars`       :class:`IntradayBars` on exchange session grids, bar 0
:mod:`~backtest.intraday.study`      :func:`run_intraday_study`: minute paths and horizons
:mod:`~backtest.intraday.barfiles`   :func:`read_bar_file`: a user's CSV or parquet bars
:mod:`~backtest.intraday.bar_store`  :class:`BarStore`: the bar cache, then yfinance
``trading/``                         :func:`run_intraday`: fills after news + latency,
                                     exits after a horizon or at the close; its audit
===================================  =====================================================

The daily pipeline (``backtest.data``, ``backtest.eventstudy``, ``backtest.sim``) does not
import this package; it builds on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

if TYPE_CHECKING:
    from backtest.intraday.bar_store import BarStore
    from backtest.intraday.barfiles import read_bar_file
    from backtest.intraday.bars import IntradayBars, parse_interval
    from backtest.intraday.study import IntradayConfig, IntradayResult, run_intraday_study
    from backtest.intraday.trading import (IntradayExecution, IntradayRun, intraday_audit,
                                           run_intraday)

__all__ = ["BarStore", "IntradayBars", "IntradayConfig", "IntradayExecution", "IntradayResult",
           "IntradayRun", "intraday_audit", "parse_interval", "read_bar_file", "run_intraday",
           "run_intraday_study"]

_SOURCES = {"BarStore": "bar_store", "read_bar_file": "barfiles", "IntradayBars": "bars",
            "parse_interval": "bars", "IntradayConfig": "study", "IntradayResult": "study",
            "run_intraday_study": "study",
            **dict.fromkeys(("IntradayExecution", "IntradayRun", "intraday_audit",
                             "run_intraday"), "trading")}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
