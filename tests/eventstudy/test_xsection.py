"""The cross-section of CARs against a slow sandwich computed here, and a planted effect.

The reference is written out in numpy: OLS coefficients by the normal equations, the
CR1 cluster-robust covariance ``(X'X)^-1 (sum_g X_g' e_g e_g' X_g) (X'X)^-1`` scaled
by ``G/(G-1) (N-1)/(N-K)``, and two-sided p from Student-t with ``G - 1`` df.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

import backtest
from backtest.eventstudy.xsection import cross_section, explain_terms
from events.errors import ConfigError


def _frames(rng, days=8, per_day=5, effect=0.0):
    rows, cars = [], []
    for d in range(days):
        day_shock = rng.normal(0, 0.01)  # pairs of one news day move together
        for k in range(per_day):
            role = ("partner", "partner", "partner", "competitor", "supplier")[k % 5]
            direction = "down" if k % 2 else "up"
            score = float(rng.integers(40, 90))
            signed = effect * (role == "partner") + 0.0004 * score + day_shock \
                + rng.normal(0, 0.02)
            car = signed if direction == "up" else -signed
            rows.append({"event_id": f"e{d}", "ticker": f"T{k}", "role": role,
                         "label": "bearish", "direction": direction, "score": score,
                         "day0": pd.Timestamp("2025-01-02") + pd.Timedelta(days=7 * d),
                         "pos0": d})
            cars.append(car)
    pairs = pd.DataFrame(rows)
    car = pairs[["event_id", "ticker"]].assign(window_start=0, window_end=1, car=cars)
    est = pairs[["event_id", "ticker"]].assign(coef_beta=rng.normal(1, 0.3, len(pairs)))
    return pairs, car, est


def _slow_cluster_ols(y, x, groups):
    n, k = x.shape
    xtx_inv = np.linalg.inv(x.T @ x)
    b = xtx_inv @ x.T @ y
    e = y - x @ b
    meat = np.zeros((k, k))
    labels = sorted(set(groups))
    for g in labels:
        idx = [i for i in range(n) if groups[i] == g]
        s = x[idx].T @ e[idx]
        meat += np.outer(s, s)
    g_n = len(labels)
    cov = xtx_inv @ meat @ xtx_inv * (g_n / (g_n - 1)) * ((n - 1) / (n - k))
    se = np.sqrt(np.diag(cov))
    t = b / se
    return b, se, t, 2 * sps.t.sf(np.abs(t), g_n - 1)


def test_matches_the_slow_cluster_sandwich(rng):
    pairs, car, est = _frames(rng)
    out = cross_section(car, pairs, est, ("score", "role", "beta"), [(0, 1)])
    sign = np.where(pairs["direction"] == "down", -1.0, 1.0)
    y = car["car"].to_numpy() * sign
    x = np.column_stack([np.ones(len(pairs)), pairs["score"],
                         (pairs["role"] == "competitor").astype(float),
                         (pairs["role"] == "supplier").astype(float),
                         est["coef_beta"]])
    b, se, t, p = _slow_cluster_ols(y, x, list(pairs["day0"]))
    # the reference level of role is its most common level: partner (3 of every 5)
    assert list(out["term"]) == ["const", "score", "role=competitor", "role=supplier", "beta"]
    assert set(out.loc[out["term"].str.startswith("role"), "reference"]) == {"partner"}
    np.testing.assert_allclose(out["coef"], b, rtol=1e-9)
    np.testing.assert_allclose(out["se"], se, rtol=1e-9)
    np.testing.assert_allclose(out["p"], p, rtol=1e-7)
    assert set(out["n"]) == {40} and set(out["clusters"]) == {8}


def test_a_planted_partner_effect_is_recovered(rng):
    pairs, car, est = _frames(rng, days=40, effect=0.05)
    out = cross_section(car, pairs, est, ("role",), [(0, 1)]).set_index("term")
    # partner is the reference: the others react 5 points less in the expected direction
    for term in ("role=competitor", "role=supplier"):
        assert out.loc[term, "coef"] == pytest.approx(-0.05, abs=0.015)
        assert out.loc[term, "p"] < 0.01


def test_too_few_news_days_say_so(rng):
    pairs, car, est = _frames(rng, days=1)
    out = cross_section(car, pairs, est, ("score",), [(0, 1)])
    assert out["coef"].isna().all() and out["note"].str.startswith("not estimable").all()


def test_unknown_terms_are_refused_with_the_choices(rng):
    pairs, _, _ = _frames(rng)
    with pytest.raises(ConfigError, match="choose from score, beta, role"):
        explain_terms(("size",), pairs)
    with pytest.raises(ConfigError, match="listed twice"):
        explain_terms(("role", "role"), pairs)


def test_study_writes_xsection_for_the_bundled_calendar(tmp_path):
    res = backtest.study("openai", pseudo_draws=0, explain=("score", "role"))
    window = res.xsection[(res.xsection["window_start"] == 0) & (res.xsection["window_end"] == 1)]
    assert list(window["term"])[:2] == ["const", "score"]
    assert set(window["clusters"]) == {9}  # nine news days
    res.write(tmp_path)
    assert (tmp_path / "xsection.csv").is_file()
