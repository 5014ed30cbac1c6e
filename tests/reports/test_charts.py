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
