"""Majority-vote labels for problems without a reference: grouping by the verifier's equivalence, the judge
stage's two passes and their resumption, what publish makes of them, and a whole run with the simulated teacher."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from factory.config import PublishConfig, load_pipeline
from factory.executor import InProcessExecutor
from factory.stages.judge.stage import judge, judge_key, read_verdicts
from factory.stages.judge.vote import majority, vote_batch
from factory.stages.publish.stage import publish
from factory.store.journal import Journal
from factory.store.records import PROBLEM_SCHEMA, SAMPLE_SCHEMA

from support import runs as fx
from support.cli import DEMO

HALF = "What is one half written some way?"
SPLIT = "Name any integer from 1 to 4."


def test_equivalent_answers_vote_together_whatever_their_form():
    assert majority(["3", "0.5", "\\frac{1}{2}", "1/2"], 5.0) == ("0.5", 3)  # each spelled once: the shortest
    assert majority(["\\frac{1}{2}", "1/2", "0.5", "\\frac{1}{2}"], 5.0) == ("\\frac{1}{2}", 4)
    assert majority(["2", "1", "1", "2"], 5.0) == (None, 2)  # a tie is no majority
    assert majority(["\\frac{", "\\frac{", "x"], 5.0) == ("\\frac{", 2)  # unparseable answers still count


def test_below_min_agreement_there_is_no_label_but_the_share_is_kept():
    rows = vote_batch([("a", ["1", "2", "3", "1"]), ("b", ["5", "5.0", "4"]), ("c", ["1", "2"])], 0.5,
                      5.0).to_pylist()
    assert rows == [dict(problem_id="a", label="1", agreement=0.5, voters=4),
                    dict(problem_id="b", label="5", agreement=2 / 3, voters=3),
                    dict(problem_id="c", label=None, agreement=0.5, voters=2)]
    assert vote_batch([("a", ["1", "2", "3", "1"])], 0.6, 5.0)["label"].to_pylist() == [None]


def config():
    cfg = load_pipeline(DEMO)
    cfg.verify.majority_vote.enabled = True
    return cfg


def journal(run_dir, session, records):
    j = Journal(run_dir, session)
    j.append(records)
    j.close()


def reply(text: str, index: int, answer: str) -> dict:
    return fx.sample(text, index, reasoning=f"Working it out, attempt {index}, carefully.",
                     answer=f"So the answer is $\\boxed{{{answer}}}$.")


PROBLEMS = pa.Table.from_pylist([fx.problem(fx.P_ADD, "5", row="0"),
                                 fx.problem(HALF, None, status="no_reference", row="1"),
                                 fx.problem(SPLIT, None, status="no_reference", row="2")], schema=PROBLEM_SCHEMA)
FIRST = [reply(fx.P_ADD, 0, "5"), reply(HALF, 0, "0.5"), reply(HALF, 1, "\\frac{1}{2}"), reply(HALF, 2, "1/2"),
         reply(HALF, 3, "3"), *(reply(SPLIT, i, str(i + 1)) for i in range(4))]


def outcomes(run_dir, cfg, samples) -> tuple[dict, list[dict]]:
    result = publish(run_dir, run_id="run-1", pipeline="demo", tokenizer=cfg.tokenizer.name, problems=PROBLEMS,
                     samples=pa.Table.from_pylist(samples, schema=SAMPLE_SCHEMA),
                     verdicts=read_verdicts(run_dir, judge_key(cfg)), cfg=PublishConfig())
    ids = {s["sample_id"]: (s["problem_id"], s["sample_index"]) for s in samples}
    fates = {ids[r["sample_id"]]: r["reason"] for r in result.outcomes.to_pylist()}
    return fates, pq.read_table(run_dir / "data").to_pylist()


def test_samples_are_judged_against_the_majority_and_rows_say_so(tmp_path):
    cfg, ex = config(), InProcessExecutor(workers=1)
    journal(tmp_path, "20260101T000000-aaaaaa", FIRST)
    assert judge(cfg, PROBLEMS, tmp_path, "20260101T000000-aaaaaa", ex) == 9 + 8  # 8 voters judged again
    fates, rows = outcomes(tmp_path, cfg, FIRST)
    half, split = fx.pid(HALF), fx.pid(SPLIT)
    assert [fates[half, i] for i in range(4)] == ["correct", "correct", "correct", "wrong_answer"]
    assert [fates[split, i] for i in range(4)] == ["no_majority"] * 4
    by_problem = {r["problem_id"]: r for r in rows}
    assert by_problem[half]["label_source"] == "majority" and by_problem[half]["label_agreement"] == 0.75
    assert by_problem[half]["reference_answer"] == "0.5"
    assert by_problem[half]["pass_rate"] == 0.75
    assert by_problem[fx.pid(fx.P_ADD)]["label_source"] == "reference"
    assert by_problem[fx.pid(fx.P_ADD)]["label_agreement"] is None
    assert split not in by_problem
    # nothing changed: a second session judges nothing
    assert judge(cfg, PROBLEMS, tmp_path, "20260101T000100-bbbbbb", ex) == 0


def test_new_samples_vote_again_and_only_changed_labels_are_judged_again(tmp_path):
    cfg, ex = config(), InProcessExecutor(workers=1)
    journal(tmp_path, "20260101T000000-aaaaaa", FIRST)
    judge(cfg, PROBLEMS, tmp_path, "20260101T000000-aaaaaa", ex)
    more = [reply(SPLIT, 4, "1"), reply(SPLIT, 5, "1.0")]  # now 3 of 6 say 1: a majority at min_agreement 0.5
    journal(tmp_path, "20260101T000100-bbbbbb", more)
    assert judge(cfg, PROBLEMS, tmp_path, "20260101T000100-bbbbbb", ex) == 2 + 6  # HALF's label did not change
    fates, rows = outcomes(tmp_path, cfg, FIRST + more)
    split = fx.pid(SPLIT)
    assert [fates[split, i] for i in range(6)] == ["correct", "wrong_answer", "wrong_answer", "wrong_answer",
                                                   "correct", "correct"]
    assert {(r["reference_answer"], r["label_agreement"]) for r in rows if r["problem_id"] == split} == {("1", 0.5)}


def test_a_run_asks_and_labels_problems_without_reference_only_under_the_option(tmp_path):
    from factory.executor import InProcessExecutor as Ex
    from factory.runner import Overrides, run_pipeline

    cfg = Overrides(concurrency=8).apply(load_pipeline(DEMO))
    cfg.sources = [s for s in cfg.sources if s.name == "demo-extra"]
    cfg.teacher.simulated = cfg.teacher.simulated.model_copy(update=dict(latency_ms=1, rate_429=0, rate_5xx=0))
    off = run_pipeline(cfg, tmp_path / "off", "factory run", executor=Ex(workers=1))
    cfg.verify.majority_vote.enabled = True
    on = run_pipeline(cfg, tmp_path / "on", "factory run", executor=Ex(workers=1))
    assert on["problems_no_reference"] == off["problems_no_reference"] > 0
    assert on["samples"] == off["samples"] + 4 * on["problems_no_reference"]
    rows = pq.read_table(tmp_path / "on" / "data").to_pylist()
    majority_rows = [r for r in rows if r["label_source"] == "majority"]
    assert majority_rows and all(r["label_agreement"] >= 0.5 for r in majority_rows)
    assert {r["label_source"] for r in pq.read_table(tmp_path / "off" / "data").to_pylist()} == {"reference"}
    # the labelled problems have their pass rate in problems.parquet, and their rows their lineage
    problems = pq.read_table(tmp_path / "on" / "problems.parquet").to_pylist()
    assert all(p["pass_rate"] is not None for p in problems if p["status"] == "no_reference")
    with duckdb.connect(str(tmp_path / "on" / "provenance.duckdb"), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM lineage").fetchall() == [(len(rows),)]
