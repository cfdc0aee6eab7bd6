"""Ask batches of samples concurrently on one event loop, streaming results as they complete.

This is what runs inside a teacher worker (`worker.TeacherWorker`, built by an executor in a Ray actor
or on the driver's own event loop). It knows nothing about Ray: it takes plain dicts and yields plain dicts.
Batches are submitted while earlier ones run; they share the worker's in-flight cap, its window of
results not yet made durable, and one result stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import openai

from factory.teacher.client import AskSettings, ask_one
from factory.teacher.limits import Adaptive, Limits
from factory.teacher.pool import EndpointPool, EndpointSpec
from factory.teacher.sdk import aiohttp_client

_CHUNK_WAIT_S = 0.1  # let results pile up so each yield carries several (see results())
# Results on their way to the journal, beyond the in-flight cap. Without any, a wave of answers
# arriving together empties the window until the driver has journaled them; with it, new requests
# start at once. It is also what a crash can cost on top of the requests in flight.
TRANSIT_SHARE = 0.25


class Asker:
    """Owns one SDK client and the in-flight cap of one worker."""

    def __init__(self, settings: AskSettings, concurrency: int, acked: bool = False):
        """`acked`: slots are freed by `ack()` (the driver saying "journaled") instead of on yield."""
        self.settings = settings
        self.concurrency = concurrency
        self.acked = acked
        self._sem: asyncio.Semaphore | None = None  # results not yet made durable (in flight + in transit)
        self._in_flight: asyncio.Semaphore | None = None
        self._done: asyncio.Queue | None = None  # started notices, records and errors, for results()
        self._tasks: set[asyncio.Task] = set()
        self._submitted = self._yielded = 0  # samples
        self._expected: int | None = None  # set by finish(): how many results the stream ends after
        self._streaming = False
        self.pool: EndpointPool | None = None
        self.limits: Limits | None = None

    def _client(self, spec: EndpointSpec) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=spec.base_url, api_key=spec.api_key or "unused", max_retries=0,
                                  timeout=self.settings.timeout_s, http_client=aiohttp_client(self.concurrency + 32))

    def prepare(self) -> None:
        """Create the clients and limits ahead of the first batch (on the loop that will use them)."""
        self._ensure()

    def _ensure(self) -> tuple[EndpointPool, Limits, asyncio.Semaphore]:
        if self.pool is None:  # created lazily so they bind to the running loop
            s = self.settings
            self._sem = asyncio.Semaphore(self.concurrency + int(self.concurrency * TRANSIT_SHARE))
            self._in_flight = asyncio.Semaphore(self.concurrency)
            self._done = asyncio.Queue()
            self.pool = EndpointPool(list(s.endpoints), self._client, max_rate_limited_s=s.max_rate_limited_s)
            adaptive = Adaptive(s.adaptive_start, self.concurrency) if s.adaptive else None
            # until the first answers come back only estimates are charged: assume the whole budget
            self.limits = Limits(s.rpm, s.tpm, adaptive, expected_completion=s.sampling.get("max_tokens") or 1024)
            # a new pause wakes the result stream, which hands it on even with no results to carry
            self.pool.on_pause = lambda: self._done.put_nowait(None)
        return self.pool, self.limits, self._sem

    def submit(self, specs: list[dict]) -> None:
        """Start asking `specs`; their results come out of `results()`, in completion order.

        At most `concurrency` requests are in flight. A request also holds a durability slot until
        its result has been handed over (yielded), or, with `acked`, until the consumer confirms it
        journaled it; there are `concurrency * (1 + TRANSIT_SHARE)` of those. If the consumer dies,
        no new request starts once they are used up, so what is paid for but never journaled stays
        within that window.
        """
        pool, limits, sem = self._ensure()
        in_flight, done = self._in_flight, self._done

        async def one(spec: dict) -> None:
            await sem.acquire()
            try:
                async with in_flight:
                    done.put_nowait(spec["sample_id"])  # a started notice: about to be paid for
                    record = await ask_one(pool, limits, self.settings, spec)
                done.put_nowait(record)
            except asyncio.CancelledError:  # the stream was closed: give the slot back for a later one
                sem.release()
                raise
            except Exception as e:  # handed to the stream, which raises it to the caller
                sem.release()
                done.put_nowait(e)

        for spec in specs:
            task = asyncio.create_task(one(spec))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._submitted += len(specs)

    def finish(self, total: int | None = None) -> None:
        """`results()` ends once `total` results (default: all submitted so far) have come out.

        Ray does not keep the order of calls whose arguments it must fetch first, so a worker may
        be told to finish before its last batch arrives: the driver passes the count it sent.
        """
        self._ensure()
        self._expected = self._submitted if total is None else total
        self._done.put_nowait(None)  # wakes a stream that waits with nothing pending

    async def results(self) -> AsyncIterator[tuple[list[dict], list[str]]]:
        """Yield (finished records, ids of requests started) until `finish()` and its count are out.

        One stream per worker, whatever the number of batches: each yield is a call across Ray,
        which costs far more CPU than the few results it carries, so results from every batch
        are gathered into one chunk per `_CHUNK_WAIT_S`.
        """
        self._ensure()
        if self._streaming:  # two readers would split the results, and the first to stop would cancel all
            raise RuntimeError("results() is already being read; one stream per Asker")
        self._streaming = True
        done = self._done
        told: dict[str, float] = {}  # endpoint -> the pause last handed on
        try:
            while self._expected is None or self._yielded < self._expected:
                events = [await done.get()]
                await asyncio.sleep(_CHUNK_WAIT_S)
                while not done.empty():
                    events.append(done.get_nowait())
                error = next((e for e in events if isinstance(e, Exception)), None)
                records = [e for e in events if isinstance(e, dict)]
                started = [e for e in events if isinstance(e, str)]
                paused = self.paused_until()
                news = any(until > told.get(url, 0.0) for url, until in paused.items())
                if records or started or news:
                    # what came with an error is handed over first: it was paid for and must be journaled
                    told.update(paused)
                    self._yielded += len(records)
                    yield records, started
                    if not self.acked:
                        self.ack(len(records))
                if error is not None:
                    raise error
        finally:
            for task in list(self._tasks):
                task.cancel()
            # a stream closed early leaves its samples unanswered: the next batch starts from a clean count
            self._submitted = self._yielded = 0
            self._expected = None
            self._done = asyncio.Queue()
            self._streaming = False

    async def ask_batch(self, specs: list[dict]) -> AsyncIterator[tuple[list[dict], list[str]]]:
        """`submit(specs)`, `finish()` and `results()` in one: for a caller with a single batch."""
        self.submit(specs)
        self.finish()
        async for chunk in self.results():
            yield chunk

    def paused_until(self) -> dict[str, float]:
        """The pauses servers stated to this worker (a Retry-After, an exhausted quota): endpoint -> wall clock."""
        return self.pool.paused() if self.pool else {}

    def pause_until(self, until: float, endpoint: str | None = None) -> None:
        """Hold new requests to `endpoint` (a public URL; None: every endpoint) until wall-clock `until`:
        another worker was told to wait by that server."""
        self._ensure()
        self.pool.hold(until, endpoint)

    def ack(self, count: int) -> None:
        """Free the slots of `count` results the consumer has made durable."""
        for _ in range(count):
            self._sem.release()

    def health(self) -> list[dict]:
        """Per endpoint: public URL, in flight, retired, attempts ok/failed, times ejected, 429s met, and
        the learned spacing between requests (s) and requests per cycle (None while none is learned)."""
        if self.pool is None:
            return []
        return [dict(endpoint=m.public_url, in_flight=m.in_flight, retired=m.retired, **m.stats, **m.pace.describe())
                for m in self.pool.members]

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
