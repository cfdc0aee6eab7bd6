"""The dispatch every executor shares, run by the in-process executor with a small real worker."""

import asyncio

import pytest

from factory.errors import ConfigError
from factory.executor import Chunk, InProcessExecutor, WorkerSpec
from factory.executor.dispatch import batch_size_for, next_batch_size


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


def test_batch_size_is_half_the_largest_capacity_within_bounds():
    assert batch_size_for([256, 256], max_batch=256) == 128
    assert batch_size_for([257, 256], max_batch=64) == 64
    assert batch_size_for([8], max_batch=256) == 16  # never below the floor


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


class Echo:
    """A StreamWorker that hands each item back after a moment, holding a slot per result until it is acked.

    `log` is shared with the test (the in-process executor builds workers in this process): it records
    what the workers were given, held and closed. Options, for the first worker only: `fail_after`
    raises once that many results are out; `lose` drops that many items and ends the stream without
    them, as a worker that lost work would; `hold_at` puts a hold on the chunk that carries that item.
    """

    def __init__(self, name, capacity, log, fail_after=None, lose=0, hold_at=None, broken=None, hold=123.0):
        self.name, self.capacity, self.log = name, capacity, log
        self.fail_after, self.lose, self.hold_at, self.broken = fail_after, lose, hold_at, broken
        self.hold_value = hold  # what the chunk carrying `hold_at` says: a time, or {key: time}
        self.total = None
        self.out = self.dropped = 0

    def start(self):
        self.queue = asyncio.Queue()
        self.slots = asyncio.Semaphore(self.capacity)
        self.unacked = 0
        self.tasks = set()

    def submit(self, items):
        if self.broken == "submit" and self.log["given"].get(self.name):
            raise ConfigError(f"{self.name} cannot take a second batch")
        self.log["given"][self.name] = self.log["given"].get(self.name, 0) + len(items)
        for item in items:
            task = asyncio.ensure_future(self._one(item))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _one(self, item):
        await self.slots.acquire()
        if self.dropped < self.lose:  # lost: never handed back
            self.dropped += 1
            self.slots.release()
            return
        self.unacked += 1
        self.log["max_unacked"] = max(self.log["max_unacked"], self.unacked)
        await asyncio.sleep(0.001)
        self.queue.put_nowait(item)

    def finish(self, total):
        self.total = total
        self.queue.put_nowait(None)

    async def results(self):
        while self.total is None or self.out < self.total - self.lose:
            events = [await self.queue.get()]
            await asyncio.sleep(0.002)
            while not self.queue.empty():
                events.append(self.queue.get_nowait())
            items = [e for e in events if e is not None]
            if not items:
                continue
            self.out += len(items)
            hold = self.hold_value if self.hold_at in items else 0.0
            yield Chunk(items, [f"{self.name}:{i}" for i in items], hold)
            if self.fail_after is not None and self.out >= self.fail_after:
                raise ConfigError(f"{self.name} broke")

    def ack(self, count):
        if self.broken == "ack":
            raise ConfigError(f"{self.name} cannot count")
        self.unacked -= count
        for _ in range(count):
            self.slots.release()

    def hold(self, until, *key):
        self.log["held"].append((self.name, until, *key))

    async def close(self):
        for task in self.tasks:
            task.cancel()
        self.log["closed"].append(self.name)


def _configured(options):
    class Configured(Echo):
        def __init__(self, name, capacity, log):
            super().__init__(name, capacity, log, **options)
    return Configured


def run(n, workers=2, capacity=8, max_batch=4, on_chunks=None, **options):
    """Stream range(n) through `workers` Echo workers; (results, notices, log, the error raised or None)."""
    log = {"given": {}, "held": [], "closed": [], "max_unacked": 0}
    specs = [WorkerSpec(_configured(options) if k == 0 else Echo, (f"w{k}", capacity, log), capacity)
             for k in range(workers)]
    got, notices = [], []

    def store(chunks):
        for chunk in chunks:
            got.extend(chunk.results)
            notices.extend(chunk.notices)

    try:
        InProcessExecutor(workers).stream(specs, list(range(n)), on_chunks or store, max_batch)
    except Exception as e:  # each test asserts on it
        return got, notices, log, e
    return got, notices, log, None


def test_every_item_once_and_no_worker_runs_ahead_of_what_is_acknowledged():
    got, notices, log, error = run(500)
    assert error is None
    assert sorted(got) == list(range(500))
    assert len(notices) == 500
    assert sum(log["given"].values()) == 500 and set(log["given"]) == {"w0", "w1"}
    assert 0 < log["max_unacked"] <= 8  # a slot per result until the driver acknowledged it
    assert sorted(log["closed"]) == ["w0", "w1"]


def test_a_slow_store_holds_the_workers_back():
    seen = []

    def slow(chunks):
        import time

        seen.extend(r for c in chunks for r in c.results)
        time.sleep(0.003)  # nothing is acknowledged while this runs

    _, _, log, error = run(200, on_chunks=slow)
    assert error is None and sorted(seen) == list(range(200))
    assert log["max_unacked"] <= 8


def test_a_worker_error_surfaces_after_what_came_before_it_is_committed():
    got, _, log, error = run(300, fail_after=20)
    assert isinstance(error, ConfigError) and str(error) == "w0 broke"
    assert len(got) >= 20  # what the broken worker sent before it broke was handed over
    assert sorted(log["closed"]) == ["w0", "w1"]


def test_a_store_that_fails_stops_the_run_with_its_error():
    def full(chunks):
        raise OSError("disk full")

    got, _, log, error = run(300, on_chunks=full)
    assert isinstance(error, OSError) and str(error) == "disk full"
    assert sorted(log["closed"]) == ["w0", "w1"]


def test_a_worker_that_loses_work_is_an_error_not_silence():
    _, _, _, error = run(100, lose=3)
    assert isinstance(error, RuntimeError) and "3 results fewer than they were given" in str(error)


@pytest.mark.parametrize("call", ["submit", "ack"])
def test_a_failing_control_call_ends_its_workers_stream_with_the_error_not_a_hang(call):
    got, _, log, error = run(300, broken=call)
    assert isinstance(error, ConfigError) and str(error).startswith("w0 cannot")
    assert sorted(log["closed"]) == ["w0", "w1"]


def test_a_hold_from_one_worker_is_handed_to_the_others():
    _, _, log, error = run(100, hold_at=5)
    assert error is None
    assert log["held"] == [("w1", 123.0)]  # once, and not back to the worker that was told


def test_a_hold_per_key_is_handed_on_per_key():
    # the teacher's workers hold per endpoint: one endpoint's Retry-After holds that endpoint everywhere
    _, _, log, error = run(100, hold_at=5, hold={"http://a/v1": 123.0, "http://b/v1": 0.0})
    assert error is None
    assert log["held"] == [("w1", 123.0, "http://a/v1")]


def test_parallelism_is_bounded_by_the_limit_and_the_workers():
    assert InProcessExecutor(4).parallelism(2) == 2
    assert InProcessExecutor(1).parallelism(64) == 1


def test_map_hands_every_result_over():
    out = []
    InProcessExecutor().map(lambda a, b: a * b, [(1, 2), (3, 4), (5, 6)], out.append)
    assert out == [2, 12, 30]


@pytest.mark.parametrize("n", [0, 1, 17])
def test_small_and_empty_runs_finish(n):
    got, _, _, error = run(n)
    assert error is None and sorted(got) == list(range(n))
