"""`factory audit RUN_DIR QUESTION`: lineage, rejections, cost, contamination and sessions, as text and JSON."""

import json

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner

from factory.cli import main
from factory.config import PriceConfig, PublishConfig
from factory.errors import FactoryError
from factory.meter.cost import endpoint_costs
from factory.report.audit import answer, connect
from factory.report.questions import QUESTIONS, ask
from factory.stages.publish.stage import publish
from factory.store.provenance import write_provenance
from factory.store.records import CONTAMINATION_SCHEMA

from support import runs

ENDPOINT = "http://127.0.0.1:8000/v1"
MATCHES = [dict(source="demo", source_row="3", benchmark="bench", eval_row="12", method="ngram", score=0.95),
           dict(source="demo", source_row="3", benchmark="bench", eval_row="40", method="fuzzy", score=0.9)]


def _id(text, index):
    return runs.sid(runs.pid(text), index)


@pytest.fixture
def run_dir(tmp_path):
    """small_run() published, with eval-set matches, priced costs and a session that lost two requests."""
    problems, samples, verdicts = runs.small_run()
    result = publish(tmp_path, run_id="run-1", pipeline="demo", tokenizer="tok", problems=problems, samples=samples,
                     verdicts=verdicts, cfg=PublishConfig(), sources=runs.SOURCES)
    published = result.placements.num_rows
    costs = endpoint_costs(samples.to_pylist(), {ENDPOINT: PriceConfig(input_per_mtok=1.0, output_per_mtok=4.0)},
                           published)
    sessions = [runs.SESSIONS[0], runs.SESSIONS[1] | {"lost_requests": 2}]
    write_provenance(tmp_path, run=runs.RUN, sessions=sessions, problems=problems, samples=samples,
                     verdicts=verdicts, placements=result.placements, outcomes=result.outcomes, costs=costs,
                     sources=runs.SOURCES, contamination=pa.Table.from_pylist(MATCHES, schema=CONTAMINATION_SCHEMA))
    return tmp_path


def _ask(run_dir, question, *args):
    con = connect(run_dir)
    try:
        return ask(con, question, list(args))
    finally:
        con.close()


def test_lineage_tells_the_whole_story_of_a_published_row(run_dir):
    row_id = _id(runs.P_ADD, 1)
    a = _ask(run_dir, "lineage", row_id)
    shard_row = duckdb.sql(f"SELECT filename, id FROM read_parquet('{run_dir}/data/*/*.parquet', filename = true)")
    where = {i: f for f, i in shard_row.fetchall()}
    assert a["id"] == row_id and a["run"] == dict(run_id="run-1", pipeline="demo")
    assert where[row_id].endswith(a["location"]["shard"]) and a["location"]["shard"].startswith("data/8k/")
    index = pa.compute.index(pa.parquet.read_table(run_dir / a["location"]["shard"], columns=["id"])["id"], row_id)
    assert a["location"]["row_index"] == index.as_py()
    assert a["problem"] == dict(source="demo", source_row="0", problem_id=runs.pid(runs.P_ADD), problem=runs.P_ADD,
                                reference_answer="5", solution="2 + 3 = 5, so the answer is $\\boxed{5}$.",
                                status="ok")
    assert a["duplicates_dropped"] == [dict(source="extra", source_row="7", problem_id=runs.pid(runs.P_ADD),
                                            duplicate_similarity=None, kept_because=None)]
    r = a["request"]
    assert r["messages"] == [{"role": "user", "content": runs.TEMPLATE.format(problem=runs.P_ADD)}]
    assert r["sampling"] == json.loads(runs.SAMPLING) and r["endpoint"] == ENDPOINT and r["model"] == runs.MODEL
    assert (r["session_id"], r["sample_index"], r["attempts"], r["outcome"], r["error"]) == (
        "sess-1", 1, 1, "complete", None)
    assert r["session"]["command"] == "factory run pipelines/demo.yaml" and r["session"]["finished_at"]
    assert a["verdict"]["predicted"] == "5" and a["verdict"]["total_tokens"] == 300 and a["verdict"]["correct"]
    assert (a["verdict"]["length"], a["verdict"]["curriculum_bucket"]) == (300, 8192)
    assert a["final"] == dict(status="published", reason="correct", duplicate_of=None)

    text = answer(run_dir, "lineage", [row_id])
    for line in (f"row {row_id}  run run-1  pipeline demo", "    What is $2 + 3$?", "  reference  5",
                 "  duplicates dropped: 1", "    extra row 7", "  session    sess-1  `factory run pipelines/demo.yaml`",
                 "  final      published (correct)", "  correct    true  reason correct  predicted 5",
                 "  length     300  curriculum_bucket 8192"):
        assert any(t.startswith(line) for t in text.splitlines()), line


