"""`teacher.serve`: the run starts its own teacher servers (here the simulated teacher, through `command:`) as
Ray actors on a real local Ray, restarts one killed with SIGKILL mid-run, and stops them all at the end or on
Ctrl-C; every sample is journaled exactly once."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from support.cli import ROOT, factory, pipeline_copy

pytestmark = pytest.mark.e2e


def servers(marker: str) -> set[int]:
    """Pids of live processes whose command line holds `marker` (each test's own pipeline path)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if marker in cmdline and "sim-teacher" in cmdline and "zombie" not in state:
            found.add(int(entry.name))
    return found


def serve_pipeline(tmp_path: Path, latency_ms: int, concurrency: int, **serve) -> tuple[Path, str]:
    """The demo pipeline, its teacher two simulated teachers the run starts itself (no GPUs, no CPUs held)."""
    path = tmp_path / "pipeline.yaml"
    command = (f"{{python}} -m factory.cli sim-teacher --port {{port}} --host {{host}} --problems {path} "
               f"--latency-ms {latency_ms} --rate-429 0 --rate-5xx 0 --rate-truncated 0 --seed 7")
    spec = dict(command=command, gpus_per_replica=0, cpus_per_replica=0, replicas=2, shutdown_grace_s=5) | serve
    pipeline_copy(tmp_path, simulated=None, model="sim-r1", price={"gpu_hour": 3.0}, serve=spec,
                  concurrency=concurrency, batch_size=16)
    return path, str(path)


def journal(out: Path) -> list[dict]:
    return [json.loads(line) for p in sorted((out / "journal").glob("*.jsonl")) for line in p.read_text().splitlines()]


def journaled(out: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in (out / "journal").glob("*.jsonl")) if (out / "journal").exists() \
        else 0


def test_a_replica_killed_mid_run_is_restarted_and_every_sample_is_journaled_once(tmp_path):
    pipeline, marker = serve_pipeline(tmp_path, latency_ms=300, concurrency=8)
    out, limit, n = tmp_path / "run", 60, 4
    seen, killed = set(), {}

    def kill_one_mid_run():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            seen.update(servers(marker))
            if len(seen) == 2 and journaled(out) >= limit * n // 6:  # a sixth of the samples are in
                victim = min(seen)
                os.kill(victim, signal.SIGKILL)
                killed.update(pid=victim, at=time.time())
            time.sleep(0.05)
        while time.monotonic() < deadline and not (servers(marker) - seen):
            time.sleep(0.05)  # until its replacement is up
        seen.update(servers(marker))

    watcher = threading.Thread(target=kill_one_mid_run, daemon=True)
    watcher.start()
    result = factory("run", pipeline, "--out", out, "--limit", limit, timeout=240)
    watcher.join(timeout=5)
    assert result.returncode == 0, result.stderr[-3000:]
    assert killed, "the run ended before a server could be killed"

    # restarted, and said so
    assert "restart 1 of 3" in result.stderr and "ready again at" in result.stderr, result.stderr
    replicas = [json.loads(line) for line in (out / "replicas.jsonl").read_text().splitlines()]
    assert sorted(r["restarts"] for r in replicas) == [0, 1]
    victim = next(r for r in replicas if any(e.get("pid") == killed["pid"] for e in r["events"]))
    assert victim["restarts"] == 1 and [e["kind"] for e in victim["events"]].count("ready") == 2
    spawned = [e for e in victim["events"] if e["kind"] == "spawned"]
    assert spawned[0]["port"] == spawned[1]["port"]  # the URL the workers hold stays right

    # every sample journaled exactly once, none failed, each published row once
    records = journal(out)
    ids = [r["sample_id"] for r in records]
    assert len(ids) == limit * n and len(set(ids)) == len(ids)
    assert "failed" not in {r["outcome"] for r in records}
    published = pq.read_table(out / "data").column("id").to_pylist()
    assert published and len(set(published)) == len(published)
    # what the killed server had in flight failed as transient (the SDK reports the cut connection as a
    # timeout or a connection error) and was retried and answered
    retried = [r for r in records if r["attempts"] > 1]
    assert retried and all(set(r["attempt_classes"]) <= {"timeout", "connection"} for r in retried)
    # both replicas served; the restarted one was taken back into the pool (same URL, answers after the kill)
    by_endpoint = {r["endpoint"] for r in records}
    assert by_endpoint == {r["endpoint"] for r in replicas}
    assert any(r["endpoint"] == victim["endpoint"] and r["finished_at"] > killed["at"] for r in records)

    # every server process is gone
    assert seen and not (seen & servers(marker)), servers(marker)
    # lifetimes are recorded for the cost report; 0 GPUs per replica cost nothing at any GPU-hour price
    assert all(r["stopped_at"] > r["started_at"] for r in replicas)
    status = factory("status", out)
    assert status.returncode == 0, status.stderr


def test_ctrl_c_stops_every_server(tmp_path):
    pipeline, marker = serve_pipeline(tmp_path, latency_ms=500, concurrency=4)
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    proc = subprocess.Popen([sys.executable, "-m", "factory.cli", "run", str(pipeline), "--out", str(out),
                             "--limit", "100"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline, seen = time.monotonic() + 120, set()
        while time.monotonic() < deadline and (len(seen) < 2 or journaled(out) < 4):
            seen.update(servers(marker))
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.05)
        assert len(seen) == 2 and journaled(out) >= 4
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-3000:]
    assert "interrupted" in stderr and "replicas stopped" in stderr, stderr[-3000:]
    assert not servers(marker)
    # the interrupted session's replicas are charged too
    assert len((out / "replicas.jsonl").read_text().splitlines()) == 2
