"""Headlines to calendar: score timestamped headlines and link them to tickers.

``backtest events import HEADLINES.csv --map openai --map nvidia --out cal.yaml``

HEADLINES.csv (one row per headline)::

    timestamp,headline[,source,entity,label,score]
    2026-04-28T15:36:00Z,OpenAI misses internal revenue targets,Press report,,,

* ``timestamp`` is tz-aware (any timezone).
* ``entity`` (optional) names the exposure-map entity directly; otherwise the
  headline is matched against every entity's aliases (whole words, any case).
* ``label`` and ``score`` (optional, together): a hand-set sentiment, kept as
  is. Otherwise the scorer sets them and the event records ``scorer``.

An exposure map (YAML; ``events/exposure/`` ships openai, anthropic, google and
nvidia) lists, per entity, aliases and the tickers the entity's news moves,
with their role and sign: ``sign: 1`` moves with the news, ``-1`` against it
(a competitor). A ticker's expected direction is ``up`` when sign x sentiment
is positive (a neutral headline counts as positive, i.e. the direction if
the news were good).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from events.files import bundled_names, resolve
from events.errors import CalendarError
from events.files import MAX_CSV_BYTES, read_text
from events.yamlio import read_yaml, strip_lines
from events.loader import parse_calendar
from events.model import LABELS, ROLES, check_ticker
from events.scoring import Scorer, get_scorer


@dataclass(frozen=True)
class Exposure:
    """One entity's aliases and the (ticker, role, sign) it moves."""

    entity: str
    aliases: tuple[str, ...]
    tickers: tuple[tuple[str, str, int], ...]

    def matches(self, text: str) -> bool:
        return any(re.search(rf"(?<![\w-]){re.escape(a)}(?![\w-])", text, re.IGNORECASE)
                   for a in self.aliases)


