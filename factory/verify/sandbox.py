"""The sympy tier, run in a persistent, killable worker process.

`simplify` can take unbounded time and memory on adversarial input, so it never runs in the caller's
process. One worker per parent process is started lazily with the "spawn" context (safe inside
threads and Ray workers, no inherited locks), has its address space capped with RLIMIT_AS, and is
killed and forgotten whenever a job overruns its wall-clock limit; the next job starts a fresh one.
The worker receives our own AST tuples and builds sympy objects from them by construction; no text
is ever parsed by sympy.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
import time

MEMORY_LIMIT_BYTES = 1 << 30
START_TIMEOUT_S = 60.0  # spawning and importing sympy; not charged to the per-sample budget


class SandboxTimeout(Exception):
    """The job did not finish within its wall-clock limit; the worker was killed."""


class SandboxError(Exception):
    """The worker could not be started, died, or the job raised inside it."""


def _to_sympy(node, sp):
    """Build a sympy expression from an AST node (construction only, nothing is parsed)."""
    op = node[0]
    rec = lambda n: _to_sympy(n, sp)  # noqa: E731 - depth is bounded by the parser's counter
    if op == "num":
        return sp.Rational(node[1].numerator, node[1].denominator)
    if op == "sym":
        return sp.Symbol(node[1])
    if op == "const":
        return {"pi": sp.pi, "e": sp.E, "i": sp.I, "inf": sp.oo}[node[1]]
    if op == "add":
        return sp.Add(*[rec(c) for c in node[1]])
    if op == "mul":
        return sp.Mul(*[rec(c) for c in node[1]])
    if op == "neg":
        return -rec(node[1])
    if op == "div":
        return rec(node[1]) / rec(node[2])
    if op == "pow":
        return sp.Pow(rec(node[1]), rec(node[2]))
    if op == "root":
        return sp.Pow(rec(node[1]), 1 / rec(node[2]))
    if op == "fact":
        return sp.factorial(rec(node[1]))
    if op == "binom":
        return sp.binomial(rec(node[1]), rec(node[2]))
    if op == "func":
        fn = {"abs": sp.Abs, "ln": sp.log, "log": sp.log, "arcsin": sp.asin, "arccos": sp.acos, "arctan": sp.atan}
        return (fn.get(node[1]) or getattr(sp, node[1]))(rec(node[2]))
    if op == "log":
        return sp.log(rec(node[1]), rec(node[2]))
    if op == "pct":
        return rec(node[1]) / 100
    raise ValueError(f"not a scalar node: {op}")


def _worker_main(conn, memory_limit: int) -> None:
    """Worker loop: cap memory, import sympy, answer jobs until the pipe closes."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    except (ImportError, ValueError, OSError):
        pass  # not every platform allows it; the wall-clock kill still bounds the damage
    import sympy as sp

    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # parent went away
        try:
            if job[0] == "sleep":  # test hook for the timeout path
                time.sleep(job[1])
                result = ("ok", None)
            else:
                diff = sp.simplify(_to_sympy(job[1], sp) - _to_sympy(job[2], sp))
                if diff != 0 and not diff.free_symbols and diff.has(sp.I):
                    # e^{i\pi/3} against 1/2 + (\sqrt3/2) i: simplify leaves exp(); the real and
                    # imaginary parts, expanded, settle it
                    diff = sp.simplify(sp.expand_complex(diff))
                result = ("ok", bool(diff == 0))
        except BaseException as e:  # MemoryError, RecursionError, sympy internals: all just "no answer"
            result = ("error", type(e).__name__)
        try:
            conn.send(result)
        except (EOFError, OSError):
            return


class _Worker:
    def __init__(self) -> None:
        mp = multiprocessing.get_context("spawn")
        self.conn, child = mp.Pipe()
        self.proc = mp.Process(target=_worker_main, args=(child, MEMORY_LIMIT_BYTES), daemon=True,
                               name="factory-verify-sympy")
        self.proc.start()
        child.close()
        self.pid = os.getpid()
        try:
            ok = self.conn.poll(START_TIMEOUT_S) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ok = False  # the child died while starting (e.g. re-running an unguarded __main__)
        if not ok:
            self.kill()
            raise SandboxError("sympy worker did not start")

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(5)
        except Exception:  # already gone; nothing else to clean up
            pass
        self.conn.close()


_lock = threading.Lock()
_worker: _Worker | None = None


def _get_worker() -> _Worker:
    global _worker
    if _worker is not None and (_worker.pid != os.getpid() or not _worker.proc.is_alive()):
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
        except (OSError, AssertionError, SandboxError) as e:  # e.g. daemonic parents may not have children
            raise SandboxError(f"cannot start sympy worker: {e}") from None
        deadline = time.monotonic() + timeout_s  # start-up is not charged to the job
        try:
            worker.conn.send(job)
            ready = worker.conn.poll(max(0.0, deadline - time.monotonic()))
            status, value = worker.conn.recv() if ready else ("timeout", None)
        except (EOFError, OSError):
            status, value = "died", None
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
