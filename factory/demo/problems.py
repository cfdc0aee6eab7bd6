"""Seeded templates for the offline demo's synthetic math problems.

Each template draws its numbers from a `random.Random` it is handed and returns `(problem, answer)`:
English text with LaTeX in `$...$`, and a LaTeX answer computed with sympy or exact integer/Fraction
arithmetic on objects built here (text is never parsed back), in one of four forms: an integer, a
reduced fraction `\\frac{p}{q}`, a radical `k\\sqrt{m}`, or a polynomial in `x`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from fractions import Fraction

import sympy as sp

X = sp.Symbol("x")


class Reject(ValueError):
    """A draw that would give a degenerate problem or a wrong-form answer; the caller draws again."""


# --- answer formatting -----------------------------------------------------------------------------


def latex_frac(q: Fraction) -> str:
    """`-\\frac{3}{4}`; only for true fractions, so an integer can never hide in fraction form."""
    if q.denominator == 1:
        raise Reject(f"{q} is an integer")
    sign = "-" if q < 0 else ""
    return f"{sign}\\frac{{{abs(q.numerator)}}}{{{q.denominator}}}"


def latex_radical(expr: sp.Expr) -> str:
    """`k\\sqrt{m}` from sympy's canonical `k*sqrt(m)` (sympy already pulls squares out of m)."""
    coeff, rad = expr.as_coeff_Mul()
    if not (isinstance(rad, sp.Pow) and rad.exp == sp.Rational(1, 2) and rad.base.is_Integer):
        raise Reject(f"{expr} is not k*sqrt(m)")
    k, m = int(coeff), int(rad.base)
    return f"\\sqrt{{{m}}}" if k == 1 else f"{k}\\sqrt{{{m}}}"


def latex_poly(coeffs: list[int]) -> str:
    """Coefficients (highest degree first) as `3x^{2} + 2x - 5`: unit coefficients and zero terms dropped."""
    deg = len(coeffs) - 1
    parts: list[str] = []
    for i, c in enumerate(coeffs):
        d = deg - i
        if c == 0:
            continue
        mag = "" if abs(c) == 1 and d > 0 else str(abs(c))
        body = mag + ("" if d == 0 else "x" if d == 1 else f"x^{{{d}}}")
        if not parts:
            parts.append(("-" if c < 0 else "") + body)
        else:
            parts.append(("- " if c < 0 else "+ ") + body)
    return " ".join(parts) if parts else "0"


def poly_coeffs(expr: sp.Expr) -> list[int]:
    """Integer coefficients of a sympy polynomial in x, highest degree first."""
    return [int(c) for c in sp.Poly(sp.expand(expr), X).all_coeffs()]


def _nonzero(rng: random.Random, lo: int, hi: int) -> int:
    return rng.choice([n for n in range(lo, hi + 1) if n != 0])


def _rand_poly(rng: random.Random, degree: int, bound: int = 9) -> list[int]:
    return [_nonzero(rng, -bound, bound)] + [rng.randint(-bound, bound) for _ in range(degree)]


# --- integer answers -------------------------------------------------------------------------------


def linear_equation(rng: random.Random) -> tuple[str, str]:
    a, c = _nonzero(rng, -9, 9), rng.randint(-9, 9)
    if a == c:
        raise Reject
    x0, b = rng.randint(-15, 15), rng.randint(-30, 30)
    d = (a - c) * x0 + b  # chosen so the root is the integer x0
    lhs, rhs = latex_poly([a, b]), latex_poly([c, d])
    (root,) = sp.solve(sp.Eq(a * X + b, c * X + d), X)
    text = rng.choice([
        "Solve for $x$: ${l} = {r}$.",
        "What value of $x$ satisfies ${l} = {r}$?",
        "If ${l} = {r}$, what is the value of $x$?",
        "Find the real number $x$ such that ${l} = {r}$.",
    ])
    return text.format(l=lhs, r=rhs), str(int(root))


def gcd_lcm(rng: random.Random) -> tuple[str, str]:
    g = rng.randint(2, 30)
    a, b = g * rng.randint(2, 40), g * rng.randint(2, 40)
    if a == b:
        raise Reject
    if rng.random() < 0.5:
        text = rng.choice(["What is the greatest common divisor of ${a}$ and ${b}$?",
                           "Find $\\gcd({a}, {b})$."])
        return text.format(a=a, b=b), str(sp.igcd(a, b))
    text = rng.choice(["What is the least common multiple of ${a}$ and ${b}$?",
                       "Find $\\operatorname{{lcm}}({a}, {b})$."])
    return text.format(a=a, b=b), str(sp.ilcm(a, b))


