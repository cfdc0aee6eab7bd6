"""`teacher.serve` replicas on a real local Ray: started in their placement groups, and stopped, servers and all,
whichever way the block that uses them ends."""

import os
from pathlib import Path

import pytest
import ray

from factory.config import RayConfig, ServeConfig
from factory.executor.serve_replicas import serve_replicas
from factory.executor.server_process import ServeError, probe

TOY = Path(__file__).resolve().parents[1] / "support" / "toy_server.py"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    os.environ.pop("RAY_ADDRESS", None)
    yield
    ray.shutdown()


def toy(tmp_path, **serve) -> ServeConfig:
    command = f"{{python}} {TOY} --port {{port}} --host {{host}} --pidfile {tmp_path / 'pids'}"
    return ServeConfig(**({"command": command, "replicas": 2, "gpus_per_replica": 0, "cpus_per_replica": 0,
                           "shutdown_grace_s": 2, "startup_timeout_s": 30} | serve))


def pids(tmp_path) -> list[int]:
    return [int(p) for p in (tmp_path / "pids").read_text().split()]


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.mark.parametrize("ending", [RuntimeError("the run failed"), KeyboardInterrupt()])
def test_every_server_stops_however_the_run_ends(tmp_path, ending):
    with pytest.raises(type(ending)):
        with serve_replicas(toy(tmp_path), "toy", RayConfig()) as replicas:
            assert len(replicas.urls) == 2 and all(probe(u + "/models") == 200 for u in replicas.urls)
            assert len(pids(tmp_path)) == 2 and all(map(alive, pids(tmp_path)))
            raise ending
    assert not any(map(alive, pids(tmp_path)))
    assert all(probe(u + "/models") == "refused" for u in replicas.urls)
    lifetimes = replicas.stop()  # idempotent: what the runner records
    assert [r["replica"] for r in lifetimes] == ["r0", "r1"] and all(r["state"] == "stopped" for r in lifetimes)


def test_a_replica_in_its_placement_group_is_stopped_and_its_group_removed(tmp_path):
    with serve_replicas(toy(tmp_path, replicas=1, cpus_per_replica=1), "toy", RayConfig()) as replicas:
        group = replicas.groups[0]
        assert ray.util.placement_group_table(group)["state"] == "CREATED"
        lifetimes = replicas.stop()
    assert ray.util.placement_group_table(group)["state"] == "REMOVED"
    assert lifetimes[0]["stopped_at"] > lifetimes[0]["started_at"] and not alive(pids(tmp_path)[0])


def test_teacher_workers_leave_the_cpus_replicas_hold_alone(tmp_path):
    from factory.executor.ray_cluster import RayExecutor

    executor = RayExecutor(RayConfig())
    cpus = executor.parallelism(64)
    with serve_replicas(toy(tmp_path, replicas=1, cpus_per_replica=1), "toy", RayConfig()):
        assert executor.parallelism(64) == max(1, cpus - 1)


def test_a_server_that_cannot_start_stops_the_run_naming_the_replica_and_its_log(tmp_path):
    serve = toy(tmp_path, command="{python} -c \"print('CUDA out of memory'); raise SystemExit(1)\" {port}")
    with pytest.raises(ServeError) as e:  # our own error, not Ray's wrapping of it
        with serve_replicas(serve, "toy", RayConfig()):
            pass
    assert "teacher.serve replica r0" in str(e.value) and "CUDA out of memory" in str(e.value)


def test_gpus_the_cluster_does_not_have_are_named(tmp_path):
    with pytest.raises(ServeError, match=r"needs 2 GPUs on one node per replica.*lower tensor_parallel"):
        with serve_replicas(ServeConfig(tensor_parallel=2), "r1", RayConfig()):
            pass
