"""One endpoint's rate limit as a worker sees it: the pauses the server asks for, and the pace it learns
when the server says nothing.

Everything here is about one endpoint: a 429 from one server of a pool holds back only that server,
and the others keep going (`pool.EndpointPool` asks each member's `EndpointPace` when it may be sent to).

Stated limits
    `Retry-After` (or `retry-after-ms`) on any answer, and `x-ratelimit-remaining-*` at zero with its
    `x-ratelimit-reset-*`, pause new requests to the endpoint until then. After a 429 the endpoint is
    also *blocked* (below) with its first probe at the stated time: a hint that proves too short then
    costs one refused request, not one per request that was waiting.

Learned limits
    A 429 with no hint says "too many" but neither how many nor for how long: a proxy with a fixed
    per-minute window in front of an API answers that way. Retrying each refused request on its own
    backoff spends attempts (samples end `failed`) and keeps knocking on a window that will not open
    before its minute is up. The endpoint learns the rate the server accepts instead:

    1. *Blocked.* The first unhinted 429 blocks the endpoint: requests to it wait, and one at a time
       goes as a probe. Probes are spaced 0.25 s, 0.5 s, 1 s, ... apart, doubling while they are
       refused, at most max(8 s, 1/8 of the time blocked so far): the reset of a minute's window is
       found to within 8 s for about a dozen refused probes, and an hour's window costs a few dozen,
       not hundreds.
    2. *Cycle.* An accepted probe means the server has room again (its window rolled over, its bucket
       refilled). The reset happened between the last refused request and that probe; its estimate is
       the middle of the two. From the previous block's accepted probe (when requests went out again)
       to this reset is a cycle of C seconds, in which the server accepted n requests: it takes about
       n per C. (Not from the previous reset: between it and its probe nothing was sent, and that
       stretch would pass for a slow server.) From now on requests to the endpoint
       are spaced C / n apart, plus a 5% margin for the jitter of arrival times. Evenly spaced requests
       never put more than n into any stretch of C seconds, wherever the server's window boundaries
       fall, so they suit a fixed window, a sliding one and a token bucket alike; a burst of n at each
       cycle's start would suit only a fixed window that the cycles happen to line up with.
       The first cycle has no previous reset: it counts what was accepted in the 60 s before the block
       (per-minute limits are the common kind), or since the endpoint's first request if that is
       later. When the run began late in the server's window that cycle comes out short and the pace
       too fast; one more request is then refused, and the next cycle, which starts at a reset,
       measures whole windows. A cycle in which nothing was accepted says nothing about the rate, only
       that the server has room again: it sets no pace.
    3. *Slow increase.* While requests queue for the endpoint and it accepts them, the rate grows by
       1% of the learned rate per cycle's worth of accepted requests (additively): a limit raised
       later, or a cycle measured long, is found again. When the probes found the reset only
       coarsely (their last gap was more than 2% of the cycle, as with short windows), it grows by
       half that gap's share of the cycle instead, so a pace set too slow by the doubt is not stuck
       there for long. Overshooting costs one 429 and the probes
       after it (few: a paced request is refused only once the window's quota is used up, so late in
       the window, close to its reset), and measures a new cycle, over every window since the last.

    A 429 that carries a hint blocks the endpoint too, but its cycle teaches no pace: the server states
    when to come back, and a server whose 429s are random (an overloaded replica) would otherwise teach
    a pace far below what it serves.

Stated and learned waits are not attempts (`client.ask_one`): a sample waits them out for as long as
some endpoint accepts requests, up to `teacher.limits.max_rate_limited_s` with none accepted at all.
With several workers each learns its own share: every worker counts what the server accepted from it
in a cycle, and the cycles of all of them end at the same resets.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping

from factory.teacher.limits import parse_reset

FIRST_PROBE_S = 0.25
MAX_PROBE_S = 8.0
PROBE_SHARE = 1 / 8  # probes at most this share of the time blocked apart, when that exceeds MAX_PROBE_S
FIRST_CYCLE_S = 60.0  # how far back the first block counts accepted requests
MARGIN = 0.05  # the pace stays this much below the learned rate
GROWTH = 0.01  # rate growth per cycle's worth of accepted requests, as a share of the learned rate
MAX_PAUSE_S = 300.0  # the longest a stated pause holds an endpoint before it is asked again


class EndpointPace:
    """When the next request to one endpoint may go. All times are `clock()` (monotonic) seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self.paused_until = 0.0  # stated by the server
        self.interval = 0.0  # learned spacing between requests; 0 while none is learned
        self.next_at = 0.0  # when the next spaced request may go
        self.blocked_at: float | None = None  # the 429 that blocked it; None while not blocked
        self.hinted = False  # the block came with a stated time (its cycle teaches no pace)
        self.probing = False  # the probe of a block is out
        self.probe_at = 0.0
        self.probe_wait = FIRST_PROBE_S
        self.last_refused = 0.0  # when the latest refused request of the block was sent
        self.cycle_start: float | None = None  # the last block's accepted probe; None before the first
        self.count = 0  # requests accepted since then
        self.cycle_s: float | None = None  # the last cycle measured
        self.per_cycle = 0  # requests accepted in it
        self.growth = GROWTH  # share of the learned rate the pace grows by per cycle's worth accepted
        self.first_sent: float | None = None
        self.recent: deque[float] = deque()  # before the first reset: send times of the last minute's accepted
        self.refused = 0  # 429s met, for health reports

    # -- when a request may go ------------------------------------------------------------------------

    def ready_at(self) -> float:
        """The earliest time a new request may go; inf while a block's probe is out."""
        if self.blocked_at is not None:
            return math.inf if self.probing else max(self.paused_until, self.probe_at)
        return max(self.paused_until, self.next_at) if self.interval else self.paused_until

    def limited(self, now: float) -> bool:
        """Held back by a rate limit (paused or blocked), not merely spaced out."""
        return self.blocked_at is not None or self.paused_until > now

    def take(self, now: float) -> None:
        """A request goes now (the caller checked `ready_at`): the block's probe, or the next spaced one."""
        if self.first_sent is None:
            self.first_sent = now
        if self.blocked_at is not None:
            self.probing = True
        elif self.interval:
            self.next_at = max(self.next_at, now) + self.interval

    # -- what the server said -------------------------------------------------------------------------

    def pause(self, seconds: float) -> bool:
        """Hold new requests for `seconds` (a stated wait, capped); True if that holds them longer than before."""
        until = self._clock() + min(max(seconds, 0.0), MAX_PAUSE_S)
        if until <= self.paused_until:
            return False
        self.paused_until = until
        return True

    def obey(self, headers: Mapping[str, str]) -> bool:
        """Pause on `x-ratelimit-remaining-*` at zero until its reset; True if that started or lengthened one."""
        longer = False
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
                longer = self.pause(wait) or longer
        return longer

    def on_accepted(self, sent: float, demand: bool = False) -> None:
        """A request sent at `sent` was accepted; `demand`: others are waiting to be sent."""
        if self.blocked_at is not None and sent > self.blocked_at:
            self._reset(sent)  # only the probe goes out while blocked: the server has room again
            return
        if self.cycle_start is None:
            self.recent.append(sent)
            while self.recent[0] < sent - FIRST_CYCLE_S:
                self.recent.popleft()
        else:
            self.count += 1
        if self.interval and demand and self.blocked_at is None:
            # additive increase: GROWTH of the learned rate per cycle's worth of accepted requests
            self.interval = 1.0 / (1.0 / self.interval + self.growth / self.cycle_s)

    def on_refused(self, sent: float, hint: float | None) -> None:
        """A 429 for a request sent at `sent`; `hint`: the seconds it stated, or None."""
        now = self._clock()
        self.refused += 1
        if hint is not None:
            self.pause(hint)
        if self.blocked_at is None:
            self.blocked_at, self.hinted, self.last_refused = now, hint is not None, sent
            self.probe_wait = FIRST_PROBE_S
            self.probe_at = now + (hint if hint is not None else FIRST_PROBE_S)
            return
        self.last_refused = max(self.last_refused, sent)
        if sent > self.blocked_at:  # the probe was refused: the next one waits longer
            self.probing = False
            self.probe_wait = min(self.probe_wait * 2, max(MAX_PROBE_S, (now - self.blocked_at) * PROBE_SHARE))
            self.probe_at = now + max(hint or 0.0, self.probe_wait)
        # else: sent before the block, refused after it; the block already accounts for it

    def on_failed(self, sent: float) -> None:
        """Any other failure (5xx, timeout, ...): says nothing of the rate, but frees a probe."""
        if self.blocked_at is not None and sent > self.blocked_at:
            self.probing = False
            self.probe_at = self._clock() + self.probe_wait

    # -- learning -------------------------------------------------------------------------------------

    def _reset(self, sent: float) -> None:
        """The block's probe, sent at `sent`, was accepted: measure the cycle it ends, start the next."""
        blocked_at = self.blocked_at
        reset = (self.last_refused + sent) / 2  # somewhere between the last refusal and this acceptance
        if self.cycle_start is not None:
            start, n = self.cycle_start, self.count
        else:  # the first cycle: what the server took in the minute before the block
            start = max(self.first_sent if self.first_sent is not None else blocked_at, blocked_at - FIRST_CYCLE_S)
            n = sum(1 for t in self.recent if start <= t <= blocked_at)
            self.recent.clear()
        if n and not self.hinted and reset > start:
            self.cycle_s, self.per_cycle = reset - start, n
            self.interval = self.cycle_s / n * (1 + MARGIN)
            # the reset is known to within half the probes' last gap: grow through that doubt within a
            # cycle or so, so a pace set too slow by it is not stuck there (a too fast one is refused)
            self.growth = max(GROWTH, (sent - self.last_refused) / 2 / self.cycle_s)
        self.blocked_at, self.hinted, self.probing = None, False, False
        self.probe_wait = FIRST_PROBE_S
        self.cycle_start, self.count = sent, 1  # the probe is the new cycle's first accepted request
        self.next_at = sent + self.interval

    def describe(self) -> dict:
        """For health reports: requests refused, the learned spacing (s) and requests per cycle."""
        return dict(rate_limited=self.refused, interval_s=round(self.interval, 3) or None,
                    per_cycle=self.per_cycle or None)
