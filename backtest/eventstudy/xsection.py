"""The cross-section of reactions: which pairs reacted most, and with what.

For each CAR window, an OLS of the pairs' CARs in their expected direction
(``CAR x +1`` for an expected rise, ``x -1`` for an expected fall, so a positive
coefficient means "reacts more the way the calendar expected") on a constant and the
chosen characteristics::

    s_i CAR_i = a + b' x_i + e_i

* numeric terms: ``score`` (the sentiment score), ``beta`` (the pair's estimation beta
  on the market), and any event tag whose values are all numbers;
* categorical terms: ``role``, ``direction``, ``label``, ``ticker`` and any other
  tag, as 0/1 columns against the most common level (the reference, named in the
  ``reference`` column), so a coefficient reads "this level minus the reference";
* standard errors clustered by news day (pairs sharing day 0 move together), the
  CR1 small-sample scale and Student-t with ``G - 1`` degrees of freedom for G news
  days (statsmodels ``cov_type="cluster"``; Cameron and Miller 2015, Sec. VI, on why
  few clusters need the t with G - 1 df). With fewer news days than coefficients
  the errors cannot be estimated and the row says so.

Reference: Cameron, A. C., Miller, D. L. (2015). A practitioner's guide to
cluster-robust inference. *Journal of Human Resources* 50(2), 317-372.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from events.errors import ConfigError

NUMERIC = ("score", "beta")
CATEGORICAL = ("role", "direction", "label", "ticker")
COLUMNS = ["window_start", "window_end", "term", "reference", "coef", "se", "t", "p", "n",
           "clusters", "note"]


def explain_terms(terms, pairs: pd.DataFrame) -> tuple[str, ...]:
    """The terms checked against what a pair has (refused with the list of choices)."""
    known = [*NUMERIC, *CATEGORICAL, *(c for c in pairs.columns if c not in
                                       ("event_id", "day0", "pos0", *NUMERIC, *CATEGORICAL))]
    out = []
    for term in terms:
        if term not in known:
            raise ConfigError(f"cannot explain by {term!r}: choose from {', '.join(known)}",
                              field="explain")
        if term in out:
            raise ConfigError(f"{term!r} is listed twice", field="explain")
        out.append(term)
    return tuple(out)


def design(frame: pd.DataFrame, terms: tuple[str, ...]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The regressors (constant first) and each categorical term's reference level."""
    cols = {"const": np.ones(len(frame))}
    reference = {}
    for term in terms:
        values = frame[term]
        numeric = pd.to_numeric(values, errors="coerce")
        if term in NUMERIC or (term not in CATEGORICAL and numeric.notna().all()):
            cols[term] = numeric.to_numpy(dtype="float64")
            continue
        text = values.astype(str)
        counts = text.value_counts()
        ref = sorted(counts[counts == counts.max()].index)[0]  # most common, ties by name
        reference[term] = ref
        for level in sorted(set(text) - {ref}):
            cols[f"{term}={level}"] = (text == level).to_numpy(dtype="float64")
    return pd.DataFrame(cols, index=frame.index), reference


def cross_section(car: pd.DataFrame, pairs: pd.DataFrame, estimates: pd.DataFrame,
                  terms: tuple[str, ...], windows) -> pd.DataFrame:
    """One row per (CAR window, term): coefficient, clustered standard error, t, p, the
    pairs and news days used (see the module docstring)."""
    from statsmodels.regression.linear_model import OLS  # not statsmodels.api: all of it

    base = pairs.copy()
    if "beta" in terms:
        if "coef_beta" not in estimates:
            raise ConfigError("'beta' needs a model with a market beta (market, dimson, "
                              "scholes_williams, factors)", field="explain")
        beta = estimates.set_index(["event_id", "ticker"])["coef_beta"]
        base["beta"] = beta.reindex(pd.MultiIndex.from_frame(base[["event_id", "ticker"]]))\
            .to_numpy()
    sign = np.where(base["direction"].to_numpy() == "down", -1.0, 1.0)
    base = base.assign(sign=sign)
    rows = []
    for start, end in windows:
        w = car[(car["window_start"] == start) & (car["window_end"] == end)]
        y = w.set_index(["event_id", "ticker"])["car"]
        frame = base.assign(y=y.reindex(pd.MultiIndex.from_frame(
            base[["event_id", "ticker"]])).to_numpy() * base["sign"].to_numpy())
        x, reference = design(frame, terms)
        ok = np.isfinite(frame["y"].to_numpy()) & np.isfinite(x.to_numpy()).all(axis=1)
        x, yv = x[ok], frame["y"].to_numpy()[ok]
        x = x.loc[:, (x.nunique() > 1) | (x.columns == "const")]  # a level never seen: out
        days = pd.factorize(frame.loc[ok, "day0"])[0]
        n, g, k = int(ok.sum()), int(days.max() + 1) if ok.any() else 0, x.shape[1]
        note = ""
        if n <= k or g < 2 or np.linalg.matrix_rank(x.to_numpy()) < k:
            note = (f"not estimable: {n} pairs, {g} news days, {k} coefficients"
                    if n <= k or g < 2 else "collinear terms: drop one")
        elif g <= k:
            note = f"{g} news days for {k} coefficients: the clustered errors are not reliable"
        if note.startswith(("not estimable", "collinear")):
            for term in x.columns:
                rows.append(_row(start, end, term, reference, np.nan, np.nan, np.nan, np.nan,
                                 n, g, note))
            continue
        fit = OLS(yv, x.to_numpy()).fit(cov_type="cluster", cov_kwds={"groups": days},
                                        use_t=True)
        for j, term in enumerate(x.columns):
            rows.append(_row(start, end, term, reference, fit.params[j], fit.bse[j],
                             fit.tvalues[j], fit.pvalues[j], n, g, note))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(start, end, term, reference, coef, se, t, p, n, g, note) -> dict:
    name = term.split("=")[0]
    return {"window_start": start, "window_end": end, "term": term,
            "reference": reference.get(name, ""), "coef": float(coef), "se": float(se),
            "t": float(t), "p": float(p), "n": n, "clusters": g, "note": note}
