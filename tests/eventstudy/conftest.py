"""Fixtures of the event-study tests: the bundled calendar and its prices, offline."""

from __future__ import annotations

import pytest

from backtest.data.store import PriceStore
from events import bundled_calendar_path, load_calendar


@pytest.fixture(scope="module")
def calendar():
    return load_calendar(bundled_calendar_path("openai"))


@pytest.fixture(scope="module")
def panel(calendar, tmp_path_factory):
    store = PriceStore(cache_dir=tmp_path_factory.mktemp("cache"), offline=True)
    return store.load([*calendar.tickers, "SPY"])
