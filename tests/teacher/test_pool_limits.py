"""Endpoint pool and client-side limits, against real simulated teachers on loopback."""

import asyncio
import time
from collections import Counter

import pytest

from factory.config import SimulatedTeacherConfig
from factory.simteacher import SimTeacher
from factory.teacher.asker import Asker
from factory.teacher.limits import Adaptive, TokenBucket, parse_reset

from support.teacher import ANSWERS, settings, spec

CLEAN = dict(latency_ms=20, rate_wrong=0, rate_truncated=0, rate_429=0, rate_5xx=0)


def run_asker(s, n, concurrency=8):
    async def go():
        asker = Asker(s, concurrency)
        out = [r async for records, _ in asker.ask_batch([spec(i) for i in range(n)]) for r in records]
        health = asker.health()
        await asker.close()
        return out, health
    return asyncio.run(go())


def test_dead_endpoint_is_ejected_and_its_work_goes_elsewhere():
    with SimTeacher(SimulatedTeacherConfig(**CLEAN), ANSWERS) as live:
        records, health = run_asker(settings(["http://127.0.0.1:9/v1", live.base_url], max_attempts=6), 40)
    assert len(records) == 40
    assert all(r["outcome"] == "complete" and r["endpoint"] == live.base_url for r in records)
    dead = health[0]
    assert dead["ok"] == 0 and dead["ejected"] >= 1
    assert dead["failed"] < 40  # ejected after a few failures, not tried for every sample


def test_traffic_follows_weights_via_least_loaded_choice():
    with SimTeacher(SimulatedTeacherConfig(**CLEAN), ANSWERS) as a, \
            SimTeacher(SimulatedTeacherConfig(**CLEAN), ANSWERS) as b:
        s = settings([a.base_url, b.base_url])
        s = s.__class__(**{**s.__dict__, "endpoints": (s.endpoints[0].__class__(a.base_url, "k", 1.0),
                                                       s.endpoints[1].__class__(b.base_url, "k", 3.0))})
        records, _ = run_asker(s, 80)
    served = Counter(r["endpoint"] for r in records)
    assert served[b.base_url] > 2 * served[a.base_url] > 0


def test_endpoint_rejoins_after_cooldown():
    from factory.teacher import pool as pool_mod

    members = pool_mod.EndpointPool([pool_mod.EndpointSpec("http://x/v1", ""),
                                     pool_mod.EndpointSpec("http://y/v1", "")], lambda spec: None)

    async def go():
        m, other = members.members
        m.cooldown_s = 0.05
        for _ in range(pool_mod.FAILURES_TO_EJECT):
            m.in_flight += 1
            members.release(m, healthy=False)
        assert not m.available(time.monotonic())
        other.in_flight = 10**6  # busy, so the choice falls on `m` as soon as it may be tried
        await asyncio.sleep(0.06)
        probe = await members.acquire()  # the cool-down is over: one probe is let through
        assert probe is m and probe.probing and not m.available(time.monotonic())
        members.release(probe, healthy=True)
        assert probe.failures == 0 and probe.available(time.monotonic())
    asyncio.run(go())


def test_requests_per_minute_budget_spaces_requests():
    with SimTeacher(SimulatedTeacherConfig(**(CLEAN | {"latency_ms": 0})), ANSWERS) as sim:
        started = time.monotonic()
        records, _ = run_asker(settings(sim.base_url, rpm=600), 13)  # 10/s, a burst of 10 then 1 every 0.1 s
        elapsed = time.monotonic() - started
    assert len(records) == 13 and elapsed >= 0.25


def test_requests_that_waited_out_a_pause_still_keep_to_the_request_budget():
    """rpm 600: 10 a second, 10 saved up at most. Requests held by a 2 s Retry-After take their budget
    only once the pause is over, so they do not all go at its end on tokens taken while they waited."""
    from support.teacher import GOOD, Scripted, completion, error

    answered = []

    def reply(prompt, nth):
        answered.append(prompt)
        return error(429, "wait", headers={"Retry-After": "2"}) if len(answered) == 1 else completion(GOOD)

    with Scripted(reply) as server:
        records, _ = run_asker(settings(server.base_url, rpm=600), 40, concurrency=40)
        arrivals = sorted(t for t, _ in server.seen)
    assert len(records) == 40 and all(r["outcome"] == "complete" for r in records)
    resumed = next(t for t in arrivals if t > arrivals[0] + 1.9)  # the first request after the pause
    burst = [t for t in arrivals if resumed <= t < resumed + 0.5]
    assert len(burst) <= 10 + 5 + 1, len(burst)  # saved up, half a second's worth, the probe


@pytest.mark.parametrize("value, seconds", [("1s", 1.0), ("6m0s", 360.0), ("250ms", 0.25), ("2.5", 2.5),
                                            ("1h2m", 3720.0), ("soon", None)])
def test_parse_reset(value, seconds):
    assert parse_reset(value) == seconds


def test_exhausted_quota_headers_pause_that_endpoint_only():
    from factory.teacher.pool import EndpointPool, EndpointSpec

    pool = EndpointPool([EndpointSpec("http://x/v1", ""), EndpointSpec("http://y/v1", "")], lambda spec: None)
    x, y = pool.members
    y.in_flight = 50  # by load alone, x would be chosen

    async def go():
        pool.obey(x, {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "200ms"})
        assert await pool.acquire() is y  # x is paused: the pool goes on with the other one
        y.retired = True
        started = time.monotonic()
        assert await pool.acquire() is x  # nothing else: the request waits out x's pause
        return time.monotonic() - started
    assert asyncio.run(go()) >= 0.15


