"""A chain event as one portfolio "security", next to its members' cross-section.

When an event links a whole chain (``{chain: openai, role, direction}``), every member
reacts on the same day, so the members' ARs are cross-correlated and a cross-sectional
test that assumes them independent over-rejects. Two answers are shown side by side:

* the **portfolio approach**: the members are held as one portfolio with the chain's
  weights on day 0, ``R_p,t = sum_i w_i R_i,t`` (daily rebalanced, so fixed weights),
  and the portfolio is studied as a single security: its own market-model fit, CAR
  and time-series t, ``CAR_p / sqrt(var)`` from its residual variance, which holds the
  members' covariances (Campbell, Lo and MacKinlay 1997, Sec. 4.5; exact when every
  member reacts on the same day, as here). For OLS with the same estimation days the
  portfolio's AR is ``sum_i w_i AR_i``;
* the members as separate pairs of that one event, with the study's headline
  cross-sectional test (the Kolari and Pynnonen 2010 adjusted BMP when their windows
  overlap, which they do: one headline).

A portfolio day is missing where any member's return is (a member not yet listed
leaves the portfolio's estimation window shorter, and the study's rules for short
estimation windows apply, with the reason in ``skipped``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from backtest.eventstudy import StudyConfig, run_study, stats
from events.model import Calendar, LinkedTicker

COLUMNS = ["event_id", "chain", "role", "direction", "window_start", "window_end",
           "security", "members", "portfolio_car", "portfolio_t", "portfolio_p",
           "members_n", "members_mean_car", "members_statistic", "members_test",
           "members_value", "members_p", "as_expected"]


def chain_event_study(calendar: Calendar, panel: PricePanel, config: StudyConfig,
                      factor_data: pd.DataFrame | None = None, map_blocks=None
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For each (event, linked chain) and CAR window: the chain as one security and its
    members' cross-sectional test (see the module docstring). Returns the table and the
    chain securities skipped, with reasons (the members' are the main study's). Empty
    when no event links a chain."""
    links = [(event, link) for event in calendar for link in event.chains]
    # A chain held as one security has returns but no share volume, and its members'
    # squared ARs do not average to the portfolio's: volume and volatility studies read
    # its members as pairs only.
    if not links or config.measure != "return":
        return pd.DataFrame(columns=COLUMNS), pd.DataFrame()
    # the chain table reads the CAR windows only: no tests of single event days
    kwargs = {"single_days": False, **({} if map_blocks is None else {"map_blocks": map_blocks})}
    names: dict[tuple, str] = {}
    series: dict[str, pd.Series] = {}
    port_events, member_events, keys = [], [], []
    for event, link in links:
        weights = tuple((t, w) for t, w in link.weights if t in panel.close.columns)
        key = (link.chain, weights)
        if key not in names:
            base = f"{link.chain.upper()}_CHAIN"
            k = sum(1 for (c, _) in names if c == link.chain)
            names[key] = base if k == 0 else f"{base}{k + 1}"
            series[names[key]] = portfolio_returns(panel.returns, dict(weights))
        security = names[key]
        event_id = event.id if len(event.chains) == 1 else f"{event.id}:{link.chain}"
        keys.append((event_id, event.id, link, security, len(weights)))
        port_events.append(dataclasses.replace(event, id=event_id, chains=(), tickers=(
            LinkedTicker(security, link.role, link.direction, line=link.line),)))
        member_events.append(dataclasses.replace(event, id=event_id, chains=(), tickers=tuple(
            lt for lt in event.tickers if lt.chain == link.chain)))
    # Both studies need only their members, the market and the factors: a universe panel
    # of 11,000 tickers is not copied, transposed and hashed twice more for them.
    needed = [config.market, *config.factors,
              *(lt.ticker for e in member_events for lt in e.tickers)]
    panel = panel.select(needed)
    pseudo = panel.with_returns(pd.DataFrame(series))
    by_event = dataclasses.replace(config, group_by=("event_id",))
    port = run_study(Calendar("chains", tuple(port_events)), pseudo, by_event, factor_data,
                     **kwargs)
    memb = run_study(Calendar("members", tuple(member_events)), panel, by_event, factor_data,
                     **kwargs)
    rows = []
    car = port.car.set_index(["event_id", "window_start", "window_end"]) if len(port.car) else None
    head = memb.headline() if len(memb.tests) else pd.DataFrame()
    for event_id, original, link, security, n_members in keys:
        for start, end in config.car_windows:
            row = {"event_id": original, "chain": link.chain, "role": link.role,
                   "direction": link.direction, "window_start": start, "window_end": end,
                   "security": security, "members": n_members}
            if car is not None and (event_id, start, end) in car.index:
                c = car.loc[(event_id, start, end)]
                row.update(portfolio_car=float(c["car"]), portfolio_t=float(c["car_t"]),
                           portfolio_p=float(c["car_p"]))
                if np.isfinite(c["car"]):
                    row["as_expected"] = bool(np.sign(c["car"]) == link.sign)
            if len(head):
                h = head[(head["group"] == event_id) & (head["window_start"] == start)
                         & (head["window_end"] == end)]
                if len(h):
                    h = h.iloc[0]
                    row.update(members_n=int(h["n"]), members_mean_car=float(h["mean"]),
                               members_statistic=h["statistic"],
                               members_test=stats.LABELS.get(h["statistic"], ""),
                               members_value=float(h["value"]), members_p=float(h["p_value"]))
            rows.append(row)
    return pd.DataFrame(rows).reindex(columns=COLUMNS), port.skipped


def portfolio_returns(returns: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    """``R_p,t = sum_i w_i R_i,t`` (fixed weights, rebalanced daily); missing where any
    member's return is missing, so the portfolio is always the same basket."""
    cols = list(weights)
    w = np.array([weights[c] for c in cols])
    w = w / w.sum()  # members without prices are left out: the rest keep their proportions
    r = returns[cols].to_numpy(dtype=float)
    out = r @ w
    out[~np.isfinite(r).all(axis=1)] = np.nan
    return pd.Series(out, index=returns.index)
