"""The study's default executor: blocks on this process's threads (no Dask needed)."""

from __future__ import annotations

import inspect
import threading
import time

import pandas as pd
import pytest

from backtest.data.store import load_panel
from backtest.eventstudy import StudyConfig, run_study
from backtest.parallel import ThreadExecutor, local_map_blocks, serial_map_blocks
from events.errors import ConfigError
from events.loader import resolve_calendar


def _square(offset, x, pause):
    time.sleep(pause)  # releases the GIL, as the compiled kernels do
    return offset + x * x


def test_results_come_in_block_order_whatever_finishes_first():
    """Block 0 sleeps longest: a pool handing results over as they finish would give it
    last."""
    blocks = [(k, 0.05 if k == 0 else 0.0) for k in range(7)]
    got = list(ThreadExecutor(3)(_square, (100,), blocks))
    assert got == [100 + k * k for k in range(7)]
    assert got == list(serial_map_blocks(_square, (100,), blocks))


def test_workers_blocks_run_at_once_and_no_more():
    """Two blocks meet at a barrier (they can only pass it together: a serial run would
    time out); a counter records that never more than two run at the same time."""
    barrier = threading.Barrier(2, timeout=30)
    lock, running, peak = threading.Lock(), [0], [0]

    def work(k):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        if k < 2:
            barrier.wait()
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return k

    assert list(ThreadExecutor(2)(work, (), [(k,) for k in range(6)])) == list(range(6))
    assert peak[0] == 2


def test_an_error_in_a_block_is_raised_and_no_new_block_starts():
    started = []

    def work(k):
        started.append(k)
        if k == 1:
            raise ValueError("block 1 failed")
        return k

    with pytest.raises(ValueError, match="block 1 failed"):
        list(ThreadExecutor(2)(work, (), [(k,) for k in range(20)]))
    assert len(started) <= 4  # two in flight, at most one more started per result handed over


def test_a_consumer_that_stops_early_starts_nothing_more():
    started = []

    def work(k):
        started.append(k)
        return k

    results = ThreadExecutor(2)(work, (), [(k,) for k in range(50)])
    assert next(results) == 0
    results.close()
    assert len(started) <= 3


def test_one_worker_or_one_block_runs_in_the_calling_thread():
    me = threading.get_ident()
    assert list(ThreadExecutor(1)(lambda k: threading.get_ident(), (), [(1,), (2,)])) == [me, me]
    assert list(ThreadExecutor(4)(lambda k: threading.get_ident(), (), [(1,)])) == [me]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bad_thread_count_is_refused(bad):
    with pytest.raises(ConfigError, match="threads must be a positive number"):
        ThreadExecutor(bad)


def test_the_threaded_study_is_bit_identical_to_the_serial_one(tmp_path):
    """The bundled calendar in blocks of 3 pairs on 2 threads, the default executor and
    serially: every table equal to the bit, the AR parts too."""
    cal = resolve_calendar("openai")
    panel = load_panel(cal)
    serial = run_study(cal, panel, StudyConfig(), block=3, map_blocks=serial_map_blocks,
                       ar_parts=tmp_path / "serial")
    threads = run_study(cal, panel, StudyConfig(), block=3, map_blocks=ThreadExecutor(2),
                        ar_parts=tmp_path / "threads")
    default = run_study(cal, panel, StudyConfig(), block=3)
    assert inspect.signature(run_study).parameters["map_blocks"].default is local_map_blocks
    for name in ("ar", "car", "caar", "tests", "estimates", "skipped"):
        a = getattr(serial, name)
        for other in (threads, default):
            b = getattr(other, name)
            a_frame = a if isinstance(a, pd.DataFrame) else a.frame()
            b_frame = b if isinstance(b, pd.DataFrame) else b.frame()
            pd.testing.assert_frame_equal(a_frame, b_frame, check_exact=True)
    names = sorted(p.name for p in (tmp_path / "serial").iterdir())
    assert len(names) > 2
    assert names == sorted(p.name for p in (tmp_path / "threads").iterdir())
    for name in names:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "serial" / name),
                                      pd.read_parquet(tmp_path / "threads" / name),
                                      check_exact=True)


def test_a_small_study_is_cut_by_its_size_alone(monkeypatch):
    """Below four full blocks the default block cuts a study into up to four even blocks
    of at least MIN_SPLIT pairs; the cut depends on the pair count only, so the default
    threads and a serial run give the same bits."""
    import backtest.eventstudy.engine as engine
    from backtest.eventstudy.engine import BLOCK, MIN_SPLIT, _default_block

    assert _default_block(10_000) == 2_500
    assert _default_block(10_001) == 2_501  # the last block is smaller
    assert _default_block(2_500) == 1_250
    assert _default_block(MIN_SPLIT + 1) == MIN_SPLIT + 1  # one block
    assert _default_block(32) == 32
    assert _default_block(4 * BLOCK - 1) == BLOCK
    assert _default_block(4 * BLOCK) == _default_block(10 * BLOCK) == BLOCK
    seen = []

    class Counting(ThreadExecutor):
        def __call__(self, fn, shared, blocks):
            seen.append(len(blocks))
            return super().__call__(fn, shared, blocks)

    monkeypatch.setattr(engine, "MIN_SPLIT", 1)  # the bundled 32 pairs as a large study
    cal = resolve_calendar("openai")
    panel = load_panel(cal)
    threads = run_study(cal, panel, StudyConfig(), map_blocks=Counting(2))
    serial = run_study(cal, panel, StudyConfig(), map_blocks=serial_map_blocks)
    assert seen == [4, 4]  # four blocks of 8 pairs, in each of the two passes
    for name in ("car", "caar", "tests", "estimates"):
        pd.testing.assert_frame_equal(getattr(threads, name), getattr(serial, name),
                                      check_exact=True)
