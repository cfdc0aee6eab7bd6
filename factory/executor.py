"""The Ray executor: runs stage work in batches on a local or remote Ray cluster.

Stages know nothing about Ray; this module knows nothing about what they compute. Teacher work goes
to async actors (each with its own HTTP client and in-flight cap) that stream results back in
chunks, so the driver can journal each result as soon as it arrives. Verify work goes to plain tasks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import ray

import factory
from factory.config import RayConfig
from factory.errors import FactoryError, TerminalError
from factory.progress import log
from factory.teacher.asker import Asker
from factory.teacher.client import AskSettings


def cluster_address(cfg: RayConfig) -> tuple[str | None, str]:
    """The cluster to join and who asked for it, or (None, why) for the embedded local instance."""
    if env := os.environ.get("RAY_ADDRESS"):
        return (None, "RAY_ADDRESS=local") if env == "local" else (env, "RAY_ADDRESS")
    if cfg.address and cfg.address != "local":
        return cfg.address, "ray.address"
    return None, "RAY_ADDRESS and ray.address unset"


def start_ray(cfg: RayConfig) -> None:
    """Join the cluster `RAY_ADDRESS` (or `ray.address`) names, else start an embedded local Ray (once)."""
    if ray.is_initialized():
        return
    address, origin = cluster_address(cfg)
    common = dict(logging_level=logging.WARNING, log_to_driver=False, configure_logging=True)
    if address:
        log(f"[ray] joining the cluster at {address} (from {origin})")
        # ship our package to the cluster's workers so they run the same code as the driver
        ray.init(address=address, runtime_env={"py_modules": [str(Path(factory.__file__).parent)]}, **common)
        where = f"cluster at {address} (from {origin})"
    else:
        # the embedded cluster lives on loopback for this run only; Ray's notice about its auth token
        # would print on every run and asks nothing of the user
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        # "local", never None: with no address Ray attaches to whatever cluster its temp dir records
        # (ray_current_cluster), so a `ray start` that died would hang the run and a live one be joined
        ray.init(address="local", include_dashboard=False, **common)
        where = f"embedded local instance ({origin})"
    log(f"[ray] {where}: {int(ray.cluster_resources().get('CPU', 0))} CPUs")


def worker_count(cfg: RayConfig) -> int:
    return cfg.num_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))


_ACTOR_START_S = 180.0
_MIN_BATCH = 16  # below this a Ray call per batch costs more than the balance it buys


@ray.remote(num_cpus=1)
class TeacherActor:
    """One worker's share of the teacher traffic."""

    def __init__(self, settings: AskSettings, concurrency: int):
        self.asker = Asker(settings, concurrency, acked=True)

    async def ready(self) -> bool:
        # build the HTTP client now, not on the first batch: with every worker racing for the CPU at
        # start, one worker's first wave would otherwise go out a few hundred ms after the other's
        self.asker.prepare()
        # what the imports made (Ray, the SDK) lives as long as the worker: frozen, it is no longer
        # walked by every full collection that the per-request garbage triggers
        gc.freeze()
        return True

    async def ack(self, count: int) -> None:
        self.asker.ack(count)

    async def submit(self, specs: list[dict]) -> None:
        self.asker.submit(specs)

    async def finish(self, total: int) -> None:
        self.asker.finish(total)

    async def results(self):
        async for records, started in self.asker.results():
            yield records, started, self.asker.paused_until()

    async def pause(self, until: float) -> None:
        self.asker.pause_until(until)

    async def close(self) -> None:
        await self.asker.close()


