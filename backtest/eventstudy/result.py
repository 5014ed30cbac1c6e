"""What an event study returns: :class:`StudyResult`, tidy tables with a summary."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.eventstudy import stats
from backtest.eventstudy.config import StudyConfig
from backtest.io import write_csv, write_parts, write_table, write_table_pieces

TABLES = ("ar", "car", "caar", "tests", "estimates", "skipped", "quality")
# One row per pair (and day): millions in a universe study, written by write_table as
# parquet unless asked for CSV. The others are small tables people open: always CSV.
LARGE_TABLES = ("ar", "car", "estimates", "timing")
PIECE_PAIRS = 20_000  # pairs per piece (parquet part) when the AR table is written


def ar_frame(text: pd.DataFrame, offsets: np.ndarray, arrays: dict, dates: np.ndarray,
             sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """The AR table's rows of some pairs: ``text`` their event_id, ticker, role and label,
    ``arrays`` their (pairs, days) ``y``, ``expected``, ``ar`` and ``sar``, ``dates`` the
    session position of each (pair, day) (-1: outside the data)."""
    n_pairs, n_days = arrays["ar"].shape
    rep = np.repeat(np.arange(n_pairs), n_days)
    flat = dates.ravel()
    date = pd.Series(sessions.take(np.where(flat >= 0, flat, 0))).where(flat >= 0)
    # take() on the string arrays themselves: no per-row conversion of 20 copies
    columns = {name: text[name].array.take(rep) for name in ("event_id", "ticker", "role")}
    return pd.DataFrame({
        **columns, "rel_day": np.tile(offsets, n_pairs), "date": date.to_numpy(),
        "ret": arrays["y"].ravel(), "expected": arrays["expected"].ravel(),
        "ar": arrays["ar"].ravel(), "sar": arrays["sar"].ravel(),
        "label": text["label"].array.take(rep),
        "cum_ar": np.cumsum(arrays["ar"], axis=1).ravel(),
    })


class ARRows:
    """The AR table of a study, kept as its per-pair arrays until rows are asked for.

    A study of a universe has millions of (pair, day) rows: as a DataFrame (text columns
    repeated on every row) the table takes about three times the memory of the arrays it
    is made from, and the writer and the report need it only piece by piece or one event
    at a time. ``build(rows)`` makes the table's rows of the pairs ``rows`` (sorted pair
    indices), in pair order; :meth:`frame` is the whole table (what ``StudyResult.ar``
    returns), :meth:`of_event` one event's rows, :meth:`pieces` the table in consecutive
    pieces of pairs. Every way gives the same rows and values.
    """

    def __init__(self, build, event_ids: np.ndarray, n_days: int):
        self._build, self._event_ids, self._n_days = build, np.asarray(event_ids), n_days

    def __len__(self) -> int:
        return len(self._event_ids) * self._n_days

    def frame(self) -> pd.DataFrame:
        return self._build(np.arange(len(self._event_ids)))

    def of_event(self, event_id: str) -> pd.DataFrame:
        return self._build(np.flatnonzero(self._event_ids == event_id))

    def pieces(self, pairs: int = PIECE_PAIRS):
        for start in range(0, len(self._event_ids), pairs):
            yield self._build(np.arange(start, min(start + pairs, len(self._event_ids))))


class ARParts:
    """The AR table of a study whose blocks wrote it (``run_study(ar_parts=FOLDER)``): the
    parquet parts ``FOLDER/part-00000.parquet, ...`` in pair order, read when asked for,
    with the methods of :class:`ARRows`."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _files(self) -> list[Path]:
        return sorted(self.folder.glob("part-*.parquet"))

    def __len__(self) -> int:
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(f).metadata.num_rows for f in self._files())

    def frame(self) -> pd.DataFrame:
        parts = [pd.read_parquet(f, engine="pyarrow") for f in self._files()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def of_event(self, event_id: str) -> pd.DataFrame:
        parts = [pd.read_parquet(f, engine="pyarrow", filters=[("event_id", "==", event_id)])
                 for f in self._files()]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def pieces(self, pairs: int = PIECE_PAIRS):
        for f in self._files():
            yield pd.read_parquet(f, engine="pyarrow")
SUMMARY_FILE = "table_tests_by_window.csv"


@dataclass
class StudyResult:
    """Tidy outputs of :func:`~backtest.eventstudy.run_study`; the column lists are a
    stable schema.

    ar : event_id, ticker, role, rel_day, date, ret, expected, ar, sar, label, cum_ar
    car : event_id, ticker, role, window_start, window_end, car, car_t, car_p, bhar,
        label, car_se, n_missing, confounded_with, direction (the expected move), group
        (the pair's statistics group, "all" without ``group_by``)
    caar : group, rel_day, n, aar, caar, caar_lo, caar_hi (cross-sectional 95% band),
        signed
    tests : group, window_start, window_end, n, mean, statistic, value, p_value, headline,
        rbar, n_pos, n_neg, n_days (distinct news days), signed (one row per statistic of
        :data:`stats.STATISTICS`)

    A group that pools pairs expected to move up and pairs expected to move down (the
    "all" group of most calendars) is *signed* (``signed`` True): every pair's ARs count
    in its expected direction (times -1 for a pair expected to fall), so its mean is the
    "CAR in the expected direction" and its tests ask whether the news moved stocks the
    way the calendar expected. A group of one direction keeps its raw CARs.
    estimates : event_id, ticker, model, coef_*, sigma, n_est, n_excluded, confounded_with,
        dof (residual degrees of freedom of the pair's model)
    skipped : event_id, ticker, reason
    timing : the event audit table (:func:`events.timing.timing_table`)
    quality : data-quality findings, check, ticker, date, detail
        (:mod:`backtest.data.quality`)

    With ``config.measure == "volume"`` (abnormal volume, Campbell and Wasley 1996) ``ret``
    is the log volume ``ln(volume + 0.000255)``, ``expected`` its normal value, ``ar`` the
    abnormal log volume and ``car`` its sum; ``bhar`` is NaN and every ``direction`` "up".
    With ``"volatility"`` ``ret`` and ``expected`` stay the returns, ``ar`` is the abnormal
    volatility ``SAR^2 - 1`` (``sar`` it over its estimation standard deviation) and
    ``car`` its sum; ``bhar`` NaN, ``direction`` "up".

    ``summary()`` is the Eventus-style table of the tests, ``headline()`` the one
    statistic to read first per group and window, ``write(folder)`` the files.
    """

    # the AR table, or (from run_study) its :class:`ARRows` or :class:`ARParts` until ``ar``
    # is first read
    ar_rows: pd.DataFrame | ARRows | ARParts
    car: pd.DataFrame
    caar: pd.DataFrame
    tests: pd.DataFrame
    estimates: pd.DataFrame
    skipped: pd.DataFrame
    timing: pd.DataFrame
    config: StudyConfig
    data_hash: str
    data_source: str = ""
    extra: dict = field(default_factory=dict)
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    # events that link a whole chain: the chain as one security next to its members'
    # cross-section (:func:`backtest.chains.chain_event_study`), written as chains.csv
    chains: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the cross-section of CARs on pair characteristics (run_study(explain=...)), xsection.csv
    xsection: pd.DataFrame = field(default_factory=pd.DataFrame)

    def settings(self) -> dict:
        """The config as plain JSON-able values."""
        return self.config.as_dict()

    @property
    def ar(self) -> pd.DataFrame:
        """The AR table (columns above): built on first use from the study's arrays, then
        kept. Writing the result and :meth:`reaction` do not need it whole."""
        if isinstance(self.ar_rows, (ARRows, ARParts)):
            self.ar_rows = self.ar_rows.frame()
        return self.ar_rows

    def headline(self) -> pd.DataFrame:
        """The headline statistic of each group for each configured CAR window."""
        t = self.tests
        windows = set(self.config.car_windows)
        in_windows = np.array([(s, e) in windows for s, e in zip(t["window_start"],
                                                                 t["window_end"])], dtype=bool)
        return t[t["headline"].to_numpy(dtype=bool) & in_windows]

    def summary(self) -> pd.DataFrame:
        """The tests as Eventus prints them: one row per (CAR window, group) with at least
        two pairs: N, mean CAR, positive:negative, then every statistic as
        ``value (p=...)`` with stars, the headline statistic first."""
        if self.tests.empty:
            return pd.DataFrame()
        return summary_table(self.tests, self.config.car_windows)

    def write(self, folder: str | Path, table_format: str = "parquet") -> None:
        """The tables as files in ``folder``: the per-pair ones (:data:`LARGE_TABLES`: ar,
        car, estimates, timing) as ``.parquet`` or, with ``table_format="csv"``, ``.csv``;
        the small ones (caar, tests, skipped, quality, the summary
        ``table_tests_by_window.csv``) always as CSV. Read any with
        :func:`reports.read_table`. The AR table in parquet is a folder ``ar.parquet`` of
        parts of 20,000 pairs each, in pair order (``pd.read_parquet`` reads it whole); where
        the study's blocks wrote those parts into ``folder`` already, they stay as written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            if name == "ar" and table_format == "parquet":
                rows = self.ar_rows
                if not (isinstance(rows, ARParts)
                        and rows.folder.resolve() == (folder / "ar.parquet").resolve()):
                    step = PIECE_PAIRS * self._days()  # a DataFrame: the same pieces
                    pieces = (rows.pieces() if isinstance(rows, (ARRows, ARParts))
                              else (rows.iloc[s:s + step] for s in range(0, len(rows), step)))
                    write_parts(pieces, folder / "ar.parquet")
            elif name == "ar" and isinstance(self.ar_rows, (ARRows, ARParts)):
                write_table_pieces(self.ar_rows.pieces(), folder, name, table_format)
            elif name in LARGE_TABLES:
                write_table(getattr(self, name), folder, name, table_format)
            else:
                write_csv(getattr(self, name), folder / f"{name}.csv")
        write_table(self.timing, folder, "timing", table_format, float_format=None)
        if len(self.chains):
            write_csv(self.chains, folder / "chain_events.csv")
        if len(self.xsection):
            write_csv(self.xsection, folder / "xsection.csv")
        if len(self.ar_rows):
            write_csv(self.summary(), folder / SUMMARY_FILE, float_format=None)

    def _days(self) -> int:
        """Rows per pair in the AR table (the event window's length)."""
        return max(1, len(self.config.event_offsets))

    def story_window(self) -> tuple[int, int]:
        """The CAR window a summary reads first: (0, +1) when it is configured, else the
        shortest configured window that starts on day 0, else the first one."""
        windows = list(self.config.car_windows)
        if (0, 1) in windows:
            return (0, 1)
        from_zero = sorted((w for w in windows if w[0] == 0), key=lambda w: w[1])
        return from_zero[0] if from_zero else windows[0]

    def reaction(self, event_id: str) -> pd.DataFrame:
        """What one event did to each of its linked tickers: the day-0 AR with its t
        (the standardized AR) and p, the CAR over :meth:`story_window` with its t and p,
        and ``as_expected`` (the move had the sign of the calendar's expected direction).

        ``ar0_t`` is ``AR / sqrt(prediction-error variance)``, Student-t with the pair's
        residual degrees of freedom (Campbell, Lo and MacKinlay 1997, 4.4.2)."""
        s, e = self.story_window()
        car = self.car[(self.car["event_id"] == event_id) & (self.car["window_start"] == s)
                       & (self.car["window_end"] == e)]
        ar = (self.ar_rows.of_event(event_id) if isinstance(self.ar_rows, (ARRows, ARParts))
              else self.ar[self.ar["event_id"] == event_id])
        day0 = ar[ar["rel_day"] == 0]
        est = self.estimates[self.estimates["event_id"] == event_id]
        out = car[["ticker", "role", "direction", "group", "car", "car_t", "car_p",
                   "confounded_with"]].merge(day0[["ticker", "ar", "sar"]], on="ticker")
        out = out.merge(est[["ticker", "dof"]], on="ticker").rename(
            columns={"ar": "ar0", "sar": "ar0_t"})
        out["ar0_p"] = stats.t_pvalue(out["ar0_t"].to_numpy(), out["dof"].to_numpy())
        sign = np.where(out["direction"] == "down", -1.0, 1.0)
        out["as_expected"] = np.sign(out["car"].to_numpy()) == sign
        return out[["ticker", "role", "direction", "ar0", "ar0_t", "ar0_p", "car", "car_t",
                    "car_p", "as_expected", "group", "confounded_with"]].reset_index(drop=True)

    def plot(self, kind: str = "caar", event: str | None = None):
        """A matplotlib figure: ``"caar"`` (CAAR by group with 95% bands), ``"car"`` (each
        linked ticker's CAR around ``event``, from the close before day 0) or
        ``"heatmap"`` (ARs by ticker and day of ``event``); ``event`` defaults to the
        latest event studied."""
        from reports import charts

        measure = self.config.measure
        if kind == "caar":
            return charts.caar_chart(self.caar, measure=measure)
        if event is None:
            day0 = self.ar[self.ar["rel_day"] == 0]
            event = day0.sort_values("date")["event_id"].iloc[-1]
        if kind == "car":
            return charts.car_lines_chart(self.ar, event, model=self.config.model,
                                          measure=measure)
        if kind == "heatmap":
            return charts.ar_heatmap(self.ar, event, measure=measure)
        raise ValueError(f"kind must be caar, car or heatmap, got {kind!r}")

    @property
    def n_pairs(self) -> int:
        return int(self.car[["event_id", "ticker"]].drop_duplicates().shape[0]) \
            if not self.car.empty else 0

    def __repr__(self) -> str:
        c = self.config
        events = self.car["event_id"].nunique() if not self.car.empty else 0
        what = {"volume": " of abnormal log volume",
                "volatility": " of abnormal volatility"}.get(c.measure, "")
        return (f"StudyResult({c.model} model{what} on {c.market}: {events} events, "
                f"{self.n_pairs} pairs studied, {len(self.skipped)} skipped; "
                f"tables ar, car, caar, tests, estimates, skipped, quality, timing)")

    def _repr_html_(self) -> str:
        head = f"<p><b>{html.escape(repr(self))}</b></p>"
        table = self.summary()
        return head + (table.to_html(index=False, escape=True) if len(table) else
                       "<p>No group with two or more pairs.</p>")


FEW_NEWS_DAYS = 5  # a group's test resting on fewer news days is fragile


def thin_evidence(news_days: int | None) -> str:
    """The words a result on fewer than :data:`FEW_NEWS_DAYS` news days carries beside its
    statistics: with so few days, one day more or less can change any of them, however
    small its p ("" when there are enough, or the count is unknown)."""
    if news_days is None or news_days >= FEW_NEWS_DAYS:
        return ""
    return f"thin: {news_days} news day{'' if news_days == 1 else 's'}"


def summary_table(tests: pd.DataFrame, windows) -> pd.DataFrame:
    """The Eventus-style table of ``tests`` for the CAR ``windows`` (see
    :meth:`StudyResult.summary`); groups with fewer than two pairs are left out. The
    ``CAR`` column says whether the group's CARs are signed by expected direction; the
    headline statistic (its name and ``value (p=...)`` with stars) comes before every
    statistic of :data:`stats.STATISTICS` in table order. ``evidence`` says in words when
    a group rests on fewer than :data:`FEW_NEWS_DAYS` news days (:func:`thin_evidence`)."""
    wanted = {tuple(w) for w in windows}
    keep = [(s, e) in wanted for s, e in zip(tests["window_start"], tests["window_end"])]
    t = tests.loc[np.asarray(keep, dtype=bool) & (tests["n"] >= 2).to_numpy()]
    rows = []
    for (s, e, group), sub in t.groupby(["window_start", "window_end", "group"], sort=False):
        head = sub[sub["headline"].astype(bool)]
        first = sub.iloc[0]
        signed = bool(first.get("signed", False))
        # plain dicts: a universe study's table has hundreds of cells, and a frame look-up
        # per cell cost more than the rest of the table
        values = dict(zip(sub["statistic"], sub["value"].to_numpy()))
        p_values = dict(zip(sub["statistic"], sub["p_value"].to_numpy()))

        def cell(name):
            v, p = values[name], p_values[name]
            if not np.isfinite(v):
                return ""
            shown = stats.BY_NAME[name].format_value(v) if name in stats.BY_NAME else f"{v:.2f}"
            return f"{shown} (p={p:.3f}){stats.stars(p)}"

        headline = head["statistic"].iloc[0] if len(head) else None
        days = int(first["n_days"]) if "n_days" in first else None
        row = {"window": f"({s:+d}, {e:+d})", "group": group, "N": int(first["n"]),
               "news days": days if days is not None else "",
               "evidence": thin_evidence(days),
               "CAR": "in expected direction" if signed else "as is",
               "mean CAR": f"{first['mean']:.2%}",
               **({"median CAR": f"{first['median']:.2%}",
                   "5% trimmed mean": f"{first['trimmed_mean']:.2%}"}
                  if "median" in first else {}),
               "pos:neg": f"{int(first['n_pos'])}:{int(first['n_neg'])}",
               "headline statistic": stats.LABELS[headline] if headline else "",
               "headline": cell(headline) if headline else ""}
        if len(head) and "p_holm" in head:  # adjusted over every (window, group) shown
            h = head.iloc[0]
            row["Holm p"] = f"{h['p_holm']:.3f}" if np.isfinite(h["p_holm"]) else ""
            row["BH q"] = f"{h['p_bh']:.3f}" if np.isfinite(h["p_bh"]) else ""
        for name in sub["statistic"]:
            row[stats.LABELS.get(name, name)] = cell(name)
        rows.append(row)
    return pd.DataFrame(rows)
