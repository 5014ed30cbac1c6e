"""The generalized rank test's second pass, run on a thread beside the study's tables."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

import backtest.eventstudy.blocks as blocks
import backtest.eventstudy.engine as engine
from backtest.eventstudy import StudyConfig, run_study
from backtest.parallel import ThreadExecutor, serial_map_blocks
from events.model import Calendar, Event, LinkedTicker, Sentiment


def _beside_threads():
    return [t for t in threading.enumerate() if t.name.startswith(("quality", "second-pass"))]


def test_the_second_pass_beside_gives_the_serial_tests(calendar, panel):
    """With threads the second pass runs beside the tables, serially after the first pass:
    the tests table (GRANK-T among them) is the same to the last bit, and no thread
    outlives the call."""
    threaded = run_study(calendar, panel, StudyConfig(), map_blocks=ThreadExecutor(2))
    assert not _beside_threads()
    serial = run_study(calendar, panel, StudyConfig(), map_blocks=serial_map_blocks)
    pd.testing.assert_frame_equal(threaded.tests, serial.tests, check_exact=True)
    grank = threaded.tests[threaded.tests["statistic"] == "grank_t"]
    assert len(grank) and np.isfinite(grank["value"]).any()


def test_an_error_in_the_second_pass_reaches_the_caller(calendar, panel, monkeypatch):
    """A second pass that fails on its thread fails the study with its own error, and its
    thread has ended when the call returns."""
    def broken(*args, **kwargs):
        raise ValueError("the second pass failed")

    monkeypatch.setattr(blocks, "grank_ranked", broken)
    monkeypatch.setattr(blocks, "grank_block", broken)
    with pytest.raises(ValueError, match="the second pass failed"):
        run_study(calendar, panel, StudyConfig(), map_blocks=ThreadExecutor(2))
    assert not _beside_threads()


def test_a_study_that_keeps_no_pair_runs_no_second_pass(panel, monkeypatch):
    """When every pair is skipped (news two months into the price data: no estimation
    window) the study ends without the second pass: nothing would read its sums."""
    def never(*args, **kwargs):
        raise AssertionError("the second pass ran")

    monkeypatch.setattr(engine, "_second_pass", never)
    links = (LinkedTicker("ORCL", "partner", "down"), LinkedTicker("NVDA", "partner", "down"))
    early = Calendar("early", (Event("E", "h", "s", Sentiment("bearish", 50), links,
                                     timestamp=pd.Timestamp("2023-03-01 15:00", tz="UTC")),))
    result = run_study(early, panel, StudyConfig(), map_blocks=ThreadExecutor(2))
    assert result.tests.empty and result.car.empty
    assert result.skipped["reason"].str.startswith("insufficient estimation data").all()
    assert len(result.skipped) == 2
    assert not _beside_threads()


def test_the_second_pass_lets_go_of_its_tasks():
    """Its tasks (the kept residuals and SCARs of every block) are emptied once the sums
    are added up, and when a block fails too; the sums are the blocks' added in order."""
    tasks = [(np.arange(3.0),), (np.ones(3),)]
    got = engine._second_pass(serial_map_blocks, lambda x: (x * 2, x[:1] + 1), (), tasks)
    assert tasks == []
    np.testing.assert_array_equal(got[0], [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(got[1], [3.0])  # (0 + 1) + (1 + 1)

    def fails(x):
        raise RuntimeError("block failed")

    tasks = [(np.arange(3.0),)]
    with pytest.raises(RuntimeError, match="block failed"):
        engine._second_pass(serial_map_blocks, fails, (), tasks)
    assert tasks == []
