"""Scale out on Dask (``pip install "event-backtester[cluster]"``).

``--cluster local[:N]`` starts a ``distributed.LocalCluster`` of N worker
processes on this machine (default: one per CPU); ``--scheduler tcp://HOST:PORT``
connects to a running cluster. Two kinds of work are distributed:

* **studies**: the per-pair estimation (gathering each pair's window and
  fitting its model, :func:`backtest.study.fit_blocks`) runs in blocks of
  pairs; the returns and regressors are scattered to the workers once, not
  shipped with every task. Test statistics across pairs are computed on the
  client from the gathered fits. Results are bit-identical to a local run: a
  block does the same arithmetic for its pairs wherever it runs.
* **sweeps**: parameter combinations run in blocks (intents, one vectorbt call,
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


def fit_distributed(client, r, reg, market3, pos, cols, excluded, config, block: int):
    """:func:`backtest.study.fit_blocks` over blocks of pairs on the cluster, in order."""
    from backtest import models
    from backtest.study import fit_blocks

    shared = client.scatter([r, reg, market3], broadcast=True)
    futures = [client.submit(fit_blocks, *shared, pos[s:s + block], cols[s:s + block],
                             excluded[s:s + block], config, block, retries=3, pure=False)
               for s in range(0, len(pos), block)]
    parts = _progress(futures, "study")
    return models.ModelFit(*(np.concatenate([getattr(f, name) for f in parts])
                             for name in ("coef", "sigma2", "n", "dof", "xtx_inv", "resid")))


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
