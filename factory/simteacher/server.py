"""The simulated teacher: an OpenAI-compatible chat completions server on loopback, with faults.

It is a test double and says so (`X-Simulated-Teacher: true` on every response and
`"system_fingerprint": "simulated-teacher"` in every completion). It serves the test suite, the
benchmarks and the offline demo, so it stays cheap: aiohttp, text from precomputed pools, no
sympy. Every request draws its outcome from a Random seeded by (seed, request counter), so the same
seed and request sequence give the same outcomes. (Under concurrency only duplicates can differ:
they copy whatever earlier completion has already been sent for the problem.)

`by_outcome` counts faults per request (429, 5xx, timeout, malformed, bad_request) and content
outcomes per choice (ok, wrong, equivalent, truncated, duplicate). A simulated timeout holds the
request for `hang_s`, then answers normally if the client is still there (so its choices count too).
The Batch API (`/v1/files`, `/v1/batches`) answers each batch line with the same simulation; see `batches`.

With `window_requests` it also acts like a naive rate-limiting proxy in front of the model: at most that
many requests are let through per fixed window of `window_s` (windows start at multiples of `window_s`
on the wall clock, like a per-minute counter keyed by the minute), and the rest are answered 429 at once,
with no Retry-After or x-ratelimit headers at all. They count under `429`.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from collections import OrderedDict

from aiohttp import web

from factory.config import SimulatedTeacherConfig
from factory.serving import BackgroundServer, quiet_runner
from factory.simteacher import traces
from factory.simteacher.batches import BatchStore, add_batch_routes
from factory.simteacher.lookup import ProblemIndex, approx_tokens

OUTCOMES = ("ok", "wrong", "equivalent", "truncated", "duplicate", "429", "5xx", "timeout", "malformed", "bad_request")
_MAX_N = 1024
_MEMORY_PER_PROBLEM = 4  # earlier completions kept per problem for duplicates
_MEMORY_PROBLEMS = 10_000


class _Sim:
    """Per-server state: config, problem index, duplicate memory and counters."""

    def __init__(self, config: SimulatedTeacherConfig, answers: dict[str, str]):
        self.config = config
        self.index = ProblemIndex(answers)
        self.counter = 0
        self.memory: OrderedDict[str, list[tuple[str, str | None]]] = OrderedDict()
        self.numbers: dict[str, tuple[int, int]] = {}
        self.requests = self.completions = self.choices = 0
        self.in_flight = self.max_in_flight = 0
        # every request's arrival and answer time, for benchmarks that account for idle slot-time
        self.arrived_at: list[float] | None = [] if config.record_times else None
        self.answered_at: list[float] | None = [] if config.record_times else None
        self.first_request_at: float | None = None
        self.last_request_at: float | None = None
        self.by_outcome = dict.fromkeys(OUTCOMES, 0)  # all keys up front: snapshots never race a resize
        self.batches = BatchStore(config, self.batch_answer)
        self.window: tuple[int, int] = (-1, 0)  # (index of the proxy's current window, requests let through in it)

    def batch_answer(self, body) -> tuple[int, dict]:
        """One line of a batch, answered by the same simulation as the chat endpoint (no HTTP faults:
        a batch's own faults are the store's)."""
        number = self.counter
        self.counter += 1
        problem, messages, n, max_tokens = _validate(body)
        if problem is not None:
            self.by_outcome["bad_request"] += 1
            return 400, {"error": {"message": problem, "type": "invalid_request_error", "param": None, "code": None}}
        rng = random.Random(self.config.seed * 1_000_003 + number)
        return 200, _completion(self, rng, number, body, messages, n, max_tokens)

    def window_admits(self, now: float) -> bool:
        """The naive proxy's check: True while this fixed window has room, counting the request in."""
        index = int(now // self.config.window_s)
        current, used = self.window if self.window[0] == index else (index, 0)
        if used >= self.config.window_requests:
            return False
        self.window = (current, used + 1)
        return True

    def snapshot(self) -> dict:
        """The `/stats` document."""
        return {
            "requests": self.requests, "completions": self.completions, "choices": self.choices,
            "in_flight": self.in_flight, "max_in_flight": self.max_in_flight,
            "first_request_at": self.first_request_at, "last_request_at": self.last_request_at,
            "by_outcome": dict(self.by_outcome), "batch": self.batches.snapshot(),
            **({"arrived_at": list(self.arrived_at), "answered_at": list(self.answered_at)}
               if self.arrived_at is not None else {}),
        }

    def remember(self, key: str, trace: tuple[str, str | None]) -> None:
        seen = self.memory.get(key)
        if seen is None:
            seen = self.memory[key] = []
            if len(self.memory) > _MEMORY_PROBLEMS:
                self.memory.popitem(last=False)
        if len(seen) < _MEMORY_PER_PROBLEM:
            seen.append(trace)

    def trace(self, rng: random.Random, key: str, reference: str) -> tuple[tuple[str, str | None], str]:
        """One (reasoning, final or None when truncated) pair and its outcome name."""
        cfg = self.config
        seen = self.memory.get(key)
        # Drawn whether or not there is a memory yet, so the draws after it do not depend on it.
        duplicate = rng.random() < cfg.rate_duplicate
        if seen and duplicate:
            return rng.choice(seen), "duplicate"
        u, outcome, shown = rng.random(), "ok", reference
        if u < cfg.rate_wrong:
            shown, outcome = traces.wrong_answer(reference, rng), "wrong"
        elif u < cfg.rate_wrong + cfg.rate_equivalent:
            shown = traces.equivalent_form(reference, rng)
            outcome = "equivalent" if shown != reference else "ok"
        numbers = self.numbers.get(key)
        if numbers is None:
            numbers = self.numbers[key] = traces.problem_numbers(key)
            if len(self.numbers) > _MEMORY_PROBLEMS * 5:
                self.numbers.clear()
        reasoning = traces.reasoning_text(rng, cfg.mean_reasoning_tokens, numbers, shown)
        final: str | None = traces.final_text(rng, shown)
        if rng.random() < cfg.rate_truncated:
            reasoning, final, outcome = reasoning[: int(len(reasoning) * rng.uniform(0.2, 0.9))], None, "truncated"
        trace = (reasoning, final)
        self.remember(key, trace)
        return trace, outcome

    def choice(self, index: int, trace: tuple[str, str | None], max_tokens: int | None) -> tuple[dict, int, int]:
        """Render a trace as an OpenAI choice; returns (choice, completion tokens, reasoning tokens)."""
        reasoning, final = trace
        field = self.config.reasoning_field
        if field == "inline":
            think = f"<think>\n{reasoning}\n</think>\n\n" if final is not None else f"<think>\n{reasoning}"
            content, extra, think_chars = think + (final or ""), None, len(think)
        else:
            content, extra, think_chars = final or "", reasoning, len(reasoning)
        finish = "stop" if final is not None else "length"
        limit = None if max_tokens is None else max_tokens * 4
        if limit is not None and len(content) + len(extra or "") > limit:
            finish = "length"  # the server ran out of budget: cut where a real one would stop
            if extra is not None:
                extra, content = extra[:limit], content[: max(0, limit - len(extra))]
            else:
                content = content[:limit]
            think_chars = min(think_chars, limit)
        message = {"role": "assistant", "content": content}
        if extra is not None:
            message[field] = extra
        total = len(content) + len(extra or "")
        return {"index": index, "message": message, "finish_reason": finish, "logprobs": None}, \
            approx_tokens(total), approx_tokens(think_chars)


def _error(status: int, message: str, kind: str, code: str | None = None, headers: dict | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def _text_of(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _validate(body) -> tuple[str | None, list, int, int | None]:
    """Check a request body; returns (error message or None, messages, n, max_tokens)."""
    if not isinstance(body, dict):
        return "request body must be a JSON object", [], 1, None
    if body.get("stream"):
        return "streaming is not supported by the simulated teacher; send stream=false", [], 1, None
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return "'messages' must be a non-empty list of message objects", [], 1, None
    n = body.get("n") or 1
    if not isinstance(n, int) or not 1 <= n <= _MAX_N:
        return f"'n' must be an integer from 1 to {_MAX_N}", [], 1, None
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return "'max_tokens' must be a positive integer", [], 1, None
    return None, messages, n, max_tokens


_SIM = web.AppKey("simteacher", _Sim)


async def _chat(request: web.Request) -> web.Response:
    sim = request.app[_SIM]
    cfg = sim.config
    # The counter is taken before any await, so request order alone fixes each request's draws.
    number = sim.counter
    sim.counter += 1
    rng = random.Random(cfg.seed * 1_000_003 + number)
    now = time.time()
    sim.requests += 1
    sim.first_request_at = sim.first_request_at or now
    sim.last_request_at = now
    sim.in_flight += 1
    sim.max_in_flight = max(sim.max_in_flight, sim.in_flight)
    try:
        response = await _answer(request, sim, rng, number)
        if sim.arrived_at is not None:
            sim.arrived_at.append(now)
            sim.answered_at.append(time.time())
        return response
    finally:
        sim.in_flight -= 1


async def _answer(request: web.Request, sim: _Sim, rng: random.Random, number: int) -> web.Response:
    cfg = sim.config
    if cfg.window_requests is not None and not sim.window_admits(time.time()):
        # a proxy's refusal: before the model sees the request, and saying nothing of when to come back
        sim.by_outcome["429"] += 1
        return _error(429, f"Rate limit exceeded: {cfg.window_requests} requests per {cfg.window_s:g}s "
                           "(simulated proxy window).", "rate_limit_error", "rate_limit_exceeded")
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        body = None
    invalid = ("request body is not valid JSON", [], 1, None)
    problem, messages, n, max_tokens = _validate(body) if body is not None else invalid
    await asyncio.sleep(cfg.latency_ms / 1000 * rng.uniform(0.9, 1.1))
    if problem is not None:
        sim.by_outcome["bad_request"] += 1
        return _error(400, problem, "invalid_request_error")
    u = rng.random()
    edges = (cfg.rate_429, cfg.rate_5xx, cfg.rate_timeout, cfg.rate_malformed)
    if u < edges[0]:
        sim.by_outcome["429"] += 1
        wait = f"{cfg.retry_after_s:g}"
        return _error(429, "Rate limit reached (simulated by the simulated teacher).", "rate_limit_error",
                      "rate_limit_exceeded", {"Retry-After": wait, "retry-after-ms": f"{cfg.retry_after_s * 1000:g}"})
    if u < sum(edges[:2]):
        sim.by_outcome["5xx"] += 1
        status = rng.choice((500, 503))
        return _error(status, f"Simulated server error {status} (simulated teacher).", "server_error")
    if u < sum(edges[:3]):
        sim.by_outcome["timeout"] += 1
        await asyncio.sleep(cfg.hang_s)  # then answer normally, if the client is still there
    elif u < sum(edges):
        sim.by_outcome["malformed"] += 1
        broken = f'{{"id": "chatcmpl-sim-{number}", "object": "chat.completion", "choices": [{{"index": 0, "mess'
        return web.Response(text=broken, content_type="application/json")
    return web.json_response(_completion(sim, rng, number, body, messages, n, max_tokens))


def _completion(sim: _Sim, rng: random.Random, number: int, body: dict, messages: list, n: int,
                max_tokens: int | None) -> dict:
    """The chat completion body for a valid request (the chat endpoint's and each batch line's)."""
    cfg = sim.config
    users = [m for m in messages if m.get("role") == "user"]
    prompt = _text_of((users or messages)[-1].get("content"))
    key, reference = sim.index.lookup(prompt)
    if reference is None:
        reference = traces.fallback_answer(prompt)
    choices, completion_tokens, reasoning_tokens = [], 0, 0
    for i in range(n):
        trace, outcome = sim.trace(rng, key, reference)
        choice, tokens, think = sim.choice(i, trace, max_tokens)
        sim.by_outcome[outcome] += 1
        choices.append(choice)
        completion_tokens += tokens
        reasoning_tokens += think
    prompt_tokens = approx_tokens(sum(len(_text_of(m.get("content"))) for m in messages))
    model = body.get("model") if isinstance(body.get("model"), str) and body.get("model") else cfg.model
    sim.completions += 1
    sim.choices += n
    return {
        "id": f"chatcmpl-sim-{number}-{rng.getrandbits(32):08x}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "simulated-teacher",
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens},
        },
    }


async def _models(request: web.Request) -> web.Response:
    model = request.app[_SIM].config.model
    return web.json_response({"object": "list", "data": [
        {"id": model, "object": "model", "created": 0, "owned_by": "simulated-teacher"}]})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "simulated": True})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[_SIM].snapshot())


