"""The generate stage on the in-process executor: the real teacher workers ask the simulated teacher over
HTTP and every result is journaled before it counts; no Ray."""

import pytest

from factory.config import load_pipeline
from factory.errors import TeacherUnreachable
from factory.executor import InProcessExecutor
from factory.meter.progress import Progress
from factory.simteacher import SimTeacher
from factory.stages.generate.stage import _warn_if_no_reasoning, generate, settings_for
from factory.stages.sources import load_problems, reference_answers
from factory.store.journal import iter_records, latest_records, lost_requests
from factory.teacher.endpoint import Endpoint

from support.cli import DEMO

SESSION = "20260101T000000-aaaaaa"


@pytest.fixture
def demo():
    cfg = load_pipeline(DEMO)
    cfg.limit = 6
    cfg.teacher.concurrency = 8
    cfg.teacher.max_attempts = 2
    cfg.teacher.simulated = cfg.teacher.simulated.model_copy(update=dict(latency_ms=5, rate_429=0, rate_5xx=0))
    return cfg, load_problems(cfg)


def ask(cfg, problems, run_dir, session=SESSION, sim=None, **kw):
    with SimTeacher(sim or cfg.teacher.simulated, reference_answers(problems)) as server:
        settings = settings_for(cfg, [Endpoint(server.base_url, "sim-r1", "")], session)
        asked = generate(cfg, problems, settings, run_dir, InProcessExecutor(workers=2), **kw)
        return asked, server.stats()


def test_every_sample_is_asked_once_and_journaled(demo, tmp_path):
    cfg, problems = demo
    asked, stats = ask(cfg, problems, tmp_path)
    ok = sum(s == "ok" for s in problems["status"].to_pylist())
    assert ok == 6 and asked == 6 * cfg.teacher.n
    records = list(iter_records(tmp_path))
    assert len(records) == asked == stats["requests"]  # one request per sample: no faults, no re-asks
    assert len({r["sample_id"] for r in records}) == asked
    assert {r["session_id"] for r in records} == {SESSION}
    assert lost_requests(tmp_path) == {SESSION: 0}  # every started request's result is in the journal


def test_a_second_session_asks_nothing(demo, tmp_path, capsys):
    cfg, problems = demo
    first, _ = ask(cfg, problems, tmp_path)
    again, stats = ask(cfg, problems, tmp_path, session="20260101T000001-bbbbbb")
    assert first > 0 and again == 0 and stats["requests"] == 0
    assert "nothing missing" in capsys.readouterr().err
    assert len(latest_records(tmp_path)) == first


def test_a_teacher_that_fails_every_request_stops_the_stage(demo, tmp_path):
    cfg, problems = demo
    broken = cfg.teacher.simulated.model_copy(update=dict(rate_5xx=1.0))
    with pytest.raises(TeacherUnreachable, match="all 24 requests failed after retries"):
        ask(cfg, problems, tmp_path, sim=broken)
    records = list(iter_records(tmp_path))
    assert len(records) == 24 and {r["outcome"] for r in records} == {"failed"}
    assert {r["error_class"] for r in records} == {"5xx"}
    assert all(r["attempt_classes"] == ["5xx", "5xx"] for r in records)  # max_attempts 2, each classed


def test_a_teacher_without_reasoning_is_reported_once_enough_samples_are_in(capsys):
    progress = Progress("t", 200)
    progress.add([{"outcome": "failed"}] * 60 + [{"outcome": "complete", "reasoning_source": "none"}] * 30)
    assert not _warn_if_no_reasoning(progress)  # 60 failures settle nothing: too few complete samples
    progress.add([{"outcome": "complete", "reasoning_source": "none"}] * 15
                 + [{"outcome": "complete", "reasoning_source": "think_tags"}] * 5)
    assert _warn_if_no_reasoning(progress)
    assert "WARNING: 45 of 50 complete samples carry no reasoning" in capsys.readouterr().err
    healthy = Progress("t", 10)
    healthy.add([{"outcome": "complete", "reasoning_source": "reasoning_content"}] * 10)
    assert _warn_if_no_reasoning(healthy) and "WARNING" not in capsys.readouterr().err


def test_a_small_run_is_judged_at_its_end_on_what_completed(capsys):
    progress = Progress("t", 20)
    progress.add([{"outcome": "failed"}] * 4 + [{"outcome": "complete", "reasoning_source": "none"}] * 16)
    assert not _warn_if_no_reasoning(progress)  # 16 of 20 complete: not settled while running
    assert _warn_if_no_reasoning(progress, final=True)
    assert "WARNING: 16 of 16 complete samples carry no reasoning" in capsys.readouterr().err