def test_token_bucket_corrects_estimates_with_usage():
    async def go():
        bucket = TokenBucket(6000)  # 100 tokens/s, burst 100
        await bucket.take(100)
        bucket.adjust(-100)  # the request used nothing: refund
        started = time.monotonic()
        await bucket.take(100)
        return time.monotonic() - started
    assert asyncio.run(go()) < 0.05


def test_aimd_grows_while_healthy_and_cuts_on_overload():
    async def go():
        adaptive = Adaptive(start=4, ceiling=64, cooldown_s=0)
        for _ in range(40):
            await adaptive.acquire()
            await adaptive.release(overloaded=False)
        grown = adaptive.limit
        await adaptive.acquire()
        await adaptive.release(overloaded=True)
        return grown, adaptive.limit
    grown, cut = asyncio.run(go())
    assert grown > 8 and cut == pytest.approx(grown * 0.7, rel=0.05)


def test_adaptive_mode_backs_off_against_a_server_that_answers_429():
    cfg = SimulatedTeacherConfig(**(CLEAN | {"rate_429": 0.3, "retry_after_s": 0.0}))

    async def go(url):
        asker = Asker(settings(url, adaptive=True, adaptive_start=24, max_attempts=10), 32)
        out = [r async for records, _ in asker.ask_batch([spec(i) for i in range(60)]) for r in records]
        limit = asker.limits.adaptive.limit
        await asker.close()
        return out, limit
    with SimTeacher(cfg, ANSWERS) as sim:
        records, limit = asyncio.run(go(sim.base_url))
    assert len(records) == 60 and all(r["outcome"] == "complete" for r in records)
    assert limit < 24  # cut below where it started, with 429s coming all along


def test_when_every_endpoint_is_paused_a_request_waits_for_the_first_to_resume():
    from factory.teacher.pool import EndpointPool, EndpointSpec

    pool = EndpointPool([EndpointSpec("http://x/v1", ""), EndpointSpec("http://y/v1", "")], lambda spec: None)
    x, y = pool.members
    pool.pause(x, 30)
    pool.pause(y, 0.2)

    async def go():
        return await pool.acquire()
    assert asyncio.run(go()) is y


def test_a_stated_pause_holds_one_endpoint_and_is_handed_to_other_workers_by_endpoint():
    from factory.teacher.pool import EndpointPool, EndpointSpec

    told = []
    pool = EndpointPool([EndpointSpec("http://x/v1", ""), EndpointSpec("http://y/v1", "")], lambda spec: None)
    pool.on_pause = lambda: told.append(pool.paused())
    x, y = pool.members
    pool.pause(x, 30)
    assert len(told) == 1 and list(told[0]) == ["http://x/v1"] and told[0]["http://x/v1"] > time.time() + 29
    pool.pause(x, 1)  # shorter than the pause in force: nothing new to tell
    assert len(told) == 1

    other = EndpointPool([EndpointSpec("http://x/v1", ""), EndpointSpec("http://y/v1", "")], lambda spec: None)
    other.on_pause = lambda: told.append("handed back")
    other.hold(time.time() + 30, "http://x/v1")  # what the driver hands another worker
    assert other.members[0].pace.limited(time.monotonic()) and not other.members[1].pace.limited(time.monotonic())
    assert len(told) == 1  # a hold from the driver is not handed on again
    other.hold(time.time() + 30)  # a hold naming no endpoint (a whole-worker hold) holds them all
    assert other.members[1].pace.limited(time.monotonic())


def test_a_pool_rate_limited_with_nothing_accepted_gives_up_after_the_bound():
    from factory.teacher.pool import EndpointPool, EndpointSpec, RateLimitStalled

    pool = EndpointPool([EndpointSpec("http://x/v1", ""), EndpointSpec("http://y/v1", "")], lambda spec: None,
                        max_rate_limited_s=0.3)

    async def go():
        for _ in range(2):
            member = await pool.acquire()
            pool.settle(member, time.monotonic(), "limited", hint=None)
            pool.release(member, healthy=True)
        started = time.monotonic()
        with pytest.raises(RateLimitStalled, match="max_rate_limited_s"):
            while True:  # probes keep being refused
                member = await pool.acquire()
                pool.settle(member, time.monotonic(), "limited", hint=None)
                pool.release(member, healthy=True)
        return time.monotonic() - started
    assert asyncio.run(go()) < 5


def test_the_last_endpoint_in_rotation_is_never_ejected():
    from factory.teacher import pool as pool_mod

    single = pool_mod.EndpointPool([pool_mod.EndpointSpec("http://x/v1", "")], lambda spec: None)

    async def go():
        for _ in range(10):
            member = await single.acquire()
            single.release(member, healthy=False)
        return member
    member = asyncio.run(go())
    assert member.available(time.monotonic()) and member.stats["ejected"] == 0


def test_a_pool_member_that_refuses_us_is_retired_and_the_run_goes_on():
    import threading

    from aiohttp import web

    async def refuse(_):
        return web.json_response({"error": {"message": "bad key"}}, status=401)

    app = web.Application()
    app.add_routes([web.post("/v1/chat/completions", refuse)])
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    threading.Thread(target=loop.run_forever, daemon=True).start()
    try:
        with SimTeacher(SimulatedTeacherConfig(**CLEAN), ANSWERS) as live:
            records, health = run_asker(settings([f"http://127.0.0.1:{port}/v1", live.base_url]), 20)
    finally:
        loop.call_soon_threadsafe(loop.stop)
    assert len(records) == 20
    assert all(r["outcome"] == "complete" and r["endpoint"] == live.base_url for r in records)
    assert health[0]["retired"] and not health[1]["retired"]
