"""Headline sentiment: a scorer interface and a finance-aware offline scorer.

A scorer maps text to a :class:`Score`: a signed value in [-1, 1], a label
(bearish / neutral / bullish) and the calendar's 0-100 strength, and records
its own name and version. Scorers are plug-ins like strategies: built-ins
here, ``module:Class`` paths, or the entry-point group
``event_backtester.scorers``.

The built-in :class:`FinanceLexiconScorer` exists because general lexicons get
market news wrong (VADER scores "OpenAI Growth Miss Triggers Sell-Off in AI
Infrastructure Partners" +0.25: "growth" and "partners" are nice words). Its
lexicon is written for this project (no third-party word list is shipped):
market vocabulary (miss, shortfall, sell-off, cut, downgrade, probe, delay,
layoffs; beat, surge, raise, upgrade, record, deal) with phrases ("cuts
guidance", "tops estimates", "price target cut"), and rules for

* negation: "not", "no longer", "denies", "fails to", "avoids", "without"
  within three words before a term flip it ("not expected to miss" is mildly
  bullish; "fails to win approval" bearish);
* intensity: "plunges" outweighs "edges lower"; "sharply", "record" boost,
  "slightly", "modestly" damp;
* contrast: after "but", "yet", "however" the clause counts 1.5x and before
  it 0.5x, so "beats estimates but shares fall on weak outlook" is bearish;
* price action: the market's reaction ("shares jump", "stock slides") weighs
  more than the news that caused it.

The sum of term valences ``s`` becomes ``v = s / sqrt(s^2 + 8)``; ``|v| < 0.15``
is neutral; the strength is ``round(100 |v|)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib import metadata

from events.errors import InputError
from events.files import load_class

ENTRY_POINT_GROUP = "event_backtester.scorers"


@dataclass(frozen=True)
class Score:
    """A scorer's verdict on one text."""

    value: float  # signed, in [-1, 1]
    label: str  # bearish | neutral | bullish
    strength: int  # 0-100, the calendar's sentiment score
    scorer: str  # "name version"


class Scorer:
    """Base class: set ``name`` and ``version`` and implement :meth:`score`."""

    name = ""
    version = ""

    def score(self, text: str) -> Score:
        raise NotImplementedError

    @property
    def tag(self) -> str:
        return f"{self.name} {self.version}"


def label_of(value: float, neutral_band: float = 0.15) -> str:
    """bearish below ``-neutral_band``, bullish above it, neutral between."""
    return "bullish" if value >= neutral_band else "bearish" if value <= -neutral_band \
        else "neutral"


def _forms(base: str, v: float, kind: str = "verb") -> dict[str, float]:
    """A word and its inflections with one valence (cut -> cuts, cutting, ...)."""
    out = {base: v}
    if kind == "verb":
        stem = base[:-1] if base.endswith("e") else base
        third = base + ("es" if base.endswith(("s", "sh", "ch", "x", "z")) else "s")
        out.update({third: v, stem + "ed": v, stem + "ing": v})
        for past in IRREGULAR.get(base, ()):
            out[past] = v
        if base.endswith("y"):
            out.update({base[:-1] + "ies": v, base[:-1] + "ied": v})
        if re.fullmatch(r".*[^aeiou][aeiou][bdgmnpt]", base):  # slip -> slipped
            out.update({base + base[-1] + "ed": v, base + base[-1] + "ing": v})
    elif kind == "noun":
        out[base + ("es" if base.endswith(("s", "sh", "ch", "x")) else "s")] = v
    return out


IRREGULAR = {
    "fall": ("fell", "fallen"), "sink": ("sank", "sunk"), "slide": ("slid",), "lose": ("lost",),
    "win": ("won", "winning"), "rise": ("rose", "risen"), "grow": ("grew", "grown"),
    "beat": ("beaten",), "shed": ("shedding",), "sell": ("sold",), "cut": ("cutting",),
    "hit": ("hitting",), "top": ("topped", "topping"), "drop": ("dropped", "dropping"),
    "slip": ("slipped", "slipping"), "dip": ("dipped", "dipping"), "plan": ("planned",),
    "slash": (), "quit": ("quitting",), "land": (), "spike": (), "double": (), "triple": (),
}


