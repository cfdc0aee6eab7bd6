"""Ask the teacher for one sample: the `openai` SDK with its own retries off, tenacity on top.

Only transient failures are retried (429, 5xx, timeouts, connection errors, malformed bodies); a
4xx like "prompt too long" is final and recorded as `rejected`. A 429 is not an attempt: it holds back
the endpoint that sent it (see `pace`), and the request waits for an endpoint that may be sent to
without using up `max_attempts`, for as long as some endpoint accepts requests (at most
`max_rate_limited_s` with none accepted; then the sample is `failed`). `attempts` in the record still
counts every request sent, 429s included: it is what the server was asked.

A failure of one sample is data, not an exception: the caller gets a `SampleResult`-shaped dict
whatever the sample met, so one bad problem never stops a run. Only an endpoint that refuses everyone
(401/403/404 from a lone endpoint) raises `EndpointRefused`, which stops the run.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime

import openai
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from factory.errors import EndpointRefused
from factory.teacher.failures import EndpointRetired, MalformedResponse, classify, describe
from factory.teacher.limits import Limits
from factory.teacher.pool import EndpointPool, EndpointSpec, RateLimitStalled
from factory.teacher.reasoning import split_reasoning
from factory.teacher.sdk import RawResponse

# Retried like 429 and 5xx, as the OpenAI SDK itself does: 408 means the server gave up waiting for
# the request (a slow link or a busy proxy, not a bad request); 409 is what OpenAI answers on a lock
# timeout inside its own service; 425 asks to send the same request again later. None of them says
# anything is wrong with the request, so sending it unchanged may well work.
_TRANSIENT_STATUS = {408, 409, 425, 429}
# the endpoint, not the sample, is wrong: every other request would fail the same way
_ENDPOINT_STATUS = {401, 403, 404}
# the longest a server's Retry-After may hold a retry (the OpenAI SDK's own limit). A longer hint is
# more likely a bug or a quota reset hours away; waiting this long and asking again costs little, and
# a retry that is refused again is told to wait again
_MAX_RETRY_AFTER_S = 120.0


@dataclass(frozen=True)
class AskSettings:
    """Everything a worker needs to ask; the same for all samples of a run."""

    endpoints: tuple[EndpointSpec, ...]
    model: str
    sampling: dict
    prompt_template_hash: str
    timeout_s: float
    max_attempts: int
    session_id: str
    rpm: float | None = None  # this worker's share of the budgets
    tpm: float | None = None
    adaptive: bool = False
    adaptive_start: int = 16
    max_rate_limited_s: float = 3600.0  # how long samples wait on rate limits with nothing accepted


def is_transient(exc: BaseException) -> bool:
    """True for failures where the same request may succeed later."""
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, json.JSONDecodeError,
                        MalformedResponse, EndpointRetired)):
        return True
    if isinstance(exc, openai.APIResponseValidationError):
        return True  # a malformed body from an overloaded proxy; the next try is usually fine
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code >= 500 or exc.status_code in _TRANSIENT_STATUS
    return False


def _retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait, in [0, _MAX_RETRY_AFTER_S]; None if it gave no usable hint.

    `retry-after-ms` (OpenAI's, finer) wins over `retry-after`, which may be seconds or an HTTP-date
    (RFC 7231). A value that cannot be read is skipped, not trusted: the caller then backs off.
    """
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(name)
        if not value:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            seconds = _seconds_until(value) if name == "retry-after" else None
        if seconds is not None and not math.isnan(seconds):
            return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)  # a date in the past means "now"
    return None


def _seconds_until(http_date: str) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": no zone given; an HTTP-date is always GMT
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp() - time.time()


class _WaitRetryAfterOrBackoff:
    """No wait when the server stated one (Retry-After), else exponential backoff with jitter.

    A stated wait pauses the endpoint that stated it (`EndpointPool.pause`), not the request: the
    retry waits for it only if no other endpoint of the pool may be sent to.
    """

    def __init__(self):
        self._backoff = wait_random_exponential(multiplier=0.5, max=30)

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hinted = _retry_after(exc) if exc else None
        return 0.0 if hinted is not None else self._backoff(retry_state)


class _RateLimited(Exception):
    """A 429: the request waits for the pool and goes again, without counting as an attempt."""


