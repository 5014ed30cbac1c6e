"""A study whose blocks reduce themselves: CAAR's moments combined across blocks, and the
AR table written by the blocks as parquet parts (``run_study(ar_parts=...)``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtest.eventstudy import StudyConfig, run_study
from backtest.eventstudy.blocks import combine_moments, group_moments
from backtest.eventstudy.result import ARParts
from backtest.parallel import serial_map_blocks
from events.errors import OutputError

CONFIG = StudyConfig(pseudo_draws=0)


def _slow_moments(values, groups, mult, n_groups):
    """Count, mean and sum of squared deviations by plain loops over the pairs."""
    width = values.shape[1]
    n = np.zeros((n_groups, width))
    mean = np.full((n_groups, width), np.nan)
    m2 = np.zeros((n_groups, width))
    for g in range(n_groups):
        for t in range(width):
            xs = [mult[i, h] * values[i, t] for i in range(len(values))
                  for h in range(groups.shape[1])
                  if groups[i, h] == g and np.isfinite(values[i, t])]
            n[g, t] = len(xs)
            if xs:
                mean[g, t] = sum(xs) / len(xs)
                m2[g, t] = sum((x - mean[g, t]) ** 2 for x in xs)
    return n, mean, m2


def test_block_moments_combined_equal_the_whole_sample():
    """Moments of random blocks combined by Chan et al.'s formula equal the loop over all
    pairs at once: signed members, pairs in no group, missing values, an empty block."""
    rng = np.random.default_rng(3)
    n_pairs, width, n_groups = 157, 6, 3
    values = rng.normal(0.01, 0.05, (n_pairs, width))
    values[rng.random(values.shape) < 0.1] = np.nan
    groups = np.column_stack([np.zeros(n_pairs, dtype=np.int64),
                              rng.integers(-1, n_groups, n_pairs)])
    mult = rng.choice([-1.0, 1.0], (n_pairs, 2))
    want = _slow_moments(values, groups, mult, n_groups)
    cuts = [0, 40, 40, 41, 100, n_pairs]  # one empty block, one of a single pair
    total = None
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        n, _, mean, m2 = group_moments(values[lo:hi], groups[lo:hi], mult[lo:hi], n_groups)
        total = (n, mean, m2) if total is None else combine_moments(*total, n, mean, m2)
    for got, exp in zip(total, want):
        np.testing.assert_allclose(got, exp, rtol=1e-12, atol=1e-15)


def test_parts_hold_the_same_rows_as_the_table_in_memory(calendar, panel, tmp_path):
    """Blocks of 4 pairs write one part each; read back in order, the parts are the AR
    table of the same study run without them, to the bit; every other table is the same;
    one event's rows and the whole table read alike from the parts."""
    folder = tmp_path / "ar.parquet"
    (folder).mkdir()
    (folder / "part-00999.parquet").write_bytes(b"an old part")  # not this study's: removed
    streamed = run_study(calendar, panel, CONFIG, block=4, ar_parts=folder)
    kept = run_study(calendar, panel, CONFIG, block=4)
    assert isinstance(streamed.ar_rows, ARParts)
    n_blocks = -(-sum(len(e.tickers) for e in calendar) // 4)
    assert sorted(p.name for p in folder.iterdir()) == [f"part-{k:05d}.parquet"
                                                       for k in range(n_blocks)]
    whole = kept.ar
    pd.testing.assert_frame_equal(pd.read_parquet(folder), whole, check_exact=True)
    assert len(streamed.ar_rows) == len(whole)
    for name in ("car", "caar", "tests", "estimates", "skipped"):
        pd.testing.assert_frame_equal(getattr(streamed, name), getattr(kept, name),
                                      check_exact=True)
    event = whole["event_id"].iloc[-1]
    pd.testing.assert_frame_equal(streamed.ar_rows.of_event(event),
                                  whole[whole["event_id"] == event].reset_index(drop=True))
    pd.testing.assert_frame_equal(streamed.reaction(event), kept.reaction(event))
    pd.testing.assert_frame_equal(streamed.ar, whole, check_exact=True)


def test_written_parts_stay_where_the_blocks_put_them(calendar, panel, tmp_path):
    """write() into the folder the blocks wrote leaves their parts as they are; into
    another folder it copies the same rows; CSV is one file of the same rows."""
    out = tmp_path / "out"
    res = run_study(calendar, panel, CONFIG, block=5, ar_parts=out / "ar.parquet")
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "ar.parquet").iterdir()}
    res.write(out)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "ar.parquet").iterdir()} == stamps
    res.write(tmp_path / "other")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "other" / "ar.parquet"),
                                  pd.read_parquet(out / "ar.parquet"), check_exact=True)
    res.write(tmp_path / "csv", table_format="csv")
    assert len(pd.read_csv(tmp_path / "csv" / "ar.csv")) == len(res.ar_rows)