def load_exposure(ref: str | Path) -> list[Exposure]:
    """Read an exposure map (a path or a bundled name: openai, anthropic, google, nvidia)."""
    path = resolve(ref, "exposure map")
    shown = str(path)
    if not path.exists():
        raise CalendarError(f"no such file (or bundled map: "
                            f"{', '.join(bundled_names('exposure map'))})", path=shown)
    doc = strip_lines(read_yaml(path, CalendarError, "YAML exposure map"))
    if not isinstance(doc, dict) or not isinstance(doc.get("entities"), dict) \
            or not doc["entities"]:
        raise CalendarError("an exposure map needs 'entities: {Name: {aliases, tickers}}'",
                            path=shown, field="entities")
    out = []
    for name, spec in doc["entities"].items():
        where = f"entities.{name}"
        if not isinstance(spec, dict) or set(spec) - {"aliases", "tickers"}:
            raise CalendarError("must be a mapping with aliases and tickers", path=shown,
                                field=where)
        aliases = spec.get("aliases") or [str(name)]
        tickers = spec.get("tickers")
        if not isinstance(aliases, list) or not isinstance(tickers, list) or not tickers:
            raise CalendarError("aliases and tickers must be lists (tickers non-empty)",
                                path=shown, field=where)
        links = []
        for j, t in enumerate(tickers):
            sub = f"{where}.tickers[{j}]"
            if not isinstance(t, dict) or set(t) != {"ticker", "role", "sign"}:
                raise CalendarError("must be {ticker, role, sign}", path=shown, field=sub)
            if t["role"] not in ROLES:
                raise CalendarError(f"role must be one of {', '.join(ROLES)}, got {t['role']!r}",
                                    path=shown, field=f"{sub}.role")
            if isinstance(t["sign"], bool) or t["sign"] not in (1, -1):
                raise CalendarError(f"sign must be 1 or -1, got {t['sign']!r}", path=shown,
                                    field=f"{sub}.sign")
            try:
                ticker = check_ticker(t["ticker"])
            except ValueError as exc:
                raise CalendarError(str(exc), path=shown, field=f"{sub}.ticker") from None
            links.append((ticker, t["role"], int(t["sign"])))
        if not all(isinstance(a, str) and a.strip() for a in aliases):
            raise CalendarError("aliases must be non-empty text", path=shown,
                                field=f"{where}.aliases")
        out.append(Exposure(str(name), tuple(aliases), tuple(links)))
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def headlines_to_calendar(csv_path: str | Path, maps: list[list[Exposure]],
                          scorer: Scorer | None = None, name: str | None = None
                          ) -> tuple[dict, list[str]]:
    """Build a calendar document (a dict ready for YAML) and notes about skipped rows."""
    scorer = scorer or get_scorer()
    shown = str(csv_path)
    text = read_text(csv_path, MAX_CSV_BYTES, CalendarError, "CSV of headlines",
                     encoding="utf-8-sig")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CalendarError(f"malformed CSV: {str(exc).strip().splitlines()[-1]}",
                            path=shown) from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    for col in ("timestamp", "headline"):
        if col not in frame.columns:
            raise CalendarError(f"missing column {col!r}", path=shown, line=1, field=col)
    unknown = set(frame.columns) - {"timestamp", "headline", "source", "entity", "label", "score"}
    if unknown:
        raise CalendarError(f"unknown column {sorted(unknown)[0]!r}", path=shown, line=1,
                            field=sorted(unknown)[0])
    entities = [e for m in maps for e in m]
    by_name = {e.entity.lower(): e for e in entities}
    events, notes, counter = [], [], {}
    for i, row in enumerate(frame.to_dict("records")):
        line = i + 2
        headline = row["headline"].strip()
        if not headline:
            raise CalendarError("empty headline", path=shown, line=line, field="headline")
        try:
            ts = pd.Timestamp(row["timestamp"].strip())
        except ValueError:
            ts = None
        if ts is None or ts is pd.NaT or ts.tzinfo is None:
            raise CalendarError(f"timestamp must be tz-aware ISO 8601, got {row['timestamp']!r}",
                                path=shown, line=line, field="timestamp")
        if row.get("entity", "").strip():
            hit = by_name.get(row["entity"].strip().lower())
            if hit is None:
                raise CalendarError(f"unknown entity {row['entity']!r} (maps: "
                                    f"{', '.join(e.entity for e in entities)})", path=shown,
                                    line=line, field="entity")
            matched = [hit]
        else:
            matched = [e for e in entities if e.matches(headline)]
        if not matched:
            notes.append(f"{shown}:{line}: no entity of the exposure maps in {headline!r}; "
                         f"skipped")
            continue
        label, score = row.get("label", "").strip().lower(), row.get("score", "").strip()
        if label or score:
            if label not in LABELS:
                raise CalendarError(f"label must be one of {', '.join(LABELS)}, got {label!r}",
                                    path=shown, line=line, field="label")
            try:
                strength = float(score)
            except ValueError:
                strength = -1.0
            if not 0 <= strength <= 100:
                raise CalendarError(f"score must be 0-100, got {score!r}", path=shown, line=line,
                                    field="score")
            sign, scored_by = (1 if label != "bearish" else -1), None
        else:
            verdict = scorer.score(headline)
            label, strength, scored_by = verdict.label, float(verdict.strength), verdict.scorer
            sign = -1 if label == "bearish" else 1
        tickers, seen = [], set()
        for entity in matched:
            for ticker, role, ticker_sign in entity.tickers:
                if ticker not in seen:
                    seen.add(ticker)
                    tickers.append({"ticker": ticker, "role": role,
                                    "direction": "up" if sign * ticker_sign > 0 else "down"})
        base = f"{_slug(matched[0].entity)}-{ts.tz_convert('UTC'):%Y%m%d}"
        counter[base] = counter.get(base, 0) + 1
        event = {"id": f"{base}-{counter[base]}", "timestamp": ts.isoformat(),
                 "headline": headline, "source": row.get("source", "").strip() or "unknown",
                 "sentiment": {"label": label, "score": round(strength)}}
        if scored_by:
            event["scorer"] = scored_by
        event["tickers"] = tickers
        events.append(event)
    if not events:
        raise CalendarError("no headline matched an entity of the exposure maps", path=shown)
    doc = {"name": name or Path(csv_path).stem, "events": events}
    parse_calendar(doc, path=shown)  # the result must be a valid calendar
    return doc, notes


CALENDAR_HEADER = "# Calendar written by `backtest events import`"


def calendar_yaml(doc: dict) -> str:
    """The calendar document as YAML, under a header that marks the file as the tool's
    (a later import may replace it; a user's own file is never replaced)."""
    return (f"{CALENDAR_HEADER}; edit freely.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
