"""What the client takes from the `openai` SDK beyond its documented API (factory/teacher/sdk.py) still holds.

Fails when an SDK release changes it: the raw response type, the connection-limit type, what
`post(..., cast_to=RawResponse)` returns and raises, or the version range pyproject.toml declares.
"""

import asyncio
import re
import tomllib
from pathlib import Path

import openai
import pytest
from aiohttp import web

from factory.teacher.sdk import RawResponse, aiohttp_client

ROOT = Path(__file__).resolve().parents[2]
BODY = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "42"}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}
ERROR = {"error": {"message": "boom", "type": "test", "code": None, "param": None}}


def test_the_installed_sdk_is_in_the_declared_range():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if d.startswith("openai")]
    low, high = re.search(r">=([\d.]+),<([\d.]+)", spec).groups()
    version = tuple(int(p) for p in openai.__version__.split(".")[:2])
    assert tuple(map(int, low.split("."))) <= version < (int(high),), (openai.__version__, spec)


def test_the_raw_response_is_the_sdks_own_http_response_type():
    # the type the SDK's own client hands back when asked for the raw response
    assert RawResponse.__name__ == "Response" and RawResponse.__module__.split(".")[0] in {"httpx", "httpx2"}
    assert RawResponse.__module__.split(".")[0] == openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0]


async def _serve():
    async def ok(request):
        assert request.headers["Authorization"] == "Bearer k"
        assert (await request.json())["model"] == "m"
        return web.json_response(BODY, headers={"x-ratelimit-remaining-requests": "5"})

    async def limited(request):
        return web.json_response(ERROR, status=429, headers={"retry-after": "1"})

    async def broken(request):
        return web.json_response(ERROR, status=500)

    async def slow(request):
        await asyncio.sleep(2)
        return web.json_response(BODY)

    async def held(request):  # counts how many are in flight at once
        flight["now"] += 1
        flight["max"] = max(flight["max"], flight["now"])
        await asyncio.sleep(0.2)
        flight["now"] -= 1
        return web.json_response(BODY)

    async def garbage(request):
        return web.Response(text="<html>proxy error</html>", content_type="application/json")

    app = web.Application()
    flight = {"now": 0, "max": 0}
    for path, handler in (("/ok", ok), ("/limited", limited), ("/broken", broken), ("/slow", slow),
                          ("/garbage", garbage), ("/held", held)):
        app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", flight


async def _post(client, url):
    return await client.post(url, cast_to=RawResponse, body={"model": "m", "messages": [{"role": "user",
                                                                                        "content": "hi"}]})


def test_posting_through_the_sdk_client_returns_the_raw_response_and_raises_its_errors():
    async def go():
        runner, base, flight = await _serve()
        client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=0.5,
                                    http_client=aiohttp_client(4))
        try:
            raw = await _post(client, f"{base}/ok")
            assert type(raw) is RawResponse and raw.status_code == 200
            assert raw.json() == BODY and raw.headers["x-ratelimit-remaining-requests"] == "5"
            with pytest.raises(openai.RateLimitError) as err:
                await _post(client, f"{base}/limited")
            assert err.value.status_code == 429 and err.value.response.headers["retry-after"] == "1"
            with pytest.raises(openai.InternalServerError) as err:
                await _post(client, f"{base}/broken")
            assert isinstance(err.value, openai.APIStatusError) and err.value.status_code == 500
            with pytest.raises(openai.APITimeoutError):
                await _post(client, f"{base}/slow")
            garbage = await _post(client, f"{base}/garbage")  # a broken body is the caller's to judge
            with pytest.raises(ValueError):
                garbage.json()
            # the connection limit is the one asked for: 12 requests at once through a pool of 4 wait their
            # turn (4 in flight at most), they do not fail; the SDK's own default would let all 12 through
            slow_client = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=10,
                                             http_client=aiohttp_client(4))
            try:
                raws = await asyncio.gather(*(_post(slow_client, f"{base}/held") for _ in range(12)))
            finally:
                await slow_client.close()
            assert [r.status_code for r in raws] == [200] * 12 and flight["max"] == 4
        finally:
            await client.close()
            await runner.cleanup()
        with pytest.raises(openai.APIConnectionError):  # nothing listens there any more
            closed = openai.AsyncOpenAI(base_url=f"{base}/v1", api_key="k", max_retries=0, timeout=2,
                                        http_client=aiohttp_client(1))
            try:
                await _post(closed, f"{base}/ok")
            finally:
                await closed.close()
    asyncio.run(go())
