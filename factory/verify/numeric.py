"""Bounded evaluation of the answer AST: exact Fractions where the value is rational, else mpmath.

Rational values stay `fractions.Fraction` so `1/2004!` and `1/2006!` are never confused. Anything
irrational (pi, e, sqrt of a non-square, trig) becomes an mpmath `mpf` in a private 50-digit context;
mpf has an unbounded exponent, so tiny values never underflow to zero the way floats do. Every
operation that could blow up (powers, factorials, huge function arguments) is estimated first and
raises `TooBig` instead of computing.
"""

from __future__ import annotations

import math
from fractions import Fraction

from mpmath.ctx_mp import MPContext

MAX_BITS = 40_000  # exact results larger than this are not computed
# 2006! (about 19k bits) still exact: 1/2004! against 2005*2006/2006! is decided, not left open
MAX_FACTORIAL = 5000
REL_TOL = 1e-9  # relative tolerance for approximate (irrational) values
_TINY = 1e-20  # below this an approximate value may be cancellation noise: escalate, never decide

ctx = MPContext()  # private context: never touch the global mpmath precision others may rely on
ctx.dps = 50
_FUNCS = {
    "sin": ctx.sin, "cos": ctx.cos, "tan": ctx.tan, "cot": ctx.cot, "sec": ctx.sec, "csc": ctx.csc,
    "arcsin": ctx.asin, "arccos": ctx.acos, "arctan": ctx.atan, "sinh": ctx.sinh, "cosh": ctx.cosh,
    "tanh": ctx.tanh, "exp": ctx.exp, "ln": ctx.ln, "log": ctx.ln,
}
# Exact values at 0/1 so that e.g. \ln 1 and \sin 0 compare exactly with 0.
_EXACT = {("sin", 0): 0, ("tan", 0): 0, ("cos", 0): 1, ("exp", 0): 1, ("ln", 1): 0, ("log", 1): 0,
          ("arcsin", 0): 0, ("arctan", 0): 0, ("sinh", 0): 0, ("tanh", 0): 0, ("cosh", 0): 1}


class EvalError(ValueError):
    """The expression has no real value here (division by zero, log of a negative, infinity...)."""


class TooBig(ValueError):
    """The exact value would exceed the size bounds; it was not computed."""


def _check(q: Fraction) -> Fraction:
    if q.numerator.bit_length() > 2 * MAX_BITS or q.denominator.bit_length() > 2 * MAX_BITS:
        raise TooBig("result too large")
    return q


def to_mpf(v):
    """Convert a Fraction (any size) or mpf to mpf without going through float."""
    if isinstance(v, Fraction):
        return ctx.mpf(v.numerator) / v.denominator
    return v


