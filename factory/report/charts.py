"""The report's charts: Plotly figures drawn from `report_data`'s dicts (no file or database access here).

Every builder returns a figure, also for empty data: then a blank frame that says "no data", so a run
that has not published (or asked) anything still gets a whole page. Titles stay plain text: a `$` pair
in a label would make Plotly reach for MathJax, which the page does not carry.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
PUBLISHED, REJECTED, PENDING = "#2e8b57", "#d1495b", "#9aa5b1"
# one colour per curriculum bucket, light to dark as the limit grows
BUCKET_COLOURS = {8192: "#9ecae1", 16384: "#4292c6", 24576: "#2171b5", 32768: "#08306b"}
# what the page's Plotly shows: no logo, no link out, no tools that need a server
CONFIG = {"displaylogo": False, "responsive": True,
          "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def _layout(fig: go.Figure, title: str, height: int, **more) -> go.Figure:
    fig.update_layout(template="plotly_white", title=dict(text=title, x=0.01, xanchor="left", font_size=16),
                      font=dict(family=FONT, size=13), height=height, margin=dict(l=70, r=30, t=60, b=60),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0,
                                  traceorder="normal"), **more)
    return fig


def no_data(title: str, why: str = "no data", height: int = 320) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=why, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font=dict(size=18, color="#6b7280"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, height)


def _k(tokens: int) -> str:
    return f"{tokens // 1024}k" if tokens % 1024 == 0 else f"{tokens:,}"


def lengths(d: dict) -> go.Figure:
    """Rows per token length, one stacked colour per curriculum bucket, with the bucket limits in range."""
    what = ("tokens of the chat-templated messages" if d["column"] == "length"
            else "total tokens (prompt + reasoning + answer)")
    title = "Length distribution by curriculum bucket"
    if not d["buckets"]:
        return no_data(title, "no data: nothing published")
    edges = d["edges"]
    step = edges[1] - edges[0]
    centres = [e + step / 2 for e in edges[:-1]]
    fig = go.Figure()
    for limit, b in sorted(d["buckets"].items()):
        name = f"≤ {_k(limit)}: {b['rows']:,} rows, median {b['p50']:,.0f}"
        fig.add_bar(x=centres, y=b["counts"], width=step, showlegend=True, name=name,
                    marker=dict(color=BUCKET_COLOURS.get(limit, "#6b7280"), line_width=0),
                    hovertemplate=f"≤ {_k(limit)} bucket<br>%{{x:,.0f}} ± {step / 2:,.0f} tokens: %{{y:,}} rows"
                                  "<extra></extra>")
    for limit in d["limits"]:
        if limit < edges[-1]:
            fig.add_vline(x=limit, line=dict(color="#374151", dash="dash", width=1),
                          annotation=dict(text=f"{_k(limit)} limit", font_size=11), annotation_position="top left")
    fig.update_xaxes(title_text=f"{what} per row (bins of {step:,.0f})", rangemode="tozero")
    fig.update_yaxes(title_text="published rows")
    return _layout(fig, title, 420, barmode="stack", bargap=0.0)


def acceptance(d: dict) -> go.Figure:
    """Samples per source, published, rejected and pending, with each source's acceptance rate."""
    title = "Acceptance by source (samples)"
    if not d["source"]:
        return no_data(title, "no data: no samples")
    totals = [p + r + q for p, r, q in zip(d["published"], d["rejected"], d["pending"], strict=True)]
    labels = [f"{s} ({p / t:.1%})" if t else s for s, p, t in zip(d["source"], d["published"], totals, strict=True)]
    fig = go.Figure()
    for key, colour in (("published", PUBLISHED), ("rejected", REJECTED), ("pending", PENDING)):
        if any(d[key]):
            fig.add_bar(y=labels, x=d[key], orientation="h", name=key, marker_color=colour,
                        hovertemplate=f"%{{y}}<br>{key}: %{{x:,}} samples<extra></extra>")
    fig.update_xaxes(title_text="samples")
    fig.update_yaxes(title_text="source (share published)", autorange="reversed")
    return _layout(fig, title, max(300, 120 + 40 * len(labels)), barmode="stack")