def test_lineage_shows_the_length_and_bucket_the_row_has_in_its_shard(run_dir):
    # P_FRAC's published rows are 9000 and 20000 tokens long: the 16k and 24k folders
    for index, bucket in ((0, 16384), (1, 24576)):
        a = _ask(run_dir, "lineage", _id(runs.P_FRAC, index))
        shard = pa.parquet.read_table(run_dir / a["location"]["shard"], columns=["length", "curriculum_bucket"])
        row = shard.slice(a["location"]["row_index"], 1).to_pylist()[0]
        assert (a["verdict"]["length"], a["verdict"]["curriculum_bucket"]) == (row["length"], row["curriculum_bucket"])
        assert row["curriculum_bucket"] == bucket and a["location"]["shard"].startswith(f"data/{bucket // 1024}k/")
        text = answer(run_dir, "lineage", [_id(runs.P_FRAC, index)])
        assert f"  length     {row['length']}  curriculum_bucket {bucket}  " in text


def test_a_provenance_database_without_the_length_column_is_one_line(run_dir):
    con = duckdb.connect(str(run_dir / "provenance.duckdb"))
    con.execute("DROP VIEW lineage")  # it reads v.length
    con.execute("ALTER TABLE verdicts DROP COLUMN length")  # a database written before lengths were measured
    con.close()
    with pytest.raises(FactoryError, match="lacks what `lineage` reads .*rerun `factory run`"):
        _ask(run_dir, "lineage", _id(runs.P_ADD, 1))


def test_lineage_of_a_row_with_a_system_prompt_shows_every_message(run_dir):
    a = _ask(run_dir, "lineage", _id(runs.P_FRAC, 0))
    assert [m["role"] for m in a["request"]["messages"]] == ["system", "user"]
    assert a["duplicates_dropped"] == [] and a["problem"]["solution"] is None


@pytest.mark.parametrize("text, index, says", [
    (runs.P_ADD, 0, "was rejected (wrong_answer)"),
    (runs.P_ADD, 3, "was rejected (duplicate_trace, a copy of published row " + _id(runs.P_ADD, 1) + ")"),
    (runs.P_FRAC, 3, "is pending (no_verdict)"),
    (runs.P_EVAL, 0, "was rejected (problem_contaminated)"),
])
def test_a_row_that_is_not_published_is_one_line_with_its_reason(run_dir, text, index, says):
    with pytest.raises(FactoryError) as err:
        _ask(run_dir, "lineage", _id(text, index))
    message = str(err.value)
    assert "\n" not in message and f"row {_id(text, index)!r} is not published: that sample {says}" in message


def test_an_unknown_id_and_a_missing_argument_are_one_line_each(run_dir):
    with pytest.raises(FactoryError, match="no published row or sample with id 'nope'"):
        _ask(run_dir, "lineage", "nope")
    with pytest.raises(FactoryError, match="usage: factory audit RUN_DIR lineage ROW_ID"):
        _ask(run_dir, "lineage")
    with pytest.raises(FactoryError, match="`cost` takes no arguments"):
        _ask(run_dir, "cost", "extra")


def test_rejections_count_every_sample_by_reason_with_shares_sources_and_examples(run_dir):
    a = _ask(run_dir, "rejections")
    assert (a["samples"], a["rejected"]) == (12, 7)
    by_reason = {(r["status"], r["reason"]): r for r in a["reasons"]}
    expected = {}
    for status, reason in runs.EXPECTED.values():
        expected[status, reason] = expected.get((status, reason), 0) + 1
    assert {k: r["samples"] for k, r in by_reason.items()} == expected
    assert a["reasons"][0]["reason"] == "correct"  # published first, then by count
    assert by_reason["published", "correct"]["share"] == round(4 / 12, 4)
    assert sum(r["share"] for r in a["reasons"]) == pytest.approx(1, abs=1e-3)
    assert by_reason["published", "correct"]["examples"] == sorted(  # the first 3 of the 4 ids, in order
        _id(t, i) for t, i in [(runs.P_ADD, 1), (runs.P_FRAC, 0), (runs.P_FRAC, 1), (runs.P_LONG, 0)])[:3]
    assert by_reason["rejected", "wrong_answer"]["examples"] == [_id(runs.P_ADD, 0)]
    # every sample's problem is in `demo` (the `extra` row is a dropped copy, never asked)
    assert {r["source"] for r in a["by_source"]} == {"demo"}
    assert sum(r["samples"] for r in a["by_source"]) == 12
    text = answer(run_dir, "rejections", [])
    assert text.startswith("12 samples, 7 rejected") and "wrong_answer" in text and "== per source" in text


