"""The `Executor` on the driver itself: the same workers and dispatch as on Ray, with no Ray.

Streaming workers run on one event loop in this process; mapped batches run one after another. Stage
unit tests use it, so they exercise a stage's real work and flow control without starting a cluster;
the end-to-end tests and the executor's own tests run on a real Ray.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from factory.executor.base import OnChunks, WorkerSpec
from factory.executor.dispatch import Dispatcher, batch_size_for
from factory.executor.guard import Guarded


class InProcessExecutor:
    """`workers`: how many streaming workers `parallelism` allows (each is an object on this event loop)."""

    def __init__(self, workers: int = 1):
        self.workers = workers

    def parallelism(self, limit: int) -> int:
        return max(1, min(limit, self.workers))

    def stream(self, workers: list[WorkerSpec], items: Sequence, on_chunks: OnChunks, max_batch: int) -> None:
        asyncio.run(self._stream(workers, items, on_chunks, max_batch))

    async def _stream(self, specs: list[WorkerSpec], items: Sequence, on_chunks: OnChunks, max_batch: int) -> None:
        workers: list[Guarded] = []
        try:
            for spec in specs:
                workers.append(Guarded(spec.cls(*spec.args)))
                workers[-1].start()
            capacities = [spec.capacity for spec in specs]
            await Dispatcher(workers, capacities, items, on_chunks,
                             batch_size_for(capacities, max_batch)).run()
        finally:
            for worker in workers:
                await worker.close()

    def share(self, value: Any) -> Any:
        return value  # one process: the value is already where the work runs

    def map(self, fn: Callable[..., Any], batches: Iterable[tuple], on_result: Callable[[Any], None],
            max_in_flight: int | None = None) -> None:
        for args in batches:
            on_result(fn(*args))