def _lexicon() -> dict[str, float]:
    lex: dict[str, float] = {}
    verbs_neg = {
        "miss": -2.0, "fall": -1.5, "drop": -1.5, "slide": -1.6, "slump": -2.2, "plunge": -2.8,
        "tumble": -2.4, "sink": -2.0, "crash": -3.0, "tank": -2.6, "dive": -2.4, "plummet": -2.8,
        "slip": -1.0, "dip": -0.8, "decline": -1.4, "lose": -1.5, "shed": -1.2, "retreat": -1.0,
        "cut": -1.6, "slash": -2.2, "lower": -1.3, "reduce": -1.2, "trim": -1.0,
        "downgrade": -2.2, "delay": -1.6, "postpone": -1.4, "halt": -2.0, "suspend": -1.8,
        "cancel": -1.8, "scrap": -1.6, "recall": -2.0, "warn": -1.8, "probe": -1.6,
        "investigate": -1.6, "sue": -1.6, "fine": -1.6, "penalize": -1.8, "ban": -2.0,
        "block": -1.6, "reject": -1.8, "deny": -1.2, "default": -2.8, "disappoint": -2.0,
        "underperform": -1.6, "weaken": -1.5, "slow": -1.2, "stall": -1.4, "shrink": -1.5,
        "contract": -1.0, "fail": -2.0, "struggle": -1.6, "worry": -1.4, "fear": -1.5,
        "threaten": -1.5, "hurt": -1.6, "hit": -1.0, "drag": -1.2, "pressure": -1.2,
        "erode": -1.4, "dilute": -1.8, "lag": -1.2, "resign": -1.2, "quit": -1.2,
        "oust": -1.4, "fire": -1.0, "restate": -2.0, "short": -0.8, "impair": -2.0,
        "writedown": -2.0, "bankrupt": -3.0, "collapse": -3.0, "flop": -2.0,
        "sour": -1.5, "spook": -1.8, "rattle": -1.5, "wipe": -1.8, "overhang": -1.0,
    }
    verbs_pos = {
        "beat": 2.0, "top": 1.8, "exceed": 1.8, "surpass": 1.8, "rise": 1.4, "gain": 1.4,
        "climb": 1.5, "jump": 2.0, "surge": 2.4, "soar": 2.6, "rally": 2.0, "rebound": 1.6,
        "recover": 1.4, "advance": 1.2, "rocket": 2.8, "skyrocket": 2.8, "spike": 1.8,
        "raise": 1.6, "boost": 1.6, "lift": 1.5, "hike": 1.4, "increase": 1.2, "expand": 1.3,
        "grow": 1.2, "accelerate": 1.5, "upgrade": 2.2, "outperform": 1.8, "win": 2.0,
        "secure": 1.6, "sign": 1.2, "land": 1.4, "clinch": 1.8, "approve": 1.8,
        "clear": 1.2, "launch": 0.8, "unveil": 0.8, "strengthen": 1.4, "improve": 1.4,
        "crush": 2.2, "smash": 2.2, "double": 1.6, "triple": 2.0, "resume": 1.2,
        "settle": 0.6, "reaffirm": 0.8, "reiterate": 0.4, "invest": 0.8, "partner": 1.0,
        "acquire": 0.8, "buy": 0.6, "outpace": 1.6, "welcome": 1.2,
    }
    for word, v in verbs_neg.items():
        lex.update(_forms(word, v))
    for word, v in verbs_pos.items():
        lex.update(_forms(word, v))
    nouns = {
        "shortfall": -2.2, "loss": -1.8, "losses": -1.8, "deficit": -1.5, "layoff": -1.8,
        "layoffs": -1.8, "job cuts": -1.8, "sell-off": -2.4, "selloff": -2.4, "slowdown": -1.6,
        "downturn": -1.8, "recession": -2.0, "lawsuit": -1.6, "investigation": -1.6,
        "scandal": -2.2, "fraud": -2.8, "bankruptcy": -3.0, "impairment": -2.0,
        "write-down": -2.0, "warning": -1.8, "headwind": -1.4, "headwinds": -1.4,
        "weakness": -1.6, "glut": -1.6, "oversupply": -1.6, "shortage": -1.2, "outage": -1.6,
        "breach": -1.8, "hack": -1.8, "antitrust": -1.2, "dilution": -1.8, "strike": -1.2,
        "bubble": -1.4, "concern": -1.2, "concerns": -1.4, "risk": -0.8, "risks": -0.8,
        "doubt": -1.4, "doubts": -1.4, "turmoil": -2.0, "crisis": -2.2, "exodus": -1.8,
        "backlash": -1.6, "setback": -1.8, "bear": -1.2, "bearish": -1.8, "low": -0.8,
        "lows": -1.0, "volatility": -0.6, "underweight": -1.6, "sell": -1.4, "downside": -1.2,
        "record": 1.6, "profit": 1.2, "profits": 1.2, "growth": 0.8,
        "demand": 0.6, "deal": 1.4, "deals": 1.4, "contract": 1.2, "contracts": 1.2,
        "order": 0.8, "orders": 0.8, "partnership": 1.4, "agreement": 1.2, "buyback": 1.8,
        "repurchase": 1.6, "dividend": 1.0, "approval": 1.8, "breakthrough": 2.0,
        "tailwind": 1.4, "tailwinds": 1.4, "upside": 1.4, "momentum": 1.2, "strength": 1.4,
        "rally": 2.0, "bull": 1.2, "bullish": 1.8, "high": 0.8, "highs": 1.0,
        "overweight": 1.6, "outperform": 1.8, "win": 2.0, "windfall": 2.0, "boom": 2.0,
        "optimism": 1.6, "upbeat": 1.6, "robust": 1.6, "strong": 1.4, "stronger": 1.5,
        "solid": 1.2, "weak": -1.6, "weaker": -1.6, "soft": -1.2, "softer": -1.2,
        "disappointing": -2.0, "dismal": -2.4, "grim": -2.2, "gloomy": -2.0, "bleak": -2.2,
        "worse": -1.8, "better": 1.4, "best": 1.6, "worst": -2.2, "lower": -1.3,
        "higher": 1.2, "negative": -1.4, "positive": 1.4, "cheap": 0.4, "expensive": -0.4,
        "lucrative": 1.8, "profitable": 1.6, "unprofitable": -1.8, "delayed": -1.6,
        "late": -0.8, "costly": -1.4, "massive": 0.0, "killer": 1.2,
    }
    lex.update(nouns)
    return lex


