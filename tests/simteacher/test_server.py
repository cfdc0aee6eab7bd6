"""The simulated teacher over real loopback HTTP, driven by the real openai SDK."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from factory.config import DEFAULT_PROMPT, SimulatedTeacherConfig
from factory.simteacher import SimTeacher, make_app

ANSWERS = {
    "What is $3+4$?": "7",
    "Simplify $\\frac{6}{8}$.": "\\frac{3}{4}",
    "A square has diagonal $2\\sqrt{6}$. Find its side length.": "2\\sqrt{3}",
}
PROBLEM = "Simplify $\\frac{6}{8}$."
BOXED = re.compile(r"\\boxed\{(.*)\}\$\.$")
CLEAN = dict(latency_ms=1, rate_wrong=0, rate_equivalent=0, rate_truncated=0, rate_duplicate=0,
             mean_reasoning_tokens=80)


def _cfg(**over) -> SimulatedTeacherConfig:
    return SimulatedTeacherConfig(**{**CLEAN, **over})


def _ask(base_url: str, problem: str = PROBLEM, timeout: float = 10, **kw):
    async def go():
        async with AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=timeout) as client:
            messages = [{"role": "user", "content": DEFAULT_PROMPT.replace("{problem}", problem)}]
            return await client.chat.completions.create(model="sim-r1", messages=messages, **kw)
    return asyncio.run(go())


def _get(url: str) -> tuple[int, dict, dict]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, dict(r.headers), json.loads(r.read())


def test_normal_completion_finds_problem_through_template():
    with SimTeacher(_cfg(), ANSWERS) as sim:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", sim.base_url) and sim.port > 0
        for problem, ref in ANSWERS.items():
            r = _ask(sim.base_url, problem)
            choice = r.choices[0]
            assert choice.finish_reason == "stop"
            content = choice.message.content
            assert content.startswith("<think>\n") and "\n</think>\n\n" in content
            assert BOXED.search(content)[1] == ref
            assert r.system_fingerprint == "simulated-teacher" and r.object == "chat.completion"
            assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
            assert 0 < r.usage.completion_tokens_details.reasoning_tokens < r.usage.completion_tokens
        raw = OpenAI(base_url=sim.base_url, api_key="x", max_retries=0).chat.completions.with_raw_response.create(
            model="other", messages=[{"role": "user", "content": "What is $3+4$?"}])
        assert raw.headers["X-Simulated-Teacher"] == "true" and raw.parse().model == "other"


def test_unknown_problem_still_answered():
    with SimTeacher(_cfg(), {}) as sim:
        content = _ask(sim.base_url, "An unknown problem.").choices[0].message.content
        assert BOXED.search(content)[1].isdigit()


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_field_variants(field):
    with SimTeacher(_cfg(reasoning_field=field), ANSWERS) as sim:
        message = _ask(sim.base_url).choices[0].message
        reasoning = message.model_extra[field]
        assert "<think>" not in message.content and BOXED.search(message.content)[1] == "\\frac{3}{4}"
        assert len(reasoning) > 50 and "</think>" not in reasoning


def test_truncation_by_rate():
    with SimTeacher(_cfg(rate_truncated=1), ANSWERS) as sim:
        for choice in _ask(sim.base_url, n=3).choices:
            assert choice.finish_reason == "length"
            assert "</think>" not in choice.message.content and "boxed" not in choice.message.content
        assert sim.stats()["by_outcome"]["truncated"] == 3


@pytest.mark.parametrize("field", ["inline", "reasoning_content"])
def test_truncation_by_max_tokens(field):
    with SimTeacher(_cfg(reasoning_field=field, mean_reasoning_tokens=400), ANSWERS) as sim:
        for key in ("max_tokens", "max_completion_tokens"):
            r = _ask(sim.base_url, **{key: 20})
            message = r.choices[0].message
            text = message.content + ((message.model_extra or {}).get(field) or "")
            assert r.choices[0].finish_reason == "length" and len(text) <= 80
            assert "boxed" not in text and r.usage.completion_tokens <= 20
        assert _ask(sim.base_url, max_tokens=100_000).choices[0].finish_reason == "stop"


def test_429_carries_retry_after():
    with SimTeacher(_cfg(rate_429=1, retry_after_s=2), ANSWERS) as sim:
        with pytest.raises(openai.RateLimitError) as err:
            _ask(sim.base_url)
        assert err.value.response.headers["Retry-After"] == "2"
        assert err.value.response.headers["X-Simulated-Teacher"] == "true"
        assert err.value.body["code"] == "rate_limit_exceeded"
        assert sim.stats()["by_outcome"]["429"] == 1 and sim.stats()["completions"] == 0


def test_a_proxy_window_lets_n_through_and_refuses_the_rest_without_any_hint():
    # a window of ~11 days: the burst below cannot straddle two of them
    with SimTeacher(_cfg(window_requests=3, window_s=10**6), ANSWERS) as sim:
        answered, refused = 0, []
        for _ in range(5):
            try:
                _ask(sim.base_url)
                answered += 1
            except openai.RateLimitError as err:
                refused.append(err.response.headers)
        assert answered == 3 and len(refused) == 2
        assert not any(k.lower().startswith(("retry-after", "x-ratelimit")) for h in refused for k in h)
        assert sim.stats()["by_outcome"]["429"] == 2 and sim.stats()["requests"] == 5


def test_the_proxy_window_is_fixed_on_the_clock():
    from factory.simteacher.server import _Sim

    sim = _Sim(_cfg(window_requests=2, window_s=60), ANSWERS)
    # 2 per window [60, 120), whatever their spacing inside it; the count starts over at 120
    assert [sim.window_admits(t) for t in (60.0, 61.0, 119.9, 120.0, 120.5, 179.0, 185.0)] == \
        [True, True, False, True, True, False, True]


def test_5xx():
    with SimTeacher(_cfg(rate_5xx=1), ANSWERS) as sim:
        statuses = set()
        for _ in range(8):
            with pytest.raises(openai.InternalServerError) as err:
                _ask(sim.base_url)
            statuses.add(err.value.status_code)
            assert "simulated" in err.value.message
        assert statuses == {500, 503}


def test_malformed_body_makes_sdk_raise():
    with SimTeacher(_cfg(rate_malformed=1), ANSWERS) as sim:
        # openai 1.x lets the json.JSONDecodeError (a ValueError) through; allow a wrapped APIError too
        with pytest.raises((ValueError, openai.APIError)) as err:
            _ask(sim.base_url)
        assert not isinstance(err.value, (openai.APIStatusError, openai.APIConnectionError))
        assert sim.stats()["by_outcome"]["malformed"] == 1


def test_timeout_fires_without_blocking_others():
    with SimTeacher(_cfg(rate_timeout=1, hang_s=3), ANSWERS) as sim:
        start = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            _ask(sim.base_url, timeout=0.5)
        assert time.monotonic() - start < 2
    # half the requests hang: the others are answered while they do
    with SimTeacher(_cfg(rate_timeout=0.5, hang_s=3, seed=3), ANSWERS) as sim:
        async def go():
            async with AsyncOpenAI(base_url=sim.base_url, api_key="x", max_retries=0, timeout=0.5) as client:
                calls = [client.chat.completions.create(model="m", messages=[{"role": "user", "content": PROBLEM}])
                         for _ in range(10)]
                return await asyncio.gather(*calls, return_exceptions=True)
        results = asyncio.run(go())
        timeouts = sum(isinstance(r, openai.APITimeoutError) for r in results)
        assert 0 < timeouts < 10 and timeouts == sim.stats()["by_outcome"]["timeout"]


def test_n_choices():
    with SimTeacher(_cfg(), ANSWERS) as sim:
        r = _ask(sim.base_url, n=5)
        assert [c.index for c in r.choices] == list(range(5))
        assert len({c.message.content for c in r.choices}) == 5  # samples differ


def test_bad_requests():
    with SimTeacher(_cfg(), ANSWERS) as sim:
        with pytest.raises(openai.BadRequestError, match="streaming is not supported"):
            _ask(sim.base_url, stream=True)
        client = OpenAI(base_url=sim.base_url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="m", messages=[])
        request = urllib.request.Request(sim.base_url + "/chat/completions", data=b"{not json", method="POST",
                                          headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=5)
        assert err.value.code == 400 and "error" in json.loads(err.value.read())
        assert sim.stats()["by_outcome"]["bad_request"] == 3


def test_models_health_and_stats_under_concurrency():
    with SimTeacher(_cfg(latency_ms=300, model="sim-x"), ANSWERS) as sim:
        host = f"http://127.0.0.1:{sim.port}"
        assert _get(host + "/health")[0] == 200
        assert [m.id for m in OpenAI(base_url=sim.base_url, api_key="x").models.list()] == ["sim-x"]
        assert _get(host + "/stats")[2]["first_request_at"] is None

        async def go():
            async with AsyncOpenAI(base_url=sim.base_url, api_key="x", max_retries=0) as client:
                calls = [client.chat.completions.create(model="m", messages=[{"role": "user", "content": PROBLEM}])
                         for _ in range(50)]
                return await asyncio.gather(*calls)
        before = time.time()
        results = asyncio.run(go())
        assert len(results) == 50
        status, headers, stats = _get(host + "/stats")
        assert headers["X-Simulated-Teacher"] == "true"
        assert stats["requests"] == stats["completions"] == 50 and stats["in_flight"] == 0
        assert stats["max_in_flight"] >= 40  # they really overlapped on the server
        assert stats["by_outcome"]["ok"] == 50
        assert before <= stats["first_request_at"] <= stats["last_request_at"] <= time.time()
        assert sim.stats()["requests"] == 50


def test_seeded_outcomes_are_reproducible_and_rates_apply():
    cfg = SimulatedTeacherConfig(latency_ms=0, rate_wrong=0.3, rate_equivalent=0.3, rate_truncated=0.1,
                                 rate_duplicate=0.1, mean_reasoning_tokens=40, seed=11)

    def run() -> tuple[list, dict]:
        with SimTeacher(cfg, ANSWERS) as sim:
            contents = [c.message.content for c in _ask(sim.base_url, n=60).choices]
            return contents, sim.stats()["by_outcome"]
    (first, outcomes), (second, _) = run(), run()
    assert first == second
    for name in ("ok", "wrong", "equivalent", "truncated", "duplicate"):
        assert outcomes[name] > 0, outcomes
    answers = {BOXED.search(c)[1] for c in first if BOXED.search(c)}
    assert "\\frac{3}{4}" in answers and answers & {"3/4", "\\dfrac{3}{4}", "0.75"} and len(answers) > 3
    assert len(set(first)) < len(first)  # duplicates repeat an earlier completion exactly


def test_the_app_serves_every_route_and_says_it_is_simulated():
    from aiohttp.test_utils import TestClient, TestServer

    async def go():
        async with TestClient(TestServer(make_app(_cfg(latency_ms=0, seed=2), ANSWERS))) as client:
            models = await client.get("/v1/models")
            assert (await models.json())["data"][0]["id"] == "sim-r1"
            assert (await (await client.get("/health")).json()) == {"status": "ok", "simulated": True}
            messages = [{"role": "user", "content": DEFAULT_PROMPT.replace("{problem}", PROBLEM)}]
            for path in ("/v1/chat/completions", "/chat/completions"):
                reply = await client.post(path, json={"model": "sim-r1", "messages": messages})
                body = await reply.json()
                assert reply.status == 200 and reply.headers["X-Simulated-Teacher"] == "true"
                assert BOXED.search(body["choices"][0]["message"]["content"])[1] == "\\frac{3}{4}"
            bad = await client.post("/v1/chat/completions", data=b"{not json")
            assert bad.status == 400 and bad.headers["X-Simulated-Teacher"] == "true"
            stats = await (await client.get("/stats")).json()
            assert stats["completions"] == 2
    asyncio.run(go())
