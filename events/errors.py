"""The errors raised for input a user gave us that we refuse, one class per kind.

``str(error)`` is one line that names the file, the line (when known) and the
field, e.g. ``cal.yaml:12: events[2].sentiment.score: must be between 0 and
100, got 140``; the command line prints it and exits with code 2. Catch
:class:`InputError` for any refusal, or one kind:

=====================  ===========================================================
class                  raised for
=====================  ===========================================================
:class:`CalendarError`  event calendars, headline files and exposure maps
:class:`PriceDataError` price and factor data: files, the cache, missing tickers,
                       events outside the data
:class:`ConfigError`    settings: study and cost options, strategy parameters,
                       experiment files, command-line values
:class:`OutputError`    an output target the tool will not write: a folder or file
                       it did not write itself, a read-only place
=====================  ===========================================================

They live in the bottom package of the import graph so that every package
(the engine, strategies, the application) raises them without importing the others.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a missing file, malformed YAML, an invalid field.

    ``path``, ``line`` and ``field`` say where; ``reason`` is the message alone. A table
    without lines (a parquet file) names its ``row`` instead (1 is the first row):
    ``bars.parquet: row 17: close: ...``.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 field: str | None = None, row: int | None = None):
        self.path, self.line, self.field, self.reason = path, line, field, message
        self.row = row
        where = ""
        if path:
            where = (f"{path}:{line}: " if line else f"{path}: row {row}: " if row
                     else f"{path}: ")
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{message}")


class CalendarError(InputError):
    """A calendar, headline file or exposure map that cannot be read or is invalid."""


class PriceDataError(InputError):
    """Price or factor data that cannot be read, is invalid, or does not cover the request."""


class ConfigError(InputError):
    """A setting that is invalid: study or cost options, strategy parameters, experiments."""


class OutputError(InputError):
    """An output target that would replace something the tool did not write, or that
    cannot be written (read-only, not a folder)."""
