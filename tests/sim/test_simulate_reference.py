"""The fast simulator equals the first one, on vectorbt's public API, on random intents.

:func:`backtest.sim.simulate.run_grid` calls vectorbt's order kernel on plain arrays,
only on bars where some column has an order, in blocks of combinations, and
vectorizes bars, stops, the overlap rule and the trades table. Each of those is a
place a number could drift; ``tests/_vbt_reference.py`` is the simulator as first
written (per-intent loops, a dense target over every bar, one
``Portfolio.from_orders`` call). On random panels with missing opens, missing
closes and dividends, random intents over several combinations, every rule and
both sizings, every result must match it.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from backtest.sim.costs import Costs
from backtest.sim.metrics import summarize, summarize_grid
from backtest.sim.simulate import run_grid, simulate_grid
from backtest.sim.vbt import kernel_args
from strategies import intents_frame
from tests import _vbt_reference as ref
from tests.panels import make_panel, sessions

# the module, not the `backtest.sim.simulate` function the package re-exports
sim = importlib.import_module("backtest.sim.simulate")

IDX = sessions("2025-03-03", 70)
TICKERS = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
COSTS = Costs(fees=0.001, fixed_fees=1.0, slippage=0.0005, borrow_rate=0.03,
              borrow_overrides=(("CCC", 0.25),))


def random_panel(rng):
    """Random-walk closes; some opens missing (fills move to the close), a run of
    missing closes on one ticker, dividends on another."""
    n = len(IDX)
    close = {t: list(20 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))) for t in TICKERS}
    open_ = {t: [c * (1 + rng.normal(0, 0.01)) for c in close[t]] for t in TICKERS}
    for i in rng.choice(n, 6, replace=False):
        open_["BBB"][i] = np.nan
    for i in range(30, 34):
        close["EEE"][i] = open_["EEE"][i] = np.nan
    div = {t: [0.0] * n for t in TICKERS}
    div["DDD"][20] = div["DDD"][45] = 0.4
    return make_panel(IDX, close, open_, div)


def random_intents(rng, combos, per_combo, notional):
    rows = []
    for c in combos:
        for k in range(per_combo):
            i = int(rng.integers(0, len(IDX) - 8))
            hold = int(rng.integers(0, 7))
            entry_at = str(rng.choice(["open", "close"]))
            exit_at = "close" if hold == 0 else str(rng.choice(["open", "close"]))
            rows.append({
                "event_id": f"e{int(rng.integers(0, 40)):02d}", "ticker": str(rng.choice(TICKERS)),
                "direction": int(rng.choice([-1, 1])),
                "weight": float(rng.uniform(1_000, 20_000) if notional
                                else rng.uniform(0.05, 0.3)),
                "entry_session": IDX[i], "entry_at": entry_at,
                "exit_session": IDX[i + hold], "exit_at": exit_at,
                "stop": float(rng.uniform(0.01, 0.04)) if rng.random() < 0.3 else np.nan,
                "leg": "main"})
    frame = intents_frame(rows)
    frame["combo"] = np.repeat(combos, per_combo)
    return frame


def assert_same_result(fast, slow):
    pd.testing.assert_series_equal(fast.equity, slow.equity, check_freq=False, rtol=1e-12)
    pd.testing.assert_series_equal(fast.exposure, slow.exposure, check_freq=False,
                                   check_names=False, rtol=1e-12)
    pd.testing.assert_series_equal(fast.traded, slow.traded, check_freq=False,
                                   check_names=False, rtol=1e-12)
    pd.testing.assert_frame_equal(fast.trades.reset_index(drop=True),
                                  slow.trades.reset_index(drop=True), check_dtype=False,
                                  rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("overlap", ["extend", "skip", "add"])
@pytest.mark.parametrize("notional", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_run_grid_equals_portfolio_from_orders(overlap, notional, seed):
    rng = np.random.default_rng(seed * 10 + len(overlap) + notional)
    panel = random_panel(rng)
    intents = random_intents(rng, [0, 3, 7, 8], 18, notional)
    fast = simulate_grid(intents, panel, COSTS, 100_000.0, overlap, notional)
    slow = ref.simulate_grid(intents, panel, COSTS, 100_000.0, overlap, notional)
    assert sorted(fast) == sorted(slow) == [0, 3, 7, 8]
    assert any(len(slow[c].trades) for c in slow)
    for c in slow:
        assert_same_result(fast[c], slow[c])
    assert fast[0].notes == slow[0].notes


def test_blocks_of_combinations_change_nothing(monkeypatch):
    """Cut into one combination per vectorbt call, every number is the same."""
    rng = np.random.default_rng(99)
    panel = random_panel(rng)
    intents = random_intents(rng, list(range(6)), 15, False)
    whole = simulate_grid(intents, panel, COSTS, 50_000.0, "extend")
    monkeypatch.setattr(sim, "BLOCK_CELLS", 1)
    cut = simulate_grid(intents, panel, COSTS, 50_000.0, "extend")
    for c in whole:
        pd.testing.assert_series_equal(whole[c].equity, cut[c].equity, rtol=0, atol=0)
        pd.testing.assert_frame_equal(whole[c].trades, cut[c].trades, rtol=0, atol=0)


def sparse_intents(rng, combos, notional):
    """A few short holdings far apart: most sessions have every column flat (not EEE: an
    exit on its missing closes does not fill, so it stays held and every session runs)."""
    rows = []
    for c in combos:
        for i in rng.choice(np.arange(2, len(IDX) - 8, 9), 3, replace=False):
            hold = int(rng.integers(0, 4))
            rows.append({
                "event_id": f"e{int(i):02d}",
                "ticker": str(rng.choice([t for t in TICKERS if t != "EEE"])),
                "direction": int(rng.choice([-1, 1])),
                "weight": float(rng.uniform(1_000, 20_000) if notional
                                else rng.uniform(0.05, 0.3)),
                "entry_session": IDX[i], "entry_at": str(rng.choice(["open", "close"])),
                "exit_session": IDX[i + hold], "exit_at": "close",
                "stop": 0.02 if rng.random() < 0.3 else np.nan, "leg": "main"})
    frame = intents_frame(rows)
    frame["combo"] = np.repeat(combos, 3)
    return frame


@pytest.mark.parametrize("notional", [False, True])
@pytest.mark.parametrize("seed", [4, 5, 6])
def test_flat_sessions_left_out_change_nothing(monkeypatch, notional, seed):
    """Sparse intents: only the sessions with a position or an order are simulated, and
    every result equals the reference's; so do they when every session is simulated."""
    rng = np.random.default_rng(seed)
    panel = random_panel(rng)
    intents = sparse_intents(rng, [0, 1, 2, 5], notional)
    lengths = []
    fill = sim.fill_block

    def spy(price, *args):
        lengths.append(len(price))
        return fill(price, *args)

    monkeypatch.setattr(sim, "fill_block", spy)
    fast = simulate_grid(intents, panel, COSTS, 100_000.0, "extend", notional)
    slow = ref.simulate_grid(intents, panel, COSTS, 100_000.0, "extend", notional)
    span = 2 * len(fast[0].equity.index.union(fast[1].equity.index))
    assert lengths and max(lengths) < span  # sessions were left out
    for c in slow:
        assert_same_result(fast[c], slow[c])
    monkeypatch.setattr(sim, "live_sessions", lambda bar, col, size, n: np.arange(n))
    every = simulate_grid(intents, panel, COSTS, 100_000.0, "extend", notional)
    for c in slow:
        for name in ("equity", "exposure", "traded"):
            pd.testing.assert_series_equal(getattr(fast[c], name), getattr(every[c], name),
                                           check_exact=True)
        pd.testing.assert_frame_equal(fast[c].trades, every[c].trades, check_exact=True)


