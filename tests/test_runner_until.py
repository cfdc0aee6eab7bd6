"""`teacher.until` through `run_pipeline` on the loopback simulated teacher: problems stop at k accepted,
hard ones at max_n, a run interrupted between rounds pays for nothing twice, and no `until` is a plain run.

The teacher is the real simulated one with no faults, no wrong answers and no duplicates, told the
answers of all problems but two: those it answers with a stable wrong number, so they are the hard ones.
Requests are counted at its /stats.
"""

import collections

import duckdb
import pyarrow.compute as pc
import pytest

import factory.runner
from factory.config import PipelineConfig, SimulatedTeacherConfig, load_pipeline
from factory.executor import InProcessExecutor
from factory.report.status import collect
from factory.runner import Overrides, run_pipeline
from factory.simteacher import SimTeacher
from factory.simteacher.traces import fallback_answer
from factory.stages.generate.identity import render_messages
from factory.stages.sources import load_problems
from factory.store.journal import iter_records, latest_records

from support.cli import DEMO

N, K, MAX_N, PROBLEMS, HARD = 2, 2, 5, 8, 2


@pytest.fixture
def sim():
    cfg = load_pipeline(DEMO)
    cfg.limit = PROBLEMS
    problems = load_problems(cfg)
    ok = problems.filter(pc.equal(problems["status"], "ok"))
    hard = ok["problem"].to_pylist()[:HARD]
    for text, answer in zip(hard, ok["reference_answer"].to_pylist()[:HARD], strict=True):
        prompt = render_messages(cfg.teacher, text)[-1]["content"]
        assert fallback_answer(prompt) != answer  # else that problem would not be hard
    answers = {p: a for p, a in zip(problems["problem"].to_pylist(), problems["reference_answer"].to_pylist(),
                                    strict=True) if p not in hard}
    clean = SimulatedTeacherConfig(latency_ms=2, rate_wrong=0, rate_equivalent=0, rate_truncated=0,
                                   rate_duplicate=0, rate_429=0, rate_5xx=0)
    with SimTeacher(clean, answers) as teacher:
        ids = ok["problem_id"].to_pylist()
        # what a finished run holds: k samples of an easy problem (all accepted), max_n of a hard one
        teacher.expected = {p: list(range(MAX_N if i < HARD else K)) for i, p in enumerate(ids)}
        yield teacher


def config(url: str, until: dict | None) -> PipelineConfig:
    cfg = Overrides(limit=PROBLEMS, teacher_url=url, concurrency=8).apply(load_pipeline(DEMO)).model_dump()
    cfg["teacher"].update(n=N, until=until)
    return PipelineConfig.model_validate(cfg)


def run(cfg, out):
    return run_pipeline(cfg, out, "factory run demo", executor=InProcessExecutor(workers=2))


def per_problem(out) -> dict[str, list[int]]:
    indexes = collections.defaultdict(list)
    for r in latest_records(out).values():
        indexes[r["problem_id"]].append(r["sample_index"])
    return {p: sorted(i) for p, i in indexes.items()}


UNTIL = {"accepted": K, "max_n": MAX_N}


def test_problems_stop_at_k_accepted_and_hard_ones_at_max_n(sim, tmp_path, capsys):
    out = tmp_path / "run"
    counts = run(config(sim.base_url, UNTIL), out)
    assert per_problem(out) == sim.expected
    easy = len(sim.expected) - HARD
    assert sim.stats()["requests"] == easy * K + HARD * MAX_N  # each sample asked once
    assert counts["published"] == easy * K
    log = capsys.readouterr().err
    assert f"[until] round 2: {easy} problems have {K} accepted, 0 stopped at max_n {MAX_N}, {HARD} short" in log
    assert f"{easy} problems have {K} accepted traces, {HARD} stopped at max_n {MAX_N} short of them" in log
    with duckdb.connect(str(out / "provenance.duckdb"), read_only=True) as db:  # every request of every round
        assert db.sql("SELECT count(*) FROM requests").fetchall()[0][0] == easy * K + HARD * MAX_N
    status = collect(out)
    assert status["until"] == dict(accepted=K, max_n=MAX_N, problems_done=easy, problems_short=HARD)
    assert status["generate"]["first_round"] == (easy + HARD) * N
    run(config(sim.base_url, UNTIL), out)
    assert sim.stats()["requests"] == easy * K + HARD * MAX_N  # finished: a rerun asks nothing


@pytest.mark.parametrize("crash_in", ["judge", "plan_round"])
def test_a_run_interrupted_between_rounds_asks_nothing_it_journaled(sim, tmp_path, monkeypatch, crash_in):
    """Killed after round 1 was journaled: before it was judged, or after (before round 2 was planned)."""
    out = tmp_path / "run"
    real, calls = getattr(factory.runner, crash_in), []

    def crash_on_second_call(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(factory.runner, crash_in, crash_on_second_call)
    with pytest.raises(KeyboardInterrupt):
        run(config(sim.base_url, UNTIL), out)
    first_round = sim.stats()["requests"]
    assert first_round == len(sim.expected) * N
    monkeypatch.setattr(factory.runner, crash_in, real)
    run(config(sim.base_url, UNTIL), out)
    assert per_problem(out) == sim.expected
    easy = len(sim.expected) - HARD
    assert sim.stats()["requests"] == easy * K + HARD * MAX_N  # the same as a run that was never stopped
    sessions = collections.Counter(r["session_id"] for r in iter_records(out))
    assert sorted(sessions.values()) == [HARD * (MAX_N - N), first_round]  # the resume asked only the hard ones
    assert collections.Counter(r["sample_id"] for r in iter_records(out)).most_common(1)[0][1] == 1


def test_without_until_every_problem_gets_n(sim, tmp_path, capsys):
    out = tmp_path / "run"
    counts = run(config(sim.base_url, None), out)
    assert per_problem(out) == {p: list(range(N)) for p in sim.expected}
    assert sim.stats()["requests"] == len(sim.expected) * N and counts["samples"] == len(sim.expected) * N
    assert "[until]" not in capsys.readouterr().err and "until" not in collect(out)
