"""Which pairs a study has, where their rows are, and which groups and clusters they form.

A *pair* is one (event, linked ticker). :func:`resolve_pairs` maps each to its
day-0 position in the price panel (or a skip reason); :func:`pair_layout` adds
what the blocks need: the ticker's row, the other events of the same ticker
(their windows leave estimation days out), and each pair's statistics groups
and day-0 clusters; :func:`confounded_with` names the overlapping events.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from backtest.data.panel import PricePanel
from backtest.eventstudy.blocks import PairLayout
from backtest.eventstudy.config import StudyConfig
from backtest.eventstudy.models import get_model
from events.errors import ConfigError, PriceDataError
from events.model import PAIR_COLUMNS, Calendar
from events.timing import distinct_day0, exchange_for, link_exchanges


def resolve_pairs(calendar: Calendar, panel: PricePanel, config: StudyConfig
                  ) -> tuple[pd.DataFrame, list[dict]]:
    """The (event, linked ticker) pairs with their panel positions, and the links skipped
    with a reason (another exchange, the benchmark itself, a factor, no data, day 0
    outside the data). Event tags become pair columns after :data:`PAIR_COLUMNS`."""
    sessions = panel.sessions
    if not sessions.is_unique:
        first = sessions[sessions.duplicated()][0]
        raise PriceDataError(f"the price data has session {first.date()} more than once",
                             field="date")
    market_exchange = exchange_for(config.market)
    factors = list(config.factors) if get_model(config.model).uses_factors else []
    links = calendar.links
    events = calendar.events
    # per event: day 0 and its panel position, worked out once per distinct event time
    day0s, time_code = distinct_day0(calendar, market_exchange)
    pos_of_event = (sessions.get_indexer(pd.DatetimeIndex(day0s)) if day0s else
                    np.zeros(0, dtype=np.int64))[time_code]
    # per link, on arrays: the first reason that applies, in this order
    exchange = link_exchanges(links)
    ticker = links.ticker
    pos0 = pos_of_event[links.event]
    checks = [(exchange != market_exchange, lambda i: (
                  f"trades on {exchange[i]}, the market benchmark {config.market} on "
                  f"{market_exchange}: one exchange per study")),
              (ticker == config.market, lambda i: f"is the market benchmark ({config.market})"),
              (np.isin(ticker, factors), lambda i: f"is a factor of the model ({ticker[i]})"),
              (~pd.Index(ticker, dtype=object).isin(panel.close.columns),
               lambda i: "no price data for this ticker"),
              (pos0 < 0, lambda i: (f"day 0 ({day0s[time_code[links.event[i]]].date()}) is "
                                    f"outside the price data ({sessions[0].date()} to "
                                    f"{sessions[-1].date()})"))]
    reason = np.full(len(links), -1, dtype=np.int64)
    for k, (hit, _) in reversed(list(enumerate(checks))):  # the first check wins
        reason[hit] = k
    skipped = [{"event_id": events[links.event[i]].id, "ticker": ticker[i],
                "reason": checks[reason[i]][1](i)} for i in np.flatnonzero(reason >= 0)]
    keep = np.flatnonzero(reason < 0)
    if not keep.size:
        return pd.DataFrame(), skipped
    ev = links.event[keep]
    # Columns of the event (id, label, score, day 0, tags) are inferred from the events the
    # pairs name, then repeated per pair: the same values, so the dtype the per-pair lists
    # would give, without a Python object per pair (10M pairs: 32 s).
    used, at = np.unique(ev, return_inverse=True)

    def per_pair(values) -> pd.Series:
        return pd.Series(values).take(at).reset_index(drop=True)

    chosen = [events[i] for i in used]
    values = (per_pair([e.id for e in chosen]), pd.Series(ticker[keep]),
              pd.Series(links.role[keep]), per_pair([e.sentiment.label for e in chosen]),
              pd.Series(links.direction[keep]), per_pair([e.sentiment.score for e in chosen]),
              _day0_per_pair(day0s, time_code[used], at),
              pos0[keep].astype(np.int64))
    frame = pd.DataFrame(dict(zip(PAIR_COLUMNS, values)))
    if any(e.tags for e in chosen):  # event tags become pair columns (groupable), after
        tag_frame = pd.DataFrame([e.tags for e in chosen]).take(at).reset_index(drop=True)
        frame = pd.concat([frame.drop(columns=[c for c in tag_frame if c in frame]),
                           tag_frame], axis=1)
    return frame, skipped


def _day0_per_pair(day0s: list, codes: np.ndarray, at: np.ndarray) -> pd.Series:
    """Each pair's day 0: ``day0s[codes[at]]`` (``codes`` the used events' time codes, ``at``
    each pair's used event), as a Series of the dtype the used events' day 0s give, built
    from each distinct day 0 once, in order of first appearance (a universe study has a
    hundred thousand events on a few hundred days)."""
    distinct, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    values = pd.Series([day0s[k] for k in distinct[order]])
    return values.take(rank[inverse.ravel()][at]).reset_index(drop=True)


def test_windows(config: StudyConfig) -> list[tuple[int, int]]:
    """The CAR windows, then every single event day not already one of them."""
    return list(config.car_windows) + [(d, d) for d in config.event_offsets
                                       if (d, d) not in config.car_windows]


def pair_layout(pairs: pd.DataFrame, config: StudyConfig, tickers: pd.Index, n_sessions: int,
                est_start: int | None = None) -> tuple[PairLayout, list[str]]:
    """Where each pair's rows are and which statistics groups and clusters it is in.

    Group 0 is "all"; with ``group_by`` each pair is also in its own group
    1 + j (j over the sorted group keys). A cluster is a (group, day 0). A group that
    pools pairs expected to move up and down is *signed*: each pair's ARs count in its
    expected direction (``mult``, :func:`signed_groups`).
    """
    pos = pairs["pos0"].to_numpy(dtype=np.int64)
    cols = tickers.get_indexer(pairs["ticker"]).astype(np.int64)
    # Each pair's ticker's events, sorted by day 0: their windows leave estimation days out.
    order = np.lexsort((pos, cols))
    others = pos[order]
    per_ticker = np.bincount(cols, minlength=len(tickers))
    bounds = (np.cumsum(per_ticker) - per_ticker)[cols]  # where each ticker's run starts
    counts = per_ticker[cols]
    if not config.exclude_other_events:
        counts = np.zeros_like(counts)
    names = ["all"]
    groups = np.zeros((len(pairs), 1), dtype=np.int64)
    if config.group_by:
        keys = group_keys(pairs, config.group_by)
        codes, uniques = pd.factorize(keys, sort=True)
        names += list(uniques)
        groups = np.column_stack([groups[:, 0], 1 + codes])
    _, clusters = np.unique(groups * (n_sessions + 1) + pos[:, None], return_inverse=True)
    clusters = clusters.reshape(groups.shape).astype(np.int64)
    sign = expected_sign(pairs)
    signed = signed_groups(groups, sign, len(names))
    mult = np.where(signed[groups], sign[:, None], 1.0)
    est_pos = None if est_start is None else np.full(len(pos), est_start, dtype=np.int64)
    return PairLayout(pos, cols, others, bounds, bounds + counts, groups, clusters,
                      len(names), int(clusters.max()) + 1, mult, est_pos), names


def estimation_by_dates(pairs: pd.DataFrame, config: StudyConfig, sessions: pd.DatetimeIndex
                        ) -> tuple[StudyConfig, int | None, pd.DataFrame, list[dict]]:
    """With ``config.estimation_dates``: the config with ``estimation_length`` set to the
    sessions between the two dates, the first one's position, the pairs whose event window
    stays clear of those dates, and the others as skipped rows. Without dates: as given."""
    if not config.estimation_dates:
        return config, None, pairs, []
    first, last = (pd.Timestamp(d) for d in config.estimation_dates)
    if first < sessions[0] or last > sessions[-1]:
        raise ConfigError(f"estimation dates {config.estimation_dates[0]} to "
                          f"{config.estimation_dates[1]} are not inside the price data "
                          f"({sessions[0].date()} to {sessions[-1].date()})",
                          field="estimation_dates")
    start = int(sessions.searchsorted(first))
    end = int(sessions.searchsorted(last, side="right")) - 1
    length = end - start + 1
    if length < config.min_estimation_obs:
        raise ConfigError(f"estimation dates {config.estimation_dates[0]} to "
                          f"{config.estimation_dates[1]} hold {length} sessions, fewer than "
                          f"min_estimation_obs ({config.min_estimation_obs})",
                          field="estimation_dates")
    config = dataclasses.replace(config, estimation_length=length)
    a, b = config.event_window
    pos = pairs["pos0"].to_numpy() if len(pairs) else np.zeros(0, dtype=np.int64)
    meets = (pos + b >= start) & (pos + a <= end)
    skipped = [{"event_id": e, "ticker": t,
                "reason": f"estimation dates {config.estimation_dates[0]} to "
                          f"{config.estimation_dates[1]} meet its event window (day 0 "
                          f"{sessions[p].date()})"}
               for e, t, p in zip(pairs["event_id"].to_numpy()[meets],
                                  pairs["ticker"].to_numpy()[meets], pos[meets])]
    return config, start, pairs[~meets].reset_index(drop=True), skipped


def expected_sign(pairs: pd.DataFrame) -> np.ndarray:
    """+1 for a pair expected to move up, -1 for one expected to move down."""
    return np.where(pairs["direction"].to_numpy() == "down", -1.0, 1.0)


def signed_groups(groups: np.ndarray, sign: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group: True when it pools pairs of both expected directions. Averaging such a
    group's raw CARs would let moves in opposite expected directions cancel (or add up to
    a number that means nothing), so its CARs are signed by the expected direction."""
    has = np.zeros((n_groups, 2), dtype=bool)
    for h in range(groups.shape[1]):
        has[groups[:, h], (sign > 0).astype(int)] = True
    return has.all(axis=1)


