"""The one error type for input a user gave us that we refuse."""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a missing file, malformed YAML, an invalid field.

    ``str(error)`` is one line that names the file, the line (when known) and
    the field, e.g. ``cal.yaml:12: events[2].sentiment.score: must be between
    0 and 100, got 140``. The CLI prints it and exits with code 2.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.path, self.line, self.field, self.reason = path, line, field, message
        where = ""
        if path:
            where = f"{path}:{line}: " if line else f"{path}: "
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{message}")
