"""Run directories for `factory report` tests: published and with provenance, made by the real publish stage
and provenance writer from tables built here (two sources, an eval set, two endpoints, two sessions).

`report_run` is big enough to draw every chart with something in it (hundreds of samples over two hours,
every curriculum bucket, several rejection reasons, contamination rows, endpoint costs); `empty_run`
has problems but no sample at all, so every chart has to say "no data".
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa

from factory.config import PriceConfig, PublishConfig
from factory.meter.cost import endpoint_costs
from factory.stages.publish.stage import publish
from factory.store.provenance import write_provenance
from factory.store.records import (
    CONTAMINATION_SCHEMA,
    PROBLEM_SCHEMA,
    SAMPLE_SCHEMA,
    VERDICT_SCHEMA,
    SourceRecord,
)

from support import runs

API, GPU = "https://api.example.test/v1", "http://10.0.0.5:8000/v1"
SOURCES = [
    SourceRecord(name="numina", role="train", kind="hf", location="owner/numina", subset=None, split="train",
                 revision="main", commit="a" * 40, license="apache-2.0", license_from="dataset", rows=60),
    SourceRecord(name="aops", role="train", kind="jsonl", location="/data/aops.jsonl", subset=None, split=None,
                 revision=None, commit=None, license="mit", license_from="pipeline", rows=24),
    SourceRecord(name="aime", role="decontaminate", kind="jsonl", location="/data/aime.jsonl", subset=None,
                 split=None, revision=None, commit=None, license=None, license_from=None, rows=30),
]
N_SAMPLES = 4
# every k-th problem of numina copies an AIME problem (contaminated), every d-th of aops another problem
CONTAMINATED_EVERY, DUPLICATE_EVERY = 15, 8


def _tables(seed: int = 7) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    rng = random.Random(seed)
    problems, samples, verdicts, matches = [], [], [], []
    sizes = {s.name: s.rows for s in SOURCES if s.role == "train"}
    for source, size in sizes.items():
        for k in range(size):
            text = f"{source} problem {k}: find the sum of the first {k + 3} odd numbers."
            status, duplicate_of = "ok", None
            if source == "numina" and k % CONTAMINATED_EVERY == 3:
                status = "contaminated"
                matches.append(dict(source=source, source_row=str(k), benchmark="aime", eval_row=str(k % 30),
                                    method="ngram" if k % 2 else "fuzzy", score=round(rng.uniform(0.6, 1.0), 4)))
            if source == "aops" and k % DUPLICATE_EVERY == 5:
                status, duplicate_of = "duplicate", "numina:0"
                text = "numina problem 0: find the sum of the first 3 odd numbers."
            problems.append(runs.problem(text, str((k + 3) ** 2), status=status, source=source, row=str(k),
                                         duplicate_of=duplicate_of))
            if status != "ok":
                continue
            difficulty = rng.betavariate(2, 1.2)  # the teacher's chance of a right answer
            for i in range(N_SAMPLES):
                sample, verdict = _sample(rng, text, k, i, difficulty, source)
                samples.append(sample)
                if verdict is not None:
                    verdicts.append(verdict)
    return (pa.Table.from_pylist(problems, schema=PROBLEM_SCHEMA),
            pa.Table.from_pylist(samples, schema=SAMPLE_SCHEMA),
            pa.Table.from_pylist(verdicts, schema=VERDICT_SCHEMA),
            pa.Table.from_pylist(matches, schema=CONTAMINATION_SCHEMA))


def _sample(rng: random.Random, text: str, k: int, i: int, difficulty: float, source: str):
    """One journal line over a two-hour run (a busy first session, a resumed second) and its verdict (None for
    a failed request)."""
    roll = rng.random()
    outcome = "failed" if roll < 0.02 else "truncated" if roll < 0.06 else "complete"
    session = "sess-1" if rng.random() < 0.7 else "sess-2"
    s = runs.sample(text, i, outcome=outcome, reasoning=f"Add the odd numbers of {source} {k}, attempt {i}.",
                    answer=f"\\boxed{{{(k + 3) ** 2}}}", session=session)
    start = runs.T0 + (rng.uniform(0, 3600) if session == "sess-1" else rng.uniform(4200, 7200))
    latency = rng.lognormvariate(3.5, 0.5)
    s.update(endpoint=API if rng.random() < 0.6 else GPU, started_at=start, finished_at=start + latency,
             latency_s=latency)
    if outcome == "failed":
        return s, None
    total = min(int(rng.lognormvariate(8.0, 0.9)) + 80, 36000)  # a few beyond the largest bucket
    s.update(prompt_tokens=80, completion_tokens=total - 80, reasoning_tokens=total - 120)
    if outcome == "truncated":
        return s, runs.verdict(s, correct=False, reason="truncated", predicted=None, total=total)
    if rng.random() < difficulty:
        return s, runs.verdict(s, correct=True, reason="correct", predicted=str((k + 3) ** 2), total=total)
    reason = "wrong_answer" if rng.random() < 0.8 else "no_answer"
    return s, runs.verdict(s, correct=False, reason=reason, predicted="1" if reason == "wrong_answer" else None,
                           total=total)


def _costs(samples: pa.Table, published: int) -> list[dict]:
    """The endpoint_costs rows as a run computes them: token prices for the API, a GPU-hour price for the GPU."""
    prices = {API: PriceConfig(input_per_mtok=0.55, output_per_mtok=2.19), GPU: PriceConfig(gpu_hour=2.5)}
    return endpoint_costs(samples.to_pylist(), prices, published)


def _write(run_dir: Path, problems: pa.Table, samples: pa.Table, verdicts: pa.Table, matches: pa.Table) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    result = publish(run_dir, run_id="run-report", pipeline="report-test", tokenizer="student/tokenizer",
                     problems=problems, samples=samples, verdicts=verdicts, cfg=PublishConfig(), sources=SOURCES)
    sessions = [dict(session_id="sess-1", started_at="2025-10-09T08:53:20Z", finished_at="2025-10-09T09:55:00Z",
                     command="factory run p.yaml", code_version="abc", factory_version="0.1.0"),
                dict(session_id="sess-2", started_at="2025-10-09T10:03:00Z", finished_at="2025-10-09T10:56:00Z",
                     command="factory run p.yaml", code_version="abc", factory_version="0.1.0")]
    write_provenance(run_dir, run=dict(runs.RUN, run_id="run-report", pipeline="report-test",
                                                created_at="2025-10-09T08:50:00Z"), sessions=sessions,
                     problems=result.problems, samples=samples, verdicts=verdicts, placements=result.placements,
                     outcomes=result.outcomes, sources=SOURCES, contamination=matches,
                     costs=_costs(samples, result.manifest.counts.get("published", 0)))
    (run_dir / "run.json").write_text(json.dumps({"run_id": "run-report", "pipeline": "report-test"}))
    return run_dir


def report_run(run_dir: Path) -> Path:
    """A published run with something in every chart and table."""
    return _write(run_dir, *_tables())


def empty_run(run_dir: Path) -> Path:
    """A published run whose problems were never asked: no samples, rows, rates, requests or costs."""
    problems = _tables()[0]
    return _write(run_dir, problems, SAMPLE_SCHEMA.empty_table(), VERDICT_SCHEMA.empty_table(),
                  CONTAMINATION_SCHEMA.empty_table())