def _iroot(n: int, k: int) -> int | None:
    """Exact k-th root of a non-negative int, or None."""
    if n < 2:
        return n
    x = 1 << ((n.bit_length() + k - 1) // k)  # over-estimate, then Newton downwards
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            break
        x = y
    return x if x**k == n else None


def _pow(b, y):
    if isinstance(b, Fraction) and isinstance(y, Fraction):
        if b == 0:
            if y <= 0:
                raise EvalError("0 to a non-positive power")
            return Fraction(0)
        if b == 1:
            return b
        if y.denominator == 1:
            n = y.numerator
            if b == -1:
                return Fraction(-1 if n % 2 else 1)
            if abs(n) * max(b.numerator.bit_length(), b.denominator.bit_length()) > MAX_BITS:
                raise TooBig("power too large")
            return b**n
        if y.denominator <= 64:
            if b < 0 and y.denominator % 2 == 0:
                raise EvalError("even root of a negative")
            num = _iroot(abs(b.numerator), y.denominator)
            den = _iroot(b.denominator, y.denominator)
            if num is not None and den is not None:
                root = Fraction(num if b > 0 else -num, den)
                return _pow(root, Fraction(y.numerator))
    bm, ym = to_mpf(b), to_mpf(y)
    if bm < 0 and not (isinstance(y, Fraction) and y.denominator == 1):
        if isinstance(y, Fraction) and y.denominator % 2 == 1 and y.denominator <= 64:
            return -_pow(-b, y)  # odd root of a negative stays real
        raise EvalError("negative base, non-integer exponent")
    if bm == 0:
        if ym <= 0:
            raise EvalError("0 to a non-positive power")
        return Fraction(0)
    # mpmath computes exp(y log b); a huge exponent there needs huge working precision.
    if abs(ym * ctx.log(abs(bm))) > 1e15:
        raise TooBig("power too large")
    return ctx.power(bm, ym)


def _int_arg(v, limit: int) -> int:
    if not isinstance(v, Fraction) or v.denominator != 1 or v < 0:
        raise EvalError("needs a non-negative integer")
    if v > limit:
        raise TooBig("argument too large")
    return int(v)


def _func(name: str, v):
    if name == "abs":
        return abs(v)
    if isinstance(v, Fraction) and (name, v) in _EXACT:
        return Fraction(_EXACT[(name, v)])
    x = to_mpf(v)
    if name in ("ln", "log"):
        if x <= 0:
            raise EvalError("log of a non-positive number")
    elif abs(x) > 1e6:  # trig of 1e300 needs 300 digits of pi; exp of it is astronomically large
        raise TooBig("function argument too large")
    if name in ("arcsin", "arccos") and abs(x) > 1:
        raise EvalError("arcsin/arccos outside [-1, 1]")
    try:
        return _FUNCS[name](x)
    except (ValueError, ZeroDivisionError) as e:
        raise EvalError(str(e)) from None


def _log(a, base):
    integers = isinstance(a, Fraction) and isinstance(base, Fraction) and a.denominator == base.denominator == 1
    if integers and base > 1 and a >= 1:
        k, x = 0, Fraction(1)
        while x < a:  # bounded: a has at most 2*MAX_BITS bits
            x *= base
            k += 1
        if x == a:
            return Fraction(k)  # \log_2 8 = 3 exactly
    am, bm = to_mpf(a), to_mpf(base)
    if am <= 0 or bm <= 0 or bm == 1:
        raise EvalError("bad logarithm")
    return ctx.ln(am) / ctx.ln(bm)


def evaluate(node, env: dict | None = None):
    """Evaluate a scalar AST node.

    Args:
        node: A node from `latex.parse` (scalars only; containers raise EvalError).
        env: Values for free symbols (Fractions); a missing symbol raises EvalError.

    Returns:
        A Fraction when the value is exactly rational, otherwise an mpf.

    Raises:
        EvalError: the value is undefined or not a real number.
        TooBig: the exact value would exceed the size bounds.
    """
    op = node[0]
    if op == "num":
        return node[1]
    if op == "sym":
        if env is None or node[1] not in env:
            raise EvalError(f"free symbol {node[1]}")
        return env[node[1]]
    if op == "const":
        if node[1] == "inf":
            raise EvalError("infinity")
        if node[1] == "i":
            raise EvalError("imaginary unit")  # complex values are left to the symbolic tier
        if node[1] not in ("pi", "e"):
            raise EvalError(f"no value: {node[1]}")  # an ellipsis
        return +ctx.pi if node[1] == "pi" else ctx.e + 0
    if op == "neg":
        return -evaluate(node[1], env)
    if op in ("add", "mul"):
        vals = [evaluate(c, env) for c in node[1]]
        acc = vals[0]
        for v in vals[1:]:
            if isinstance(acc, Fraction) and isinstance(v, Fraction):
                acc = _check(acc + v if op == "add" else acc * v)
            else:  # mixing never goes through float: both sides become mpf
                acc = to_mpf(acc) + to_mpf(v) if op == "add" else to_mpf(acc) * to_mpf(v)
        return acc
    if op == "div":
        a, b = evaluate(node[1], env), evaluate(node[2], env)
        if b == 0:
            raise EvalError("division by zero")
        return _check(a / b) if isinstance(a, Fraction) and isinstance(b, Fraction) else to_mpf(a) / to_mpf(b)
    if op == "pow":
        return _pow(evaluate(node[1], env), evaluate(node[2], env))
    if op == "root":
        n = evaluate(node[2], env)
        if n == 0:
            raise EvalError("zeroth root")
        return _pow(evaluate(node[1], env), 1 / n if isinstance(n, Fraction) else 1 / to_mpf(n))
    if op == "fact":
        return Fraction(math.factorial(_int_arg(evaluate(node[1], env), MAX_FACTORIAL)))
    if op == "binom":
        n = _int_arg(evaluate(node[1], env), MAX_FACTORIAL)
        k = evaluate(node[2], env)
        if not isinstance(k, Fraction) or k.denominator != 1:
            raise EvalError("binomial needs integers")
        return Fraction(math.comb(n, int(k)) if 0 <= k <= n else 0)
    if op == "func":
        return _func(node[1], evaluate(node[2], env))
    if op == "log":
        return _log(evaluate(node[1], env), evaluate(node[2], env))
    if op == "pct":
        v = evaluate(node[1], env)
        return v / 100
    raise EvalError(f"not a scalar: {op}")


def log_magnitude(node):
    """Natural log of |value| for products/quotients/powers/factorials too big to evaluate exactly.

    Used only to prove two huge values DIFFERENT (different magnitudes); equal logs prove nothing.
    Returns an mpf, or None when the node is outside what this handles.
    """
    op = node[0]
    try:
        if op in ("num", "const", "add", "func", "log", "binom"):
            v = evaluate(node)
            return None if v == 0 else ctx.ln(abs(to_mpf(v)))
        if op == "neg":
            return log_magnitude(node[1])
        if op in ("mul", "div"):
            parts = [log_magnitude(c) for c in (node[1] if op == "mul" else node[1:])]
            if any(p is None for p in parts):
                return None
            return sum(parts) if op == "mul" else parts[0] - parts[1]
        if op in ("pow", "root"):
            lb = log_magnitude(node[1])
            y = evaluate(node[2])
            y = to_mpf(y) if op == "pow" else 1 / to_mpf(y)
            return None if lb is None else y * lb
        if op == "fact":
            n = evaluate(node[1])
            if not isinstance(n, Fraction) or n.denominator != 1 or n < 0 or n > 10**100:
                return None
            return ctx.loggamma(to_mpf(n) + 1)
    except (EvalError, TooBig, ZeroDivisionError):
        return None
    return None


def values_equal(a, b) -> bool | None:
    """Compare two evaluated values.

    Exact Fractions compare exactly. Otherwise the test is RELATIVE (|a-b| <= 1e-9 max(|a|,|b|)),
    never an absolute epsilon; at 50 significant digits a genuine identity agrees far closer than
    that. Returns None (inconclusive, try the symbolic tier) only when an approximate value is so
    tiny (< 1e-20) that cancellation noise could be deciding, e.g. `\\sin\\pi` against `0`.
    """
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a == b
    am, bm = to_mpf(a), to_mpf(b)
    if am == bm:
        return True
    diff, scale = abs(am - bm), max(abs(am), abs(bm))
    if min(abs(am), abs(bm)) < _TINY:
        return None
    return bool(diff <= REL_TOL * scale)