def confounded_with(pairs: pd.DataFrame, config: StudyConfig, codes: np.ndarray
                    ) -> pd.api.extensions.ExtensionArray:
    """Per pair, the other events of the same ticker (``codes``) whose windows overlap
    its window, in day-0 order, joined by "+" ("" for none): a text array (pandas' "str").

    Built in arrow, not as Python strings: in a dense universe study every pair has dozens
    of neighbours (3M pairs: 38 s and 2 GB of Python lists to join them one by one)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    a, b = config.event_window
    pos = pairs["pos0"].to_numpy().astype(np.int64)
    n = len(pos)
    # One sorted key per pair: ticker first, then day 0. A pair's neighbours within
    # b - a sessions of the same ticker are one contiguous run of it, which holds the pair
    # itself. Worked in sorted order (rows r), where the look-ups run in order.
    key = codes.astype(np.int64) * (int(pos.max()) + 2 * (b - a) + 2) + pos
    order = np.argsort(key, kind="stable")
    ks = key[order]
    lo = np.searchsorted(ks, ks - (b - a))
    hi = np.searchsorted(ks, ks + (b - a), side="right")
    # Row r's neighbours: sorted positions lo..hi-1 but r, laid end to end, row after row.
    count = hi - lo - 1
    total = int(count.sum())
    if total == 0:  # no pair has a neighbour
        return pd.array([""] * n, dtype="str")
    index = np.int32 if max(n, total) < 2 ** 31 else np.int64  # half the memory traffic
    count, lo = count.astype(index), lo.astype(index)
    at = np.arange(total, dtype=index)
    at -= np.repeat(np.cumsum(count, dtype=index) - count, count)  # place within its row
    at += np.repeat(lo, count)
    at += at >= np.repeat(np.arange(n, dtype=index), count)  # step over the row itself
    # their events as codes into the few distinct ids (a gather from a small table)
    event_codes, event_ids = pd.factorize(pairs["event_id"])
    codes_at = event_codes[order][at]
    del at
    ids = pc.take(pa.array(np.asarray(event_ids, dtype=object), type=pa.large_string()),
                  codes_at)
    del codes_at
    ends = np.concatenate([[0], np.cumsum(count)])
    joined = pc.binary_join(pa.LargeListArray.from_arrays(ends, ids),
                            pa.scalar("+", pa.large_string()))
    del ids
    rank = np.empty(n, dtype=index)
    rank[order] = np.arange(n, dtype=index)
    joined = pc.take(joined, rank)  # back to the pairs' order
    return pd.array(joined, dtype="str")


def group_keys(frame: pd.DataFrame, group_by: tuple[str, ...]) -> pd.Series:
    missing = [g for g in group_by if g not in frame.columns]
    if missing:
        raise ConfigError(f"cannot group by {', '.join(missing)}: not a pair column or event "
                         f"tag", field="group_by")
    if not group_by:
        return pd.Series("all", index=frame.index)
    # An event without a tag is its own group, "(missing)", not dropped or merged.
    parts = [frame[g].astype(object).where(frame[g].notna(), "(missing)").astype(str)
             for g in group_by]
    keys = parts[0]
    for part in parts[1:]:  # column-wise joins: a row-wise apply takes seconds at 100k pairs
        keys = keys + " " + part
    return keys


def groups_with_pairs(groups: np.ndarray, names: list[str]) -> list[tuple[int, str, np.ndarray]]:
    """(statistics group, name, its pairs) for the groups that have pairs, "all" first."""
    out = []
    for g, name in enumerate(names):
        rows = np.flatnonzero((groups == g).any(axis=1))
        if rows.size:
            out.append((g, name, rows))
    return out
