"""The questions `factory audit RUN_DIR QUESTION` answers over the provenance database.

Each question is a function of an open read-only connection (and its arguments) that returns plain
data (dicts and lists, JSON-ready: timestamps as ISO strings, JSON columns parsed), so `--json` prints
it as is and `render` prints it for reading:

- `lineage ROW_ID`: the whole story of one published row, by point lookups on primary keys (a published
  row, then its request, verdict and outcome by sample id, its problem by problem id), never the
  `lineage` view's joins, so one row costs the same on a run of a thousand rows or a million.
- `rejections`: samples by final status and reason, with their share, per source, and example ids.
- `cost`: per endpoint and for the run: tokens, attempts, GPU hours, dollars, dollars per published row,
  requests lost to crashes.
- `contamination`: every training problem kept out as a copy of an eval-set problem, and the match.
- `sessions`: each `factory run` on the directory, what it sent and whether it finished.
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb

from factory.errors import FactoryError
from factory.store.records import bucket_for

EXAMPLES = 3  # example sample ids shown per rejection reason


def _value(v):
    if isinstance(v, dt.datetime):
        return v.isoformat()
    return v


def records(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    """The rows of a query as dicts, timestamps as ISO strings."""
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [{c: _value(v) for c, v in zip(cols, row, strict=True)} for row in cur.fetchall()]


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> dict | None:
    rows = records(con, sql, params)
    return rows[0] if rows else None


def lineage(con: duckdb.DuckDBPyConnection, row_id: str) -> dict:
    """Where published row `row_id` is, the problem it answers (and the copies of it curation dropped), the
    exact request that made it, the verifier's verdict (with the row's `length` and `curriculum_bucket`, as in
    its shard) and its final status."""
    placed = _one(con, "SELECT shard, row_index, problem_id FROM published WHERE sample_id = ?", [row_id])
    if placed is None:
        _not_published(con, row_id)
    request = _one(con, """
        SELECT session_id, sample_index, model, endpoint, messages, sampling, prompt_template_hash, attempts,
               outcome, error, error_class, finish_reason, reasoning_source, think_closed, prompt_tokens,
               completion_tokens, reasoning_tokens, started_at, finished_at, latency_s
        FROM requests WHERE sample_id = ?""", [row_id])
    verdict = _one(con, """
        SELECT correct, reason, predicted, trace_hash, prompt_tokens, reasoning_tokens, answer_tokens,
               total_tokens, length, verify_ms FROM verdicts WHERE sample_id = ?""", [row_id])
    if verdict:  # the shard's column is computed the same way (select.py); a published row always fits one
        verdict["curriculum_bucket"] = bucket_for(verdict["length"])
    final = _one(con, "SELECT status, reason, duplicate_of FROM outcomes WHERE sample_id = ?", [row_id])
    # the one row of the problem id that was asked (its exact duplicates share the id); filtered here, since
    # a second condition in SQL would keep DuckDB from using the index on problem_id
    problem = next((p for p in records(con, """
        SELECT source, source_row, problem_id, problem, reference_answer, solution, status FROM problems
        WHERE problem_id = ?""", [placed["problem_id"]]) if p["status"] in ("ok", "no_reference")), None)
    duplicates = records(con, """
        SELECT source, source_row, problem_id, duplicate_similarity, kept_because FROM problems
        WHERE duplicate_of = ? AND status = 'duplicate' ORDER BY source, source_row""",
                       [f"{problem['source']}:{problem['source_row']}"]) if problem else []
    session = _one(con, "SELECT command, started_at, finished_at, code_version FROM sessions WHERE session_id = ?",
                   [request["session_id"]]) if request else None
    run = _one(con, "SELECT run_id, pipeline FROM runs LIMIT 1", [])
    if request:
        request["messages"] = json.loads(request["messages"])
        request["sampling"] = json.loads(request["sampling"])
        request["session"] = session
    return dict(id=row_id, run=run, location=dict(shard=placed["shard"], row_index=placed["row_index"]),
                problem=problem, duplicates_dropped=duplicates, request=request, verdict=verdict, final=final)


def _not_published(con: duckdb.DuckDBPyConnection, row_id: str):
    fate = _one(con, "SELECT status, reason, duplicate_of FROM outcomes WHERE sample_id = ?", [row_id])
    if fate is None:
        raise FactoryError(f"no published row or sample with id {row_id!r} in this run; ids are the shards' `id` "
                           "column (e.g. `factory audit RUN_DIR \"SELECT id FROM lineage LIMIT 5\"`)")
    if fate["status"] == "pending":
        raise FactoryError(f"row {row_id!r} is not published: that sample is pending ({fate['reason']}); "
                           "run `factory run` again on the directory to judge it")
    copy = f", a copy of published row {fate['duplicate_of']}" if fate["duplicate_of"] else ""
    raise FactoryError(f"row {row_id!r} is not published: that sample was rejected ({fate['reason']}{copy}); "
                       "see `factory audit RUN_DIR rejections`")


# the source of each asked problem: the row of its id that is not a duplicate
_SAMPLE_SOURCE = """
    WITH src AS (SELECT problem_id, min(source) AS source FROM problems WHERE status <> 'duplicate' GROUP BY ALL)
    SELECT o.sample_id, o.status, o.reason, coalesce(src.source, '?') AS source
    FROM outcomes o JOIN requests r USING (sample_id) LEFT JOIN src USING (problem_id)"""


def rejections(con: duckdb.DuckDBPyConnection) -> dict:
    """Every sample's final status and reason: counts and share of all samples, per source, and a few ids."""
    reasons = records(con, f"""
        WITH s AS ({_SAMPLE_SOURCE})
        SELECT status, reason, count(*) AS samples, round(count(*) / sum(count(*)) OVER (), 4) AS share,
               list(sample_id ORDER BY sample_id)[1:{EXAMPLES}] AS examples
        FROM s GROUP BY status, reason ORDER BY status = 'published' DESC, samples DESC, reason""")
    by_source = records(con, f"""
        WITH s AS ({_SAMPLE_SOURCE})
        SELECT source, status, reason, count(*) AS samples,
               round(count(*) / sum(count(*)) OVER (PARTITION BY source), 4) AS share
        FROM s GROUP BY source, status, reason ORDER BY source, status = 'published' DESC, samples DESC, reason""")
    total = sum(r["samples"] for r in reasons)
    rejected = sum(r["samples"] for r in reasons if r["status"] == "rejected")
    return dict(samples=total, rejected=rejected, reasons=reasons, by_source=by_source)


