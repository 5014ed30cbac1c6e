"""Probabilistic and deflated Sharpe ratios against the papers' formulas written out and
a Monte Carlo of the expected maximum."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from backtest.inference import deflated_sharpe, probabilistic_sharpe
from backtest.inference.sharpe import expected_max_sharpe, moments_rows


def _psr(r: np.ndarray, sr_star: float) -> float:
    """Bailey and Lopez de Prado (2012), eq. 10, with scipy's sample moments."""
    sr = r.mean() / r.std(ddof=1)
    g3, g4 = sps.skew(r), sps.kurtosis(r, fisher=False)
    z = (sr - sr_star) * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr ** 2)
    return sps.norm.cdf(z)


def test_psr_equals_the_formula_with_scipy_moments():
    rng = np.random.default_rng(1)
    r = rng.standard_t(4, 500) * 0.01 + 0.0008  # fat tails
    assert probabilistic_sharpe(r) == pytest.approx(_psr(r, 0.0), rel=1e-10)
    assert probabilistic_sharpe(r, 0.05) == pytest.approx(_psr(r, 0.05), rel=1e-10)


def test_psr_hand_case():
    """Four returns 1, 2, 3, -1 (%): mean 1.25, sd 1.7078, SR 0.7319; moments m2 = 2.1875,
    m3 = -1.40625, m4 = 8.8320: g3 = -0.4347, g4 = 1.8457; z = SR sqrt(3) /
    sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)."""
    r = np.array([0.01, 0.02, 0.03, -0.01])
    sr = 1.25 / math.sqrt(((r * 100 - 1.25) ** 2).sum() / 3)
    m2, m3, m4 = 2.1875, -1.40625, 8.83203125
    g3, g4 = m3 / m2 ** 1.5, m4 / m2 ** 2
    z = sr * math.sqrt(3) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr ** 2)
    assert probabilistic_sharpe(r) == pytest.approx(0.5 * (1 + math.erf(z / math.sqrt(2))),
                                                    rel=1e-9)
    sr_rows, g3_rows, g4_rows = moments_rows(r[None, :] * 100)
    assert (sr_rows[0], g3_rows[0], g4_rows[0]) == pytest.approx((sr, g3, g4), rel=1e-12)


def test_expected_max_sharpe_matches_a_monte_carlo():
    """E[max of N independent N(0, V)] by simulation against the closed form (an
    approximation: within 2% for N = 100 and 1,000)."""
    rng = np.random.default_rng(2)
    for n in (100, 1000):
        draws = rng.standard_normal((4000, n)).max(axis=1) * 0.1
        assert expected_max_sharpe(0.01, n) == pytest.approx(draws.mean(), rel=0.02)
    assert expected_max_sharpe(0.01, 1) == 0.0


def test_deflated_sharpe_is_psr_against_the_expected_maximum():
    rng = np.random.default_rng(4)
    best = rng.normal(0.001, 0.01, 400)
    trials = rng.normal(0.0, 0.05, 50)
    dsr, sr0 = deflated_sharpe(best, trials)
    v = trials.var(ddof=1)
    gamma = 0.5772156649015329
    want_sr0 = math.sqrt(v) * ((1 - gamma) * sps.norm.ppf(1 - 1 / 50)
                               + gamma * sps.norm.ppf(1 - 1 / (50 * math.e)))
    assert sr0 == pytest.approx(want_sr0, rel=1e-12)
    assert dsr == pytest.approx(_psr(best, want_sr0), rel=1e-10)
    # trials that never traded count as trials, not in the variance
    dsr_nan, sr0_nan = deflated_sharpe(best, np.append(trials, [np.nan] * 10))
    assert sr0_nan > sr0 and dsr_nan < dsr


def test_undefined_sharpe_gives_nan():
    assert np.isnan(probabilistic_sharpe(np.zeros(20)))
    assert np.isnan(probabilistic_sharpe(np.array([0.01, 0.02])))
