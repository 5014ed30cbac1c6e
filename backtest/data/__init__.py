"""Price data: the store (bundled snapshot, cache, yfinance), user files, universes, checks.

============================  ===========================================================
module                        what
============================  ===========================================================
:mod:`~backtest.data.panel`   :class:`PricePanel`, the one price input of the engine
:mod:`~backtest.data.store`   :class:`PriceStore`: bundled snapshot, then cache, then yfinance
:mod:`~backtest.data.cache`   the per-user parquet cache with checksums
:mod:`~backtest.data.yahoo`   the yfinance boundary (the only code that downloads)
:mod:`~backtest.data.returns` total returns and total-return prices (one formula)
:mod:`~backtest.data.csvfiles` users' price, returns and factor CSVs
:mod:`~backtest.data.universe` wide parquet panels of many tickers
:mod:`~backtest.data.quality` data-quality checks (reported, never silently fixed)
``build_snapshot``            rebuilds the bundled snapshot from ``../shared/data/raw``
============================  ===========================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

if TYPE_CHECKING:
    from backtest.data.cache import PriceCache, default_cache_dir
    from backtest.data.csvfiles import load_factor_csv, read_price_csv, read_returns_csv
    from backtest.data.panel import COLUMNS, PricePanel
    from backtest.data.store import DEFAULT_MARKET, PriceStore, bundled_path, load_panel
    from backtest.data.yahoo import DownloadError

__all__ = ["COLUMNS", "DEFAULT_MARKET", "DownloadError", "PriceCache", "PricePanel", "PriceStore",
           "bundled_path", "default_cache_dir", "load_factor_csv", "load_panel", "read_price_csv",
           "read_returns_csv"]

# The public names load on first use (PEP 562): a caller of one module (the parser wants
# ``DEFAULT_MARKET``) does not import the CSV readers, the cache and the yfinance boundary.
_SOURCES = {"PriceCache": "cache", "default_cache_dir": "cache", "load_factor_csv": "csvfiles",
            "read_price_csv": "csvfiles", "read_returns_csv": "csvfiles", "COLUMNS": "panel",
            "PricePanel": "panel", "DEFAULT_MARKET": "store", "PriceStore": "store",
            "bundled_path": "store", "load_panel": "store", "DownloadError": "yahoo"}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
