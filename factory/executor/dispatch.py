"""The driver's side of streaming work, shared by every executor: dispatch by count, group commit, acks.

Work goes out by count of items, not of batches: each worker holds at most its capacity plus one batch
of items not yet back, and a batch goes to the worker with the fewest. Near the end batches shrink (a
share of what is left), so the workers run dry together instead of one draining a whole batch for a
second or more while the others' slots stand empty. Whatever arrived while the last commit ran is made
durable together (one `on_chunks` call, which is one fsync in the teacher stage), then acknowledged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from factory.executor.base import Chunk, OnChunks

MIN_BATCH = 16  # below this a call per batch costs more than the balance it buys


class WorkerHandle(Protocol):
    """How the dispatcher reaches one worker, wherever it runs."""

    def call(self, method: str, *args) -> None:
        """Call a `StreamWorker` method without waiting for it (a failure surfaces through `chunks`)."""

    def chunks(self) -> AsyncIterator[Chunk]:
        """The worker's result stream, with backpressure: the worker waits while earlier chunks are unread."""


def batch_size_for(capacities: list[int], max_batch: int) -> int:
    """Batches of about half a worker's capacity: a worker never waits on the driver between batches."""
    return max(MIN_BATCH, min(max_batch, max(capacities) // 2))


def next_batch_size(left: int, room: int, batch_size: int, workers: int) -> int:
    """How many of the `left` items to send the least loaded worker, which has `room`; 0 means wait.

    Full batches while much is left; near the end a share of what is left (half of an even split),
    so the last items spread over the workers instead of landing on one.
    """
    smallest = min(batch_size, MIN_BATCH, left)
    share = -(-left // (2 * workers))
    size = min(batch_size, room, left, max(smallest, share))
    return size if size >= smallest else 0


class Dispatcher:
    """Streams `items` to workers and commits what comes back; one instance per `stream` call."""

    def __init__(self, workers: list[WorkerHandle], capacities: list[int], items: Sequence, on_chunks: OnChunks,
                 batch_size: int):
        self.workers = workers
        self.items = items
        self.on_chunks = on_chunks
        self.batch_size = batch_size
        # every worker may hold the largest capacity plus one batch (an uneven split differs by one item)
        self.ceiling = max(capacities) + batch_size
        self.outstanding = [0] * len(workers)  # given and not yet back, per worker
        self.given = [0] * len(workers)
        self.told: dict = {}  # key (None: the whole worker) -> the latest hold handed to every worker (wall clock)
        self.errors: list[BaseException] = []
        self._wake = asyncio.Event()  # results came back, or something failed
        self._arrived: asyncio.Queue = asyncio.Queue()  # (worker, chunk) pairs, then None at the end
        self._readers: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Dispatch everything, wait for every result to be committed, then raise the first error if any."""
        committer = asyncio.create_task(self._commit_loop())
        for k in range(len(self.workers)):  # one result stream per worker for the whole run
            task = asyncio.create_task(self._read(k))
            self._readers.add(task)
            task.add_done_callback(self._readers.discard)
        await self._dispatch()
        for k, worker in enumerate(self.workers):
            worker.call("finish", self.given[k])
        if self._readers:
            await asyncio.gather(*self._readers, return_exceptions=True)
        if not self.errors and any(self.outstanding):  # cannot happen unless a worker loses work: say so
            self.errors.append(RuntimeError(
                f"workers returned {sum(self.outstanding)} results fewer than they were given; what arrived is "
                "kept, run again to do the rest"))
        self._arrived.put_nowait(None)  # the end marker is always the last thing put
        await committer
        if self.errors:
            raise self.errors[0]

    async def _dispatch(self) -> None:
        sent, total = 0, len(self.items)
        while sent < total and not self.errors:
            k = min(range(len(self.workers)), key=self.outstanding.__getitem__)
            size = next_batch_size(total - sent, self.ceiling - self.outstanding[k], self.batch_size,
                                   len(self.workers))
            if not size:  # every worker is full: wait for results
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self.items[sent:sent + size]
            sent += len(batch)
            self.outstanding[k] += len(batch)
            self.given[k] += len(batch)
            self.workers[k].call("submit", batch)

    async def _read(self, k: int) -> None:
        try:
            async for chunk in self.workers[k].chunks():
                holds = chunk.hold_until if isinstance(chunk.hold_until, dict) else {None: chunk.hold_until}
                for key, until in holds.items():
                    if until > self.told.get(key, 0.0):
                        # one worker was told to wait (a Retry-After, an exhausted quota): that means the
                        # client, so every worker holds its new work (for that key) as long
                        self.told[key] = until
                        for j, other in enumerate(self.workers):
                            if j != k:
                                other.call("hold", *((until,) if key is None else (until, key)))
                if not chunk.results and not chunk.notices:
                    continue
                self.outstanding[k] -= len(chunk.results)
                self._wake.set()
                self._arrived.put_nowait((k, chunk))
        except BaseException as e:  # surfaced after the run; what arrived before it is still committed
            self.errors.append(e)
            self._wake.set()

    async def _commit_loop(self) -> None:
        try:
            finished = False
            while not finished:
                items = [await self._arrived.get()]
                while not self._arrived.empty():
                    items.append(self._arrived.get_nowait())
                finished = items[-1] is None
                items = [i for i in items if i is not None]
                if items:
                    self._commit(items)
        except BaseException as e:  # the store cannot take more: stop dispatching, surface the error
            self.errors.append(e)
            for task in list(self._readers):
                task.cancel()
            self._wake.set()  # the dispatch loop may be waiting for room

    def _commit(self, items: list[tuple[int, Chunk]]) -> None:
        self.on_chunks([chunk for _, chunk in items])
        # only now, with the results durable, may each worker start that many new items (one call per
        # worker and commit: a call across processes costs more CPU than a few results)
        acks = [0] * len(self.workers)
        for k, chunk in items:
            acks[k] += len(chunk.results)
        for k, count in enumerate(acks):
            if count:  # a chunk of notices alone frees no slot
                self.workers[k].call("ack", count)
