"""Several teacher endpoints as one: least-loaded choice, health tracking, drain and rejoin.

Each attempt asks the pool for an endpoint. The pool picks the healthy endpoint with the fewest
requests in flight per unit of weight. Consecutive transient failures (connection errors, 5xx,
timeouts) take an endpoint out of rotation for a cool-down that doubles while it keeps failing; the
retry of a failed attempt goes to another endpoint when one is ready, so a dead server's in-flight
work moves elsewhere. After the cool-down one probe is let through, and a success puts it back. The last
endpoint still in rotation is never ejected.

Rate limits are per endpoint too (`pace.EndpointPace`): a 429 or a Retry-After from one endpoint holds
back that endpoint only, and a learned pace spaces the requests to it; the others are chosen meanwhile.
When no endpoint may be sent to, a request waits for the first that may. Only when every endpoint is
rate limited and none has accepted a request for `max_rate_limited_s` does the wait end, in
`RateLimitStalled`.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass, field

import openai

from factory.redact import public_endpoint
from factory.teacher.pace import EndpointPace

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
    pace: EndpointPace = field(default_factory=EndpointPace)
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


class RateLimitStalled(Exception):
    """Every endpoint has been rate limited, with nothing accepted, for `max_rate_limited_s`."""


class EndpointPool:
    def __init__(self, specs: list[EndpointSpec], make_client, max_rate_limited_s: float = 3600.0):
        self.members = [Member(s, make_client(s), public_endpoint(s.base_url)) for s in specs]
        self.max_rate_limited_s = max_rate_limited_s
        self.on_pause = None  # told when a server states a pause, so it can be handed to other workers
        self._rng = random.Random()
        self._changed = asyncio.Event()  # set when a request ends: a probe's answer may free an endpoint
        self._waiting = 0  # requests waiting for an endpoint
        self._limited_since: float | None = None  # first rate limit since the pool last accepted a request

    async def acquire(self, avoid: Member | None = None) -> Member:
        """The least-loaded healthy endpoint that its rate limit lets go now; waits while there is none.

        `avoid`: the member the previous attempt failed on, passed over while another is ready. A
        server that just died holds nothing in flight any more, so by load alone it would get its
        own retries until it is ejected.

        Raises:
            RateLimitStalled: every endpoint is rate limited and none accepted a request for
                `max_rate_limited_s`.
        """
        self._waiting += 1
        try:
            while True:
                now = time.monotonic()
                if not any(not m.retired for m in self.members):
                    raise RuntimeError("every endpoint of the pool was retired")  # retire() keeps one
                healthy = [m for m in self.members if m.available(now)]
                ready = [m for m in healthy if m.pace.ready_at() <= now]
                if avoid is not None and len(ready) > 1 and avoid in ready:
                    ready.remove(avoid)
                if ready:
                    best = min(ready, key=lambda m: ((m.in_flight + 1) / m.spec.weight, self._rng.random()))
                    if best.failures >= FAILURES_TO_EJECT:
                        best.probing = True
                    best.in_flight += 1
                    best.pace.take(now)
                    return best
                cooling = [max(m.down_until, now + 0.05) for m in self.members if not m.retired and m not in healthy]
                wake = min([m.pace.ready_at() for m in healthy] + cooling)
                if self._limited_since is not None and all(m.pace.limited(now) for m in self.members if not m.retired):
                    deadline = self._limited_since + self.max_rate_limited_s
                    if now >= deadline:
                        raise RateLimitStalled(
                            f"no endpoint accepted a request for {now - self._limited_since:.0f}s: every one "
                            f"answered 429 or asked to wait (teacher.limits.max_rate_limited_s = "
                            f"{self.max_rate_limited_s:g}); check the quota, then run again with --retry-failed")
                    wake = min(wake, deadline)
                # woken early when a request ends: a probe's answer may unblock an endpoint
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), None if math.isinf(wake) else max(0.0, wake - now))
                except TimeoutError:
                    pass
        finally:
            self._waiting -= 1

    def pause(self, member: Member, seconds: float) -> None:
        """The server stated a wait (Retry-After): hold new requests to `member` for `seconds`."""
        self._rate_limited()
        if member.pace.pause(seconds) and self.on_pause is not None:
            self.on_pause()

    def obey(self, member: Member, headers) -> None:
        """Pause `member` on `x-ratelimit-remaining-*` at zero until the matching reset."""
        if member.pace.obey(headers) and self.on_pause is not None:
            self.on_pause()

    def paused(self) -> dict[str, float]:
        """Stated pauses in force, public URL -> wall-clock end: what the other workers are told."""
        now, wall = time.monotonic(), time.time()
        return {m.public_url: wall + m.pace.paused_until - now for m in self.members if m.pace.paused_until > now}

    def hold(self, until: float, endpoint: str | None = None) -> None:
        """Another worker was told to wait until wall-clock `until`: by `endpoint` (a public URL), or by all."""
        left = until - time.time()
        for m in self.members:
            if left > 0 and endpoint in (None, m.public_url):
                m.pace.pause(left)  # not handed on again: the driver already told every worker

    def _rate_limited(self) -> None:
        if self._limited_since is None:
            self._limited_since = time.monotonic()

    def settle(self, member: Member, sent: float, outcome: str, hint: float | None = None) -> None:
        """What the server made of a request sent at `sent` (monotonic): "accepted" (it answered 2xx),
        "limited" (429; `hint`: the wait it stated) or "failed" (anything else). Call before `release`."""
        if outcome == "accepted":
            self._limited_since = None
            member.pace.on_accepted(sent, demand=self._waiting > 0)
        elif outcome == "limited":
            self._rate_limited()
            member.pace.on_refused(sent, hint)
        else:
            member.pace.on_failed(sent)

    def retire(self, member: Member) -> bool:
        """Take a member that refuses every request out for good; False if it is the last one."""
        if not any(m is not member and not m.retired for m in self.members):
            return False
        member.retired = True
        return True

    def give_back(self, member: Member) -> None:
        """`member` was acquired but nothing was sent to it (the request was cancelled)."""
        member.in_flight -= 1
        member.probing = False
        member.pace.on_failed(math.inf)  # frees the probe, if it was to be one
        self._changed.set()

    def release(self, member: Member, healthy: bool) -> None:
        """Record how the attempt went; `healthy` is False only for failures that blame the server."""
        member.in_flight -= 1
        member.probing = False
        self._changed.set()
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
