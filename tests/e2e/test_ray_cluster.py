"""A run on a Ray cluster named by RAY_ADDRESS: an external `ray start --head`, and a second node that cannot
read the driver's files, so everything the workers need must travel with the work.

The head has no CPUs, so every task and worker runs on the second node. That node starts in a mount namespace
where the test's directory (pipeline, tokenizer, run directory) is an empty tmpfs: a worker that opened the
driver's `tokenizer.json` or wrote into the run directory would fail the run.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from support.cli import ROOT, factory, free_port, pipeline_copy

pytestmark = pytest.mark.e2e

RAY = Path(sys.executable).with_name("ray")


def _can_hide_a_directory() -> bool:
    if shutil.which("unshare") is None or not RAY.exists():
        return False
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            "mount -t tmpfs none /mnt && umount /mnt"], capture_output=True)
    return probe.returncode == 0


def _stop(proc: subprocess.Popen) -> None:
    """The process group of one `ray start --block`: its GCS, raylet and workers (never `ray stop`)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for_nodes(address: str, count: int, env: dict, seconds: float = 90) -> None:
    code = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
            "print(sum(n['Alive'] for n in ray.nodes()))")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out = subprocess.run([sys.executable, "-c", code, address], capture_output=True, text=True, env=env,
                             timeout=60)
        if out.returncode == 0 and out.stdout.strip().splitlines()[-1:] == [str(count)]:
            return
        time.sleep(1)
    raise AssertionError(f"the cluster at {address} never had {count} live nodes")


@pytest.fixture(scope="module")
def two_node_cluster(tmp_path_factory):
    """(address, hidden dir, env): a head with 0 CPUs and a 2-CPU node that cannot see `hidden` (one cluster for
    the module's tests: starting one takes a while)."""
    if not _can_hide_a_directory():
        pytest.skip("needs `unshare --mount` (root) to hide the driver's files from the second node")
    hidden = tmp_path_factory.mktemp("cluster") / "driver-only"
    hidden.mkdir()
    temp = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))  # short: Ray's unix sockets live under it
    port = free_port()
    address = f"127.0.0.1:{port}"
    # `ray start --head` clusters use token auth (Ray 2.60); clients send the token from ~/.ray/auth_token
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | {"RAY_USAGE_STATS_ENABLED": "0",
                                                                           "RAY_AUTH_MODE": "token"}
    head = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=0",
         "--include-dashboard=false", f"--temp-dir={temp}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    worker = None
    try:
        _wait_for_nodes(address, 1, env)
        hide = f"mount -t tmpfs none {hidden} && exec {RAY} start --block --address={address} " \
               "--node-ip-address=127.0.0.1 --num-cpus=2"
        worker = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", hide], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        _wait_for_nodes(address, 2, env)
        yield address, hidden, env
    finally:
        for proc in (worker, head):
            if proc is not None:
                _stop(proc)
        shutil.rmtree(temp, ignore_errors=True)


def test_a_run_on_a_cluster_whose_worker_node_cannot_read_the_drivers_files(two_node_cluster):
    address, hidden, env = two_node_cluster
    pipeline = pipeline_copy(hidden)
    cfg = yaml.safe_load(pipeline.read_text())
    for key, name in (("name", "tokenizer.json"), ("chat_template", "chat_template.jinja")):
        shutil.copy(cfg["tokenizer"][key], hidden / name)  # only the driver can read them
        cfg["tokenizer"][key] = str(hidden / name)
    cfg["ray"] = {"pip": "none"}  # this machine's nodes share the driver's environment (pinned: see below)
    pipeline.write_text(yaml.safe_dump(cfg))

    check = ("import os, ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
             "print(ray.get(ray.remote(num_cpus=1)(lambda p: os.path.exists(p)).remote(sys.argv[2])))")
    seen = subprocess.run([sys.executable, "-c", check, address, str(hidden / "tokenizer.json")], capture_output=True,
                          text=True, env=env, timeout=120, cwd=ROOT)
    assert seen.stdout.strip().splitlines()[-1] == "False", seen.stderr[-2000:]  # the premise: hidden there

    out = hidden / "run"
    result = factory("run", pipeline, "--out", out, "--limit", 6, env=env | {"RAY_ADDRESS": address}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"[ray] joining the cluster at {address} (from RAY_ADDRESS)" in result.stderr
    assert "published" in result.stdout
    import duckdb

    rows = duckdb.connect().execute(f"SELECT count(*), count(DISTINCT id) FROM read_parquet('{out}/data/*/*.parquet')")
    total, distinct = rows.fetchone()
    assert total == distinct > 0
    assert len(list((out / "verdicts").rglob("part-*.parquet"))) > 0  # judged on the node, written by the driver


def test_a_node_that_cannot_build_the_pinned_environment_stops_the_run_in_one_line(two_node_cluster):
    """`ray.pip: pinned` (the default) installs through Ray's pip runtime environment, which needs `virtualenv` on
    the nodes; where it is missing the run must say so and what to change, not fail deep inside Ray."""
    import importlib.util

    if importlib.util.find_spec("virtualenv") is not None:
        pytest.skip("virtualenv is installed here: the nodes can build the environment")
    address, hidden, env = two_node_cluster
    run_dir = hidden / "pinned"
    run_dir.mkdir()
    pipeline = pipeline_copy(run_dir)
    cfg = yaml.safe_load(pipeline.read_text())
    cfg["ray"] = {"pip": "pinned"}
    pipeline.write_text(yaml.safe_dump(cfg))
    result = factory("run", pipeline, "--out", run_dir / "run", "--limit", 2, env=env | {"RAY_ADDRESS": address},
                     timeout=300)
    assert result.returncode != 0
    assert "could not set up the run's runtime environment" in result.stderr
    assert "install it there, or set ray.pip: none" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_runtime_environment_ships_the_package_and_pinned_dependencies():
    from factory.config import RayConfig
    from factory.executor.ray_cluster import pinned_requirements, runtime_env

    env = runtime_env(RayConfig())
    assert env["py_modules"] == [str(ROOT / "factory")]
    pins = pinned_requirements()
    assert env["pip"] == pins and all("==" in p for p in pins)
    assert not any(p.lower().startswith("ray") for p in pins)  # the cluster's own Ray stays
    assert any(p.startswith("openai[aiohttp]==") for p in pins)
    assert "pip" not in runtime_env(RayConfig(pip="none"))
    assert runtime_env(RayConfig(pip=["tokenizers==0.23.3"]))["pip"] == ["tokenizers==0.23.3"]
