"""Scale-out on a real Dask LocalCluster (2 worker processes on loopback, no mocks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from backtest.data.store import load_panel  # noqa: E402
from backtest.eventstudy import StudyConfig, run_study  # noqa: E402
from backtest.parallel import DaskExecutor, open_client  # noqa: E402
from backtest.sim.sweeps import run_sweep  # noqa: E402
from events.loader import resolve_calendar  # noqa: E402
from events.model import Calendar, Event, LinkedTicker, Sentiment  # noqa: E402
from reports import read_table
from strategies import ShortPartnersOnBadNews  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with open_client("local:2") as c:
        c.wait_for_workers(2, timeout=60)
        yield c


@pytest.fixture(scope="module")
def bundled():
    cal = resolve_calendar("openai")
    return cal, load_panel(cal)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True),
                                  check_exact=True)


def test_distributed_study_equals_local(client, bundled):
    """Blocks of 4 pairs on two workers: every output frame is bit-identical to the local
    run with the same blocks. Against the local run in one block, the per-pair frames are
    still bit-identical and the statistics and the CAAR paths (reduced in the blocks) agree
    to 1e-12 (block sums are added in a different order)."""
    cal, panel = bundled
    local = run_study(cal, panel, StudyConfig(), block=4)
    dist = run_study(cal, panel, StudyConfig(), map_blocks=DaskExecutor(client), block=4)
    for name in ("ar", "car", "caar", "tests", "estimates", "skipped"):
        _same(getattr(local, name), getattr(dist, name))
    one = run_study(cal, panel, StudyConfig())
    for name in ("ar", "car", "estimates", "skipped"):
        _same(getattr(one, name), getattr(dist, name))
    for name in ("caar", "tests"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(dist, name),
                                      check_exact=False, rtol=1e-12, atol=1e-14)


def test_workers_write_the_ar_parts_themselves(client, bundled, tmp_path):
    """With ``ar_parts`` each worker writes its blocks' AR rows: the client gets no AR
    array back (the result reads the parts), and the parts hold the local study's AR
    table to the bit."""
    cal, panel = bundled
    folder = tmp_path / "ar.parquet"
    dist = run_study(cal, panel, StudyConfig(), map_blocks=DaskExecutor(client), block=4,
                     ar_parts=folder)
    local = run_study(cal, panel, StudyConfig(), block=4, ar_parts=tmp_path / "local")
    written = client.run(os.getpid)  # the workers are other processes than this one
    assert os.getpid() not in written.values()
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "local").iterdir()) and len(names) > 1
    for name in names:
        _same(pd.read_parquet(folder / name), pd.read_parquet(tmp_path / "local" / name))
    _same(dist.car, local.car)


def test_distributed_sweep_equals_local(client, bundled):
    cal, panel = bundled
    grid = {"hold": ["1", "3", "5"], "threshold": ["50", "70"]}
    local = run_sweep(cal, panel, ShortPartnersOnBadNews, grid, progress=False)
    dist = run_sweep(cal, panel, ShortPartnersOnBadNews, grid, map_blocks=DaskExecutor(client),
                     block=2)
    _same(local.table, dist.table)
    # what the inference reads is the same whichever way the blocks ran
    np.testing.assert_array_equal(local.event_returns, dist.event_returns)
    pd.testing.assert_frame_equal(local.daily, dist.daily)
    assert _same_inference(local, dist)


def _same_inference(a, b) -> bool:
    x, y = a.inference().as_metrics(), b.inference().as_metrics()
    return x.keys() == y.keys() and all(x[k] == y[k] or (x[k] != x[k] and y[k] != y[k])
                                        for k in x)


def _many_pairs(panel) -> Calendar:
    """About 2,000 pairs: every bundled ticker on each of 130 sessions."""
    tickers = [t for t in panel.tickers if t != "SPY"]
    sessions = panel.sessions[300:-20:2][:130]
    events = tuple(Event(f"e{i}", "h", "s", Sentiment("bearish", 70),
                         tuple(LinkedTicker(t, "partner", "down") for t in tickers),
                         date=d.date(), session="before_open")
                   for i, d in enumerate(sessions))
    return Calendar("many", events)


def test_killed_worker_mid_run_gives_the_complete_identical_result(client, bundled):
    """SIGKILL one worker process while 200 blocks run: Dask recomputes its tasks (the
    nanny restarts it) and the result equals the local run."""
    _, panel = bundled
    cal = _many_pairs(panel)
    config = StudyConfig(pseudo_draws=0, exclude_other_events=False)
    local = run_study(cal, panel, config, block=10)
    pids = client.run(os.getpid)  # worker address -> process id
    killed = {}

    def kill_while_busy():
        """Wait until a worker is processing one of the study's tasks, then SIGKILL it."""
        deadline = time.time() + 60
        while time.time() < deadline:
            # One read of the scheduler's task lists: a second read could see them change.
            busy = [(w, [t for t in tasks if "study_block" in str(t)])
                    for w, tasks in client.processing().items()]
            busy = [(w, tasks) for w, tasks in busy if tasks]
            if busy:
                worker, tasks = busy[0]
                killed["pid"], killed["running"] = pids[worker], len(tasks)
                os.kill(killed["pid"], signal.SIGKILL)
                return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_while_busy)
    killer.start()
    dist = run_study(cal, panel, config, map_blocks=DaskExecutor(client), block=10)
    killer.join()
    assert killed.get("running", 0) >= 1  # it died with a study task in hand
    client.wait_for_workers(2, timeout=60)
    assert killed["pid"] not in client.run(os.getpid).values()  # replaced by the nanny
    assert len(local.car) == len(dist.car) > 10_000
    for name in ("ar", "car", "tests", "estimates"):
        _same(getattr(local, name), getattr(dist, name))


