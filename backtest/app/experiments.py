"""Experiments and baselines: strategy metrics under CI.

An experiment file (YAML) names everything a run depends on and the metrics
to guard::

    name: demo-short-partners            # default: the file name
    calendar: openai                     # bundled name, or a path relative to this file
    data: {prices: bundled}              # bundled (snapshot, then cache; never the network)
                                         # or a CSV path relative to this file
    study: {market: SPY}                 # optional StudyConfig fields; market is the benchmark
    strategy:
      name: short_partners_on_bad_news   # or package.module:Class, or path/to/file.py:Class
      params: {hold: 5, threshold: 60}
    strategies_dir: my_strategies        # optional plug-in folder, relative to this file
    costs: {fees: 0.0005, fixed_fees: 0, slippage: 0.0005, borrow_rate: 0.0,
            borrow: {CRWV: 0.08}}
    init_cash: 100000
    sweep:                               # optional: run every combination, keep the best
      grid: {hold: [1, 3, 5], threshold: [50, 60]}   # strategy params above stay fixed
      metric: sharpe                     # how the best is chosen (default sharpe)
      walk_forward: 3                    # optional folds of news days
    guard:                               # metric: tolerance
      sharpe: {abs: 0.01}                # |now - baseline| <= 0.01
      total_return: {rel: 0.001}         # |now - baseline| <= 0.001 * |baseline|
      max_drawdown: {abs: 0.001, rel: 0.01}   # within either bound
      trades: exact                      # equal

With ``sweep``, the guarded metrics are the best combination's, beside the figures that
say how far it can be trusted (``dsr``, ``pbo``, ``spa_p``, ``wf_oos_mean``, ...).

A baseline (JSON, ``<baselines>/<name>.json``) stores the guarded metrics, their
tolerances, the data hash, package versions and when it was created.
Differences are computed in decimal from the shortest float representation, so
a value exactly on the bound (1.01 against 1.00 with ``abs: 0.01``) passes.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from backtest.eventstudy.config import StudyConfig
from backtest.io import clean, dumps, path_name, read_json, write_atomic
from backtest.sim.costs import DEFAULT_INIT_CASH
from events.files import resolve
from events.yamlio import read_yaml, strip_lines
from events.errors import ConfigError, InputError

TOP_KEYS = {"name", "description", "calendar", "data", "study", "strategy", "strategies_dir",
            "costs", "init_cash", "guard", "sweep"}
SWEEP_KEYS = {"grid", "metric", "walk_forward"}
COST_KEYS = {"fees", "fixed_fees", "slippage", "borrow_rate", "borrow"}
PASSING = ("ok", "updated", "created", "unchanged")  # statuses that do not fail a check


@dataclass(frozen=True)
class Tolerance:
    """How far a metric may move: ``exact``, or within ``abs`` or ``rel`` (either passes)."""

    exact: bool = False
    abs: float | None = None
    rel: float | None = None

    def to_json(self) -> Any:
        if self.exact:
            return "exact"
        return {k: v for k, v in (("abs", self.abs), ("rel", self.rel)) if v is not None}

    def text(self) -> str:
        if self.exact:
            return "exact"
        parts = [f"abs {self.abs:g}" if self.abs is not None else "",
                 f"rel {self.rel:g}" if self.rel is not None else ""]
        return " or ".join(p for p in parts if p)

    def allows(self, baseline: float | None, now: float | None) -> bool:
        """True when ``now`` is within tolerance of ``baseline`` (NaN/None equal only to itself)."""
        b_missing = baseline is None or (isinstance(baseline, float) and math.isnan(baseline))
        n_missing = now is None or (isinstance(now, float) and math.isnan(now))
        if b_missing or n_missing:
            return b_missing and n_missing
        diff = abs(Decimal(repr(float(now))) - Decimal(repr(float(baseline))))
        if self.exact:
            return diff == 0
        ok = False
        if self.abs is not None:
            ok |= diff <= Decimal(repr(self.abs))
        if self.rel is not None:
            ok |= diff <= Decimal(repr(self.rel)) * abs(Decimal(repr(float(baseline))))
        return ok


def parse_tolerance(raw: Any, where: str, path: str, line: int | None = None) -> Tolerance:
    if raw == "exact":
        return Tolerance(exact=True)
    keys = set(_keys(raw)) if isinstance(raw, dict) else set()
    if not isinstance(raw, dict) or not keys or keys - {"abs", "rel"}:
        raise ConfigError("tolerance must be 'exact' or a mapping with abs and/or rel",
                          path=path, line=line, field=where)
    for key in keys:
        _number(raw, key, path, where, minimum=0.0)
    return Tolerance(abs=raw.get("abs"), rel=raw.get("rel"))


# --------------------------------------------------------------------------------------
# typed fields of an experiment file (each refusal names the file, the line and the field)
# --------------------------------------------------------------------------------------


def _keys(mapping: dict) -> list:
    return [k for k in mapping if k not in ("__line__", "__lines__")]


def _line(mapping: dict, key: str | None = None) -> int | None:
    lines = mapping.get("__lines__", {}) if isinstance(mapping, dict) else {}
    return lines.get(key, mapping.get("__line__") if isinstance(mapping, dict) else None)


def _field(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _text(mapping: dict, key: str, path: str, where: str = "", required: bool = False
          ) -> str | None:
    value = mapping.get(key)
    if value is None:
        if required or key in _keys(mapping):
            raise ConfigError("missing required field" if required else "must be set, not null",
                              path=path, line=_line(mapping, key), field=_field(where, key))
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) \
            or not str(value).strip():
        raise ConfigError(f"must be text, got {value!r}"[:200], path=path,
                          line=_line(mapping, key), field=_field(where, key))
    return str(value).strip()


def _number(mapping: dict, key: str, path: str, where: str = "", minimum: float = 0.0,
            strict: bool = False) -> float:
    """A finite number >= ``minimum`` (> with ``strict``); true/false, text, NaN refused."""
    value = mapping.get(key)
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and math.isfinite(value) and (value > minimum if strict else value >= minimum))
    if not ok:
        bound = f"{'>' if strict else '>='} {minimum:g}"
        raise ConfigError(f"must be a finite number {bound}, got {value!r}"[:200], path=path,
                          line=_line(mapping, key), field=_field(where, key))
    return float(value)


def _mapping(mapping: dict, key: str, path: str, where: str = "", allowed: set | None = None
             ) -> dict:
    value = mapping.get(key)
    if value is None:
        if key in _keys(mapping):
            raise ConfigError("must be a mapping, not null", path=path, line=_line(mapping, key),
                              field=_field(where, key))
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"must be a mapping, got {type(value).__name__}", path=path,
                          line=_line(mapping, key), field=_field(where, key))
    if allowed is not None:
        for k in _keys(value):
            if k not in allowed:
                raise ConfigError(f"unknown key {k!r} (known: {', '.join(sorted(allowed))})",
                                  path=path, line=_line(value, k),
                                  field=_field(_field(where, key), str(k)))
    return value


def _param(value: Any, path: str, line: int | None, field: str) -> Any:
    """A strategy parameter: a plain value or a list of plain values (roles: [a, b])."""
    plain = (str, int, float, bool)
    if isinstance(value, list) and all(isinstance(v, plain) for v in value):
        return tuple(value)
    if value is None or not isinstance(value, plain) \
            or (isinstance(value, float) and not math.isfinite(value)):
        raise ConfigError(f"must be a plain value (text, number, true/false) or a list of "
                          f"them, got {value!r}"[:200], path=path, line=line, field=field)
    return value


@dataclass(frozen=True)
class Experiment:
    """A parsed experiment file (see the module docstring)."""

    name: str
    path: Path
    calendar: str
    prices: str  # "bundled" or a CSV path
    strategy: str
    params: dict
    costs: dict
    init_cash: float
    guard: dict[str, Tolerance]
    study: StudyConfig = field(default_factory=StudyConfig)
    strategies_dir: Path | None = None  # a plug-in folder the experiment names
    lines: dict = field(default_factory=dict)  # "strategy.params.hold" -> its line
    sweep: dict | None = None  # {"grid": {...}, "metric": ..., "walk_forward": K or None}

    @property
    def strategy_ref(self) -> str:
        """The strategy name, with a ``file.py:Class`` path made relative to the file."""
        where, sep, attr = self.strategy.rpartition(":")
        if sep and (where.endswith(".py") or "/" in where):
            return f"{self.path.parent / where}:{attr}"
        return self.strategy

    @property
    def calendar_path(self) -> Path:
        """The calendar: a path relative to the experiment file, or a bundled name."""
        return resolve(self.calendar, "calendar", base=self.path.parent)

    @property
    def prices_path(self) -> Path:
        """The prices CSV, relative to the experiment file (when not ``bundled``)."""
        return self.path.parent / self.prices


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; refuse anything malformed with file, line and
    field (:func:`events.yamlio.read_yaml`: no duplicate keys, bounded)."""
    path = Path(path)
    shown = str(path)
    doc = read_yaml(path, ConfigError, "YAML experiment")
    if not isinstance(doc, dict):
        raise ConfigError("an experiment must be a YAML mapping", path=shown, line=1)
    for key in _keys(doc):
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(str(key), sorted(TOP_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown key {key!r}{hint}", path=shown, line=_line(doc, key),
                              field=str(key))
    for key in ("calendar", "strategy", "guard"):
        if key not in doc:
            raise ConfigError("missing required key", path=shown, line=1, field=key)
    strategy = doc["strategy"]
    if isinstance(strategy, str):
        strategy = {"name": strategy, "__line__": _line(doc, "strategy")}
    if not isinstance(strategy, dict):
        raise ConfigError("must be a name or {name, params}", path=shown,
                          line=_line(doc, "strategy"), field="strategy")
    _mapping({"strategy": strategy}, "strategy", shown, allowed={"name", "params"})
    name = _text(strategy, "name", shown, "strategy", required=True)
    params_raw = _mapping(strategy, "params", shown, "strategy")
    params = {str(k): _param(params_raw[k], shown, _line(params_raw, k), f"strategy.params.{k}")
              for k in _keys(params_raw)}
    costs = _mapping(doc, "costs", shown, allowed=COST_KEYS)
    for key in _keys(costs):
        if key != "borrow":
            _number(costs, key, shown, "costs")
    borrow = _mapping(costs, "borrow", shown, "costs")
    for ticker in _keys(borrow):
        _number(borrow, ticker, shown, "costs.borrow")
    guard = _mapping(doc, "guard", shown)
    if not _keys(guard):
        raise ConfigError("guard must map metric names to tolerances", path=shown,
                          line=_line(doc, "guard"), field="guard")
    data = _mapping(doc, "data", shown, allowed={"prices"})
    prices = _text(data, "prices", shown, "data") or "bundled"
    study_raw = _mapping(doc, "study", shown)
    study = StudyConfig.from_mapping(strip_lines(study_raw), path=shown,
                                     lines=study_raw.get("__lines__", {}))
    init_cash = (_number(doc, "init_cash", shown, strict=True) if "init_cash" in doc
                 else DEFAULT_INIT_CASH)
    folder = _text(doc, "strategies_dir", shown)
    sweep = _sweep(doc, shown) if "sweep" in _keys(doc) else None
    return Experiment(
        name=_text(doc, "name", shown) or path.stem, path=path,
        calendar=_text(doc, "calendar", shown, required=True), prices=prices, strategy=name,
        params=params, costs=strip_lines(costs), init_cash=init_cash,
        guard={str(k): parse_tolerance(guard[k], f"guard.{k}", shown, _line(guard, k))
               for k in _keys(guard)},
        study=study, strategies_dir=path.parent / folder if folder else None,
        lines={**{f"strategy.params.{k}": _line(params_raw, k) for k in _keys(params_raw)},
               "strategy": _line(doc, "strategy")},
        sweep=sweep)


def _sweep(doc: dict, shown: str) -> dict:
    """The ``sweep`` block: a grid of parameter lists, the metric, optional folds."""
    from backtest.sim.metrics import BENCHMARK_METRICS, METRICS

    raw = _mapping(doc, "sweep", shown, allowed=SWEEP_KEYS)
    grid_raw = _mapping(raw, "grid", shown, "sweep")
    if not _keys(grid_raw):
        raise ConfigError("missing required field (a mapping of parameter: [values])",
                          path=shown, line=_line(doc, "sweep"), field="sweep.grid")
    grid = {}
    for key in _keys(grid_raw):
        values = grid_raw[key]
        where = f"sweep.grid.{key}"
        if not isinstance(values, list) or not values:
            raise ConfigError("must be a non-empty list of values", path=shown,
                              line=_line(grid_raw, key), field=where)
        grid[str(key)] = [_param(v, shown, _line(grid_raw, key), where) for v in values]
    metric = _text(raw, "metric", shown, "sweep") or "sharpe"
    if metric not in METRICS + BENCHMARK_METRICS:
        raise ConfigError(f"unknown metric {metric!r} (one of "
                          f"{', '.join(METRICS + BENCHMARK_METRICS)})", path=shown,
                          line=_line(raw, "metric"), field="sweep.metric")
    folds = raw.get("walk_forward")
    if folds is not None and (isinstance(folds, bool) or not isinstance(folds, int)
                              or folds < 1):
        raise ConfigError(f"must be a positive number of folds, got {folds!r}"[:200],
                          path=shown, line=_line(raw, "walk_forward"),
                          field="sweep.walk_forward")
    return {"grid": grid, "metric": metric, "walk_forward": folds}


def is_experiment(path: str | Path) -> bool:
    """True for a YAML mapping with ``strategy`` and ``guard`` (not an event calendar)."""
    try:
        doc = read_yaml(path, ConfigError)
    except InputError:  # the calendar loader will report the problem
        return False
    return isinstance(doc, dict) and "strategy" in doc and "guard" in doc


def experiment_inputs(exp: Experiment):
    """(calendar, prices, strategy, costs, benchmark ticker) of an experiment; offline."""
    from backtest.data import PriceStore, load_panel, read_price_csv
    from backtest.sim.costs import Costs
    from events.loader import load_calendar
    from strategies import get_strategy

    cal = load_calendar(exp.calendar_path)
    try:
        strategy = get_strategy(exp.strategy_ref, folder=exp.strategies_dir, **exp.params)
    except ConfigError as exc:  # name the experiment's line of the parameter
        where = (f"strategy.params.{exc.field}" if f"strategy.params.{exc.field}" in exp.lines
                 else "strategy")
        raise ConfigError(exc.reason, path=str(exp.path), line=exp.lines.get(where),
                          field=where) from None
    market = exp.study.market
    if exp.prices == "bundled":
        panel = load_panel(cal, market, PriceStore(offline=True))
    else:
        panel, _ = read_price_csv(exp.prices_path)
    return cal, panel, strategy, Costs.from_mapping(exp.costs), market


def experiment_sweep(exp: Experiment, cal, panel, strategy, costs, market):
    """The experiment's sweep: (SweepResult, SweepInference, the best strategy)."""
    from backtest.sim.sweeps import expand_grid, run_sweep

    grid, fixed = exp.sweep["grid"], {k: v for k, v in exp.params.items()
                                      if k not in exp.sweep["grid"]}
    cls = type(strategy)
    try:
        result = run_sweep(cal, panel, cls, grid, fixed, costs, exp.init_cash, progress=False,
                           benchmark=market)
        inference = result.inference(exp.sweep["metric"], folds=exp.sweep["walk_forward"])
    except ConfigError as exc:
        raise ConfigError(exc.reason, path=str(exp.path), field=f"sweep.{exc.field}"
                          if exc.field else "sweep") from None
    return result, inference, cls(**fixed, **expand_grid(grid)[inference.best])


def run_experiment(exp: Experiment):
    """Run the experiment's strategy (with ``sweep``: the sweep's best, its metrics joined by
    the sweep's inference figures); returns the StrategyRun (metrics, data hash)."""
    from backtest.sim.runs import run_strategy

    cal, panel, strategy, costs, market = experiment_inputs(exp)
    inference = None
    if exp.sweep is not None:
        _, inference, strategy = experiment_sweep(exp, cal, panel, strategy, costs, market)
    run = run_strategy(cal, panel, strategy, costs, exp.init_cash, benchmark=market)
    if inference is not None:
        run.metrics.update(inference.as_metrics())
    return run


def baseline_path(exp: Experiment, baselines: Path | None) -> Path:
    folder = Path(baselines) if baselines else exp.path.parent / "baselines"
    return folder / f"{path_name(exp.name, 'name')}.json"


def make_baseline(exp: Experiment, run) -> dict:
    from backtest.app.jobs import versions

    missing = sorted(set(exp.guard) - set(run.metrics))
    if missing:
        raise ConfigError(f"guarded metric {missing[0]!r} does not exist (metrics: "
                          f"{', '.join(sorted(run.metrics))})", path=str(exp.path),
                          field=f"guard.{missing[0]}")
    return {
        "experiment": exp.name,
        "metrics": {m: run.metrics[m] for m in sorted(exp.guard)},
        "tolerances": {m: exp.guard[m].to_json() for m in sorted(exp.guard)},
        "data_hash": run.data_hash,
        "settings": settings_of(exp, run),
        "versions": versions(),
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
    }


def read_baseline(path: Path, exp: Experiment) -> dict:
    if not path.is_file():
        raise ConfigError(f"no baseline for experiment {exp.name!r}; create it with: backtest "
                          f"check {exp.path} --update" + (f" --baselines {path.parent}"
                                                          if path.parent != exp.path.parent /
                                                          "baselines" else ""),
                          path=str(path))
    try:
        doc = read_json(path, ConfigError)
    except ConfigError as exc:
        raise ConfigError(f"corrupted baseline ({exc.reason}); recreate it with "
                          f"backtest check {exp.path} --update", path=str(path)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict) \
            or "data_hash" not in doc:
        raise ConfigError("corrupted baseline (missing 'metrics' or 'data_hash'); recreate it "
                          f"with backtest check {exp.path} --update", path=str(path))
    for k, v in doc["metrics"].items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))
                              or not math.isfinite(v)):
            raise ConfigError(f"corrupted baseline: metric {k!r} is not a number", path=str(path))
    return doc


