"""Slow, loop-based reference implementation of the Kolari-Pynnonen GRANK test.

Kolari, J. W., Pynnonen, S. (2011). Nonparametric rank tests for event
studies. Journal of Empirical Finance 18(5), 953-971.
doi:10.1016/j.jempfin.2011.08.003

This is a test helper, written only from the paper's definitions. It is
meant to check the fast production version, so it is built for readability
and not for speed: plain Python lists, ``for`` loops and ``math``. numpy is
used only to read the inputs, and ``scipy.stats.t`` only for the Student-t
p-value.

Notation (the paper's)
----------------------
n (here N)  number of events (firms) in the sample.
L1 (here L) number of relative days in the estimation window.
T           number of time points that get ranked: the L estimation days
            plus ONE cumulative event "day" t = 0 standing for the whole CAR
            window, so T = L + 1.

Steps and formulas
------------------
The equation numbers for (9) and (12)-(15) are the ones the paper gives, as
quoted in the comments of Pacicco et al.'s Stata ``estudy`` command, which
cites "Kolari and Pynnonen (2011) - EQ (n)" next to each step. I did not have
the PDF, so the other numbers are not given.

1. Standardised estimation-window ARs:   SAR_it = AR_it / S_i
   (S_i = ``est_sigma[i]``, the estimation residual s.d. of firm i).
2. Standardised CAR:                     SCAR_i = CAR_i / sqrt(var_i)
   (var_i = ``car_var[i]``, the model variance of firm i's CAR).
3. Re-standardisation for event-induced volatility:
       SCAR*_i = SCAR_i / S_SCAR,
       S_SCAR  = sqrt( 1/(N-1) * sum_i (SCAR_i - mean(SCAR))^2 )
   i.e. the cross-sectional standard deviation with ddof = 1. This is the
   BMP (Boehmer-Musumeci-Poulsen 1991) cross-sectional s.d., the one
   Kolari-Pynnonen (2010) use in their eq. (7); KP 2011 reuses it.
4. Generalised standardised abnormal returns:
       GSAR_it = SCAR*_i   for t = 0 (the collapsed CAR window),
       GSAR_it = SAR_it    for t in the estimation window.
5. Demeaned standardised ranks, eq. (9):
       U_it = Rank(GSAR_it) / (T_i + 1) - 1/2,
   where the rank is taken within firm i over its T_i non-missing GSARs
   (T_i = its non-missing estimation days + 1). With no missing data
   T_i = T for every firm.
6. Daily cross-sectional mean, eq. (15):
       Ubar_t = (1/N_t) * sum_{i present on t} U_it
   (N_t = number of firms with a non-missing GSAR on day t; N_0 = N).
7. Time-series s.d. of the mean ranks, eq. (14):
       S_Ubar = sqrt( (1/T) * sum_{t in T} (N_t/N) * Ubar_t^2 ),
   summing over all T = L + 1 time points (the L estimation days and t = 0).
8. Eq. (13):   Z = Ubar_0 / S_Ubar
9. Eq. (12):   t_grank = Z * sqrt( (T - 2) / (T - 1 - Z^2) ),
   Student t with T - 2 degrees of freedom (two-sided p-value here).

The Z variant (GRANK-Z, ``grank_z_reference``)
----------------------------------------------
Under H0 the event-day rank of firm i is uniform on {1, ..., T_i}, so
E[U_i0] = 0 and Var[U_i0] = (T_i^2 - 1) / (12 (T_i + 1)^2)
= (T_i - 1) / (12 (T_i + 1)). With the firms independent,
Var[Ubar_0] = (1/N^2) * sum_i (T_i - 1) / (12 (T_i + 1)), and
    Z_grank = Ubar_0 / sqrt(Var[Ubar_0])  ~  N(0, 1) asymptotically.
With no missing data this is Z_grank = Ubar_0 * sqrt(12 N (T + 1) / (T - 1))
= Ubar_0 * sqrt(12 N (L + 2) / L). EventStudyTools lists this as
"Generalized Rank Z" (GRANK-Z, their anchor ``#GRANKZ``) next to GRANK-T.
It is not the paper's headline statistic: it leaves out the data-based S_Ubar,
so it does not allow for cross-correlation between the firms' ranks.

Choices where the paper leaves room (these are what "the reference" means)
--------------------------------------------------------------------------
* Ties: average ranks, worked out by a plain double loop:
  rank_j = 1 + #{k: x_k < x_j} + (1/2) #{k != j: x_k == x_j}  (eq. 9 input).
* Weights in S_Ubar: N_t / N, with N = the number of firms in the test
  (eq. 14). A day on which no firm has data adds 0 to the sum but is still
  one of the T time points.
* ddof of S_SCAR: 1 (the cross-sectional sample s.d.; KP 2010 eq. 7).
* T when firms have different numbers of days: the rank scaling is per firm,
  T_i + 1 (eq. 9 with T_i = non-missing GSARs of firm i), while the T in
  eqs. (12)-(14) and in the degrees of freedom is the common window count
  T = L + 1. L is the number of aligned relative estimation days: the
  columns of a 2-D input, or ``window_len`` if given (which must be at least
  the longest row). A day is counted even if every firm is missing on it.
* Alignment of ragged list input: when ``est_ar`` is a list of 1-D arrays of
  different lengths, each array is taken to END on the last estimation day
  (right-aligned in the L-day window), so a shorter history is missing its
  EARLIEST days. Pass a 2-D (N, L) array with NaN gaps if you need another
  alignment. Equal-length lists are aligned day by day.
* Firms whose SCAR_i cannot be computed (car, car_var or est_sigma not
  finite, or car_var <= 0, or est_sigma <= 0) are dropped before anything
  else, and N is the number left. Missing (NaN) estimation ARs are only
  gaps: they drop out of that firm's ranking and out of N_t on that day.
* If T - 1 - Z^2 <= 0 (only possible in degenerate samples), t_grank is
  undefined and (nan, nan) is returned. Fewer than 2 firms (S_SCAR
  undefined), S_SCAR = 0, S_Ubar = 0 or T < 3 also give (nan, nan).

Sources read
------------
* Pacicco, Vena, Venegoni, Stata ``estudy`` (GRANK branch, comments citing
  KP 2011 EQ (9), (12), (13), (14), (15) and KP 2010 EQ (7)); public Stata
  code found through the code-search index.
* EventStudyTools, "Significance Tests for Event Studies",
  https://www.eventstudytools.com/significance-tests (only its opening part
  could be read here; a public README links its GRANK-Z section as
  #GRANKZ), and https://support.eventstudytools.com/en/test-statistics/
  assumptions-of-test-statistics (lists Generalized Rank T and Generalized
  Rank Z as separate AAR/CAAR tests).
* Abstract and bibliographic data: https://ideas.repec.org/a/eee/empfin/
  v18y2011i5p953-971.html, SSRN 1254022.
* Kaspereit's Stata ``eventstudy2`` (labels "GRANK-T test (Kolari and
  Pynnonen (2011))").
No code was copied; every formula above is restated from the definitions.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = [
    "grank_reference",
    "grank_z_reference",
    "grank_details",
    "hand_example",
    "HAND_EXAMPLE",
]


# --------------------------------------------------------------------------
# small helpers, all plain Python
# --------------------------------------------------------------------------

def _is_finite(x):
    return x is not None and not (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


def _to_float_or_none(x):
    """A Python float, or None for a missing value (NaN / inf / None)."""
    if x is None:
        return None
    v = float(x)
    if math.isnan(v) or math.isinf(v):
        return None
    return v


def _average_ranks(values):
    """Average ranks (1-based) of a list of floats, by a plain double loop.

    rank_j = 1 + #{k : x_k < x_j} + 0.5 * #{k != j : x_k == x_j}
    which is the mean of the positions the tied values would take.
    """
    n = len(values)
    ranks = []
    for j in range(n):
        below = 0
        ties = 0
        for k in range(n):
            if k == j:
                continue
            if values[k] < values[j]:
                below += 1
            elif values[k] == values[j]:
                ties += 1
        ranks.append(1.0 + below + 0.5 * ties)
    return ranks


def _estimation_rows(est_ar, window_len):
    """The estimation ARs as a list of N rows of L entries (float or None).

    A 2-D array is used as it is (rows = firms, columns = aligned days).
    A list of 1-D arrays is right-aligned in an L-day window (see the module
    docstring). Returns (rows, L).
    """
    if isinstance(est_ar, np.ndarray) and est_ar.ndim == 2:
        raw_rows = [list(est_ar[i, :]) for i in range(est_ar.shape[0])]
        aligned_len = est_ar.shape[1]
    else:
        raw_rows = []
        for a in est_ar:
            arr = np.asarray(a, dtype=float).reshape(-1)
            raw_rows.append([arr[j] for j in range(arr.shape[0])])
        aligned_len = 0
        for r in raw_rows:
            if len(r) > aligned_len:
                aligned_len = len(r)

    if window_len is None:
        L = aligned_len
    else:
        L = int(window_len)
        if L < aligned_len:
            raise ValueError(
                f"window_len={L} is shorter than the longest estimation row ({aligned_len})"
            )

    rows = []
    for r in raw_rows:
        pad = L - len(r)  # missing days at the START (right alignment)
        row = [None] * pad
        for x in r:
            row.append(_to_float_or_none(x))
        rows.append(row)
    return rows, L


# --------------------------------------------------------------------------
# the computation, step by step
# --------------------------------------------------------------------------

def grank_details(est_ar, est_sigma, car, car_var, window_len=None):
    """Every intermediate quantity of the GRANK computation, as a dict.

    Same arguments as :func:`grank_reference`. The keys are
    ``N, L, T, kept`` (indices of the firms used), ``SAR`` (N x L, None =
    missing), ``SCAR``, ``S_SCAR``, ``SCAR_star``, ``T_i``, ``U`` (N x L
    estimation-day U's, None = missing), ``U0`` (the event-day U's),
    ``N_t`` (L counts), ``Ubar`` (L daily means, None where N_t = 0),
    ``Ubar0``, ``S_Ubar``, ``Z``. Whatever cannot be computed is nan.
    """
    rows, L = _estimation_rows(est_ar, window_len)
    n_in = len(rows)
    sig = [_to_float_or_none(x) for x in np.asarray(est_sigma, dtype=float).reshape(-1)]
    cars = [_to_float_or_none(x) for x in np.asarray(car, dtype=float).reshape(-1)]
    cvar = [_to_float_or_none(x) for x in np.asarray(car_var, dtype=float).reshape(-1)]
    if not (len(sig) == len(cars) == len(cvar) == n_in):
        raise ValueError(
            f"lengths differ: est_ar has {n_in} firms, est_sigma {len(sig)}, "
            f"car {len(cars)}, car_var {len(cvar)}"
        )

    # --- drop firms whose SCAR (or SAR scale) cannot be formed ------------
    kept = []
    for i in range(n_in):
        if sig[i] is None or cars[i] is None or cvar[i] is None:
            continue
        if sig[i] <= 0.0 or cvar[i] <= 0.0:
            continue
        kept.append(i)
    N = len(kept)
    T = L + 1

    out = {"N": N, "L": L, "T": T, "kept": kept}
    nan = float("nan")

    # --- step 1: SAR_it = AR_it / S_i --------------------------------------
    SAR = []
    for i in kept:
        row = []
        for t in range(L):
            ar = rows[i][t]
            row.append(None if ar is None else ar / sig[i])
        SAR.append(row)
    out["SAR"] = SAR

    # --- step 2: SCAR_i = CAR_i / sqrt(var_i) -------------------------------
    SCAR = []
    for i in kept:
        SCAR.append(cars[i] / math.sqrt(cvar[i]))
    out["SCAR"] = SCAR

    # --- step 3: S_SCAR (ddof = 1) and SCAR*_i = SCAR_i / S_SCAR -------------
    if N < 2:
        out.update(S_SCAR=nan, SCAR_star=None, T_i=None, U=None, U0=None,
                   N_t=None, Ubar=None, Ubar0=nan, S_Ubar=nan, Z=nan)
        return out
    total = 0.0
    for s in SCAR:
        total += s
    mean_scar = total / N
    ss = 0.0
    for s in SCAR:
        ss += (s - mean_scar) * (s - mean_scar)
    S_SCAR = math.sqrt(ss / (N - 1))
    out["S_SCAR"] = S_SCAR
    if S_SCAR == 0.0:
        out.update(SCAR_star=None, T_i=None, U=None, U0=None,
                   N_t=None, Ubar=None, Ubar0=nan, S_Ubar=nan, Z=nan)
        return out
    SCAR_star = []
    for s in SCAR:
        SCAR_star.append(s / S_SCAR)
    out["SCAR_star"] = SCAR_star

    # --- steps 4-5: GSAR, ranks within firm, U_it = rank/(T_i+1) - 1/2 ----
    U = []
    U0 = []
    T_i = []
    for k in range(N):
        # the firm's non-missing GSARs: its estimation SARs, then SCAR*_i
        days = []
        vals = []
        for t in range(L):
            if SAR[k][t] is not None:
                days.append(t)
                vals.append(SAR[k][t])
        days.append("event")
        vals.append(SCAR_star[k])
        ti = len(vals)  # = non-missing estimation days + 1
        T_i.append(ti)
        ranks = _average_ranks(vals)
        u_row = [None] * L
        u_event = None
        for pos in range(ti):
            u = ranks[pos] / (ti + 1) - 0.5
            if days[pos] == "event":
                u_event = u
            else:
                u_row[days[pos]] = u
        U.append(u_row)
        U0.append(u_event)
    out["T_i"] = T_i
    out["U"] = U
    out["U0"] = U0

    # --- step 6: Ubar_t over the N_t firms present on day t ----------------
    N_t = []
    Ubar = []
    for t in range(L):
        count = 0
        total = 0.0
        for k in range(N):
            if U[k][t] is not None:
                count += 1
                total += U[k][t]
        N_t.append(count)
        Ubar.append(total / count if count > 0 else None)
    total = 0.0
    for u in U0:
        total += u
    Ubar0 = total / N  # N_0 = N: every firm has the event-day GSAR
    out["N_t"] = N_t
    out["Ubar"] = Ubar
    out["Ubar0"] = Ubar0

    # --- step 7: S_Ubar = sqrt( (1/T) sum_t (N_t/N) Ubar_t^2 ), T = L + 1 ---
    acc = 0.0
    for t in range(L):
        if N_t[t] > 0:
            acc += (N_t[t] / N) * Ubar[t] * Ubar[t]
    acc += (N / N) * Ubar0 * Ubar0  # the event "day" t = 0
    S_Ubar = math.sqrt(acc / T)
    out["S_Ubar"] = S_Ubar

    # --- step 8: Z = Ubar_0 / S_Ubar ----------------------------------------
    out["Z"] = Ubar0 / S_Ubar if S_Ubar > 0.0 else nan
    return out


def grank_reference(est_ar, est_sigma, car, car_var, window_len=None) -> tuple[float, float]:
    """GRANK-T of Kolari and Pynnonen (2011): (t_grank, two-sided p-value).

    est_ar: list of 1-D numpy arrays, the estimation-window abnormal returns
        of each of N firms (may contain NaN for missing days; lengths may
        differ, in which case each array is taken to end on the last
        estimation day), or a 2-D (N, L) array aligned on the same L relative
        days with NaN gaps;
    est_sigma: (N,) each firm's estimation residual standard deviation used
        to standardize (S_i);
    car: (N,) each firm's CAR over the event window (a single day is a window
        of 1);
    car_var: (N,) the variance of each firm's CAR from its model (so
        SCAR_i = car_i / sqrt(car_var_i));
    window_len: L, the number of relative estimation days (default: the
        columns of a 2-D input, or the longest list entry); T = L + 1.

    Returns (t_grank, p) with p two-sided from Student t with T - 2 degrees
    of freedom.

    Formulas (KP 2011; equation numbers as cited in Stata ``estudy``):
        SAR_it  = AR_it / S_i
        SCAR_i  = CAR_i / sqrt(var_i)
        SCAR*_i = SCAR_i / S_SCAR,  S_SCAR = cross-sectional s.d., ddof = 1
                  (the BMP / KP 2010 eq. (7) s.d.)
        GSAR_it = SCAR*_i on t = 0 (the collapsed CAR window), SAR_it on
                  the estimation days
        U_it    = Rank(GSAR_it)/(T_i + 1) - 1/2                       (9)
                  average ranks for ties, plain double loop; T_i = the
                  firm's non-missing estimation days + 1
        Ubar_t  = (1/N_t) sum_i U_it over the N_t firms present       (15)
        S_Ubar  = sqrt( (1/T) sum_{t in T} (N_t/N) Ubar_t^2 ),
                  T = L + 1 time points (estimation days + t = 0)     (14)
        Z       = Ubar_0 / S_Ubar                                     (13)
        t_grank = Z sqrt( (T - 2) / (T - 1 - Z^2) ),  t(T - 2)        (12)

    Choices: ties -> average ranks (eq. 9); weights N_t/N with N = firms in
    the test (eq. 14); ddof(S_SCAR) = 1; T = L + 1 with L the common
    window length in eqs. (12)-(14) and the df, T_i + 1 per firm in eq. (9);
    firms without a usable SCAR are dropped; degenerate cases give
    (nan, nan). See the module docstring for details.
    """
    d = grank_details(est_ar, est_sigma, car, car_var, window_len)
    T = d["T"]
    Z = d["Z"]
    if not _is_finite(Z) or T < 3:
        return float("nan"), float("nan")
    denom = T - 1 - Z * Z
    if denom <= 0.0:
        return float("nan"), float("nan")
    t_grank = Z * math.sqrt((T - 2) / denom)
    p = 2.0 * float(stats.t.sf(abs(t_grank), T - 2))
    return float(t_grank), p


def grank_z_reference(est_ar, est_sigma, car, car_var, window_len=None) -> tuple[float, float]:
    """GRANK-Z: (Z_grank, two-sided p-value from the standard normal).

    Same arguments as :func:`grank_reference`.

        Var[U_i0]   = (T_i - 1) / (12 (T_i + 1))        (uniform rank on 1..T_i)
        Var[Ubar_0] = (1/N^2) sum_i (T_i - 1) / (12 (T_i + 1))
        Z_grank     = Ubar_0 / sqrt(Var[Ubar_0])  ~  N(0, 1)

    With no missing data (T_i = T = L + 1 for all firms) this is
    Z_grank = Ubar_0 * sqrt(12 N (T + 1) / (T - 1)). Ubar_0 and the U's are
    those of :func:`grank_reference` (same GSARs, same ranks). The p-value is
    erfc(|Z| / sqrt 2), the two-sided normal tail, written with ``math``.
    """
    d = grank_details(est_ar, est_sigma, car, car_var, window_len)
    Ubar0 = d["Ubar0"]
    if not _is_finite(Ubar0):
        return float("nan"), float("nan")
    N = d["N"]
    var_sum = 0.0
    for ti in d["T_i"]:
        var_sum += (ti - 1) / (12.0 * (ti + 1))
    var_ubar0 = var_sum / (N * N)
    if var_ubar0 <= 0.0:
        return float("nan"), float("nan")
    z = Ubar0 / math.sqrt(var_ubar0)
    p = math.erfc(abs(z) / math.sqrt(2.0))
    return float(z), float(p)


# --------------------------------------------------------------------------
# hand-checkable example
# --------------------------------------------------------------------------

HAND_EXAMPLE = {
    # 3 firms, L = 4 estimation days, no missing values; T = L + 1 = 5.
    # Every number is a dyadic fraction, so the floats are exact.
    "est_ar": [
        np.array([0.25, -1.0, 1.5, -0.5]),      # firm A, S_A = 0.5  -> SAR [ 1/2, -2,   3,   -1 ]
        np.array([-0.25, 0.375, 0.125, -0.125]),  # firm B, S_B = 0.25 -> SAR [ -1, 3/2,  1/2, -1/2]
        np.array([2.0, -3.0, -1.0, 4.0]),       # firm C, S_C = 2    -> SAR [  1, -3/2, -1/2,  2 ]
    ],
    "est_sigma": np.array([0.5, 0.25, 2.0]),
    "car": np.array([1.0, 2.0, 0.0]),
    "car_var": np.array([0.25, 0.25, 1.0]),
    # hand-computed results (see hand_example.__doc__)
    "t_grank": 3.0 * math.sqrt(3.0 / 7.0),     # = 3*sqrt(21)/7 = 1.96396101212393...
    "Z": 1.5,
    "z_grank": math.sqrt(6.0) / 2.0,           # = 1.224744871391589
    "df": 3,
}


def hand_example():
    """Inputs and the hand-computed t_grank of a 3-firm, 4-day example.

    Returns ``((est_ar, est_sigma, car, car_var), t_grank)``, so that
    ``grank_reference(*hand_example()[0])[0] == hand_example()[1]`` up to
    rounding. (``HAND_EXAMPLE`` also holds Z = 3/2 and Z_grank = sqrt(6)/2.)

    Data: N = 3 firms, L = 4 estimation days, no missing values, so
    T = L + 1 = 5, T_i = 5 for every firm, and U = rank/6 - 1/2 = (rank-3)/6.

    Step 1, SAR_it = AR_it / S_i:
        A (S = 1/2):  [ 1/4, -1,   3/2,  -1/2] / (1/2) = [ 1/2, -2,   3,   -1  ]
        B (S = 1/4):  [-1/4,  3/8, 1/8,  -1/8] / (1/4) = [-1,    3/2, 1/2, -1/2]
        C (S = 2):    [ 2,   -3,  -1,     4  ] / 2     = [ 1,   -3/2, -1/2, 2  ]

    Step 2, SCAR_i = CAR_i / sqrt(var_i):
        A: 1 / sqrt(1/4) = 2;   B: 2 / sqrt(1/4) = 4;   C: 0 / sqrt(1) = 0.

    Step 3, mean SCAR = (2 + 4 + 0)/3 = 2; deviations 0, 2, -2;
        S_SCAR = sqrt((0 + 4 + 4) / (3 - 1)) = sqrt(4) = 2   (ddof = 1);
        SCAR* = [2/2, 4/2, 0/2] = [1, 2, 0].

    Step 4-5, rank each firm's 5 GSARs (days 1..4, then event t = 0):
        A: values [1/2, -2, 3, -1 | 1]     sorted -2 < -1 < 1/2 < 1 < 3
           ranks  [3,   1,  5,  2 | 4]     U = [0, -2/6, 2/6, -1/6 | 1/6]
        B: values [-1, 3/2, 1/2, -1/2 | 2] sorted -1 < -1/2 < 1/2 < 3/2 < 2
           ranks  [1,  4,   3,   2   | 5]  U = [-2/6, 1/6, 0, -1/6 | 2/6]
        C: values [1, -3/2, -1/2, 2 | 0]   sorted -3/2 < -1/2 < 0 < 1 < 2
           ranks  [4, 1,    2,    5 | 3]   U = [1/6, -2/6, -1/6, 2/6 | 0]

    Step 6, Ubar_t = (sum of the three U's)/3 (all N_t = 3):
        day 1: (0 - 2 + 1)/6 / 3 = -1/18
        day 2: (-2 + 1 - 2)/6 / 3 = -3/18 = -1/6
        day 3: (2 + 0 - 1)/6 / 3 =  1/18
        day 4: (-1 - 1 + 2)/6 / 3 =  0
        t = 0: (1 + 2 + 0)/6 / 3 =  3/18 =  1/6 = Ubar_0
        (they sum to 0, as they must with no missing data)

    Step 7, S_Ubar^2 = (1/T) sum_t (N_t/N) Ubar_t^2, all weights 3/3 = 1:
        = (1/5) * (1 + 9 + 1 + 0 + 9)/324 = (1/5) * (20/324) = 4/324 = 1/81,
        S_Ubar = 1/9.

    Step 8, Z = Ubar_0 / S_Ubar = (1/6) / (1/9) = 9/6 = 3/2.

    Step 9, t_grank = Z sqrt((T-2)/(T-1-Z^2)) = (3/2) sqrt(3 / (4 - 9/4))
        = (3/2) sqrt(3 / (7/4)) = (3/2) sqrt(12/7) = 3 sqrt(3/7)
        = 3 sqrt(21)/7 = 1.96396101212393..., df = T - 2 = 3,
        two-sided p = 2 * P(t_3 > 1.9640) = 0.1442 (approximately).

    GRANK-Z: Var[Ubar_0] = (T-1)/(12 N (T+1)) = 4/(12*3*6) = 1/54, so
        Z_grank = (1/6) * sqrt(54) = (1/6) * 3 sqrt(6) = sqrt(6)/2
        = 1.2247448713915890..., two-sided normal p = 0.2207 (approximately).
    """
    ex = HAND_EXAMPLE
    args = (
        [a.copy() for a in ex["est_ar"]],
        ex["est_sigma"].copy(),
        ex["car"].copy(),
        ex["car_var"].copy(),
    )
    return args, ex["t_grank"]
