"""The price store with fakes at the network boundary: cache integrity, retries, merging,
batching, imports, ``backtest data info`` and the data hash of a run.

No test here touches the network: every PriceStore gets ``download=`` a fake (or
one that fails the test if reached), and the CLI runs are ``--offline`` or
commands that never download (``data import``, ``data info``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.app.cli import main as cli_main
from backtest.data.cache import PriceCache
from backtest.data.panel import COLUMNS
from backtest.data.store import PriceStore
from backtest.data.yahoo import DownloadError
from events import InputError
from reports import read_table

# Four NYSE sessions (2025-01-09 was a market closure: no bar).
DATES = pd.DatetimeIndex(["2025-01-06", "2025-01-07", "2025-01-08", "2025-01-10"])


def fake_values(ticker: str, version: int = 1) -> dict[str, list[float]]:
    """Known, ticker- and version-specific bars: close 100+i (AAA), 200+i (BBB), ...,
    plus 1000 per version above 1, so a rebuilt file is told apart from the old one."""
    base = 100.0 * (1 + sum(map(ord, ticker)) % 7) + 1000.0 * (version - 1)
    close = [base + i for i in range(len(DATES))]
    return {"Open": [c - 0.5 for c in close], "High": [c + 1 for c in close],
            "Low": [c - 1 for c in close], "Close": close,
            "Adj Close": close, "Volume": [1e6] * len(DATES),
            "Dividends": [0.0] * len(DATES), "Stock Splits": [0.0] * len(DATES)}


def yf_frame(tickers: list[str], version: int = 1, dates: pd.DatetimeIndex = DATES,
             start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """yfinance.download(..., group_by='column') layout: columns (Price, Ticker), index Date;
    rows in [start, end) like yfinance."""
    cols = {}
    for ticker in tickers:
        for field, values in fake_values(ticker, version).items():
            cols[(field, ticker)] = values
    frame = pd.DataFrame(cols, index=pd.DatetimeIndex(dates, name="Date"))
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["Price", "Ticker"])
    frame = frame.sort_index(axis=1, level=0)
    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame.index < pd.Timestamp(end)]
    return frame


class Fake:
    """A download boundary returning fake bars (version ``version``), recording calls."""

    def __init__(self, version: int = 1, fail: list[BaseException] | None = None):
        self.version, self.fail, self.calls = version, list(fail or []), []

    def __call__(self, tickers, start, end):
        self.calls.append((list(tickers), start, end))
        if self.fail:
            raise self.fail.pop(0)
        return yf_frame(list(tickers), self.version, start=start, end=end)


def refuse(tickers, start, end):
    raise AssertionError(f"network download attempted for {tickers}")


def store(tmp_path, download=refuse, **kw) -> PriceStore:
    kw.setdefault("sleep", lambda s: None)
    return PriceStore(cache_dir=tmp_path, use_bundled=False, download=download, **kw)


# --- a corrupt cache file is detected, reported once and rebuilt, never read -----------------

def _tamper(path: Path) -> None:
    """A valid parquet file with other numbers (close x1000), under the old checksum."""
    frame = pd.read_parquet(path)
    frame["close"] = frame["close"] * 1000
    frame["open"] = frame["open"] * 1000
    frame.to_parquet(path, index=False)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    for k in range(mid, mid + 16):
        data[k] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop_sidecar(path: Path) -> None:
    path.with_name(path.name + ".sha256").unlink()


def _blank_sidecar(path: Path) -> None:
    path.with_name(path.name + ".sha256").write_text("")


def _resigned(change):
    """A content change written with a fresh, valid checksum: only the content is wrong."""
    def corrupt(path: Path) -> None:
        frame = change(pd.read_parquet(path))
        frame.to_parquet(path, index=False)
        path.with_name(path.name + ".sha256").write_text(
            hashlib.sha256(path.read_bytes()).hexdigest() + "\n")
    return corrupt


CORRUPTIONS = {"tampered": _tamper, "flipped": _flip, "truncated": _truncate,
               "no-sidecar": _drop_sidecar, "empty-sidecar": _blank_sidecar,
               "old-layout": _resigned(lambda f: f.drop(columns=["dividend", "open"])),
               "text-prices": _resigned(lambda f: f.assign(close=["n/a"] * len(f))),
               "tz-dates": _resigned(lambda f: f.assign(
                   date=pd.to_datetime(f["date"]).dt.tz_localize("America/New_York"))),
               "negative-prices": _resigned(lambda f: f.assign(close=-f["close"])),
               "other-ticker": _resigned(lambda f: f.assign(ticker="ZZZ"))}


@pytest.fixture
def corrupt_cache(tmp_path, request):
    """A cache with AAA and BBB (version 1 values), then AAA corrupted one way."""
    store(tmp_path, Fake(version=1)).load(["AAA", "BBB"])
    cache = PriceCache(tmp_path)
    assert (cache.status("AAA"), cache.status("BBB")) == ("ok", "ok")
    CORRUPTIONS[request.param](cache.path("AAA"))
    return tmp_path


@pytest.mark.parametrize("corrupt_cache", sorted(CORRUPTIONS), indirect=True)
def test_corrupt_file_is_detected(corrupt_cache):
    cache = PriceCache(corrupt_cache)
    assert cache.status("AAA") == "corrupt"
    assert cache.read("AAA") is None  # never handed out as data
    assert cache.status("BBB") == "ok"
    info = cache.info().set_index("ticker")
    assert info.loc["AAA", "status"] == "corrupt" and info.loc["AAA", "rows"] == 0
    assert info.loc["BBB", "status"] == "ok" and info.loc["BBB", "rows"] == 4


@pytest.mark.parametrize("corrupt_cache", sorted(CORRUPTIONS), indirect=True)
def test_corrupt_file_warns_once_and_is_rebuilt_from_download(corrupt_cache):
    """load() warns once naming the file, downloads AAA (only), and serves the fresh bars."""
    warnings: list[str] = []
    fake = Fake(version=2)
    s = store(corrupt_cache, fake, warn=warnings.append)
    panel = s.load(["AAA", "BBB", "aaa"])
    path = s.cache.path("AAA")
    assert len(warnings) == 1, warnings
    assert str(path) in warnings[0] and "corrupt" in warnings[0]
    assert "rebuilding" in warnings[0]
    assert fake.calls == [(["AAA"], None, None)]
    # AAA: exactly the fake's version-2 closes (not version 1, not the tampered x1000).
    assert panel.close["AAA"].tolist() == fake_values("AAA", 2)["Close"]
    assert panel.open["AAA"].tolist() == fake_values("AAA", 2)["Open"]
    assert panel.close["BBB"].tolist() == fake_values("BBB", 1)["Close"]  # from the cache
    assert panel.sources == {"AAA": "yfinance", "BBB": "cache"}
    assert s.cache.status("AAA") == "ok"
    # The rebuilt file is good: a second load neither warns nor downloads.
    again: list[str] = []
    panel2 = store(corrupt_cache, refuse, warn=again.append).load(["AAA"])
    assert again == []
    assert panel2.close["AAA"].tolist() == fake_values("AAA", 2)["Close"]


@pytest.mark.parametrize("corrupt_cache", ["tampered", "truncated"], indirect=True)
def test_corrupt_file_offline_is_an_input_error(corrupt_cache):
    """Offline, a corrupt file cannot be rebuilt: one warning, then InputError naming AAA."""
    warnings: list[str] = []
    s = store(corrupt_cache, refuse, offline=True, warn=warnings.append)
    with pytest.raises(InputError) as info:
        s.load(["AAA", "BBB"])
    assert info.value.reason.startswith("no price data for AAA (")
    assert "offline" in str(info.value)
    assert len(warnings) == 1 and str(s.cache.path("AAA")) in warnings[0]
    assert "offline" in warnings[0]


# --- retries ----------------------------------------------------------------------------------

def test_retries_after_connection_errors_with_backoff(tmp_path):
    """ConnectionError twice, then data: 3 calls, sleeps 1.0 and 2.0, and the data is used."""
    sleeps: list[float] = []
    fake = Fake(fail=[ConnectionError("reset by peer"), ConnectionError("reset by peer")])
    s = store(tmp_path, fake, sleep=sleeps.append, backoff=1.0, retries=3)
    panel = s.load(["AAA"])
    assert len(fake.calls) == 3
    assert sleeps == [1.0, 2.0]
    assert panel.close["AAA"].tolist() == fake_values("AAA")["Close"]


def test_always_timing_out_gives_up_after_retries(tmp_path):
    """TimeoutError every time: retries+1 calls, waits 1, 2, 4, then an InputError that
    says yfinance failed and names the ticker; nothing is cached."""
    sleeps: list[float] = []
    fake = Fake(fail=[TimeoutError("read timed out")] * 10)
    s = store(tmp_path, fake, sleep=sleeps.append, backoff=1.0, retries=3)
    with pytest.raises(InputError) as info:
        s.load(["AAA"])
    assert len(fake.calls) == 4
    assert sleeps == [1.0, 2.0, 4.0]
    message = str(info.value)
    assert "yfinance failed" in message and "read timed out" in message
    assert info.value.reason.startswith("no price data for AAA (")
    assert s.cache.status("AAA") == "missing"


def test_fetch_raises_download_error_after_retries(tmp_path):
    """fetch() itself raises DownloadError (the CLI turns it into one line)."""
    fake = Fake(fail=[OSError("network is unreachable")] * 10)
    s = store(tmp_path, fake, retries=1)
    with pytest.raises(DownloadError, match="unreachable"):
        s.fetch(["AAA"])
    assert len(fake.calls) == 2


def test_network_failure_names_only_the_missing_ticker(tmp_path):
    """AAA is cached; BBB must be downloaded and the network is down: only BBB is named."""
    store(tmp_path, Fake()).load(["AAA"])
    fake = Fake(fail=[ConnectionError("no route to host")] * 10)
    s = store(tmp_path, fake, retries=2)
    with pytest.raises(InputError) as info:
        s.load(["AAA", "BBB"])
    assert info.value.reason.split(" (")[0] == "no price data for BBB"
    assert "yfinance failed" in info.value.reason
    assert [c[0] for c in fake.calls] == [["BBB"]] * 3  # AAA never requested


# --- fetch merges, batching -----------------------------------------------------------------

def test_fetch_of_a_later_range_keeps_the_earlier_rows(tmp_path):
    """Fetch 01-06..01-07, then 01-08..01-10: the cache holds all four sessions; the
    inclusive end is passed to yfinance as the exclusive next day."""
    fake = Fake()
    s = store(tmp_path, fake)
    assert s.fetch(["AAA"], "2025-01-06", "2025-01-07") == {"AAA": 2}
    assert s.fetch(["AAA"], "2025-01-08", "2025-01-10") == {"AAA": 4}
    assert fake.calls == [(["AAA"], "2025-01-06", "2025-01-08"),
                          (["AAA"], "2025-01-08", "2025-01-11")]
    cached = s.cache.read("AAA")
    assert list(pd.to_datetime(cached["date"])) == list(DATES)
    assert cached["close"].tolist() == fake_values("AAA")["Close"]
    panel = store(tmp_path, refuse, offline=True).load(["AAA"])
    assert panel.close["AAA"].tolist() == fake_values("AAA")["Close"]


def test_fetch_overlap_takes_the_new_download(tmp_path):
    """Refetching 01-07..01-08 with new values replaces those two rows and keeps the rest."""
    store(tmp_path, Fake(version=1)).fetch(["AAA"])
    store(tmp_path, Fake(version=2)).fetch(["AAA"], "2025-01-07", "2025-01-08")
    close = store(tmp_path, refuse, offline=True).load(["AAA"]).close["AAA"].tolist()
    v1, v2 = fake_values("AAA", 1)["Close"], fake_values("AAA", 2)["Close"]
    assert close == [v1[0], v2[1], v2[2], v1[3]]


def test_120_tickers_in_batches_of_50(tmp_path, capsys):
    """120 tickers, batch=50: three download calls of 50, 50 and 20, in order."""
    tickers = [f"T{i:03d}" for i in range(120)]
    calls = []

    def fake(chunk, start, end):
        calls.append(list(chunk))
        return yf_frame(chunk[:1])  # one ticker per batch has data: keep the test fast

    counts = store(tmp_path, fake, batch=50).fetch(tickers)
    assert [len(c) for c in calls] == [50, 50, 20]
    assert sum(calls, []) == tickers
    assert counts == {"T000": 4, "T050": 4, "T100": 4}
    err = capsys.readouterr().err
    assert "batch 3/3 (120/120 tickers)" in err


# --- import, data info, import + study ---------------------------------------------------------

def _long_frame(ticker: str, closes: list[float], dates=DATES) -> pd.DataFrame:
    return pd.DataFrame({"date": dates, "ticker": ticker, "open": closes, "high": np.nan,
                         "low": np.nan, "close": closes, "volume": np.nan, "dividend": 0.0,
                         "close_is_adjusted": False})[COLUMNS]


def test_import_frame_then_data_info_lists_it(tmp_path, capsys):
    """`backtest data info` shows the imported ticker: status ok, first and last date, rows,
    source; a corrupt neighbour shows as corrupt."""
    s = store(tmp_path)
    assert s.import_frame(_long_frame("IMPT", [10.0, 11.0, 12.0, 13.0]), "import:mine.csv") == {
        "IMPT": 4}
    s.import_frame(_long_frame("BROKEN", [1.0, 2.0, 3.0, 4.0]), "import:x.csv")
    _truncate(s.cache.path("BROKEN"))
    assert cli_main(["data", "info", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"cache {tmp_path / 'prices'}: 2 tickers" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.split() and line.split()[0] in ("IMPT", "BROKEN")}
    assert rows["IMPT"][1:6] == ["ok", "2025-01-06", "2025-01-10", "4", "import:mine.csv"]
    assert rows["BROKEN"][1] == "corrupt"


def test_import_frame_round_trips(tmp_path):
    s = store(tmp_path)
    s.import_frame(_long_frame("IMPT", [10.0, 11.0, 12.0, 13.0]), "import:mine.csv")
    panel = store(tmp_path, offline=True).load(["IMPT"])
    assert panel.close["IMPT"].tolist() == [10.0, 11.0, 12.0, 13.0]
    assert panel.sources == {"IMPT": "cache"}


def _command() -> list[str]:
    script = Path(sys.executable).parent / "backtest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "backtest"]


def _env(cache: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env.update(HOME=str(home), BACKTEST_CACHE_DIR=str(cache), PYTHONDONTWRITEBYTECODE="1")
    return env


# A made-up ticker MYCO on 320 NYSE sessions from 2025-01-02, close 50 * 1.001^k with a
# +10% jump on the event's day 0 (2026-03-02, a Monday, before_open).
MYCO_CAL = """\
name: myco
events:
  - id: myco-news
    date: 2026-03-02
    session: before_open
    headline: MYCO news
    source: Test
    sentiment: {label: bullish, score: 80}
    tickers:
      - {ticker: MYCO, role: subject, direction: up}
