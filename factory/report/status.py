"""`factory status RUN_DIR`: progress and counts per stage and per rejection reason, and cost.

Cost is per endpoint (prompt, reasoning and answer tokens, GPU hours, dollars) and for the whole run,
with dollars per published sample (an accepted, verified one), from `factory.meter.cost`.

Reads the run's files directly (problems table, journal, verdict parts, manifest), so it works
while a run is going, after a crash, and before any provenance exists.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from factory.config import PipelineConfig
from factory.errors import RunDirError
from factory.meter.cost import cost_totals, run_costs
from factory.report.runstate import latest_session, run_state
from factory.stages.judge.accepted import accepted_per_problem
from factory.stages.judge.stage import judge_key, read_verdicts
from factory.store.journal import ledger, lost_requests
from factory.store.records import asked_statuses


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
    outcomes = Counter(outcome for outcome, *_ in records.values())
    pipeline = PipelineConfig.model_validate(cfg)
    # the problems the teacher is asked about: `ok`, and `no_reference` under a majority vote
    asked = sum(by_status.get(s, 0) for s in asked_statuses(pipeline.verify.majority_vote.enabled))
    verdicts = read_verdicts(run_dir, judge_key(pipeline))
    reasons = Counter(verdicts["reason"].to_pylist())
    manifest_path = run_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    published = manifest["counts"].get("published", 0) if manifest else 0
    spent = run_costs(run_dir, published)
    totals = cost_totals(spent, published)
    lost = lost_requests(run_dir)
    # a going session's requests with no result yet are in flight, not lost
    latest = latest_session(run_dir) if run_state(run_dir) == "going" else None
    flying = {"in_flight": lost.pop(latest["session_id"], 0)} if latest else {}
    cost = dict(requests=sum(r["attempts"] for r in spent), lost_requests=sum(lost.values()), **flying,
                **_money(totals))
    return dict(
        run_id=info["run_id"], pipeline=info["pipeline"],
        problems=dict(total=sum(by_status.values()), **dict(sorted(by_status.items()))),
        generate=dict(**_expected(pipeline, asked), journaled=len(records),
                      **dict(sorted(outcomes.items()))),
        **_until(pipeline, asked, verdicts),
        verify=dict(judged=verdicts.num_rows, **dict(sorted(reasons.items()))),
        publish=(dict(published=published, shards=len(manifest["shards"]),
                      **{k: v for k, v in sorted(manifest["counts"].items()) if k.startswith("rejected")})
                 if manifest else dict(published=0, shards=0)),
        cost=cost,
        endpoints={r["endpoint"]: _money({k: r[k] for k in _ENDPOINT_FIELDS}) for r in spent},
        reasoning_unreported=sum(r["reasoning_unreported"] for r in spent),
    )


def _expected(cfg: PipelineConfig, ok: int) -> dict:
    """Samples the run asks: n of each problem, or with `teacher.until` a first round and a ceiling."""
    if cfg.teacher.until is None:
        return dict(expected=ok * cfg.teacher.n)
    return dict(first_round=ok * cfg.teacher.n, at_most=ok * cfg.teacher.until.max_n)


def _until(cfg: PipelineConfig, ok: int, verdicts) -> dict:
    """With `teacher.until`: the problems that have their accepted traces, and those that do not (yet, or
    stopped at max_n)."""
    if cfg.teacher.until is None:
        return {}
    done = sum(n >= cfg.teacher.until.accepted for n in accepted_per_problem(verdicts).values())
    return dict(until=dict(accepted=cfg.teacher.until.accepted, max_n=cfg.teacher.until.max_n,
                           problems_done=done, problems_short=ok - done))


_ENDPOINT_FIELDS = ("samples", "attempts", "prompt_tokens", "reasoning_tokens", "answer_tokens", "completion_tokens",
                    "gpu_hours", "usd")
_TOKENS = ("prompt_tokens", "reasoning_tokens", "answer_tokens", "completion_tokens")


def _money(row: dict) -> dict:
    """Figures rounded for reading: hours to 4 places, dollars to 4, dollars per sample to 6."""
    places = dict(gpu_hours=4, usd=4, usd_per_published=6)
    return {k: round(v, places[k]) if k in places and v is not None else v for k, v in row.items()}


def _endpoint_table(endpoints: dict) -> list[str]:
    """One aligned row per endpoint, so their figures can be compared at a glance (completion is
    reasoning + answer, so the table leaves it out)."""
    fields = [k for k in _ENDPOINT_FIELDS if k != "completion_tokens"]
    cols = ["endpoint", *(k.removesuffix("_tokens") if k in _TOKENS else k for k in fields)]
    rows = [[url] + [f"{row[k]:.4f}" if isinstance(row[k], float) else str(row[k]) for k in fields]
            for url, row in endpoints.items()]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]

    def fmt(cells):
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs)
    return ["  " + fmt(cols)] + ["  " + fmt(r) for r in rows]


def render(status: dict) -> str:
    lines = [f"run {status['run_id']}  pipeline {status['pipeline']}"]
    for stage in ("problems", "generate", "until", "verify", "publish"):
        if stage not in status:
            continue
        items = "  ".join(f"{k}={v}" for k, v in status[stage].items())
        lines.append(f"  {stage:<9} {items}")
    cost = status["cost"]
    lines.append("  tokens    " + "  ".join(f"{k.removesuffix('_tokens')}={cost[k]}" for k in _TOKENS))
    lines.append("  cost      " + "  ".join(f"{k}={v}" for k, v in cost.items() if k not in _TOKENS))
    if status["endpoints"]:
        lines.extend(_endpoint_table(status["endpoints"]))
    if status.get("reasoning_unreported"):
        lines.append(f"  note: {status['reasoning_unreported']} replies came with no reasoning token count "
                     "from their endpoint; their completion tokens are counted as answer")
    return "\n".join(lines)
