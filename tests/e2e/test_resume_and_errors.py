"""Resuming (top-up, crash), secrets, and one-line errors for bad input, through the CLI."""

import os
import signal
import subprocess
import sys
import time
import urllib.request

import openai
import pytest

from factory.config import load_pipeline
from factory.stages.sources import load_problems
from factory.store.journal import latest_records
from factory.teacher.asker import TRANSIT_SHARE

from support.cli import DEMO, ROOT, demo_answers, factory, free_port, pipeline_copy, wait_until_up

pytestmark = pytest.mark.e2e
SECRET = "sk-test-secret-do-not-write-123"



def all_bytes(path):
    return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())


def test_topup_asks_only_new_problems_and_never_writes_the_key(tmp_path, clean_sim):
    with clean_sim(demo_answers()) as sim:
        pipeline = pipeline_copy(tmp_path, simulated=None, base_url=sim.base_url, api_key_env="TEST_TEACHER_KEY")
        out = tmp_path / "run"
        env = {"TEST_TEACHER_KEY": SECRET}
        first = factory("run", pipeline, "--out", out, "--limit", 10, env=env)
        assert first.returncode == 0, first.stderr
        assert sim.stats()["requests"] == 40, first.stderr
        second = factory("run", pipeline, "--out", out, "--limit", 15, env=env)
        assert second.returncode == 0, second.stderr
        assert sim.stats()["requests"] == 60, second.stderr  # only the 5 new problems x 4 samples
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
        while time.time() < deadline and (not out.exists() or len(latest_records(out)) < 100):
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and everything it started, mid-run
        proc.wait()
        stored = len(latest_records(out))
        assert 0 < stored < 4 * limit
        resumed = factory("run", pipeline, "--out", out, "--limit", limit)
        assert resumed.returncode == 0, resumed.stderr
        # paid but lost: requests in flight at the kill (workers die a moment after the driver)
        repaid = sim.stats()["requests"] - 4 * limit
        window = 32 + int(32 * TRANSIT_SHARE)  # in flight, plus results on their way to the journal
        assert 0 <= repaid <= window, f"re-paid {repaid} requests, more than the window of {window}"
        print(f"kill -9 after {stored} stored samples: {repaid} requests re-paid")
    records = latest_records(out)
    assert len(records) == 4 * limit
    import duckdb
    ids = [r[0] for r in duckdb.connect().execute(f"SELECT id FROM read_parquet('{out}/data/*/*.parquet')").fetchall()]
    assert len(ids) == len(set(ids)) > 0
    con = duckdb.connect(str(out / "provenance.duckdb"), read_only=True)
    lost = con.execute("SELECT sum(lost_requests) FROM sessions").fetchone()[0]
    assert 0 < lost <= repaid  # counted from start notices: a lower bound of what the kill cost


def test_failed_samples_wait_for_retry_failed(tmp_path, clean_sim):
    out = tmp_path / "run"
    with clean_sim(demo_answers(), rate_5xx=1.0) as broken:
        pipeline = pipeline_copy(tmp_path, simulated=None, base_url=broken.base_url, max_attempts=2)
        line = _one_line_failure(factory("run", pipeline, "--out", out, "--limit", 2), before_any_work=False)
        assert "all 8 requests failed" in line and "--retry-failed" in line
        assert broken.stats()["requests"] == 16  # 2 attempts each, every one paid for and recorded
    with clean_sim(demo_answers()) as healthy:
        pipeline = pipeline_copy(tmp_path, simulated=None, base_url=healthy.base_url)
        plain = factory("run", pipeline, "--out", out, "--limit", 2)
        assert plain.returncode == 0 and "8 stored samples failed" in plain.stderr
        assert healthy.stats()["requests"] == 0
        retried = factory("run", pipeline, "--out", out, "--limit", 2, "--retry-failed")
        assert retried.returncode == 0, retried.stderr
        assert healthy.stats()["requests"] == 8
    latest = latest_records(out)
    assert len(latest) == 8 and {r["outcome"] for r in latest.values()} <= {"complete", "truncated_reasoning"}


def test_wrong_url_path_is_refused_before_anything_is_written(tmp_path, clean_sim):
    with clean_sim({}) as sim:
        wrong = sim.base_url.removesuffix("/v1") + "/api"
        line = _one_line_failure(factory("run", DEMO, "--out", tmp_path / "o", "--teacher-url", wrong, "--limit", 1))
    assert "404" in line and "/v1" in line
    assert not (tmp_path / "o").exists()


