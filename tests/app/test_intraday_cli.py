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


def test_run_interval_trades_minutes_after_the_news(bars_csv, tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["run", "openai", "--strategy", "short_partners_on_bad_news", "--interval", "1m",
               "--bars", str(bars_csv), "--latency", "60s", "--exit", "30m", "--out", str(out),
               "--offline", "--fees", "0", "--slippage", "0"])
    assert rc == 0
    assert "1 independent event, not 6 trades" in capsys.readouterr().out
    trades = pd.read_csv(out / "intraday_trades.csv")
    crwv = trades[trades["ticker"] == "CRWV"].iloc[0]
    # news 15:36 UTC + 60 s: the 15:37 bar's open; 30 minutes later: the 16:07 bar's open
    bars = pd.read_csv(bars_csv)
    crwv_bars = bars[bars["ticker"] == "CRWV"].set_index("timestamp")
    assert crwv["entry_price"] == pytest.approx(crwv_bars.loc["2026-04-28 15:37:00+00:00",
                                                               "open"], rel=1e-9)
    assert crwv["exit_price"] == pytest.approx(crwv_bars.loc["2026-04-28 16:07:00+00:00",
                                                              "open"], rel=1e-9)
    assert crwv["pnl"] > 0  # short through the planted -4% jump
    assert "would trading it have paid" in (out / "index.html").read_text().lower()
    again = tmp_path / "again"
    main(["run", "openai", "--strategy", "short_partners_on_bad_news", "--interval", "1m",
          "--bars", str(bars_csv), "--latency", "60s", "--exit", "30m", "--out", str(again),
          "--offline", "--fees", "0", "--slippage", "0"])
    for name in ("intraday_trades.csv", "intraday_orders.csv", "metrics.json"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name
    assert main(["report", str(out)]) == 0


def test_audit_interval_is_clean_for_a_builtin(bars_csv, capsys):
    rc = main(["audit", "openai", "--strategy", "short_partners_on_bad_news", "--interval", "1m",
               "--bars", str(bars_csv), "--latency", "120s", "--offline"])
    assert rc == 0 and "no look-ahead" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["run", "openai", "--strategy", "short_partners_on_bad_news", "--latency", "60s"],
     "--latency is for trading minute bars"),
    (["audit", "openai", "--strategy", "short_partners_on_bad_news", "--exit", "30m"],
     "--exit is for trading minute bars"),
    (["run", "openai", "--strategy", "short_partners_on_bad_news", "--interval", "1m",
      "--latency=-5s"], "latency"),
])
def test_run_refusals(bars_csv, tmp_path, capsys, argv, message):
    rc = main([*argv, "--offline", "--bars", str(bars_csv), "--out", str(tmp_path / "o")]
              if "--interval" in argv else [*argv, "--offline", "--out", str(tmp_path / "o")]
              if argv[0] == "run" else [*argv, "--offline"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and message in err, err


@pytest.mark.parametrize("extra, message", [
    (["--estimation-sessions", "0"], "estimation must be 1..250"),
    (["--horizons", ","], "at least one"),
    (["--horizons", "5m,5m"], "distinct"),
])
def test_intraday_study_option_refusals(bars_csv, tmp_path, capsys, extra, message):
    rc = main(["study", "openai", "--interval", "1m", "--bars", str(bars_csv), "--offline",
               "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and message in err, err


def test_latency_beyond_any_range_is_refused(bars_csv, tmp_path, capsys):
    rc = main(["run", "openai", "--strategy", "short_partners_on_bad_news", "--interval", "1m",
               "--bars", str(bars_csv), "--latency", "99999999999999999999s", "--offline",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "latency" in err, err


def test_five_minute_bars_are_not_read_as_one_minute_bars(tmp_path, capsys):
    five = tmp_path / "five.csv"
    minute_bars(["ORCL"], "2026-04-20", "2026-04-28", interval="5min").to_csv(five, index=False)
    rc = main(["study", "openai", "--interval", "1m", "--bars", str(five), "--offline",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "look like 5m bars, not 1m" in err, err
    rc = main(["data", "import", "--interval", "1m", str(five), "--cache-dir",
               str(tmp_path / "cache")])
    assert rc == 2 and not (tmp_path / "cache" / "bars" / "1m").exists()
