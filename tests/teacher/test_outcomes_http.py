"""Outcome classes, retry classification and Retry-After, over real loopback HTTP.

The replies the simulated teacher cannot give (a 400 for one prompt, an empty or refused reply, a 429
with a chosen Retry-After) come from `support.teacher.Scripted`.
"""

import asyncio
import importlib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import openai
import pytest
from tenacity import RetryCallState

from factory.errors import EndpointRefused
from factory.teacher import client
from factory.teacher.asker import Asker
from factory.teacher.client import _retry_after, _WaitRetryAfterOrBackoff, is_transient
from factory.teacher.sdk import RawResponse

from support.teacher import GOOD, Scripted, completion, error, settings

# the HTTP library the SDK is built on (httpx2 for openai 3.x), for exceptions built by hand
http = importlib.import_module(RawResponse.__module__.partition(".")[0])

def spec(prompt, i=0):
    return dict(sample_id=f"{prompt}-{i}", problem_id=prompt, sample_index=i,
                messages=[{"role": "user", "content": prompt}])


def ask(url, prompts, **kw):
    """Every record of one batch, by sample id."""
    async def go():
        asker = Asker(settings(url, **kw), concurrency=8)
        try:
            return {r["sample_id"]: r async for records, _ in asker.ask_batch([spec(p) for p in prompts])
                    for r in records}
        finally:
            await asker.close()
    return asyncio.run(go())


async def sdk_error(url):
    """The exception the SDK itself raises for one request to `url` (its own retries off)."""
    sdk = openai.AsyncOpenAI(base_url=url, api_key="k", max_retries=0, timeout=5)
    try:
        await sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    except openai.OpenAIError as exc:
        return exc
    finally:
        await sdk.close()
    raise AssertionError("the request succeeded")


# --- outcome classes -------------------------------------------------------------------------------

TOO_LONG = error(400, "This model's maximum context length is 8192 tokens. However, your messages resulted in "
                      "9000 tokens (prompt is too long).", "context_length_exceeded")
CASES = {
    "rejected": lambda: TOO_LONG,
    "empty": lambda: completion(""),
    "filtered": lambda: completion("", finish="content_filter"),
    "refusal": lambda: completion(None, refusal="I can't help with that."),
}


@pytest.mark.parametrize("case", CASES)
def test_each_outcome_class_over_http_is_final_and_spares_the_batch(case):
    expected = "filtered" if case == "refusal" else case

    def reply(prompt, nth):
        return CASES[case]() if prompt == "bad" else completion(GOOD)

    with Scripted(reply) as server:
        records = ask(server.base_url, ["ok1", "bad", "ok2"], max_attempts=4)
    bad = records["bad-0"]
    assert bad["outcome"] == expected and bad["attempts"] == 1
    assert server.count("bad") == 1  # final at once: not sent again
    assert [records[k]["outcome"] for k in ("ok1-0", "ok2-0")] == ["complete", "complete"]
    if case == "rejected":
        assert "400" in bad["error"] and "context length" in bad["error"]
    else:
        assert bad["error"] is None and not bad["answer"]


# --- what is retried -------------------------------------------------------------------------------

# (status, transient): transient ones are sent max_attempts times, the others once
STATUSES = [(400, False), (401, False), (404, False), (408, True), (409, True), (429, True),
            (500, True), (502, True), (503, True), (504, True)]


@pytest.mark.parametrize("status, transient", STATUSES)
def test_status_classification(status, transient):
    # Retry-After: 0 keeps the retries of transient statuses from waiting on backoff
    with Scripted(lambda prompt, nth: error(status, f"status {status}", headers={"Retry-After": "0"})) as server:
        exc = asyncio.run(sdk_error(server.base_url))
        assert isinstance(exc, openai.APIStatusError) and exc.status_code == status
        assert is_transient(exc) is transient
        server.seen.clear()
        if status in (401, 404):  # the endpoint itself is wrong: the run stops, nothing is retried
            with pytest.raises(EndpointRefused):
                ask(server.base_url, ["p"], max_attempts=3)
            assert server.count("p") == 1
            return
        # a 429 is not an attempt: a server answering nothing else fails the sample after max_rate_limited_s
        record = ask(server.base_url, ["p"], max_attempts=3, max_rate_limited_s=0.5)["p-0"]
    if status == 429:
        assert server.count("p") == record["attempts"] >= 2
    else:
        assert server.count("p") == record["attempts"] == (3 if transient else 1)
    assert record["outcome"] == ("failed" if transient else "rejected")
    assert str(status) in record["error"]


