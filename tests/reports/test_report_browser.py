"""The demo report in a real browser: headless Chromium from file://, no network."""

from __future__ import annotations

import os
import shutil

import pytest

from backtest.app.jobs import run_job
from strategies import get_strategy

HEADINGS = ["What the news did", "Did it pay", "How much to trust it", "Event study",
            "CAAR by group", "AR heatmap: openai-miss-2026-04-28", "Tests by window and group",
            "CARs of openai-miss-2026-04-28", "Confounded pairs", "Skipped pairs", "Strategy",
            "Drawdown", "P&L per event", "Metrics", "Trades", "Events",
            "Event audit: when the news became tradable", "Data quality", "Run details"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: .ci/run must install the 'chromium' package")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


def test_demo_report_renders_in_chromium(browser, tmp_path):
    out = run_job("openai", tmp_path / "demo", strategy=get_strategy("short_partners_on_bad_news"))
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto((out / "index.html").as_uri())
    page.wait_for_load_state("load")
    headings = page.eval_on_selector_all("h1, h2, h3", "els => els.map(e => e.textContent.trim())")
    for heading in HEADINGS:
        assert heading in headings, heading
    images = page.eval_on_selector_all(
        "img", "els => els.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert len(images) >= 6
    assert all(ok and w > 0 and h > 0 for ok, w, h in images), images
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests  # no network
    # the answer is the first screen: the news, the seed event's ORCL row, its groups
    top = page.eval_on_selector("#news", "e => e.getBoundingClientRect().top")
    orcl = page.eval_on_selector("xpath=//td[text()='ORCL']",
                                 "e => e.getBoundingClientRect().top")
    assert top < 200 and orcl < 900
    # no table sits in a box that scrolls on its own
    boxed = page.eval_on_selector_all(
        "div, table", "els => els.filter(e => e.scrollHeight > e.clientHeight + 2 && "
                      "getComputedStyle(e).overflowY !== 'visible').length")
    assert boxed == 0
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    page.close()
