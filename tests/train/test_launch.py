"""Training as a user launches it: the CLI, a 2-process data-parallel run (torchrun, gloo on CPUs), and a
kill between stages that the same command resumes."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time

from support.cli import ROOT, factory
from support.train import write_config


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_processes_train_data_parallel_and_one_writes(demo_run, tmp_path):
    config = write_config(tmp_path, demo_run, stages=[{"max_length": 512, "max_steps": 3},
                                                      {"max_length": 2048, "max_steps": 2}])
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")} | {"OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--standalone", "-m", "factory.cli", "train", str(config), "--out", str(out)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / "training.json").read_text())
    assert [(s["name"], s["processes"], s["steps"]) for s in record["stages"]] == \
        [("stage-1-512", 2, 3), ("stage-2-2048", 2, 2)]
    assert result.stdout.count("trained 2 stage(s)") == 1  # one process speaks for the run
    assert result.stderr.count("[train] stage-1-512: sft on") == 1
    assert (out / "final" / "model.safetensors").is_file()


def test_a_kill_between_stages_resumes_at_the_next_stage(demo_run, tmp_path):
    config = write_config(tmp_path, demo_run, stages=[{"max_length": 512, "max_steps": 2},
                                                      {"max_length": 2048, "max_steps": 40}])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "factory.cli", "train", str(config), "--out", str(out)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    first = out / "stage-1-512" / "model.safetensors"
    deadline = time.monotonic() + 240
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # into stage 2
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first.exists() and not (out / "final").exists(), "the kill came too late to test a resume"
    before = _sha(first)
    record = json.loads((out / "training.json").read_text())
    assert [s["name"] for s in record["stages"]] == ["stage-1-512"]
    # the rerun of the same command (a shorter stage 2 would be another config: refused)
    result = factory("train", config, "--out", out, timeout=280)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stage-1-512: done in an earlier session, kept" in result.stderr
    assert "stage-2-2048: sft on" in result.stderr and "stage-1-512: sft on" not in result.stderr
    assert _sha(first) == before
    record = json.loads((out / "training.json").read_text())
    assert [s["name"] for s in record["stages"]] == ["stage-1-512", "stage-2-2048"] and (out / "final").is_dir()
