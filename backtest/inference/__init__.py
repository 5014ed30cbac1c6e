"""Would it really have paid? Inference on a strategy's results, and on a sweep's best.

=======================  =============================================================
module                   what
=======================  =============================================================
``per_event``            per-event returns, their mean with a t clustered by news day and
                         a bootstrap interval that resamples news days
``calendar_time``        alpha and beta of the daily returns, Newey-West errors
``sharpe``               probabilistic and deflated Sharpe ratios
``overfitting``          probability of backtest overfitting (CSCV over blocks of events)
``reality``              White's reality check / Hansen's SPA: does the best beat not trading
``walkforward``          choose on earlier events, score on the next ones
=======================  =============================================================

Every function takes plain arrays or frames (returns, event returns, news days) and
returns a small result; nothing here runs a simulation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

if TYPE_CHECKING:
    from backtest.inference.calendar_time import CalendarTime, calendar_time_alpha
    from backtest.inference.overfitting import Overfitting, probability_of_overfitting
    from backtest.inference.per_event import EventInference, event_inference
    from backtest.inference.reality import RealityCheck, reality_check
    from backtest.inference.sharpe import deflated_sharpe, probabilistic_sharpe
    from backtest.inference.walkforward import walk_forward

__all__ = ["CalendarTime", "EventInference", "Overfitting", "RealityCheck",
           "calendar_time_alpha", "deflated_sharpe", "event_inference",
           "probabilistic_sharpe", "probability_of_overfitting", "reality_check",
           "walk_forward"]

# The public names load on first use (PEP 562): a strategy run needs two of these
# modules, a sweep the others.
_SOURCES = {"CalendarTime": "calendar_time", "calendar_time_alpha": "calendar_time",
            "EventInference": "per_event", "event_inference": "per_event",
            "Overfitting": "overfitting", "probability_of_overfitting": "overfitting",
            "RealityCheck": "reality", "reality_check": "reality",
            "deflated_sharpe": "sharpe", "probabilistic_sharpe": "sharpe",
            "walk_forward": "walkforward"}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
