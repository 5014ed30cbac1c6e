"""News strategies as plug-ins. ``get_strategy(name, **params)`` builds one by name."""

from __future__ import annotations

from strategies.base import INTENT_COLUMNS, Strategy, StrategyContext, intents_frame
from strategies.short_partners import ShortPartnersOnBadNews

BUILTINS: dict[str, type[Strategy]] = {cls.name: cls for cls in (ShortPartnersOnBadNews,)}


def get_strategy(name: str, **params) -> Strategy:
    """Instantiate a built-in strategy by name; unknown names are an :class:`InputError`."""
    from events.errors import InputError

    if name not in BUILTINS:
        raise InputError(f"unknown strategy {name!r} (available: {', '.join(sorted(BUILTINS))})",
                         field="strategy")
    return BUILTINS[name](**params)


__all__ = ["BUILTINS", "INTENT_COLUMNS", "ShortPartnersOnBadNews", "Strategy",
           "StrategyContext", "get_strategy", "intents_frame"]
