"""A streaming worker whose control calls cannot fail silently.

`submit`, `finish`, `ack` and `hold` are calls the driver does not wait on. An exception in one of
them would otherwise be lost (on Ray in a result nobody reads, in process inside the dispatcher's own
loop), and the driver would wait for results that never come. Guarded, the first such failure ends
the worker's result stream with that exception: where the driver looks for a worker's errors.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator

from factory.executor.base import Chunk, StreamWorker


class Guarded:
    """Wraps one `StreamWorker` in the process that runs it."""

    def __init__(self, worker: StreamWorker):
        self.worker = worker
        self.error: BaseException | None = None
        self._failed: asyncio.Event | None = None
        self._pending: set[asyncio.Future] = set()

    def start(self) -> None:
        self._failed = asyncio.Event()  # made here: on the event loop the worker runs on
        self.worker.start()

    def call(self, method: str, *args) -> None:
        """Call a control method; a failure is kept for the result stream to raise."""
        try:
            result = getattr(self.worker, method)(*args)
        except Exception as e:
            self._fail(e)
            return
        if inspect.isawaitable(result):  # a worker may make a control method a coroutine
            future = asyncio.ensure_future(result)
            self._pending.add(future)
            future.add_done_callback(self._settled)

    def _settled(self, future: asyncio.Future) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            self._fail(future.exception())

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
            self._failed.set()

    async def results(self) -> AsyncIterator[Chunk]:
        """The worker's chunks until it ends, or until a control call failed (then that error)."""
        stream = self.worker.results().__aiter__()
        failed = asyncio.ensure_future(self._failed.wait())
        step: asyncio.Future | None = None
        try:
            while not self._failed.is_set():
                step = asyncio.ensure_future(stream.__anext__())
                await asyncio.wait({step, failed}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():  # a control call failed while the worker had nothing to hand over
                    step.cancel()
                    break
                try:
                    chunk = step.result()
                except StopAsyncIteration:
                    return
                yield chunk
            raise self.error
        finally:
            failed.cancel()
            if step is not None and not step.done():  # the stream was closed while a chunk was awaited
                step.cancel()

    def chunks(self) -> AsyncIterator[Chunk]:
        """`results()`, under the name the dispatcher reads a worker by (a guarded worker is its own handle
        in process)."""
        return self.results()

    async def close(self) -> None:
        for future in list(self._pending):
            future.cancel()
        await self.worker.close()
