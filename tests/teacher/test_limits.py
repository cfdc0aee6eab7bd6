"""Token budgets and adaptive concurrency: the bucket's arithmetic on a simulated clock, the AIMD
rules on given latencies, and the token budget end to end against the simulated teacher."""

import asyncio

import pytest

from factory.config import SimulatedTeacherConfig
from factory.simteacher import SimTeacher
from factory.teacher.asker import Asker
from factory.teacher.limits import Adaptive, Limits, TokenBucket

from support.teacher import ANSWERS, settings, spec


class Clock:
    """A clock the test moves by hand, so minutes of budget take no time."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def admissions(tpm, estimate, used, seconds):
    """Times at which back-to-back requests get through a bucket whose answers come back at once."""
    clock = Clock()
    bucket = TokenBucket(tpm, clock=clock)
    times = []
    while clock.now < seconds and len(times) < 10_000:  # a broken bucket may never make anyone wait
        wait = bucket.reserve(estimate)
        if wait:
            clock.now += wait
            continue
        times.append(clock.now)
        bucket.adjust(used - estimate)  # the usage the server reported
    return bucket, times


@pytest.mark.parametrize("tpm, estimate, used", [
    (6000, 400, 400),  # a reviewer's probe: 400-token requests against a 100-tokens/s bucket
    (250_000, 16_000, 8_000),  # 2M tpm over 8 workers, max_tokens as the estimate, 8k-token replies
    (250_000, 1_100, 8_000),  # the same replies, estimated far too low
], ids=["probe", "estimate-above-usage", "estimate-below-usage"])
def test_tokens_used_in_any_minute_stay_within_the_budget(tpm, estimate, used):
    bucket, times = admissions(tpm, estimate, used, seconds=600)
    # the part of one request beyond the saved-up second may go into debt at a window's end
    allowance = tpm + bucket.capacity + max(0, used - min(estimate, bucket.capacity))
    for start in times:
        in_window = sum(used for t in times if start <= t < start + 60)
        assert in_window <= allowance
    # and the long run is the budget itself, not budget plus bursts, nor far below it
    assert len(times) * used <= 10 * tpm + allowance
    assert len(times) * used >= 10 * tpm - allowance


def test_a_charge_beyond_the_bucket_is_debt_that_later_requests_wait_out():
    clock = Clock()
    bucket = TokenBucket(6000, clock=clock)  # 100 tokens/s, holds 100
    assert bucket.reserve(400) == 0  # a full bucket lets a larger charge go...
    assert bucket.level == pytest.approx(-300)  # ...for all of it
    assert bucket.reserve(1) == pytest.approx(3.01)  # even one token waits for the debt to clear
    clock.now += 3.01
    assert bucket.reserve(1) == 0


def test_a_refund_does_not_fill_the_bucket_past_its_capacity():
    clock = Clock()
    bucket = TokenBucket(6000, clock=clock)
    assert bucket.reserve(100) == 0
    bucket.adjust(-5000)  # estimated 5000 more than was used
    assert bucket.level == 100
    assert bucket.reserve(100) == 0 and bucket.reserve(100) > 0


def test_token_budget_holds_at_the_server():
    """Requests larger than a second of budget, one at a time so that the server's i-th arrival is the
    i-th record: the tokens the server reported for the requests sent between any two arrivals fit in
    the budget for that time plus the bucket's one-second burst."""
    tpm = 12_000  # 200 tokens/s; the simulated replies are about 300 tokens
    cfg = SimulatedTeacherConfig(latency_ms=0, rate_wrong=0, rate_truncated=0, mean_reasoning_tokens=300,
                                 record_times=True)

    async def go(url):
        asker = Asker(settings(url, tpm=tpm), concurrency=1)
        out = [r async for records, _ in asker.ask_batch([spec(i) for i in range(3)]) for r in records]
        burst = asker.limits.tokens.capacity
        await asker.close()
        return out, burst

    with SimTeacher(cfg, ANSWERS) as sim:
        records, burst = asyncio.run(go(sim.base_url))
        arrived = sim.stats()["arrived_at"]
    used = [r["prompt_tokens"] + r["completion_tokens"] for r in records]
    assert len(arrived) == len(used) == 3 and all(r["outcome"] == "complete" for r in records)
    assert min(used) > burst  # every request is larger than the bucket holds: the case that broke
    for i in range(len(used)):
        for k in range(i + 1, len(used)):
            assert sum(used[i:k]) <= tpm / 60 * (arrived[k] - arrived[i]) + burst


