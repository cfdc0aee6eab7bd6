"""The executor's interface: what a stage hands it, and what a streaming worker must offer.

Nothing here knows what the work computes. A `StreamWorker` is any class with the methods below; the
executor builds it inside the process that runs it (a Ray actor, or the driver itself) from a
`WorkerSpec`, so its clients and event-loop state are made where they are used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol


class Chunk(NamedTuple):
    """What a worker streams back at once."""

    results: list  # finished items; each holds one of the worker's slots until it is acknowledged
    notices: list  # side records that free nothing (e.g. ids of work just started), kept with the results
    # wall-clock time this worker was told to start nothing new before (0: none); or, per thing held (the
    # teacher's: an endpoint), {key: time}, handed on as hold(time, key)
    hold_until: float | dict[str, float] = 0.0


class StreamWorker(Protocol):
    """A long-lived worker that takes items in batches and streams results back in chunks.

    Flow control is the driver's: it hands a worker at most `capacity` items plus one batch beyond what
    has come back, and acknowledges results (`ack`) only once it has made them durable. A worker that
    keeps a slot per unacknowledged result therefore never runs ahead of what the driver has stored.
    """

    def start(self) -> None:
        """Build clients and state on the worker's event loop, before the first batch."""

    def submit(self, items: list) -> None:
        """Start working on `items` (plain, picklable values)."""

    def finish(self, total: int) -> None:
        """`results()` ends once `total` results have come out (calls may arrive out of order)."""

    def results(self) -> AsyncIterator[Chunk]:
        """One stream for the whole run, of every batch's results in completion order."""

    def ack(self, count: int) -> None:
        """The driver made `count` more results durable."""

    def hold(self, until: float, key: str | None = None) -> None:
        """Start nothing new (for `key`, when the hold named one) before wall-clock time `until`: another
        worker was told to wait."""

    async def close(self) -> None:
        """Release clients and connections."""


@dataclass(frozen=True)
class WorkerSpec:
    """How to build one streaming worker: `cls(*args)`, in the process that runs it."""

    cls: type
    args: tuple
    capacity: int  # items it works on at once; the driver keeps it at most one batch beyond that


OnChunks = Callable[[list[Chunk]], None]


class Executor(Protocol):
    """Where stage work runs. `RayExecutor` and `InProcessExecutor` implement it alike."""

    def parallelism(self, limit: int) -> int:
        """How many streaming workers to start, at most `limit`."""

    def stream(self, workers: list[WorkerSpec], items: Sequence, on_chunks: OnChunks, max_batch: int) -> None:
        """Hand every item to the workers and stream their results back until all are acknowledged.

        `on_chunks(chunks)` is called on the driver with what arrived since its last call; once it
        returns, those results must be durable (they are then acknowledged). Raises the first error
        a worker or `on_chunks` raised, after handing over what arrived before it.
        """

    def share(self, value: Any) -> Any:
        """A value many `map` tasks take, sent to the workers once (on a cluster: put in Ray's object store).

        Pass what this returns as a top-level argument of `map`'s function, where the value would go; the
        function receives the value itself. This is how files only the driver can read (a local
        `tokenizer.json`) reach workers on other nodes, which share no filesystem with the driver.
        """

    def map(self, fn: Callable[..., Any], batches: Iterable[tuple], on_result: Callable[[Any], None],
            max_in_flight: int | None = None) -> None:
        """Run `fn(*batch)` for every batch, handing each result to `on_result` in completion order."""
