"""The charts' styles: every group of a study gets a line of its own."""

from __future__ import annotations

import itertools

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from events.model import LABELS, ROLES, UNIVERSE_ROLE
from reports import charts


@pytest.mark.parametrize("label", LABELS)
def test_each_role_of_a_label_has_its_own_colour_and_line(label):
    """Within one sentiment label, no two roles (the universe study's "universe" among
    them) share a colour or a line style: "bearish partner" and "bearish universe" are
    told apart in a universe study's CAAR chart."""
    styles = [charts._style_of(f"{label} {role}") for role in (*ROLES, UNIVERSE_ROLE)]
    colours = [c for c, _ in styles]
    lines = [str(s) for _, s in styles]
    assert len(set(colours)) == len(colours) and len(set(lines)) == len(lines)


def test_caar_chart_draws_each_group_in_its_style():
    """A universe study's groups: each drawn line has its group's colour and dashes, and
    the partner and universe lines of a label differ in both."""
    days = np.arange(-2, 3)
    groups = ["bearish partner", "bearish universe", "bullish partner", "bullish universe"]
    caar = pd.concat([pd.DataFrame({"group": g, "rel_day": days, "caar": 0.01 * k * days,
                                    "caar_lo": -0.02, "caar_hi": 0.02, "n": 50,
                                    "signed": False}) for k, g in enumerate(groups)])
    fig = charts.caar_chart(caar)
    drawn = {ln.get_label().split(" (N=")[0]: ln for ln in fig.axes[0].get_lines()
             if not ln.get_label().startswith("_")}
    assert sorted(drawn) == sorted(groups)
    for g, ln in drawn.items():
        colour, _ = charts._style_of(g)
        assert mcolors.same_color(ln.get_color(), colour)
    for a, b in itertools.combinations(groups, 2):
        if a.split()[0] == b.split()[0]:
            la, lb = drawn[a], drawn[b]
            assert not mcolors.same_color(la.get_color(), lb.get_color())
            assert la._unscaled_dash_pattern != lb._unscaled_dash_pattern


def _notes(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_caar_chart_names_the_groups_it_leaves_out():
    """A group under ``min_n`` pairs is not drawn, and the chart says which one and why,
    so the reader of the report's table (which lists it) is not left guessing."""
    days = np.arange(-2, 3)
    rows = [("bearish partner", 40), ("bullish subject", 2), ("neutral competitor", 1)]
    caar = pd.concat([pd.DataFrame({"group": g, "rel_day": days, "caar": 0.0, "caar_lo": -0.01,
                                    "caar_hi": 0.01, "n": n, "signed": False})
                      for g, n in rows])
    ax = charts.caar_chart(caar).axes[0]
    drawn = [ln.get_label() for ln in ax.get_lines() if not ln.get_label().startswith("_")]
    assert drawn == ["bearish partner (N=40)"]
    assert _notes(ax) == ["not drawn, under 3 pairs: bullish subject (N=2), "
                          "neutral competitor (N=1)"]
    # every group drawn: no note at all
    full = charts.caar_chart(caar[caar["group"] == "bearish partner"]).axes[0]
    assert _notes(full) == []


def test_left_out_note_names_three_then_counts():
    groups = [f"g{k} (N=1)" for k in range(5)]
    assert charts._left_out_note(groups, 3) == ("not drawn, under 3 pairs: g0 (N=1), g1 (N=1), "
                                                "g2 (N=1), and 2 more")
