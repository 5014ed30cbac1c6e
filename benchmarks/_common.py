"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

MEASURED = ("backtest/sim/simulate.py", "backtest/sim/sweeps.py", "backtest/sim/metrics.py",
            "strategies/news.py", "strategies/base.py")


def code_version(files: tuple[str, ...] = MEASURED) -> str:
    """Short SHA-256 of the package files whose speed is measured (they may change)."""
    root = Path(__file__).resolve().parents[1]
    return "; ".join(f"{f} {hashlib.sha256((root / f).read_bytes()).hexdigest()[:12]}"
                     for f in files if (root / f).is_file())
