"""The answers of `factory audit` questions (`factory.report.questions`) as text for reading."""

from __future__ import annotations

import json


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Aligned columns, numbers to the right; None prints empty, lists comma-separated."""
    if not rows:
        return "(none)"
    cols = columns or list(rows[0])

    def cell(v) -> str:
        if v is None:
            return ""
        if isinstance(v, list):
            return ", ".join(map(str, v))
        if isinstance(v, float):
            return f"{v:g}"
        return str(v)

    cells = [[cell(r[c]) for c in cols] for r in rows]
    right = [all(isinstance(r[c], int | float) and not isinstance(r[c], bool) for r in rows if r[c] is not None)
             for c in cols]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]

    def line(values) -> str:
        parts = zip(values, widths, right, strict=True)
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in parts).rstrip()
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in str(text).splitlines() or [""])


def lineage(a: dict) -> str:
    run, loc, p, r, v, f = a["run"] or {}, a["location"], a["problem"], a["request"], a["verdict"], a["final"]
    out = [f"row {a['id']}  run {run.get('run_id')}  pipeline {run.get('pipeline')}",
           f"  shard      {loc['shard']}, row {loc['row_index']}",
           f"  final      {f['status']} ({f['reason']})" if f else "  final      (no outcome recorded)"]
    out.append("== problem")
    if p:
        out += [f"  source     {p['source']} row {p['source_row']}  (problem_id {p['problem_id']}, {p['status']})",
                "  problem", _indent(p["problem"]),
                f"  reference  {p['reference_answer']}"]
        if p.get("solution"):
            out += ["  solution", _indent(p["solution"])]
    else:
        out.append("  (its problem is not in this database)")
    dups = a["duplicates_dropped"]
    out.append(f"  duplicates dropped: {len(dups)}")
    out += [f"    {d['source']} row {d['source_row']}  similarity {d['duplicate_similarity']}  "
            f"kept this one because {d['kept_because']}" for d in dups]
    out.append("== request")
    if r:
        s = r.get("session") or {}
        out += [f"  session    {r['session_id']}  `{s.get('command')}`  started {s.get('started_at')}, "
                f"finished {s.get('finished_at') or '(not finished)'}",
                f"  teacher    {r['model']} at {r['endpoint']}",
                f"  sample     index {r['sample_index']}  attempts {r['attempts']}  outcome {r['outcome']}  "
                f"finish_reason {r['finish_reason']}  reasoning from {r['reasoning_source']}",
                f"  sampling   {json.dumps(r['sampling'], sort_keys=True)}",
                f"  template   {r['prompt_template_hash']}",
                f"  usage      prompt {r['prompt_tokens']}  completion {r['completion_tokens']}  "
                f"reasoning {r['reasoning_tokens']}  (as the endpoint reported)",
                f"  time       {r['started_at']} -> {r['finished_at']}  ({r['latency_s']:.3f} s)"]
        if r["error"]:
            out.append(f"  error      [{r['error_class']}] {r['error']}")
        out.append("  messages")
        for m in r["messages"]:
            out += [f"    [{m.get('role')}]", _indent(m.get("content"), "      ")]
    else:
        out.append("  (no request recorded)")
    out.append("== verdict")
    if v:
        out += [f"  correct    {str(v['correct']).lower()}  reason {v['reason']}  predicted {v['predicted']}",
                f"  tokens     prompt {v['prompt_tokens']}  reasoning {v['reasoning_tokens']}  "
                f"answer {v['answer_tokens']}  total {v['total_tokens']}  (the run's tokenizer)",
                f"  length     {v['length']}  curriculum_bucket {v['curriculum_bucket']}  (the published messages "
                "under the student's chat template)",
                f"  trace      {v['trace_hash']}  judged in {v['verify_ms']:.1f} ms"]
    else:
        out.append("  (no verdict recorded)")
    return "\n".join(out)


def rejections(a: dict) -> str:
    return "\n".join([
        f"{a['samples']} samples, {a['rejected']} rejected",
        "== by final status and reason (share of all samples; examples are sample ids)",
        table(a["reasons"]),
        "",
        "== per source (share of the source's samples)",
        table(a["by_source"])])


def cost(a: dict) -> str:
    t = a["total"]
    return "\n".join([
        "== per endpoint (all sessions, re-asks included)",
        table(a["endpoints"]),
        "",
        "== total",
        "  " + "  ".join(f"{k}={v}" for k, v in t.items())])


def contamination(a: dict) -> str:
    rows = [{**m, "problem": _short(m["problem"])} for m in a["matches"]]
    return "\n".join([f"{a['problems']} training problems copy an eval-set problem ({len(rows)} matches)",
                      table(rows)])


def sessions(a: dict) -> str:
    return table(a["sessions"])


def _short(text: str | None, width: int = 60) -> str | None:
    if text is None:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


RENDER = {"lineage": lineage, "rejections": rejections, "cost": cost, "contamination": contamination,
          "sessions": sessions}
