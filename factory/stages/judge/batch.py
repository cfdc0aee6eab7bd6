"""The judge stage's unit of work: trace filters, answer checking and token counts for a batch.

Runs inside a worker (an executor task), takes slim sample dicts and the problems' reference answers, and
returns a VERDICT_SCHEMA table. Over-length is decided here because it needs the token counts.
"""

from __future__ import annotations

import hashlib
import time

import pyarrow as pa

from factory.config import FilterConfig
from factory.stages.judge.minhash import signature
from factory.stages.judge.tokens import TokenizerSource
from factory.store.records import VERDICT_SCHEMA
from factory.verify import Options, check_trace, prepare_reference, verify_prepared
from factory.verify.filters import answer_policy

JUDGE_VERSION = 5  # bump when the verifier or filters change meaning: stored verdicts are then redone
SLIM_FIELDS = ("sample_id", "problem_id", "messages", "reasoning", "answer", "finish_reason", "think_closed",
               "outcome")


def trace_hash(reasoning: str, answer: str) -> str:
    return hashlib.sha256(f"{reasoning}\x00{answer}".encode()).hexdigest()[:16]


def judge_batch(samples: list[dict], references: dict[str, str], tokenizer: TokenizerSource | str,
                filters: FilterConfig, timeout_s: float,
                labels: dict[str, tuple[str | None, float]] | None = None, options: Options | None = None
                ) -> pa.Table:
    """Verdict rows for `samples` (dicts with SLIM_FIELDS); `references` maps problem_id -> answer.

    `tokenizer`: the student's tokenizer and chat template (`TokenizerSource.of`; its files travel with it), or
    a local tokenizer's path, read where this runs.

    `labels` maps a problem without a reference to its majority vote (label or None below the agreement
    asked for, share that agreed): its samples are judged against the label, or rejected as `no_majority`.
    `options`: the verifier's readings where graders differ (`verify.prose_answers`, `verify.ordered_lists`).
    """
    labels = labels or {}
    # the prompt turns as published: the request's own system and user messages
    prompts = [[{"role": m["role"], "content": m["content"]} for m in s["messages"] if m["role"] in ("system", "user")]
               for s in samples]
    reasonings = [s["reasoning"] or "" for s in samples]
    answers = [s["answer"] or "" for s in samples]
    if isinstance(tokenizer, str):
        tokenizer = TokenizerSource.of(tokenizer)
    n_prompt, n_reason, n_answer, lengths = tokenizer.load().lengths(prompts, reasonings, answers)
    rows, prepared = [], {}
    for i, s in enumerate(samples):
        started = time.perf_counter()
        total = n_prompt[i] + n_reason[i] + n_answer[i]
        label, agreement = labels.get(s["problem_id"], (None, None))
        reason = "filtered" if s["outcome"] == "filtered" else \
            check_trace(s["reasoning"], s["answer"], s["finish_reason"], s["think_closed"], filters)
        correct, predicted = False, None
        if reason is None:
            reference = references.get(s["problem_id"]) or ""
            if s["problem_id"] not in prepared:  # each problem's reference is parsed once per batch
                prepared[s["problem_id"]] = prepare_reference(reference)
            verdict = verify_prepared(prepared[s["problem_id"]], answers[i], timeout_s=timeout_s, options=options)
            verdict = answer_policy(verdict, prepared[s["problem_id"]], filters, timeout_s, options)
            correct, reason, predicted = verdict.correct, verdict.reason, verdict.predicted
            if s["problem_id"] in labels and label is None and reason == "no_reference":
                reason = "no_majority"
            if correct and filters.max_total_tokens is not None and lengths[i] > filters.max_total_tokens:
                correct, reason = False, "over_length"
        rows.append(dict(
            sample_id=s["sample_id"], problem_id=s["problem_id"], correct=correct, reason=reason,
            predicted=predicted, trace_hash=trace_hash(reasonings[i], answers[i]),
            # only accepted traces are ever compared; the signature costs 512 bytes a row
            minhash=signature(reasonings[i]) if correct else None,
            label=label, label_agreement=agreement,
            prompt_tokens=n_prompt[i], reasoning_tokens=n_reason[i], answer_tokens=n_answer[i],
            total_tokens=total, length=lengths[i], verify_ms=(time.perf_counter() - started) * 1e3,
        ))
    return pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA)
