"""Teachers for tests: ask settings and specs for the simulated one, and a scripted loopback server.

The simulated teacher cannot send a 400 for one prompt, an empty or refused reply, or a 429 with a
chosen Retry-After; `Scripted` can: its reply depends on the prompt and on how often that prompt was
seen, and it records when each request arrived.
"""

from __future__ import annotations

import asyncio
import threading
import time

from aiohttp import web

from factory.teacher.client import AskSettings
from factory.teacher.pool import EndpointSpec

PROBLEM = "What is $2+3$?"
ANSWERS = {PROBLEM: "5"}
GOOD = "<think>2 plus 3 is 5.</think> The answer is \\boxed{5}."


def settings(url, max_attempts=6, timeout_s=10.0, max_tokens=4096, **kw) -> AskSettings:
    """Ask settings for one endpoint URL, or a pool of them (a list)."""
    urls = url if isinstance(url, list) else [url]
    return AskSettings(endpoints=tuple(EndpointSpec(u, "k") for u in urls), model="sim-r1",
                       sampling={"max_tokens": max_tokens}, prompt_template_hash="h", timeout_s=timeout_s,
                       max_attempts=max_attempts, session_id="s", **kw)


def spec(i=0) -> dict:
    """Sample `i` of PROBLEM, as the generate stage hands it to a worker."""
    return dict(sample_id=f"id{i}", problem_id="p", sample_index=i,
                messages=[{"role": "user", "content": f"{PROBLEM}\n\nPut the answer in \\boxed{{}}."}])


def completion(content, finish="stop", **message):
    """A scripted 200 reply: (status, body, headers)."""
    return 200, {"id": "c", "object": "chat.completion", "model": "m",
                 "choices": [{"index": 0, "finish_reason": finish,
                              "message": {"role": "assistant", "content": content, **message}}],
                 "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}}, {}


def error(status, message, code=None, headers=None):
    """A scripted error reply in the OpenAI shape: (status, body, headers)."""
    return status, {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}, \
        headers or {}


class Scripted:
    """A loopback teacher answering `reply(prompt, nth)` -> (status, body, headers); nth counts from 0."""

    def __init__(self, reply):
        self.reply = reply
        self.seen: list[tuple[float, str]] = []  # (arrival, prompt), in arrival order

    async def _chat(self, request):
        prompt = (await request.json())["messages"][-1]["content"]
        nth = self.count(prompt)
        self.seen.append((time.monotonic(), prompt))
        status, body, headers = self.reply(prompt, nth)
        return web.json_response(body, status=status, headers=headers)

    def count(self, prompt):
        return sum(1 for _, p in self.seen if p == prompt)

    def arrivals(self, prompt):
        return [t for t, p in self.seen if p == prompt]

    def __enter__(self):
        app = web.Application()
        app.add_routes([web.post("/v1/chat/completions", self._chat)])
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
