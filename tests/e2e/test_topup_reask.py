"""Top-up through the CLI: more samples per problem, and the truncated-answer re-ask policy."""

import asyncio
import contextlib
import socket
import threading

import pytest
from aiohttp import web

from factory.store.journal import latest_records

from support.cli import demo_answers, factory, pipeline_copy

pytestmark = pytest.mark.e2e



def test_raising_n_asks_only_the_new_samples(tmp_path, clean_sim):
    out = tmp_path / "run"
    with clean_sim(demo_answers()) as sim:
        four = pipeline_copy(tmp_path, simulated=None, base_url=sim.base_url, n=4)
        assert factory("run", four, "--out", out, "--limit", 5).returncode == 0
        first = latest_records(out)
        assert len(first) == 20 and sim.stats()["requests"] == 20
        eight = pipeline_copy(tmp_path, simulated=None, base_url=sim.base_url, n=8)
        again = factory("run", eight, "--out", out, "--limit", 5)
        assert again.returncode == 0, again.stderr
        assert sim.stats()["requests"] == 40  # 5 problems x 4 new samples, nothing asked twice
    second = latest_records(out)
    assert len(second) == 40 and all(second[sid] == record for sid, record in first.items())
    assert sorted(r["sample_index"] for r in second.values()) == sorted(list(range(8)) * 5)


@contextlib.contextmanager
def budget_teacher(answers: dict[str, str], finishes_from: int | None):
    """A teacher that cuts every answer (reasoning whole) below `finishes_from` tokens of budget, and
    finishes it at or above; `finishes_from=None`: a larger budget gets a 500 instead.

    Yields the list of budgets asked with, one per request.
    """
    asked: list[int] = []

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        budget = body.get("max_completion_tokens") or body.get("max_tokens")
        asked.append(budget)
        problem = next(p for p in answers if p in body["messages"][-1]["content"])
        if finishes_from is None and budget > 1000:
            return web.json_response({"error": {"message": "overloaded", "type": "server_error"}}, status=500)
        whole = finishes_from is not None and budget >= finishes_from
        answer = f"So the answer is $\\boxed{{{answers[problem]}}}$." if whole else "So the answer is $\\boxed{"
        message = {"role": "assistant", "content": f"<think>\nWorking it out carefully.\n</think>\n\n{answer}"}
        return web.json_response({
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop" if whole else "length"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}})

    async def models(_):
        return web.json_response({"object": "list", "data": [{"id": "sim-r1", "object": "model"}]})

    app = web.Application()
    app.add_routes([web.post("/v1/chat/completions", chat), web.get("/v1/models", models)])
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    sock = socket.create_server(("127.0.0.1", 0))
    loop.run_until_complete(web.SockSite(runner, sock).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", asked
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def _pipeline(tmp_path, url, **truncation):
    return pipeline_copy(tmp_path, simulated=None, base_url=url, n=1, max_attempts=2,
                         sampling={"max_tokens": 1000, "temperature": 0.6, "top_p": 0.95},
                         truncation={"reask": True, **truncation})


def test_a_truncated_answer_is_re_asked_once_with_a_larger_budget(tmp_path):
    out = tmp_path / "run"
    with budget_teacher(demo_answers(), finishes_from=2000) as (url, asked):
        pipeline = _pipeline(tmp_path, url, factor=2.5, max_tokens_cap=2000)
        result = factory("run", pipeline, "--out", out, "--limit", 3)
        assert result.returncode == 0, result.stderr
        assert sorted(asked) == [1000] * 3 + [2000] * 3  # cut at 1000, then 2500 capped at 2000
        latest = latest_records(out)
        assert len(latest) == 3 and all(r["outcome"] == "complete" for r in latest.values())
        assert factory("run", pipeline, "--out", out, "--limit", 3).returncode == 0
        assert len(asked) == 6  # finished: nothing asked again


def test_a_failed_re_ask_keeps_the_cut_answer_and_is_not_paid_for_again(tmp_path):
    out = tmp_path / "run"
    with budget_teacher(demo_answers(), finishes_from=None) as (url, asked):
        pipeline = _pipeline(tmp_path, url)
        result = factory("run", pipeline, "--out", out, "--limit", 3)
        assert result.returncode == 0, result.stderr
        assert sorted(asked) == [1000] * 3 + [2000] * 6  # the re-ask failed twice (max_attempts 2)
        assert {r["outcome"] for r in latest_records(out).values()} == {"truncated_answer"}  # kept, tagged
        assert factory("run", pipeline, "--out", out, "--limit", 3).returncode == 0
        assert len(asked) == 9  # the re-ask was tried: a plain rerun does not pay for it again
