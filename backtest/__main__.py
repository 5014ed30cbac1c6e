"""``python -m backtest``: the ``backtest`` command.

``python -m`` puts the current folder first on ``sys.path``; a user's folders named
``strategies`` or ``reports`` there must not stand in for this package's own, so the
current folder is taken off the path before anything else is imported.
"""

import os
import sys

if sys.path and os.path.abspath(sys.path[0] or ".") == os.getcwd():
    sys.path.pop(0)

from backtest.app.cli import run  # noqa: E402

run()
