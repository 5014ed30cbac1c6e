"""The strategy plug-in API: discovery of a project's strategies, broken plug-ins, name
clashes, ``module:Class`` paths, parameters, and the ``backtest`` command running them.

A temporary project folder gets a ``strategies/`` folder with a good user strategy
(tests/fixtures/strategies/my_strat.py), a file with a syntax error, a file raising
ImportError at import and a file whose strategy name clashes with a built-in. The
command-line runs are real subprocesses of the installed ``backtest`` script with that
folder as the working directory, started together in a module-scoped fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from events import InputError
from strategies import LongOnGoodNews, ShortPartnersOnBadNews, discover, get_strategy
from strategies.base import Strategy
from strategies.registry import load_path
from tests.helpers import FIXTURES

DATA = FIXTURES / "strategies"

SYNTAX_ERROR = "x = 1\n\ndef broken(:\n    pass\n"  # the error is on line 3
IMPORT_ERROR = ('"""Needs a package that is not installed."""\n'
                'raise ImportError("this plug-in needs the missing_dep_xyz package")\n')
CLASH = '''from dataclasses import dataclass

from strategies.base import Strategy, intents_frame


class Impostor(Strategy):
    """Claims the name of a built-in."""

    name = "long_on_good_news"

    def intents(self, ctx):
        return intents_frame([])
'''


def _command() -> list[str]:
    script = Path(sys.executable).parent / "backtest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "backtest"]


def _make_project(root: Path, clash: bool = True) -> Path:
    """root/strategies/ with the good plug-in and the broken ones; returns that folder."""
    folder = root / "strategies"
    folder.mkdir(parents=True)
    (folder / "my_strat.py").write_text((DATA / "my_strat.py").read_text())
    (folder / "broken_syntax.py").write_text(SYNTAX_ERROR)
    (folder / "broken_import.py").write_text(IMPORT_ERROR)
    if clash:
        (folder / "impostor.py").write_text(CLASH)
    return folder


# --------------------------------------------------------------------------------------
# in-process discovery
# --------------------------------------------------------------------------------------


def test_discover_finds_the_user_strategy_and_reports_broken_files(tmp_path):
    folder = _make_project(tmp_path)
    found = discover(folder)
    by_origin = {}
    for f in found:
        by_origin.setdefault(f.origin, []).append(f)

    # the four built-ins, loaded
    builtins = [f for f in found if f.source == "builtin"]
    assert {f.name for f in builtins} == {"short_partners_on_bad_news", "long_on_good_news",
                                          "pair_trade", "fade_the_reaction"}
    assert all(f.ok for f in builtins)

    good = [f for f in found if f.name == "my_strat"]
    assert len(good) == 1 and good[0].ok and good[0].source == "folder"
    assert good[0].origin == str(folder / "my_strat.py")
    assert good[0].cls.name == "my_strat" and issubclass(good[0].cls, Strategy)

    syntax = by_origin[str(folder / "broken_syntax.py")]
    assert len(syntax) == 1 and not syntax[0].ok
    assert "SyntaxError" in syntax[0].error and "line 3" in syntax[0].error

    imp = by_origin[str(folder / "broken_import.py")]
    assert len(imp) == 1 and not imp[0].ok
    assert "ImportError" in imp[0].error and "missing_dep_xyz" in imp[0].error

    # the good one still builds and runs with its parameters
    strat = get_strategy("my_strat", folder=folder, hold="2")
    assert strat.params.hold == 2 and strat.params.weight == 0.25


def test_name_clash_with_builtin_is_reported_not_shadowing(tmp_path):
    """A project strategy named like a built-in is listed as a failure ('already taken'),
    and the name keeps meaning the built-in."""
    folder = _make_project(tmp_path)
    found = discover(folder)
    named = [f for f in found if f.name == "long_on_good_news"]
    assert [f.source for f in named] == ["builtin", "folder"]
    assert named[0].ok and named[0].cls is LongOnGoodNews
    assert not named[1].ok and "already taken" in named[1].error
    assert named[1].origin == str(folder / "impostor.py")


def test_name_clash_does_not_break_the_builtin(tmp_path):
    """With a clashing plug-in in the project folder, get_strategy('long_on_good_news')
    still builds the built-in (a later source cannot shadow an earlier name)."""
    folder = _make_project(tmp_path)
    strat = get_strategy("long_on_good_news", folder=folder)
    assert type(strat) is LongOnGoodNews


def test_project_folder_without_strategy_class_is_reported(tmp_path):
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "helpers.py").write_text("X = 1\n")
    found = [f for f in discover(folder) if f.source == "folder"]
    assert len(found) == 1 and not found[0].ok
    assert found[0].origin == str(folder / "helpers.py")
    assert "no Strategy subclass" in found[0].error


def test_unknown_strategy_and_failed_plugin_errors(tmp_path):
    folder = _make_project(tmp_path)
    with pytest.raises(InputError, match="unknown strategy 'nope'"):
        get_strategy("nope", folder=folder)
    with pytest.raises(InputError, match="broken_syntax"):
        get_strategy("broken_syntax", folder=folder)
    with pytest.raises(InputError, match="unknown parameter 'nope' for strategy my_strat"):
        get_strategy("my_strat", folder=folder, nope=1)


def _module_dir(tmp_path: Path) -> Path:
    """A temporary folder holding pathstrat_mod.py (a plain module, not a plug-in folder)."""
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "pathstrat_mod.py").write_text((DATA / "pathstrat_mod.py").read_text())
    return mods


def test_module_class_path_loading(monkeypatch, tmp_path):
    monkeypatch.syspath_prepend(str(_module_dir(tmp_path)))
    strat = get_strategy("pathstrat_mod:PathStrat", hold="1")
    assert strat.name == "path_strat" and strat.params.hold == 1
    assert load_path("pathstrat_mod:PathStrat").name == "path_strat"
    with pytest.raises(InputError, match="not a Strategy subclass"):
        load_path("pathstrat_mod:NotAStrategy")
    with pytest.raises(InputError, match="cannot load strategy 'pathstrat_mod:Missing'"):
        load_path("pathstrat_mod:Missing")
    with pytest.raises(InputError, match="cannot load strategy 'no_such_mod_xyz:X'"):
        load_path("no_such_mod_xyz:X")


def test_parameters_list_defaults_sweeps_and_help(tmp_path):
    folder = _make_project(tmp_path, clash=False)
    cls = next(f.cls for f in discover(folder) if f.name == "my_strat")
    assert cls.parameters() == [
        {"name": "hold", "type": "int", "default": 3, "sweep": (1, 3, 5),
         "help": "sessions held"},
        {"name": "weight", "type": "float", "default": 0.25, "sweep": (0.1, 0.25),
         "help": "fraction of equity per trade"},
        {"name": "label", "type": "str", "default": "bearish", "sweep": (),
         "help": "sentiment label traded"},
    ]
    assert cls.describe() == "Short the first linked ticker of each event with the chosen label."
    params = {p["name"]: p for p in ShortPartnersOnBadNews.parameters()}
    assert params["threshold"]["default"] == 60.0
    assert params["threshold"]["sweep"] == (50, 60, 70, 80)
    assert params["hold"]["default"] == 5 and params["hold"]["sweep"] == (1, 3, 5, 10)
    assert params["stop"]["sweep"] == (0.0, 0.05, 0.1)
    assert params["roles"]["default"] == ("partner",) and params["roles"]["sweep"] == ()


def test_parameter_text_is_coerced_to_the_default_type(tmp_path):
    folder = _make_project(tmp_path, clash=False)
    s = get_strategy("my_strat", folder=folder, hold="4", weight="0.5", label="bullish")
    assert (s.params.hold, s.params.weight, s.params.label) == (4, 0.5, "bullish")
    b = get_strategy("short_partners_on_bad_news", hedge="yes", roles="partner+supplier")
    assert b.params.hedge is True and b.params.roles == ("partner", "supplier")
    with pytest.raises(InputError, match="hold"):
        get_strategy("my_strat", folder=folder, hold="two")


# --------------------------------------------------------------------------------------
# the command line, in a temporary project folder
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """Run every command once, in parallel; each case gets its own fresh project folder."""
    cache = tmp_path_factory.mktemp("cache")
    cases = {
        "run_my_strat": ["run", "openai", "--strategy", "my_strat", "--param", "hold=2",
                         "--offline", "--pseudo-draws", "0", "--out", "OUT"],
        "path": ["audit", "openai", "--strategy", "pathstrat_mod:PathStrat", "--param",
                 "hold=1", "--offline"],
        "list": ["strategies", "list", "--strategies-dir", "strategies"],
        "unknown_param": ["run", "openai", "--strategy", "my_strat", "--param", "nope=1",
                          "--strategies-dir", "strategies", "--offline", "--out", "OUT"],
        "clash_builtin": ["audit", "openai", "--strategy", "long_on_good_news", "--offline"],
    }

    def one(name):
        root = tmp_path_factory.mktemp(name)
        _make_project(root)
        mods = _module_dir(root)  # a plain module folder for the module:Class path
        # No empty PYTHONPATH entry: that would put the cwd (and its strategies/ folder) on
        # sys.path ahead of the installed package.
        pythonpath = [str(mods), *filter(None, os.environ.get("PYTHONPATH", "").split(
            os.pathsep))]
        env = {**os.environ, "BACKTEST_CACHE_DIR": str(cache),
               "PYTHONPATH": os.pathsep.join(pythonpath)}
        args = [str(root / "out") if a == "OUT" else a for a in cases[name]]
        proc = subprocess.run(_command() + args, cwd=root, env=env, capture_output=True,
                              text=True, timeout=180)
        return name, (root, proc)

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        return dict(pool.map(one, cases))


def _trades(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "trades.csv")


def test_cli_runs_the_user_strategy_from_the_project_folder(cli):
    """`backtest run openai --strategy my_strat --param hold=2` with cwd = the project: the
    name is not built in, so ./strategies is loaded, with a notice; the three bearish
    events of the bundled calendar are shorted on their first linked ticker (NVDA, ORCL,
    ORCL) from the first fill after the news, for 2 sessions."""
    root, proc = cli["run_my_strat"]
    assert proc.returncode == 0, proc.stderr
    assert "backtest: note: strategy 'my_strat' is not built in: loading the plug-ins of " \
           "./strategies" in proc.stderr
    out = root / "out"
    assert (out / "index.html").is_file()
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["strategy"] == "my_strat"
    assert meta["params"] == {"hold": 2, "weight": 0.25, "label": "bearish"}
    t = _trades(out)
    got = {(r.event_id, r.ticker, r.direction, r.entry_time, r.exit_time)
           for r in t.itertuples()}
    # deepseek: before the open on Mon 2025-01-27 (EST: open 14:30 UTC), out Wed 01-29's open;
    # oracle-q2: after the close on Wed 2025-12-10 -> Thu 12-11's open, out Mon 12-15's open;
    # openai-miss: 15:36 UTC during Tue 2026-04-28 (EDT) -> its close 20:00, out Thu 04-30.
    assert got == {
        ("deepseek-r1-2025-01-27", "NVDA", "short", "2025-01-27 14:30:00+00:00",
         "2025-01-29 14:30:00+00:00"),
        ("oracle-q2-2025-12-10", "ORCL", "short", "2025-12-11 14:30:00+00:00",
         "2025-12-15 14:30:00+00:00"),
        ("openai-miss-2026-04-28", "ORCL", "short", "2026-04-28 20:00:00+00:00",
         "2026-04-30 20:00:00+00:00"),
    }
    intents = pd.read_csv(out / "intents.csv")
    assert (intents["weight"] == 0.25).all() and len(intents) == 3


def test_cli_loads_a_module_class_path(cli):
    """`backtest audit openai --strategy pathstrat_mod:PathStrat --param hold=1` with the
    module's folder on PYTHONPATH: loaded, its parameter accepted, audited (exit 0)."""
    _, proc = cli["path"]
    assert proc.returncode == 0, proc.stderr
    assert "no look-ahead: path_strat" in proc.stdout


