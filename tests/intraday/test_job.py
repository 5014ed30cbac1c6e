"""The intraday results folder and its report: written atomically, rendered from the files,
user text escaped, rendered again by ``backtest report``."""

from __future__ import annotations

import pandas as pd

from backtest.app.jobs import intraday_job, rerender
from backtest.intraday.bars import IntradayBars
from events.model import Calendar, Event, LinkedTicker, Sentiment
from tests.minute_bars import minute_bars

HEADLINE = "<script>alert(1)</script> $500B & OpenAI_miss"


def _inputs():
    long = minute_bars(["ORCL", "CRWV"], "2026-03-20", "2026-04-29",
                       jumps={"ORCL": [("2026-04-28 15:37", -0.03)]})
    bars = IntradayBars.from_long(long, pd.Timedelta("1min"), sources={"ORCL": "test"})
    ev = Event("miss", HEADLINE, "test", Sentiment("bearish", 65),
               (LinkedTicker("ORCL", "partner", "down"), LinkedTicker("CRWV", "partner", "down")),
               timestamp=pd.Timestamp("2026-04-28 15:36", tz="UTC"))
    return Calendar("c", (ev,)), bars


def test_folder_report_and_rerender(tmp_path):
    cal, bars = _inputs()
    out = intraday_job(cal, bars, tmp_path / "run")
    names = {p.name for p in out.iterdir()}
    assert {"intraday_pairs.csv", "intraday_horizons.csv", "intraday_pooled.csv",
            "intraday_daily.csv", "intraday_path.parquet", "intraday_path_00.png",
            "index.html", "run.json", "events.csv"} <= names
    html = (out / "index.html").read_text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "11:36 EDT" in html  # exchange time in the report
    h = pd.read_csv(out / "intraday_horizons.csv")
    assert h.loc[(h.ticker == "ORCL") & (h.horizon == "5m"), "car"].iloc[0] < -0.02
    daily = pd.read_csv(out / "intraday_daily.csv")  # the bundled daily data, same pairs
    assert set(daily["ticker"]) == {"ORCL", "CRWV"} and daily["daily_ar0"].notna().all()
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".csv"}
    rerender(out)
    assert "&lt;script&gt;" in (out / "index.html").read_text()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".csv"} == before


def test_same_inputs_same_tables(tmp_path):
    cal, bars = _inputs()
    a = intraday_job(cal, bars, tmp_path / "a", table_format="csv")
    b = intraday_job(cal, bars, tmp_path / "b", table_format="csv")
    for name in ("intraday_horizons.csv", "intraday_pooled.csv", "intraday_path.csv",
                 "intraday_pairs.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
