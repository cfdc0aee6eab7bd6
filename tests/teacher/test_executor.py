"""The teacher path of the Ray executor: a real local Ray, the real simulated teacher over HTTP."""

import time

import pytest

from factory.config import RayConfig, SimulatedTeacherConfig
from factory.executor import next_batch_size, run_teacher
from factory.simteacher import SimTeacher
from factory.teacher.asker import TRANSIT_SHARE
from tests.teacher.test_client import ANSWERS, settings, spec


def test_full_batches_while_much_is_left():
    assert next_batch_size(left=10_000, room=384, batch_size=128, workers=2) == 128


def test_a_batch_never_overfills_a_worker():
    assert next_batch_size(left=10_000, room=50, batch_size=128, workers=2) == 50
    assert next_batch_size(left=10_000, room=10, batch_size=128, workers=2) == 0  # wait for results
    assert next_batch_size(left=10_000, room=0, batch_size=128, workers=2) == 0


def test_batches_shrink_near_the_end():
    assert next_batch_size(left=200, room=384, batch_size=128, workers=2) == 50
    assert next_batch_size(left=40, room=384, batch_size=128, workers=2) == 16
    assert next_batch_size(left=5, room=384, batch_size=128, workers=2) == 5


def test_the_last_samples_spread_over_the_workers():
    """Dispatch as the driver does, to workers that drain at the same pace: they run dry together."""
    outstanding, given, left = [0, 0], [0, 0], 3000
    while left:
        w = min((0, 1), key=outstanding.__getitem__)
        size = next_batch_size(left, 384 - outstanding[w], 128, 2)
        if size:
            outstanding[w] += size
            given[w] += size
            left -= size
        else:  # both full: each finishes 40
            outstanding = [max(0, o - 40) for o in outstanding]
    # with whole batches to the end, one worker could hold a batch (128) more than the other
    assert abs((given[0] - outstanding[0]) - (given[1] - outstanding[1])) <= 40
    assert abs(outstanding[0] - outstanding[1]) <= 16


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    yield RayConfig(num_workers=2)
    ray.shutdown()


def test_every_sample_once_within_the_cap_and_the_durability_window(local_ray):
    concurrency, n = 16, 300
    window = concurrency + 2 * int(concurrency // 2 * TRANSIT_SHARE)  # per worker: in flight + in transit
    journaled, started, calls = [], set(), []

    def on_chunks(chunks):
        new_started = {s for _, ids in chunks for s in ids}
        assert not new_started & started, "a request was reported started twice"
        started.update(new_started)
        # nothing starts that would put more than the window at risk beyond what is on disk
        calls.append(len(started) - len(journaled))
        for records, _ in chunks:
            journaled.extend(records)
        time.sleep(0.01)  # a slow journal: workers must wait for acks, not run ahead

    cfg = SimulatedTeacherConfig(latency_ms=20, rate_wrong=0, rate_truncated=0, rate_duplicate=0)
    with SimTeacher(cfg, ANSWERS) as sim:
        run_teacher(settings(sim.base_url), concurrency, [spec(i) for i in range(n)], on_chunks, local_ray,
                    max_batch=8)
        stats = sim.stats()
    ids = [r["sample_id"] for r in journaled]
    assert sorted(ids) == sorted(f"id{i}" for i in range(n))  # each once
    assert started == set(ids)
    assert {r["outcome"] for r in journaled} == {"complete"}
    assert stats["requests"] == n and stats["max_in_flight"] <= concurrency
    assert max(calls) <= window


def test_a_retry_after_told_to_one_worker_holds_every_worker(local_ray):
    from test_outcomes_http import Scripted, completion, error

    GOOD = "<think>2 plus 3 is 5.</think> The answer is \\boxed{5}."
    count = [0]

    def reply(prompt, nth):
        count[0] += 1
        if count[0] == 40:  # one worker is told to wait 2 s
            return error(429, "slow down", headers={"Retry-After": "2"})
        return completion(GOOD)

    with Scripted(reply) as server:
        run_teacher(settings(server.base_url), 8, [spec(i) for i in range(300)], lambda chunks: None, local_ray,
                    max_batch=16)
        arrivals = [t for t, _ in server.seen]
    told_at = arrivals[39]
    # a moment for the news to reach the other worker through the driver; then nobody sends until it is over
    during = [t for t in arrivals if told_at + 0.5 <= t < told_at + 1.8]
    assert during == [] and len(arrivals) == 301
    assert any(t >= told_at + 1.9 for t in arrivals)
