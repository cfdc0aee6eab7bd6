"""Client-side limits on what a worker sends: request and token budgets, AIMD.

One `Limits` object per worker gates every attempt (not every sample, since retries cost too):
- requests-per-minute and tokens-per-minute budgets as token buckets (a worker's share of the
  pipeline's budget); a token estimate is charged up front and corrected by the reported usage;
- an optional adaptive concurrency limit for self-hosted endpoints: additive increase while
  answers come back healthy and about as fast as the server's best, a gentle decrease when they
  slow down (a queue is building), multiplicative decrease on 429/503/timeouts (AIMD, as in TCP).

What the servers say about their own limits (Retry-After, x-ratelimit headers, 429s with no hint) is
about one endpoint, and is kept per endpoint: see `pace`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable

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
    """`rate_per_min` units per minute, saving up at most one second's worth (at least one unit).

    A charge is never clipped to what the bucket holds: one larger than that (an 8k-token reasoning
    reply against a per-second share of the budget) takes the bucket into debt, and later charges
    wait until it has refilled. So over any window the units charged stay within the rate times the
    window, plus the saved-up second, plus whatever one charge exceeds that second by.
    """

    def __init__(self, rate_per_min: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate_per_min / 60.0
        self.capacity = max(1.0, self.rate)
        self._clock = clock
        self.level = self.capacity
        self.stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def reserve(self, amount: float) -> float:
        """Charge `amount` and return 0 if the bucket may go now, else the seconds until it may."""
        self._refill()
        # a charge larger than the bucket goes once it is full (or it would never go), the rest as debt
        need = min(amount, self.capacity)
        # with a hair of slack: a refill after exactly the wait returned may round a bit short of `need`
        if self.level >= need * (1 - 1e-9):
            self.level -= amount
            return 0.0
        return (need - self.level) / self.rate

    async def take(self, amount: float) -> None:
        while (wait := self.reserve(amount)) > 0:
            await asyncio.sleep(wait)

    def adjust(self, delta: float) -> None:
        """Charge (positive) or refund (negative) the difference between estimate and usage."""
        self._refill()
        # a refund cannot fill the bucket past its capacity, or it would buy a burst never budgeted
        self.level = min(self.capacity, self.level - delta)


class Adaptive:
    """AIMD concurrency limit for self-hosted servers, steered by overload signals and latency.

    - overload (429/503/timeout): x`decrease`, at most once per `cooldown_s` (one burst of bad news
      is one signal);
    - an answer whose latency stays within `tolerance` x the baseline: +1 per window of answers;
    - an answer slower than that: -1 per window of answers. A server past its knee queues requests
      (or, for an LLM server, runs a batch too large) and latency climbs long before it answers 429,
      if it ever does; backing off gently holds concurrency near the knee without giving up throughput;
    - an answer with no latency given (the caller measured none): grows;
    - a failure that is not an overload (`answered=False`, e.g. a 500 or a 400): neither grows nor
      cuts, since it says nothing either way about how much the server can take.

    Latency is smoothed (an exponential moving average over about 1/`smoothing` answers, since single
    answers vary a lot) and the baseline is the lowest smoothed latency over the last `window_s`: low
    enough to show what an unqueued server does, yet relearned when the server gets slower for good
    (another tenant, longer prompts later in a run) instead of holding the limit down forever.
    """

    def __init__(self, start: int, ceiling: int, decrease: float = 0.7, cooldown_s: float = 1.0,
                 tolerance: float = 2.0, smoothing: float = 0.1, window_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic):
        self.limit = float(max(1, min(start, ceiling)))
        self.ceiling = ceiling
        self.decrease = decrease
        self.cooldown_s = cooldown_s
        self.tolerance = tolerance
        self.smoothing = smoothing
        self.window_s = window_s
        self._clock = clock
        self.in_flight = 0
        self.recent: float | None = None  # smoothed latency of the latest answers
        self._lows: deque[tuple[float, float]] = deque()  # (time, smoothed latency), rising: a sliding minimum
        self._last_cut = float("-inf")
        self._freed = asyncio.Condition()

    @property
    def baseline(self) -> float | None:
        return self._lows[0][1] if self._lows else None

    async def acquire(self) -> None:
        async with self._freed:
            await self._freed.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1

    def _latency_healthy(self, latency: float) -> bool:
        now = self._clock()
        self.recent = latency if self.recent is None else self.recent + self.smoothing * (latency - self.recent)
        while self._lows and self._lows[-1][1] >= self.recent:
            self._lows.pop()
        self._lows.append((now, self.recent))
        while self._lows[0][0] < now - self.window_s:
            self._lows.popleft()
        return self.recent <= self.tolerance * self.baseline

    async def release(self, overloaded: bool, latency: float | None = None, answered: bool = True) -> None:
        """Free a slot and move the limit on what the attempt said about the server."""
        now = self._clock()
        if overloaded:
            if now - self._last_cut >= self.cooldown_s:
                self.limit = max(1.0, self.limit * self.decrease)
                self._last_cut = now
        elif answered:
            if latency is None or self._latency_healthy(latency):
                self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
            else:
                self.limit = max(1.0, self.limit - 1.0 / self.limit)
        async with self._freed:
            self.in_flight -= 1
            self._freed.notify_all()


class Limits:
    """The worker's own budgets, whatever endpoint an attempt goes to."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None, adaptive: Adaptive | None = None,
                 expected_completion: int = 1024):
        """`expected_completion`: completion tokens to assume until the first answer says otherwise.

        Estimates are all the token budget is charged until answers come back (a minute or more
        for long reasoning), so a guess below the real size lets that first stretch overspend;
        `max_tokens` is a safe one.
        """
        self.requests = TokenBucket(rpm) if rpm else None
        self.tokens = TokenBucket(tpm) if tpm else None
        self.adaptive = adaptive
        self.expected_completion = expected_completion  # running mean of completion tokens, for estimates
        self._observed = False

    def observe_completion(self, tokens: int) -> None:
        # the first answer replaces the guess outright: one real size says more than any default
        weight = 0.1 if self._observed else 1.0
        self.expected_completion = int((1 - weight) * self.expected_completion + weight * tokens)
        self._observed = True

    async def before(self, estimated_tokens: int) -> None:
        if self.requests:
            await self.requests.take(1)
        if self.tokens:
            await self.tokens.take(estimated_tokens)
        if self.adaptive:
            await self.adaptive.acquire()

    async def after(self, estimated_tokens: int, used_tokens: int | None, overloaded: bool,
                    latency_s: float | None = None, answered: bool | None = None) -> None:
        """Settle one attempt: its usage (None if it failed or the server reports none), overload, the
        seconds from sending it to its answer if the caller measured them, and whether it was answered
        (default: whether there is usage)."""
        if self.tokens and used_tokens is not None:
            self.tokens.adjust(used_tokens - estimated_tokens)
        if self.adaptive:
            # Seconds per token, not per request: a reasoning reply of 8k tokens takes ten times one of
            # 800 on an idle server, and that spread would read as congestion; time per token rises
            # only when the server is busier (longer queues, larger batches).
            per_token = latency_s / used_tokens if latency_s is not None and used_tokens else None
            # a server that reports no usage still answers: it grows the limit, with no latency to judge
            answered = used_tokens is not None if answered is None else answered
            await self.adaptive.release(overloaded, per_token, answered=answered)
