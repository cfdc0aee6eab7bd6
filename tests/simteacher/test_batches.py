"""The simulated teacher's Batch API (/v1/files, /v1/batches) over loopback HTTP, driven by the real openai SDK."""

from __future__ import annotations

import json
import time

import openai
import pytest

from factory.config import DEFAULT_PROMPT, SimulatedTeacherConfig
from factory.simteacher import SimTeacher

ANSWERS = {"What is $3+4$?": "7"}
CLEAN = dict(latency_ms=1, rate_wrong=0, rate_equivalent=0, rate_truncated=0, rate_duplicate=0,
             mean_reasoning_tokens=80, batch_delay_s=0.0)


def _line(cid: str, model: str = "sim-r1") -> dict:
    body = {"model": model, "max_tokens": 2000,
            "messages": [{"role": "user", "content": DEFAULT_PROMPT.replace("{problem}", "What is $3+4$?")}]}
    return {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body}


def _upload(client: openai.OpenAI, lines: list[dict]) -> str:
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    return client.files.create(file=("in.jsonl", data), purpose="batch").id


def _run(client: openai.OpenAI, file_id: str, **kw):
    batch = client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h",
                                  **kw)
    deadline = time.monotonic() + 20
    while batch.status not in ("completed", "expired", "failed", "cancelled") and time.monotonic() < deadline:
        time.sleep(0.02)
        batch = client.batches.retrieve(batch.id)
    return batch


def _lines(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    return [json.loads(raw) for raw in client.files.content(file_id).text.splitlines()] if file_id else []


@pytest.fixture
def sim():
    def start(**over):
        return SimTeacher(SimulatedTeacherConfig(**{**CLEAN, **over}), ANSWERS)
    return start


def test_a_batch_answers_every_line_with_a_chat_completion(sim):
    with sim() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        file_id = _upload(client, [_line(f"c{i}") for i in range(5)])
        assert client.files.retrieve(file_id).purpose == "batch"
        batch = _run(client, file_id, metadata={"k": "v"})
        assert batch.status == "completed" and batch.error_file_id is None and batch.metadata == {"k": "v"}
        assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (5, 5, 0)
        out = _lines(client, batch.output_file_id)
        assert sorted(line["custom_id"] for line in out) == [f"c{i}" for i in range(5)]
        body = out[0]["response"]["body"]
        assert out[0]["response"]["status_code"] == 200 and out[0]["error"] is None
        assert "\\boxed{7}" in body["choices"][0]["message"]["content"] and body["usage"]["completion_tokens"] > 0
        stats = server.stats()["batch"]
        assert stats["created"] == 1 and stats["requests"] == 5 and stats["by_status"] == {"completed": 1}
        assert stats["answered"] == {f"c{i}": 1 for i in range(5)}


def test_an_expiring_batch_keeps_what_it_answered_and_lists_the_rest(sim):
    with sim(batch_expire=1) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        first = _run(client, _upload(client, [_line(f"c{i}") for i in range(4)]))
        assert first.status == "expired"
        answered = {line["custom_id"] for line in _lines(client, first.output_file_id)}
        expired = {line["custom_id"]: line["error"]["code"] for line in _lines(client, first.error_file_id)}
        assert answered == {"c0", "c2"} and expired == {"c1": "batch_expired", "c3": "batch_expired"}
        second = _run(client, _upload(client, [_line("c1"), _line("c3")]))  # only the first batch expires
        assert second.status == "completed" and second.request_counts.completed == 2


def test_failed_requests_go_to_the_error_file_with_their_status(sim):
    with sim(batch_fail_rate=0.5) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        batch = _run(client, _upload(client, [_line(f"c{i}") for i in range(20)]))
        errors = _lines(client, batch.error_file_id)
        assert batch.status == "completed" and 0 < len(errors) < 20
        assert {e["response"]["status_code"] for e in errors} == {500}
        assert batch.request_counts.failed == len(errors) and batch.request_counts.completed == 20 - len(errors)
        assert server.stats()["batch"]["answered"].keys() == {line["custom_id"] for line in
                                                               _lines(client, batch.output_file_id)}


def test_the_first_create_after_an_upload_may_not_find_the_file(sim):
    with sim(batch_file_not_found_once=True) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        file_id = _upload(client, [_line("c0")])
        with pytest.raises(openai.BadRequestError, match="Cannot find file"):
            client.batches.create(input_file_id=file_id, endpoint="/v1/chat/completions", completion_window="24h")
        assert _run(client, file_id).status == "completed"


def test_an_input_file_that_does_not_validate_fails_the_batch(sim):
    with sim() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        duplicate = _run(client, _upload(client, [_line("c0"), _line("c0")]))
        two_models = _run(client, _upload(client, [_line("c0"), _line("c1", model="other")]))
        assert duplicate.status == two_models.status == "failed"
        assert "not unique" in duplicate.errors.data[0].message and "one model" in two_models.errors.data[0].message
        with pytest.raises(openai.BadRequestError, match="Cannot find file"):
            client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions", completion_window="24h")


def test_batches_list_newest_first_in_pages_and_a_held_one_can_be_cancelled(sim):
    with sim(batch_hold=True) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        made = [client.batches.create(input_file_id=_upload(client, [_line("c0")]), endpoint="/v1/chat/completions",
                                      completion_window="24h", metadata={"n": str(i)}) for i in range(3)]
        page = client.batches.list(limit=2)
        assert [b.id for b in page.data] == [made[2].id, made[1].id] and page.has_more
        assert [b.metadata["n"] for b in client.batches.list(limit=2)] == ["2", "1", "0"]  # the SDK pages on
        client.batches.cancel(made[0].id)
        deadline = time.monotonic() + 10
        while client.batches.retrieve(made[0].id).status != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.02)
        cancelled = client.batches.retrieve(made[0].id)
        assert cancelled.status == "cancelled"
        assert [e["error"]["code"] for e in _lines(client, cancelled.error_file_id)] == ["batch_cancelled"]
        assert client.batches.retrieve(made[1].id).status == "in_progress"  # held
        server.release_batches()
        assert _run(client, _upload(client, [_line("c9")])).status == "completed"
        with pytest.raises(openai.NotFoundError):
            client.batches.retrieve("batch_nope")
