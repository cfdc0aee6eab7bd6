"""One teacher server process (vLLM, SGLang or any command) and the supervisor that keeps it up.

No Ray here: `serve_replicas` runs a `Supervisor` inside a Ray actor (one per replica), and the unit tests
run it in process. The server is a child process in a session of its own, so that stopping it reaches
everything it started (vLLM's engine and tensor-parallel workers); it is told to die with the thread that
started it, so a killed actor does not leave a server holding GPUs behind.

Restarts keep the URL: a restarted server binds the port its replica had, so the run's endpoint pool (which
keeps its URLs for the whole session, in every teacher worker) routes around the dead server while its
health checks fail and takes it back on the first probe that succeeds, with no URL to hand to the workers.
That is safe because the port is held by nobody once the old server's process group is gone (a crashed
server's port is "still held" only while something of that group lives, and the group is killed and
waited for first), and because the first port is picked below the kernel's ephemeral range, where no
outgoing connection can take it in the meantime. Should another program still hold it, the replica takes
a fresh port and says so; the pool cannot reach it at its new URL until the next session.
"""

from __future__ import annotations

import ctypes
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from factory.config import ServeConfig
from factory.errors import TerminalError

READY_POLL_S = 0.25
WATCH_POLL_S = 0.2
HEALTH_EVERY_S = 10.0
HEALTH_FAILURES = 3  # consecutive definite failures (5xx, refused) before a live server counts as dead
PORT_WAIT_S = 30.0  # how long a restart waits for its old port before it takes another
GROUP_EXIT_WAIT_S = 10.0
LOG_TAIL_LINES = 20
# Ray's workers take 10002-19999 by default; below this, up to the ephemeral range, is left for us
PORT_FLOOR = 20000


class ServeError(TerminalError):
    """A teacher server the factory started could not be made ready."""


def server_argv(serve: ServeConfig, served_name: str, port: int, python: str = sys.executable) -> list[str]:
    """The command line of one replica's server on `port`."""
    weights = serve.model or served_name
    if serve.command is not None:
        values = {"{port}": str(port), "{host}": serve.host, "{model}": weights, "{name}": served_name,
                  "{tp}": str(serve.tensor_parallel), "{python}": python}
        argv = []
        for token in shlex.split(serve.command):  # placeholders only: other braces (JSON flags) stay as written
            for key, value in values.items():
                token = token.replace(key, value)
            argv.append(token)
        return argv
    if serve.engine == "sglang":
        return [python, "-m", "sglang.launch_server", "--model-path", weights, "--host", serve.host,
                "--port", str(port), "--tp", str(serve.tensor_parallel), "--served-model-name", served_name,
                *serve.args]
    # no --shutdown-timeout: a server is stopped only once nothing is in flight, or when the driver is quitting
    # and could journal no answer anyway, so draining would only delay the stop (pass it in `args` if wanted)
    argv = [_vllm(python), "serve", weights, "--host", serve.host, "--port", str(port),
            "--tensor-parallel-size", str(serve.tensor_parallel), "--served-model-name", served_name]
    if serve.tensor_parallel > 1:
        # inside a Ray actor vLLM would otherwise join Ray for its workers instead of using the GPUs the actor
        # was given (CUDA_VISIBLE_DEVICES); with one GPU it runs in process and needs no backend
        argv += ["--distributed-executor-backend", "mp"]
    return argv + serve.args


def _vllm(python: str) -> str:
    """The `vllm` command beside the interpreter (a Ray worker's PATH may lack the environment's bin)."""
    beside = Path(python).parent / "vllm"
    return str(beside) if beside.exists() else (shutil.which("vllm") or "vllm")


