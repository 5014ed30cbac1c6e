"""The settings of an event study, with their defaults: :class:`StudyConfig`.

This is the one source of the study's defaults: the command line, the Python
API and experiment files all read them from here.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Mapping

import numpy as np
import pandas as pd

from backtest.data.store import DEFAULT_MARKET
from backtest.eventstudy.models import MODELS
from events.errors import ConfigError

DEFAULT_CAR_WINDOWS = ((-1, 1), (0, 0), (0, 1), (0, 5), (2, 10), (-5, 10))
MAX_ESTIMATION = 5_000  # sessions (about 20 years of daily data)
MAX_EVENT_WINDOW = 1_000  # sessions from the first to the last day of the event window
MAX_PSEUDO_DRAWS = 1_000_000
RETURNS = ("simple", "log")
MEASURES = ("return", "volume", "volatility")
# Normal-volume models of an abnormal-volume study (Campbell and Wasley 1996): the
# estimation-window mean of log volume, or a market model on the market's log volume.
VOLUME_MODELS = ("constant_mean", "market")


@dataclass(frozen=True)
class StudyConfig:
    """Settings of an event study; every default is the one the docs describe.

    model : normal-return model, a name of :data:`backtest.eventstudy.models.MODELS`
    market : the benchmark ticker (market model, strategy metrics, charts)
    factors : tickers used as factors by ``model="factors"``
    returns : "simple" or "log"
    estimation_length, gap : estimation window of ``estimation_length`` sessions
        ending ``gap + 1`` sessions before day 0
    estimation_dates : ("YYYY-MM-DD", "YYYY-MM-DD"), the first and last date of one
        estimation window for every pair, by calendar dates instead (a quiet period
        before the news); the study sets ``estimation_length`` to the sessions inside,
        ``gap`` is not used, and a pair whose event window meets those dates is skipped
    event_window : first and last relative day of the event window
    car_windows : (start, end) windows whose CARs and tests are reported
    min_estimation_obs : fewest usable estimation returns for a pair to be studied
    exclude_other_events : leave other events' windows of a ticker out of its estimation
    group_by : pair columns or event tags that define the CAAR and test groups
    pseudo_draws, seed : random pseudo-event-date test (0 draws: off)
    move_threshold : data quality, flag one-day moves beyond this away from events
    exclude_flagged : leave out (as skipped, with the reason) pairs whose ticker has a bad
        tick (a one-day move beyond five-fold up or 80% down) in its estimation or event
        window; a universe study turns it on (``--keep-flagged`` turns it off)
    winsorize, trim : share of each tail of a group's CARs set to the nearest kept CAR
        (winsorize) or left out (trim) before the CAR tests of that group and window
        (at most one of them; 0: off; below 0.5)
    measure : what is studied: "return" (abnormal returns, the default) or "volume"
        (abnormal log volume, Campbell and Wasley 1996: V_it = ln(volume_it + 0.000255),
        abnormal volume = V_it minus its normal value from ``model``, constant_mean or
        market on the market's log volume; see :func:`backtest.eventstudy.engine.run_study`)
        or "volatility" (abnormal volatility ``SAR_it^2 - 1``: each AR squared over its
        variance from the model, 0 when the day moved as much as usual; with
        ``model="garch"`` the variance is the GARCH forecast)
    """

    model: str = "market"
    market: str = DEFAULT_MARKET
    factors: tuple[str, ...] = ()
    returns: str = "simple"
    estimation_length: int = 250
    gap: int = 10
    event_window: tuple[int, int] = (-5, 10)
    car_windows: tuple[tuple[int, int], ...] = DEFAULT_CAR_WINDOWS
    min_estimation_obs: int = 120
    exclude_other_events: bool = True
    group_by: tuple[str, ...] = ("label", "role")
    pseudo_draws: int = 999
    seed: int = 20260428
    move_threshold: float = 0.25
    exclude_flagged: bool = False
    winsorize: float = 0.0
    trim: float = 0.0
    estimation_dates: tuple[str, ...] = ()
    measure: str = "return"

    def __post_init__(self):
        object.__setattr__(self, "event_window", tuple(self.event_window))
        object.__setattr__(self, "car_windows", tuple(tuple(w) for w in self.car_windows))
        object.__setattr__(self, "factors", tuple(self.factors))
        object.__setattr__(self, "group_by", tuple(self.group_by))
        object.__setattr__(self, "estimation_dates", tuple(self.estimation_dates))
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r} (one of {', '.join(MODELS)})",
                              field="model")
        if self.returns not in RETURNS:
            raise ConfigError(f"returns must be 'simple' or 'log', got {self.returns!r}",
                              field="returns")
        if self.measure not in MEASURES:
            raise ConfigError(f"measure must be one of {', '.join(MEASURES)}, got "
                              f"{self.measure!r}",
                              field="measure")
        if self.measure == "volume" and self.model not in VOLUME_MODELS:
            raise ConfigError(f"model {self.model!r} does not apply to measure 'volume' "
                              f"(abnormal log volume: constant_mean or market)",
                              field="measure")
        if self.measure == "volume" and self.returns != "simple":
            raise ConfigError("returns 'log' does not apply to measure 'volume' (it already "
                              "studies log volume; leave returns at simple)", field="measure")
        a, b = self.event_window
        if a > 0 or b < 0:
            raise ConfigError(f"event window must contain day 0, got ({a}, {b})",
                              field="event_window")
        if self.estimation_length < 3 or self.gap < 0:
            raise ConfigError("estimation_length must be >= 3 and gap >= 0",
                              field="estimation_length")
        if self.estimation_dates:
            _check_dates(self.estimation_dates)
            if MODELS[self.model].conditional_variance:
                raise ConfigError(f"model {self.model!r} forecasts each pair's variance from "
                                  f"just before its event window: it needs the estimation "
                                  f"window by sessions, not estimation_dates", field="model")
        elif -(self.gap + 1) >= a:
            raise ConfigError(f"estimation window (ends at day {-(self.gap + 1)}) overlaps the "
                              f"event window starting at day {a}", field="gap")
        for s, e in self.car_windows:
            if not (a <= s <= e <= b):
                raise ConfigError(f"CAR window ({s}, {e}) is not inside the event window "
                                  f"({a}, {b})", field="car_windows")
        if not 3 <= self.min_estimation_obs <= self.estimation_length:
            raise ConfigError("min_estimation_obs must be between 3 and estimation_length",
                              field="min_estimation_obs")
        # Bounds that keep every per-pair array small (and refuse a typo like 2500000).
        if self.estimation_length > MAX_ESTIMATION or self.gap > MAX_ESTIMATION:
            raise ConfigError(f"estimation_length and gap must be at most {MAX_ESTIMATION} "
                              f"sessions", field="estimation_length")
        if b - a + 1 > MAX_EVENT_WINDOW:
            raise ConfigError(f"event window ({a}, {b}) is longer than {MAX_EVENT_WINDOW} "
                              f"sessions", field="event_window")
        if not 0 <= self.pseudo_draws <= MAX_PSEUDO_DRAWS:
            raise ConfigError(f"pseudo_draws must be between 0 (off) and {MAX_PSEUDO_DRAWS:,}, "
                              f"got {self.pseudo_draws}", field="pseudo_draws")
        if not 0 <= self.seed < 2 ** 63:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed}",
                              field="seed")
        if not (np.isfinite(self.move_threshold) and self.move_threshold > 0):
            raise ConfigError(f"move_threshold must be a positive number, got "
                              f"{self.move_threshold}", field="move_threshold")
        for name in ("winsorize", "trim"):
            share = getattr(self, name)
            if not (np.isfinite(share) and 0 <= share < 0.5):
                raise ConfigError(f"{name} is the share cut from each tail: at least 0 and "
                                  f"below 0.5, got {share}", field=name)
        if self.winsorize and self.trim:
            raise ConfigError("winsorize and trim are two answers to one question: give one",
                              field="trim")
        if len(set(self.factors)) != len(self.factors):
            raise ConfigError(f"a factor is listed twice: {', '.join(self.factors)}",
                              field="factors")
        if len(set(self.group_by)) != len(self.group_by):
            raise ConfigError(f"a grouping is listed twice: {', '.join(self.group_by)}",
                              field="group_by")

    @property
    def estimation_offsets(self) -> np.ndarray:
        end = -(self.gap + 1)
        return np.arange(end - self.estimation_length + 1, end + 1)

    @property
    def event_offsets(self) -> np.ndarray:
        return np.arange(self.event_window[0], self.event_window[1] + 1)

    def as_dict(self) -> dict:
        """The settings as plain JSON-able values (tuples as lists)."""
        out = asdict(self)
        out["event_window"] = list(self.event_window)
        out["car_windows"] = [list(w) for w in self.car_windows]
        out["factors"] = list(self.factors)
        out["group_by"] = list(self.group_by)
        # Settings added later are left out at their defaults: settings stored before
        # them (baselines, settings hashes) stay equal.
        out["estimation_dates"] = list(self.estimation_dates)
        for name, default in (("exclude_flagged", False), ("winsorize", 0.0), ("trim", 0.0),
                              ("estimation_dates", []), ("measure", "return")):
            if out[name] == default:
                del out[name]
        return out

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], path: str | None = None,
                     where: str = "study", lines: Mapping[str, int] | None = None
                     ) -> "StudyConfig":
        """A config from a mapping of its field names (an experiment's ``study:`` block).

        Unknown keys and values of the wrong type are refused, naming ``where.key`` (and
        its line, from ``lines``).
        """
        lines = lines or {}
        if not isinstance(mapping, Mapping):
            raise ConfigError("must be a mapping of study settings", path=path, field=where)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in mapping.items():
            key = str(key)
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(f"unknown study setting {key!r}{hint}", path=path,
                                  line=lines.get(key), field=f"{where}.{key}")
            values[key] = _typed(value, fields[key].default, path, f"{where}.{key}",
                                 lines.get(key))
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(exc.reason, path=path, line=lines.get(exc.field),
                              field=f"{where}.{exc.field}") from None


def _check_dates(dates: tuple) -> None:
    """Two ISO dates, the first before the second."""
    if len(dates) != 2 or not all(isinstance(d, str) for d in dates):
        raise ConfigError(f"estimation_dates must be two dates, first and last, got "
                          f"{list(dates)!r}"[:200], field="estimation_dates")
    try:
        first, last = (pd.Timestamp(date.fromisoformat(d)) for d in dates)
    except ValueError:
        raise ConfigError(f"estimation_dates must be YYYY-MM-DD dates, got {list(dates)!r}"
                          [:200], field="estimation_dates") from None
    if first >= last:
        raise ConfigError(f"estimation_dates: the first ({dates[0]}) must be before the "
                          f"last ({dates[1]})", field="estimation_dates")


def _typed(value: Any, default: Any, path: str | None, field: str, line: int | None = None
           ) -> Any:
    """``value`` checked against the type of the field's default (lists become tuples)."""
    def bad(kind: str) -> ConfigError:
        return ConfigError(f"must be {kind}, got {value!r}"[:200], path=path, line=line,
                           field=field)

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not np.isfinite(value):
            raise bad("a finite number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise bad("text")
        return value
    if not isinstance(value, (list, tuple)):
        raise bad("a list")
    if default and isinstance(default[0], tuple) or field.endswith("car_windows"):
        if not all(isinstance(w, (list, tuple)) and len(w) == 2
                   and all(isinstance(x, int) and not isinstance(x, bool) for x in w)
                   for w in value):
            raise bad("a list of [start, end] pairs of integers")
        return tuple(tuple(w) for w in value)
    if field.endswith("event_window"):
        if len(value) != 2 or not all(isinstance(x, int) and not isinstance(x, bool)
                                      for x in value):
            raise bad("[start, end], two integers")
        return tuple(value)
    if not all(isinstance(x, str) for x in value):
        raise bad("a list of names")
    return tuple(value)
