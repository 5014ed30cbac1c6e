"""Chains in YAML: the bundled files, a calendar's chains section, chain links of events,
and every refusal naming its file, line and field (lines counted by hand below)."""

from __future__ import annotations

import datetime as dt

import pytest

from events import InputError
from events.chains import load_chain
from events.files import bundled_names
from events.loader import load_calendar, parse_calendar
from events.yamlio import parse_yaml

EVENT = """events:
  - id: e1
    date: {date}
    session: before_open
    headline: h
    source: s
    sentiment: {{label: bearish, score: 60}}
    tickers:
{links}
"""


def _calendar(links: str, date: str = "2025-09-10", chains: str = "") -> str:
    return chains + EVENT.format(date=date, links=links)


def _load(text: str, tmp_path=None):
    return parse_calendar(parse_yaml(text, "c.yaml"), path="c.yaml")


def test_bundled_chains_load():
    assert {"openai", "google"} <= set(bundled_names("chain"))
    openai = load_chain("openai")
    assert openai.tickers == ["ORCL", "CRWV", "MSFT", "NVDA", "AMD", "AVGO"]
    crwv = openai.members[1]
    assert crwv.start == dt.date(2025, 3, 28) and crwv.end is None
    assert load_chain("google").tickers == ["GOOGL", "AVGO", "TSM"]


def test_a_chain_link_expands_to_the_members_of_that_day():
    before = _load(_calendar("      - {chain: openai, role: partner, direction: down}",
                             date="2025-03-03")).get("e1")
    after = _load(_calendar("      - {chain: openai, role: partner, direction: down}")).get("e1")
    assert "CRWV" not in [lt.ticker for lt in before.tickers]
    assert [lt.ticker for lt in after.tickers] == ["ORCL", "CRWV", "MSFT", "NVDA", "AMD", "AVGO"]
    assert {(lt.role, lt.direction, lt.chain) for lt in after.tickers} == {
        ("partner", "down", "openai")}
    assert dict(after.chains[0].weights) == pytest.approx({t: 1 / 6 for t in
                                                           dict(after.chains[0].weights)})
    assert len(before.chains[0].weights) == 5


def test_explicit_tickers_and_a_chain_together():
    cal = _load(_calendar("      - {ticker: GOOGL, role: competitor, direction: up}\n"
                          "      - {chain: openai, role: partner, direction: down}"))
    assert [lt.ticker for lt in cal.get("e1").tickers][:2] == ["GOOGL", "ORCL"]


def test_a_calendar_chains_section_is_used_first():
    chains = ("chains:\n  - name: openai\n    members:\n      - {ticker: ORCL}\n"
              "      - {ticker: MSFT}\n")
    cal = _load(_calendar("      - {chain: openai, role: partner, direction: up}",
                          chains=chains))
    assert [lt.ticker for lt in cal.get("e1").tickers] == ["ORCL", "MSFT"]


def test_the_bundled_calendar_still_loads():
    assert len(load_calendar("openai")) >= 9


CHAINS_HEAD = "chains:\n  - name: c\n"
BAD = {
    # (document, line, field, fragment)
    "unknown chain": (_calendar("      - {chain: nope, role: partner, direction: up}"), 9,
                      "events[0].tickers[0].chain", "no chain 'nope'"),
    "member linked twice": (_calendar("      - {ticker: ORCL, role: partner, direction: up}\n"
                                      "      - {chain: openai, role: partner, direction: up}"),
                            10, "events[0].tickers[1].chain", "ORCL is linked twice"),
    "two chains share a member": (_calendar(
        "      - {chain: openai, role: partner, direction: up}\n"
        "      - {chain: google, role: supplier, direction: up}"), 10,
        "events[0].tickers[1].chain", "AVGO is linked twice"),
    "chain link with a ticker key": (_calendar(
        "      - {chain: openai, ticker: ORCL, role: partner, direction: up}"), 9,
        "events[0].tickers[0].ticker", "either 'ticker' or 'chain'"),
    "weight without fixed": (CHAINS_HEAD + "    members:\n      - {ticker: A, weight: 2}\n"
                             + _calendar("      - {chain: c, role: partner, direction: up}"),
                             4, "chains[0].members[0].weight", "weighting: fixed"),
    "fixed without weight": (CHAINS_HEAD + "    weighting: fixed\n    members:\n"
                             "      - {ticker: A}\n"
                             + _calendar("      - {chain: c, role: partner, direction: up}"),
                             5, "chains[0].members[0].weight", "missing required field"),
    "exposure above 1": (CHAINS_HEAD + "    weighting: exposure\n    members:\n"
                         "      - {ticker: A, exposure: 1.5}\n"
                         + _calendar("      - {chain: c, role: partner, direction: up}"),
                         5, "chains[0].members[0].exposure", "(0, 1]"),
    "until before from": (CHAINS_HEAD + "    members:\n"
                          "      - {ticker: A, from: 2025-05-01, until: 2025-04-01}\n"
                          + _calendar("      - {chain: c, role: partner, direction: up}"),
                          4, "chains[0].members[0].until", "before 'from'"),
    "member twice": (CHAINS_HEAD + "    members:\n      - {ticker: A}\n      - {ticker: a}\n"
                     + _calendar("      - {chain: c, role: partner, direction: up}"),
                     5, "chains[0].members[1].ticker", "listed twice (first on line 4)"),
    "bad date": (CHAINS_HEAD + "    members:\n      - {ticker: A, from: 2025-02-30}\n"
                 + _calendar("      - {chain: c, role: partner, direction: up}"),
                 4, "chains[0].members[0].from", "not a date"),
    "unknown chain key": (CHAINS_HEAD + "    rebalnce: daily\n    members:\n"
                          "      - {ticker: A}\n"
                          + _calendar("      - {chain: c, role: partner, direction: up}"),
                          3, "chains[0].rebalnce", "did you mean 'rebalance'?"),
    "no member on day 0": (CHAINS_HEAD + "    members:\n      - {ticker: A, from: 2026-01-01}\n"
                           + _calendar("      - {chain: c, role: partner, direction: up}"),
                           13, "events[0].tickers[0].chain", "no members on 2025-09-10"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_chains_are_refused_with_file_line_and_field(case):
    text, line, field, fragment = BAD[case]
    with pytest.raises(InputError) as info:
        _load(text)
    err = info.value
    assert (err.path, err.line, err.field) == ("c.yaml", line, field), str(err)
    assert fragment in str(err) and "\n" not in str(err)


def test_a_chain_file_refusal_names_the_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: x\nmembers:\n  - {ticker: A, weight: 1}\n")
    with pytest.raises(InputError, match=r"x\.yaml:3: members\[0\]\.weight"):
        load_chain(path)


def test_exposure_and_fixed_weights_are_normalized_over_the_members_of_the_day():
    chains = ("chains:\n  - name: c\n    weighting: exposure\n    members:\n"
              "      - {ticker: ORCL, exposure: 0.5}\n      - {ticker: MSFT, exposure: 0.25}\n"
              "      - {ticker: NVDA, exposure: 0.25, from: 2025-10-01}\n")
    early = _load(_calendar("      - {chain: c, role: partner, direction: up}", chains=chains))
    late = _load(_calendar("      - {chain: c, role: partner, direction: up}",
                           date="2025-11-03", chains=chains))
    assert dict(early.get("e1").chains[0].weights) == pytest.approx({"ORCL": 2 / 3,
                                                                     "MSFT": 1 / 3})
    assert dict(late.get("e1").chains[0].weights) == pytest.approx(
        {"ORCL": 0.5, "MSFT": 0.25, "NVDA": 0.25})
