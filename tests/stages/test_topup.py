"""Which stored samples are asked again: only what a new budget or policy can change."""

import pytest

from factory.config import PipelineConfig
from factory.stages.generate import _budget

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
