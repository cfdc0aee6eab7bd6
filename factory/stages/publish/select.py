"""What gets published, decided in SQL: each sample's final status and reason, the rows, counts and token stats.

Every set-wise decision (joins, exact trace dedup, counts, token stats) is a DuckDB query over the Arrow
tables the driver registers as `problems_in`, `samples_in` and `verdicts_in`; `JUDGE_SQL` leaves the
`judged` table (one row per sample) and `problem_stats` (each problem's teacher pass rate) that the rest
reads. Decisions per problem that need more than SQL (near-duplicate traces, which k to keep) are made
in `traces` and applied to `judged` with `apply_rejections`.
"""

from __future__ import annotations

import typing

import duckdb

from factory.store.records import CURRICULUM_BUCKETS, Problem


def _bucket_sql(column: str) -> str:
    # Mirrors records.bucket_for, generated from the same constant so the two cannot disagree.
    whens = " ".join(f"WHEN {column} <= {b} THEN {b}" for b in CURRICULUM_BUCKETS)
    return f"CASE {whens} ELSE NULL END"


JUDGE_SQL = f"""
-- majority-vote labels (verify.majority_vote): every voter of a problem was judged against the same one
CREATE TEMP TABLE labels AS
SELECT problem_id, min(label) AS label, min(label_agreement) AS label_agreement
FROM verdicts_in WHERE label IS NOT NULL GROUP BY problem_id;

-- the problems that can publish: `ok` ones, and those without a reference that got a majority label
CREATE TEMP TABLE ok_problems AS
SELECT p.* REPLACE (coalesce(p.reference_answer, l.label) AS reference_answer),
       CASE WHEN l.label IS NULL THEN 'reference' ELSE 'majority' END AS label_source, l.label_agreement
FROM problems_in p LEFT JOIN labels l ON l.problem_id = p.problem_id AND p.status = 'no_reference'
WHERE p.status = 'ok' OR l.label IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY p.problem_id ORDER BY p.source, p.source_row) = 1;

-- the teacher's pass rate per problem: answers that matched (an over-length trace's did) over verdicts
CREATE TEMP TABLE problem_stats AS
SELECT v.problem_id, count(*) AS samples_judged,
       count(*) FILTER (WHERE v.correct OR v.reason = 'over_length') AS samples_correct,
       count(*) FILTER (WHERE v.correct OR v.reason = 'over_length') / count(*) AS pass_rate
FROM verdicts_in v JOIN samples_in s ON s.sample_id = v.sample_id
GROUP BY v.problem_id;

CREATE TEMP TABLE judged AS
WITH j AS (
    SELECT s.sample_id, s.problem_id, s.sample_index, s.outcome,
           v.sample_id IS NOT NULL AS has_verdict, v.correct, v.reason AS verdict_reason, v.trace_hash,
           ok.problem_id IS NOT NULL AS problem_ok,
           (SELECT min(p.status) FROM problems_in p WHERE p.problem_id = s.problem_id) AS problem_status,
           {_bucket_sql("v.length")} AS bucket
    FROM samples_in s
    LEFT JOIN verdicts_in v ON v.sample_id = s.sample_id
    LEFT JOIN ok_problems ok ON ok.problem_id = s.problem_id
), c AS (
    SELECT *, coalesce(has_verdict AND correct AND problem_ok AND bucket IS NOT NULL, false) AS candidate
    FROM j
), r AS (
    -- exact trace dedup among accepted samples: the lowest sample_index of each trace survives;
    -- a missing trace hash never counts as a duplicate
    SELECT *, row_number() OVER w AS trace_rank, first_value(sample_id) OVER w AS first_copy
    FROM c
    WINDOW w AS (PARTITION BY candidate, problem_id, coalesce(trace_hash, sample_id) ORDER BY sample_index, sample_id)
)
SELECT sample_id, problem_id, sample_index, bucket,
    CASE WHEN NOT has_verdict THEN (CASE WHEN outcome IN ('failed', 'rejected') THEN 'rejected' ELSE 'pending' END)
         WHEN NOT candidate OR trace_rank > 1 THEN 'rejected'
         ELSE 'published' END AS status,
    CASE WHEN NOT has_verdict THEN (CASE WHEN outcome IN ('failed', 'rejected') THEN 'request_' || outcome
                                         ELSE 'no_verdict' END)
         WHEN NOT correct THEN verdict_reason
         WHEN NOT problem_ok THEN 'problem_' || coalesce(problem_status, 'missing')
         WHEN bucket IS NULL THEN 'over_length'
         WHEN trace_rank > 1 THEN 'duplicate_trace'
         ELSE verdict_reason END AS reason,
    CASE WHEN candidate AND trace_rank > 1 THEN first_copy END AS duplicate_of
FROM r;
"""

