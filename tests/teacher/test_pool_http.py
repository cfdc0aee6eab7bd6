"""A pool member that dies mid-run (kill -9 of a real `factory sim-teacher` process) and comes back."""

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter

from factory.teacher.asker import Asker

from support.cli import ROOT, free_port
from support.teacher import settings, spec


def _sim(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port),
                             "--latency-ms", "300", "--rate-wrong", "0", "--rate-truncated", "0",
                             "--rate-duplicate", "0"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the simulated teacher did not start")


def test_a_member_killed_mid_run_is_drained_its_work_moves_and_it_rejoins_when_back():
    port_a, port_b = free_port(), free_port()
    a, b = _sim(port_a), _sim(port_b)
    url_a, url_b = f"http://127.0.0.1:{port_a}/v1", f"http://127.0.0.1:{port_b}/v1"
    try:
        async def go():
            asker = Asker(settings([url_a, url_b], max_attempts=6, timeout_s=20), concurrency=24)
            first, killed_with = [], None
            async for records, _ in asker.ask_batch([spec(i) for i in range(150)]):
                first += records
                if killed_with is None and len(first) >= 20:
                    killed_with = asker.health()[0]["in_flight"]
                    os.kill(a.pid, signal.SIGKILL)  # requests in flight there are lost mid-answer
            drained = asker.health()[0]
            # back on the same port; after its cool-down a probe finds it healthy and it takes work again
            back = _sim(port_a)
            await asyncio.sleep(2.5)
            second = [r async for records, _ in asker.ask_batch([spec(i) for i in range(150, 250)])
                      for r in records]
            await asker.close()
            return first, killed_with, drained, second, back
        started = time.monotonic()
        first, killed_with, drained, second, a = asyncio.run(go())
        elapsed = time.monotonic() - started
    finally:
        for proc in (a, b):
            proc.kill()
            proc.wait()
    assert killed_with > 0  # work was in flight on the member that died
    assert len(first) == 150 and all(r["outcome"] == "complete" for r in first)
    moved = [r for r in first if r["attempts"] > 1]
    assert len(moved) >= killed_with and all(r["endpoint"] == url_b for r in moved), (len(moved), killed_with)
    assert drained["ejected"] >= 1 and drained["in_flight"] == 0
    # what was in flight there, plus what went out before it was ejected; nothing after
    assert drained["failed"] <= 24 + 3, drained
    assert elapsed < 15  # moved on connection errors, not after waiting out the 20 s timeout
    served = Counter(r["endpoint"] for r in second)
    assert len(second) == 100 and served[url_a] > 0 and served[url_b] > 0  # rejoined


def test_a_retry_passes_over_the_member_it_failed_on_while_another_is_ready():
    from factory.teacher.pool import EndpointPool, EndpointSpec

    pool = EndpointPool([EndpointSpec("http://x/v1", ""), EndpointSpec("http://y/v1", "")], lambda spec: None)
    x, y = pool.members
    y.in_flight = 50  # by load alone, x would be chosen

    async def go():
        assert await pool.acquire() is x
        assert await pool.acquire(avoid=x) is y
        y.retired = True
        assert await pool.acquire(avoid=x) is x  # nothing else is ready: the same member again
    asyncio.run(go())