def modular_power(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 99), rng.randint(5, 200)
    if rng.random() < 0.2:
        return f"What is the units digit of ${a}^{{{b}}}$?", str(pow(a, b, 10))
    m = rng.randint(3, 50)
    text = rng.choice([
        "What is the remainder when ${a}^{{{b}}}$ is divided by ${m}$?",
        "Find the remainder when ${a}^{{{b}}}$ is divided by ${m}$.",
        "Compute ${a}^{{{b}}} \\bmod {m}$.",
    ])
    return text.format(a=a, b=b, m=m), str(pow(a, b, m))


def binomial(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(6, 24)
    k = rng.randint(2, n - 2)
    text = rng.choice([
        "In how many ways can a committee of ${k}$ people be chosen from a club of ${n}$ members?",
        "Compute $\\dbinom{{{n}}}{{{k}}}$.",
        "How many ${k}$-element subsets does a set with ${n}$ elements have?",
        "A pizzeria offers ${n}$ different toppings. How many different pizzas with exactly ${k}$ "
        "distinct toppings can be ordered?",
    ])
    return text.format(n=n, k=k), str(sp.binomial(n, k))


def arithmetic_series(rng: random.Random) -> tuple[str, str]:
    a, d, n = rng.randint(1, 30), rng.randint(1, 12), rng.randint(5, 40)
    last = a + (n - 1) * d
    total = n * (a + last) // 2  # n*(a+last) is always even for an arithmetic series
    if rng.random() < 0.6:
        series = f"{a} + {a + d} + {a + 2 * d} + \\cdots + {last}"
        text = rng.choice(["Compute the sum ${s}$.", "What is the value of the arithmetic series ${s}$?"])
        return text.format(s=series), str(total)
    return (f"What is the sum of the first ${n}$ terms of the arithmetic sequence whose first term is "
            f"${a}$ and whose common difference is ${d}$?"), str(total)


def divisor_count(rng: random.Random) -> tuple[str, str]:
    n = rng.randint(12, 5000)
    text = rng.choice([
        "How many positive divisors does ${n}$ have?",
        "How many positive integers are factors of ${n}$?",
        "Find the number of positive divisors of ${n}$.",
    ])
    return text.format(n=n), str(sp.divisor_count(n))


def digit_sum(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        a, b = rng.randint(2, 9), rng.randint(10, 60)
        return f"What is the sum of the digits of ${a}^{{{b}}}$?", str(sum(map(int, str(a**b))))
    a, b = rng.randint(100, 999), rng.randint(100, 999)
    return (f"What is the sum of the digits of the product ${a} \\times {b}$?",
            str(sum(map(int, str(a * b)))))


_TRIPLES = [(3, 4, 5), (5, 12, 13), (8, 15, 17), (7, 24, 25), (20, 21, 29), (9, 40, 41)]


def area_perimeter(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["rect_area", "rect_perim", "tri_area", "hyp", "trapezoid", "square"])
    a, b = rng.randint(2, 40), rng.randint(2, 40)
    if kind == "rect_area":
        return (f"A rectangle has a length of ${a}$ cm and a width of ${b}$ cm. What is its area, "
                "in square centimeters?"), str(a * b)
    if kind == "rect_perim":
        return f"What is the perimeter, in units, of a rectangle with length ${a}$ and width ${b}$?", str(2 * (a + b))
    if kind == "tri_area":
        if a * b % 2:
            raise Reject
        return (f"A right triangle has legs of length ${a}$ and ${b}$. What is the area of the "
                "triangle?"), str(a * b // 2)
    if kind == "hyp":
        p, q, r = rng.choice(_TRIPLES)
        k = rng.randint(1, 6)
        return (f"A right triangle has legs of length ${k * p}$ and ${k * q}$. What is the length "
                "of its hypotenuse?"), str(k * r)
    if kind == "trapezoid":
        h = rng.randint(2, 20)
        if (a + b) * h % 2 or a == b:
            raise Reject
        return (f"A trapezoid has parallel sides of length ${a}$ and ${b}$, and its height is ${h}$. "
                "What is the area of the trapezoid?"), str((a + b) * h // 2)
    return f"A square has a perimeter of ${4 * a}$ units. What is its area, in square units?", str(a * a)


def polynomial_value(rng: random.Random) -> tuple[str, str]:
    coeffs = _rand_poly(rng, rng.randint(2, 3), bound=7)
    v = _nonzero(rng, -5, 5)  # f(0) would just read off the constant term
    p = latex_poly(coeffs)
    value = sp.Poly(coeffs, X).eval(v)
    text = rng.choice([
        "If $f(x) = {p}$, what is $f({v})$?",
        "Let $g(x) = {p}$. Find $g({v})$.",
        "Evaluate ${p}$ when $x = {v}$.",
    ])
    return text.format(p=p, v=v), str(int(value))


def multiples_count(rng: random.Random) -> tuple[str, str]:
    n, a, b = rng.randint(50, 1000), rng.randint(2, 15), rng.randint(2, 15)
    if a >= b or b % a == 0:
        raise Reject
    either = n // a + n // b - n // math.lcm(a, b)  # inclusion-exclusion
    if rng.random() < 0.5:
        return (f"How many positive integers less than or equal to ${n}$ are divisible by ${a}$ or "
                f"${b}$?"), str(either)
    return (f"How many positive integers less than or equal to ${n}$ are divisible by neither ${a}$ "
            f"nor ${b}$?"), str(n - either)


# --- fraction answers ------------------------------------------------------------------------------


def quadratic_roots(rng: random.Random) -> tuple[str, str]:
    a, b, c = rng.randint(2, 9), _nonzero(rng, -20, 20), _nonzero(rng, -20, 20)
    if b * b - 4 * a * c <= 0:  # two distinct real roots, so "the roots" is unambiguous
        raise Reject
    eq = latex_poly([a, b, c]) + " = 0"
    if rng.random() < 0.5:
        value = Fraction(-b, a)  # Vieta
        text = rng.choice(["What is the sum of the roots of ${e}$?",
                           "Let $r$ and $s$ be the solutions of ${e}$. Compute $r + s$."])
    else:
        value = Fraction(c, a)
        text = rng.choice(["What is the product of the roots of ${e}$?",
                           "Let $r$ and $s$ be the solutions of ${e}$. Compute $rs$."])
    if value.denominator == 1:
        raise Reject
    return text.format(e=eq), latex_frac(value)


def probability(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["both_red", "mixed", "dice", "divisible"])
    if kind in ("both_red", "mixed"):
        r, b = rng.randint(2, 15), rng.randint(2, 15)
        t = r + b
        stem = (f"A bag contains ${r}$ red marbles and ${b}$ blue marbles. Two marbles are drawn at "
                "random without replacement. What is the probability that ")
        if kind == "both_red":
            return stem + "both marbles are red?", latex_frac(Fraction(r * (r - 1), t * (t - 1)))
        return stem + "one is red and one is blue?", latex_frac(Fraction(2 * r * b, t * (t - 1)))
    if kind == "dice":
        n = rng.randint(4, 20)
        s = rng.randint(2, 2 * n)
        ways = min(s - 1, 2 * n - s + 1)  # pairs (i, s - i) with both faces in 1..n
        return (f"Two fair ${n}$-sided dice, each with faces numbered $1$ through ${n}$, are rolled. "
                f"What is the probability that the sum of the two numbers rolled is ${s}$?"),\
            latex_frac(Fraction(ways, n * n))
    n, k = rng.randint(20, 500), rng.randint(2, 12)
    return (f"An integer is chosen uniformly at random from $1$ to ${n}$, inclusive. What is the "
            f"probability that it is divisible by ${k}$?"), latex_frac(Fraction(n // k, n))


def rational_expression(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.4:
        a, b, c, d = (rng.randint(1, 15) for _ in range(4))
        op = rng.choice(["+", "-"])
        value = Fraction(a, b) + (Fraction(c, d) if op == "+" else -Fraction(c, d))
        return f"Compute $\\frac{{{a}}}{{{b}}} {op} \\frac{{{c}}}{{{d}}}$.", latex_frac(value)
    num, den = _rand_poly(rng, rng.randint(1, 2), 6), _rand_poly(rng, 1, 6)
    v = rng.randint(-6, 6)
    top, bottom = sp.Poly(num, X).eval(v), sp.Poly(den, X).eval(v)
    if bottom == 0:
        raise Reject
    expr = f"\\frac{{{latex_poly(num)}}}{{{latex_poly(den)}}}"
    text = rng.choice(["What is the value of ${e}$ when $x = {v}$?", "Evaluate ${e}$ at $x = {v}$."])
    return text.format(e=expr, v=v), latex_frac(Fraction(int(top), int(bottom)))


# --- radical answers -------------------------------------------------------------------------------


def sqrt_simplify(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.3:
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        value = sp.sqrt(a * b)
        if value.is_Integer:
            raise Reject
        return f"Simplify $\\sqrt{{{a}}} \\cdot \\sqrt{{{b}}}$.", latex_radical(value)
    n = rng.randint(2, 20) ** 2 * rng.randint(2, 60)
    value = sp.sqrt(n)
    if value.is_Integer:
        raise Reject
    text = rng.choice(["Simplify $\\sqrt{{{n}}}$.", "Express $\\sqrt{{{n}}}$ in simplest radical form."])
    return text.format(n=n), latex_radical(value)


def distance(rng: random.Random) -> tuple[str, str]:
    x1, y1, x2, y2 = (rng.randint(-12, 12) for _ in range(4))
    value = sp.sqrt((x2 - x1) ** 2 + (y2 - y1) ** 2)
    if value.is_Integer:  # includes coincident points
        raise Reject
    text = rng.choice([
        "What is the distance between the points $({x1}, {y1})$ and $({x2}, {y2})$?",
        "Find the length of the segment with endpoints $({x1}, {y1})$ and $({x2}, {y2})$. Express "
        "your answer in simplest radical form.",
        "How far apart are the points $({x1}, {y1})$ and $({x2}, {y2})$ in the coordinate plane?",
    ])
    return text.format(x1=x1, y1=y1, x2=x2, y2=y2), latex_radical(value)


# --- polynomial answers ----------------------------------------------------------------------------


def derivative(rng: random.Random) -> tuple[str, str]:
    coeffs = _rand_poly(rng, rng.randint(2, 5))
    f = sp.Poly(coeffs, X).as_expr()
    p = latex_poly(coeffs)
    text = rng.choice([
        "Find $f'(x)$ if $f(x) = {p}$.",
        "What is the derivative of ${p}$ with respect to $x$?",
        "Compute $\\frac{{d}}{{dx}}\\left({p}\\right)$.",
    ])
    return text.format(p=p), latex_poly(poly_coeffs(sp.diff(f, X)))


def expand(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(["two", "square", "cubic"])
    f1 = [_nonzero(rng, -6, 6), _nonzero(rng, -12, 12)]
    if kind == "square":
        shown, expr = f"({latex_poly(f1)})^{{2}}", sp.Poly(f1, X).as_expr() ** 2
    else:
        f2 = [_nonzero(rng, -6, 6), _nonzero(rng, -12, 12)] if kind == "two" else [1] + [
            _nonzero(rng, -9, 9), _nonzero(rng, -9, 9)]
        shown = f"({latex_poly(f1)})({latex_poly(f2)})"
        expr = sp.Poly(f1, X).as_expr() * sp.Poly(f2, X).as_expr()
    text = rng.choice(["Expand ${s}$.", "Expand and simplify ${s}$.",
                       "Write ${s}$ as a polynomial in standard form."])
    return text.format(s=shown), latex_poly(poly_coeffs(expr))


# --- registry --------------------------------------------------------------------------------------

Template = Callable[[random.Random], tuple[str, str]]

# topic -> (template, answer form, how many problems.jsonl gets). Counts are fixed, not sampled, so
# the mix is exactly 60% integer / 20% fraction / 10% radical / 10% polynomial of 2400.
TEMPLATES: dict[str, tuple[Template, str, int]] = {
    "linear_equation": (linear_equation, "integer", 144),
    "gcd_lcm": (gcd_lcm, "integer", 144),
    "modular_power": (modular_power, "integer", 144),
    "binomial": (binomial, "integer", 144),
    "arithmetic_series": (arithmetic_series, "integer", 144),
    "divisor_count": (divisor_count, "integer", 144),
    "digit_sum": (digit_sum, "integer", 144),
    "area_perimeter": (area_perimeter, "integer", 144),
    "polynomial_value": (polynomial_value, "integer", 144),
    "multiples_count": (multiples_count, "integer", 144),
    "quadratic_roots": (quadratic_roots, "fraction", 160),
    "probability": (probability, "fraction", 160),
    "rational_expression": (rational_expression, "fraction", 160),
    "sqrt_simplify": (sqrt_simplify, "radical", 120),
    "distance": (distance, "radical", 120),
    "derivative": (derivative, "polynomial", 120),
    "expand": (expand, "polynomial", 120),
}


def normalize(text: str) -> str:
    """Whitespace-collapsed text, the key for uniqueness (matches the pipeline's exact dedup)."""
    return " ".join(text.split())


def draw(rng: random.Random, topic: str, seen: set[str], max_tries: int = 10_000) -> tuple[str, str]:
    """One problem of `topic` whose normalized text is not in `seen` (which it then joins)."""
    template = TEMPLATES[topic][0]
    for _ in range(max_tries):
        try:
            problem, answer = template(rng)
        except Reject:
            continue
        key = normalize(problem)
        if key not in seen:
            seen.add(key)
            return problem, answer
    raise RuntimeError(f"template {topic!r} ran out of unique problems")