"""


def _myco_csv(path: Path) -> list[float]:
    from events.timing import exchange_calendar

    sessions = exchange_calendar().sessions_in_range("2025-01-02", "2026-05-29")
    closes = [round(50 * 1.001 ** k, 4) for k in range(len(sessions))]
    day0 = list(sessions).index(pd.Timestamp("2026-03-02"))
    closes = closes[:day0] + [round(c * 1.1, 4) for c in closes[day0:]]
    lines = ["date,ticker,close"] + [f"{d.date()},MYCO,{c}" for d, c in zip(sessions, closes)]
    path.write_text("\n".join(lines) + "\n")
    return closes


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """In parallel: `backtest demo --offline --out X`, and `data import` then `study`."""
    root = tmp_path_factory.mktemp("cli")
    home = root / "home"
    home.mkdir()
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                   env=_env(root / "unused", home), capture_output=True, timeout=120)

    def demo():
        cache = root / "demo-cache"
        proc = subprocess.run([*_command(), "demo", "--offline", "--out", str(root / "X")],
                              cwd=root, env=_env(cache, home), capture_output=True, text=True,
                              timeout=300)
        return proc, cache

    def import_then_study():
        cache = root / "myco-cache"
        csv = root / "myco.csv"
        closes = _myco_csv(csv)
        (root / "myco.yaml").write_text(MYCO_CAL)
        env = _env(root / "not-this-one", home)
        imp = subprocess.run([*_command(), "data", "import", str(csv), "--cache-dir", str(cache)],
                             cwd=root, env=env, capture_output=True, text=True, timeout=120)
        env = _env(cache, home)  # the study finds the cache through BACKTEST_CACHE_DIR
        study = subprocess.run([*_command(), "study", str(root / "myco.yaml"), "--offline",
                                "--pseudo-draws", "0", "--out", str(root / "S")],
                               cwd=root, env=env, capture_output=True, text=True, timeout=300)
        return imp, study, cache, closes

    with ThreadPoolExecutor(max_workers=2) as pool:
        f_demo, f_study = pool.submit(demo), pool.submit(import_then_study)
        return {"root": root, "demo": f_demo.result(), "myco": f_study.result()}


def test_data_import_then_offline_study_uses_the_imported_ticker(cli_runs):
    imp, study, cache, closes = cli_runs["myco"]
    root = cli_runs["root"]
    assert imp.returncode == 0, imp.stderr
    assert f"MYCO: {len(closes)} rows imported into {cache / 'prices' / 'MYCO.parquet'}" \
        in imp.stdout
    assert not (root / "not-this-one").exists()  # --cache-dir beat BACKTEST_CACHE_DIR
    assert study.returncode == 0, study.stderr
    run = json.loads((root / "S" / "run.json").read_text())
    assert run["data_sources"] == {"MYCO": "cache", "SPY": "bundled"}
    car = read_table(root / "S", "car")
    assert set(car["ticker"]) == {"MYCO"}
    skipped = pd.read_csv(root / "S" / "skipped.csv")
    assert "MYCO" not in set(skipped.get("ticker", []))
    # The day-0 jump of +10% dominates the (0, 0) abnormal return.
    car00 = car[(car["window_start"] == 0) & (car["window_end"] == 0)]["car"].iloc[0]
    assert 0.05 < car00 < 0.15
    panel = PriceStore(cache_dir=cache, offline=True, use_bundled=False).load(["MYCO"])
    assert np.allclose(panel.close["MYCO"].to_numpy(), closes)


def test_demo_data_hash_matches_the_store(cli_runs):
    """metrics.json and run.json carry the same data_hash, and loading run.json's
    data_sources tickers offline gives a panel with that very hash."""
    proc, cache = cli_runs["demo"]
    assert proc.returncode == 0, proc.stderr
    out = cli_runs["root"] / "X"
    run = json.loads((out / "run.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(run["data_hash"]) == 16
    assert metrics["data_hash"] == run["data_hash"]
    tickers = list(run["data_sources"])
    assert "SPY" in tickers and "ORCL" in tickers
    panel = PriceStore(cache_dir=cache, offline=True, download=refuse).load(tickers)
    assert panel.data_hash == run["data_hash"]
    # ... and the hash does depend on the data: one ticker fewer changes it.
    assert PriceStore(cache_dir=cache, offline=True).load(tickers[1:]).data_hash \
        != run["data_hash"]


def test_a_git_lfs_pointer_snapshot_is_refused_in_one_line(tmp_path, monkeypatch):
    """A checkout without git-lfs leaves a text pointer where the parquet should be: the
    store says so (and how to fix it) instead of a pyarrow traceback."""
    from backtest.data import store as store_module

    pointer = tmp_path / "prices.parquet"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n"
                       "size 440000\n")
    monkeypatch.setattr(store_module, "bundled_path", lambda: pointer)
    with pytest.raises(InputError, match="git-lfs pointer.*git lfs pull"):
        PriceStore(cache_dir=tmp_path, offline=True).load(["ORCL"])
    pointer.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="not a readable parquet file"):
        PriceStore(cache_dir=tmp_path, offline=True).load(["ORCL"])
