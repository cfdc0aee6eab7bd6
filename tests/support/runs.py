"""Small, realistic run tables (problems, journal samples, verdicts) for store and publish tests."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa

from factory.config import PublishConfig
from factory.stages.publish.stage import publish
from factory.store.provenance import write_provenance
from factory.store.records import PROBLEM_SCHEMA, SAMPLE_SCHEMA, VERDICT_SCHEMA, SourceRecord

SYSTEM = "You are a careful mathematician."
TEMPLATE = "{problem}\n\nPlease reason step by step, and put your final answer within \\boxed{{}}."
SAMPLING = json.dumps({"max_tokens": 16384, "temperature": 0.6, "top_p": 0.95}, sort_keys=True)
MODEL = "sim-r1"
T0 = 1_760_000_000.0


def _h(*parts: object, n: int = 16) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:n]


def pid(text: str) -> str:
    """Problem id the way the sources stage makes it (hash prefix of the text)."""
    return _h(" ".join(text.split()))


def sid(problem_id: str, index: int) -> str:
    return _h(problem_id, index, MODEL, "tmpl", SAMPLING, n=24)


def problem(text, answer, status="ok", source="demo", row="0", duplicate_of=None, solution=None) -> dict:
    return dict(problem_id=pid(text), source=source, source_row=row, problem=text,
                reference_answer=answer, solution=solution, status=status, duplicate_of=duplicate_of)


def sample(problem_text: str, index: int, *, outcome="complete", reasoning="", answer="",
           system: str | None = None, session="sess-1") -> dict:
    """One journal line; `reasoning`/`answer` are None for requests that never got a reply."""
    p = pid(problem_text)
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": TEMPLATE.format(problem=problem_text)}]
    failed = outcome in ("failed", "rejected")
    start = T0 + index * 3.5
    return dict(
        sample_id=sid(p, index), problem_id=p, sample_index=index, session_id=session, model=MODEL,
        endpoint="http://127.0.0.1:8000/v1", messages=messages, sampling=SAMPLING,
        prompt_template_hash=_h(TEMPLATE), attempts=3 if failed else 1, outcome=outcome,
        error="HTTP 500 after 3 attempts" if failed else None,
        error_class=({"failed": "5xx", "rejected": "4xx"}.get(outcome)),
        finish_reason=None if failed else ("length" if outcome == "truncated" else "stop"),
        reasoning=None if failed else reasoning, answer=None if failed else answer,
        reasoning_source="none" if failed else "think_tags", think_closed=outcome != "truncated",
        prompt_tokens=None if failed else 40, completion_tokens=None if failed else 300,
        reasoning_tokens=None if failed else 250, started_at=start, finished_at=start + 2.25,
        latency_s=2.25)


def verdict(s: dict, *, correct: bool, reason: str, predicted: str | None, trace: str | None = None,
            total: int = 340) -> dict:
    """The verify stage's row for journal line `s`; `trace` names the trace for exact dedup."""
    return dict(sample_id=s["sample_id"], problem_id=s["problem_id"], correct=correct, reason=reason,
                predicted=predicted, trace_hash=_h("trace", trace or s["sample_id"]) if reason != "no_answer" else None,
                prompt_tokens=40, reasoning_tokens=total - 90, answer_tokens=50, total_tokens=total, length=total,
                verify_ms=1.5)


P_ADD = "What is $2 + 3$?"
P_FRAC = "Compute $\\frac{1}{2} + \\frac{1}{3}$."
P_NOREF = "Prove that there are infinitely many primes."
P_EVAL = "Find the remainder when $2^{10}$ is divided by 7."
P_LONG = "Evaluate $\\sum_{k=1}^{100} k$ — naïvely, step by step: 1 + 2 + … + 100."


def small_run() -> tuple[pa.Table, pa.Table, pa.Table]:
    """A few problems and samples covering every publish decision.

    Expected outcomes (sample index in brackets):
      P_ADD  [0] wrong_answer, [1] published, [2] truncated, [3] duplicate_trace of [1]
      P_FRAC [0] published, [1] published (system prompt in all FRAC requests), [2] request_failed,
             [3] pending (no verdict yet), [4] over_length
      P_EVAL [0] problem_contaminated (correct, but its problem is not ok)
      P_LONG [0] published (non-ASCII text), [1] request_rejected
    """
    problems = [
        problem(P_ADD, "5", row="0", solution="2 + 3 = 5, so the answer is $\\boxed{5}$."),
        problem(P_FRAC, "\\frac{5}{6}", row="1"),
        problem(P_NOREF, None, status="no_reference", row="2"),
        problem(P_EVAL, "2", status="contaminated", row="3"),
        problem(P_LONG, "5050", row="4"),
        problem(P_ADD, "5", status="duplicate", source="extra", row="7", duplicate_of="demo:0"),
    ]
    add = [sample(P_ADD, i, reasoning=f"2 plus 3 ... attempt {i}", answer="The answer is $\\boxed{5}$.")
           for i in range(4)]
    add[0]["answer"] = "The answer is $\\boxed{6}$."
    add[2]["outcome"], add[2]["finish_reason"] = "truncated", "length"
    add[3]["reasoning"] = add[1]["reasoning"]  # same trace as [1]: exact duplicate
    frac = [sample(P_FRAC, i, reasoning=f"Common denominator 6, try {i}: 3/6 + 2/6.",
                   answer="$\\boxed{\\frac{5}{6}}$", system=SYSTEM) for i in range(5)]
    frac[2] = sample(P_FRAC, 2, outcome="failed", system=SYSTEM)
    ev = [sample(P_EVAL, 0, reasoning="1024 = 7*146 + 2", answer="\\boxed{2}")]
    long = [sample(P_LONG, 0, reasoning="Gauß: 100·101/2 = 5050 ✓", answer="**5050** → $\\boxed{5050}$"),
            sample(P_LONG, 1, outcome="rejected", session="sess-2")]
    verdicts = [
        verdict(add[0], correct=False, reason="wrong_answer", predicted="6"),
        verdict(add[1], correct=True, reason="correct", predicted="5", trace="add-A", total=300),
        verdict(add[2], correct=False, reason="truncated", predicted=None),
        verdict(add[3], correct=True, reason="correct", predicted="5", trace="add-A", total=300),
        verdict(frac[0], correct=True, reason="correct", predicted="\\frac{5}{6}", total=9000),
        verdict(frac[1], correct=True, reason="correct", predicted="5/6", total=20000),
        verdict(frac[4], correct=True, reason="correct", predicted="5/6", total=40000),
        verdict(ev[0], correct=True, reason="correct", predicted="2"),
        verdict(long[0], correct=True, reason="correct", predicted="5050", total=1200),
    ]
    # journal order is completion order, not (problem, index): publish must not depend on it
    samples = [add[3], frac[1], add[0], long[1], frac[0], add[2], ev[0], frac[2], add[1], frac[3], frac[4], long[0]]
    return (pa.Table.from_pylist(problems, schema=PROBLEM_SCHEMA),
            pa.Table.from_pylist(samples, schema=SAMPLE_SCHEMA),
            pa.Table.from_pylist(verdicts[::-1], schema=VERDICT_SCHEMA))


