"""Chains: baskets of linked tickers ("the Google chain vs the OpenAI chain").

>>> from backtest.chains import compare_chains
>>> from events.chains import load_chain
>>> from backtest.data import PriceStore
>>> chains = [load_chain("google"), load_chain("openai")]          # bundled chains
>>> panel = PriceStore().load([*{t for c in chains for t in c.tickers}, "SPY"])
>>> compare_chains(chains, panel, "SPY", "2025-04-28", "2026-04-28").table  # doctest: +SKIP

``index`` builds a chain's daily index and each member's contribution, ``compare``
puts chains and their spread side by side (alpha and beta with Newey-West errors,
the share of the move on news days), ``portfolio`` studies a chain event as one
portfolio security next to its members' cross-section.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.files import lazy_names

if TYPE_CHECKING:
    from backtest.chains.compare import (ChainComparison, compare_chains, event_days,
                                         max_drawdown)
    from backtest.chains.index import ChainIndex, chain_index
    from backtest.chains.portfolio import chain_event_study, portfolio_returns

__all__ = ["ChainComparison", "ChainIndex", "chain_event_study", "chain_index",
           "compare_chains", "event_days", "max_drawdown", "portfolio_returns"]

# The public names load on first use (PEP 562): ``portfolio`` runs event studies (the
# engine), ``compare`` the calendar-time regressions; each command needs one of them.
_SOURCES = {"ChainComparison": "compare", "compare_chains": "compare", "event_days": "compare",
            "max_drawdown": "compare", "ChainIndex": "index", "chain_index": "index",
            "chain_event_study": "portfolio", "portfolio_returns": "portfolio"}


__getattr__, __dir__ = lazy_names(__name__, _SOURCES, globals())
