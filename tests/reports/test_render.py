"""Rendering helpers of the report (reports/render.py)."""

from __future__ import annotations

import base64
import io

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from reports import charts, render


def _caar_figure():
    days = np.arange(-5, 11)
    caar = pd.concat([pd.DataFrame({"group": g, "rel_day": days, "caar": 0.004 * k * days,
                                    "caar_lo": 0.004 * k * days - 0.01,
                                    "caar_hi": 0.004 * k * days + 0.01, "n": 40,
                                    "signed": False})
                      for k, g in enumerate(["bearish partner", "bullish competitor"], 1)])
    return charts.caar_chart(caar)


def _heatmap_figure():
    fig, ax = plt.subplots(figsize=(10, 4.4), layout="constrained")
    grid = np.arange(48, dtype=float).reshape(6, 8) / 100 - 0.2
    image = ax.imshow(grid, cmap="RdBu", aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, f"{v:+.0%}", ha="center", va="center", fontsize=7)
    ax.set_yticks(range(6), [f"TICK{i}" for i in range(6)])
    ax.set_title("a title <b>& text</b> $not math$".replace("$", r"\$"))
    fig.colorbar(image, ax=ax, label="AR")
    return fig


@pytest.mark.parametrize("make", [_caar_figure, _heatmap_figure])
def test_png_is_the_file_savefig_writes(make, tmp_path):
    """One draw on the canvas gives savefig's file byte for byte (savefig draws a
    constrained-layout figure twice); the file written is the one returned for embedding."""
    reference = io.BytesIO()
    fig = make()
    fig.savefig(reference, format="png", dpi=render.DPI)
    plt.close(fig)
    path = tmp_path / "chart.png"
    encoded = render._png(make(), path)
    assert path.read_bytes() == reference.getvalue()
    assert base64.b64decode(encoded) == reference.getvalue()
    assert reference.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