LEXICON = _lexicon()

# Multi-word terms, matched before single words (their words are then consumed).
PHRASES = {
    "misses estimates": -2.4, "missed estimates": -2.4, "misses expectations": -2.4,
    "below expectations": -2.0, "below estimates": -2.0, "falls short": -2.2,
    "fell short": -2.2, "worse than expected": -2.2, "weaker than expected": -2.2,
    "lower than expected": -1.8, "profit warning": -2.4, "guidance cut": -2.4,
    "cuts guidance": -2.4, "cut guidance": -2.4, "lowers guidance": -2.2, "cuts outlook": -2.4,
    "lowers outlook": -2.2, "cuts forecast": -2.2, "lowers forecast": -2.0,
    "weak outlook": -2.2, "weak guidance": -2.2, "soft guidance": -1.8, "price target cut": -1.8,
    "cuts price target": -1.8, "lowers price target": -1.6, "short seller": -2.0,
    "short-seller": -2.0, "secondary offering": -1.6, "share sale": -1.2,
    "stock offering": -1.4, "job cuts": -1.8, "credit rating cut": -2.0, "52-week low": -1.6,
    "all-time low": -2.0, "going concern": -2.8, "chapter 11": -3.0, "bull case fades": -1.8,
    "beats estimates": 2.4, "beat estimates": 2.4, "tops estimates": 2.4,
    "top estimates": 2.4, "above expectations": 2.0, "above estimates": 2.0,
    "better than expected": 2.2, "stronger than expected": 2.2, "higher than expected": 1.6,
    "raises guidance": 2.4, "raised guidance": 2.4, "raises outlook": 2.4,
    "raises forecast": 2.2, "lifts guidance": 2.2, "boosts guidance": 2.4,
    "raises price target": 1.8, "price target raised": 1.8, "record revenue": 2.4,
    "record high": 2.2, "all-time high": 2.2, "52-week high": 1.6, "dividend hike": 2.0,
    "raises dividend": 2.0, "share buyback": 2.0, "stock buyback": 2.0, "wins contract": 2.2,
    "in line": 0.0, "as expected": 0.0, "cost cuts": 0.8, "cost cutting": 0.8,
    "price cuts": -1.2, "cuts prices": -1.2, "rate cut": 0.6, "rate cuts": 0.6,
    "short squeeze": 1.4, "resume deliveries": 1.6, "back on track": 1.6,
}

