"""`factory report RUN_DIR`: one self-contained HTML page of a run (charts, the cost and contamination tables).

The page needs no network: plotly.js is inlined once in its head and each chart is a div with its figure's
JSON; no fonts, styles or scripts are fetched and MathJax is left out. `report_data` gathers the numbers,
`charts` draws them, and this module lays them out in a small template.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path
from string import Template

import plotly.io as pio
from plotly.offline import get_plotlyjs

from factory.errors import FactoryError
from factory.report import charts
from factory.report.report_data import CONTAMINATION_ROWS, gather
from factory.store.rundir import write_atomic

REPORT_FILE = "report.html"

PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
  :root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; }
  * { box-sizing: border-box; }
  body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 $font; }
  main { max-width: 1280px; margin: 0 auto; padding: 24px; }
  header h1 { font-size: 24px; margin: 0 0 4px; }
  header .meta { color: var(--muted); margin: 0 0 16px; display: flex; flex-wrap: wrap; gap: 4px 20px; }
  header .meta code { color: var(--ink); }
  .kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(128px, 1fr)); gap: 12px; margin-bottom: 20px; }
  .kpi { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
  .kpi .v { font-size: 22px; font-weight: 600; }
  .kpi .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .kpi .s { color: var(--muted); font-size: 12px; }
  .grid { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; min-width: 0; }
  .wide { grid-column: 1 / -1; }
  .card h2 { font-size: 16px; margin: 8px 8px 10px; }
  .card p.note { color: var(--muted); margin: 0 8px 10px; }
  .scroll { overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
  th { background: #f0f3f7; font-weight: 600; white-space: nowrap; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  td.text { max-width: 520px; }
  footer { color: var(--muted); font-size: 12px; margin-top: 20px; }
  @media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
</style>
<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: 'local'};</script>
<script type="text/javascript">$plotlyjs</script>
</head>
<body>
<main>
<header>
  <h1>$title</h1>
  <div class="meta">$meta</div>
</header>
<section class="kpis">$kpis</section>
<section class="grid">
$cards
</section>
<footer>$footer</footer>
</main>
</body>
</html>
""")


def _num(v, places: int = 0) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and places:
        return f"{v:,.{places}f}"
    return f"{v:,.0f}" if isinstance(v, float) else f"{v:,}"


def _usd(v: float | None, places: int = 2) -> str:
    return "–" if v is None else f"${v:,.{places}f}"


def _kpis(h: dict) -> str:
    # the asked problems first, then what curation kept out
    order = sorted(h["problems_by_status"].items(), key=lambda kv: (kv[0] != "ok", kv[0]))
    statuses = ", ".join(f"{n:,} {s}" for s, n in order)
    tiles = [("problems", _num(h["problems"]), statuses),
             ("samples", _num(h["samples"]),
              f"{h['pending']:,} pending" if h["pending"] else "all judged" if h["samples"] else "none asked"),
             ("published", _num(h["published"]),
              f"{h['acceptance']:.1%} of samples" if h["acceptance"] is not None else ""),
             ("rejected", _num(h["rejected"]), ""),
             ("shards", _num(h["shards"]), ""),
             ("tokens spent", _num(h["tokens"]), "prompt + completion"),
             ("cost", _usd(h["usd"]), "all endpoints"),
             ("per published row", _usd(h["usd_per_published"], 5), "")]
    return "".join(f'<div class="kpi"><div class="k">{escape(k)}</div><div class="v">{escape(v)}</div>'
                   f'<div class="s">{escape(s)}</div></div>' for k, v, s in tiles)


def _meta(h: dict) -> str:
    items = [("created", h["created_at"]), ("published", h["published_at"]), ("tokenizer", h["tokenizer"]),
             ("tokenizer revision", h["tokenizer_revision"]), ("chat template sha256", h["chat_template_sha256"])]
    return "".join(f"<span>{escape(k)}: <code>{escape(str(v))}</code></span>" for k, v in items if v)