PASS_RATE_SQL = """
UPDATE judged SET status = 'rejected', reason = 'pass_rate_out_of_range'
FROM problem_stats p
WHERE judged.problem_id = p.problem_id AND judged.status = 'published' AND p.pass_rate NOT BETWEEN $lo AND $hi
"""

# what `traces.choose` reads: accepted traces, one problem's rows together, in sample order
ACCEPTED_SQL = """
SELECT j.sample_id, j.problem_id, v.length, v.minhash
FROM judged j JOIN verdicts_in v ON v.sample_id = j.sample_id
WHERE j.status = 'published'
ORDER BY j.problem_id, j.sample_index, j.sample_id
"""


def apply_rejections(con: duckdb.DuckDBPyConnection, rejections) -> None:
    """Mark the samples of `rejections` (sample_id, reason, duplicate_of) rejected in `judged`."""
    con.register("rejections_in", rejections)
    con.execute("""
        UPDATE judged SET status = 'rejected', reason = r.reason, duplicate_of = r.duplicate_of
        FROM rejections_in r WHERE judged.sample_id = r.sample_id""")
    con.unregister("rejections_in")

ROWS_SQL = """
SELECT j.sample_id AS id, j.problem_id, $run_id AS run_id, ok.source, ok.source_row, ok.problem,
       ok.reference_answer, coalesce(s.reasoning, '') AS reasoning, coalesce(s.answer, '') AS answer,
       coalesce(v.predicted, '') AS predicted_answer,
       -- the request's own system/user turns, then the reply in the R1 chat format (records.assistant_turn)
       list_append(list_filter(s.messages, lambda m: m.role IN ('system', 'user')),
                   {'role': 'assistant', 'content': '<think>\n' || coalesce(s.reasoning, '') || '\n</think>\n\n'
                                                    || coalesce(s.answer, '')}) AS messages,
       s.model, s.sample_index, v.prompt_tokens, v.reasoning_tokens, v.answer_tokens, v.total_tokens,
       v.length, j.bucket AS curriculum_bucket, ps.samples_judged, ps.samples_correct, ps.pass_rate, ok.label_source,
       ok.label_agreement
FROM judged j
JOIN problem_stats ps ON ps.problem_id = j.problem_id
JOIN samples_in s ON s.sample_id = j.sample_id
JOIN verdicts_in v ON v.sample_id = j.sample_id
JOIN ok_problems ok ON ok.problem_id = j.problem_id
WHERE j.status = 'published'
"""
ORDER = "ORDER BY problem_id, sample_index, id"  # within a bucket: each bucket has shards of its own


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Problems by status, samples by final status, rejections by reason (zeros kept for statuses)."""
    counts = {"problems": con.sql("SELECT count(*) FROM problems_in").fetchall()[0][0]}
    for status in typing.get_args(Problem.model_fields["status"].annotation):
        counts[f"problems_{status}"] = 0
    for status, n in con.sql("SELECT status, count(*) FROM problems_in GROUP BY ALL ORDER BY 1").fetchall():
        counts[f"problems_{status}"] = n
    counts["near_duplicates"] = con.sql(
        "SELECT count(*) FROM problems_in WHERE status = 'duplicate' AND duplicate_similarity < 1").fetchall()[0][0]
    matched = """SELECT split_part(contaminated_by, ':', 1), count(*) FROM problems_in
                 WHERE status = 'contaminated' AND contaminated_by IS NOT NULL GROUP BY ALL ORDER BY 1"""
    for benchmark, n in con.sql(matched).fetchall():
        counts[f"contaminated.{benchmark}"] = n
    counts["samples"] = con.sql("SELECT count(*) FROM judged").fetchall()[0][0]
    for status in ("published", "rejected", "pending"):
        counts[status] = con.sql(f"SELECT count(*) FROM judged WHERE status = '{status}'").fetchall()[0][0]
    rejected = "SELECT reason, count(*) FROM judged WHERE status = 'rejected' GROUP BY ALL ORDER BY 1"
    for reason, n in con.sql(rejected).fetchall():
        counts[f"rejected.{reason}"] = n
    return counts


def token_stats(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, float], dict[str, int]]:
    """Summary of published rows' `length` (zeros when nothing was published) and rows per bucket."""
    published = "judged j JOIN verdicts_in v ON v.sample_id = j.sample_id WHERE j.status = 'published'"
    values = con.sql(f"""
        SELECT coalesce(min(length), 0), coalesce(round(avg(length), 3), 0),
               coalesce(quantile_cont(length, 0.5), 0), coalesce(quantile_cont(length, 0.9), 0),
               coalesce(max(length), 0)
        FROM {published}""").fetchall()[0]
    stats = dict(zip(("min", "mean", "p50", "p90", "max"), map(float, values), strict=True))
    buckets = {str(b): 0 for b in CURRICULUM_BUCKETS}
    for bucket, n in con.sql(f"SELECT bucket, count(*) FROM {published} GROUP BY ALL").fetchall():
        buckets[str(bucket)] = n
    return stats, buckets
