"""Files shipped inside the package, found by name: calendars and exposure maps.

A reference given by a user (``openai``, ``my_calendar.yaml``, ``data/cal.yaml``) is a
path when it names an existing file or looks like one (it has a suffix or a folder);
otherwise it is the name of a bundled file (``events/calendars/openai.yaml``). This is
the one place that rule lives.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

FOLDERS = {"calendar": "calendars", "exposure map": "exposure"}


def bundled_path(kind: str, name: str) -> Path:
    """Where the bundled file ``name`` of ``kind`` ("calendar", "exposure map") would be."""
    return Path(str(resources.files("events") / FOLDERS[kind] / f"{name}.yaml"))


def bundled_names(kind: str) -> list[str]:
    """Names of the bundled files of ``kind``, sorted."""
    folder = Path(str(resources.files("events") / FOLDERS[kind]))
    return sorted(p.stem for p in folder.glob("*.yaml"))


def resolve(ref: str | Path, kind: str, base: str | Path | None = None) -> Path:
    """The file a user's reference means: a path (relative to ``base`` if given) or a
    bundled name. A reference that is neither comes back as a path, so that the caller
    reports "no such file" with the path the user wrote."""
    text = str(ref)
    path = Path(text) if base is None else Path(base) / text
    if path.exists() or Path(text).suffix or "/" in text or "\\" in text:
        return path
    bundled = bundled_path(kind, text)
    return bundled if bundled.exists() else path
