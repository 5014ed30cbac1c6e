"""Walk-forward by events: choose on the events before, score on the next ones.

The distinct news days, in time order, are cut into K + 1 runs of consecutive days
as equal in length as possible. For fold k = 1..K the combination with the best mean
event return on every event of runs 0..k-1 (an expanding window; ties go to the
lowest-numbered combination) is scored on the events of run k. The out-of-sample
record is the chosen combinations' returns on the events of runs 1..K, a sequence no
choice ever saw; it is set beside the in-sample record, the returns on the same
events of the combination that is best over all events (chosen with hindsight).
This is the event-time form of the walk-forward analysis of Pardo (2008), "The
evaluation and optimization of trading strategies", ch. 11.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from backtest.inference.per_event import EventInference, event_inference
from events.errors import ConfigError


@dataclass(frozen=True)
class WalkForward:
    """``folds``: one row per fold (train and test news days, chosen combination, its
    training and test mean event return, the in-sample best's test mean);
    ``out_of_sample`` / ``in_sample``: inference on the test events' returns of the
    chosen combinations / of the in-sample best; ``best``: the in-sample best's number."""

    folds: pd.DataFrame
    out_of_sample: EventInference
    in_sample: EventInference
    best: int
    returns: np.ndarray = field(repr=False)  # out-of-sample event returns, in time order

    def as_metrics(self) -> dict:
        o, i = self.out_of_sample, self.in_sample
        return {"wf_folds": len(self.folds), "wf_oos_mean": o.mean, "wf_oos_t": o.t,
                "wf_oos_p": o.p, "wf_oos_events": o.n_events, "wf_oos_days": o.n_days,
                "wf_is_mean": i.mean}


def walk_forward(event_returns: np.ndarray, days: np.ndarray, folds: int,
                 combos: list | None = None) -> WalkForward:
    """Walk-forward of choosing by mean event return over ``folds`` folds.

    ``event_returns`` is (events, N); ``days`` the news day of each event; ``combos`` the
    combinations' labels (default 0..N-1). Refused (``ConfigError``) unless
    1 <= folds < the number of news days.
    """
    r = np.asarray(event_returns, dtype="float64")
    days = np.asarray(days)
    uniq = np.unique(days)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
        raise ConfigError(f"walk-forward needs a positive number of folds, got {folds!r}",
                          field="walk_forward")
    if folds + 1 > len(uniq):
        raise ConfigError(f"walk-forward with {folds} folds needs at least {folds + 1} news "
                          f"days, there are {len(uniq)}", field="walk_forward")
    labels = list(range(r.shape[1])) if combos is None else list(combos)
    run_of_day = np.concatenate([np.full(len(p), k) for k, p in
                                 enumerate(np.array_split(np.arange(len(uniq)), folds + 1))])
    run = run_of_day[np.searchsorted(uniq, days)]
    best = int(np.argmax(r.mean(axis=0)))
    rows, chosen_returns, test_mask = [], [], np.zeros(len(r), dtype=bool)
    order = np.argsort(days, kind="stable")
    for k in range(1, folds + 1):
        train, test = run < k, run == k
        pick = int(np.argmax(r[train].mean(axis=0)))
        test_mask |= test
        rows.append({"fold": k, "train_from": _day(days[train].min()),
                     "train_to": _day(days[train].max()), "test_from": _day(days[test].min()),
                     "test_to": _day(days[test].max()), "train_events": int(train.sum()),
                     "test_events": int(test.sum()), "chosen": labels[pick],
                     "train_mean": float(r[train, pick].mean()),
                     "test_mean": float(r[test, pick].mean()),
                     "in_sample_best_test_mean": float(r[test, best].mean())})
        chosen_returns.append(np.where(test, r[:, pick], np.nan))
    oos = np.nansum(np.vstack(chosen_returns), axis=0)
    idx = order[test_mask[order]]
    return WalkForward(pd.DataFrame(rows), event_inference(oos[idx], days[idx]),
                       event_inference(r[idx, best], days[idx]), labels[best], oos[idx])


def _day(value) -> str:
    return str(pd.Timestamp(value).date())
