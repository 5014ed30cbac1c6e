"""The architecture holds: imports point down the layers, no cycles, small folders, one
table of statistics feeding the README.

Imports are read from the source (every ``import`` and ``from ... import``, at module
level or inside functions), so a lazy import that closes a circle is caught too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGES = ("backtest", "events", "strategies", "reports")

# What each layer may import (prefixes of module names), besides itself.
ALLOWED = {
    "events": ("events",),
    "strategies": ("events", "strategies"),
    "reports": ("events", "reports"),
    "backtest.io": ("events.errors",),
    "backtest.parallel": ("events.errors",),
    "backtest.data": ("events", "backtest.io", "backtest.data"),
    # inference takes arrays and returns small results: it runs nothing of the engine
    # (events.files: its facade's names load on first use, lazy_names)
    "backtest.inference": ("events.errors", "events.files", "backtest.inference"),
    # results draw themselves (.plot()) with reports' charts, a leaf that imports no engine
    "backtest.eventstudy": ("events", "backtest.io", "backtest.parallel", "backtest.data",
                            "backtest.eventstudy", "reports.charts"),
    "backtest.sim": ("events", "strategies", "backtest.io", "backtest.parallel",
                     "backtest.data", "backtest.inference", "backtest.sim", "reports.charts"),
    # chains index prices, compare them with inference's HAC regression, and study a
    # chain event as one security with the event-study engine
    "backtest.chains": ("events", "backtest.data", "backtest.eventstudy", "backtest.inference",
                        "backtest.chains"),
    # intraday builds on the daily layers (bars like prices, a study like the engine's, fills
    # like the simulator's); none of them imports it
    "backtest.intraday": ("events", "strategies", "backtest.io", "backtest.parallel",
                          "backtest.data", "backtest.eventstudy", "backtest.inference",
                          "backtest.sim", "backtest.intraday", "reports.charts"),
    "backtest.app": ("events", "strategies", "reports", "backtest"),
    "backtest": ("events", "strategies", "backtest"),  # the package facade and __main__
}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an imported name refers to (longest known prefix)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in MODULES:
            return candidate
    return None


def _imports(module: str) -> set[str]:
    """Project modules ``module`` imports, anywhere in its source."""
    tree = ast.parse(MODULES[module].read_text())
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            # "from backtest.eventstudy import stats": the submodule if it is one
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                     for a in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.add(target)
    return found


GRAPH = {m: _imports(m) for m in MODULES}


def _layer(module: str) -> str:
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    raise AssertionError(f"{module} is in no layer")


def test_the_layout_test_sees_the_packages():
    """The graph is not empty: every package and the layers' modules are found."""
    assert {"backtest.app.cli", "backtest.eventstudy.engine", "backtest.sim.simulate",
            "backtest.data.store", "events.loader", "strategies.news",
            "reports.render"} <= set(MODULES)
    assert "backtest.eventstudy.models" in GRAPH["backtest.eventstudy.engine"]
    assert "backtest.sim.simulate" in GRAPH["backtest.sim.runs"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    layer = _layer(module)
    allowed = ALLOWED[layer]
    bad = sorted(t for t in GRAPH[module]
                 if not any(t == a or t.startswith(a + ".") for a in allowed)
                 and _layer(t) != layer)
    assert not bad, f"{module} ({layer}) imports {bad}; allowed: {allowed}"


def test_no_import_cycle():
    """Depth-first search for a back edge over every module's imports, lazy ones included."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(GRAPH[m]):
            if state.get(t) == 1:
                cycle = stack[stack.index(t):] + [t]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_the_cycle_check_finds_a_planted_cycle():
    """The search itself: a graph with a -> b -> c -> a is reported."""
    saved = dict(GRAPH)
    try:
        GRAPH.clear()
        GRAPH.update({"a": {"b"}, "b": {"c"}, "c": {"a"}})
        with pytest.raises(AssertionError, match="a -> b -> c -> a"):
            test_no_import_cycle()
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


def test_every_folder_is_a_package():
    """A folder of modules without __init__.py would be a namespace package, which a
    same-named folder in the user's working directory could shadow."""
    for package in PACKAGES:
        for folder in [ROOT / package, *(p for p in (ROOT / package).rglob("*")
                                        if p.is_dir() and p.name != "__pycache__")]:
            if list(folder.glob("*.py")):
                assert (folder / "__init__.py").is_file(), folder


def test_no_folder_holds_more_than_ten_modules():
    for package in PACKAGES:
        for folder in [ROOT / package, *(p for p in (ROOT / package).rglob("*")
                                        if p.is_dir() and p.name != "__pycache__")]:
            modules = list(folder.glob("*.py"))
            assert len(modules) <= 10, f"{folder} holds {len(modules)} modules"


def test_readme_statistics_table_is_the_statistics_table():
    """The README's table of test statistics is :func:`stats.markdown_table`, verbatim."""
    from backtest.eventstudy import stats

    readme = (ROOT / "README.md").read_text()
    assert stats.markdown_table() in readme
    names = re.findall(r"^\| `(\w+)` \|", readme, flags=re.M)
    assert [n for n in names if n in stats.LABELS] == list(stats.STATISTIC_NAMES)


def test_readme_layout_names_every_folder():
    """Every package folder of backtest/ and every top-level folder of the project has its
    line in the README's Layout tree."""
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    tree = layout[layout.index("```text"):layout.index("```", layout.index("```text") + 3)]
    top = [p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
           and not p.name.endswith(".egg-info") and p.name not in ("build", "dist", "docs")]
    for name in top:
        assert re.search(rf"^{name}/", tree, flags=re.M), name
    inner = [p.name + "/" for p in (ROOT / "backtest").iterdir() if (p / "__init__.py").exists()]
    inner += [p.name for p in (ROOT / "backtest").glob("*.py") if p.name != "__main__.py"]
    for name in inner:
        assert re.search(rf"^  {re.escape(name)}", tree, flags=re.M), f"backtest/{name}"
