"""Walk-forward by events on a hand-made case."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.inference import walk_forward
from events.errors import ConfigError


def test_hand_made_walk_forward():
    """Six news days, two combinations, two folds: runs of days {1,2}, {3,4}, {5,6}.

    Fold 1 trains on days 1-2: A averages (4 + 0) / 2 = 2, B (1 + 1) / 2 = 1: A chosen,
    tested on days 3-4: A (-2 - 2) / 2 = -2. Fold 2 trains on days 1-4: A 0, B 1: B chosen,
    tested on days 5-6: B (3 + 1) / 2 = 2. Out of sample: -2, -2, 3, 1 (mean 0). Over all
    six days A averages 1/3, B 5/3: B is the in-sample best; on days 3-6 it makes 1, 1, 3, 1.
    """
    days = np.array([1, 2, 3, 4, 5, 6])
    a = np.array([4, 0, -2, -2, 2, 0], dtype=float)
    b = np.array([1, 1, 1, 1, 3, 1], dtype=float)
    wf = walk_forward(np.column_stack([a, b]), days, 2, combos=["A", "B"])
    f = wf.folds
    assert f["chosen"].tolist() == ["A", "B"]
    assert f["train_mean"].tolist() == [2.0, 1.0]
    assert f["test_mean"].tolist() == [-2.0, 2.0]
    assert f["in_sample_best_test_mean"].tolist() == [1.0, 2.0]
    assert f["train_events"].tolist() == [2, 4] and f["test_events"].tolist() == [2, 2]
    assert wf.best == "B"
    assert wf.returns.tolist() == [-2.0, -2.0, 3.0, 1.0]
    assert wf.out_of_sample.mean == pytest.approx(0.0)
    assert wf.in_sample.mean == pytest.approx(1.5)
    assert wf.out_of_sample.n_days == 4


def test_events_are_taken_in_time_order_whatever_the_input_order():
    days = np.array([6, 5, 4, 3, 2, 1])
    a = np.array([0, 2, -2, -2, 0, 4], dtype=float)
    b = np.array([1, 3, 1, 1, 1, 1], dtype=float)
    wf = walk_forward(np.column_stack([a, b]), days, 2)
    assert wf.folds["chosen"].tolist() == [0, 1]
    assert wf.returns.tolist() == [-2.0, -2.0, 3.0, 1.0]


def test_fold_count_refused_when_the_news_days_do_not_allow_it():
    r = np.zeros((3, 2))
    with pytest.raises(ConfigError, match="at least 4 news days"):
        walk_forward(r, np.array([1, 2, 3]), 3)
    with pytest.raises(ConfigError, match="positive"):
        walk_forward(r, np.array([1, 2, 3]), 0)