def _is_baseline(path: Path) -> bool:
    """A file this tool wrote as a baseline (it is replaced by ``--update``; nothing else is)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and {"experiment", "metrics", "data_hash"} <= set(doc)


@dataclass
class CheckResult:
    """The comparison of one experiment with its baseline."""

    experiment: str
    rows: list[dict]  # metric, baseline, now, difference, tolerance, status
    data_changed: bool
    versions_changed: dict[str, tuple[str, str]]
    baseline_file: str
    settings_changed: list[str] = field(default_factory=list)
    written: bool = False

    @property
    def passed(self) -> bool:
        """Every guarded metric within its tolerance. An improvement beyond it fails too:
        the baseline no longer describes the strategy until it is updated on purpose."""
        return all(r["status"] in ("ok", "unchanged") for r in self.rows)


def verdict(metric: str, base: float | None, now: float | None, tol: Tolerance) -> str:
    """``ok`` within tolerance; outside it ``improved`` or ``regressed`` by the metric's
    better direction (:data:`backtest.sim.metrics.METRIC_INFO`), ``changed`` for a metric
    with no better direction (trades, exposure) or a value that appeared or vanished."""
    from backtest.sim.metrics import METRIC

    if tol.allows(base, now):
        return "ok"
    better = METRIC[metric].better if metric in METRIC else 0
    if base is None or now is None or not better:
        return "changed"
    return "improved" if (now - base) * better > 0 else "regressed"


def settings_of(exp: Experiment, run) -> dict:
    """What the experiment's numbers depend on, stored in its baseline so that a later
    check can say what changed (``strategy.params.hold: 5 -> 10``)."""
    return clean({"strategy": exp.strategy, "params": run.params, "costs": exp.costs,
                  "init_cash": exp.init_cash, "calendar": exp.calendar, "prices": exp.prices,
                  "study": exp.study.as_dict(), "data_range": run.data_range,
                  **({"sweep": exp.sweep} if exp.sweep is not None else {})})


def _flatten(doc: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: doc}


def setting_changes(old: dict | None, new: dict) -> list[str]:
    """``key: old -> new`` for every setting that differs (empty without stored settings)."""
    if not old:
        return []
    a, b = _flatten(old), _flatten(new)
    return [f"{k}: {a.get(k, '(none)')} -> {b.get(k, '(none)')}"
            for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def compare(exp: Experiment, baseline: dict, run) -> CheckResult:
    from backtest.app.jobs import versions

    rows = []
    for metric in sorted(exp.guard):
        tol = exp.guard[metric]
        base = baseline["metrics"].get(metric)
        now = clean(run.metrics.get(metric))
        status = "new" if metric not in baseline["metrics"] else verdict(metric, base, now, tol)
        diff = (None if base is None or now is None
                else float(Decimal(repr(float(now))) - Decimal(repr(float(base)))))
        rows.append({"metric": metric, "baseline": base, "now": now, "difference": diff,
                     "tolerance": tol.text(), "status": status})
    current = versions()
    changed = {k: (v, current.get(k, "")) for k, v in (baseline.get("versions") or {}).items()
               if current.get(k) != v}
    return CheckResult(exp.name, rows, baseline.get("data_hash") != run.data_hash, changed,
                       "", setting_changes(baseline.get("settings"), settings_of(exp, run)))


def check(paths: list[str | Path], baselines: Path | None = None, update: bool = False
          ) -> list[CheckResult]:
    """Run each experiment and compare it with its baseline (or write it, with ``update``).

    With ``update``, every baseline is rewritten atomically and the result rows
    show what changed (status ``updated`` or ``created``).
    """
    results = []
    experiments = [load_experiment(p) for p in paths]  # refuse bad files before running any
    for exp in experiments:
        path = baseline_path(exp, baselines)
        old = None
        if path.is_file():
            try:
                old = read_baseline(path, exp)
            except InputError:
                if not update:
                    raise
        elif not update:
            read_baseline(path, exp)  # raises: no baseline, says how to create it
        run = run_experiment(exp)
        if update:
            new = make_baseline(exp, run)
            result = compare(exp, old or {"metrics": {}, "data_hash": run.data_hash,
                                          "versions": new["versions"]}, run)
            for row in result.rows:
                row["status"] = "created" if old is None else (
                    "updated" if row["status"] != "ok" else "unchanged")
            same = (old is not None and old.get("data_hash") == new["data_hash"]
                    and old.get("metrics") == clean(new["metrics"])
                    and old.get("tolerances") == new["tolerances"]
                    and old.get("settings") == new["settings"])
            if not same:  # an unchanged baseline keeps its file (and its creation time)
                write_atomic(path, dumps(new), ours=_is_baseline)
            result.written = not same
        else:
            make_baseline(exp, run)  # validates that the guarded metrics exist
            result = compare(exp, old, run)
        result.baseline_file = str(path)
        results.append(result)
    return results


def format_table(results: list[CheckResult]) -> str:
    """The human table: experiment, metric, baseline, now, difference, tolerance, status."""
    def num(v):
        return "null" if v is None else f"{v:.10g}"

    header = ["experiment", "metric", "baseline", "now", "difference", "tolerance", "status"]
    rows = [[r.experiment, row["metric"], num(row["baseline"]), num(row["now"]),
             num(row["difference"]), row["tolerance"], row["status"]]
            for r in results for row in r.rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)) for line in [header, *rows]]
    for r in results:
        if r.data_changed:
            lines.append(f"{r.experiment}: the data hash changed since the baseline: the prices "
                         f"are different, which explains metric changes")
        for pkg, (old, new) in sorted(r.versions_changed.items()):
            lines.append(f"{r.experiment}: {pkg} changed {old} -> {new} since the baseline")
        for change in r.settings_changed:
            lines.append(f"{r.experiment}: setting changed since the baseline: {change}")
        if not r.data_changed and not r.versions_changed and not r.settings_changed:
            lines.append(f"{r.experiment}: same data hash, settings and package versions as "
                         f"the baseline")
    counts = {s: sum(row["status"] == s for r in results for row in r.rows)
              for s in ("improved", "regressed", "changed")}
    if any(counts.values()):
        lines.append(", ".join(f"{n} {s}" for s, n in counts.items()) + " beyond tolerance: "
                     "the baseline no longer matches (if the change is intended, accept it "
                     "with --update)")
    return "\n".join(lines)


def format_json(results: list[CheckResult]) -> str:
    return dumps([{"experiment": r.experiment, "passed": r.passed, "baseline": r.baseline_file,
                   "data_changed": r.data_changed,
                   "versions_changed": {k: list(v) for k, v in r.versions_changed.items()},
                   "settings_changed": r.settings_changed,
                   "metrics": r.rows} for r in results])


def format_junit(results: list[CheckResult]) -> str:
    """JUnit XML: one testsuite per experiment, one testcase per guarded metric."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites", name="backtest check")
    for r in results:
        failures = sum(row["status"] not in PASSING for row in r.rows)
        suite = ET.SubElement(root, "testsuite", name=r.experiment, tests=str(len(r.rows)),
                              failures=str(failures))
        for row in r.rows:
            case = ET.SubElement(suite, "testcase", classname=r.experiment, name=row["metric"])
            if row["status"] not in PASSING:
                msg = (f"{row['metric']} {row['status']}: baseline {row['baseline']}, now "
                       f"{row['now']}, difference {row['difference']}, tolerance "
                       f"{row['tolerance']}")
                if r.data_changed:
                    msg += " (the data hash changed since the baseline)"
                ET.SubElement(case, "failure", message=msg).text = msg
    return ET.tostring(root, encoding="unicode") + "\n"
