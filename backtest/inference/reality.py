"""Does the best combination of a sweep beat not trading? White's reality check and
Hansen's test for superior predictive ability, with a stationary bootstrap.

Each combination's daily returns, over one common calendar of sessions (0 on days it
is flat), are compared with not trading (a return of 0 every day): the loss
differential of combination k on day t is its return ``r_kt``. The null is that no
combination has a positive mean, ``max_k E[r_k] <= 0``, and the statistic the largest
mean ``max_k sqrt(T) mean(r_k)``. White's reality check (White 2000, "A reality check
for data snooping", Econometrica 68(5)) re-centres every bootstrap mean on the sample
mean; Hansen's consistent p-value (Hansen 2005, "A test for superior predictive
ability", JBES 23(4), eq. 9) leaves the clearly poor combinations (mean below
``-sqrt(var / T * 2 ln ln T)``) un-centred, so they no longer inflate the p-value. The
p-values are ``arch.bootstrap.SPA``'s "upper" and "consistent" ones, with the
stationary bootstrap of Politis and Romano (1994). (arch 8 compares the un-studentized
means whatever its ``studentize`` flag, so neither p-value is studentized.) The
bootstrap's mean block length is Politis and White's (2004, corrected by Patton, Politis and
White 2009) optimal length for the best combination's returns
(``arch.bootstrap.optimal_block_length``).

Combinations whose returns never vary (they never traded, or are flat every day)
equal not trading exactly; they are left out (their differential is 0 every day).
Combinations with the same daily returns are counted once: they are one strategy as
far as the test can tell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_CELLS = 4_000_000  # bootstrap draws x combinations: arch keeps 3 floats each (96 MB)


@dataclass(frozen=True)
class RealityCheck:
    """``spa_p``: Hansen's consistent SPA p-value; ``rc_p``: White's reality-check p-value;
    over ``n_used`` distinct varying combinations of ``n_combos``, ``n_days`` sessions, ``reps`` bootstrap draws of mean block length
    ``block``. NaN (with ``reason``) when nothing can be tested."""

    spa_p: float
    rc_p: float
    n_combos: int
    n_used: int
    n_days: int
    reps: int
    block: float
    reason: str = ""

    def as_metrics(self) -> dict:
        return {"spa_p": self.spa_p, "reality_check_p": self.rc_p,
                "reality_check_combos": self.n_used, "reality_check_reps": self.reps,
                "reality_check_block": self.block}


def distinct_columns(x: np.ndarray) -> np.ndarray:
    """Indices of the first of each set of identical columns of ``x``, in order."""
    _, first = np.unique(np.ascontiguousarray(x.T), axis=0, return_index=True)
    return np.sort(first)


def reality_check(daily_returns: np.ndarray, reps: int = 1000, seed: int = 20260428,
                  block: float | None = None) -> RealityCheck:
    """SPA and reality-check p-values of ``daily_returns`` (sessions, combinations) against
    not trading. ``reps`` is lowered for very many combinations (at most
    :data:`MAX_CELLS` draws x combinations, never below 100); the draws used are reported."""
    from arch.bootstrap import SPA, optimal_block_length

    x = np.asarray(daily_returns, dtype="float64")
    t, n = x.shape
    x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    varying = np.flatnonzero(x.std(axis=0) > 0)
    keep = varying[distinct_columns(x[:, varying])] if varying.size else varying
    if keep.size == 0:
        return RealityCheck(np.nan, np.nan, n, 0, t, 0, np.nan,
                            "no combination ever differs from not trading")
    if t < 20:
        return RealityCheck(np.nan, np.nan, n, int(keep.size), t, 0, np.nan,
                            f"needs at least 20 sessions, there are {t}")
    models = x[:, keep]
    reps = int(max(100, min(reps, MAX_CELLS // models.shape[1])))
    best = models[:, int(np.argmax(models.mean(axis=0)))]
    if block is None:
        block = float(np.ceil(optimal_block_length(best)["stationary"].iloc[0]))
    block = float(min(max(block, 1.0), t))
    # losses: not trading loses 0, a combination loses -r; arch's differential is r
    spa = SPA(np.zeros(t), -models, block_size=int(block), reps=reps, bootstrap="stationary",
              seed=seed)
    spa.compute()
    p = spa.pvalues
    return RealityCheck(float(p["consistent"]), float(p["upper"]), n, int(keep.size), t,
                        reps, block)
