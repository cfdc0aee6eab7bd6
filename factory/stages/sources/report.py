"""What curation decided, written for people and machines: beside `problems.parquet`, a `curation/` folder.

- `curation/report.json`: counts per source and status, every duplicate group (the kept row, each other
  member with its similarity and why it lost), every eval-set match, and the settings used;
- `curation/report.md`: the same, summarized, with the problems' opening words so a reader can judge a
  group or a match without opening Parquet;
- `curation/contamination.parquet`: the eval-set matches (CONTAMINATION_SCHEMA), as provenance ingests them.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa

from factory.stages.sources.curate import Curation
from factory.store.rundir import write_atomic, write_parquet_atomic

CURATION_DIR = "curation"
_SHOWN = 20  # groups and matches listed in the Markdown; the JSON has them all


def summary(cur: Curation) -> dict:
    rows = cur.problems.select(["source", "source_row", "problem", "status", "duplicate_of",
                                "duplicate_similarity", "kept_because"]).to_pylist()
    counts: dict[str, Counter] = defaultdict(Counter)
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        counts[r["source"]][r["status"]] += 1
        if r["duplicate_of"]:
            groups[r["duplicate_of"]].append({"row": f"{r['source']}:{r['source_row']}", "status": r["status"],
                                              "similarity": r["duplicate_similarity"],
                                              "kept_because": r["kept_because"]})
    clusters = sorted(({"kept": kept, "size": len(members) + 1, "members": members}
                       for kept, members in groups.items()), key=lambda c: (-c["size"], c["kept"]))
    totals = Counter(r["status"] for r in rows)
    return {"rows": len(rows), "totals": dict(sorted(totals.items())),
            "by_source": {s: dict(sorted(c.items())) for s, c in counts.items()},
            "duplicate_groups": clusters, "contamination": cur.contamination.to_pylist(),
            "near_duplicates": sum(1 for r in rows if r["duplicate_of"] and (r["duplicate_similarity"] or 1) < 1),
            "settings": cur.settings}


def _snippet(text: str, width: int = 90) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= width else text[:width - 1] + "…"


def markdown(report: dict, problems: pa.Table) -> str:
    text = {f"{s}:{r}": p for s, r, p in zip(problems["source"].to_pylist(), problems["source_row"].to_pylist(),
                                             problems["problem"].to_pylist(), strict=True)}
    statuses = sorted(report["totals"])
    lines = ["# Curation report", "", f"{report['rows']} rows read; " +
             ", ".join(f"{s} {report['totals'][s]}" for s in statuses) + ".", "",
             "| source | " + " | ".join(statuses) + " |", "|---|" + "---|" * len(statuses)]
    for source, counts in report["by_source"].items():
        lines.append(f"| {source} | " + " | ".join(str(counts.get(s, 0)) for s in statuses) + " |")
    groups = report["duplicate_groups"]
    lines += ["", "## Duplicate groups", "",
              f"{len(groups)} groups; {report['near_duplicates']} rows merged as near (not exact) copies.", ""]
    for g in groups[:_SHOWN]:
        lines.append(f"- kept `{g['kept']}`: {_snippet(text.get(g['kept'], ''))}")
        for m in g["members"]:
            lines.append(f"  - `{m['row']}` ({m['status']}, similarity {m['similarity']}, kept one wins on "
                         f"{m['kept_because']}): {_snippet(text.get(m['row'], ''))}")
    matches = report["contamination"]
    by_bench = Counter(m["benchmark"] for m in matches)
    lines += ["", "## Contamination", "", f"{len(matches)} matches: " +
              (", ".join(f"{b} {n}" for b, n in sorted(by_bench.items())) or "none") + ".", ""]
    if matches:
        lines += ["| row | benchmark | eval row | method | score | problem |", "|---|---|---|---|---|---|"]
        for m in matches[:_SHOWN * 5]:
            key = f"{m['source']}:{m['source_row']}"
            lines.append(f"| `{key}` | {m['benchmark']} | {m['eval_row']} | {m['method']} | {m['score']:.3f} | "
                         f"{_snippet(text.get(key, ''), 60)} |")
    if len(groups) > _SHOWN or len(matches) > _SHOWN * 5:
        lines += ["", "The lists above are cut; `report.json` has every group and match."]
    return "\n".join(lines) + "\n"


def headline(report: dict) -> str:
    """One line for the person watching: rows by status, groups, matches by benchmark."""
    totals = ", ".join(f"{status} {n}" for status, n in report["totals"].items())
    benches = Counter(m["benchmark"] for m in report["contamination"])
    matched = ", ".join(f"{b} {n}" for b, n in sorted(benches.items())) or "none"
    return (f"{report['rows']} rows: {totals}; {len(report['duplicate_groups'])} duplicate groups "
            f"({report['near_duplicates']} near copies); eval-set matches: {matched}")


def write_curation(out: Path, cur: Curation) -> dict:
    """Write `problems.parquet` and `curation/` into `out`; return the report's JSON form."""
    out = Path(out)
    (out / CURATION_DIR).mkdir(parents=True, exist_ok=True)
    report = summary(cur)
    write_parquet_atomic(out / "problems.parquet", cur.problems)
    write_parquet_atomic(out / CURATION_DIR / "contamination.parquet", cur.contamination)
    write_atomic(out / CURATION_DIR / "report.json", json.dumps(report, indent=2, ensure_ascii=False))
    write_atomic(out / CURATION_DIR / "report.md", markdown(report, cur.problems))
    return report