async def _mark_simulated(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Simulated-Teacher"] = "true"


def make_app(config: SimulatedTeacherConfig, answers: dict[str, str]) -> web.Application:
    """Build the aiohttp application (routes, state, the `X-Simulated-Teacher` header).

    Args:
        config: rates, latency, reasoning shape and seed.
        answers: problem text as it appears in the source -> reference answer (LaTeX).
    """
    return _build_app(_Sim(config, answers))


def _build_app(sim: _Sim) -> web.Application:
    app = web.Application(client_max_size=64 * 2**20)
    app[_SIM] = sim
    app.on_response_prepare.append(_mark_simulated)
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/chat/completions", _chat)
        app.router.add_get(f"{prefix}/models", _models)
    add_batch_routes(app, sim.batches)
    app.router.add_get("/health", _health)
    app.router.add_get("/stats", _stats)
    return app


class SimTeacher(BackgroundServer):
    """The simulated teacher on a background thread with its own event loop.

    Example:
        with SimTeacher(config, answers) as sim:
            client = OpenAI(base_url=sim.base_url, api_key="x")
    """

    name = "simulated teacher"

    def __init__(self, config: SimulatedTeacherConfig, answers: dict[str, str], host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self._sim = _Sim(config, answers)  # kept across stop()/start(), so stats accumulate

    def build_app(self) -> web.Application:
        return _build_app(self._sim)

    def stats(self) -> dict:
        """The same document as `GET /stats`."""
        return self._sim.snapshot()

    def release_batches(self) -> None:
        """Let batches held by `batch_hold` run (a test stops a driver while they are in progress first)."""
        self._sim.batches.hold = False


async def _serve_until_signalled(config: SimulatedTeacherConfig, answers: dict[str, str], host: str, port: int) -> None:
    runner = quiet_runner(make_app(config, answers))
    await runner.setup()
    await web.TCPSite(runner, host, port, backlog=4096).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(config: SimulatedTeacherConfig, answers: dict[str, str], host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve in the foreground until SIGINT or SIGTERM (for `factory sim-teacher`); prints nothing."""
    asyncio.run(_serve_until_signalled(config, answers, host, port))
