"""The study's data-quality table, checked on a thread beside the study's own work."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

import backtest.eventstudy.engine as engine
from backtest.data.quality import check_panel
from backtest.eventstudy import StudyConfig, run_study
from backtest.parallel import ThreadExecutor, serial_map_blocks

TABLES = ("car", "caar", "tests", "estimates", "skipped", "quality")


def test_quality_on_a_thread_equals_the_serial_study(calendar, panel):
    """Every table, the quality findings among them, is the same whether the checks ran
    beside the study (threads) or before it (serial); and no checking thread outlives the
    call."""
    threaded = run_study(calendar, panel, StudyConfig(), map_blocks=ThreadExecutor(2))
    assert not [t for t in threading.enumerate() if t.name.startswith("quality")]
    serial = run_study(calendar, panel, StudyConfig(), map_blocks=serial_map_blocks)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(threaded, name), getattr(serial, name),
                                      check_exact=True)
    assert {"big_move", "late_listing"} <= set(threaded.quality["check"])


def test_quality_is_check_panel_on_the_study_tickers(calendar, panel):
    """The table is the checks of the tickers studied (and the market), with the study's
    pairs, window and estimation start: the same rows as calling them directly."""
    config = StudyConfig()
    result = run_study(calendar, panel, config, map_blocks=ThreadExecutor(2))
    pairs, _ = engine.resolve_pairs(calendar, panel, config)
    tickers = [*dict.fromkeys([*pairs["ticker"], config.market])]
    direct = check_panel(panel, pairs, config.event_window,
                         int(config.estimation_offsets[0]), config.move_threshold,
                         tickers=tickers)
    pd.testing.assert_frame_equal(result.quality, direct, check_exact=True)


def test_an_error_in_the_checks_reaches_the_caller(calendar, panel, monkeypatch):
    """A check that fails on its thread fails the study, with its own error."""
    def broken(*args, **kwargs):
        raise ValueError("the checks failed")

    monkeypatch.setattr(engine, "check_panel", broken)
    with pytest.raises(ValueError, match="the checks failed"):
        run_study(calendar, panel, StudyConfig(), map_blocks=ThreadExecutor(2))
    assert not [t for t in threading.enumerate() if t.name.startswith("quality")]


def test_a_study_refused_on_its_input_starts_no_checks(calendar, panel, monkeypatch):
    """A study refused before its blocks (here: a factor ticker not in the price data)
    raises its error with no checking thread left behind: the checks start only once
    the study's input has passed."""
    from events.errors import PriceDataError

    started = []
    monkeypatch.setattr(engine, "check_panel", lambda *a, **k: started.append(1))
    with pytest.raises(PriceDataError, match="NOPE"):
        run_study(calendar, panel, StudyConfig(model="factors", factors=("NOPE",)),
                  map_blocks=ThreadExecutor(2))
    assert not started
    assert not [t for t in threading.enumerate() if t.name.startswith("quality")]