def test_a_block_without_orders_stays_flat(monkeypatch):
    """Intents that give no order (zero weight; in and out on one bar) leave a combination
    flat on every session, in a block of its own too."""
    rng = np.random.default_rng(12)
    panel = random_panel(rng)
    intents = sparse_intents(rng, [0, 1], False)
    intents.loc[intents["combo"] == 1, "weight"] = 0.0
    same_bar = intents.iloc[:1].assign(combo=2, entry_at="close", exit_at="close",
                                       exit_session=intents["entry_session"].iloc[0])
    intents = pd.concat([intents, same_bar], ignore_index=True)
    slow = ref.simulate_grid(intents, panel, COSTS, 100_000.0, "extend")
    for cells in (sim.BLOCK_CELLS, 1):  # all combinations at once, one per block
        monkeypatch.setattr(sim, "BLOCK_CELLS", cells)
        fast = simulate_grid(intents, panel, COSTS, 100_000.0, "extend")
        for c in slow:
            assert_same_result(fast[c], slow[c])
        assert (fast[1].equity == 100_000.0).all() and (fast[2].equity == 100_000.0).all()


def test_live_sessions_cover_every_held_close():
    """Against a dense reading: a session is live when it has an order or some column's
    running target is nonzero at its close."""
    rng = np.random.default_rng(7)
    n_sessions, n_cols = 40, 5
    for _ in range(50):
        k = int(rng.integers(1, 12))
        bar = rng.integers(0, 2 * n_sessions, k)
        col = rng.integers(0, n_cols, k)
        keep = np.unique(col * 1000 + bar, return_index=True)[1]  # one order per cell
        bar, col = bar[keep], col[keep]
        target = np.where(rng.random(len(bar)) < 0.4, 0.0, rng.normal(size=len(bar)))
        dense = np.full((2 * n_sessions, n_cols), np.nan)
        dense[bar, col] = target
        held = pd.DataFrame(dense).ffill().fillna(0.0).to_numpy() != 0
        want = held.reshape(n_sessions, 2, n_cols).any(axis=(1, 2))
        want[bar // 2] = True
        got = np.zeros(n_sessions, dtype=bool)
        got[sim.live_sessions(bar, col, target, n_sessions)] = True
        assert (got >= want).all()  # every held or traded session is simulated


def test_a_position_open_across_left_out_sessions_falls_back(monkeypatch):
    """If a column were still held on a left-out session (a partial fill), every session
    is simulated instead: given too few sessions, the results are still the reference's."""
    rng = np.random.default_rng(11)
    panel = random_panel(rng)
    intents = sparse_intents(rng, [0, 1], False)
    monkeypatch.setattr(sim, "live_sessions",
                        lambda bar, col, size, n: np.unique(bar // 2))  # order sessions only
    fast = simulate_grid(intents, panel, COSTS, 100_000.0, "extend")
    slow = ref.simulate_grid(intents, panel, COSTS, 100_000.0, "extend")
    held = IDX.get_indexer(intents["exit_session"]) - IDX.get_indexer(intents["entry_session"])
    assert (held >= 2).any()  # some holding spans sessions without an order
    for c in slow:
        assert_same_result(fast[c], slow[c])


def test_grid_metrics_equal_one_run_metrics():
    """summarize_grid (vectorized across combinations) == summarize of each result."""
    rng = np.random.default_rng(5)
    panel = random_panel(rng)
    intents = random_intents(rng, [0, 1, 2, 3, 4], 12, False)
    bench = pd.Series(rng.normal(0, 0.01, len(IDX)), index=IDX)
    run = run_grid(intents, panel, COSTS, 100_000.0, "extend")
    grid = summarize_grid(run, bench)
    for c in run.combos:
        one = summarize(run.result(c), bench)
        assert list(grid[c]) == list(one)
        for key in one:
            assert grid[c][key] == pytest.approx(one[key], rel=0, abs=0, nan_ok=True), key


def test_beta_and_correlation_equal_numpys_per_run():
    """Each combination's beta and correlation to the benchmark (computed for all rows at
    once) equal numpy's ``cov(r, b)[0, 1] / var(b)`` and ``corrcoef(r, b)[0, 1]`` of its own
    daily returns; a benchmark day missing counts as a 0 return (as summarize reads it)."""
    rng = np.random.default_rng(8)
    panel = random_panel(rng)
    intents = random_intents(rng, [0, 1, 2, 3, 4], 12, False)
    bench = pd.Series(rng.normal(0, 0.01, len(IDX)), index=IDX)
    run = run_grid(intents, panel, COSTS, 100_000.0, "extend")
    for b_series in (bench, bench.where(np.arange(len(IDX)) != 7)):
        grid = summarize_grid(run, b_series)
        for c in run.combos:
            equity = run.result(c).equity
            r = (equity / np.concatenate([[100_000.0], equity.to_numpy()[:-1]]) - 1).to_numpy()
            b = b_series.reindex(equity.index).fillna(0.0).to_numpy()
            ok = np.isfinite(r) & np.isfinite(b)
            beta = np.cov(r[ok], b[ok], ddof=1)[0, 1] / np.var(b[ok], ddof=1)
            assert grid[c]["beta"] == pytest.approx(beta, rel=1e-10, abs=1e-15)
            assert grid[c]["correlation"] == pytest.approx(np.corrcoef(r[ok], b[ok])[0, 1],
                                                           rel=1e-10, abs=1e-15)


def test_every_array_argument_of_the_vectorbt_kernel_is_passed():
    """numba keys an omitted array default by its id, so a kernel call that leaves one out
    is compiled afresh in every new process (measured: 2 s more per warm ``backtest demo``).
    Every parameter of ``simulate_from_orders_nb`` with an array default must be passed."""
    import inspect

    from vectorbt.portfolio import nb

    params = inspect.signature(nb.simulate_from_orders_nb.py_func).parameters
    array_defaults = {n for n, p in params.items() if isinstance(p.default, np.ndarray)}
    assert array_defaults  # the check means something only if the kernel has such defaults
    passed = set(kernel_args(COSTS, False)) | {"size", "close", "val_price"}
    assert array_defaults <= passed, sorted(array_defaults - passed)


@pytest.mark.parametrize("overlap", ["extend", "skip"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_event_returns_of_all_combinations_at_once_equal_one_at_a_time(overlap, seed):
    """The sweep's per-event returns over every combination at once are, bit for bit,
    those of the loop over combinations (event_ids, then event_sums per combination):
    merged holdings (e01+e05), trades of several events on one ticker, ticker gaps."""
    from backtest.sim.sweeps import _grid_event_returns_loop, grid_event_returns

    rng = np.random.default_rng(seed)
    panel = random_panel(rng)
    intents = random_intents(rng, [0, 2, 5, 6, 9], 30, False)
    grid = run_grid(intents, panel, COSTS, 100_000.0, overlap, False)
    assert grid.segments.disjoint
    fast, slow = grid_event_returns(grid), _grid_event_returns_loop(grid)
    assert list(fast) == list(slow) == grid.combos
    assert any("+" in i for i in grid.segments.event_id) or overlap == "skip"
    for c in slow:
        assert fast[c][0] == slow[c][0], c
        np.testing.assert_array_equal(fast[c][1], slow[c][1])
        assert fast[c][1].dtype == slow[c][1].dtype
    assert sum(len(v[0]) for v in slow.values()) > 20