EXPECTED = {
    (P_ADD, 0): ("rejected", "wrong_answer"), (P_ADD, 1): ("published", "correct"),
    (P_ADD, 2): ("rejected", "truncated"), (P_ADD, 3): ("rejected", "duplicate_trace"),
    (P_FRAC, 0): ("published", "correct"), (P_FRAC, 1): ("published", "correct"),
    (P_FRAC, 2): ("rejected", "request_failed"), (P_FRAC, 3): ("pending", "no_verdict"),
    (P_FRAC, 4): ("rejected", "over_length"), (P_EVAL, 0): ("rejected", "problem_contaminated"),
    (P_LONG, 0): ("published", "correct"), (P_LONG, 1): ("rejected", "request_rejected"),
}


def bulk_run(n_problems: int, per_problem: int, text_len: int = 200) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Many problems, every sample correct with a distinct trace (for sharding tests)."""
    problems, samples, verdicts = [], [], []
    for k in range(n_problems):
        text = f"Problem {k}: what is {k} + {k}?"
        problems.append(problem(text, str(2 * k), row=str(k)))
        for i in range(per_problem):
            s = sample(text, i, reasoning=(f"step {i} of {k}; " * text_len)[:text_len],
                       answer=f"\\boxed{{{2 * k}}}")
            samples.append(s)
            verdicts.append(verdict(s, correct=True, reason="correct", predicted=str(2 * k), total=300 + k))
    return (pa.Table.from_pylist(problems, schema=PROBLEM_SCHEMA),
            pa.Table.from_pylist(samples, schema=SAMPLE_SCHEMA),
            pa.Table.from_pylist(verdicts, schema=VERDICT_SCHEMA))


# a run's identity and two sessions, the way the runner hands them to provenance
RUN = dict(run_id="run-1", pipeline="demo",
           config_json='{"name": "demo", "teacher": {"api_key_env": "TEACHER_API_KEY"}}',
           config_hash="c0ffee", created_at="2026-01-01T10:00:00+02:00")
SESSIONS = [
    dict(session_id="sess-1", started_at="2026-01-01T08:00:00Z", finished_at="2026-01-01T08:40:00Z",
         command="factory run pipelines/demo.yaml", code_version="5b55378", factory_version="0.1.0"),
    dict(session_id="sess-2", started_at="2026-01-01T09:00:00+00:00", finished_at=None,
         command="factory run pipelines/demo.yaml --resume", code_version=None, factory_version="0.1.0"),
]


# the sources of small_run() as the runner reads them: two under different licenses and an eval set
SOURCES = [
    SourceRecord(name="demo", role="train", kind="jsonl", location="/data/demo.jsonl", subset=None, split=None,
                 revision=None, commit=None, license="mit", license_from="pipeline", rows=5),
    SourceRecord(name="extra", role="train", kind="hf", location="owner/extra", subset="main", split="train",
                 revision="v1", commit="c" * 40, license="cc-by-4.0", license_from="dataset", rows=1),
    SourceRecord(name="bench", role="decontaminate", kind="hf", location="/data/bench", subset=None,
                 split="test", revision=None, commit=None, license=None, license_from=None, rows=30),
]


def provenance_run(run_dir: Path):
    """small_run() published into `run_dir` and its provenance database written; (db path, PublishResult)."""
    problems, samples, verdicts = small_run()
    result = publish(run_dir, run_id="run-1", pipeline="demo", tokenizer="tok", problems=problems, samples=samples,
                     verdicts=verdicts, cfg=PublishConfig(), sources=SOURCES)
    path = write_provenance(run_dir, run=RUN, sessions=SESSIONS, problems=problems, samples=samples,
                            verdicts=verdicts, placements=result.placements, outcomes=result.outcomes,
                            sources=SOURCES)
    return path, result
