"""The provenance database: every table filled from Arrow, joins that trace a row, no secrets on disk."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from factory.store.provenance import PROVENANCE_DB

from support import runs as fx

RUN, SESSIONS, build = fx.RUN, fx.SESSIONS, fx.provenance_run


@pytest.fixture
def db(tmp_path):
    path, result = build(tmp_path)
    con = duckdb.connect(str(path), read_only=True)
    yield con, tmp_path, result
    con.close()


def one(con, sql: str):
    return con.sql(sql).fetchall()[0][0]


def test_every_table_is_filled(db):
    con, _, _ = db
    counts = {t: one(con, f"SELECT count(*) FROM {t}")
              for t in ("runs", "sessions", "sources", "problems", "requests", "verdicts", "outcomes", "published",
                        "lineage")}
    assert counts == dict(runs=1, sessions=2, sources=3, problems=6, requests=12, verdicts=9, outcomes=12,
                          published=4, lineage=4)


def test_failed_requests_keep_their_error_and_its_class(db):
    con, _, _ = db
    rows = con.sql("SELECT outcome, error, error_class FROM requests WHERE error IS NOT NULL ORDER BY 1").fetchall()
    assert rows == [("failed", "HTTP 500 after 3 attempts", "5xx"), ("rejected", "HTTP 500 after 3 attempts", "4xx")]
    assert one(con, "SELECT count(*) FROM requests WHERE error IS NULL AND error_class IS NOT NULL") == 0


def test_primary_keys_are_declared(db):
    con, _, _ = db
    keys = dict(con.sql("SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                        "WHERE constraint_type = 'PRIMARY KEY'").fetchall())
    assert keys == {"runs": ["run_id"], "sessions": ["session_id"], "problems": ["source", "source_row"],
                    "requests": ["sample_id"], "verdicts": ["sample_id"], "outcomes": ["sample_id"],
                    "published": ["sample_id"], "endpoint_costs": ["endpoint"], "sources": ["name"],
                    "contaminated_by": ["source", "source_row", "benchmark", "eval_row"]}


def test_requests_keep_lineage_but_not_the_reply_text(db):
    con, _, _ = db
    query = "SELECT column_name FROM duckdb_columns() WHERE table_name = 'requests'"
    columns = [r[0] for r in con.sql(query).fetchall()]
    assert not {"reasoning", "answer"} & set(columns)
    sid = fx.sid(fx.pid(fx.P_FRAC), 0)
    messages, sampling, started, typ = con.sql(
        f"SELECT messages, sampling ->> 'top_p', started_at, typeof(started_at) FROM requests WHERE sample_id = '{sid}'"
    ).fetchall()[0]
    assert '"role":"system"' in messages.replace(" ", "") and sampling == "0.95" and typ == "TIMESTAMP"
    assert started == dt.datetime.fromtimestamp(fx.T0, dt.timezone.utc).replace(tzinfo=None)
    failed = fx.sid(fx.pid(fx.P_FRAC), 2)
    assert con.sql(f"SELECT outcome, error, attempts FROM requests WHERE sample_id = '{failed}'").fetchall() == [
        ("failed", "HTTP 500 after 3 attempts", 3)]


def test_run_and_session_times_are_utc(db):
    con, _, _ = db
    assert one(con, "SELECT created_at FROM runs") == dt.datetime(2026, 1, 1, 8, 0)
    assert con.sql("SELECT session_id, finished_at FROM sessions ORDER BY 1").fetchall() == [
        ("sess-1", dt.datetime(2026, 1, 1, 8, 40)), ("sess-2", None)]
    assert one(con, "SELECT config_json ->> '$.teacher.api_key_env' FROM runs") == "TEACHER_API_KEY"


def test_verdicts_and_outcomes_carry_the_final_fate(db):
    con, _, result = db
    assert sorted(con.sql("SELECT sample_id, status, reason, duplicate_of FROM outcomes").fetchall()) == \
        sorted(tuple(r.values()) for r in result.outcomes.to_pylist())
    dup = fx.sid(fx.pid(fx.P_ADD), 3)
    query = f"SELECT correct, reason, status, final_reason FROM verdicts WHERE sample_id = '{dup}'"
    assert con.sql(query).fetchall() == [(True, "correct", "rejected", "duplicate_trace")]
    copied = one(con, f"SELECT duplicate_of FROM outcomes WHERE sample_id = '{dup}'")
    assert one(con, f"SELECT status FROM outcomes WHERE sample_id = '{copied}'") == "published"


def test_every_published_row_joins_one_request_and_one_problem(db):
    con, _, _ = db
    fanout = con.sql("""
        SELECT pub.sample_id,
               (SELECT count(*) FROM requests r WHERE r.sample_id = pub.sample_id) AS n_requests,
               (SELECT count(*) FROM problems p WHERE p.problem_id = pub.problem_id AND p.status = 'ok') AS n_problems,
               (SELECT count(*) FROM verdicts v
                WHERE v.sample_id = pub.sample_id AND v.status = 'published') AS n_verdicts
        FROM published pub""").fetchall()
    assert len(fanout) == 4 and all(row[1:] == (1, 1, 1) for row in fanout)


def test_lineage_traces_each_shard_row(db):
    con, run_dir, _ = db
    # the auditor's query: shard rows joined to lineage on `id`, row position checked too
    rows = con.sql(f"""
        SELECT s.id, s.problem = l.problem, s.source_row = l.source_row, s.sample_index = l.sample_index,
               s.total_tokens = l.total_tokens, s.predicted_answer = l.predicted,
               replace(s.filename, '{run_dir}/', '') = l.shard AND s.file_row_number = l.row_index,
               l.verdict_reason, l.run_id
        FROM read_parquet('{run_dir}/data/*/*.parquet', filename = true, file_row_number = true) s
        JOIN lineage l ON l.id = s.id""").fetchall()
    assert len(rows) == 4
    assert all(r[1:7] == (True,) * 6 and r[7:] == ("correct", "run-1") for r in rows)
    # a row of the duplicated problem still resolves to the ok copy, not the duplicate
    add = fx.pid(fx.P_ADD)
    assert con.sql(f"SELECT source, source_row FROM lineage WHERE problem_id = '{add}'").fetchall() == [("demo", "0")]


def test_rewrite_replaces_the_database_and_leaves_no_temp_files(db):
    con, run_dir, _ = db
    con.close()
    build(run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["README.md", "data", "manifest.json", "problems.parquet",
                                                         PROVENANCE_DB]
    with duckdb.connect(str(run_dir / PROVENANCE_DB), read_only=True) as again:
        assert one(again, "SELECT count(*) FROM requests") == 12


def test_sources_carry_their_license_and_join_the_problems(db):
    con, _, _ = db
    rows = con.sql("SELECT name, role, kind, location, split, revision, commit, license, license_from, rows "
                   "FROM sources ORDER BY name").fetchall()
    assert rows == [("bench", "decontaminate", "hf", "/data/bench", "test", None, None, None, None, 30),
                    ("demo", "train", "jsonl", "/data/demo.jsonl", None, None, None, "mit", "pipeline", 5),
                    ("extra", "train", "hf", "owner/extra", "train", "v1", "c" * 40, "cc-by-4.0", "dataset", 1)]
    # the license of every published row, as an auditor asks it
    licenses = con.sql("SELECT DISTINCT s.license FROM lineage l JOIN sources s ON s.name = l.source").fetchall()
    assert licenses == [("mit",)]
    assert con.sql("SELECT count(*) FROM problems p ANTI JOIN sources s ON s.name = p.source").fetchall() == [(0,)]


def test_problems_keep_their_reference_solution(db):
    con, _, _ = db
    assert con.sql("SELECT source_row, solution FROM problems WHERE solution IS NOT NULL").fetchall() == [
        ("0", "2 + 3 = 5, so the answer is $\\boxed{5}$.")]