def test_module_class_path_strategy_intents(monkeypatch, tmp_path):
    """The same strategy in-process: one long per bullish event on its first ticker (ORCL,
    ORCL, NVDA, AMD, AVGO, AMZN by the calendar file), held ``hold`` sessions."""
    from backtest.data.store import load_panel
    from backtest.sim.runs import strategy_context
    from events.loader import resolve_calendar

    monkeypatch.syspath_prepend(str(_module_dir(tmp_path)))
    cal = resolve_calendar("openai")
    ctx = strategy_context(cal, load_panel(cal))
    intents = get_strategy("pathstrat_mod:PathStrat", hold=1).intents(ctx)
    assert sorted(intents["ticker"]) == sorted(["ORCL", "ORCL", "NVDA", "AMD", "AVGO", "AMZN"])
    assert (intents["direction"] == 1).all()
    for r in intents.itertuples():
        i = ctx.sessions.get_loc(r.entry_session)
        assert r.exit_session == ctx.sessions[i + 1] and r.exit_at == r.entry_at


def test_cli_strategies_list_reports_broken_plugins_and_loads_the_good_one(cli):
    root, proc = cli["list"]
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    folder = root / "strategies"

    def line_of(path):
        hits = [ln for ln in lines if str(path) in ln]
        assert len(hits) == 1, (path, proc.stdout)
        return hits[0]

    good = line_of(folder / "my_strat.py")
    assert good.startswith("my_strat") and good.rstrip().endswith("ok")
    syntax = line_of(folder / "broken_syntax.py")
    assert "FAILED" in syntax and "SyntaxError" in syntax
    imp = line_of(folder / "broken_import.py")
    assert "FAILED" in imp and "ImportError" in imp and "missing_dep_xyz" in imp
    clash = line_of(folder / "impostor.py")
    assert clash.startswith("long_on_good_news") and "FAILED" in clash
    assert "already taken" in clash
    # the good plug-in's parameters, with defaults and sweep values
    i = lines.index(good)
    block = lines[i + 1:i + 5]
    assert block[0].strip() == "Short the first linked ticker of each event with the chosen label."
    assert "--param hold=3  (int)  sweep 1,3,5  sessions held" in block[1]
    assert "--param weight=0.25  (float)  sweep 0.1,0.25" in block[2]
    assert "--param label='bearish'  (str)" in block[3]
    # the built-ins are still listed and fine
    for name in ("short_partners_on_bad_news", "long_on_good_news", "pair_trade",
                 "fade_the_reaction"):
        assert any(ln.startswith(f"{name}  [builtin") and ln.endswith("ok") for ln in lines)


