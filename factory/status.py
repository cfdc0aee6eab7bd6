"""`factory status RUN_DIR`: progress and counts per stage and per rejection reason.

Reads the run's files directly (problems table, journal, verdict parts, manifest), so it works
while a run is going, after a crash, and before any provenance exists.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from factory.config import PipelineConfig
from factory.cost import run_costs
from factory.errors import RunDirError
from factory.journal import ledger, lost_requests
from factory.stages.check import judge_key, read_verdicts


def collect(run_dir: Path) -> dict:
    """Counts per stage, as a dict (the CLI prints it; tests assert on it)."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise RunDirError(f"{str(run_dir)!r} is not a run directory (no run.json); pass the --out of a `factory run`")
    info = json.loads((run_dir / "run.json").read_text())
    cfg = json.loads((run_dir / "config.resolved.json").read_text())
    problems = pq.read_table(run_dir / "problems.parquet", columns=["status"]) \
        if (run_dir / "problems.parquet").exists() else None
    by_status = Counter(problems["status"].to_pylist()) if problems is not None else Counter()
    records = ledger(run_dir)
    outcomes = Counter(outcome for outcome, _, _ in records.values())
    pipeline = PipelineConfig.model_validate(cfg)
    verdicts = read_verdicts(run_dir, judge_key(pipeline))
    reasons = Counter(verdicts["reason"].to_pylist())
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    published = manifest["counts"].get("published", 0) if manifest else 0
    spent = run_costs(run_dir, published)
    usd = sum(r["usd"] for r in spent)
    cost = dict(requests=sum(r["attempts"] for r in spent), lost_requests=sum(lost_requests(run_dir).values()),
                prompt_tokens=sum(r["prompt_tokens"] for r in spent),
                completion_tokens=sum(r["completion_tokens"] for r in spent),
                usd=round(usd, 4), usd_per_published=round(usd / published, 6) if published else None)
    return dict(
        run_id=info["run_id"], pipeline=info["pipeline"],
        problems=dict(total=sum(by_status.values()), **dict(sorted(by_status.items()))),
        generate=dict(expected=by_status.get("ok", 0) * cfg["teacher"]["n"], journaled=len(records),
                      **dict(sorted(outcomes.items()))),
        verify=dict(judged=verdicts.num_rows, **dict(sorted(reasons.items()))),
        publish=(dict(published=published, shards=len(manifest["shards"]),
                      **{k: v for k, v in sorted(manifest["counts"].items()) if k.startswith("rejected")})
                 if manifest else dict(published=0, shards=0)),
        cost=cost,
        endpoints={r["endpoint"]: dict(samples=r["samples"], attempts=r["attempts"], usd=round(r["usd"], 4))
                   for r in spent},
    )


def render(status: dict) -> str:
    lines = [f"run {status['run_id']}  pipeline {status['pipeline']}"]
    for stage in ("problems", "generate", "verify", "publish", "cost"):
        items = "  ".join(f"{k}={v}" for k, v in status[stage].items())
        lines.append(f"  {stage:<9} {items}")
    for endpoint, row in status["endpoints"].items():
        lines.append(f"  endpoint  {endpoint}  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    return "\n".join(lines)
