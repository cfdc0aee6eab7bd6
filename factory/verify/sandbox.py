"""The sympy tier, run in a persistent, killable worker process.

`simplify` can take unbounded time and memory on adversarial input, so it never runs in the caller's
process. One worker per parent process is started lazily as `python -m factory.verify.sympy_worker`
(a fresh interpreter: safe inside threads and Ray workers, no inherited locks, and independent of the
caller's main script), has its address space capped with RLIMIT_AS, and is killed and forgotten
whenever a job overruns its wall-clock limit; the next job starts a fresh one. The worker receives our
own AST tuples and builds sympy objects from them by construction; no text is ever parsed by sympy.

A worker that cannot start raises `SandboxUnavailable`, which is not a `SandboxError`: the comparison
never turns it into a verdict (every sample would silently become `unparseable`); it stops the caller.
"""

from __future__ import annotations

import atexit
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from factory.verify.sympy_worker import read_message, write_message

MEMORY_LIMIT_BYTES = 1 << 30
START_TIMEOUT_S = 60.0  # spawning and importing sympy; not charged to the per-sample budget


class SandboxTimeout(Exception):
    """The job did not finish within its wall-clock limit; the worker was killed."""


class SandboxError(Exception):
    """The worker died, or the job raised inside it."""


class SandboxUnavailable(RuntimeError):
    """The worker could not be started: a fault of the machine or installation, never a verdict."""


class _Worker:
    def __init__(self) -> None:
        # the child imports `factory` from where this process did, whatever its working directory
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        self.pid = os.getpid()
        # stderr to a file, not a pipe: nobody reads it while the worker lives, and a full pipe would stall it
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "factory.verify.sympy_worker", str(MEMORY_LIMIT_BYTES)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, env=env, close_fds=True,
            bufsize=0)  # unbuffered: `select` on the pipe must see every byte that has not been read
        ready = self.receive(time.monotonic() + START_TIMEOUT_S)
        if ready != "ready":
            err = self.kill()
            last = (err.strip().splitlines() or ["no output"])[-1]
            raise SandboxUnavailable(f"the sympy worker ({sys.executable} -m factory.verify.sympy_worker) did not "
                                     f"start: {last}; check that this interpreter can import sympy and factory")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, job) -> None:
        write_message(self.proc.stdin, job)

    def receive(self, deadline: float):
        """The worker's next message; "timeout" when none came by `deadline`, "died" when its pipe closed."""
        out = self.proc.stdout
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([out], [], [], max(0.0, remaining))
        if not ready:
            return "timeout"
        message = read_message(out)
        return "died" if message is None else message

    def kill(self) -> str:
        """Kill the worker; return what it wrote on stderr (why it could not start, if it could not)."""
        try:
            self.proc.kill()
            self.proc.communicate(timeout=5)
            self.stderr.seek(0)
            return self.stderr.read().decode(errors="replace")
        except Exception:  # already gone, or its pipes already closed: nothing else to clean up
            return ""
        finally:
            self.stderr.close()


_lock = threading.Lock()
_worker: _Worker | None = None


def _get_worker() -> _Worker:
    global _worker
    if _worker is not None and (_worker.pid != os.getpid() or not _worker.alive()):
        if _worker.pid == os.getpid():
            _worker.kill()
        _worker = None  # a forked child must not use (or kill) its parent's worker
    if _worker is None:
        _worker = _Worker()
    return _worker


def _run(job: tuple, timeout_s: float):
    global _worker
    if not _lock.acquire(timeout=timeout_s):
        raise SandboxTimeout("sympy worker busy")
    try:
        try:
            worker = _get_worker()
        except OSError as e:  # no processes left, no executable: the machine's fault, not the sample's
            raise SandboxUnavailable(f"cannot start the sympy worker: {e}") from None
        deadline = time.monotonic() + timeout_s  # start-up is not charged to the job
        try:
            worker.send(job)
            reply = worker.receive(deadline)
        except (EOFError, OSError, ValueError):
            reply = "died"
        status, value = (reply, None) if reply in ("timeout", "died") else reply
        if status in ("timeout", "died"):
            worker.kill()
            _worker = None
            if status == "timeout":
                raise SandboxTimeout(f"sympy tier exceeded {timeout_s:.1f}s")
            raise SandboxError("sympy worker died (memory limit?)")
        if status != "ok":
            raise SandboxError(f"sympy raised {value}")
        return value
    finally:
        _lock.release()


def simplify_equal(a, b, timeout_s: float) -> bool:
    """Decide `simplify(a - b) == 0` for two scalar AST nodes in the worker.

    Args:
        a: Scalar AST node (from `latex.parse`).
        b: Scalar AST node.
        timeout_s: Hard wall-clock limit for this job, worker start-up excluded.

    Returns:
        True when sympy proves the difference is zero, False otherwise.

    Raises:
        SandboxTimeout: the limit was hit; the worker was killed and will be restarted lazily.
        SandboxError: the worker could not start, died, or sympy raised.
    """
    return _run(("eq", a, b), timeout_s)


def shutdown() -> None:
    """Kill the worker if this process started one (also registered with atexit)."""
    global _worker
    with _lock:
        if _worker is not None and _worker.pid == os.getpid():
            _worker.kill()
        _worker = None


atexit.register(shutdown)
