"""``backtest study --measure volume``: refusals exit 2 with one line; a volume study says
what it measured in run.json, story.json, the terminal and the report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from backtest.app.cli import build_parser, main
from backtest.data.store import bundled_path
from reports import read_table


def _refused(capsys, argv, text):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and text in err, err
    return err


def _wide_closes(tmp_path, suffix):
    """The bundled closes of the openai calendar's main tickers as a wide file."""
    raw = pd.read_parquet(bundled_path())
    raw = raw[raw["ticker"].isin(["ORCL", "NVDA", "MSFT", "SPY"])]
    wide = raw.pivot(index="date", columns="ticker", values="close")
    wide.index = pd.to_datetime(wide.index)
    path = tmp_path / f"wide.{suffix}"
    if suffix == "csv":
        wide.to_csv(path, index_label="date", date_format="%Y-%m-%d")
    else:
        wide.to_parquet(path)
    return path


def test_the_option_defaults_to_return():
    args = build_parser().parse_args(["study", "openai"])
    assert args.measure == "return"


@pytest.mark.parametrize("extra, text", [
    (["--model", "market_adjusted"], "model 'market_adjusted' does not apply to measure"),
    (["--model", "dimson"], "model 'dimson' does not apply to measure"),
    (["--returns", "log"], "returns 'log' does not apply to measure 'volume'"),
])
def test_bad_combinations_exit_2(capsys, tmp_path, extra, text):
    _refused(capsys, ["study", "openai", "--offline", "--measure", "volume",
                      "--out", str(tmp_path / "out"), *extra], text)


def test_unknown_measure_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["study", "openai", "--measure", "turnover"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_universe_and_csv_without_volume_are_refused(capsys, tmp_path):
    uni = _wide_closes(tmp_path, "parquet")
    _refused(capsys, ["study", "openai", "--offline", "--measure", "volume", "--universe",
                      str(uni), "--pseudo-draws", "0", "--out", str(tmp_path / "u")],
             "the universe panel has adjusted closes only: no volume")
    csv = _wide_closes(tmp_path, "csv")
    err = _refused(capsys, ["study", "openai", "--offline", "--measure", "volume", "--prices",
                            str(csv), "--pseudo-draws", "0", "--out", str(tmp_path / "c")],
                   "no volume for")
    assert "ORCL" in err


def test_a_volume_study_says_what_it_measured(capsys, tmp_path):
    out = tmp_path / "out"
    assert main(["study", "openai", "--offline", "--measure", "volume", "--model",
                 "constant_mean", "--pseudo-draws", "0", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "abnormal log volume" in printed and "AV day 0" in printed
    run = json.loads((out / "run.json").read_text())
    assert run["study"]["measure"] == "volume" and run["measure"] == "abnormal log volume"
    assert len(run["volume_hash"]) == 16
    assert json.loads((out / "story.json").read_text())["measure"] == "volume"
    assert "abnormal log volume" in (out / "index.html").read_text()
    car = read_table(out, "car")
    assert car["bhar"].isna().all() and (car["direction"] == "up").all()
    # the day-0 AR of one pair, by hand from the bundled volume (constant mean)
    raw = pd.read_parquet(bundled_path())
    ar, est = read_table(out, "ar"), read_table(out, "estimates")
    clean = est[(est["ticker"] == "ORCL") & (est["n_excluded"] == 0)
                & (est["n_est"] == 250)].iloc[0]  # a full estimation window, none left out
    row = ar[(ar["rel_day"] == 0) & (ar["ticker"] == "ORCL")
             & (ar["event_id"] == clean["event_id"])].iloc[0]
    orcl = raw[raw["ticker"] == "ORCL"].assign(date=lambda d: pd.to_datetime(d["date"]))
    orcl = orcl.set_index("date")["volume"]
    day0 = orcl.index.get_loc(pd.Timestamp(row["date"]))
    est = np.log(orcl.iloc[day0 - 260:day0 - 10].to_numpy() + 0.000255)
    expected = np.log(orcl.iloc[day0] + 0.000255) - est.mean()
    assert row["ar"] == pytest.approx(expected, abs=1e-6)
