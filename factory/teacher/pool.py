"""Several teacher endpoints as one: least-loaded choice, health tracking, drain and rejoin.

Each attempt asks the pool for an endpoint. The pool picks the healthy endpoint with the fewest
requests in flight per unit of weight. Consecutive transient failures (connection errors, 5xx,
timeouts) take an endpoint out of rotation for a cool-down that doubles while it keeps failing; the
retry of a failed attempt goes to another endpoint when one is ready, so a dead server's in-flight
work moves elsewhere. After the cool-down one probe is let through, and a success puts it back. The last
endpoint still in rotation is never ejected.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import openai

from factory.redact import public_endpoint

FAILURES_TO_EJECT = 3
COOLDOWN_S = 2.0
MAX_COOLDOWN_S = 60.0


@dataclass(frozen=True)
class EndpointSpec:
    """One server of the pool, as a worker needs it."""

    base_url: str
    api_key: str
    weight: float = 1.0


@dataclass
class Member:
    spec: EndpointSpec
    client: openai.AsyncOpenAI
    public_url: str
    in_flight: int = 0
    failures: int = 0
    down_until: float = 0.0
    cooldown_s: float = COOLDOWN_S
    probing: bool = False
    retired: bool = False  # refused us outright (bad key, wrong path): never asked again this session
    stats: dict = field(default_factory=lambda: {"ok": 0, "failed": 0, "ejected": 0})
    # absolute, so the SDK does not parse and merge the base URL again on every request
    chat_url: str = ""

    def __post_init__(self):
        self.chat_url = self.chat_url or f"{self.spec.base_url.rstrip('/')}/chat/completions"

    def available(self, now: float) -> bool:
        if self.retired:
            return False
        if self.failures < FAILURES_TO_EJECT:
            return True
        return now >= self.down_until and not self.probing  # half-open: one probe at a time


class EndpointPool:
    def __init__(self, specs: list[EndpointSpec], make_client):
        self.members = [Member(s, make_client(s), public_endpoint(s.base_url)) for s in specs]
        self._rng = random.Random()

    async def acquire(self, avoid: Member | None = None) -> Member:
        """The least-loaded healthy endpoint; waits while every endpoint is cooling down.

        `avoid`: the member the previous attempt failed on, passed over while another is ready. A
        server that just died holds nothing in flight any more, so by load alone it would get its
        own retries until it is ejected.
        """
        while True:
            now = time.monotonic()
            ready = [m for m in self.members if m.available(now)]
            if avoid is not None and len(ready) > 1 and avoid in ready:
                ready.remove(avoid)
            if not any(not m.retired for m in self.members):
                raise RuntimeError("every endpoint of the pool was retired")  # retire() keeps one
            if ready:
                best = min(ready, key=lambda m: ((m.in_flight + 1) / m.spec.weight, self._rng.random()))
                if best.failures >= FAILURES_TO_EJECT:
                    best.probing = True
                best.in_flight += 1
                return best
            await asyncio.sleep(max(0.05, min(m.down_until for m in self.members) - now))

    def retire(self, member: Member) -> bool:
        """Take a member that refuses every request out for good; False if it is the last one."""
        if not any(m is not member and not m.retired for m in self.members):
            return False
        member.retired = True
        return True

    def release(self, member: Member, healthy: bool) -> None:
        """Record how the attempt went; `healthy` is False only for failures that blame the server."""
        member.in_flight -= 1
        member.probing = False
        if healthy:
            member.failures, member.cooldown_s = 0, COOLDOWN_S
            member.stats["ok"] += 1
            return
        member.failures += 1
        member.stats["failed"] += 1
        now = time.monotonic()
        others_up = any(m is not member and not m.retired and m.failures < FAILURES_TO_EJECT for m in self.members)
        if not others_up:
            # the last endpoint in rotation stays in: ejecting it would only stall every retry, and the
            # retries' own backoff already spaces them out
            member.failures = min(member.failures, FAILURES_TO_EJECT - 1)
            return
        # eject on reaching the threshold, or again when the probe after a cool-down fails; stragglers
        # sent before the ejection that fail later must not stretch the cool-down
        if member.failures == FAILURES_TO_EJECT or (member.failures > FAILURES_TO_EJECT and now >= member.down_until):
            member.down_until = now + member.cooldown_s
            member.cooldown_s = min(member.cooldown_s * 2, MAX_COOLDOWN_S)
            member.stats["ejected"] += 1

    async def close(self) -> None:
        for member in self.members:
            await member.client.close()
