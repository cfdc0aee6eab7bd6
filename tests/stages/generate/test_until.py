"""`teacher.until`'s plan for the next round: from the journal and the accepted counts alone."""

import pyarrow as pa
import pytest

from factory.config import PipelineConfig
from factory.stages.generate.identity import sample_id
from factory.stages.generate.until import _target, plan_round, stored_indexes
from factory.store.journal import Journal
from factory.store.records import PROBLEM_SCHEMA

from support import runs
from support.teacher import settings

BASE = dict(name="t", sources=[{"name": "a", "kind": "jsonl", "path": "x.jsonl"}], tokenizer={"name": "t.json"})


def cfg(n=2, accepted=2, max_n=8):
    teacher = {"base_url": "http://x/v1", "model": "m", "n": n, "until": {"accepted": accepted, "max_n": max_n}}
    return PipelineConfig.model_validate(BASE | {"teacher": teacher})


def test_the_first_round_is_n_and_a_problem_with_enough_or_max_n_is_finished():
    assert _target(0, 0, 0, cfg(n=3), pooled=0.0) == 3
    assert _target(1, 1, 0, cfg(n=3), pooled=0.5) == 3  # a first round cut short is finished first
    assert _target(1, 1, 2, cfg(n=3), pooled=0.5) is None  # enough, even before the first round is whole
    assert _target(4, 4, 2, cfg(), pooled=0.1) is None
    assert _target(8, 8, 1, cfg(), pooled=0.9) is None  # max_n reached short of accepted
    assert _target(8, 7, 1, cfg(), pooled=0.9) == 8  # ... but a hole a crash left below it is asked again


@pytest.mark.parametrize(("width", "accepted", "pooled", "expected"), [
    (2, 1, 0.75, 4),  # own 1/2 shrunk toward 0.75 -> 0.625: 1 missing / 0.625 -> 2 more
    (2, 0, 0.75, 8),  # 0 of 2 -> 0.375: 2 missing / 0.375 -> 6 more, up to max_n
    (4, 1, 1.0, 6),  # (1 + 2) / 6 = 0.5: 2 more
    (2, 1, 1.0, 4),  # (1 + 2) / 4 = 0.75: 1 / 0.75 -> 2 more
    (7, 0, 0.0, 8),  # nothing accepted anywhere: the rest, not a division by zero
])
def test_later_rounds_ask_the_missing_traces_over_the_expected_acceptance_rate(width, accepted, pooled, expected):
    assert _target(width, width, accepted, cfg(), pooled) == expected


def test_at_least_one_more_sample_is_asked_of_a_short_problem():
    assert _target(2, 2, 1, cfg(accepted=2, max_n=8), pooled=1.0) >= 3


def _journal(tmp_path, s, problem_text, indexes):
    pid = runs.pid(problem_text)
    records = [dict(runs.sample(problem_text, i), sample_id=sample_id(pid, i, s.model, s.prompt_template_hash,
                                                                      s.sampling)) for i in indexes]
    j = Journal(tmp_path, "20260101T000000-aaaaaa")
    j.append(records)
    j.close()


def test_the_plan_reads_stored_indexes_holes_included_from_the_journal(tmp_path):
    s = settings("http://x/v1")
    problems = pa.Table.from_pylist([runs.problem(runs.P_ADD, "5", row="0"), runs.problem(runs.P_FRAC, "x", row="1"),
                                     runs.problem(runs.P_EVAL, "2", row="2"), runs.problem(runs.P_NOREF, "", row="4"),
                                     runs.problem(runs.P_LONG, "5050", row="3", status="contaminated")],
                                    schema=PROBLEM_SCHEMA)
    _journal(tmp_path, s, runs.P_ADD, [0, 1])
    _journal(tmp_path, s, runs.P_FRAC, [0, 1, 2, 3, 4, 5, 7])  # index 6 lost in a crash: a hole below 8
    _journal(tmp_path, s, runs.P_NOREF, range(8))
    ids = [runs.pid(p) for p in (runs.P_ADD, runs.P_FRAC, runs.P_EVAL, runs.P_NOREF)]
    assert stored_indexes(ids, s, tmp_path, 8) == dict(zip(ids, [(2, 2), (8, 7), (0, 0), (8, 8)], strict=True))
    plan = plan_round(cfg(), problems, s, tmp_path, {ids[0]: 2, ids[1]: 1})
    # P_ADD has enough, P_FRAC asks its hole again, P_EVAL was never asked, P_NOREF reached max_n; the
    # contaminated problem is not asked
    assert (plan.counts, plan.done, plan.capped, plan.stored, plan.new) == ({ids[1]: 8, ids[2]: 2}, 1, 1, 17, 3)
    # a `no_reference` problem is asked only under a majority vote (its samples are accepted against the label)
    noref = problems.set_column(problems.schema.get_field_index("status"), "status",
                                pa.array(["ok", "ok", "ok", "no_reference", "contaminated"]))
    plan = plan_round(cfg(), noref, s, tmp_path, {ids[0]: 2, ids[1]: 1})
    assert (plan.capped, plan.stored) == (0, 9)
    voting = PipelineConfig.model_validate(cfg().model_dump() | {"verify": {"majority_vote": {"enabled": True}}})
    plan = plan_round(voting, noref, s, tmp_path, {ids[0]: 2, ids[1]: 1})
    assert (plan.counts, plan.done, plan.capped, plan.stored, plan.new) == ({ids[1]: 8, ids[2]: 2}, 1, 1, 17, 3)
