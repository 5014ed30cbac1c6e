"""The trust sentences built from a study's tables, checked against counts by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.app.story import multiple_testing_notes, terminal_lines


def test_multiple_testing_note_counts_raw_holm_and_bh():
    # four headline cells in the family (p_holm set), one row outside it (NaN)
    tests = pd.DataFrame({"p_value": [0.001, 0.02, 0.04, 0.30, 0.01],
                          "p_holm": [0.004, 0.06, 0.08, 0.30, np.nan],
                          "p_bh": [0.004, 0.04, 0.053, 0.30, np.nan]})
    [note] = multiple_testing_notes(tests)
    assert note == ("3 of the 4 window x group tests have p < 0.05; corrected for testing all 4, "
                    "1 survives Holm and 2 Benjamini-Hochberg at 5%.")


def test_no_note_without_a_significant_cell_or_a_family():
    none = pd.DataFrame({"p_value": [0.2, 0.5], "p_holm": [0.4, 0.5], "p_bh": [0.4, 0.5]})
    assert multiple_testing_notes(none) == []
    one = pd.DataFrame({"p_value": [0.01], "p_holm": [0.01], "p_bh": [0.01]})
    assert multiple_testing_notes(one) == []


def test_terminal_shows_the_chain_as_one_security():
    story = {"focus": {"event_id": "e", "label": "bearish", "score": 65.0, "published": "p",
                       "day0": "d", "first_fill": "f"},
             "window": [0, 1], "reaction": [], "groups": [], "pnl": None, "trust": [],
             "chains": [{"chain": "openai", "members": 6, "portfolio_car": -0.0064,
                         "portfolio_t": -0.24, "portfolio_p": 0.812,
                         "members_label": "KP-adj. BMP t", "members_value": -0.63,
                         "members_p": 0.557}]}
    lines = terminal_lines(story)
    assert lines[1] == ("  openai chain as one security (6 members): CAR(+0,+1) -0.64% (t -0.24, "
                        "p 0.812); its members as pairs: KP-adj. BMP t -0.63 (p 0.557)")