NEGATORS = {"not", "no", "never", "none", "nor", "without", "denies", "deny", "denied",
            "fails", "failed", "fail", "avoids", "avoid", "avoided", "rules", "dismisses",
            "dismissed", "refutes", "isn't", "aren't", "wasn't", "won't", "doesn't", "didn't",
            "cannot", "can't", "unlikely", "longer", "ends", "lifts", "eases"}
BOOSTERS = {"sharply": 1.4, "steeply": 1.4, "heavily": 1.3, "massive": 1.3, "huge": 1.3,
            "record": 1.3, "biggest": 1.4, "deeply": 1.3, "dramatically": 1.4, "significantly": 1.2,
            "strongly": 1.2, "big": 1.2, "major": 1.15, "surprise": 1.2, "surprisingly": 1.2}
DAMPERS = {"slightly": 0.5, "modestly": 0.6, "marginally": 0.5, "edges": 0.5, "edge": 0.5,
           "ticks": 0.5, "somewhat": 0.6, "mildly": 0.6, "little": 0.6, "may": 0.7,
           "could": 0.7, "might": 0.7, "reportedly": 0.85, "considers": 0.7, "weighs": 0.7,
           "mulls": 0.7, "plans": 0.85}
CONTRASTS = {"but", "yet", "however", "though", "although", "despite"}
MARKET = {"shares", "stock", "stocks", "share", "equity", "market", "investors"}
TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*|[$%]")


class FinanceLexiconScorer(Scorer):
    """Finance-aware lexicon and rules (see the module docstring)."""

    name = "finance-lexicon"
    version = "1.0"

    def __init__(self, neutral_band: float = 0.15, alpha: float = 8.0):
        self.neutral_band, self.alpha = neutral_band, alpha

    def terms(self, text: str) -> list[tuple[str, float]]:
        """The sentiment-bearing terms found, with their valence after all rules."""
        words = TOKEN.findall(text.lower().replace("\u2019", "'"))
        found: list[tuple[int, str, float]] = []
        i = 0
        while i < len(words):
            for size in (4, 3, 2):
                phrase = " ".join(words[i:i + size])
                if len(words[i:i + size]) == size and phrase in PHRASES:
                    found.append((i, phrase, PHRASES[phrase]))
                    i += size
                    break
            else:
                if words[i] in LEXICON and LEXICON[words[i]] != 0:
                    found.append((i, words[i], LEXICON[words[i]]))
                i += 1
        contrast = max((k for k, w in enumerate(words) if w in CONTRASTS), default=None)
        out = []
        for pos, term, v in found:
            before = words[max(0, pos - 3):pos]
            if any(w in NEGATORS for w in before):
                v = -0.8 * v  # "not expected to miss" is mildly good news
            for w in words[max(0, pos - 2):pos + 2]:
                v *= BOOSTERS.get(w, 1.0) * DAMPERS.get(w, 1.0)
            if any(w in MARKET for w in words[max(0, pos - 2):pos]):
                v *= 1.5  # the market's reaction is the bottom line for a trader
            if contrast is not None:
                if words[contrast] == "despite":
                    v *= 0.5 if pos > contrast else 1.5  # "rises despite miss"
                else:
                    v *= 1.5 if pos > contrast else 0.5
            out.append((term, v))
        return out

    def score(self, text: str) -> Score:
        s = sum(v for _, v in self.terms(text))
        value = s / math.sqrt(s * s + self.alpha)
        return Score(round(value, 6), label_of(value, self.neutral_band),
                     int(round(100 * abs(value))), self.tag)


BUILTIN_SCORERS = {FinanceLexiconScorer.name: FinanceLexiconScorer}


def get_scorer(name: str = FinanceLexiconScorer.name) -> Scorer:
    """A scorer by built-in name, entry-point name, or ``module:Class`` path."""
    if name in BUILTIN_SCORERS:
        return BUILTIN_SCORERS[name]()
    if ":" in name:
        return load_class(name, Scorer, "scorer")()
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.load()()
    raise InputError(f"unknown scorer {name!r} (built-in: {', '.join(BUILTIN_SCORERS)})",
                     field="scorer")
