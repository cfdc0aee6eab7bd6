"""Client-side limits on what a worker sends: request and token budgets, server hints, AIMD.

One `Limits` object per worker gates every attempt (not every sample, since retries cost too):
- requests-per-minute and tokens-per-minute budgets as token buckets (a worker's share of the
  pipeline's budget); a token estimate is charged up front and corrected by the reported usage;
- the server's own view: `x-ratelimit-remaining-*` at zero pauses new attempts until the matching
  `x-ratelimit-reset-*`;
- an optional adaptive concurrency limit for self-hosted endpoints: additive increase while
  answers come back healthy, multiplicative decrease on 429/503/timeouts (AIMD, as in TCP).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_reset(value: str) -> float | None:
    """Seconds until a limit resets, from OpenAI-style values such as '1s', '6m0s', '250ms' or '2.5'."""
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        return sum(float(n) * _UNIT_S[u] for n, u in parts) if parts else None


class TokenBucket:
    """`rate_per_min` units per minute, bursting up to one second's worth (at least one unit)."""

    def __init__(self, rate_per_min: float):
        self.rate = rate_per_min / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.stamp = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, amount: float) -> None:
        # a request larger than the burst still goes once the bucket is full, or it would never go
        amount = min(amount, self.capacity)
        while True:
            self._refill()
            if self.level >= amount:
                self.level -= amount
                return
            await asyncio.sleep((amount - self.level) / self.rate)

    def adjust(self, delta: float) -> None:
        """Charge (positive) or refund (negative) the difference between estimate and usage."""
        self._refill()
        self.level -= delta


class Adaptive:
    """AIMD concurrency limit: +1 per window of healthy answers, x`decrease` on overload signals."""

    def __init__(self, start: int, ceiling: int, decrease: float = 0.7, cooldown_s: float = 1.0):
        self.limit = float(max(1, min(start, ceiling)))
        self.ceiling = ceiling
        self.decrease = decrease
        self.cooldown_s = cooldown_s
        self.in_flight = 0
        self._last_cut = 0.0
        self._freed = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._freed:
            await self._freed.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1

    async def release(self, overloaded: bool) -> None:
        now = time.monotonic()
        if overloaded:
            if now - self._last_cut >= self.cooldown_s:  # one cut per burst of bad news
                self.limit = max(1.0, self.limit * self.decrease)
                self._last_cut = now
        else:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
        async with self._freed:
            self.in_flight -= 1
            self._freed.notify_all()


class Limits:
    """Everything that may delay an attempt, in one place."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None, adaptive: Adaptive | None = None):
        self.requests = TokenBucket(rpm) if rpm else None
        self.tokens = TokenBucket(tpm) if tpm else None
        self.adaptive = adaptive
        self._paused_until = 0.0
        self.waited_s = 0.0  # time spent held back, reported by progress
        self.expected_completion = 1024  # running mean of completion tokens, for token estimates

    def pause(self, seconds: float) -> None:
        """Hold every new attempt for `seconds` (a Retry-After from the server)."""
        self._paused_until = max(self._paused_until, time.monotonic() + min(seconds, 300.0))

    def observe_completion(self, tokens: int) -> None:
        self.expected_completion = int(0.9 * self.expected_completion + 0.1 * tokens)

    async def before(self, estimated_tokens: int) -> None:
        started = time.monotonic()
        if self._paused_until > started:
            await asyncio.sleep(self._paused_until - started)
        if self.requests:
            await self.requests.take(1)
        if self.tokens:
            await self.tokens.take(estimated_tokens)
        if self.adaptive:
            await self.adaptive.acquire()
        self.waited_s += time.monotonic() - started

    async def after(self, estimated_tokens: int, used_tokens: int | None, overloaded: bool,
                    headers: Mapping[str, str] | None) -> None:
        if self.tokens and used_tokens is not None:
            self.tokens.adjust(used_tokens - estimated_tokens)
        if headers:
            self._obey(headers)
        if self.adaptive:
            await self.adaptive.release(overloaded)

    def _obey(self, headers: Mapping[str, str]) -> None:
        for kind in ("requests", "tokens"):
            remaining = headers.get(f"x-ratelimit-remaining-{kind}")
            reset = headers.get(f"x-ratelimit-reset-{kind}")
            if remaining is None or reset is None:
                continue
            try:
                exhausted = float(remaining) <= 0
            except ValueError:
                continue
            wait = parse_reset(reset) if exhausted else None
            if wait:
                self.pause(wait)