def next_batch_size(left: int, room: int, batch_size: int, workers: int) -> int:
    """How many of the `left` samples to send the least loaded worker, which has `room`; 0 means wait.

    Full batches while much is left; near the end a share of what is left (half of an even split),
    so the last samples spread over the workers instead of landing on one.
    """
    smallest = min(batch_size, _MIN_BATCH, left)
    share = -(-left // (2 * workers))
    size = min(batch_size, room, left, max(smallest, share))
    return size if size >= smallest else 0


async def _drive(actors, per_actor: int, specs: Sequence[dict], on_chunks: Callable[..., None],
                 batch_size: int) -> None:
    # Work goes out by count of samples, not of batches: each worker holds at most its window plus
    # one batch of samples not yet back, and a batch goes to the worker with the fewest. Near the end
    # batches shrink (a share of what is left), so the workers run dry together instead of one
    # draining a whole batch for a second or more while the other's slots stand empty.
    ceiling = per_actor + batch_size
    outstanding = dict.fromkeys(actors, 0)
    given = dict.fromkeys(actors, 0)
    told = [0.0]  # the latest pause handed to every worker (wall-clock time)
    wake = asyncio.Event()
    errors: list[BaseException] = []
    arrived: asyncio.Queue = asyncio.Queue()

    async def consume(actor):
        try:
            # backpressure: the actor's yield waits until the driver has taken earlier chunks
            stream = actor.results.options(num_returns="streaming", _generator_backpressure_num_objects=2)
            async for ref in stream.remote():
                records, started, paused_until = await ref
                if paused_until > told[0]:
                    # the server told one worker to wait (Retry-After, an exhausted quota): it means the
                    # client, so every worker holds its new requests as long
                    told[0] = paused_until
                    for other in actors:
                        if other is not actor:
                            other.pause.remote(paused_until)
                if not records and not started:
                    continue
                outstanding[actor] -= len(records)
                wake.set()
                arrived.put_nowait((actor, records, started))
        except BaseException as e:  # surfaced after the loop; the journal keeps what arrived
            errors.append(e)
            wake.set()

    running: set[asyncio.Task] = set()

    async def commit():
        try:
            await _commit()
        except BaseException as e:  # the journal cannot take more: stop asking, surface the error
            errors.append(e)
            for task in list(running):
                task.cancel()
            wake.set()  # the dispatch loop may be waiting for room

    async def _commit():
        # group commit: whatever arrived meanwhile is made durable together, with one fsync
        finished = False
        while not finished:
            items = [await arrived.get()]
            while not arrived.empty():
                items.append(arrived.get_nowait())
            finished = items[-1] is None  # the end marker is always the last thing put
            items = [i for i in items if i is not None]
            if not items:
                continue
            on_chunks([(records, started) for _, records, started in items])
            # only now, with the results on disk, may each worker start that many new requests
            # (one call per worker and commit: a Ray call costs more CPU than a few results)
            acks: dict = {}
            for actor, records, _ in items:
                acks[actor] = acks.get(actor, 0) + len(records)
            for actor, count in acks.items():
                if count:  # a chunk of started notices alone frees no slot
                    actor.ack.remote(count)

    committer = asyncio.create_task(commit())
    # one result stream per worker for the whole run; batches go in by plain calls
    for actor in actors:
        task = asyncio.create_task(consume(actor))
        running.add(task)
        task.add_done_callback(running.discard)

    sent = 0
    while sent < len(specs) and not errors:
        actor = min(actors, key=outstanding.__getitem__)
        size = next_batch_size(len(specs) - sent, ceiling - outstanding[actor], batch_size, len(actors))
        if not size:  # every worker is full: wait for results
            wake.clear()
            await wake.wait()
            continue
        batch = specs[sent:sent + size]
        sent += len(batch)
        outstanding[actor] += len(batch)
        given[actor] += len(batch)
        actor.submit.remote(batch)  # a worker that fails surfaces through its result stream
    for actor in actors:
        actor.finish.remote(given[actor])
    if running:
        await asyncio.gather(*running, return_exceptions=True)
    if not errors and any(outstanding.values()):  # cannot happen unless a worker loses work: say so
        errors.append(RuntimeError(f"teacher workers returned {sum(outstanding.values())} results fewer than "
                                   "they were given; the journal keeps what arrived, run again to ask the rest"))
    arrived.put_nowait(None)
    await committer
    if errors:
        error = errors[0]
        cause = getattr(error, "cause", None)
        # our own errors travel as Ray's wrapper; unwrapped, they keep their type and one-line message
        if isinstance(cause, FactoryError):
            raise cause from None
        raise error


def run_teacher(settings: AskSettings, concurrency: int, specs: Sequence[dict],
                on_chunks: Callable[[list[tuple[list[dict], list[str]]]], None], cfg: RayConfig,
                max_batch: int) -> None:
    """Ask every spec through Ray actors, in batches.

    `on_chunks([(records, started_ids), ...])` is called on the driver with the chunks workers
    streamed back since its last call; when it returns they must be durable (they are then acked).
    """
    start_ray(cfg)
    n = max(1, min(worker_count(cfg), concurrency))
    # the global cap split exactly: the first `concurrency % n` workers take one more
    shares = [concurrency // n + (i < concurrency % n) for i in range(n)]
    per_actor = shares[0]
    # batches of about half a worker's window: a worker never waits on the driver between batches
    batch_size = max(_MIN_BATCH, min(max_batch, per_actor // 2))
    # each worker gets its share of the global budgets
    settings = dataclasses.replace(settings, rpm=settings.rpm and settings.rpm / n,
                                   tpm=settings.tpm and settings.tpm / n)
    actors = [TeacherActor.options(max_concurrency=10_000).remote(settings, share) for share in shares]
    try:
        try:  # all start together, not one second apart
            ray.get([a.ready.remote() for a in actors], timeout=_ACTOR_START_S)
        except ray.exceptions.GetTimeoutError:
            raise TerminalError(f"{n} teacher workers did not start within {_ACTOR_START_S:.0f}s (each needs a "
                                "free CPU); lower ray.num_workers or add nodes to the cluster") from None
        asyncio.run(_drive(actors, per_actor, specs, on_chunks, batch_size))
    finally:
        try:
            ray.get([a.close.remote() for a in actors], timeout=10)
        except Exception:  # an actor that died has nothing left to close
            pass
        for actor in actors:
            ray.kill(actor)


@ray.remote(num_cpus=1)
def _remote(fn, *args):
    return fn(*args)


def map_batches(fn: Callable[..., pa.Table], batches: Iterable[tuple], on_result: Callable[[pa.Table], None],
                cfg: RayConfig, max_in_flight: int | None = None) -> None:
    """Run `fn(*batch)` as Ray tasks, at most `max_in_flight` at once, handing results over in completion order."""
    start_ray(cfg)
    limit = max_in_flight or 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
    pending: list = []
    for args in batches:
        pending.append(_remote.remote(fn, *args))
        if len(pending) >= limit:
            done, pending = ray.wait(pending, num_returns=1)
            on_result(ray.get(done[0]))
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        on_result(ray.get(done[0]))
