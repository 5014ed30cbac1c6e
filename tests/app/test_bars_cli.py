"""``backtest data import|fetch|info`` with ``--interval``: minute bars through the command.

Run in-process through :func:`backtest.app.cli.main` (what the console script calls).
A refused file exits 2 with one line on stderr and leaves the cache byte for byte as
it was; yfinance is replaced at the download boundary, never reached.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from backtest.intraday import bar_store
from backtest.app.cli import main
from tests.intraday.test_barfiles import LAST, REFUSALS, bad_file, write_csv
from tests.intraday.test_bar_store import FakeYahoo
from tests.minute_bars import minute_bars


def _snapshot(cache: Path) -> dict[str, bytes]:
    return {str(p.relative_to(cache)): p.read_bytes() for p in sorted(cache.rglob("*"))
            if p.is_file()}


@pytest.fixture
def cache(tmp_path) -> Path:
    """A cache already holding the 1m bars of one ticker (KEEP), imported by the command."""
    folder = tmp_path / "cache"
    keep = minute_bars([], "2025-11-26", "2025-11-26", market="KEEP", seed=5)
    assert main(["data", "import", "--interval", "1m", str(write_csv(tmp_path, keep, "k.csv")),
                 "--cache-dir", str(folder)]) == 0
    return folder


def _refused(capsys, args: list[str], cache: Path) -> str:
    before = _snapshot(cache)
    capsys.readouterr()
    assert main([*args, "--cache-dir", str(cache)]) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith("backtest: error: ")
    assert _snapshot(cache) == before
    return lines[0]


def test_import_then_info(tmp_path, cache, capsys):
    long = minute_bars(["ORCL"], "2025-11-28", "2025-11-28", seed=2)
    path = tmp_path / "bars.parquet"
    long.to_parquet(path)
    capsys.readouterr()
    assert main(["data", "import", "--interval", "1m", str(path), "--cache-dir",
                 str(cache)]) == 0
    out = capsys.readouterr().out
    assert f"ORCL: 210 1m bars in {cache / 'bars' / '1m' / 'ORCL.parquet'}" in out
    assert main(["data", "info", "--cache-dir", str(cache)]) == 0
    info = capsys.readouterr().out
    assert f"bar cache {cache / 'bars'}: 3 files" in info
    assert "2025-11-28 12:59 America/New_York (17:59 UTC)" in info  # the early close
    assert "import:bars.parquet" in info


@pytest.mark.parametrize("name", REFUSALS)
def test_import_refusals_exit_2_and_write_nothing(tmp_path, cache, capsys, name):
    change, field, says = REFUSALS[name]
    path = bad_file(tmp_path, change)  # good SPY and ORCL bars first, the bad row last
    line = _refused(capsys, ["data", "import", "--interval", "1m", str(path)], cache)
    assert line.startswith(f"backtest: error: {path}:{LAST}: {field}: ")
    assert says in line


def test_keep_extended_through_the_command(tmp_path, cache, capsys):
    path = bad_file(tmp_path, dict(timestamp="2025-11-28T18:05:00Z"))
    capsys.readouterr()
    assert main(["data", "import", "--interval", "1m", "--keep-extended", str(path),
                 "--cache-dir", str(cache)]) == 0
    err = capsys.readouterr().err
    assert "kept 1 bars outside regular XNYS hours" in err
    cached = pd.read_parquet(cache / "bars" / "1m" / "AMD.parquet")
    assert cached["extended"].tolist() == [True]


@pytest.mark.parametrize("args, says", [
    (["data", "import", "--keep-extended", "x.csv"], "--keep-extended: --keep-extended is for "
                                                     "bar files"),
    (["data", "import", "--interval", "3m", "x.csv"], "interval must be one of"),
    (["data", "import", "--interval", "1m", "--drop-non-sessions", "x.csv"],
     "--drop-non-sessions is for daily prices"),
    (["data", "import", "--interval", "1m", "no-such.csv"], "no-such.csv: no such file"),
    (["data", "fetch", "--interval", "1m", "--start", "2020-01-02", "ORCL"],
     "yfinance serves 1m bars for the last 30 days only"),
    (["data", "fetch", "--interval", "10m", "ORCL"], "yfinance has no 10m bars"),
    (["data", "fetch", "--interval", "5m", "--start", "yesterday", "ORCL"],
     "--start: not a date"),
])
def test_bad_options_exit_2(cache, capsys, args, says):
    assert says in _refused(capsys, args, cache)


def test_fetch_interval_with_a_fake_yfinance(cache, capsys, monkeypatch):
    from events.timing import exchange_calendar

    cal = exchange_calendar("XNYS")
    today = pd.Timestamp.now(tz="America/New_York").tz_localize(None).normalize()
    days = cal.sessions_in_range(today - pd.Timedelta(days=10), today - pd.Timedelta(days=1))
    fake = FakeYahoo(minute_bars(["ORCL"], days[-2], days[-1], interval="5min", seed=9))
    monkeypatch.setattr(bar_store, "yfinance_download_intraday", fake)
    capsys.readouterr()
    assert main(["data", "fetch", "--interval", "5m", "ORCL",
                 "--start", f"{days[-2]:%Y-%m-%d}", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    n = int((fake.pool["ticker"] == "ORCL").sum())  # 78 a day, fewer on an early close
    assert f"ORCL: {n} 5m bars in {cache / 'bars' / '5m' / 'ORCL.parquet'}" in out
    assert fake.calls[0][1] == "5m"
