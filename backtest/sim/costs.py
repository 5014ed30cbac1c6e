"""Trading costs: fees, slippage and short borrow, and the borrow charge formula."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from events.errors import ConfigError

DEFAULT_INIT_CASH = 100_000.0  # starting cash of a simulated portfolio


@dataclass(frozen=True)
class Costs:
    """Trading costs: per fill (fees, fixed fees, slippage) and per night short (borrow)."""

    fees: float = 0.0005  # 5 bp of notional per fill
    fixed_fees: float = 0.0  # currency per fill
    slippage: float = 0.0005  # 5 bp of price, against us
    borrow_rate: float = 0.0  # annual rate on short notional (ACT/360)
    borrow_overrides: tuple[tuple[str, float], ...] = ()  # (ticker, annual rate)

    def __post_init__(self):
        object.__setattr__(self, "borrow_overrides",
                           tuple(sorted((str(t).upper(), float(r))
                                        for t, r in dict(self.borrow_overrides).items())))
        for name in ("fees", "fixed_fees", "slippage", "borrow_rate"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"must be a non-negative number, got {value!r}", field=name)
        for ticker, rate in self.borrow_overrides:
            if not np.isfinite(rate) or rate < 0:
                raise ConfigError(f"borrow rate of {ticker} must be non-negative, got {rate}",
                                  field="borrow_overrides")

    @classmethod
    def from_mapping(cls, c: dict) -> "Costs":
        """From an experiment file's ``costs`` (``borrow`` maps tickers to rates); a key
        left out keeps the default above."""
        given = {k: c[k] for k in ("fees", "fixed_fees", "slippage", "borrow_rate") if k in c}
        return cls(**given, borrow_overrides=tuple((c.get("borrow") or {}).items()))

    def borrow_of(self, ticker: str) -> float:
        return dict(self.borrow_overrides).get(ticker, self.borrow_rate)


def check_init_cash(init_cash: float) -> float:
    """The starting cash, refused unless it is a positive finite amount."""
    if isinstance(init_cash, bool) or not isinstance(init_cash, (int, float)) \
            or not np.isfinite(init_cash) or init_cash <= 0:
        raise ConfigError(f"must be a positive amount, got {init_cash!r}", field="init_cash")
    return float(init_cash)


def borrow_charge(short_value: np.ndarray, rates: np.ndarray, nights: np.ndarray) -> np.ndarray:
    """Borrow paid at each session's close on shorts held overnight, ACT/360:
    ``short value x annual rate x calendar days to the next session / 360``
    (a weekend costs three days). ``short_value`` is (sessions, columns), ``rates``
    per column, ``nights`` per session."""
    return short_value * rates[None, :] * nights[:, None] / 360.0
