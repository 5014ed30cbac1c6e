"""Generated hostile inputs (hypothesis): calendars, price CSVs and experiment files with
random type errors, duplicate keys and non-finite numbers.

Each generated file goes through the command line's entry point in this process
(``backtest.app.cli.main``), so any exception that escapes the validation layer fails
the test with its traceback. A broken file must give exit code 2 and one
``backtest: error:`` line naming the file; a file that is still valid must work.
"""

from __future__ import annotations

import copy
import math
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.app.cli import main
from backtest.data import read_price_csv
from tests.helpers import ROOT

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

VALID_EVENT = {"id": "a", "date": "2025-01-21", "session": "after_close", "headline": "h",
               "source": "s", "sentiment": {"label": "bullish", "score": 50},
               "tickers": [{"ticker": "ORCL", "role": "partner", "direction": "up"}],
               "tags": {"theme": "capex"}}

NOT_TEXT = st.one_of(st.lists(st.text(max_size=3), max_size=3),
                     st.dictionaries(st.text(min_size=1, max_size=3), st.integers(), max_size=2),
                     st.booleans(), st.none())
NOT_A_SCORE = st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf),
                        st.floats(max_value=-1e-9, allow_nan=False),
                        st.floats(min_value=100.0001, allow_nan=False, allow_infinity=False),
                        st.text(max_size=5), st.booleans(), st.none(), st.lists(st.integers()))
# (field path in the event, values that must be refused there)
BAD_FIELDS = [
    (("id",), NOT_TEXT), (("headline",), NOT_TEXT), (("source",), NOT_TEXT),
    (("sentiment", "score"), NOT_A_SCORE), (("sentiment",), st.one_of(NOT_TEXT, st.text())),
    (("tickers",), st.one_of(st.dictionaries(st.text(min_size=1), st.text()), st.none(),
                             st.just([]), st.text())),
    (("tickers", 0, "ticker"), st.one_of(st.lists(st.text()), st.none(), st.booleans(),
                                         st.text(alphabet="/\\.:*? ", min_size=1))),
    (("tickers", 0, "role"), st.one_of(NOT_TEXT, st.sampled_from(["buyer", "PARTNERS", ""]))),
    (("tags", "theme"), st.one_of(st.none(), st.lists(st.integers(), min_size=1),
                                  st.dictionaries(st.text(min_size=1), st.integers(),
                                                  min_size=1))),
    (("date",), st.one_of(st.text(alphabet="0123456789-", max_size=10), NOT_TEXT)),
]


def _set(doc, path, value):
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _run(args) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _refused(code, err, path) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"backtest: error: {path}"), err


@SETTINGS
@given(choice=st.sampled_from(range(len(BAD_FIELDS))), data=st.data())
def test_generated_bad_calendars_are_refused(choice, data):
    path_in_event, values = BAD_FIELDS[choice]
    doc = {"name": "gen", "events": [copy.deepcopy(VALID_EVENT)]}
    _set(doc["events"][0], path_in_event, data.draw(values))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cal.yaml"
        path.write_text(yaml.safe_dump(doc))
        code, _, err = _run(["events", "show", str(path)])
    _refused(code, err, path)


@SETTINGS
@given(line=st.integers(0, 9), data=st.data())
def test_generated_duplicate_and_merge_keys_are_refused(line, data):
    """A key written twice at any level, or a merge key, is refused naming its line."""
    text = yaml.safe_dump({"name": "gen", "events": [VALID_EVENT]}, default_flow_style=False,
                          sort_keys=False)
    lines = text.splitlines()
    keyed = [i for i, ln in enumerate(lines) if ":" in ln and not ln.strip().startswith("- ")
             and not ln.rstrip().endswith(":")]
    i = keyed[line % len(keyed)]
    if data.draw(st.booleans()):  # the same key again, right after
        lines.insert(i + 1, lines[i])
        expect = "duplicate key"
    else:
        indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
        lines.insert(0, "base: &base {x: 1}")
        lines.insert(i + 2, f"{indent}<<: *base")
        expect = "merge keys"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cal.yaml"
        path.write_text("\n".join(lines) + "\n")
        code, _, err = _run(["events", "show", str(path)])
    _refused(code, err, path)
    assert expect in err or "unknown key 'base'" in err, err


