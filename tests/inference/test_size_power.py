"""Size and power of a sweep's inference on synthetic markets (the design of
``benchmarks/inference_size_power.py``, fewer replications; the benchmark's rates, with
1,000 replications, are in BENCHMARKS.md).

No combination has an edge: the reality check and the deflated Sharpe ratio reject in
at most 12% of 100 replications (5% nominal; 12% is three binomial standard errors
above), PBO averages 0.4 or more. A 2% day-0 move in the expected direction: the
reality check rejects in 80% or more of 60 replications, the deflated Sharpe ratio
in 60% or more, PBO averages below 0.2, the walk-forward finds it out of sample in
half or more. Seeds are fixed: the rates are the same on every run.
"""

from __future__ import annotations

import importlib.util

import pytest

from tests.helpers import ROOT


def _bench():
    spec = importlib.util.spec_from_file_location(
        "inference_size_power", ROOT / "benchmarks" / "inference_size_power.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_no_edge_is_rejected_at_about_the_nominal_rate():
    rates = _bench().simulate(100, 0.0, seed=1, spa_reps=300)
    assert rates["spa"] <= 0.12 and rates["white"] <= 0.12, rates
    assert rates["dsr"] <= 0.12, rates
    assert rates["pbo"] >= 0.4, rates
    assert rates["wf"] <= 0.12, rates


@pytest.mark.slow
def test_a_planted_edge_is_found():
    rates = _bench().simulate(60, 0.02, seed=2, spa_reps=300)
    assert rates["spa"] >= 0.8 and rates["white"] >= 0.8, rates
    assert rates["dsr"] >= 0.6, rates
    assert rates["pbo"] < 0.2, rates
    assert rates["wf"] >= 0.5, rates
