"""A strategy loaded by ``module:Class`` path in tests/test_strategies_api.py (the module's
folder is put on PYTHONPATH / sys.path by the test)."""

from dataclasses import dataclass

from strategies.base import Strategy, intents_frame, param


class PathStrat(Strategy):
    """Buy the first linked ticker of each bullish event for ``hold`` sessions."""

    name = "path_strat"

    @dataclass(frozen=True)
    class Params:
        hold: int = param(2, sweep=(1, 2), help="sessions held")

    def intents(self, ctx):
        rows = []
        for event in ctx.calendar:
            if event.sentiment.label != "bullish":
                continue
            timing = ctx.timings[event.id]
            rows.append(dict(event_id=event.id, ticker=event.tickers[0].ticker, direction=1,
                             weight=0.2, entry_session=timing.day0, entry_at=timing.first_fill,
                             exit_session=ctx.session_after(timing.day0, self.params.hold),
                             exit_at=timing.first_fill))
        return intents_frame(rows)


class NotAStrategy:
    """Used to check that a ``module:Class`` path to a non-Strategy is refused."""
