"""Which stored samples are asked again: only what a new budget or policy can change."""

import json

import pytest

from factory.config import PipelineConfig
from factory.stages.generate.specs import _budget

BASE = dict(name="t", sources=[{"name": "a", "kind": "jsonl", "path": "x.jsonl"}], tokenizer={"name": "t.json"})


def cfg(max_tokens=1000, **truncation):
    teacher = {"base_url": "http://x/v1", "model": "m", "sampling": {"max_tokens": max_tokens},
               "truncation": truncation}
    return PipelineConfig.model_validate(BASE | {"teacher": teacher})


@pytest.mark.parametrize("outcome", ["complete", "empty", "filtered", "rejected", "failed"])
def test_finished_samples_are_never_re_asked_for_budget(outcome):
    assert _budget(cfg(max_tokens=8000), outcome, 1000) is None


@pytest.mark.parametrize("outcome", ["truncated_reasoning", "truncated_answer"])
def test_a_raised_budget_re_asks_truncated_samples_with_it(outcome):
    assert _budget(cfg(max_tokens=8000), outcome, 1000) == 8000
    assert _budget(cfg(max_tokens=1000), outcome, 1000) is None  # same budget: same result, not re-paid


def test_reask_policy_gives_truncated_answers_one_larger_try_up_to_the_cap():
    policy = cfg(max_tokens=1000, reask=True, factor=3, max_tokens_cap=2500)
    assert _budget(policy, "truncated_answer", 1000) == 2500
    assert _budget(policy, "truncated_answer", 2500) is None  # already re-asked once
    assert _budget(policy, "truncated_reasoning", 1000) is None  # cut reasoning is not worth re-paying
    assert _budget(cfg(max_tokens=1000), "truncated_answer", 1000) is None  # policy off by default


def test_a_failed_policy_re_ask_is_not_repeated_but_a_raised_budget_still_asks():
    policy = dict(reask=True, factor=2.5, max_tokens_cap=4000)
    # cut at 1000, the re-ask at 2500 failed: the kept reply is still the one asked with 1000
    assert _budget(cfg(max_tokens=1000, **policy), "truncated_answer", 1000, tried=2500) is None
    assert _budget(cfg(max_tokens=2000, **policy), "truncated_answer", 1000, tried=2500) == 2000


def _settings(c):
    from factory.stages.generate.stage import settings_for
    from factory.teacher.endpoint import Endpoint

    return settings_for(c, [Endpoint("http://x/v1", "m", "k")], "s")


def test_missing_specs_holds_only_what_is_missing_and_builds_the_request_dicts_on_demand(tmp_path):
    import pyarrow as pa

    from factory.stages.generate.identity import render_messages, sample_id
    from factory.stages.generate.specs import missing_specs
    from factory.store.journal import Journal

    c = cfg(max_tokens=8000)
    c.teacher.n = 3
    s = _settings(c)
    sid = lambda pid, i: sample_id(pid, i, "m", s.prompt_template_hash, s.sampling)  # noqa: E731
    journal = Journal(tmp_path, "20260101T000000-aaaaaa")
    asked = lambda budget: json.dumps({"max_tokens": budget})  # noqa: E731 (as the client records it)
    journal.append([{"sample_id": sid("p1", 0), "outcome": "complete", "sampling": asked(1000)},
                    {"sample_id": sid("p1", 1), "outcome": "truncated_answer", "sampling": asked(1000)},
                    {"sample_id": sid("p2", 2), "outcome": "failed", "sampling": asked(8000)}])
    journal.close()
    problems = pa.table({"problem_id": ["p1", "p2", "p3"], "problem": ["one", "two", "three"],
                         "status": ["ok", "ok", "duplicate"]})

    specs, failed_kept = missing_specs(c, problems, s, tmp_path)
    assert failed_kept == 1  # p2's failed sample stays failed without --retry-failed
    expected = [("p1", 1, 8000), ("p1", 2, None), ("p2", 0, None), ("p2", 1, None)]  # p3 is not ok
    assert [(d["problem_id"], d["sample_index"], d.get("max_tokens")) for d in specs] == expected
    assert len(specs) == 4 and specs[-1] == specs[3] and specs[1:3] == [specs[1], specs[2]]
    assert specs[0]["sample_id"] == sid("p1", 1)
    assert specs[2]["messages"] == render_messages(c.teacher, "two")
    assert specs[2]["messages"] is specs[3]["messages"]  # one copy per problem
    with pytest.raises(IndexError):
        specs[4]
    assert len(missing_specs(c, problems, s, tmp_path, retry_failed=True)[0]) == 5