def _one_line_failure(result, before_any_work=True):
    """Exit 1 and one `error:` line: the only line when nothing had started, else the last one."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and (len(lines) == 1 or not before_any_work), result.stderr
    return lines[-1]


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


def test_a_template_that_drops_the_reasoning_stops_the_run_before_the_teacher_is_paid(tmp_path):
    pipeline = pipeline_copy(tmp_path)
    (tmp_path / "r1.jinja").write_text("{% for m in messages %}{{ m['content'].split('</think>')[-1] }}{% endfor %}")
    pipeline.write_text(pipeline.read_text().replace(str(ROOT / "datasets" / "demo" / "chat_template.jinja"),
                                                     str(tmp_path / "r1.jinja")))
    line = _one_line_failure(factory("run", pipeline, "--out", tmp_path / "o", "--limit", 2))
    assert "drops the reasoning" in line
    assert not (tmp_path / "o").exists()  # nothing asked, nothing written


def test_unreachable_teacher_writes_nothing(tmp_path):
    line = _one_line_failure(factory("run", DEMO, "--out", tmp_path / "o", "--teacher-url", "http://127.0.0.1:9/v1",
                                     "--limit", 2))
    assert "http://127.0.0.1:9/v1" in line and "unreachable" in line
    assert not (tmp_path / "o").exists()


def test_demo_sources_hold_missing_references_duplicates_and_eval_copies():
    table = load_problems(load_pipeline(DEMO))
    statuses = table["status"].to_pylist()
    assert statuses.count("no_reference") == 5 and statuses.count("contaminated") == 10
    assert statuses.count("duplicate") == 25



def test_sim_teacher_command_serves_known_answers():
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port), "--problems",
                             str(DEMO), "--latency-ms", "0", "--rate-wrong", "0", "--rate-truncated", "0",
                             "--rate-equivalent", "0", "--rate-429", "0", "--rate-5xx", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health")
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


def test_endpoint_that_refuses_every_request_stops_the_run(tmp_path):
    """A server whose /models works but which answers 401 to completions (a revoked key, say)."""
    import asyncio
    import threading

    from aiohttp import web

    async def models(_):
        return web.json_response({"object": "list", "data": []})

    async def refuse(_):
        return web.json_response({"error": {"message": "invalid api key", "type": "auth"}}, status=401)

    app = web.Application()
    app.add_routes([web.get("/v1/models", models), web.post("/v1/chat/completions", refuse)])
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    port = free_port()
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        result = factory("run", DEMO, "--out", tmp_path / "o", "--teacher-url", f"http://127.0.0.1:{port}/v1",
                         "--limit", 3)
    finally:
        loop.call_soon_threadsafe(loop.stop)
    line = _one_line_failure(result, before_any_work=False)
    assert "401" in line and "API key" in line
    assert latest_records(tmp_path / "o") == {}  # nothing recorded as if the samples were at fault


def test_raising_the_budget_re_asks_only_truncated_samples(tmp_path, clean_sim):
    out = tmp_path / "run"
    with clean_sim(demo_answers(), rate_truncated=0, mean_reasoning_tokens=300) as sim:
        small = pipeline_copy(tmp_path, simulated=None, base_url=sim.base_url,
                              sampling={"max_tokens": 250, "temperature": 0.6, "top_p": 0.95})
        assert factory("run", small, "--out", out, "--limit", 5).returncode == 0
        first = latest_records(out)
        truncated = {sid for sid, r in first.items() if r["outcome"].startswith("truncated")}
        assert 0 < len(truncated) < 20 and sim.stats()["requests"] == 20
        large = pipeline_copy(tmp_path, simulated=None, base_url=sim.base_url,
                              sampling={"max_tokens": 8192, "temperature": 0.6, "top_p": 0.95})
        again = factory("run", large, "--out", out, "--limit", 5)
        assert again.returncode == 0, again.stderr
        assert sim.stats()["requests"] == 20 + len(truncated)
    second = latest_records(out)
    assert set(second) == set(first)  # same sample ids: the budget is not part of a sample's identity
    assert all(second[sid]["outcome"] == "complete" for sid in truncated)
    import duckdb
    con = duckdb.connect(str(out / "provenance.duckdb"), read_only=True)
    reasons = dict(con.execute("SELECT sample_id, reason FROM verdicts").fetchall())
    assert all(reasons[sid] != "truncated" for sid in truncated)  # the new replies were judged again
