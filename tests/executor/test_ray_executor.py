"""The Ray executor on a real local Ray: the teacher's workers against real HTTP teachers, and Ray's start."""

import sys
import time

import pytest
import ray
from ray import cloudpickle

from factory.config import RayConfig, SimulatedTeacherConfig
from factory.errors import ConfigError
from factory.executor import WorkerSpec
from factory.executor.ray_cluster import RayExecutor, cluster_address
from factory.simteacher import SimTeacher
from factory.teacher.asker import TRANSIT_SHARE
from factory.teacher.worker import teacher_workers

from support.teacher import ANSWERS, GOOD, Scripted, completion, error, settings, spec

# the workers and functions defined here travel to Ray's processes by value: they cannot import tests/
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def test_the_embedded_instance_unless_a_cluster_is_named(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert cluster_address(RayConfig()) == (None, "RAY_ADDRESS and ray.address unset")
    assert cluster_address(RayConfig(address="10.0.0.5:6379")) == ("10.0.0.5:6379", "ray.address")
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert cluster_address(RayConfig(address="10.0.0.5:6379")) == ("ray://head:10001", "RAY_ADDRESS")
    monkeypatch.setenv("RAY_ADDRESS", "local")
    assert cluster_address(RayConfig()) == (None, "RAY_ADDRESS=local")
    monkeypatch.setenv("RAY_ADDRESS", "")
    assert cluster_address(RayConfig()) == (None, "RAY_ADDRESS and ray.address unset")


@pytest.fixture(scope="module")
def executor():
    yield RayExecutor(RayConfig(num_workers=2))
    ray.shutdown()


def test_every_sample_once_within_the_cap_and_the_durability_window(executor):
    concurrency, n = 16, 300
    window = concurrency + 2 * int(concurrency // 2 * TRANSIT_SHARE)  # per worker: in flight + in transit
    journaled, started, calls = [], set(), []

    def on_chunks(chunks):
        new_started = {s for chunk in chunks for s in chunk.notices}
        assert not new_started & started, "a request was reported started twice"
        started.update(new_started)
        # nothing starts that would put more than the window at risk beyond what is on disk
        calls.append(len(started) - len(journaled))
        for chunk in chunks:
            journaled.extend(chunk.results)
        time.sleep(0.01)  # a slow journal: workers must wait for acks, not run ahead

    cfg = SimulatedTeacherConfig(latency_ms=20, rate_wrong=0, rate_truncated=0, rate_duplicate=0)
    with SimTeacher(cfg, ANSWERS) as sim:
        workers = teacher_workers(settings(sim.base_url), concurrency, executor.parallelism(concurrency))
        assert len(workers) == 2
        executor.stream(workers, [spec(i) for i in range(n)], on_chunks, max_batch=8)
        stats = sim.stats()
    ids = [r["sample_id"] for r in journaled]
    assert sorted(ids) == sorted(f"id{i}" for i in range(n))  # each once
    assert started == set(ids)
    assert {r["outcome"] for r in journaled} == {"complete"}
    assert stats["requests"] == n and stats["max_in_flight"] <= concurrency
    assert 0 < max(calls) <= window


def test_a_retry_after_told_to_one_worker_holds_every_worker(executor):
    count = [0]

    def reply(prompt, nth):
        count[0] += 1
        if count[0] == 40:  # one worker is told to wait 2 s
            return error(429, "slow down", headers={"Retry-After": "2"})
        return completion(GOOD)

    with Scripted(reply) as server:
        workers = teacher_workers(settings(server.base_url), 8, 2)
        executor.stream(workers, [spec(i) for i in range(300)], lambda chunks: None, max_batch=16)
        arrivals = [t for t, _ in server.seen]
    assert len(arrivals) == 301
    told_at = arrivals[39]
    # a moment for the news to reach the other worker through the driver; then nobody sends until it is over
    during = [t for t in arrivals if told_at + 0.5 <= t < told_at + 1.8]
    assert during == []
    # the run was not over before the hold: most of it came after, the told request's retry and all
    after = [t for t in arrivals if t >= told_at + 1.9]
    assert len(after) >= 200


class Failing:
    """A streaming worker whose stream raises one of the factory's own errors after one chunk."""

    def __init__(self, message):
        self.message = message

    def start(self):
        pass

    def submit(self, items):
        self.items = items

    def finish(self, total):
        pass

    async def results(self):
        from factory.executor import Chunk

        yield Chunk([1], [], 0.0)
        raise ConfigError(self.message)

    def ack(self, count):
        pass

    def hold(self, until):
        pass

    async def close(self):
        pass


def test_a_workers_own_error_arrives_unwrapped_after_what_it_sent(executor):
    got = []
    with pytest.raises(ConfigError) as err:
        executor.stream([WorkerSpec(Failing, ("bad key in worker",), 4)], list(range(3)),
                        lambda chunks: got.extend(r for c in chunks for r in c.results), max_batch=16)
    assert type(err.value) is ConfigError and str(err.value) == "bad key in worker"
    assert got == [1]


class Refusing(Failing):
    """A streaming worker that cannot take a batch: its stream would wait for results forever."""

    def submit(self, items):
        raise ConfigError(self.message)

    async def results(self):
        import asyncio

        await asyncio.Event().wait()
        yield  # pragma: no cover - never reached


def test_a_failing_call_the_driver_does_not_wait_on_still_surfaces(executor):
    with pytest.raises(ConfigError, match="no batches here"):
        executor.stream([WorkerSpec(Refusing, ("no batches here",), 4)], list(range(10)), lambda chunks: None,
                        max_batch=16)


def _square_all(values):
    return [v * v for v in values]


def test_map_runs_every_batch_as_a_task(executor):
    out = []
    executor.map(_square_all, [([1, 2],), ([3],), ([4, 5, 6],)], out.append, max_in_flight=2)
    assert sorted(map(tuple, out)) == [(1, 4), (9,), (16, 25, 36)]
