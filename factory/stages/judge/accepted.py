"""Which traces count as accepted, per problem: what `teacher.until` counts towards its goal.

Accepted is what publishing would keep of a problem: a correct verdict (trace filters passed, answer
verified, within `filters.max_total_tokens`), inside the largest curriculum bucket, and a distinct
trace (an exact repeat of an accepted trace would be dropped as `duplicate_trace`). So a problem that
reaches `until.accepted` publishes at least that many rows.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from factory.store.records import CURRICULUM_BUCKETS


def accepted_per_problem(verdicts: pa.Table) -> dict[str, int]:
    """problem_id -> how many distinct accepted traces its verdicts hold (problems with none left out)."""
    keep = pc.and_(pc.fill_null(verdicts["correct"], False),
                   pc.less_equal(verdicts["length"], CURRICULUM_BUCKETS[-1]))
    kept = verdicts.filter(pc.fill_null(keep, False))
    # the same key publish dedups on: a missing trace hash never counts as a duplicate
    trace = pc.coalesce(kept["trace_hash"], kept["sample_id"])
    table = pa.table({"problem_id": kept["problem_id"], "trace": trace})
    grouped = table.group_by("problem_id").aggregate([("trace", "count_distinct")])
    return dict(zip(grouped["problem_id"].to_pylist(), grouped["trace_count_distinct"].to_pylist(), strict=True))
