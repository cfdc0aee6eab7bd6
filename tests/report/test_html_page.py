"""`factory report`'s page: self-contained (no URL to load), one container per chart, plotly.js once, and a
whole page for a run with nothing to draw."""

import re
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from plotly.offline import get_plotlyjs

from factory.cli import main
from factory.report import charts
from factory.report.html_page import render
from factory.report.report_data import gather

from support import report_runs


class _Page(HTMLParser):
    """Every attribute that could load something, and the chart containers, of one page."""

    def __init__(self):
        super().__init__()
        self.links, self.charts, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        for name in ("src", "href", "srcset", "action", "poster", "data", "background"):
            if attrs.get(name):
                self.links.append((tag, name, attrs[name]))
        if "chart" in (attrs.get("class") or "").split():
            self.charts.append(attrs.get("data-chart"))


def _parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    return parsed


@pytest.fixture(scope="module")
def full_page(tmp_path_factory):
    return render(gather(report_runs.report_run(tmp_path_factory.mktemp("full"))))


@pytest.fixture(scope="module")
def empty_page(tmp_path_factory):
    return render(gather(report_runs.empty_run(tmp_path_factory.mktemp("empty"))))


@pytest.mark.parametrize("which", ["full_page", "empty_page"])
def test_the_page_loads_nothing_from_anywhere(which, request):
    page = request.getfixturevalue(which)
    parsed = _parse(page)
    assert parsed.links == []  # no src or href at all: nothing to fetch, from the web or from disk
    assert "link" not in parsed.tags and "iframe" not in parsed.tags and "img" not in parsed.tags
    styles = "".join(re.findall(r"<style>(.*?)</style>", page, flags=re.S))
    assert "url(" not in styles and "@import" not in styles
    assert "MathJax.js" not in page and "cdn.plot.ly/" not in page.replace(get_plotlyjs(), "")


@pytest.mark.parametrize("which", ["full_page", "empty_page"])
def test_one_container_per_chart_and_plotly_js_once(which, request):
    page = request.getfixturevalue(which)
    keys = [key for key, _, _ in charts.CHARTS]
    assert _parse(page).charts == keys
    for key in keys:
        assert page.count(f'id="plot-{key}"') == 1
    assert page.count("Plotly.newPlot(") == len(keys)
    js = get_plotlyjs()
    assert page.count(js[:400]) == 1 and page.count(js[-400:]) == 1
    assert len(page) < len(js) + 1_000_000  # the figures are binned: the page is plotly.js and little else


def test_the_header_and_tables_show_the_run(full_page):
    assert "Run run-report · pipeline report-test" in full_page and "student/tokenizer" in full_page
    assert "<td class=\"s\">https://api.example.test/v1</td>" in full_page  # an endpoint is text, not a link
    assert full_page.count("<td class=\"s\">aime</td>") == 2 + 4  # summary rows and match rows
    assert "numina problem 18: find the sum of the first 21 odd numbers." in full_page


def test_a_run_with_nothing_to_draw_still_gets_every_chart_saying_so(empty_page):
    for key, _, _ in charts.CHARTS:
        assert f'id="plot-{key}"' in empty_page
    assert len(re.findall(r'"text":"no data[^"]*"', empty_page)) == len(charts.CHARTS)
    assert "no data: no endpoint costs recorded" in empty_page and "no data: no eval-set match" in empty_page


def test_the_command_writes_run_dir_report_html_or_out(tmp_path):
    run_dir = report_runs.report_run(tmp_path / "run")
    result = CliRunner().invoke(main, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"report written to {run_dir / 'report.html'}"
    assert (run_dir / "report.html").read_text().startswith("<!DOCTYPE html>")
    result = CliRunner().invoke(main, ["report", str(run_dir), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0 and (tmp_path / "r.html").is_file()


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nowhere"], "error: no provenance database at"),
    (["{run}", "--out", "{tmp}/no/such/folder/r.html"], "its folder does not exist"),
])
def test_errors_are_one_line(tmp_path, args, message):
    run_dir = report_runs.empty_run(tmp_path / "run")
    args = [a.format(tmp=tmp_path, run=run_dir) for a in args]
    result = CliRunner().invoke(main, ["report", *args])
    assert result.exit_code == 1 and message in result.output and len(result.output.strip().splitlines()) == 1
