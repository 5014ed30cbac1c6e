"""Size and power of the event-study statistics on real returns (slow).

A Brown and Warner (1985) style simulation on the ``../shared`` universe of US
adjusted closes: random (ticker, day 0) pairs with no planted effect should be
rejected about 5% of the time at 5%; when the pairs share one day 0 (clustering)
the plain BMP/Patell/cross-sectional tests over-reject and the Kolari-Pynnonen
adjusted BMP should not; a planted +1% day-0 abnormal return should be found.

The simulation itself (universe filter, designs, one ``run_study`` per chunk of
replications with ``group_by=("rep",)``) lives in ``benchmarks/size_power.py``,
which runs a bigger version (R = 500) and prints the full table. Here R = 150
replications of N = 50 pairs per design, same seed, so these replications are the
first 150 of the benchmark's. Runtime about 2 minutes.

Bounds: with R = 150 the binomial standard error of a 5% rejection rate is 1.8
points; [1%, 10%] is 2.2 SE below and 2.8 SE above 5%, so a correctly sized test
fails it with probability well under 1% (the draws are seeded, so the outcome is
deterministic anyway). Tests whose ARs are scaled by the estimation-window
variance (Patell) run a little hot on real data (event-day ARs are ~1.1-1.2 times
more variable than the fit predicts): about 8% in the R = 500 benchmark.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from tests.helpers import ROOT, UNIVERSE_DIR

UNIVERSE = (UNIVERSE_DIR
            / "us_adjclose_2023-01_2026-07.parquet")
REPS = 150
N = 50
SEED = 20260501
EFFECT = 0.01
LOW, HIGH = 0.01, 0.10
SIZE_STATS = ("bmp_t", "patell_z", "csect_t", "corrado_rank_z", "generalized_sign_z",
              "kp_bmp_t")
WINDOWS = ((0, 0), (-1, 1))


def _load_benchmark():
    path = ROOT / "benchmarks" / "size_power.py"
    spec = importlib.util.spec_from_file_location("size_power_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sim():
    """Rejection rates and per-rep test rows of every design, computed once."""
    if not UNIVERSE.exists():
        pytest.skip(f"universe data not found at {UNIVERSE} (the ../shared checkout is absent); "
                    f"the size/power simulation needs it")
    bench = _load_benchmark()
    assert bench.UNIVERSE_PATH == UNIVERSE
    universe = bench.load_universe(UNIVERSE, seed=SEED)
    out = {}
    for design in bench.DESIGNS:
        tests = bench.simulate(universe, design, REPS, N, SEED, EFFECT, pseudo_draws=199)
        out[design] = (bench.rejection_rates(tests), tests)
    return out


def _rate(sim, design, stat, window):
    return float(sim[design][0].loc[stat, window])


def _table(sim, design, stats):
    return {(s, w): round(_rate(sim, design, s, w), 3) for s in stats for w in WINDOWS}


@pytest.mark.slow
def test_simulation_is_what_it_claims(sim):
    """Every replication is one group of N pairs with a day-0 AR; for the day-0 window,
    groups with one shared day 0 carry kp_bmp_t as headline and r̄ > 0, groups with N
    different day 0s carry bmp_t and r̄ = 0 (their one-day windows share no calendar
    day); the correlated set is far more correlated than random tickers."""
    rbar = {}
    for design, (_, tests) in sim.items():
        assert tests["rep"].nunique() == REPS, design
        day0 = tests[(tests["window_start"] == 0) & (tests["window_end"] == 0)]
        n = day0.groupby("rep")["n"].first()
        assert n.mean() >= 0.95 * N and (n >= N - 5).all(), design
        headline = set(day0.loc[day0["headline"], "statistic"])
        shared = design.startswith(("clustered", "few_days"))  # pairs share a day 0
        assert headline == {"kp_bmp_t" if shared else "bmp_t"}, design
        rbar[design] = day0.groupby("rep")["rbar"].first().mean()
        if not shared:
            assert rbar[design] == 0.0, design
        if design.startswith("few_days"):  # five news days per replication
            assert (day0.groupby("rep")["n_days"].first() == 5).all(), design
    assert rbar["clustered_corr"] > 0.3 > 3 * rbar["clustered"] > 0.0, rbar


@pytest.mark.slow
def test_size_nonclustered(sim):
    """No effect, different day 0s: each statistic rejects in [1%, 10%] of replications."""
    rates = _table(sim, "nonclustered", SIZE_STATS)
    bad = {k: v for k, v in rates.items() if not LOW <= v <= HIGH}
    assert not bad, f"mis-sized statistics (non-clustered, R={REPS}): {bad}; all: {rates}"


@pytest.mark.slow
def test_size_clustered_kp_bmp_holds_bmp_over_rejects(sim):
    """One shared day 0: kp_bmp_t keeps its size (<= 10%); in the highly correlated set
    the unadjusted BMP rejects more often than the adjusted one."""
    for design in ("clustered", "clustered_corr"):
        rates = _table(sim, design, ("kp_bmp_t", "bmp_t"))
        for w in WINDOWS:
            assert rates["kp_bmp_t", w] <= HIGH, (design, rates)
    corr = _table(sim, "clustered_corr", ("kp_bmp_t", "bmp_t"))
    for w in WINDOWS:
        assert corr["bmp_t", w] > corr["kp_bmp_t", w], corr
        # not just "more": the unadjusted test is badly mis-sized with one shared day 0
        assert corr["bmp_t", w] > 3 * HIGH, corr


@pytest.mark.slow
def test_power_one_percent_day0(sim):
    """A planted +1% day-0 AR on N = 50 random stocks with different day 0s: BMP (and KP-BMP,
    identical here) finds it at least half the time, and every statistic rejects far more
    often than under the null."""
    for stat in ("bmp_t", "kp_bmp_t"):  # r̄ = 0 without shared days: KP must not cost power
        power = _rate(sim, "power", stat, (0, 0))
        assert power >= 0.5, f"{stat} power {power:.3f} for a 1% day-0 AR with N={N}"
    for stat in SIZE_STATS:
        assert (_rate(sim, "power", stat, (0, 0))
                > _rate(sim, "nonclustered", stat, (0, 0)) + 0.2), stat
    assert np.isfinite(_rate(sim, "power", "pseudo_event_z", (-1, 1)))


@pytest.mark.slow
def test_few_news_days_ibragimov_mueller_holds_its_size(sim):
    """Five news days of ten correlated names: the t on the five day means keeps its size
    (<= 10%) while BMP, which treats the 50 pairs as independent, over-rejects; with a
    planted +1% AR it still rejects more often than under the null."""
    for w in WINDOWS:
        im = _rate(sim, "few_days_corr", "im_t", w)
        assert im <= HIGH, (w, im)
        assert _rate(sim, "few_days_corr", "bmp_t", w) > 3 * HIGH, w
    assert (_rate(sim, "few_days_power", "im_t", (0, 0))
            > _rate(sim, "few_days", "im_t", (0, 0)) + 0.2)
