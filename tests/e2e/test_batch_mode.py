"""`teacher.mode: batch` through the CLI: the simulated teacher's Batch API over HTTP, a real local Ray for
judging, and a driver stopped (Ctrl-C, kill -9) while its batches run."""

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pyarrow.parquet as pq
import pytest

from factory.store.batches import BatchLedger
from factory.store.journal import iter_records
from factory.store.records import PUBLISHED_SCHEMA

from support.cli import ROOT, demo_answers, factory, pipeline_copy

pytestmark = pytest.mark.e2e
LIMIT = 2  # problems; 4 samples each


def batch_pipeline(tmp_path, sim, **batch):
    return pipeline_copy(tmp_path, simulated=None, base_url=sim.base_url, mode="batch",
                         batch={"poll_s": 0.1, **batch})


def start(pipeline, out) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "factory.cli", "run", str(pipeline), "--out", str(out), "--limit", str(LIMIT)]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_for(what, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def events(out, name):
    return [e for e in BatchLedger(out).events() if e["event"] == name]


def journaled_once(out) -> bool:
    ids = [r["sample_id"] for r in iter_records(out)]
    return len(ids) == len(set(ids)) == 4 * LIMIT


def test_a_batch_run_publishes_every_sample_once_at_batch_prices(tmp_path, clean_sim):
    with clean_sim(demo_answers(), batch_delay_s=0.1) as sim:
        out = tmp_path / "run"
        result = factory("run", batch_pipeline(tmp_path, sim, max_requests=3), "--out", out, "--limit", LIMIT)
        assert result.returncode == 0, result.stderr
        stats = sim.stats()
    assert stats["batch"]["created"] == 3 and stats["requests"] == 0  # 8 requests, at most 3 a file
    assert journaled_once(out) and set(stats["batch"]["answered"].values()) == {1}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["samples"] == 8 and manifest["counts"]["published"] > 0
    assert pq.read_schema(out / manifest["shards"][0]["path"]).remove_metadata() == PUBLISHED_SCHEMA
    with duckdb.connect(str(out / "provenance.duckdb"), read_only=True) as con:
        [(endpoint, prompt, completion, usd)] = con.sql(
            "SELECT endpoint, prompt_tokens, completion_tokens, usd FROM endpoint_costs").fetchall()
        [(published,)] = con.sql("SELECT count(*) FROM published JOIN requests USING (sample_id)").fetchall()
    assert endpoint == sim.base_url + "#batch" and published == manifest["counts"]["published"]
    # the demo's prices are 0.55 and 2.19 $/Mtok; through the Batch API half that
    assert usd == pytest.approx((prompt * 0.275 + completion * 1.095) / 1e6)
    status = factory("status", out)
    assert status.returncode == 0 and f"{endpoint}" in status.stdout  # the cost table's row, at batch prices


def test_ctrl_c_while_batches_run_then_resume_polls_them_and_submits_nothing(tmp_path, clean_sim):
    with clean_sim(demo_answers(), batch_hold=True) as sim:
        out, pipeline = tmp_path / "run", batch_pipeline(tmp_path, sim, max_requests=3)
        proc = start(pipeline, out)
        wait_for(lambda: len(events(out, "created")) == 3)  # all submitted; held in progress by the teacher
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 130, stderr
        assert "3 batches keep running on the server" in stderr and "run the same command again" in stderr
        assert not list(iter_records(out))  # nothing downloaded yet
        sim.release_batches()  # they finish while no driver watches
        resumed = factory("run", pipeline, "--out", out, "--limit", LIMIT)
        assert resumed.returncode == 0, resumed.stderr
        stats = sim.stats()["batch"]
    assert "resuming 3 batches" in resumed.stderr
    assert stats["created"] == stats["uploads"] == 3 and set(stats["asked"].values()) == {1}
    assert journaled_once(out) and BatchLedger(out).open_batches() == []


def test_kill_9_between_intent_and_batch_id_then_resume_finds_the_batch_by_its_key(tmp_path, clean_sim):
    # one batch of 8 whose create takes effect at once but answers only after a minute
    with clean_sim(demo_answers(), batch_create_hang_s=60) as sim:
        out, pipeline = tmp_path / "run", batch_pipeline(tmp_path, sim)
        proc = start(pipeline, out)
        wait_for(lambda: events(out, "intent") and sim.stats()["batch"]["created"] == 1)
        os.killpg(proc.pid, signal.SIGKILL)  # the batch exists; its id was never journaled
        proc.wait()
        assert events(out, "created") == []
        resumed = factory("run", pipeline, "--out", out, "--limit", LIMIT)
        assert resumed.returncode == 0, resumed.stderr
        stats = sim.stats()["batch"]
    assert stats["created"] == 1 and set(stats["asked"].values()) == {1} and len(stats["asked"]) == 8
    assert journaled_once(out)
    [created] = events(out, "created")
    assert created["key"] == events(out, "intent")[0]["key"]