BAD_NUMBERS = st.sampled_from(["inf", "-inf", "Infinity", "-Infinity", "1e400", "1e-400",
                               "0", "-5", "abc", "1,5", "--1", "1e300", "0x10", "nan nan"])


@SETTINGS
@given(prices=st.lists(st.floats(1.0, 1000.0), min_size=3, max_size=8),
       bad=BAD_NUMBERS, where=st.integers(0, 100), column=st.sampled_from(["close", "open",
                                                                          "dividend"]))
def test_generated_bad_price_csvs_are_refused(prices, bad, where, column):
    """A long price CSV with one bad cell is refused naming its line; the file without it
    imports."""
    dates = ["2025-01-02", "2025-01-03", "2025-01-06", "2025-01-07", "2025-01-08",  # not 01-09
             "2025-01-10", "2025-01-13", "2025-01-14"][:len(prices)]
    rows = [[d, "ORCL", f"{p:.4f}", f"{p:.4f}", "0"] for d, p in zip(dates, prices)]
    with tempfile.TemporaryDirectory() as tmp:
        good = Path(tmp) / "good.csv"
        good.write_text("date,ticker,close,open,dividend\n"
                        + "".join(",".join(r) + "\n" for r in rows))
        read_price_csv(good)  # the file before the change is valid
        k = where % len(rows)
        if column == "dividend" and bad in ("0", "1e-400"):
            bad = "-1"  # no dividend is a valid dividend
        rows[k][{"close": 2, "open": 3, "dividend": 4}[column]] = (
            f'"{bad}"' if "," in bad else bad)
        path = Path(tmp) / "bad.csv"
        path.write_text("date,ticker,close,open,dividend\n"
                        + "".join(",".join(r) + "\n" for r in rows))
        code, _, err = _run(["data", "import", str(path), "--cache-dir", f"{tmp}/cache2"])
        _refused(code, err, path)
        assert f":{k + 2}: {column}:" in err, err
        assert not (Path(tmp) / "cache2" / "prices").exists()


EXPERIMENT = yaml.safe_load((ROOT / "experiments" / "demo_short_partners.yaml").read_text())
BAD_EXPERIMENT_FIELDS = [
    (("init_cash",), st.one_of(NOT_TEXT, st.text(min_size=1), st.just(math.nan),
                               st.just(math.inf), st.floats(max_value=0.0))),
    (("costs", "fees"), st.one_of(NOT_TEXT, st.text(min_size=1), st.just(math.nan),
                                  st.floats(max_value=-1e-9, allow_nan=False))),
    (("costs", "borrow", "CRWV"), st.one_of(st.just(math.inf), st.text(min_size=1),
                                            st.lists(st.integers()))),
    (("costs",), st.one_of(st.lists(st.integers()), st.text(min_size=1))),
    (("guard", "sharpe", "abs"), st.one_of(st.just(math.nan), st.just(-1.0), st.text(min_size=1),
                                           NOT_TEXT)),
    (("guard", "sharpe"), st.one_of(st.text(min_size=1).filter(lambda s: s != "exact"),
                                    st.lists(st.integers()))),
    (("strategy", "params", "hold"), st.one_of(st.none(), st.just({"a": 1}),
                                               st.lists(st.lists(st.integers()), min_size=1),
                                               st.just(math.nan), st.text(min_size=1))),
    (("strategy",), st.one_of(st.lists(st.integers()), st.integers(), st.none())),
    (("study",), st.one_of(st.lists(st.integers()), st.text(min_size=1))),
    (("study", "gap"), st.one_of(st.text(min_size=1), st.floats(), st.just([1]))),
    (("study", "markt"), st.text()),
]


@SETTINGS
@given(choice=st.sampled_from(range(len(BAD_EXPERIMENT_FIELDS))), data=st.data())
def test_generated_bad_experiments_are_refused(choice, data):
    path_in_doc, values = BAD_EXPERIMENT_FIELDS[choice]
    doc = copy.deepcopy(EXPERIMENT)
    doc.setdefault("study", {"market": "SPY"})
    _set(doc, path_in_doc, data.draw(values))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "exp.yaml"
        path.write_text(yaml.safe_dump(doc))
        code, _, err = _run(["check", str(path), "--update", "--baselines", f"{tmp}/b"])
        assert not (Path(tmp) / "b").exists()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backtest: error: "), err