def test_cost_per_endpoint_and_in_total(run_dir):
    a = _ask(run_dir, "cost")
    [e] = a["endpoints"]
    # 10 answered requests of 40 prompt and 300 completion tokens; the failed and rejected ones took 3 attempts
    assert (e["endpoint"], e["samples"], e["attempts"], e["prompt_tokens"], e["completion_tokens"]) == (
        ENDPOINT, 12, 16, 400, 3000)
    assert e["usd"] == round(400 * 1e-6 + 3000 * 4e-6, 4) and e["published"] == 4
    assert e["usd_per_published"] == round(e["usd"] / 4, 6)
    t = a["total"]
    assert (t["samples"], t["attempts"], t["published"], t["lost_requests"], t["usd"]) == (12, 16, 4, 2, e["usd"])
    assert t["usd_per_published"] == round(t["usd"] / 4, 6)
    assert "lost_requests=2" in answer(run_dir, "cost", [])


def test_contamination_lists_every_match_of_every_kept_out_problem(run_dir):
    a = _ask(run_dir, "contamination")
    assert a["problems"] == 1
    assert [(m["source_row"], m["benchmark"], m["eval_row"], m["method"], m["score"], m["status"])
            for m in a["matches"]] == [("3", "bench", "12", "ngram", 0.95, "contaminated"),
                                       ("3", "bench", "40", "fuzzy", 0.9, "contaminated")]
    assert a["matches"][0]["problem"] == runs.P_EVAL
    text = answer(run_dir, "contamination", [])
    assert text.splitlines()[0] == "1 training problems copy an eval-set problem (2 matches)"


def test_sessions_say_what_each_sent_lost_and_whether_it_finished(run_dir):
    rows = _ask(run_dir, "sessions")["sessions"]
    assert [(s["session_id"], s["requests"], s["attempts"], s["lost_requests"], s["finished"]) for s in rows] == [
        ("sess-1", 11, 13, 0, True), ("sess-2", 1, 3, 2, False)]
    assert rows[0]["command"] == "factory run pipelines/demo.yaml" and rows[0]["started_at"] == "2026-01-01T08:00:00"
    assert rows[1]["finished_at"] is None


def test_every_question_answers_in_json_through_the_cli(run_dir):
    cli = CliRunner()
    for question in QUESTIONS:
        args = [_id(runs.P_LONG, 0)] if question == "lineage" else []
        res = cli.invoke(main, ["audit", str(run_dir), question, *args, "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.output) == json.loads(json.dumps(_ask(run_dir, question, *args), default=str))
    assert json.loads(cli.invoke(main, ["audit", str(run_dir), "lineage", _id(runs.P_LONG, 0), "--json"]).output)[
        "problem"]["problem"] == runs.P_LONG  # non-ASCII kept as is


def test_sql_and_the_summary_keep_working_and_take_json_too(run_dir):
    cli = CliRunner()
    res = cli.invoke(main, ["audit", str(run_dir), "SELECT status, count(*) AS n FROM outcomes GROUP BY 1 ORDER BY 1"])
    assert res.exit_code == 0 and res.output.splitlines()[2:] == ["pending    1", "published  4", "rejected   7"]
    res = cli.invoke(main, ["audit", str(run_dir), "SELECT count(*) AS n FROM published", "--json"])
    assert json.loads(res.output) == [{"n": 4}]
    assert cli.invoke(main, ["audit", str(run_dir)]).output.startswith("== sources and licenses")
    summary = json.loads(cli.invoke(main, ["audit", str(run_dir), "--json"]).output)
    assert {"status": "published", "reason": "correct", "samples": 4} in summary["samples by final status and reason"]


def test_a_rejected_row_is_one_error_line_and_exit_1_through_the_cli(run_dir):
    res = CliRunner().invoke(main, ["audit", str(run_dir), "lineage", _id(runs.P_ADD, 0)])
    assert res.exit_code == 1 and res.output.count("\n") == 1
    assert res.output.startswith("error: row ") and "rejected (wrong_answer)" in res.output


def test_a_database_without_a_questions_table_says_so_in_one_line(run_dir):
    with duckdb.connect(str(run_dir / "provenance.duckdb")) as con:
        con.execute("DROP TABLE contaminated_by")
    with pytest.raises(FactoryError, match="lacks what `contamination` reads.*rerun `factory run`"):
        _ask(run_dir, "contamination")
