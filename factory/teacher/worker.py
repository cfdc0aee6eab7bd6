"""The teacher's streaming worker: one `Asker` behind the executor's `StreamWorker` interface.

The executor builds it where it runs (a Ray actor, or the driver in unit tests) and knows nothing of
what it asks; the split of the run's concurrency and rate budgets over the workers is decided here.
"""

from __future__ import annotations

import dataclasses

from factory.executor.base import Chunk, WorkerSpec
from factory.teacher.asker import Asker
from factory.teacher.client import AskSettings


class TeacherWorker:
    """One worker's share of the teacher traffic: its own SDK clients, in-flight cap and limits."""

    def __init__(self, settings: AskSettings, concurrency: int):
        # acked: a slot is freed when the driver says the result is journaled, not when it is handed over
        self.asker = Asker(settings, concurrency, acked=True)

    def start(self) -> None:
        self.asker.prepare()

    def submit(self, items: list[dict]) -> None:
        self.asker.submit(items)

    def finish(self, total: int) -> None:
        self.asker.finish(total)

    async def results(self):
        async for records, started in self.asker.results():
            yield Chunk(records, started, self.asker.paused_until())

    def ack(self, count: int) -> None:
        self.asker.ack(count)

    def hold(self, until: float, endpoint: str | None = None) -> None:
        self.asker.pause_until(until, endpoint)

    async def close(self) -> None:
        await self.asker.close()


def teacher_workers(settings: AskSettings, concurrency: int, workers: int) -> list[WorkerSpec]:
    """`workers` teacher workers sharing the global in-flight cap and rate budgets exactly.

    The cap is split so the first `concurrency % n` workers take one more; each worker gets its share
    of the requests- and tokens-per-minute budgets.
    """
    n = max(1, min(workers, concurrency))
    shares = [concurrency // n + (i < concurrency % n) for i in range(n)]
    settings = dataclasses.replace(settings, rpm=settings.rpm and settings.rpm / n,
                                   tpm=settings.tpm and settings.tpm / n)
    return [WorkerSpec(TeacherWorker, (settings, share), capacity=share) for share in shares]
