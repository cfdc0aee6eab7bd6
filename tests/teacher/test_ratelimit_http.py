"""Rate limits over real loopback HTTP: the simulated teacher as a naive proxy (a fixed window, 429 with no
Retry-After) or answering 429 with Retry-After, and the real client (Asker, pool, pace) against it."""

import asyncio
from collections import Counter

import pytest

from factory.config import SimulatedTeacherConfig
from factory.simteacher import SimTeacher
from factory.teacher.asker import Asker

from support.teacher import ANSWERS, GOOD, Scripted, completion, error, settings, spec

CLEAN = dict(latency_ms=20, rate_wrong=0, rate_truncated=0, rate_duplicate=0)


def run_asker(s, specs, concurrency=64):
    async def go():
        asker = Asker(s, concurrency)
        try:
            return [r async for records, _ in asker.ask_batch(specs) for r in records]
        finally:
            await asker.close()
    return asyncio.run(go())


def refusals(record):
    return Counter(record["attempt_classes"])["429"]


def test_the_issues_run_completes_every_sample_and_learns_the_proxys_rate():
    """The issue, scaled down in time: 8 samples through a proxy taking 3 requests per window (2 s here,
    a minute there) and refusing the rest with a bare 429, at the default max_attempts."""
    cfg = SimulatedTeacherConfig(**CLEAN, window_requests=3, window_s=2.0)
    with SimTeacher(cfg, ANSWERS) as sim:
        records = run_asker(settings(sim.base_url), [spec(i) for i in range(8)])
        stats = sim.stats()
    assert len(records) == 8 and all(r["outcome"] == "complete" for r in records)
    refused = stats["by_outcome"]["429"]
    assert sum(map(refusals, records)) == refused and sum(r["attempts"] for r in records) == stats["requests"]
    # The bound: the first burst sends all 8 at once and 5 are refused (no client can know the limit
    # before it). A refusal means that window's 3 were used, and only 8 are asked, so at most 2 windows
    # see refusals, each starting one block. A block's probes go 0.25, 0.5, 1, 2 s apart and the window
    # resets within 2 s, so at most 3 are refused per block; a block after the first costs one paced
    # request besides. 5 + 3 + (1 + 3) = 12, where retrying each sample on its own backoff spent every
    # sample's attempts (the issue: 2 of 8 failed).
    assert refused <= 12, refused


def test_429s_without_attempts_left_still_complete():
    """max_attempts 1: any 429 would have ended a sample as failed, if it counted as an attempt."""
    cfg = SimulatedTeacherConfig(**CLEAN, window_requests=3, window_s=2.0)
    with SimTeacher(cfg, ANSWERS) as sim:
        records = run_asker(settings(sim.base_url, max_attempts=1), [spec(i) for i in range(8)])
    assert len(records) == 8 and all(r["outcome"] == "complete" for r in records)
    # the window takes at most 6 of the first burst, even straddling two windows
    assert sum(refusals(r) > 0 for r in records) >= 2


@pytest.mark.parametrize("replies, outcome, requests", [
    (["429", "429", "429", "ok"], "complete", 4),  # three rate-limit waits, no attempt spent
    (["429", "500", "429", "ok"], "complete", 4),  # the 500 is attempt 1, the answer attempt 2
    (["500", "429", "500"], "failed", 3),  # two 500s are the two attempts; the 429 between is not one
], ids=["429s-only", "429-around-a-500", "two-500s"])
def test_rate_limit_waits_are_not_attempts_but_other_failures_are(replies, outcome, requests):
    def reply(prompt, nth):
        kind = replies[min(nth, len(replies) - 1)]
        return completion(GOOD) if kind == "ok" else error(int(kind), kind)  # 429s with no Retry-After

    with Scripted(reply) as server:
        (record,) = run_asker(settings(server.base_url, max_attempts=2), [spec(0)])
    assert record["outcome"] == outcome and record["attempts"] == requests == len(server.seen)
    assert record["attempt_classes"] == [{"429": "429", "500": "5xx"}[k] for k in replies if k != "ok"]


def test_a_429_with_retry_after_pauses_that_endpoint_while_the_other_serves():
    paused_cfg = SimulatedTeacherConfig(**CLEAN, rate_429=1.0, retry_after_s=1.0, record_times=True)
    serving_cfg = SimulatedTeacherConfig(**(CLEAN | {"latency_ms": 100}), record_times=True)
    with SimTeacher(paused_cfg, ANSWERS) as paused, SimTeacher(serving_cfg, ANSWERS) as serving:
        records = run_asker(settings([paused.base_url, serving.base_url]), [spec(i) for i in range(40)],
                            concurrency=4)
        refused, served = paused.stats(), serving.stats()
    assert len(records) == 40 and all(r["outcome"] == "complete" and r["endpoint"] == serving.base_url
                                      for r in records)
    arrived, answered = refused["arrived_at"], refused["answered_at"]
    assert refused["by_outcome"]["429"] == len(arrived) >= 1
    # every answer of the paused endpoint said "Retry-After: 1": no request reached it in the second after
    for said in answered:
        assert not [t for t in arrived if said < t < said + 0.9], (said, arrived)
    # ...while the other endpoint kept serving in that second
    first = min(answered)
    assert any(first < t < first + 0.9 for t in served["arrived_at"])


@pytest.mark.parametrize("hinted", [True, False], ids=["retry-after", "bare-429"])
def test_a_server_answering_only_429_ends_the_samples_after_the_bound(hinted):
    def endpoint():
        if hinted:  # the simulated teacher's 429s carry a Retry-After
            return SimTeacher(SimulatedTeacherConfig(**CLEAN, rate_429=1.0, retry_after_s=0.1), ANSWERS)
        return Scripted(lambda prompt, nth: error(429, "slow down"))

    with endpoint() as server:
        records = run_asker(settings(server.base_url, max_rate_limited_s=1.0), [spec(i) for i in range(4)])
    assert len(records) == 4 and all(r["outcome"] == "failed" and r["error_class"] == "429" for r in records)
    assert all("max_rate_limited_s" in r["error"] and "no endpoint accepted a request" in r["error"]
               for r in records)
