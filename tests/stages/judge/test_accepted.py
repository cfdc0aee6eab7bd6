"""What `teacher.until` counts as accepted: what publishing would keep of a problem, duplicates once."""

import pyarrow as pa

from factory.stages.judge.accepted import accepted_per_problem
from factory.store.records import CURRICULUM_BUCKETS, VERDICT_SCHEMA


def verdict(problem, n, correct=True, reason="correct", trace=None, total=500):
    return dict(sample_id=f"{problem}-{n}", problem_id=problem, correct=correct, reason=reason, predicted="5",
                trace_hash=trace if trace is not None else f"t{problem}{n}", prompt_tokens=10,
                reasoning_tokens=total - 20, answer_tokens=10, total_tokens=total, length=total, verify_ms=1.0)


def test_correct_distinct_traces_within_the_largest_bucket_count():
    rows = [verdict("a", 0), verdict("a", 1), verdict("a", 2, correct=False, reason="wrong_answer"),
            verdict("b", 0, trace="same"), verdict("b", 1, trace="same"),  # one trace said twice: published once
            verdict("c", 0, total=CURRICULUM_BUCKETS[-1]), verdict("c", 1, total=CURRICULUM_BUCKETS[-1] + 1),
            verdict("d", 0, correct=False, reason="truncated")]
    table = pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA)
    assert accepted_per_problem(table) == {"a": 2, "b": 1, "c": 1}


def test_no_verdicts_no_accepted():
    assert accepted_per_problem(VERDICT_SCHEMA.empty_table()) == {}
