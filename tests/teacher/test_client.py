"""The teacher client against the real simulated teacher over loopback HTTP."""

import asyncio

import pytest

from factory.config import SimulatedTeacherConfig
from factory.errors import TeacherUnreachable
from factory.redact import public_endpoint, redact_argv
from factory.simteacher import SimTeacher
from factory.teacher.asker import Asker
from factory.teacher.client import AskSettings
from factory.teacher.endpoint import Endpoint, preflight

from support.teacher import ANSWERS, settings, spec


def ask_all(cfg, n, **kw):
    async def go():
        with SimTeacher(cfg, ANSWERS) as sim:
            asker = Asker(settings(sim.base_url, **kw), concurrency=8)
            out = [r async for records, _ in asker.ask_batch([spec(i) for i in range(n)]) for r in records]
            await asker.close()
            return out, sim.stats()
    return asyncio.run(go())


def test_complete_samples_capture_reasoning_and_usage():
    records, stats = ask_all(SimulatedTeacherConfig(latency_ms=0, rate_wrong=0, rate_truncated=0,
                                                    rate_equivalent=0, rate_duplicate=0), 6)
    assert sorted(r["sample_id"] for r in records) == [f"id{i}" for i in range(6)]
    for r in records:
        assert r["outcome"] == "complete" and r["attempts"] == 1
        assert r["reasoning_source"] == "think_tags" and r["reasoning"] and "\\boxed{5}" in r["answer"]
        assert r["completion_tokens"] > 0 and r["endpoint"].startswith("http://127.0.0.1:")
    assert stats["completions"] == 6


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_in_a_separate_field(field):
    records, _ = ask_all(SimulatedTeacherConfig(latency_ms=0, reasoning_field=field, rate_truncated=0), 2)
    assert len(records) == 2
    assert all(r["reasoning_source"] == field and r["reasoning"] for r in records)


def test_transient_faults_are_retried_until_they_pass():
    cfg = SimulatedTeacherConfig(latency_ms=0, rate_429=0.15, rate_5xx=0.15, rate_malformed=0.1,
                                 retry_after_s=0.01, seed=3)
    records, stats = ask_all(cfg, 12, max_attempts=12)
    assert sorted(r["sample_id"] for r in records) == sorted(f"id{i}" for i in range(12))
    assert all(r["outcome"] in ("complete", "truncated_reasoning") for r in records)
    assert sum(r["attempts"] for r in records) == stats["requests"] > 12


def test_timeouts_are_retried_and_then_recorded_as_failed():
    cfg = SimulatedTeacherConfig(latency_ms=0, rate_timeout=1.0, hang_s=5)
    records, stats = ask_all(cfg, 2, max_attempts=2, timeout_s=0.3)
    assert [r["outcome"] for r in records] == ["failed", "failed"]
    assert all(r["attempts"] == 2 and "Timeout" in r["error"] for r in records)


def test_token_budget_truncation_is_tagged():
    records, _ = ask_all(SimulatedTeacherConfig(latency_ms=0, rate_truncated=0, mean_reasoning_tokens=400), 3,
                         max_tokens=20)
    assert len(records) == 3
    assert all(r["outcome"] == "truncated_reasoning" and r["finish_reason"] == "length" for r in records)
    assert all(not r["think_closed"] for r in records)


def test_endpoint_is_recorded_without_credentials():
    assert public_endpoint("https://user:secret@host:8443/v1?key=abc") == "https://host:8443/v1"
    assert redact_argv(["run", "--teacher-url", "http://h/v1?key=abc", "--teacher-url=http://u:p@h/v1"]) == \
        ["run", "--teacher-url", "http://h/v1", "--teacher-url=http://h/v1"]


def test_preflight():
    with SimTeacher(SimulatedTeacherConfig(), {}) as sim:
        preflight(Endpoint(sim.base_url, "m", ""))
    with pytest.raises(TeacherUnreachable, match="unreachable"):
        preflight(Endpoint("http://127.0.0.1:9/v1", "m", ""), timeout_s=2)


def test_each_sample_gets_its_own_seed():
    from factory.teacher.client import sampling_for

    seeded = AskSettings(**{**settings("http://x/v1").__dict__, "sampling": {"seed": 7, "max_tokens": 5}})
    assert [sampling_for(seeded, {"sample_index": i})["seed"] for i in range(3)] == [7, 8, 9]
    assert "seed" not in sampling_for(settings("http://x/v1"), {"sample_index": 2})
    assert sampling_for(seeded, {"sample_index": 0, "max_tokens": 99})["max_tokens"] == 99


def test_replies_of_the_wrong_shape_are_malformed_not_crashes():
    from factory.teacher.client import MalformedResponse, check_shape

    def reply(message, **choice):
        return {"choices": [{"message": message, **choice}]}

    for bad in ({"choices": []}, [], {"choices": "x"}, reply(None), reply({"content": "x", "reasoning_content": ["a"]}),
                reply({"content": 5}), reply({"content": "x"}, finish_reason=3)):
        with pytest.raises(MalformedResponse):
            check_shape(bad)
    assert check_shape(reply({"content": "fine", "reasoning": "ok"}))["reasoning"] == "ok"


def test_truncation_class_follows_where_the_cut_fell():
    from factory.teacher.client import _outcome
    from factory.teacher.reasoning import split_reasoning

    assert _outcome("length", split_reasoning("", reasoning_content="half a thought")) == "truncated_reasoning"
    assert _outcome("length", split_reasoning("<think>t</think> The answer is")) == "truncated_answer"
    assert _outcome("length", split_reasoning("<think>cut here")) == "truncated_reasoning"
    assert _outcome("content_filter", split_reasoning("x")) == "filtered"


def test_a_failed_re_ask_never_replaces_a_kept_reply():
    from factory.store.journal import supersedes

    assert not supersedes("failed", "truncated_answer") and not supersedes("rejected", "complete")
    assert supersedes("complete", "truncated_reasoning") and supersedes("complete", "failed")
    assert supersedes("failed", None) and supersedes("failed", "failed")
