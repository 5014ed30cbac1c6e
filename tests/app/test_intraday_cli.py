"""``backtest study --interval``: the intraday study through the command line."""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.app.cli import main
from tests.minute_bars import minute_bars

TICKERS = ["ORCL", "CRWV", "MSFT", "NVDA", "AMD", "AVGO", "GOOGL"]  # the seed event's


@pytest.fixture(scope="module")
def bars_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("bars") / "bars.csv"
    minute_bars(TICKERS, "2026-03-20", "2026-04-29",
                jumps={"CRWV": [("2026-04-28 15:37", -0.04)]}).to_csv(path, index=False)
    return path


def test_study_interval_on_the_bundled_calendar(bars_csv, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["study", "openai", "--interval", "1m", "--bars", str(bars_csv), "--out", str(out),
               "--offline", "--window-minutes", "-10", "60"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "7 of 33 pairs studied, 1 news event(s)" in printed
    assert "single observation" in printed
    h = pd.read_csv(out / "intraday_horizons.csv")
    crwv = h[(h.ticker == "CRWV") & (h.horizon == "5m")].iloc[0]
    assert crwv["car"] == pytest.approx(-0.04, abs=0.01)
    path = pd.read_parquet(out / "intraday_path.parquet")
    assert path["offset"].min() == -10 and path["offset"].max() == 60


@pytest.mark.parametrize("extra, message", [
    (["--interval", "5m", "--window-minutes", "-30", "7"], "not whole 5m bars"),
    (["--interval", "1m", "--model", "garch"], "market or market_adjusted"),
    (["--interval", "1m", "--horizons", "5s"], "horizon"),
    (["--interval", "7m"], "interval must be one of"),
    (["--window-minutes", "-30", "120"], "is for an intraday study"),
])
def test_refusals_exit_2_with_one_line(bars_csv, tmp_path, capsys, extra, message):
    out = tmp_path / "run"
    rc = main(["study", "openai", "--bars", str(bars_csv), "--out", str(out), "--offline",
               *extra] if "--interval" in extra else
              ["study", "openai", "--out", str(out), "--offline", *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and message in err, err
    assert not out.exists()
