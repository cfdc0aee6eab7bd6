"""`factory status RUN_DIR --watch`: redraws with rates and an ETA, stops by itself when the run ends, and on
Ctrl-C; on a real run going in the background too."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pytest
from click.testing import CliRunner

from factory.cli import main
from factory.config import PipelineConfig
from factory.report.runstate import lock_held, run_state
from factory.report.status import collect
from factory.report.watch import CLEAR, watch
from factory.store.journal import Journal
from factory.store.records import PROBLEM_SCHEMA

from support import runs
from support.cli import ROOT, demo_answers, pipeline_copy

SESSION = "20260101T000000-aaaaaa"


def _rec(i: int) -> dict:
    return {"sample_id": f"s{i}", "problem_id": f"p{i // 2}", "sample_index": i % 2, "session_id": SESSION,
            "model": "m", "endpoint": "http://api/v1", "messages": [{"role": "user", "content": "q"}],
            "sampling": json.dumps({"max_tokens": 10}), "prompt_template_hash": "h", "attempts": 1,
            "outcome": "complete", "error": None, "finish_reason": "stop", "reasoning": "r", "answer": "a",
            "reasoning_source": "think_tags", "think_closed": True, "prompt_tokens": 10, "completion_tokens": 100,
            "reasoning_tokens": 80, "started_at": float(i), "finished_at": i + 1.0, "latency_s": 1.0}


def _log_session(run_dir, finished: bool) -> None:
    line = dict(session_id=SESSION, started_at="2026-01-01T00:00:00+00:00", finished_at=None, command="factory run x")
    lines = [line] + ([line | {"finished_at": "2026-01-01T00:10:00+00:00"}] if finished else [])
    (run_dir / "sessions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


@pytest.fixture
def run_dir(tmp_path):
    """A run of 5 problems x n=2 that has journaled nothing yet; its session has started, not finished."""
    cfg = PipelineConfig.model_validate(dict(
        name="t", sources=[{"name": "a", "kind": "jsonl", "path": "x.jsonl"}], tokenizer={"name": "t.json"},
        teacher={"base_url": "http://api/v1", "model": "m", "n": 2}))
    (tmp_path / "run.json").write_text(json.dumps({"run_id": "r1", "pipeline": "t"}))
    (tmp_path / "config.resolved.json").write_text(json.dumps(cfg.stored()))
    problems = [runs.problem(f"Problem {k}", str(k), row=str(k)) for k in range(5)]
    pa.parquet.write_table(pa.Table.from_pylist(problems, schema=PROBLEM_SCHEMA), tmp_path / "problems.parquet")
    (tmp_path / ".lock").touch()
    _log_session(tmp_path, finished=False)
    return tmp_path


@pytest.fixture
def held(run_dir):
    """The run directory's lock held, as a `factory run` holds it for its whole session."""
    with open(run_dir / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield run_dir


def test_the_run_state_comes_from_the_sessions_and_the_lock(run_dir, tmp_path_factory):
    assert run_state(tmp_path_factory.mktemp("empty")) == "starting"
    assert lock_held(run_dir) is False and run_state(run_dir) == "stopped"
    with open(run_dir / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert lock_held(run_dir) is True and run_state(run_dir) == "going"
    _log_session(run_dir, finished=True)
    assert run_state(run_dir) == "finished"


def test_redraws_show_rates_since_the_last_one_and_an_eta_until_the_run_finishes(held):
    run_dir = held
    journal = Journal(run_dir, SESSION)
    clock = iter([100.0, 102.0, 104.0, 106.0])
    redraws = []

    def sleep(seconds):
        assert seconds == 2.0
        n = len(redraws)
        if n == 1:  # 4 samples journaled (and 4 more sent) in the first 2 s
            journal.append([_rec(i) for i in range(4)], started=[f"s{i}" for i in range(8)])
        elif n == 2:  # 2 more in the next 2 s
            journal.append([_rec(i) for i in range(4, 6)])
        elif n == 3:
            _log_session(run_dir, finished=True)

    stopped = watch(run_dir, interval=2.0, echo=redraws.append, clock=lambda: next(clock), sleep=sleep)
    journal.close()
    assert stopped == "finished" and redraws[-1] == "run finished"
    blocks = redraws[:-1]
    assert len(blocks) == 4 and all(not b.startswith(CLEAR) and b.endswith("\n") for b in blocks)
    assert "(going; Ctrl-C stops)" in blocks[0].splitlines()[0] and "(finished;" in blocks[3].splitlines()[0]
    assert "  eta       unknown yet (10 samples left of 10, none journaled since the watch began)" in blocks[0]
    # 4 samples of 100 completion tokens in 2 s; the ETA runs from that rate: 6 left at 2/s
    assert ("  rate      samples/s=2.0  judged/s=0.0  tokens/s=200  (tokens: completion; over the last 2.0s)"
            in blocks[1])
    assert "  eta       3s for 6 samples left of 10" in blocks[1]
    # requests not answered yet in a going session are in flight, not lost
    assert "requests=4  lost_requests=0  in_flight=4" in blocks[1]
    assert "samples/s=1.0" in blocks[2] and "  eta       3s for 4 samples left of 10" in blocks[2]  # 6 in 4 s
    assert "requests=6  lost_requests=0  in_flight=2" in blocks[2]
    # the session finished without answering two: those are lost
    assert "requests=6  lost_requests=2  gpu_hours" in blocks[3]


def test_a_finished_run_gives_one_block_and_returns_by_itself(run_dir):
    _log_session(run_dir, finished=True)
    res = CliRunner().invoke(main, ["status", str(run_dir), "--watch", "--interval", "5"])
    assert res.exit_code == 0, res.output
    assert res.output.count("watching ") == 1 and res.output.rstrip().endswith("run finished")
    assert "  generate  expected=10  journaled=0" in res.output and CLEAR not in res.output


def test_a_run_nobody_holds_is_not_watched_forever(run_dir):
    res = CliRunner().invoke(main, ["status", str(run_dir), "--watch", "--interval", "5"])
    assert res.exit_code == 0 and res.output.count("watching ") == 1
    assert "the run is not going: its last session did not finish (crashed or killed)" in res.output


def test_follow_keeps_watching_a_finished_run_and_a_terminal_is_redrawn_in_place(run_dir):
    _log_session(run_dir, finished=True)
    redraws, sleeps = [], []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise KeyboardInterrupt

    assert watch(run_dir, interval=0.5, follow=True, tty=True, echo=redraws.append, sleep=sleep) == "interrupted"
    assert len(redraws) == 3 and all(r.startswith(CLEAR) for r in redraws)


def test_a_file_is_one_line_and_a_directory_not_there_yet_is_waited_for(tmp_path):
    (tmp_path / "file").write_text("x")
    res = CliRunner().invoke(main, ["status", str(tmp_path / "file"), "--watch"])
    assert res.exit_code == 1 and "is a file; pass the --out" in res.output
    redraws = []
    watch(tmp_path / "later", echo=redraws.append, sleep=lambda s: (_ for _ in ()).throw(KeyboardInterrupt))
    assert f"no directory {str(tmp_path / 'later')!r} yet: waiting for a `factory run --out` there" in redraws[0]


def test_a_run_that_has_not_written_its_files_yet_is_waited_for(tmp_path):
    redraws = []
    with open(tmp_path / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        watch(tmp_path, interval=0.1, echo=redraws.append, sleep=lambda s: (_ for _ in ()).throw(KeyboardInterrupt))
    assert "waiting for the run to write its files" in redraws[0]


def test_ctrl_c_stops_a_watch_cleanly_with_exit_0(held):
    proc = subprocess.Popen([sys.executable, "-m", "factory.cli", "status", str(held), "--watch", "--interval", "0.2"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    seen = ""
    while seen.count("watching ") < 2 and time.monotonic() < deadline:
        seen += proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and err == "" and seen.count("watching ") >= 2


@pytest.mark.e2e
def test_watching_a_real_run_going_in_the_background(tmp_path):
    from factory.config import SimulatedTeacherConfig
    from factory.simteacher import SimTeacher

    # no faults, 48 samples 4 at a time in about 3.6 s: several redraws see them arrive
    with SimTeacher(SimulatedTeacherConfig(latency_ms=300, rate_429=0, rate_5xx=0), demo_answers()) as sim:
        pipeline = pipeline_copy(tmp_path, simulated=None, base_url=sim.base_url, concurrency=4, batch_size=8)
        out = tmp_path / "run"
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        run = subprocess.Popen([sys.executable, "-m", "factory.cli", "run", str(pipeline), "--out", str(out),
                                "--limit", "12"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
        try:
            watched = subprocess.run([sys.executable, "-m", "factory.cli", "status", str(out), "--watch",
                                      "--interval", "0.5"], cwd=ROOT, env=env, capture_output=True, text=True,
                                     timeout=240)
        finally:
            _, run_err = run.communicate(timeout=240)
    assert run.returncode == 0, run_err
    assert watched.returncode == 0, watched.stderr
    blocks = watched.stdout.split("watching ")[1:]
    assert len(blocks) >= 3 and watched.stdout.rstrip().endswith("run finished")
    # it saw the samples arrive, at a rate, with an ETA, and stopped once the session logged its finish
    rates = [float(line.split("samples/s=")[1].split()[0]) for b in blocks for line in b.splitlines()
             if "samples/s=" in line]
    assert max(rates) > 0 and any("  eta       " in b and "samples left of 48" in b for b in blocks)
    assert "(finished;" in blocks[-1] and f"published={collect(out)['publish']['published']}" in blocks[-1]


def test_interval_and_follow_need_watch(run_dir):
    res = CliRunner().invoke(main, ["status", str(run_dir), "--follow"])
    assert res.exit_code == 2 and "--interval and --follow go with --watch" in res.output
