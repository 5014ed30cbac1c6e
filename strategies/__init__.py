"""News strategies as plug-ins.

``get_strategy(name, **params)`` builds one by name; ``discover()`` lists the
built-ins, a project's ``strategies/`` folder, entry points and broken plug-ins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

if TYPE_CHECKING:
    from strategies.base import (INTENT_COLUMNS, MarketData, Strategy, StrategyContext,
                                 intents_frame, param)
    from strategies.news import (BUILTINS, FadeTheReaction, LongOnGoodNews, NewsParams,
                                 NewsStrategy, PairTrade, ShortPartnersOnBadNews)
    from strategies.registry import discover, get_strategy

__all__ = ["BUILTINS", "INTENT_COLUMNS", "FadeTheReaction", "LongOnGoodNews", "MarketData",
           "NewsParams", "NewsStrategy", "PairTrade", "ShortPartnersOnBadNews", "Strategy",
           "StrategyContext", "discover", "get_strategy", "intents_frame", "param"]

# The public names load on first use (PEP 562): the simulator needs ``strategies.base``
# only, not the built-in strategies and the plug-in registry.
_SOURCES = {
    **dict.fromkeys(("INTENT_COLUMNS", "MarketData", "Strategy", "StrategyContext",
                     "intents_frame", "param"), "base"),
    **dict.fromkeys(("BUILTINS", "FadeTheReaction", "LongOnGoodNews", "NewsParams",
                     "NewsStrategy", "PairTrade", "ShortPartnersOnBadNews"), "news"),
    **dict.fromkeys(("discover", "get_strategy"), "registry"),
}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
