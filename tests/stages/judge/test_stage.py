"""The judge stage on the in-process executor: every reply in the journal gets one verdict under the
judging rules, a re-asked reply is judged again, changed rules judge everything afresh; no Ray."""

import pyarrow as pa

from factory.config import load_pipeline
from factory.executor import InProcessExecutor
from factory.stages.judge.stage import judge, judge_key, read_verdicts
from factory.store.journal import Journal
from factory.store.records import PROBLEM_SCHEMA

from support import runs
from support.cli import DEMO

SESSION, LATER = "20260101T000000-aaaaaa", "20260101T000100-bbbbbb"


def journal(run_dir, session, records):
    j = Journal(run_dir, session)
    j.append(records)
    j.close()


def setup(run_dir):
    cfg = load_pipeline(DEMO)
    problems = pa.Table.from_pylist([runs.problem(runs.P_ADD, "5", row="0"),
                                     runs.problem(runs.P_FRAC, "\\frac{5}{6}", row="1")], schema=PROBLEM_SCHEMA)
    cut = runs.sample(runs.P_FRAC, 1, outcome="truncated_reasoning", reasoning="Common denominator",
                      answer="")
    cut.update(finish_reason="length", think_closed=False)
    records = [runs.sample(runs.P_ADD, 0, reasoning="2 plus 3 is 5.", answer="The answer is $\\boxed{5}$."),
               runs.sample(runs.P_ADD, 1, reasoning="2 plus 3 is 6?", answer="So \\boxed{6}."),
               runs.sample(runs.P_FRAC, 0, reasoning="3/6 + 2/6", answer="$\\boxed{\\dfrac{5}{6}}$"),
               cut, runs.sample(runs.P_FRAC, 2, outcome="failed")]
    journal(run_dir, SESSION, records)
    return cfg, problems, records


def test_every_reply_gets_one_verdict_with_its_token_counts(tmp_path):
    cfg, problems, records = setup(tmp_path)
    assert judge(cfg, problems, tmp_path, SESSION, InProcessExecutor()) == 4  # the failed request has no reply
    verdicts = {v["sample_id"]: v for v in read_verdicts(tmp_path, judge_key(cfg)).to_pylist()}
    got = {sid: (v["correct"], v["reason"], v["predicted"]) for sid, v in verdicts.items()}
    assert got == {records[0]["sample_id"]: (True, "correct", "5"),
                   records[1]["sample_id"]: (False, "wrong_answer", "6"),
                   records[2]["sample_id"]: (True, "correct", "\\dfrac{5}{6}"),
                   records[3]["sample_id"]: (False, "truncated", None)}
    for v in verdicts.values():
        assert v["prompt_tokens"] > 0 and v["total_tokens"] == \
            v["prompt_tokens"] + v["reasoning_tokens"] + v["answer_tokens"]
    assert judge(cfg, problems, tmp_path, SESSION, InProcessExecutor()) == 0  # nothing new: nothing judged


def test_a_re_asked_reply_is_judged_again_and_its_latest_verdict_counts(tmp_path):
    cfg, problems, records = setup(tmp_path)
    judge(cfg, problems, tmp_path, SESSION, InProcessExecutor())
    fixed = dict(records[1], session_id=LATER, reasoning="2 plus 3 is 5.", answer="\\boxed{5}")
    journal(tmp_path, LATER, [fixed])
    assert judge(cfg, problems, tmp_path, LATER, InProcessExecutor()) == 1
    verdicts = {v["sample_id"]: v for v in read_verdicts(tmp_path, judge_key(cfg)).to_pylist()}
    assert len(verdicts) == 4 and verdicts[fixed["sample_id"]]["reason"] == "correct"


def test_changed_rules_judge_everything_afresh_and_keep_the_old_verdicts_apart(tmp_path):
    cfg, problems, _ = setup(tmp_path)
    judge(cfg, problems, tmp_path, SESSION, InProcessExecutor())
    strict = cfg.model_copy(deep=True)
    strict.filters.require_boxed = True
    assert judge_key(strict) != judge_key(cfg)
    assert judge(strict, problems, tmp_path, LATER, InProcessExecutor()) == 4
    assert read_verdicts(tmp_path, judge_key(cfg)).num_rows == 4  # the old rules' verdicts stay as they were
    assert sorted((tmp_path / "verdicts").iterdir()) == sorted(tmp_path / "verdicts" / k
                                                               for k in (judge_key(cfg), judge_key(strict)))


def test_judging_twice_in_one_session_keeps_the_first_verdicts(tmp_path):
    # `teacher.until` judges once per round in the same session: later parts must not overwrite earlier ones
    cfg, problems, records = setup(tmp_path)
    judge(cfg, problems, tmp_path, SESSION, InProcessExecutor())
    more = runs.sample(runs.P_ADD, 2, session=SESSION, reasoning="5, again.", answer="\\boxed{5}")
    journal(tmp_path, SESSION, [more])
    assert judge(cfg, problems, tmp_path, SESSION, InProcessExecutor()) == 1
    verdicts = read_verdicts(tmp_path, judge_key(cfg))
    assert sorted(verdicts["sample_id"].to_pylist()) == sorted([r["sample_id"] for r in records[:4]] +
                                                                [more["sample_id"]])
    assert judge(cfg, problems, tmp_path, SESSION, InProcessExecutor()) == 0