def cost(con: duckdb.DuckDBPyConnection) -> dict:
    """Per endpoint and in total: tokens, attempts, GPU hours, dollars, published rows and dollars per row."""
    endpoints = records(con, """
        WITH pub AS (SELECT r.endpoint, count(*) AS published FROM published p JOIN requests r USING (sample_id)
                     GROUP BY ALL)
        SELECT c.endpoint, c.samples, c.attempts, c.prompt_tokens, c.completion_tokens, c.reasoning_tokens,
               c.answer_tokens, round(c.gpu_hours, 4) AS gpu_hours, round(c.usd, 4) AS usd,
               coalesce(pub.published, 0) AS published,
               round(c.usd / nullif(pub.published, 0), 6) AS usd_per_published
        FROM endpoint_costs c LEFT JOIN pub USING (endpoint) ORDER BY c.endpoint""")
    published = con.execute("SELECT count(*) FROM published").fetchone()[0]
    lost = con.execute("SELECT coalesce(sum(lost_requests), 0) FROM sessions").fetchone()[0]
    total = {k: sum(e[k] for e in endpoints) for k in ("samples", "attempts", "prompt_tokens", "completion_tokens",
                                                        "reasoning_tokens", "answer_tokens")}
    usd = sum(e["usd"] for e in endpoints)
    total.update(gpu_hours=round(sum(e["gpu_hours"] for e in endpoints), 4), usd=round(usd, 4),
                 published=published, usd_per_published=round(usd / published, 6) if published else None,
                 lost_requests=int(lost))
    return dict(endpoints=endpoints, total=total)


def contamination(con: duckdb.DuckDBPyConnection) -> dict:
    """Every training problem that copies an eval-set problem: each match's benchmark, eval row, method, score."""
    matches = records(con, """
        SELECT c.source, c.source_row, p.problem_id, p.status, c.benchmark, c.eval_row, c.method,
               round(c.score, 4) AS score, p.problem
        FROM contaminated_by c LEFT JOIN problems p USING (source, source_row)
        ORDER BY c.source, c.source_row, c.score DESC, c.benchmark, c.eval_row""")
    problems = len({(m["source"], m["source_row"]) for m in matches})
    return dict(problems=problems, matches=matches)


def sessions(con: duckdb.DuckDBPyConnection) -> dict:
    """Each `factory run` on the directory: its command, when it ran, what it sent and lost, whether it ended."""
    rows = records(con, """
        WITH sent AS (SELECT session_id, count(*) AS requests, sum(attempts) AS attempts FROM requests GROUP BY ALL)
        SELECT s.session_id, s.command, s.started_at, s.finished_at, coalesce(sent.requests, 0) AS requests,
               coalesce(sent.attempts, 0) AS attempts, s.lost_requests, s.finished_at IS NOT NULL AS finished,
               s.code_version
        FROM sessions s LEFT JOIN sent USING (session_id) ORDER BY s.started_at, s.session_id""")
    return dict(sessions=rows)


QUESTIONS = {"lineage": lineage, "rejections": rejections, "cost": cost, "contamination": contamination,
             "sessions": sessions}
USAGE = {"lineage": "lineage ROW_ID"}


def ask(con: duckdb.DuckDBPyConnection, question: str, args: list[str]) -> dict:
    """The answer to `question` with its arguments; a wrong count of arguments is one line saying the usage."""
    fn = QUESTIONS[question]
    wanted = 1 if question in USAGE else 0
    if len(args) != wanted:
        usage = USAGE.get(question, question)
        raise FactoryError(f"`{question}` takes {wanted or 'no'} argument{'s' if wanted != 1 else ''}, got "
                           f"{len(args)} ({' '.join(args) or 'none'}); usage: factory audit RUN_DIR {usage}")
    try:
        return fn(con, *args)
    except (duckdb.CatalogException, duckdb.BinderException) as e:  # a table, or a column (verdicts.length), missing
        raise FactoryError(f"this provenance database lacks what `{question}` reads ({str(e).splitlines()[0]}); "
                           "rerun `factory run` on the run directory to rebuild it") from None
