"""The sympy worker process: `python -m factory.verify.sympy_worker MEMORY_LIMIT`, started by `sandbox`.

It is started as a module, not through multiprocessing, so that it works whatever the caller is: a
`spawn` child re-runs the caller's main script, which fails when there is none on disk (a script piped
into `python -`) and is wasteful when it is a large program. Jobs and results are length-prefixed pickles
on stdin and stdout; only the parent writes jobs, and they are our own AST tuples, never text.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import time

_HEADER = struct.Struct("<Q")


def write_message(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:  # an unbuffered pipe may take part of it at a time
        view = view[stream.write(view):]
    stream.flush()


def _read_exact(stream, n: int) -> bytes | None:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(stream):
    """The next message, or None at end of stream."""
    head = _read_exact(stream, _HEADER.size)
    if head is None:
        return None
    body = _read_exact(stream, _HEADER.unpack(head)[0])
    return None if body is None else pickle.loads(body)


def to_sympy(node, sp):
    """Build a sympy expression from an AST node (construction only, nothing is parsed)."""
    op = node[0]
    rec = lambda n: to_sympy(n, sp)  # noqa: E731 - depth is bounded by the parser's counter
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


def _answer(job, sp):
    if job[0] == "sleep":  # test hook for the timeout path
        time.sleep(job[1])
        return None
    diff = sp.simplify(to_sympy(job[1], sp) - to_sympy(job[2], sp))
    if diff != 0 and not diff.free_symbols and diff.has(sp.I):
        # e^{i\pi/3} against 1/2 + (\sqrt3/2) i: simplify leaves exp(); the real and imaginary parts,
        # expanded, settle it
        diff = sp.simplify(sp.expand_complex(diff))
    return bool(diff == 0)


def main(argv: list[str]) -> int:
    memory_limit = int(argv[1])
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    except (ImportError, ValueError, OSError):
        pass  # not every platform allows it; the wall-clock kill still bounds the damage
    import sympy as sp

    # results go to a private copy of the pipe; anything else printing to stdout (Python or C) lands on stderr
    jobs, results = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    write_message(results, "ready")
    while (job := read_message(jobs)) is not None:
        try:
            result = ("ok", _answer(job, sp))
        except BaseException as e:  # MemoryError, RecursionError, sympy internals: all just "no answer"
            result = ("error", type(e).__name__)
        try:
            write_message(results, result)
        except (BrokenPipeError, OSError):
            return 0  # the parent went away
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
