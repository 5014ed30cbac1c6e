"""Load chains (named baskets of linked tickers) from YAML and refuse anything malformed.

A chain lives in its own file (``events/chains/openai.yaml`` ships with the package,
next to the calendars) or in a calendar's ``chains:`` list. Format::

    name: openai
    description: Listed companies whose business rides on OpenAI
    weighting: equal          # equal | fixed (weight:) | exposure (exposure: 0-1)
    rebalance: none           # none: buy and hold | daily
    members:
      - {ticker: ORCL}
      - {ticker: CRWV, from: 2025-03-28}     # listed that day: a member from its close
      - {ticker: MSFT, until: 2026-01-30}    # inclusive dates

Every refusal names the file, the line and the field, like a calendar's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from events import yamlio as fields
from events.errors import CalendarError
from events.files import bundled_names, resolve
from events.model import REBALANCING, WEIGHTINGS, Chain, ChainMember, check_ticker

CHAIN_KEYS = {"name", "description", "weighting", "rebalance", "members"}
MEMBER_KEYS = {"ticker", "weight", "exposure", "from", "until"}
MAX_MEMBERS = 10_000


def load_chain(ref: str | Path) -> Chain:
    """Read and validate a chain file (a path, or a bundled name: openai, google)."""
    path = resolve(ref, "chain")
    if not path.exists():
        raise CalendarError(f"no such chain file or bundled chain (bundled: "
                            f"{', '.join(bundled_names('chain'))})", path=str(path))
    doc = fields.read_yaml(path, CalendarError, "YAML chain")
    return parse_chain(doc, path=str(path), default_name=path.stem)


def parse_chain(doc: Any, *, path: str = "<chain>", where: str = "",
                default_name: str | None = None) -> Chain:
    """Validate one parsed chain mapping (``where`` prefixes field names, e.g. ``chains[0]``)."""
    if not isinstance(doc, dict):
        raise CalendarError(f"a chain must be a mapping with 'name' and 'members', got "
                            f"{type(doc).__name__}", path=path, line=1, field=where or None)
    fields.check_keys(doc, CHAIN_KEYS, path, f"{where}." if where else "")
    name = (fields.text(doc, "name", path, where, required=default_name is None)
            or default_name)
    try:
        name = check_ticker(name).lower()  # a chain's name names files and pseudo tickers
    except ValueError:
        raise CalendarError(f"a chain name is letters, digits, '-' and '_' (at most 30), got "
                            f"{name!r}", path=path, line=fields.line_of(doc, "name"),
                            field=f"{where}.name".lstrip(".")) from None
    description = fields.text(doc, "description", path, where, required=False) or ""
    weighting = (fields.choice(doc, "weighting", WEIGHTINGS, path, where)
                 if doc.get("weighting") is not None else "equal")
    rebalance = (fields.choice(doc, "rebalance", REBALANCING, path, where)
                 if doc.get("rebalance") is not None else "none")
    items = doc.get("members")
    if not isinstance(items, list) or not items:
        raise CalendarError("'members' must be a non-empty list of {ticker, ...}", path=path,
                            line=fields.line_of(doc, "members"),
                            field=f"{where}.members".lstrip("."))
    if len(items) > MAX_MEMBERS:
        raise CalendarError(f"more than {MAX_MEMBERS:,} members", path=path,
                            line=fields.line_of(doc, "members"),
                            field=f"{where}.members".lstrip("."))
    members, seen = [], {}
    for j, item in enumerate(items):
        sub = f"{where}.members[{j}]".lstrip(".")
        member = _parse_member(item, weighting, path, sub, fields.line_of(doc, "members"))
        if member.ticker in seen:
            raise CalendarError(f"{member.ticker} is listed twice (first on line "
                                f"{seen[member.ticker]}); give one entry with its dates",
                                path=path, line=member.line, field=f"{sub}.ticker")
        seen[member.ticker] = member.line
        members.append(member)
    return Chain(name=name, members=tuple(members), weighting=weighting, rebalance=rebalance,
                 description=description, path=path, line=fields.line_of(doc))


def _parse_member(item: Any, weighting: str, path: str, where: str, list_line) -> ChainMember:
    if not isinstance(item, dict):
        raise CalendarError("each member must be a mapping {ticker, ...}", path=path,
                            line=list_line, field=where)
    fields.check_keys(item, MEMBER_KEYS, path, f"{where}.")
    try:
        ticker = check_ticker(fields.text(item, "ticker", path, where))
    except ValueError as exc:
        raise CalendarError(str(exc), path=path, line=fields.line_of(item, "ticker"),
                            field=f"{where}.ticker") from None
    wanted = {"fixed": "weight", "exposure": "exposure"}.get(weighting)
    for key in ("weight", "exposure"):
        if key in item.get("__lines__", {}) and key != wanted:
            raise CalendarError(f"'{key}' needs 'weighting: "
                                f"{'fixed' if key == 'weight' else 'exposure'}' (this chain is "
                                f"{weighting})", path=path, line=fields.line_of(item, key),
                                field=f"{where}.{key}")
    weight = 1.0
    if wanted == "weight":
        weight = fields.number(item, "weight", path, where, 0.0, 1e9, low_open=True)
    elif wanted == "exposure":
        weight = fields.number(item, "exposure", path, where, 0.0, 1.0, low_open=True)
    start = fields.date(item, "from", path, where)
    end = fields.date(item, "until", path, where)
    if start is not None and end is not None and end < start:
        raise CalendarError(f"'until' ({end}) is before 'from' ({start})", path=path,
                            line=fields.line_of(item, "until"), field=f"{where}.until")
    return ChainMember(ticker=ticker, weight=weight, start=start, end=end,
                       line=fields.line_of(item, "ticker"))


def parse_chain_section(raw: Any, path: str, line: int | None) -> dict[str, Chain]:
    """A calendar's ``chains:`` list, by name."""
    if not isinstance(raw, list) or not raw:
        raise CalendarError("'chains' must be a non-empty list of chains", path=path,
                            line=line, field="chains")
    out: dict[str, Chain] = {}
    for i, item in enumerate(raw):
        chain = parse_chain(item, path=path, where=f"chains[{i}]")
        if chain.name in out:
            raise CalendarError(f"chain {chain.name!r} is defined twice", path=path,
                                line=chain.line, field=f"chains[{i}].name")
        out[chain.name] = chain
    return out


def find_chain(name: str, defined: dict[str, Chain], base: str | Path | None,
               path: str, line: int | None, where: str) -> Chain:
    """The chain an event names: the calendar's own ``chains:`` first, then a chain
    file (relative to the calendar's folder) or a bundled chain."""
    key = name.strip().lower()
    if key in defined:
        return defined[key]
    ref = resolve(name, "chain", base=base)
    if not ref.exists():
        known = sorted({*defined, *bundled_names("chain")})
        raise CalendarError(f"no chain {name!r} (defined here or bundled: "
                            f"{', '.join(known)})", path=path, line=line, field=where)
    return load_chain(ref)
