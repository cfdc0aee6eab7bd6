"""`factory report`'s page in a real headless Chromium: every chart draws, nothing is fetched, a screenshot.

Chromium is Debian's (`apt-get install chromium`, which .ci/run does), driven by Playwright's Python client
(never `playwright install`: no browser is downloaded). Without Chromium the test skips, except under CI,
where it must run. The screenshot goes to the test's tmp dir and to /tmp/report-shot.png.
"""

import os
import shutil
from pathlib import Path

import pytest

from factory.report import charts
from factory.report.html_page import write_report

from support import report_runs

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SHOT = Path("/tmp/report-shot.png")

# per chart container: its Plotly SVG's size and the marks drawn in its plot area with a nonzero size
# (bars, lines, fills), and the text of its annotations (where a chart says "no data")
_DRAWN = """() => Array.from(document.querySelectorAll('.chart')).map(c => {
    const svg = c.querySelector('svg.main-svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const marks = Array.from(c.querySelectorAll('.cartesianlayer .barlayer path, .cartesianlayer .scatterlayer path'))
        .filter(e => { const b = e.getBBox(); return b.width > 0 && b.height > 0; }).length;
    const notes = Array.from(c.querySelectorAll('.annotation-text')).map(e => e.textContent);
    return {key: c.dataset.chart, width: box.width, height: box.height, marks: marks, notes: notes};
})"""


def _chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A headless Chromium with a fresh profile; every request that is not the page itself is recorded and
    refused."""
    executable = _chromium()
    if os.environ.get("CI"):
        from playwright.sync_api import sync_playwright
    else:
        sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("profile"), executable_path=executable, headless=True, args=FLAGS,
            viewport={"width": 1320, "height": 900}, offline=True)
        yield context
        context.close()


def _load(context, page_path: Path):
    """Open `page_path`; returns (page, URLs requested besides the page, page errors)."""
    page = context.new_page()
    requested, errors = [], []
    url = page_path.resolve().as_uri()

    def refuse(route):
        if route.request.url != url:
            requested.append(route.request.url)
            return route.abort()
        return route.continue_()

    page.route("**/*", refuse)
    page.on("request", lambda r: r.url != url and requested.append(r.url))
    page.on("websocket", lambda ws: requested.append(ws.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url, wait_until="load")
    n = len(charts.CHARTS)
    page.wait_for_function(f"document.querySelectorAll('.chart svg.main-svg').length >= {n}", timeout=20_000)
    return page, requested, errors


def test_every_chart_draws_and_nothing_is_fetched(browser, tmp_path):
    run_dir = report_runs.report_run(tmp_path / "run")
    page, requested, errors = _load(browser, write_report(run_dir))
    drawn = page.evaluate(_DRAWN)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    shutil.copyfile(tmp_path / "report.png", SHOT)
    assert [c["key"] for c in drawn] == [key for key, _, _ in charts.CHARTS]
    for chart in drawn:
        assert chart["width"] > 300 and chart["height"] > 200, chart
        assert chart["marks"] > 0 and not any(n.startswith("no data") for n in chart["notes"]), chart
    assert sum(c["marks"] > 0 for c in drawn) == len(page.query_selector_all(".chart"))
    assert requested == [] and errors == []
    assert (tmp_path / "report.png").stat().st_size > 50_000
    page.close()


def test_an_empty_run_draws_every_chart_saying_no_data(browser, tmp_path):
    page, requested, errors = _load(browser, write_report(report_runs.empty_run(tmp_path / "run")))
    drawn = page.evaluate(_DRAWN)
    page.screenshot(path=str(tmp_path / "empty.png"), full_page=True)
    assert len(drawn) == len(charts.CHARTS)
    for chart in drawn:
        assert chart["width"] > 300 and chart["marks"] == 0 and chart["notes"][0].startswith("no data"), chart
    assert requested == [] and errors == []
    page.close()