def test_a_lost_part_is_a_clear_error(calendar, panel, tmp_path):
    """Workers that wrote their parts where this machine cannot see them (a remote cluster
    without a shared file system): refused, naming the first missing part."""
    folder = tmp_path / "ar.parquet"

    def elsewhere(fn, shared, blocks):
        out = list(serial_map_blocks(fn, shared, blocks))
        if getattr(fn, "__name__", "") == "study_block":
            (folder / "part-00001.parquet").unlink()
        return out

    with pytest.raises(OutputError, match="1 of .* parts .* part-00001.parquet"):
        run_study(calendar, panel, CONFIG, block=4, ar_parts=folder, map_blocks=elsewhere)


def test_what_a_study_keeps_per_pair_is_its_budget(calendar, panel, monkeypatch):
    """After its block, a pair costs the study (on a cluster: the client) 8 bytes for each
    coefficient, sigma^2, n, dof, excluded days and the two sign shares, two floats per
    test window (CAR, variance), two per CAR window (missing days, BHAR) and its kept flag:
    no fit matrices, no per-window counts of the single days, no GARCH slots without GARCH."""
    from backtest.eventstudy import blocks
    from backtest.eventstudy.pairs import test_windows

    config = StudyConfig()
    seen = {}
    combine = blocks.combine

    def spy(parts, n_pairs=None, own=False):
        res = combine(parts, n_pairs=n_pairs, own=own)
        seen["bytes"] = sum(getattr(res, name).nbytes for name in blocks.PER_PAIR)
        seen["pairs"] = len(res.kept)
        return res

    monkeypatch.setattr(blocks, "combine", spy)
    run_study(calendar, panel, config)
    k, w, c = 2, len(test_windows(config)), len(config.car_windows)  # market model: a, b
    assert seen["bytes"] == seen["pairs"] * (8 * (k + 6 + 2 * w + 2 * c) + 1)


def test_the_second_pass_from_kept_residuals_equals_the_refit(calendar, panel, monkeypatch):
    """A study in this process keeps its blocks' residuals and their sort for the
    generalized rank test's second pass; one beyond the bound (or on a cluster) fits and
    sorts again. Both give every table to the bit, and each took the path it should."""
    from backtest.eventstudy import blocks

    calls = []

    def counting(fn, shared, blocks_):
        calls.append(getattr(fn, "__name__", ""))
        return serial_map_blocks(fn, shared, blocks_)

    kept = run_study(calendar, panel, CONFIG, block=4, map_blocks=serial_map_blocks)
    elsewhere = run_study(calendar, panel, CONFIG, block=4, map_blocks=counting)
    assert calls == ["study_block", "grank_block"]  # not known to run here: refit
    monkeypatch.setattr(blocks, "KEEP_RANKED_CELLS", 0)
    refit = run_study(calendar, panel, CONFIG, block=4)
    seen = []
    ranked = blocks.grank_ranked
    monkeypatch.setattr(blocks, "KEEP_RANKED_CELLS", 10**9)
    monkeypatch.setattr(blocks, "grank_ranked", lambda *a: seen.append(1) or ranked(*a))
    again = run_study(calendar, panel, CONFIG, block=4)
    assert len(seen) > 1  # one call per block, from the kept residuals
    for other in (elsewhere, refit, again):
        for name in ("car", "caar", "tests", "estimates", "skipped"):
            pd.testing.assert_frame_equal(getattr(other, name), getattr(kept, name),
                                          check_exact=True)
    grank = kept.tests[kept.tests["statistic"] == "grank_t"]
    assert grank["value"].notna().sum() > 10  # the pass has something to rank
