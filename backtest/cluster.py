"""Scale out on Dask (``pip install "event-backtester[cluster]"``).

``--cluster local[:N]`` starts a ``distributed.LocalCluster`` of N worker
processes on this machine (default: one per CPU); ``--scheduler tcp://HOST:PORT``
connects to a running cluster. Two kinds of work are distributed:

* **studies**: the per-pair work (fit, abnormal returns, ranks) and its
  reduction to the sums the test statistics need run in blocks of pairs
  (:func:`backtest.blocks.study_block`); the returns and regressors are
  scattered to the workers once, not shipped with every task. Only per-pair
  rows and per-group sums come back, never the estimation residuals, and the
  client adds the blocks up in order. Results are bit-identical to a local
  run with the same block size: a block does the same arithmetic wherever it
  runs.
* **sweeps**: parameter combinations run in blocks (intents, one simulation,
  metrics per block); the prices are scattered once.

Tasks on a worker that dies are recomputed by Dask (``retries`` also covers
errors raised in a task); a scheduler that cannot be reached within
``timeout`` seconds is a clear error (exit 2 from the command line).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager

import numpy as np

from events.errors import InputError


def _require():
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise InputError('Dask is not installed: pip install "event-backtester[cluster]"',
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
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} within "
                             f"{timeout:g} s ({type(exc).__name__})", field="scheduler") from None
        try:
            yield client
        finally:
            client.close()
        return
    name, _, n = (spec or "local").partition(":")
    if name != "local" or (n and not n.isdigit()) or n == "0":
        raise InputError(f"--cluster expects local or local:N, got {spec!r}", field="cluster")
    workers = int(n) if n else None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=40)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _progress(futures, label: str):
    """Gather futures in order, printing a progress line to stderr as they finish."""
    from distributed import as_completed

    done = 0
    for _ in as_completed(futures):
        done += 1
        print(f"\r{label}: {done}/{len(futures)} blocks", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr, flush=True)
    return [f.result() for f in futures]


def _study_block(rT, reg, market3, others, layout, config, windows):
    """:func:`backtest.blocks.study_block` with the scattered ``others`` put back."""
    from dataclasses import replace

    from backtest.blocks import study_block

    return study_block(rT, reg, market3, replace(layout, others=others), config, windows)


def study_distributed(client, rT, reg, market3, layout, config, windows, block: int):
    """:func:`backtest.blocks.study_block` over blocks of pairs on the cluster, in order.

    The returns, regressors and the event positions are scattered once; a task
    carries only its block's pair positions and returns its per-pair rows and sums.
    """
    from dataclasses import replace

    shared = client.scatter([rT, reg, market3, layout.others], broadcast=True)
    futures = [client.submit(_study_block, *shared,
                             replace(layout.block(s, s + block), others=None), config,
                             windows, retries=3, pure=False)
               for s in range(0, len(layout.pos), block)]
    return _progress(futures, "study")


def _sweep_block(calendar, panel, strategy_cls, combos, offset, fixed, costs, init_cash):
    """Metrics rows of one block of combinations (runs on a worker)."""
    from backtest.sweep import run_sweep_combos

    return run_sweep_combos(calendar, panel, strategy_cls, combos, offset, fixed, costs,
                            init_cash, progress=False)


def sweep_distributed(client, calendar, panel, strategy_cls, combos, fixed, costs, init_cash,
                      block: int = 100):
    """:func:`backtest.sweep.run_sweep` with blocks of combinations on the cluster."""
    shared_panel, shared_cal = client.scatter([panel, calendar], broadcast=True)
    futures = [client.submit(_sweep_block, shared_cal, shared_panel, strategy_cls,
                             combos[s:s + block], s, fixed, costs, init_cash, retries=3,
                             pure=False)
               for s in range(0, len(combos), block)]
    return [row for part in _progress(futures, "sweep") for row in part]
