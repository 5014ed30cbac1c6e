"""News strategies as plug-ins.

``get_strategy(name, **params)`` builds one by name; ``discover()`` lists the
built-ins, a project's ``strategies/`` folder, entry points and broken plug-ins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{_SOURCES[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SOURCES})
