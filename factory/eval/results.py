"""Scores of an evaluation: pass@1 and pass@k per benchmark, and the results table across models.

pass@1 is the mean of the problems x k matrix of verdicts (DeepScaleR's: k samples at temperature 0.6);
pass@k is the share of problems with at least one right sample. A sample that never got an answer (its
requests failed) counts as wrong and is reported as missing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from factory.store.rundir import write_atomic

RESULTS_JSON, RESULTS_MD = "results.json", "results.md"


def score(correct: dict[str, list[bool]], k: int, missing: int) -> dict:
    """Figures of one benchmark from `correct` (problem id -> the verdicts of its k samples)."""
    rates = [sum(v) / k for v in correct.values()]
    n = len(rates)
    mean = sum(rates) / n if n else 0.0
    # the standard error of pass@1 over problems: how far another draw of k samples could move it
    stderr = math.sqrt(sum((r - mean) ** 2 for r in rates) / (n - 1) / n) if n > 1 else 0.0
    solved = sum(any(v) for v in correct.values())
    return {"problems": n, "k": k, "pass@1": round(mean, 6), f"pass@{k}": round(solved / n if n else 0.0, 6),
            "stderr": round(stderr, 6), "samples": n * k, "correct": sum(sum(v) for v in correct.values()),
            "missing": missing}


def merge(out: Path, label: str, benchmarks: dict[str, dict], meta: dict) -> dict:
    """Add (or replace) one model's results in DIR/results.json and rewrite DIR/results.md; return all."""
    path = Path(out) / RESULTS_JSON
    results = json.loads(path.read_text()) if path.exists() else {"models": {}}
    entry = results["models"].setdefault(label, {"benchmarks": {}})
    entry["benchmarks"].update(benchmarks)
    entry.update(meta)
    write_atomic(path, json.dumps(results, indent=2, sort_keys=True))
    write_atomic(Path(out) / RESULTS_MD, table(results))
    return results


def table(results: dict) -> str:
    """One row per model, one column per benchmark (pass@1 in %), and their average, as DeepScaleR shows it."""
    names = sorted({b for m in results["models"].values() for b in m["benchmarks"]})
    lines = ["| model | " + " | ".join(names) + " | avg |", "|---|" + "---:|" * (len(names) + 1)]
    for label, m in sorted(results["models"].items()):
        cells = [m["benchmarks"][b]["pass@1"] * 100 if b in m["benchmarks"] else None for b in names]
        known = [c for c in cells if c is not None]
        avg = f"{sum(known) / len(known):.1f}" if len(known) == len(names) else ""
        lines.append(f"| {label} | " + " | ".join("" if c is None else f"{c:.1f}" for c in cells) + f" | {avg} |")
    ks = sorted({b["k"] for m in results["models"].values() for b in m["benchmarks"].values()})
    return "\n".join(lines) + f"\n\npass@1 in %, the mean over k = {', '.join(map(str, ks))} samples per problem.\n"