def _table(columns: list[tuple[str, str, str]], rows: list[dict]) -> str:
    """An HTML table; `columns` are (key, heading, format): n (number), usd, f4 (4 places), text, or s."""
    def cell(fmt: str, v) -> str:
        if fmt == "n":
            return f'<td class="n">{escape(_num(v))}</td>'
        if fmt == "usd":
            return f'<td class="n">{escape(_usd(v, 4))}</td>'
        if fmt == "f4":
            return f'<td class="n">{escape(_num(v, 4))}</td>'
        return f'<td class="{fmt}">{escape("" if v is None else str(v))}</td>'
    head = "".join(f'<th class="{"n" if f in ("n", "usd", "f4") else ""}">{escape(t)}</th>' for _, t, f in columns)
    body = "".join("<tr>" + "".join(cell(f, r.get(k)) for k, _, f in columns) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


_COST_COLUMNS = [("endpoint", "endpoint", "s"), ("samples", "samples", "n"), ("attempts", "attempts", "n"),
                 ("prompt_tokens", "prompt tokens", "n"), ("reasoning_tokens", "reasoning tokens", "n"),
                 ("answer_tokens", "answer tokens", "n"), ("gpu_hours", "GPU hours", "f4"), ("usd", "USD", "usd"),
                 ("usd_per_published", "USD per published row", "usd")]
_SUMMARY_COLUMNS = [("benchmark", "benchmark", "s"), ("method", "method", "s"), ("problems", "training problems", "n"),
                    ("matches", "matches", "n"), ("min_score", "lowest score", "f4")]
_MATCH_COLUMNS = [("benchmark", "benchmark", "s"), ("eval_row", "eval row", "s"), ("method", "method", "s"),
                  ("score", "score", "f4"), ("source", "source", "s"), ("source_row", "source row", "s"),
                  ("problem", "training problem", "text")]


def _card(title: str, body: str, wide: bool = True, note: str = "") -> str:
    note = f'<p class="note">{note}</p>' if note else ""
    return f'<div class="card{" wide" if wide else ""}"><h2>{escape(title)}</h2>{note}{body}</div>'


def _cost_card(costs: list[dict]) -> str:
    if not costs:
        return _card("Cost per endpoint", '<p class="note">no data: no endpoint costs recorded</p>')
    return _card("Cost per endpoint", _table(_COST_COLUMNS, costs),
                 note="All sessions, re-asks included; token prices plus GPU hours at the prices of the pipeline "
                      "file.")


def _contamination_card(c: dict) -> str:
    title = "Contamination: training problems that copy an eval set (kept out, never asked)"
    if not c["total"]:
        return _card(title, '<p class="note">no data: no eval-set match</p>')
    shown = len(c["rows"])
    note = (f"{c['total']:,} matches; the first {shown:,} are listed (all of them: <code>factory audit RUN_DIR "
            "&quot;SELECT * FROM contaminated_by&quot;</code>)." if c["total"] > shown
            else f"{c['total']:,} matches.")
    return _card(title, _table(_SUMMARY_COLUMNS, c["summary"]) + "<br>" + _table(_MATCH_COLUMNS, c["rows"]),
                 note=note)


def _chart_card(key: str, fig, wide: bool) -> str:
    plot = pio.to_html(fig, config=charts.CONFIG, include_plotlyjs=False, include_mathjax=False, full_html=False,
                       div_id=f"plot-{key}", default_width="100%", default_height=f"{fig.layout.height}px")
    return f'<div class="card{" wide" if wide else ""}"><div class="chart" data-chart="{key}">{plot}</div></div>'


def render(data: dict) -> str:
    """The whole page for `report_data.gather`'s dict."""
    h = data["header"]
    figs = charts.figures(data)
    cards = [_chart_card(key, figs[key], wide) for key, _, wide in charts.CHARTS]
    cards += [_cost_card(data["costs"]), _contamination_card(data["contamination"])]
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    footer = (f"Written by <code>factory report</code> at {escape(now)} from provenance.duckdb, manifest.json, "
              f"problems.parquet and the shards' <code>{escape(data['lengths']['column'])}</code> column. "
              f"Self-contained: it loads nothing from the network. Contamination rows listed: at most "
              f"{CONTAMINATION_ROWS}.")
    return PAGE.substitute(title=escape(f"Run {h['run_id']} · pipeline {h['pipeline']}"), font=charts.FONT,
                           meta=_meta(h), kpis=_kpis(h), cards="\n".join(cards), footer=footer,
                           plotlyjs=get_plotlyjs())


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write the report of RUN_DIR to `out` (default RUN_DIR/report.html), atomically; return its path."""
    run_dir = Path(run_dir)
    if out is not None and not Path(out).parent.is_dir():
        raise FactoryError(f"--out {str(out)!r}: its folder does not exist; create it or write elsewhere")
    out = Path(out) if out is not None else run_dir / REPORT_FILE
    page = render(gather(run_dir))
    write_atomic(out, page)
    return out
