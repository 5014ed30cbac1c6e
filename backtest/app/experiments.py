"""Experiments and baselines: strategy metrics under CI.

An experiment file (YAML) names everything a run depends on and the metrics
to guard::

    name: demo-short-partners            # default: the file name
    calendar: openai                     # bundled name, or a path relative to this file
    data: {prices: bundled}              # bundled (snapshot, then cache; never the network)
                                         # or a CSV path relative to this file
    study: {market: SPY}                 # optional StudyConfig fields; market is the benchmark
    strategy:
      name: short_partners_on_bad_news   # or package.module:Class
      params: {hold: 5, threshold: 60}
    costs: {fees: 0.0005, fixed_fees: 0, slippage: 0.0005, borrow_rate: 0.0,
            borrow: {CRWV: 0.08}}
    init_cash: 100000
    guard:                               # metric: tolerance
      sharpe: {abs: 0.01}                # |now - baseline| <= 0.01
      total_return: {rel: 0.001}         # |now - baseline| <= 0.001 * |baseline|
      max_drawdown: {abs: 0.001, rel: 0.01}   # within either bound
      trades: exact                      # equal

A baseline (JSON, ``<baselines>/<name>.json``) stores the guarded metrics, their
tolerances, the data hash, package versions and when it was created.
Differences are computed in decimal from the shortest float representation, so
a value exactly on the bound (1.01 against 1.00 with ``abs: 0.01``) passes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from backtest.eventstudy.config import StudyConfig
from backtest.io import clean, dumps, write_atomic
from events.bundled import resolve
from events.errors import ConfigError, InputError

TOP_KEYS = {"name", "description", "calendar", "data", "study", "strategy", "costs",
            "init_cash", "guard"}
COST_KEYS = {"fees", "fixed_fees", "slippage", "borrow_rate", "borrow"}


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


def parse_tolerance(raw: Any, where: str, path: str) -> Tolerance:
    if raw == "exact":
        return Tolerance(exact=True)
    if not isinstance(raw, dict) or not raw or set(raw) - {"abs", "rel"}:
        raise ConfigError("tolerance must be 'exact' or a mapping with abs and/or rel",
                          path=path, field=where)
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"{key} must be a non-negative number, got {value!r}", path=path,
                              field=f"{where}.{key}")
    return Tolerance(abs=raw.get("abs"), rel=raw.get("rel"))


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

    @property
    def calendar_path(self) -> Path:
        """The calendar: a path relative to the experiment file, or a bundled name."""
        return resolve(self.calendar, "calendar", base=self.path.parent)

    @property
    def prices_path(self) -> Path:
        """The prices CSV, relative to the experiment file (when not ``bundled``)."""
        return self.path.parent / self.prices


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file; refuse anything malformed with file and field."""
    path = Path(path)
    shown = str(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("no such file", path=shown) from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise ConfigError("not a YAML text file", path=shown) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"malformed YAML: {getattr(exc, 'problem', exc)}", path=shown,
                          line=mark.line + 1 if mark else None) from None
    if not isinstance(doc, dict):
        raise ConfigError("an experiment must be a YAML mapping", path=shown)
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown key {sorted(unknown)[0]!r} (known: "
                          f"{', '.join(sorted(TOP_KEYS))})", path=shown, field=sorted(unknown)[0])
    for key in ("calendar", "strategy", "guard"):
        if key not in doc:
            raise ConfigError("missing required key", path=shown, field=key)
    strategy = doc["strategy"]
    if isinstance(strategy, str):
        strategy = {"name": strategy}
    if not isinstance(strategy, dict) or "name" not in strategy or \
            set(strategy) - {"name", "params"}:
        raise ConfigError("strategy must be a name or {name, params}", path=shown,
                          field="strategy")
    params = strategy.get("params") or {}
    costs = doc.get("costs") or {}
    if not isinstance(params, dict) or not isinstance(costs, dict) or set(costs) - COST_KEYS:
        raise ConfigError(f"strategy.params and costs must be mappings (costs keys: "
                          f"{', '.join(sorted(COST_KEYS))})", path=shown, field="costs")
    guard = doc["guard"]
    if not isinstance(guard, dict) or not guard:
        raise ConfigError("guard must map metric names to tolerances", path=shown, field="guard")
    data = doc.get("data") or {"prices": "bundled"}
    if not isinstance(data, dict) or set(data) - {"prices"}:
        raise ConfigError("data must be {prices: bundled | FILE.csv}", path=shown, field="data")
    study = StudyConfig.from_mapping(doc.get("study") or {}, path=shown)
    return Experiment(
        name=str(doc.get("name") or path.stem), path=path, calendar=str(doc["calendar"]),
        prices=str(data.get("prices", "bundled")), strategy=str(strategy["name"]),
        params={str(k): v for k, v in params.items()}, costs=costs,
        init_cash=float(doc.get("init_cash", 100_000.0)),
        guard={str(k): parse_tolerance(v, f"guard.{k}", shown) for k, v in guard.items()},
        study=study)


