"""The one YAML reader: safe, bounded, strict, with line numbers.

Calendars, experiments and exposure maps are all read by :func:`read_yaml`:

* a ``yaml.SafeLoader`` (no Python objects, no code) that keeps dates and times as
  text, so our own parsers refuse an impossible date with its line;
* **duplicate keys** are an error at any level (YAML itself keeps the last one
  silently: a second ``events:`` list would replace the first), and so are
  **merge keys** (``<<``), which hide where a field came from;
* **bounded**: the file is at most :data:`~events.files.MAX_YAML_BYTES`, nests at
  most :data:`MAX_DEPTH` levels, and, aliases expanded, holds at most
  :data:`MAX_NODES` nodes, so an alias bomb ("billion laughs") is refused at once;
* every mapping records its line (``__line__``) and its keys' lines
  (``__lines__``), which the validators use to name the line of a refusal.

The field readers below (:func:`text`, :func:`choice`, :func:`date`, :func:`number`,
...) read one field of such a mapping, check its type and raise
:class:`~events.errors.CalendarError` naming the file, the line and the field; the
calendar and chain validators share them.
"""

from __future__ import annotations

import datetime as dt
import difflib
from pathlib import Path
from typing import Any

import yaml

from events.errors import CalendarError, InputError
from events.files import MAX_YAML_BYTES, read_text

MAX_DEPTH = 64  # nesting levels of mappings and lists
MAX_NODES = 1_000_000  # nodes of the document with every alias expanded


class _Refused(Exception):
    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message, self.line = message, line


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamps; refuses duplicate and merge keys; counts depth."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused("merge keys (<<) are not allowed: write the fields out", line)
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise _Refused("a mapping key must be a plain value", line) from None
            if key in seen:
                raise _Refused(f"duplicate key {key!r} (first on line {seen[key]})", line)
            seen[key] = line
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        mapping["__lines__"] = {self.construct_object(k, deep=True): k.start_mark.line + 1
                                for k, _ in node.value}
        return mapping


def _expanded_size(root) -> int:
    """Nodes of the composed document with aliases expanded (shared nodes counted at each
    use), computed once per node; stops counting past :data:`MAX_NODES`."""
    sizes: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if done:
            sizes[id(node)] = min(MAX_NODES + 1, 1 + sum(sizes[id(c)] for c in children))
            continue
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def parse_yaml(text: str, shown: str, error: type[InputError] = InputError) -> Any:
    """Parse YAML ``text`` (named ``shown`` in refusals) with the rules above."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise _Refused(f"expands to more than {MAX_NODES:,} values (aliases repeated "
                           f"inside aliases: an alias bomb?)")
        return loader.construct_document(node)
    except _Refused as exc:
        raise error(exc.message, path=shown, line=exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        if mark is not None and exc.context_mark is not None and mark.line >= text.count("\n"):
            mark = exc.context_mark  # a bracket never closed: point at where it opened
            line = mark.line + 1
        raise error(f"malformed YAML: {exc.problem or exc.context}", path=shown,
                    line=line) from None
    except yaml.YAMLError as exc:
        raise error(f"malformed YAML: {exc}", path=shown) from None
    except RecursionError:
        raise error(f"nested too deeply (more than {MAX_DEPTH} levels)", path=shown) from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path, error: type[InputError] = InputError,
              what: str = "YAML file") -> Any:
    """Read and parse a YAML file: bounded in size (:func:`events.files.read_text`) and
    parsed by :func:`parse_yaml`; every problem is ``error`` naming the file and line."""
    shown = str(path)
    text = read_text(path, MAX_YAML_BYTES, error, what)
    return parse_yaml(text, shown, error)


def strip_lines(value: Any) -> Any:
    """A parsed document without the ``__line__``/``__lines__`` bookkeeping keys."""
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k not in ("__line__", "__lines__")}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value


# --------------------------------------------------------------------------------------
# field readers of a parsed mapping
# --------------------------------------------------------------------------------------


def line_of(mapping: dict, key: str | None = None) -> int | None:
    """The line of ``key`` in ``mapping`` (or of the mapping itself)."""
    if key is not None and key in mapping.get("__lines__", {}):
        return mapping["__lines__"][key]
    return mapping.get("__line__")


def check_keys(mapping: dict, allowed: set[str], path: str, where: str) -> None:
    """Refuse a key that is not ``allowed``, suggesting the closest one."""
    for key in mapping.get("__lines__", {}):
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            # a key with a control character is named by its repr: the refusal stays one line
            name = key if isinstance(key, str) and key.isprintable() else repr(key)
            raise CalendarError(f"unknown key {key!r}{hint}", path=path,
                                line=line_of(mapping, key), field=f"{where}{name}".lstrip("."))


def require(mapping: dict, key: str, path: str, where: str) -> Any:
    """The value of a required field (not null, not blank)."""
    value = mapping.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CalendarError("missing required field", path=path, line=line_of(mapping, key),
                            field=f"{where}.{key}")
    return value


def text(mapping: dict, key: str, path: str, where: str, required: bool = True) -> str | None:
    """A text field: a string (or a plain number written without quotes), stripped.

    A list, a mapping, true/false or null where text is expected is refused."""
    value = require(mapping, key, path, where) if required else mapping.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        kind = {list: "a list", dict: "a mapping", bool: "true/false"}.get(type(value),
                                                                       type(value).__name__)
        raise CalendarError(f"must be text, got {kind}", path=path, line=line_of(mapping, key),
                            field=f"{where}.{key}".lstrip("."))
    return str(value).strip()


def choice(mapping: dict, key: str, allowed: tuple[str, ...], path: str, where: str) -> str:
    """One of ``allowed`` (case-insensitive)."""
    value = require(mapping, key, path, where)
    if not isinstance(value, str) or value.strip().lower() not in allowed:
        raise CalendarError(f"must be one of {', '.join(allowed)}, got {value!r}", path=path,
                            line=line_of(mapping, key), field=f"{where}.{key}")
    return value.strip().lower()


def date(mapping: dict, key: str, path: str, where: str) -> dt.date | None:
    """An optional plain date (YYYY-MM-DD)."""
    raw = mapping.get(key)
    if raw is None:
        return None
    try:
        if not isinstance(raw, str):
            raise TypeError
        return dt.date.fromisoformat(raw.strip())
    except (TypeError, ValueError):
        raise CalendarError(f"not a date (YYYY-MM-DD): {raw!r}", path=path,
                            line=line_of(mapping, key), field=f"{where}.{key}") from None


def number(mapping: dict, key: str, path: str, where: str, low: float, high: float,
           low_open: bool = False) -> float:
    """A required number in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    value = require(mapping, key, path, where)
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and (low < value if low_open else low <= value) and value <= high)
    if not ok:
        span = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise CalendarError(f"must be a number in {span}, got {value!r}", path=path,
                            line=line_of(mapping, key), field=f"{where}.{key}")
    return float(value)
