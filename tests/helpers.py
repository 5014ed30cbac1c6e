"""Small helpers shared by the tests."""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"  # input files of the tests (bad inputs, plug-ins, recordings)
ROOT = TESTS.parent  # the project folder
UNIVERSE_DIR = ROOT.parent / "shared" / "data" / "universe"  # not shipped; tests skip without


def backtest_command() -> list[str]:
    """The console script beside this interpreter, else ``python -m backtest``."""
    script = Path(sys.executable).parent / "backtest"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "backtest"]


def write_file(folder, name: str, text: str):
    """``folder / name`` with ``text`` in it (a test's input file); returns the path."""
    path = folder / name
    path.write_text(text)
    return path
