"""``python -m backtest``: the ``backtest`` command."""

import sys

from backtest.app.cli import main

sys.exit(main())