def _ephemeral_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_is_free(port: int) -> bool:
    """Whether a server could bind `port` now (with SO_REUSEADDR, as servers do: TIME_WAIT does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
            return True
        except OSError:
            return False


def fresh_port() -> int:
    """A free port below the ephemeral range (no outgoing connection takes it between restarts)."""
    rng = random.Random()
    top = _ephemeral_floor()
    if top - PORT_FLOOR >= 100:
        for _ in range(100):
            port = rng.randrange(PORT_FLOOR, top)
            if port_is_free(port):
                return port
    with socket.socket() as s:  # a machine with an odd port range: any free port
        s.bind(("", 0))
        return s.getsockname()[1]


_PR_SET_PDEATHSIG = 1
try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before any fork: the child only calls it
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the thread that started it dies (its actor was killed)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal the server's whole process group; False when nothing of it is left."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # a zombie group leader on some kernels; nothing left to signal
        return False


def _group_gone(pgid: int, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while _signal_group(pgid, 0):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@dataclass
class ServerProcess:
    """One start of a server: its child process (a session and process group of its own) and its log."""

    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    started: float = 0.0  # monotonic

    def spawn(self) -> None:
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=os.environ | self.env, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def exit_code(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def stop(self, grace_s: float) -> int | None:
        """SIGTERM the whole group, SIGKILL what is left after `grace_s`; return the server's exit code."""
        if self.proc is None:
            return None
        pgid = self.proc.pid  # start_new_session: the child leads its own group
        if _signal_group(pgid, signal.SIGTERM):
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
            # the server exited, but what it started (vLLM's engine, its workers) may not have: kill the rest
            _signal_group(pgid, signal.SIGKILL)
        code = self.proc.wait()
        _group_gone(pgid, GROUP_EXIT_WAIT_S)  # orphans of the group are reaped by init; wait, bounded
        return code

    def tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 16384))
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def probe(url: str, timeout_s: float = 5.0) -> int | str:
    """GET `url`: the HTTP status, or why no answer came ('refused', 'timeout', ...)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        if isinstance(reason, ConnectionRefusedError):
            return "refused"
        if isinstance(reason, TimeoutError | socket.timeout):
            return "timeout"
        return str(reason) or type(reason).__name__


def ready_status(status: int | str) -> bool:
    """An OpenAI-compatible server is ready once GET /v1/models answers; 401/403: it wants a key, but it is up."""
    return status in (200, 401, 403)


class Supervisor:
    """Keeps one replica's server up: start, wait until ready, watch, restart on a crash, stop.

    One thread (started by `start`) spawns every server of the replica and watches it: the death signal
    set for each child is tied to that thread, which lives until `stop`. `start`, `status` and `stop` are
    called from other threads (a Ray actor with max_concurrency > 1), so `stop` answers while a start waits.
    """

    def __init__(self, name: str, serve: ServeConfig, served_name: str, address: str):
        self.name, self.serve, self.served_name, self.address = name, serve, served_name, address
        # on the replica's node; named in every error, kept when something went wrong
        self.log_dir = Path(tempfile.mkdtemp(prefix="factory-serve-"))
        self.log_path = self.log_dir / f"{name}.log"
        self.server: ServerProcess | None = None
        self.port = 0
        self.restarts = 0
        self.state = "new"  # starting, ready, restarting, failed, stopped
        self.error: str | None = None
        self.events: list[dict] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._first = threading.Event()
        self._thread: threading.Thread | None = None

    # -- called from other threads -------------------------------------------------------------------------------

    def start(self, timeout_s: float | None = None) -> str:
        """Start the server and wait until it answers; return its base URL, or raise `ServeError`."""
        self._thread = threading.Thread(target=self._run, name=f"serve-{self.name}", daemon=True)
        self._thread.start()
        self._first.wait(timeout_s)
        if self.state != "ready":
            raise ServeError(self.error or f"teacher.serve replica {self.name} did not start")
        return self.url

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}/v1"

    def status(self) -> dict:
        server = self.server
        return dict(replica=self.name, url=self.url, state=self.state, restarts=self.restarts,
                    pid=server.pid if server else 0, error=self.error, log=str(self.log_path),
                    events=list(self.events))

    def stop(self) -> dict:
        """Stop the server (SIGTERM its group, SIGKILL after the grace period) and the watching thread.

        The watching thread stops the server itself: the child's death signal is tied to that thread, so
        were the thread to end first, the child would get SIGKILL without its grace period.
        """
        with self._lock:  # no new server starts once this is set
            self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.serve.shutdown_grace_s + GROUP_EXIT_WAIT_S + 5)
        server = self.server
        if server is not None and (self._thread is None or self._thread.is_alive()):
            server.stop(0)  # the thread is stuck: stop what it started from here
        if self.state != "failed":
            self.state = "stopped"
        if self.state == "stopped" and not self.restarts:  # nothing happened worth a look: leave no files behind
            shutil.rmtree(self.log_dir, ignore_errors=True)
        return self.status()

    # -- the supervisor thread -----------------------------------------------------------------------------------

    def _event(self, kind: str, **info) -> None:
        self.events.append(dict(kind=kind, at=time.time(), **info))

    def _run(self) -> None:
        try:
            self._supervise()
        except BaseException as e:  # never die silently: whoever waits on the first start must hear of it
            self.state, self.error = "failed", f"teacher.serve replica {self.name}: supervisor failed: {e!r}"
            self._event("failed", error=self.error)
        finally:
            server = self.server
            if server is not None and server.exit_code() is None:
                code = server.stop(self.serve.shutdown_grace_s)
                self._event("stopped", pid=server.pid, code=code)
            elif server is not None:
                server.stop(0)  # dead already: whatever it started goes too
            self._first.set()

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            self.port = self._port()
            server = ServerProcess(server_argv(self.serve, self.served_name, self.port), self.log_path,
                                   dict(self.serve.env))
            with self._lock:
                if self._stopping.is_set():
                    return
                self.state = "starting" if not self.restarts else "restarting"
                server.spawn()
                self.server = server
            self._event("spawned", pid=server.pid, port=self.port)
            why = self._wait_ready(server)
            if why is None:
                self.state = "ready"
                self._event("ready", pid=server.pid, url=self.url, seconds=round(time.monotonic() - server.started, 3))
                self._first.set()
                why = self._watch(server)
            if self._stopping.is_set():
                return
            server.stop(0)  # it is dead or useless: kill all of its group before its port is used again
            first = not self._first.is_set()
            self._event("died", pid=server.pid, why=why, code=server.exit_code(), first_start=first)
            if first or self.restarts >= self.serve.max_restarts:
                tail = server.tail()
                if first:
                    msg = f"teacher.serve replica {self.name} (pid {server.pid}, port {self.port}) {why}"
                else:
                    msg = (f"teacher.serve replica {self.name} {why}, and its {self.restarts} restarts "
                           f"(serve.max_restarts) are spent")
                self.error = (f"{msg}; command: {shlex.join(server.argv)}; log: {self.log_path}"
                              + (f"; last log lines:\n{tail}" if tail else ""))
                self.state = "failed"
                self._event("failed", error=self.error)
                return
            self.restarts += 1
            self.state = "restarting"
            self._event("restarting", attempt=self.restarts, of=self.serve.max_restarts)

    def _port(self) -> int:
        if not self.port:
            return fresh_port()
        deadline = time.monotonic() + PORT_WAIT_S
        while not port_is_free(self.port):
            if time.monotonic() > deadline or self._stopping.is_set():
                old = self.port
                port = fresh_port()
                self._event("port_changed", old=old, new=port)
                return port
            time.sleep(0.25)
        return self.port

    def _wait_ready(self, server: ServerProcess) -> str | None:
        """None once the server answers GET /v1/models; otherwise why it never will."""
        deadline = server.started + self.serve.startup_timeout_s
        url, last = f"http://{self.address}:{self.port}/v1/models", "no answer yet"
        while not self._stopping.is_set():
            code = server.exit_code()
            if code is not None:
                return f"exited with code {code} before it was ready"
            status = probe(url, timeout_s=min(5.0, self.serve.startup_timeout_s))
            if ready_status(status):
                return None
            last = f"HTTP {status}" if isinstance(status, int) else status
            if time.monotonic() > deadline:
                return (f"was not ready within serve.startup_timeout_s {self.serve.startup_timeout_s:g}s "
                        f"(GET {url}: {last})")
            self._stopping.wait(READY_POLL_S)
        return "stopped while starting"

    def _watch(self, server: ServerProcess) -> str:
        """Wait until the server dies (or answers /health with 5xx or a refusal too often); say how."""
        health, failures, next_check = f"http://{self.address}:{self.port}/health", 0, time.monotonic()
        while not self._stopping.wait(WATCH_POLL_S):
            code = server.exit_code()
            if code is not None:
                return f"exited with code {code}" + (f" (signal {-code})" if code < 0 else "")
            if time.monotonic() < next_check:
                continue
            next_check = time.monotonic() + HEALTH_EVERY_S
            status = probe(health, timeout_s=HEALTH_EVERY_S)
            # only definite failures count: a slow answer from a busy server is no reason to kill it, and a
            # server without /health (404) is judged by its process alone
            if status == "refused" or (isinstance(status, int) and status >= 500):
                failures += 1
                if failures >= HEALTH_FAILURES:
                    return f"failed {failures} health checks in a row (GET /health: {status})"
            else:
                failures = 0
        return "stopped"
