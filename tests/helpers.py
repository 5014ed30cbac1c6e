"""Small helpers shared by the CLI tests."""

from __future__ import annotations

import sys
from pathlib import Path


def backtest_command() -> list[str]:
    """The console script beside this interpreter, else ``python -m backtest.cli``."""
    script = Path(sys.executable).parent / "backtest"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "backtest.cli"]
