"""A user strategy for tests/test_strategies_api.py: copied into a temporary project's
``strategies/`` folder, found by ``strategies.discover`` and run by ``backtest run``."""

from dataclasses import dataclass

from strategies.base import Strategy, intents_frame, param


class MyStrat(Strategy):
    """Short the first linked ticker of each event with the chosen label."""

    name = "my_strat"

    @dataclass(frozen=True)
    class Params:
        hold: int = param(3, sweep=(1, 3, 5), help="sessions held")
        weight: float = param(0.25, sweep=(0.1, 0.25), help="fraction of equity per trade")
        label: str = param("bearish", help="sentiment label traded")

    def intents(self, ctx):
        rows = []
        for event in ctx.calendar:
            if event.sentiment.label != self.params.label:
                continue
            timing = ctx.timings[event.id]
            exit_ = ctx.session_after(timing.day0, self.params.hold)
            if exit_ is None:
                continue
            rows.append(dict(event_id=event.id, ticker=event.tickers[0].ticker, direction=-1,
                             weight=self.params.weight, entry_session=timing.day0,
                             entry_at=timing.first_fill, exit_session=exit_,
                             exit_at=timing.first_fill))
        return intents_frame(rows)
