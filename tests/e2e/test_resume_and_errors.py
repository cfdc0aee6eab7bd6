"""Resuming (top-up, crash), secrets, and one-line errors for bad input, through the CLI."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import openai
import pytest
from conftest import DEMO, ROOT, factory, pipeline_copy

from factory.journal import latest_records
from factory.runner import load_problems
from factory.config import load_pipeline

pytestmark = pytest.mark.e2e
SECRET = "sk-test-secret-do-not-write-123"


def demo_answers():
    table = load_problems(load_pipeline(DEMO))
    return dict(zip(table["problem"].to_pylist(), table["reference_answer"].to_pylist()))


def all_bytes(path):
    return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())


def test_topup_asks_only_new_problems_and_never_writes_the_key(tmp_path, clean_sim):
    with clean_sim(demo_answers()) as sim:
        pipeline = pipeline_copy(tmp_path, simulated=None, base_url=sim.base_url, api_key_env="TEST_TEACHER_KEY")
        out = tmp_path / "run"
        env = {"TEST_TEACHER_KEY": SECRET}
        first = factory("run", pipeline, "--out", out, "--limit", 10, env=env)
        assert first.returncode == 0, first.stderr
        assert sim.stats()["requests"] == 40
        second = factory("run", pipeline, "--out", out, "--limit", 15, env=env)
        assert second.returncode == 0, second.stderr
        assert sim.stats()["requests"] == 60  # only the 5 new problems x 4 samples
    assert SECRET.encode() not in all_bytes(out)


def test_kill_9_then_resume_loses_nothing_and_duplicates_nothing(tmp_path, clean_sim):
    limit = 150
    with clean_sim(demo_answers(), latency_ms=300) as sim:
        pipeline = pipeline_copy(tmp_path, simulated=None, base_url=sim.base_url, concurrency=32, batch_size=64)
        out = tmp_path / "run"
        cmd = [sys.executable, "-m", "factory.cli", "run", str(pipeline), "--out", str(out), "--limit", str(limit)]
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.time() + 120
        while time.time() < deadline and len(latest_records(out)) < 100 if out.exists() else True:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and everything it started, mid-run
        proc.wait()
        stored = len(latest_records(out))
        assert 0 < stored < 4 * limit
        resumed = factory("run", pipeline, "--out", out, "--limit", limit)
        assert resumed.returncode == 0, resumed.stderr
        # paid but lost: requests in flight at the kill (workers die a moment after the driver)
        repaid = sim.stats()["requests"] - 4 * limit
        assert 0 <= repaid <= 2 * 32, f"re-paid {repaid} requests"
        print(f"kill -9 after {stored} stored samples: {repaid} requests re-paid")
    records = latest_records(out)
    assert len(records) == 4 * limit
    import duckdb
    ids = [r[0] for r in duckdb.connect().execute(f"SELECT id FROM read_parquet('{out}/data/*.parquet')").fetchall()]
    assert len(ids) == len(set(ids)) > 0


def _one_line_failure(result):
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_bad_yaml_and_unknown_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [oops\n")
    assert "not valid YAML" in _one_line_failure(factory("run", bad, "--out", tmp_path / "o"))
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(DEMO.read_text().replace("n: 4", "n: 4\n  samples: 8"))
    assert "teacher.samples: unknown key" in _one_line_failure(factory("validate", unknown))
    assert not (tmp_path / "o").exists()


def test_missing_source_file_writes_nothing(tmp_path):
    pipeline = pipeline_copy(tmp_path)
    pipeline.write_text(pipeline.read_text().replace("problems.jsonl", "nope.jsonl"))
    line = _one_line_failure(factory("run", pipeline, "--out", tmp_path / "o"))
    assert "nope.jsonl" in line and "not found" in line
    assert not (tmp_path / "o").exists()


def test_unreachable_teacher_writes_nothing(tmp_path):
    line = _one_line_failure(factory("run", DEMO, "--out", tmp_path / "o", "--teacher-url", "http://127.0.0.1:9/v1",
                                     "--limit", 2))
    assert "http://127.0.0.1:9/v1" in line and "unreachable" in line
    assert not (tmp_path / "o").exists()


def test_problems_without_reference_are_recorded_not_fatal():
    table = load_problems(load_pipeline(DEMO))
    statuses = table["status"].to_pylist()
    assert statuses.count("no_reference") == 5 and statuses.count("contaminated") == 10
    assert statuses.count("duplicate") == 25


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sim_teacher_command_serves_known_answers():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port), "--problems",
                             str(DEMO), "--latency-ms", "0", "--rate-wrong", "0", "--rate-truncated", "0",
                             "--rate-equivalent", "0", "--rate-429", "0", "--rate-5xx", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        problem, answer = next(iter(demo_answers().items()))
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="sim-r1", messages=[{"role": "user", "content": problem}])
        assert f"\\boxed{{{answer}}}" in reply.choices[0].message.content
        import json
        stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())
        assert stats["requests"] == stats["completions"] == 1
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