async def settle(adaptive, latencies, overloaded=False):
    for latency in latencies:
        await adaptive.acquire()
        await adaptive.release(overloaded, latency)
    return adaptive.limit


def test_adaptive_grows_while_latency_stays_near_its_baseline():
    adaptive = Adaptive(start=4, ceiling=64, clock=Clock())
    grown = asyncio.run(settle(adaptive, [1.0, 1.2, 0.9, 1.5] * 10))  # noisy but healthy
    assert grown > 8


def test_adaptive_backs_off_gently_when_latency_degrades():
    adaptive = Adaptive(start=4, ceiling=64, clock=Clock())
    grown = asyncio.run(settle(adaptive, [1.0] * 40))
    slowed = asyncio.run(settle(adaptive, [5.0] * 10))  # a queue builds up: latency 5x the baseline
    assert slowed < grown
    # one step back per slow answer, one per window of answers: far gentler than an overload cut
    assert asyncio.run(settle(adaptive, [5.0])) == pytest.approx(slowed - 1 / slowed)


def test_adaptive_relearns_its_baseline_after_a_lasting_slowdown():
    clock = Clock()
    adaptive = Adaptive(start=4, ceiling=64, window_s=60, clock=clock)
    asyncio.run(settle(adaptive, [1.0] * 40))
    clock.now += 30
    slowed = asyncio.run(settle(adaptive, [5.0] * 40))
    clock.now += 61  # the fast answers are now older than the window
    regrown = asyncio.run(settle(adaptive, [5.0] * 40))
    assert adaptive.baseline == pytest.approx(5.0, rel=0.05) and regrown > slowed


def test_adaptive_cuts_on_overload_whatever_the_latency():
    clock = Clock()
    adaptive = Adaptive(start=4, ceiling=64, cooldown_s=1.0, clock=clock)
    grown = asyncio.run(settle(adaptive, [1.0] * 40))
    cut = asyncio.run(settle(adaptive, [1.0, 1.0, 1.0], overloaded=True))
    assert cut == pytest.approx(grown * 0.7)  # one cut for the burst of 429s within the cooldown
    clock.now += 1.0
    assert asyncio.run(settle(adaptive, [1.0], overloaded=True)) == pytest.approx(grown * 0.49)


def test_limits_judges_latency_per_token_and_holds_on_plain_failures():
    async def go():
        limits = Limits(adaptive=Adaptive(start=4, ceiling=64, clock=Clock()))
        for i in range(40):  # short and long replies at the same speed: 10 ms a token
            await limits.before(1)
            used = 100 if i % 2 else 1000
            await limits.after(1, used, False, latency_s=used * 0.01)
        grown = limits.adaptive.limit
        for _ in range(10):  # a 500: no usage, not an overload
            await limits.before(1)
            await limits.after(1, None, False, latency_s=0.5, answered=False)
        held = limits.adaptive.limit
        for _ in range(10):  # answers from a server that reports no usage: they still count as healthy
            await limits.before(1)
            await limits.after(1, None, False, latency_s=0.5, answered=True)
        return grown, held, limits.adaptive.limit
    grown, after_failures, after_bare_answers = asyncio.run(go())
    assert grown > 8 and after_failures == grown and after_bare_answers > grown


def test_the_first_answer_replaces_the_guessed_completion_size():
    limits = Limits(tpm=6000, expected_completion=16_384)
    limits.observe_completion(800)
    assert limits.expected_completion == 800
    limits.observe_completion(1800)
    assert limits.expected_completion == 900
