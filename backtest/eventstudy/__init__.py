"""The event study: abnormal returns, their tests and groups, for every (event, ticker) pair.

=======================  =============================================================
module                   what
=======================  =============================================================
``config``               :class:`StudyConfig`, every setting and default
``pairs``                the pairs of a calendar, their positions, groups and clusters
``models``               one class per normal-return model, in the registry ``MODELS``
``stats``                test statistics, one function each, and the table ``STATISTICS``
``kernels``              compiled per-pair loops (numba) of the models' formulas
``blocks``               one block of pairs: fit, measure, reduce to sums
``engine``               :func:`run_study`: pairs -> blocks -> tidy tables
``result``               :class:`StudyResult` with ``summary()`` and ``write()``
=======================  =============================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

if TYPE_CHECKING:
    from backtest.eventstudy.config import DEFAULT_CAR_WINDOWS, StudyConfig
    from backtest.eventstudy.engine import BLOCK, run_study
    from backtest.eventstudy.models import MODELS, get_model
    from backtest.eventstudy.result import StudyResult
    from backtest.eventstudy.stats import STATISTICS

__all__ = ["BLOCK", "DEFAULT_CAR_WINDOWS", "MODELS", "STATISTICS", "StudyConfig", "StudyResult",
           "get_model", "run_study"]

# The public names load on first use (PEP 562): the command line's parser imports
# ``config`` and ``models`` alone, and must not pay for the engine's scipy.stats and numba.
_SOURCES = {"DEFAULT_CAR_WINDOWS": "config", "StudyConfig": "config", "BLOCK": "engine",
            "run_study": "engine", "MODELS": "models", "get_model": "models",
            "StudyResult": "result", "STATISTICS": "stats"}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