def test_connection_errors_are_transient():
    dead = "http://127.0.0.1:9/v1"  # nothing listens on the discard port
    exc = asyncio.run(sdk_error(dead))
    assert isinstance(exc, openai.APIConnectionError) and is_transient(exc)
    record = ask(dead, ["p"], max_attempts=2)["p-0"]
    assert record["outcome"] == "failed" and record["attempts"] == 2
    # the SDK's aiohttp transport reports a refused connection as a connect timeout (a subclass)
    assert record["error"].split(":")[0] in ("APIConnectionError", "APITimeoutError")


def test_an_unexpected_error_is_failed_not_rejected_and_not_retried(monkeypatch):
    real_check = client.check_shape

    def check(body):  # stands for a bug met only by some replies
        if body["choices"][0]["message"]["content"] == "odd":
            raise RuntimeError("nobody expected this")
        return real_check(body)

    monkeypatch.setattr(client, "check_shape", check)
    with Scripted(lambda prompt, nth: completion("odd" if prompt == "bad" else GOOD)) as server:
        records = ask(server.base_url, ["ok1", "bad", "ok2"], max_attempts=4)
    bad = records["bad-0"]
    # "failed" is what --retry-failed asks again; "rejected" would keep it out for good
    assert bad["outcome"] == "failed" and bad["error"] == "RuntimeError: nobody expected this"
    assert bad["attempts"] == server.count("bad") == 1
    assert records["ok1-0"]["outcome"] == records["ok2-0"]["outcome"] == "complete"


# --- Retry-After -----------------------------------------------------------------------------------

def gap_after_429(headers):
    """Seconds between a 429 carrying `headers` and the retry, as the server saw them."""
    def reply(prompt, nth):
        return error(429, "slow down", "rate_limit_exceeded", headers()) if nth == 0 else completion(GOOD)

    with Scripted(reply) as server:
        record = ask(server.base_url, ["p"], max_attempts=3)["p-0"]
    assert record["outcome"] == "complete" and record["attempts"] == 2
    first, second = server.arrivals("p")
    return second - first


# unhinted, the retry (the endpoint's first probe) goes 0.25 s after the 429, so >= 0.9 s shows the hint was obeyed
@pytest.mark.parametrize("headers", [
    lambda: {"Retry-After": "1"},
    lambda: {"retry-after-ms": "1000"},
    # an HTTP-date has whole seconds: 2 s ahead, truncated, is still more than 1 s away
    lambda: {"Retry-After": format_datetime(datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True)},
], ids=["seconds", "milliseconds", "http-date"])
def test_the_retry_waits_as_long_as_the_server_asked(headers):
    assert 0.9 <= gap_after_429(headers) < 10


def test_an_absurd_retry_after_is_capped(monkeypatch):
    monkeypatch.setattr(client, "_MAX_RETRY_AFTER_S", 0.3)  # the real cap is minutes
    assert gap_after_429(lambda: {"Retry-After": str(10**9)}) < 5


def rate_limited(headers):
    request = http.Request("POST", "http://127.0.0.1/v1/chat/completions")
    return openai.RateLimitError("429", response=http.Response(429, headers=headers, request=request), body=None)


def in_(seconds):
    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize("headers, seconds", [
    ({"Retry-After": "2.5"}, 2.5),
    ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),  # the finer hint wins
    ({"retry-after-ms": "soon", "Retry-After": "3"}, 3.0),  # an unreadable one is skipped
    ({"Retry-After": str(10**9)}, client._MAX_RETRY_AFTER_S),
    ({"retry-after-ms": "1e15"}, client._MAX_RETRY_AFTER_S),
    ({"Retry-After": "inf"}, client._MAX_RETRY_AFTER_S),
    ({"Retry-After": in_(10**8)}, client._MAX_RETRY_AFTER_S),
    ({"Retry-After": "-5"}, 0.0),
    ({"Retry-After": in_(-60)}, 0.0),  # a date gone by: retry now
    ({"Retry-After": "nan"}, None),
    ({"Retry-After": "tomorrow-ish"}, None),
    ({}, None),
])
def test_retry_after_parsing(headers, seconds):
    assert _retry_after(rate_limited(headers)) == seconds


