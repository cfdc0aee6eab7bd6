"""Batch mode on the in-process executor: the generate stage asks the simulated teacher's Batch API over HTTP
(the real openai SDK), journals every answer once, and a resume polls what an earlier session left open."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from factory.config import load_pipeline
from factory.errors import ConfigError
from factory.executor import InProcessExecutor
from factory.simteacher import SimTeacher
from factory.stages.generate import batch as batch_mode
from factory.stages.generate.batch import _result, split
from factory.stages.generate.stage import generate, settings_for
from factory.stages.sources import load_problems, reference_answers
from factory.store.batches import BatchLedger
from factory.store.journal import iter_records, latest_records
from factory.store.records import SampleResult
from factory.teacher.endpoint import Endpoint

from support.cli import DEMO

SESSIONS = [f"20260101T00000{i}-aaaaaa" for i in range(4)]


@pytest.fixture
def demo():
    """2 problems x 4 samples in batch mode, cut into batches of 3 requests, polled every 20 ms."""
    cfg = load_pipeline(DEMO)
    cfg.limit = 2
    cfg.teacher.mode = "batch"
    cfg.teacher.batch = cfg.teacher.batch.model_copy(update=dict(max_requests=3, poll_s=0.02))
    cfg.teacher.simulated = cfg.teacher.simulated.model_copy(update=dict(latency_ms=1, rate_429=0, rate_5xx=0,
                                                                         batch_delay_s=0.05))
    return cfg, load_problems(cfg)


def sim_for(cfg, problems, **over):
    return SimTeacher(cfg.teacher.simulated.model_copy(update=over), reference_answers(problems))


def ask(cfg, problems, run_dir, server, session=SESSIONS[0], **kw):
    settings = settings_for(cfg, [Endpoint(server.base_url, "sim-r1", "")], session)
    return generate(cfg, problems, settings, run_dir, InProcessExecutor(workers=1), **kw)


def journal_lines(run_dir) -> Counter:
    return Counter(r["sample_id"] for r in iter_records(run_dir))


def test_requests_are_cut_under_both_limits():
    assert split([10] * 8, 3, 1000) == [range(0, 3), range(3, 6), range(6, 8)]
    assert split([400, 400, 400, 100], 50, 1000) == [range(0, 2), range(2, 4)]
    assert split([], 3, 1000) == []
    with pytest.raises(ConfigError, match="max_bytes 1000"):
        split([10, 1001], 3, 1000)


def test_each_result_line_is_read_as_a_reply_a_refusal_or_a_re_ask():
    body = {"choices": [{"message": {"content": "<think>x</think> 5"}, "finish_reason": "stop"}]}
    assert _result({"custom_id": "c", "response": {"status_code": 200, "body": body}}, "completed") == \
        ("reply", body, "")
    assert _result({"response": {"status_code": 200, "body": {"choices": []}}}, "completed")[::2] == \
        ("retry", "malformed")
    assert _result({"response": {"status_code": 500, "body": {"error": {"message": "boom"}}}}, "completed") == \
        ("retry", "batch: HTTP 500: boom", "5xx")
    assert _result({"response": {"status_code": 429, "body": {}}}, "completed")[::2] == ("retry", "429")
    assert _result({"response": {"status_code": 400, "body": {"error": {"message": "too long"}}}}, "completed") == \
        ("rejected", "batch: HTTP 400: too long", "4xx")
    assert _result({"response": None, "error": {"code": "batch_expired", "message": "m"}}, "expired")[::2] == \
        ("retry", "timeout")
    assert _result(None, "cancelled")[::2] == ("retry", "other")
    assert _result(None, "failed", "line 3 is not valid JSON") == \
        ("retry", "batch failed: line 3 is not valid JSON", "other")


def test_a_batch_run_journals_each_sample_once_in_the_sync_records_shape(demo, tmp_path):
    cfg, problems = demo
    with sim_for(cfg, problems) as server:
        asked = ask(cfg, problems, tmp_path / "batch", server)
        stats, url = server.stats(), server.base_url
    assert asked == 8 and stats["batch"]["created"] == 3  # 8 requests in files of at most 3
    assert stats["requests"] == 0  # nothing went through the synchronous route
    lines = journal_lines(tmp_path / "batch")
    assert len(lines) == 8 and set(lines.values()) == {1}
    cfg.teacher.mode = "sync"
    with sim_for(cfg, problems) as server:
        ask(cfg, problems, tmp_path / "sync", server)
    batch, sync = latest_records(tmp_path / "batch"), latest_records(tmp_path / "sync")
    assert batch.keys() == sync.keys()  # the same sample ids
    for sid, record in batch.items():
        SampleResult.model_validate(record)
        assert record.keys() == sync[sid].keys()
        assert {k: type(v) for k, v in record.items()} == {k: type(v) for k, v in sync[sid].items()}
        for same in ("problem_id", "sample_index", "model", "messages", "sampling", "prompt_template_hash"):
            assert record[same] == sync[sid][same], same
        assert record["endpoint"] == url + "#batch" and sync[sid]["endpoint"] != record["endpoint"]
        assert record["attempts"] == 1 and record["outcome"] in ("complete", "truncated_reasoning")
    assert not list((tmp_path / "batch" / "batches").glob("*.jsonl"))[1:]  # only the ledger stays


def test_an_expired_batch_keeps_its_answers_and_re_asks_only_the_rest(demo, tmp_path):
    cfg, problems = demo
    cfg.teacher.batch.max_requests = 100  # one batch of 8; it expires with 4 unanswered
    with sim_for(cfg, problems, batch_expire=1) as server:
        ask(cfg, problems, tmp_path, server)
        stats = server.stats()["batch"]
    assert stats["created"] == 2 and stats["requests"] == 8  # the second batch held only the 4 left
    assert set(stats["answered"].values()) == {1} and len(stats["answered"]) == 8  # nothing answered twice
    records = latest_records(tmp_path)
    assert sorted(r["attempts"] for r in records.values()) == [1] * 4 + [2] * 4
    reasked = [r for r in records.values() if r["attempts"] == 2]
    assert all(r["attempt_classes"] == ["timeout"] and "batch_expired" in r["attempt_errors"][0] for r in reasked)
    events = [e for e in BatchLedger(tmp_path).events() if e["event"] == "done"]
    assert [e["status"] for e in events] == ["expired", "completed"] and len(events[0]["retry"]) == 4


def test_a_partly_failed_batch_re_asks_only_its_failures_within_max_attempts(demo, tmp_path):
    cfg, problems = demo
    cfg.teacher.batch.max_attempts = 2
    with sim_for(cfg, problems, batch_fail_rate=0.4, seed=3) as server:
        ask(cfg, problems, tmp_path, server)
        stats = server.stats()["batch"]
    records = latest_records(tmp_path)
    assert len(records) == 8 and set(journal_lines(tmp_path).values()) == {1}
    assert all(n == 1 for n in stats["answered"].values())  # what was answered once was never asked again
    for sid, record in records.items():
        assert stats["asked"][sid] == record["attempts"] <= 2  # one request per batch it was in
        assert (record["outcome"] == "failed") == (sid not in stats["answered"])
        if record["outcome"] == "failed":
            assert record["attempt_classes"] == ["5xx", "5xx"] and record["error_class"] == "5xx"
    assert stats["requests"] > 8  # some did fail (seed 3), and were asked again


def _crash_on(monkeypatch, event):
    """The driver dies right before it journals `event` (the step before it has taken effect)."""
    real = BatchLedger.append

    def append(self, name, key, **fields):
        if name == event:
            raise KeyboardInterrupt
        return real(self, name, key, **fields)

    monkeypatch.setattr(BatchLedger, "append", append)


def test_a_create_left_in_doubt_is_found_by_its_key_on_resume(demo, tmp_path, monkeypatch, capsys):
    cfg, problems = demo
    with sim_for(cfg, problems) as server:
        with monkeypatch.context() as m:
            _crash_on(m, "created")  # after batches.create answered, before its id is journaled
            with pytest.raises(KeyboardInterrupt):
                ask(cfg, problems, tmp_path, server)
        assert server.stats()["batch"]["created"] == 1
        [intent] = BatchLedger(tmp_path).open_batches()
        assert intent["batch_id"] is None
        ask(cfg, problems, tmp_path, server, session=SESSIONS[1])
        stats = server.stats()["batch"]
    assert stats["created"] == 3  # the one in doubt adopted, plus the two for the other 5 samples
    assert set(stats["asked"].values()) == {1} and len(stats["asked"]) == 8
    assert set(journal_lines(tmp_path).values()) == {1} and len(journal_lines(tmp_path)) == 8
    assert "resuming 1 batches" in capsys.readouterr().err


def test_a_batch_collected_but_not_marked_done_is_not_journaled_twice(demo, tmp_path, monkeypatch):
    cfg, problems = demo
    with sim_for(cfg, problems) as server:
        with monkeypatch.context() as m:
            _crash_on(m, "done")  # its answers are journaled; the driver dies before saying so
            with pytest.raises(KeyboardInterrupt):
                ask(cfg, problems, tmp_path, server)
        first = journal_lines(tmp_path)
        assert 0 < len(first) < 8
        ask(cfg, problems, tmp_path, server, session=SESSIONS[1])
        stats = server.stats()["batch"]
    assert stats["created"] == 3 and set(stats["asked"].values()) == {1}
    assert set(journal_lines(tmp_path).values()) == {1} and len(journal_lines(tmp_path)) == 8


def test_a_resume_polls_open_batches_and_submits_nothing_again(demo, tmp_path, monkeypatch):
    cfg, problems = demo
    with sim_for(cfg, problems, batch_hold=True) as server:
        with monkeypatch.context() as m:
            m.setattr(batch_mode.BatchRun, "wait", lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
            with pytest.raises(KeyboardInterrupt):  # Ctrl-C while the batches run
                ask(cfg, problems, tmp_path, server)
        assert server.stats()["batch"]["created"] == 3 and not journal_lines(tmp_path)
        server.release_batches()
        assert ask(cfg, problems, tmp_path, server, session=SESSIONS[1]) == 8
        stats = server.stats()["batch"]
    assert stats["created"] == 3 and stats["uploads"] == 3 and set(stats["asked"].values()) == {1}
    assert set(journal_lines(tmp_path).values()) == {1} and len(journal_lines(tmp_path)) == 8
    assert BatchLedger(tmp_path).open_batches() == []


def test_batches_of_a_simulated_teacher_that_stopped_are_asked_again(demo, tmp_path, monkeypatch):
    cfg, problems = demo
    with sim_for(cfg, problems, batch_hold=True) as gone:
        with monkeypatch.context() as m:
            m.setattr(batch_mode.BatchRun, "wait", lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
            with pytest.raises(KeyboardInterrupt):
                ask(cfg, problems, tmp_path, gone)
    with sim_for(cfg, problems) as server:  # a new one, on another port: the old batches died with it
        ask(cfg, problems, tmp_path, server, session=SESSIONS[1])
        assert server.stats()["batch"]["created"] == 3
    assert set(journal_lines(tmp_path).values()) == {1} and len(journal_lines(tmp_path)) == 8
    statuses = [e["status"] for e in BatchLedger(tmp_path).events() if e["event"] == "done"]
    assert statuses.count("abandoned") == 3


def test_open_batches_of_a_real_api_elsewhere_stop_the_run_with_one_line(demo, tmp_path, monkeypatch):
    cfg, problems = demo
    answers = reference_answers(problems)
    sim_cfg = cfg.teacher.simulated.model_copy(update=dict(batch_hold=True))
    cfg.teacher.simulated, cfg.teacher.model = None, "sim-r1"
    with SimTeacher(sim_cfg, answers) as first:
        cfg.teacher.base_url = first.base_url
        with monkeypatch.context() as m:
            m.setattr(batch_mode.BatchRun, "wait", lambda self: (_ for _ in ()).throw(KeyboardInterrupt))
            with pytest.raises(KeyboardInterrupt):
                ask(cfg, problems, tmp_path, first)
        with SimTeacher(sim_cfg, answers) as other:
            with pytest.raises(ConfigError, match=f"was sent to {first.base_url}, not {other.base_url}; point"):
                ask(cfg, problems, tmp_path, other, session=SESSIONS[1])
            assert other.stats()["batch"]["created"] == 0


def test_the_ledger_ignores_a_torn_last_line(tmp_path):
    ledger = BatchLedger(tmp_path)
    ledger.append("intent", "k", at=1.0, samples=[["c", "p", 0, []]])
    with open(ledger.path, "a") as f:
        f.write(json.dumps({"event": "created", "key": "k", "batch_id": "b"})[:20])
    [batch] = ledger.open_batches()
    assert batch["batch_id"] is None and batch["samples"] == [["c", "p", 0, []]]
