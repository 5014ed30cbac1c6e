"""Executors: where blocks of work run, in this process or on a Dask cluster.

The engine (studies, sweeps) cuts its work into blocks and hands them to a
``map_blocks(fn, shared, blocks)`` callable: ``fn(*shared, *block)`` for every
block, results in block order (an iterable read once: a list, or, on a cluster,
the results as they arrive, so a study combines each block and lets it go before
the next one is fetched). :func:`serial_map_blocks` runs them here, one
after another; :class:`ThreadExecutor` on this process's threads, one per core (the
study's default: its compiled kernels and numpy's sorts release the GIL);
:class:`DaskExecutor` runs them on a cluster
(``pip install "event-backtester[cluster]"``), with the ``shared`` arguments
(returns, regressors, prices) scattered to the workers once instead of being
shipped with every task. This module imports nothing of the engine.

``--cluster local[:N]`` starts a ``distributed.LocalCluster`` of N worker
processes on this machine (default: one per CPU); ``--scheduler tcp://HOST:PORT``
connects to a running cluster (:func:`open_client`). Tasks on a worker that
dies are recomputed by Dask (``retries`` also covers errors raised in a task);
a scheduler that cannot be reached within ``timeout`` seconds is a clear error
(exit 2 from the command line). A block does the same arithmetic wherever it
runs, so results are bit-identical to a serial run with the same blocks.
"""

from __future__ import annotations

import os
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from events.errors import ConfigError


def serial_map_blocks(fn, shared: tuple, blocks: list[tuple]):
    """``fn(*shared, *block)`` for each block, in this process, in order, each run when the
    consumer asks for the next result (a study combines a block before the next one runs:
    one block's per-pair arrays in memory, not all of them); with three or more blocks and a
    terminal on stderr, a progress line shows how far it got."""
    show = len(blocks) >= 3 and sys.stderr.isatty()
    for k, block in enumerate(blocks, 1):
        yield fn(*shared, *block)
        if show:
            print(f"\r{getattr(fn, '__name__', 'work')}: {k}/{len(blocks)} blocks",
                  end="\n" if k == len(blocks) else "", file=sys.stderr, flush=True)


class ThreadExecutor:
    """``map_blocks`` on ``workers`` threads of this process (default: one per CPU).

    Pays only for work that releases the GIL (numba ``nogil`` kernels, numpy's sorts and
    reductions): the event study's blocks. At most ``workers`` blocks run at once and
    results are handed over in block order as the consumer asks for them, so a study
    holds about ``workers`` blocks' arrays, not all of them. A block's arithmetic does not
    depend on the thread that runs it: results are bit-identical to a serial run.
    ``workers=1`` (or a single block) runs serially, in this thread.
    """

    def __init__(self, workers: int | None = None):
        if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool)
                                    or workers < 1):
            raise ConfigError(f"threads must be a positive number, got {workers!r}",
                              field="threads")
        self.workers = workers

    def __call__(self, fn, shared: tuple, blocks: list[tuple]):
        workers = min(self.workers or _cpus(), len(blocks))
        if workers <= 1:
            yield from serial_map_blocks(fn, shared, blocks)
            return
        show = len(blocks) >= 3 and sys.stderr.isatty()
        pool = ThreadPoolExecutor(workers, thread_name_prefix="block")
        try:
            pending, todo = deque(), iter(blocks)
            for block in todo:  # the first ``workers`` blocks start at once
                pending.append(pool.submit(fn, *shared, *block))
                if len(pending) == workers:
                    break
            k = 0
            while pending:
                result = pending.popleft().result()
                block = next(todo, None)  # keep every thread busy while the consumer works
                if block is not None:
                    pending.append(pool.submit(fn, *shared, *block))
                k += 1
                if show:
                    print(f"\r{getattr(fn, '__name__', 'work')}: {k}/{len(blocks)} blocks",
                          end="\n" if k == len(blocks) else "", file=sys.stderr, flush=True)
                yield result
                del result
        finally:  # an error or a consumer that stopped early: nothing new starts
            pool.shutdown(wait=True, cancel_futures=True)


def _cpus() -> int:
    """The CPUs this process may run on (its affinity: ``taskset``, container limits)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


local_map_blocks = ThreadExecutor()  # the study's default: one thread per CPU


def in_process(map_blocks) -> bool:
    """Whether ``map_blocks`` runs its blocks in this process (serially or on threads), so
    that what a block returns costs no transfer: a study may then keep more of it."""
    return map_blocks is serial_map_blocks or isinstance(map_blocks, ThreadExecutor)


class DaskExecutor:
    """``map_blocks`` on a ``distributed.Client``: one task per block, in block order.

    ``label`` names the work in the progress line printed to stderr.
    """

    def __init__(self, client, label: str = "blocks", retries: int = 3):
        self.client, self.label, self.retries = client, label, retries

    def __call__(self, fn, shared: tuple, blocks: list[tuple]) -> list:
        # hash=False: fresh keys on every call. With content-hashed keys a study's second
        # pass over the same arrays (GRANK) reused keys the scheduler was still releasing
        # from the first, or had lost with a killed worker ("computation on lost data").
        data = [self.client.scatter(list(shared), broadcast=True, hash=False)]

        def submit(block):
            return self.client.submit(fn, *data[0], *block, retries=self.retries, pure=False)

        def again(k: int):
            # The scheduler cancels a task whose worker died while the task's inputs were
            # moving ("cancelled for reason: unknown"), which ``retries`` does not cover:
            # the block is submitted again, its inputs scattered anew if they were lost.
            if any(f.status != "finished" for f in data[0]):
                data[0] = self.client.scatter(list(shared), broadcast=True, hash=False)
            return submit(blocks[k])

        return _in_order([submit(block) for block in blocks], self.label, again)


def _require():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ConfigError('Dask is not installed: pip install "event-backtester[cluster]"',
                          field="cluster") from None


@contextmanager
def open_client(spec: str | None = None, scheduler: str | None = None, timeout: float = 10.0):
    """A ``distributed.Client`` for ``local[:N]`` or a scheduler address; closed on exit."""
    _require()
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} within "
                              f"{timeout:g} s ({type(exc).__name__})",
                              field="scheduler") from None
        try:
            yield client
        finally:
            client.close()
        return
    name, _, n = (spec or "local").partition(":")
    if name != "local" or (n and not n.isdigit()) or n == "0":
        raise ConfigError(f"--cluster expects local or local:N, got {spec!r}", field="cluster")
    workers = int(n) if n else None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=40)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


RESUBMITS = 3  # times a block whose task the cluster cancelled is submitted again


def _in_order(futures: list, label: str, again=None):
    """The results of ``futures`` in order, each fetched when the consumer asks for it and
    then released on the cluster; a progress line on stderr counts the blocks received.
    Every task is already submitted, so the cluster works ahead of the consumer. A task
    the cluster cancelled is replaced by ``again(k)`` (up to :data:`RESUBMITS` times)."""
    from concurrent.futures import CancelledError

    n = len(futures)
    try:
        for k in range(n):
            for attempt in range(RESUBMITS + 1):
                try:
                    result = futures[k].result()
                    break
                except CancelledError:
                    if again is None or attempt == RESUBMITS:
                        raise
                    futures[k] = again(k)
            future, futures[k] = futures[k], None
            future.release()
            print(f"\r{label}: {k + 1}/{n} blocks", end="", file=sys.stderr, flush=True)
            yield result
    finally:
        if n:
            print(file=sys.stderr, flush=True)
        for future in futures:  # a consumer that stopped early: cancel the rest
            if future is not None:
                future.cancel()
