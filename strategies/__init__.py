"""News strategies as plug-ins.

``get_strategy(name, **params)`` builds one by name; ``discover()`` lists the
built-ins, a project's ``strategies/`` folder, entry points and broken plug-ins.
"""

from strategies.base import (
                             INTENT_COLUMNS,
                             MarketData,
                             Strategy,
                             StrategyContext,
                             intents_frame,
                             param,
)
from strategies.news import (
                             BUILTINS,
                             FadeTheReaction,
                             LongOnGoodNews,
                             NewsParams,
                             NewsStrategy,
                             PairTrade,
                             ShortPartnersOnBadNews,
)
from strategies.registry import discover, get_strategy

__all__ = ["BUILTINS", "INTENT_COLUMNS", "FadeTheReaction", "LongOnGoodNews", "MarketData",
           "NewsParams", "NewsStrategy", "PairTrade", "ShortPartnersOnBadNews", "Strategy",
           "StrategyContext", "discover", "get_strategy", "intents_frame", "param"]