def rejections(d: dict) -> go.Figure:
    """Rejected samples per reason code, the most frequent on top."""
    title = "Rejected samples by reason"
    if not d["reason"]:
        return no_data(title, "no data: nothing rejected")
    total = sum(d["samples"])
    fig = go.Figure(go.Bar(y=d["reason"], x=d["samples"], orientation="h", marker_color=REJECTED,
                           text=[f"{n:,} ({n / total:.0%})" for n in d["samples"]], textposition="auto",
                           hovertemplate="%{y}: %{x:,} samples<extra></extra>"))
    fig.update_xaxes(title_text="samples")
    fig.update_yaxes(title_text="reason code", autorange="reversed")
    return _layout(fig, title, max(300, 120 + 34 * len(d["reason"])), showlegend=False)


def pass_rates(d: dict) -> go.Figure:
    """Problems per teacher pass rate (share of its judged samples that were correct)."""
    title = "Teacher pass rate per problem"
    if not d["problems"]:
        return no_data(title, "no data: no problem judged")
    edges = d["edges"]
    width = edges[1] - edges[0]
    fig = go.Figure(go.Bar(x=[e + width / 2 for e in edges[:-1]], y=d["counts"], width=width * 0.92,
                           marker_color="#4c78a8",
                           customdata=[[lo, hi] for lo, hi in zip(edges[:-1], edges[1:], strict=True)],
                           hovertemplate="pass rate %{customdata[0]:.0%} to %{customdata[1]:.0%}: %{y:,} problems"
                                         "<extra></extra>"))
    fig.update_xaxes(title_text="share of the problem's samples judged correct", tickformat=".0%", range=[0, 1],
                     dtick=0.1)
    fig.update_yaxes(title_text="problems")
    return _layout(fig, f"{title} ({d['problems']:,} problems, mean {d['mean']:.0%})", 360, showlegend=False)


def _steps(start: list[str], values: list[float], end: str) -> tuple[list[str], list[float]]:
    """A bin series as a step line: each value held from its bin's start to the next one's."""
    return start + [end], values + values[-1:]


def throughput(d: dict) -> go.Figure:
    """Requests finished and tokens per minute over time, and the requests under way, in shared time bins."""
    title = "Throughput over time"
    if not d["start"]:
        return no_data(title, "no data: no requests")
    step = d["step_s"]
    unit = f"{step} s" if step < 60 else f"{step // 60} min" if step < 3600 else f"{step // 3600} h"
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("requests finished per minute", "tokens per minute",
                                        "requests in flight (mean over the bin)"))
    end = _next(d["start"][-1], step)
    series = [(1, "requests", d["requests_per_min"], "#4c78a8"),
              (2, "completion tokens", d["completion_tokens_per_min"], "#f58518"),
              (2, "prompt tokens", d["prompt_tokens_per_min"], "#54a24b"),
              (3, "in flight", d["in_flight"], "#b279a2")]
    for row, name, values, colour in series:
        x, y = _steps(d["start"], values, end)
        # the subplot titles name the single series; only the token row needs a legend
        fig.add_scatter(x=x, y=y, name=name, mode="lines", line=dict(shape="hv", color=colour, width=2),
                        showlegend=row == 2,
                        fill="tozeroy" if row != 2 else None, row=row, col=1,
                        hovertemplate=f"%{{x}}<br>{name}: %{{y:,.1f}}<extra></extra>")
    fig.update_yaxes(title_text="requests / min", row=1, col=1, rangemode="tozero")
    fig.update_yaxes(title_text="tokens / min", row=2, col=1, rangemode="tozero")
    fig.update_yaxes(title_text="requests", row=3, col=1, rangemode="tozero")
    fig.update_xaxes(title_text="time (UTC), by request finish", row=3, col=1)
    _layout(fig, f"{title} (bins of {unit})", 640)
    top = fig.layout.yaxis2.domain[1]
    fig.update_layout(legend=dict(y=top, yanchor="top", x=1.0, xanchor="right", bgcolor="rgba(255,255,255,0.8)"))
    return fig


def _next(iso: str, step_s: int) -> str:
    return (np.datetime64(iso.replace(" ", "T")) + np.timedelta64(step_s, "s")).astype("datetime64[ms]") \
        .astype(str).replace("T", " ")


# the page's charts in order: (data key, builder, whether it spans the page's width)
CHARTS = (("lengths", lengths, True), ("acceptance", acceptance, False), ("rejections", rejections, False),
          ("pass_rates", pass_rates, True), ("throughput", throughput, True))


def figures(data: dict) -> dict[str, go.Figure]:
    """Every chart of the page, by data key."""
    return {key: build(data[key]) for key, build, _ in CHARTS}