def test_unreachable_scheduler_is_a_clear_error_within_the_timeout():
    started = time.time()
    proc = subprocess.run([sys.executable, "-m", "backtest", "study", "openai",
                           "--scheduler", "tcp://127.0.0.1:9", "--offline"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("backtest: error: scheduler: cannot reach the Dask scheduler")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert time.time() - started < 60


def test_universe_study_links_every_ticker(tmp_path, bundled):
    """--universe: every ticker of the panel is studied for every event; linked ones keep
    their role, the others are 'universe'."""
    _, panel = bundled
    wide = panel.close[["ORCL", "MSFT", "AMZN", "TSM", "SPY"]]
    path = tmp_path / "u.parquet"
    wide.to_parquet(path)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "backtest", "study", "openai",
                           "--universe", str(path), "--offline", "--out", str(out),
                           "--group-by", "role"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    car = read_table(out, "car").query("window_start == 0 and window_end == 0")
    miss = car[car["event_id"] == "openai-miss-2026-04-28"].set_index("ticker")["role"]
    assert miss.to_dict() == {"ORCL": "partner", "MSFT": "partner", "AMZN": "universe",
                              "TSM": "universe"}
    assert len(car) == 9 * 4  # every event x every stock of the universe (all have history)
    skipped = pd.read_csv(out / "skipped.csv")
    assert set(skipped["ticker"]) >= {"CRWV", "NVDA"}  # linked, but not in the universe file


def test_a_block_the_cluster_cancelled_is_submitted_again():
    """A task cancelled by the scheduler (its worker died while its inputs moved) is
    replaced, in its place in the order; one that stays cancelled is an error."""
    from concurrent.futures import CancelledError

    from backtest.parallel import RESUBMITS, _in_order

    class Fake:
        def __init__(self, value, cancelled=False):
            self.value, self.cancelled_ = value, cancelled

        def result(self):
            if self.cancelled_:
                raise CancelledError()
            return self.value

        def release(self):
            pass

        def cancel(self):
            pass

    asked = []

    def again(k):
        asked.append(k)
        return Fake(f"again {k}")

    futures = [Fake("a"), Fake("b", cancelled=True), Fake("c")]
    assert list(_in_order(futures, "test", again)) == ["a", "again 1", "c"]
    assert asked == [1]
    with pytest.raises(CancelledError):
        list(_in_order([Fake("x", cancelled=True)], "test",
                       lambda k: Fake("never", cancelled=True)))
    with pytest.raises(CancelledError):  # without a way to resubmit
        list(_in_order([Fake("x", cancelled=True)], "test"))
    assert RESUBMITS >= 1