def _outcome(finish_reason: str | None, split) -> str:
    if finish_reason == "content_filter":
        return "filtered"
    if finish_reason == "length":
        # cut inside the reasoning is worth less than cut in the answer: the latter can be re-asked
        # with a larger budget (truncation.reask) and its reasoning is whole
        whole_reasoning = split.closed and split.source != "none" and split.answer.strip()
        return "truncated_answer" if whole_reasoning else "truncated_reasoning"
    if not split.reasoning and not split.answer:
        return "empty"
    return "complete"


def _blames_server(exc: BaseException) -> bool:
    """Failures that say the endpoint is unwell (not this request): they count against its health."""
    if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def _overloaded(exc: BaseException) -> bool:
    """Signals that should make an adaptive client send less."""
    if isinstance(exc, openai.APITimeoutError):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in (429, 503)


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage(body: dict) -> dict:
    usage = body.get("usage")
    return usage if isinstance(usage, dict) else {}


def check_shape(body) -> dict:
    """The first choice's message of a completion body; MalformedResponse (retried) if it has none.

    The body is read as plain JSON rather than through the SDK's pydantic models: at hundreds of
    replies a second that parse was a large share of a worker's CPU, and every field used here is
    checked anyway (the text is untrusted).
    """
    choices = body.get("choices") if isinstance(body, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        raise MalformedResponse("response has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise MalformedResponse("first choice has no message")
    for name in ("content", "reasoning_content", "reasoning", "refusal"):
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            raise MalformedResponse(f"message.{name} is a {type(value).__name__}, not text")
    if not isinstance(choices[0].get("finish_reason"), (str, type(None))):
        raise MalformedResponse("finish_reason is not text")
    return message


def _estimate_tokens(spec: dict, limits: Limits) -> int:
    chars = sum(len(m["content"]) for m in spec["messages"])
    return chars // 4 + limits.expected_completion


async def _attempt(pool: EndpointPool, limits: Limits, settings: AskSettings, spec: dict, sampling: dict,
                   record: dict, failed_on: list):
    """One try at one endpoint, with the limits and the pool told how it went.

    `failed_on` holds the member the previous try failed on: a retry goes elsewhere when it can.
    """
    estimate = _estimate_tokens(spec, limits)
    # the endpoint first, then the budgets: a request that waited out an endpoint's pause must not go
    # on a budget token taken before it, or all that waited would go at once when the pause ends
    member = await pool.acquire(avoid=failed_on[-1] if failed_on else None)
    try:
        await limits.before(estimate)
    except BaseException:
        pool.give_back(member)  # nothing was sent
        raise
    sent = time.monotonic()
    record["endpoint"] = member.public_url
    record["attempts"] += 1
    healthy, overloaded, headers, used, answered = True, False, None, None, False
    outcome, wait = "failed", None
    try:
        # the SDK's client (base URL, auth, headers, status errors) without its per-call parameter
        # transform and model parse: both cost more CPU than the request itself at hundreds per second
        raw = await member.client.post(member.chat_url, cast_to=RawResponse,
                                       body={"model": settings.model, "messages": spec["messages"], **sampling})
        headers = raw.headers
        body = raw.json()
        check_shape(body)
        used = _int(_usage(body).get("total_tokens"))
        answered, outcome = True, "accepted"
        return body
    except Exception as exc:
        healthy, overloaded = not _blames_server(exc), _overloaded(exc)
        refused = isinstance(exc, openai.APIStatusError) and exc.status_code in _ENDPOINT_STATUS
        # one bad member of a pool (wrong key or path) is dropped and the others carry on; the last
        # one is not, and its refusal stops the run (see ask_one)
        retired = refused and pool.retire(member)
        record["attempt_errors"].append(describe(exc))
        record["attempt_classes"].append("refused" if retired else classify(exc))
        failed_on[:] = [member]
        response_obj = getattr(exc, "response", None)
        headers = getattr(response_obj, "headers", None)
        if (wait := _retry_after(exc)) is not None:
            pool.pause(member, wait)  # the server asked this client, not this request, to wait for this endpoint
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 429:
            outcome = "limited"
            raise _RateLimited() from exc
        if retired:
            raise EndpointRetired(f"{member.public_url} answered {exc.status_code}; retired from the pool") from exc
        raise
    finally:
        if headers:
            pool.obey(member, headers)
        pool.settle(member, sent, outcome, wait)
        pool.release(member, healthy)
        await limits.after(estimate, used, overloaded, latency_s=time.monotonic() - sent, answered=answered)


def sampling_for(settings: AskSettings, spec: dict) -> dict:
    sampling = settings.sampling
    if "max_tokens" in spec:  # a truncated sample asked again with a larger budget
        sampling = sampling | {"max_tokens": spec["max_tokens"]}
    # one base seed would make a deterministic server return n identical samples
    if sampling.get("seed") is not None:
        sampling = sampling | {"seed": sampling["seed"] + spec["sample_index"]}
    return sampling


def new_record(spec: dict, *, session_id: str, model: str, endpoint: str, sampling: dict,
               prompt_template_hash: str) -> dict:
    """A sample's journal record before anything is known of its reply (the batch path fills it in too)."""
    return dict(
        sample_id=spec["sample_id"], problem_id=spec["problem_id"], sample_index=spec["sample_index"],
        session_id=session_id, model=model, endpoint=endpoint,
        messages=spec["messages"], sampling=json.dumps(sampling, sort_keys=True),
        prompt_template_hash=prompt_template_hash, error=None, error_class=None, finish_reason=None,
        reasoning=None, answer=None, reasoning_source="none", think_closed=True,
        prompt_tokens=None, completion_tokens=None, reasoning_tokens=None, attempt_errors=[], attempt_classes=[],
    )


def reply_fields(response: dict) -> dict:
    """What a chat completion body (already through `check_shape`) says of a sample: outcome, finish
    reason, reasoning and answer, token counts. The one place a reply becomes record fields."""
    choice = response["choices"][0]
    message = choice["message"]
    split = split_reasoning(message.get("content"), message.get("reasoning_content"), message.get("reasoning"))
    refused = bool(message.get("refusal"))  # the model declined: same class as a filter
    usage = _usage(response)
    details = usage.get("completion_tokens_details")
    details = details if isinstance(details, dict) else {}
    finish = choice.get("finish_reason")
    return dict(
        outcome="filtered" if refused else _outcome(finish, split),
        finish_reason=finish, reasoning=split.reasoning, answer=split.answer,
        reasoning_source=split.source, think_closed=split.closed,
        prompt_tokens=_int(usage.get("prompt_tokens")), completion_tokens=_int(usage.get("completion_tokens")),
        reasoning_tokens=_int(details.get("reasoning_tokens")),
    )


async def ask_one(pool: EndpointPool, limits: Limits, settings: AskSettings, spec: dict) -> dict:
    """Ask for one sample and return its journal record (a SampleResult dict).

    Raises:
        EndpointRefused: on 401/403/404, which say the endpoint (key, URL, model) is wrong, so the
            run stops instead of recording every sample as rejected.
    """
    started = time.time()
    sampling = sampling_for(settings, spec)
    record = new_record(spec, session_id=settings.session_id, model=settings.model,
                        endpoint=pool.members[0].public_url, sampling=sampling,
                        prompt_template_hash=settings.prompt_template_hash)
    record["attempts"] = 0  # every request sent, 429s included (counted in _attempt)
    failed_on: list = []
    retrying = AsyncRetrying(
        stop=stop_after_attempt(settings.max_attempts), wait=_WaitRetryAfterOrBackoff(),
        retry=retry_if_exception(is_transient), reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                while True:  # 429s: the pool holds the next try until an endpoint may be sent to
                    try:
                        response = await _attempt(pool, limits, settings, spec, sampling, record, failed_on)
                        break
                    except _RateLimited:
                        continue
    except RateLimitStalled as exc:
        record.update(outcome="failed", error=f"RateLimitStalled: {exc}", error_class="429")
    except openai.APIStatusError as exc:
        if exc.status_code in _ENDPOINT_STATUS:
            raise EndpointRefused(f"teacher at {record['endpoint']} answered {describe(exc)}; check the URL "
                                  "(it usually ends in /v1), the model name and the API key") from None
        # a 4xx refused this request (too long, bad parameter): asking it again unchanged cannot help
        record.update(outcome="failed" if is_transient(exc) else "rejected", error=describe(exc),
                      error_class=classify(exc))
    except Exception as exc:  # every failure becomes data, so one bad sample never stops a run
        # Transient ones outlasted their retries. Anything else is unexpected (a bug here, or a reply
        # no check foresaw): not retried on the spot, where it would most likely fail again and each
        # try may be paid for, but "failed", not "rejected", so --retry-failed can ask again later.
        record.update(outcome="failed", error=describe(exc), error_class=classify(exc))
    else:
        record.update(reply_fields(response))
        if record["completion_tokens"]:
            limits.observe_completion(record["completion_tokens"])
    finished = time.time()
    record.update(started_at=started, finished_at=finished, latency_s=finished - started)
    return record
