"""Trading news on minute bars: fill after the news plus a latency, exit after a horizon
or at the close (GitHub issue 22).

=======================  =============================================================
module                   what
=======================  =============================================================
``orders``               :class:`IntradayExecution` (latency, exit), the decision at
                         the news, the fill rule, exits: :func:`intraday_orders`
``run``                  :func:`run_intraday`: vectorbt fills, :class:`IntradayRun`
``audit``                :func:`intraday_audit`: decisions redone on data cut at the
                         news plus latency
=======================  =============================================================

>>> from backtest.intraday.trading import IntradayExecution, run_intraday
>>> run = run_intraday(strategy, ctx, bars, IntradayExecution.parse("60s", "30m"))  # doctest: +SKIP
"""

from __future__ import annotations

from backtest.intraday.trading.audit import intraday_audit
from backtest.intraday.trading.orders import IntradayExecution, intraday_orders
from backtest.intraday.trading.run import IntradayRun, run_intraday

__all__ = ["IntradayExecution", "IntradayRun", "intraday_audit", "intraday_orders",
           "run_intraday"]