def test_cli_unknown_parameter_exits_2_with_one_line(cli):
    root, proc = cli["unknown_param"]
    assert proc.returncode == 2
    assert proc.stdout == ""
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, proc.stderr
    assert err[0].startswith("backtest: error:")
    assert "'nope'" in err[0] and "my_strat" in err[0]
    assert not (root / "out").exists()


def test_cli_clashing_plugin_leaves_the_builtin_usable(cli):
    """From a project folder holding a plug-in that claims 'long_on_good_news', the built-in of
    that name still runs (`backtest audit openai --strategy long_on_good_news`, exit 0)."""
    _, proc = cli["clash_builtin"]
    assert proc.returncode == 0, proc.stderr
    assert "no look-ahead" in proc.stdout


# --------------------------------------------------------------------------------------
# plug-in code runs only from places the user named
# --------------------------------------------------------------------------------------

HOSTILE = '''import os
from pathlib import Path
Path("IMPORTED").write_text("the plug-in ran")
os._exit(7)
'''


@pytest.mark.parametrize("args", [
    ["run", "openai", "--strategy", "short_partners_on_bad_news", "--offline",
     "--pseudo-draws", "0", "--out", "out"],
    ["demo", "--offline", "--out", "out"],
    ["sweep", "openai", "--strategy", "pair_trade", "--grid", "hold=1,2", "--offline",
     "--out", "out"],
    ["audit", "openai", "--strategy", "fade_the_reaction", "--offline"],
    ["strategies", "list"],
])
def test_a_builtin_never_runs_project_plugin_code(tmp_path, args):
    """A ./strategies/*.py that writes a file and kills the process at import: asking for
    built-ins (or listing) never imports it; the run succeeds and the file is not written."""
    (tmp_path / "strategies").mkdir()
    (tmp_path / "strategies" / "evil.py").write_text(HOSTILE)
    proc = subprocess.run(_command() + args, cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "IMPORTED").exists()
    if args[0] == "strategies":
        line = next(ln for ln in proc.stdout.splitlines() if "evil.py" in ln)
        assert "not loaded: run with --strategies-dir strategies" in line


def test_a_named_folder_or_file_is_loaded(tmp_path):
    """--strategies-dir DIR and --strategy FILE.py:Class load exactly what they name."""
    plugins = tmp_path / "elsewhere"
    plugins.mkdir()
    (plugins / "my_strat.py").write_text((DATA / "my_strat.py").read_text())
    found = {f.name: f for f in discover(plugins)}
    assert found["my_strat"].ok and found["my_strat"].source == "folder"
    cls = load_path(f"{plugins / 'my_strat.py'}:MyStrat")
    assert cls.name == "my_strat"
    assert get_strategy(f"{plugins / 'my_strat.py'}:MyStrat", hold="2").params.hold == 2
    with pytest.raises(InputError, match="no such file"):
        load_path(f"{tmp_path / 'nope.py'}:MyStrat")