def is_experiment(path: str | Path) -> bool:
    """True for a YAML mapping with ``strategy`` and ``guard`` (not an event calendar)."""
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - the calendar loader will report the problem
        return False
    return isinstance(doc, dict) and "strategy" in doc and "guard" in doc


def experiment_inputs(exp: Experiment):
    """(calendar, prices, strategy, costs, benchmark ticker) of an experiment; offline."""
    from backtest.data import PriceStore, load_panel, read_price_csv
    from backtest.sim.costs import Costs
    from events.loader import load_calendar
    from strategies import get_strategy

    cal = load_calendar(exp.calendar_path)
    strategy = get_strategy(exp.strategy, **exp.params)
    market = exp.study.market
    if exp.prices == "bundled":
        panel = load_panel(cal, market, PriceStore(offline=True))
    else:
        panel, _ = read_price_csv(exp.prices_path)
    return cal, panel, strategy, Costs.from_mapping(exp.costs), market


def run_experiment(exp: Experiment):
    """Run the experiment's strategy; returns the StrategyRun (metrics, data hash)."""
    from backtest.sim.runs import run_strategy

    cal, panel, strategy, costs, market = experiment_inputs(exp)
    return run_strategy(cal, panel, strategy, costs, exp.init_cash, benchmark=market)


def baseline_path(exp: Experiment, baselines: Path | None) -> Path:
    folder = Path(baselines) if baselines else exp.path.parent / "baselines"
    return folder / f"{exp.name}.json"


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
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"corrupted baseline (not valid JSON: {exc}); recreate it with "
                          f"backtest check {exp.path} --update", path=str(path)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict) \
            or "data_hash" not in doc:
        raise ConfigError("corrupted baseline (missing 'metrics' or 'data_hash'); recreate it "
                          f"with backtest check {exp.path} --update", path=str(path))
    for k, v in doc["metrics"].items():
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ConfigError(f"corrupted baseline: metric {k!r} is not a number", path=str(path))
    return doc


@dataclass
class CheckResult:
    """The comparison of one experiment with its baseline."""

    experiment: str
    rows: list[dict]  # metric, baseline, now, difference, tolerance, status
    data_changed: bool
    versions_changed: dict[str, tuple[str, str]]
    baseline_file: str
    written: bool = False

    @property
    def passed(self) -> bool:
        return all(r["status"] == "ok" for r in self.rows)


def compare(exp: Experiment, baseline: dict, run) -> CheckResult:
    from backtest.app.jobs import versions

    rows = []
    for metric in sorted(exp.guard):
        tol = exp.guard[metric]
        base = baseline["metrics"].get(metric)
        now = clean(run.metrics.get(metric))
        if metric not in baseline["metrics"]:
            status = "new"
        else:
            status = "ok" if tol.allows(base, now) else "REGRESSED"
        diff = (None if base is None or now is None
                else float(Decimal(repr(float(now))) - Decimal(repr(float(base)))))
        rows.append({"metric": metric, "baseline": base, "now": now, "difference": diff,
                     "tolerance": tol.text(), "status": status})
    current = versions()
    changed = {k: (v, current.get(k, "")) for k, v in (baseline.get("versions") or {}).items()
               if current.get(k) != v}
    return CheckResult(exp.name, rows, baseline.get("data_hash") != run.data_hash, changed,
                       "")


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
                    and old.get("tolerances") == new["tolerances"])
            if not same:  # an unchanged baseline keeps its file (and its creation time)
                write_atomic(path, dumps(new))
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
        if not r.data_changed and not r.versions_changed:
            lines.append(f"{r.experiment}: same data hash and package versions as the baseline")
    return "\n".join(lines)


def format_json(results: list[CheckResult]) -> str:
    return dumps([{"experiment": r.experiment, "passed": r.passed, "baseline": r.baseline_file,
                   "data_changed": r.data_changed,
                   "versions_changed": {k: list(v) for k, v in r.versions_changed.items()},
                   "metrics": r.rows} for r in results])


def format_junit(results: list[CheckResult]) -> str:
    """JUnit XML: one testsuite per experiment, one testcase per guarded metric."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites", name="backtest check")
    for r in results:
        failures = sum(row["status"] not in ("ok", "updated", "created", "unchanged")
                       for row in r.rows)
        suite = ET.SubElement(root, "testsuite", name=r.experiment, tests=str(len(r.rows)),
                              failures=str(failures))
        for row in r.rows:
            case = ET.SubElement(suite, "testcase", classname=r.experiment, name=row["metric"])
            if row["status"] not in ("ok", "updated", "created", "unchanged"):
                msg = (f"{row['metric']}: baseline {row['baseline']}, now {row['now']}, "
                       f"difference {row['difference']}, tolerance {row['tolerance']}")
                if r.data_changed:
                    msg += " (the data hash changed since the baseline)"
                ET.SubElement(case, "failure", message=msg).text = msg
    return ET.tostring(root, encoding="unicode") + "\n"