def test_retry_after_http_date():
    assert 29 <= _retry_after(rate_limited({"Retry-After": in_(30)})) <= 30


def test_wait_strategy_leaves_a_stated_wait_to_the_pool_and_else_backs_off():
    def wait_after(exc):
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
        state.set_exception((type(exc), exc, None))
        return _WaitRetryAfterOrBackoff()(state)

    # the stated wait pauses the endpoint that stated it; the retry may go at once to another one
    assert wait_after(rate_limited({"Retry-After": "7"})) == 0.0
    assert wait_after(rate_limited({"Retry-After": "0"})) == 0.0
    unhinted = [wait_after(rate_limited({})) for _ in range(50)]
    assert all(0 <= w <= 0.5 for w in unhinted) and len(set(unhinted)) > 1  # jittered backoff


def test_each_failed_attempt_is_recorded_in_order_and_classed_for_the_progress_line():
    from factory.meter.progress import attempt_errors

    replies = [error(500, "boom"), error(429, "slow down", headers={"retry-after-ms": "10"})]

    def reply(prompt, nth):
        return replies[nth] if nth < len(replies) else completion(GOOD)

    with Scripted(reply) as server:
        record = ask(server.base_url, ["What is 2+3?"])["What is 2+3?-0"]
    assert record["outcome"] == "complete" and record["attempts"] == 3 and record["error"] is None
    assert [e.split(":")[0] for e in record["attempt_errors"]] == ["InternalServerError 500", "RateLimitError 429"]
    assert attempt_errors(record) == {"5xx": 1, "429": 1}


def test_a_retry_goes_to_another_member_of_the_pool():
    with Scripted(lambda prompt, nth: error(503, "down")) as sick, \
            Scripted(lambda prompt, nth: completion(GOOD)) as well:
        s = settings([sick.base_url, well.base_url], max_attempts=3)
        # the sick member is chosen first (ten times the weight); after its 503 the retry must go elsewhere,
        # though by load and weight alone the sick one would still win
        s = s.__class__(**{**s.__dict__, "endpoints": (s.endpoints[0].__class__(sick.base_url, "k", 10.0),
                                                       s.endpoints[1])})

        async def go():
            asker = Asker(s, concurrency=1)
            try:
                return [r async for records, _ in asker.ask_batch([spec("What is 2+3?")]) for r in records]
            finally:
                await asker.close()
        (record,) = asyncio.run(go())
    assert record["outcome"] == "complete" and record["attempts"] == 2 and record["endpoint"] == well.base_url
    assert len(sick.seen) == 1


def test_results_that_came_with_a_run_stopping_error_are_handed_over_first():
    """A 401 stops the run; the answers that arrived in the same chunk were paid for and are yielded."""
    def reply(prompt, nth):
        return error(401, "invalid api key") if "+7" in prompt else completion(GOOD)

    async def go(url):
        asker = Asker(settings(url), concurrency=8)
        got = []
        try:
            with pytest.raises(EndpointRefused):
                async for records, _ in asker.ask_batch([spec(f"What is 2+{i}?") for i in range(8)]):
                    got += records
        finally:
            await asker.close()
        return got

    with Scripted(reply) as server:
        got = asyncio.run(go(server.base_url))
    assert len(server.seen) == 8 and len(got) == 7 and all(r["outcome"] == "complete" for r in got)


def test_one_result_stream_at_a_time():
    async def go():
        asker = Asker(settings("http://127.0.0.1:9/v1"), concurrency=2)
        first = asker.results()
        reader = asyncio.ensure_future(first.__anext__())
        await asyncio.sleep(0)  # the first reader is in
        with pytest.raises(RuntimeError, match="already being read"):
            await asker.results().__anext__()
        asker.finish(0)
        with pytest.raises(StopAsyncIteration):
            await reader
        await asker.close()
    asyncio.run(go())
