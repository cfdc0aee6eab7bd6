"""A replica's server, kept up by its supervisor (no Ray here): ready, restarted on the same port after a crash,
stopped with everything it started; failures to start say why, with the server's last log lines."""

import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest

from factory.config import ServeConfig
from factory.executor import server_process
from factory.executor.server_process import ServeError, Supervisor, fresh_port, port_is_free, probe

TOY = Path(__file__).resolve().parents[1] / "support" / "toy_server.py"


def toy(*flags: str, **serve) -> ServeConfig:
    command = f"{{python}} {TOY} --port {{port}} --host {{host}} " + " ".join(flags)
    return ServeConfig(**({"command": command, "replicas": 1, "gpus_per_replica": 0, "host": "127.0.0.1",
                           "shutdown_grace_s": 5, "startup_timeout_s": 20} | serve))


def alive(pid: int) -> bool:
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if line.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return "zombie" not in state


def wait_for(predicate, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def kinds(sup: Supervisor) -> list[str]:
    return [e["kind"] for e in sup.status()["events"]]


@pytest.fixture
def supervisor():
    made = []

    def make(serve: ServeConfig) -> Supervisor:
        made.append(Supervisor("r0", serve, "toy", "127.0.0.1"))
        return made[-1]

    yield make
    for sup in made:
        sup.stop()
        shutil.rmtree(sup.log_dir, ignore_errors=True)


def test_a_crashed_server_is_restarted_on_its_port_and_stopped_for_good(supervisor):
    sup = supervisor(toy())
    url = sup.start()
    first = sup.status()["pid"]
    assert probe(url + "/models") == 200 and url.startswith("http://127.0.0.1:")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: sup.status()["state"] == "ready" and sup.status()["pid"] != first)
    st = sup.status()
    assert st["url"] == url and st["restarts"] == 1 and probe(url + "/models") == 200  # same port, same URL
    assert kinds(sup) == ["spawned", "ready", "died", "restarting", "spawned", "ready"]
    assert "signal 9" in st["events"][2]["why"]
    final = sup.stop()
    assert final["state"] == "stopped" and not alive(final["pid"]) and probe(url + "/models") == "refused"


def test_a_server_that_exits_before_it_is_ready_is_named_with_its_last_log_lines(supervisor):
    serve = toy(command="{python} -c \"import sys; print('boom: no such model'); sys.exit(3)\" {port}")
    with pytest.raises(ServeError) as e:
        supervisor(serve).start()
    message = str(e.value)
    assert message.startswith("teacher.serve replica r0 (pid ")
    assert "exited with code 3 before it was ready" in message and "boom: no such model" in message
    assert "last log lines" in message and "command: " in message


def test_a_server_that_never_answers_is_stopped_at_the_startup_timeout(supervisor):
    serve = toy(command="{python} -c \"import time; print('loading weights', flush=True); time.sleep(60)\" {port}",
                startup_timeout_s=1.0)
    sup = supervisor(serve)
    with pytest.raises(ServeError, match=r"was not ready within serve.startup_timeout_s 1s \(GET .*: refused\)"
                                         r"(.|\n)*loading weights"):
        sup.start()
    assert not alive(sup.status()["pid"])


def test_when_its_restarts_are_spent_a_replica_stays_down(supervisor):
    sup = supervisor(toy(max_restarts=0))
    sup.start()
    pid = sup.status()["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: sup.status()["state"] == "failed")
    assert "its 0 restarts (serve.max_restarts) are spent" in sup.status()["error"]
    assert kinds(sup)[-2:] == ["died", "failed"]


def test_stop_reaches_the_whole_process_group_even_a_server_that_ignores_sigterm(supervisor, tmp_path):
    pids = tmp_path / "pids"
    sup = supervisor(toy("--ignore-sigterm", "--helper", f"--pidfile {pids}", shutdown_grace_s=0.5))
    sup.start()
    server, helper = map(int, pids.read_text().split())
    assert alive(server) and alive(helper)
    started = time.monotonic()
    final = sup.stop()
    assert not alive(server) and not alive(helper)
    assert 0.5 <= time.monotonic() - started < 10  # SIGTERM, the grace period, then SIGKILL
    assert final["events"][-1] == final["events"][-1] | {"kind": "stopped", "code": -signal.SIGKILL}


def test_a_crash_kills_what_the_server_started_before_the_restart(supervisor, tmp_path):
    pids = tmp_path / "pids"
    sup = supervisor(toy("--helper", f"--pidfile {pids}"))
    sup.start()
    server, helper = map(int, pids.read_text().split())
    os.kill(server, signal.SIGKILL)
    wait_for(lambda: sup.status()["restarts"] == 1 and sup.status()["state"] == "ready")
    assert not alive(helper)  # an engine process left behind would hold the GPUs (and maybe the port)


def test_a_server_whose_health_fails_is_restarted(supervisor, monkeypatch):
    monkeypatch.setattr(server_process, "HEALTH_EVERY_S", 0.1)
    sup = supervisor(toy("--health 503", max_restarts=1))
    sup.start()
    wait_for(lambda: sup.status()["restarts"] == 1)
    died = next(e for e in sup.status()["events"] if e["kind"] == "died")
    assert "failed 3 health checks in a row (GET /health: 503)" in died["why"]


def test_a_port_taken_meanwhile_gives_a_fresh_one_and_says_so(supervisor, monkeypatch):
    monkeypatch.setattr(server_process, "PORT_WAIT_S", 0.3)
    sup = supervisor(toy())
    url = sup.start()
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    os.kill(sup.status()["pid"], signal.SIGKILL)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        wait_for(lambda: port_is_free(port))
        squatter.bind(("", port))
        squatter.listen()
        wait_for(lambda: sup.status()["state"] == "ready" and sup.status()["restarts"] == 1)
    changed = next(e for e in sup.status()["events"] if e["kind"] == "port_changed")
    assert changed["old"] == port and sup.status()["url"] != url


def test_fresh_ports_lie_below_the_ephemeral_range_and_are_free():
    floor = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    port = fresh_port()
    assert server_process.PORT_FLOOR <= port < floor and port_is_free(port)
    with socket.socket() as s:
        s.bind(("", port))
        s.listen()
        assert not port_is_free(port)
