"""The Batch API client against the simulated teacher over loopback HTTP: retries, and a create never made twice."""

from __future__ import annotations

import json
import time

import pytest

from factory.config import SimulatedTeacherConfig
from factory.errors import EndpointRefused
from factory.simteacher import SimTeacher
from factory.teacher.batch_api import KEY, BatchAPI, BatchUnknown

from support.teacher import ANSWERS, PROBLEM, Scripted

LINE = {"custom_id": "c0", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": "sim-r1", "messages": [{"role": "user", "content": PROBLEM}], "max_tokens": 2000}}
DATA = (json.dumps(LINE) + "\n").encode()


def sim(**over) -> SimTeacher:
    return SimTeacher(SimulatedTeacherConfig(latency_ms=1, batch_delay_s=0, **over), ANSWERS)


def api(url: str, timeout_s: float = 10.0) -> BatchAPI:
    return BatchAPI(url, "", timeout_s, attempts=4, backoff_max_s=0.2)


def test_a_create_that_cannot_find_its_fresh_upload_is_sent_again():
    with sim(batch_file_not_found_once=True) as server:
        client = api(server.base_url)
        batch = client.create("k1", client.upload("k1.jsonl", DATA), since=time.time())
        assert batch.metadata == {KEY: "k1"}
        assert server.stats()["batch"]["created"] == 1


def test_a_create_whose_answer_is_lost_is_found_by_its_key_not_made_twice():
    with sim(batch_create_hang_s=3) as server:
        client = api(server.base_url, timeout_s=0.5)  # the create times out after it took effect
        batch = client.create("k2", client.upload("k2.jsonl", DATA), since=time.time())
        assert batch.metadata[KEY] == "k2"
        assert server.stats()["batch"]["created"] == 1
        assert client.find("k2", time.time()).id == batch.id and client.find("nope", time.time()) is None


def test_find_picks_the_batch_by_its_key_among_others():
    with sim() as server:
        client = api(server.base_url)
        made = {k: client.create(k, client.upload(f"{k}.jsonl", DATA), since=time.time()).id for k in "abc"}
        assert {k: client.find(k, time.time()).id for k in "abc"} == made
        with pytest.raises(BatchUnknown):
            client.retrieve("batch_nope")
        done = client.retrieve(made["a"])
        while done.status != "completed":
            time.sleep(0.02)
            done = client.retrieve(made["a"])
        assert [line["custom_id"] for line in client.lines(done.output_file_id)] == ["c0"]


def test_a_server_without_a_batch_api_stops_with_one_line():
    with Scripted(lambda prompt, nth: (200, {}, {})) as server:
        with pytest.raises(EndpointRefused, match="has no Batch API .*teacher.mode: sync"):
            api(server.base_url).upload("x.jsonl", DATA)
