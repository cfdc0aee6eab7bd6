"""Seeded generator of (reference, response, label) pairs for bench_verify_speed.py.

Everything is synthesised here from a `random.Random(seed)`; no dataset rows are used. Each category
function returns (reference, equivalent answer, wrong answer): the equivalent one is written in a
different but mathematically equal form, the wrong one differs in value (or order, bracket, letter).
`make_mix` picks categories with corpus-like weights (mostly numeric answers), flips a fair coin
between the equivalent and the wrong answer, and wraps the answer in a response: a short solution
ending in `\\boxed{}`, a "The answer is $...$" line, or (category `trace`) several KB of
`<think>...</think>` reasoning followed by a boxed answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction
from math import gcd


@dataclass(frozen=True)
class Pair:
    category: str
    reference: str
    response: str
    label: bool  # the generator meant the response to be equivalent to the reference


def _frac(f: Fraction, cmd: str = "\\frac") -> str:
    sign = "-" if f < 0 else ""
    return f"{sign}{cmd}{{{abs(f.numerator)}}}{{{f.denominator}}}"


def _dec(f: Fraction) -> str:
    """Exact decimal string of a fraction whose denominator is 2^a 5^b."""
    digits = 0
    while (f * 10**digits).denominator != 1:
        digits += 1
    n = abs(f.numerator * 10**digits // f.denominator)
    s = str(n).rjust(digits + 1, "0")
    body = f"{s[:-digits]}.{s[-digits:]}" if digits else s
    return ("-" if f < 0 else "") + body


def _repeating(f: Fraction) -> str:
    """Exact repeating-decimal LaTeX of a fraction, e.g. 7/6 -> 1.1\\overline{6}."""
    whole, rem = divmod(abs(f.numerator), f.denominator)
    digits, seen = [], {}
    while rem not in seen:
        seen[rem] = len(digits)
        rem *= 10
        digits.append(str(rem // f.denominator))
        rem %= f.denominator
    start = seen[rem]
    body = "".join(digits[:start]) + "\\overline{" + "".join(digits[start:]) + "}"
    return ("-" if f < 0 else "") + f"{whole}.{body}"


def integers(rng: random.Random):
    n = rng.choice([rng.randint(0, 100), rng.randint(100, 9999), rng.randint(10_000, 10**7), -rng.randint(1, 60)])
    forms = [
        str(n),
        f"{n}.0",
        f"{n} \\text{{ cm}}",
        f"{n}^\\circ" if n >= 0 else str(n),
        f"\\text{{{n}}}",
        f"\\mathbf{{{n}}}",
    ]
    if n >= 0:
        forms += [f"\\${n}", f"{n} \\text{{ ways}}"]
    if n >= 1000:
        forms += [f"{n:,}", f"{n:,}".replace(",", "{,}")]
    wrong = rng.choice([n + rng.randint(1, 9), n - rng.randint(1, 9), -n if n else 1, n * 10 if n else 10])
    return str(n), rng.choice(forms), str(wrong)


def decimals(rng: random.Random):
    den = rng.choice([2, 4, 5, 8, 10, 20, 25, 40, 100, 125])
    f = Fraction(rng.randint(1, 5 * den), den)
    if f.denominator == 1:
        f += Fraction(1, 2)
    ref = _dec(f)
    forms = [
        _frac(f),
        f"{f.numerator}/{f.denominator}",
        ref + "0",
        ref.lstrip("0") if ref.startswith("0.") else ref + "00",
    ]
    wrong = f + Fraction(rng.choice([1, 3, 7]), 10 * den)
    return ref, rng.choice(forms), _dec(wrong)


def fractions(rng: random.Random):
    q = rng.randint(2, 24)
    p = rng.choice([x for x in range(1, 5 * q) if gcd(x, q) == 1])
    f = Fraction(p, q) * rng.choice([1, 1, 1, -1])
    k = rng.randint(2, 5)
    forms = [
        f"\\dfrac{{{f.numerator * k}}}{{{f.denominator * k}}}",
        f"{f.numerator}/{f.denominator}",
        f"\\frac{{{-f.numerator}}}{{{-f.denominator}}}" if f < 0 else f"\\tfrac{{{p}}}{{{q}}}",
    ]
    if f > 1:  # mixed number: 2\frac{1}{3} means 7/3 in school answers
        whole, rest = divmod(f.numerator, f.denominator)
        forms.append(f"{whole}\\frac{{{rest}}}{{{f.denominator}}}")
    if f.denominator in (3, 6, 7, 9, 11, 12):
        forms.append(_repeating(f))
        forms.append(f"{float(f):.4f}")  # the rounding rule: the fraction rounded to the 4+ significant digits shown
    wrong = rng.choice([Fraction(f.denominator, f.numerator), f + 1, Fraction(f.numerator + 1, f.denominator)])
    if rng.random() < 0.2 and f.denominator in (3, 6, 7, 9, 11, 12):
        # |f| < 5: one decimal shows at most 2 significant digits, too few to stand for the exact fraction
        return _frac(f), rng.choice(forms), f"{float(f):.1f}"
    if wrong == f:
        wrong = f + 1
    return _frac(f), rng.choice(forms), _frac(wrong)


def percents(rng: random.Random):
    p = rng.choice([5, 10, 12.5, 20, 25, 30, 40, 50, 60, 75, 80, 95, 150])
    ps = f"{p:g}"
    if rng.random() < 0.5:
        ref, forms = f"{ps}\\%", [ps, f"{ps}\\%", f"{ps} \\%"]
    else:
        ref, forms = ps, [f"{ps}\\%", f"{ps}.0"]
    return ref, rng.choice(forms), f"{p + rng.choice([5, 10, -1]):g}\\%"


def radicals(rng: random.Random):
    a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7, 10, 11])
    c = rng.randint(2, 12)
    # `\sqrt 10` is sqrt(1) followed by 0 in TeX, so the brace-less form is only used for one digit
    spaced = f"{a} \\sqrt {b}" if b < 10 else f"{a} \\sqrt {{{b}}}"
    options = [
        (f"{a}\\sqrt{{{b}}}", [f"\\sqrt{{{a * a * b}}}", spaced, f"\\sqrt{{{b}}}\\cdot {a}"], f"{a}\\sqrt{{{b + 1}}}"),
        (
            f"\\frac{{\\pi}}{{{c}}}",
            [f"\\pi/{c}", f"\\frac{{1}}{{{c}}}\\pi", f"\\frac{{{2}\\pi}}{{{2 * c}}}"],
            f"\\frac{{\\pi}}{{{c + 1}}}",
        ),
        (f"{a}\\pi", [f"\\pi {a}", f"{a} \\cdot \\pi", f"\\frac{{{2 * a}\\pi}}{{2}}"], f"{a + 1}\\pi"),
        (f"\\frac{{{a}\\sqrt{{2}}}}{{2}}", [f"\\frac{{{a}}}{{\\sqrt{{2}}}}", f"{a}/\\sqrt{{2}}"], f"{a}\\sqrt{{2}}"),
        (f"{a}+\\sqrt{{{b}}}", [f"\\sqrt{{{b}}}+{a}", f"{a}+{b}^{{1/2}}"], f"{a}-\\sqrt{{{b}}}"),
        (
            f"\\frac{{\\sqrt{{{b}}}}}{{{b}}}",
            [f"\\frac{{1}}{{\\sqrt{{{b}}}}}", f"1/\\sqrt{b}" if b < 10 else f"1/\\sqrt{{{b}}}"],
            f"\\sqrt{{{b}}}",
        ),
    ]
    ref, forms, wrong = rng.choice(options)
    return ref, rng.choice(forms), wrong


def symbolic(rng: random.Random):
    a, b = rng.randint(1, 9), rng.randint(1, 9)
    v = rng.choice("xyntk")
    options = [
        (f"{v}^2+{a + b}{v}+{a * b}", [f"({v}+{a})({v}+{b})", f"{a * b}+{a + b}{v}+{v}^2"], f"({v}+{a})({v}+{b + 1})"),
        (
            f"\\frac{{{v}+{a}}}{{{b + 1}}}",
            [f"\\frac{{{v}}}{{{b + 1}}}+\\frac{{{a}}}{{{b + 1}}}", f"({v}+{a})/{b + 1}"],
            f"\\frac{{{v}+{a + 1}}}{{{b + 1}}}",
        ),
        (f"{a}{v}^{{{b + 1}}}", [f"{a}\\cdot {v}^{{{b + 1}}}", f"{v}^{{{b + 1}}}\\cdot {a}"], f"{a}{v}^{{{b + 2}}}"),
        (
            f"{a}\\sqrt{{{v}}}",
            [f"\\sqrt{{{a * a}{v}}}", f"{a}{v}^{{1/2}}"],
            f"\\sqrt{{{a}{v}}}" if a > 1 else f"2\\sqrt{{{v}}}",
        ),
        (f"\\sin({2}{v})", [f"2\\sin {v}\\cos {v}", f"2\\sin({v})\\cos({v})"], f"\\sin({v})\\cos({v})"),
        (f"\\frac{{{a}}}{{{v}}}", [f"{a}{v}^{{-1}}", f"{a}/{v}"], f"{a}{v}"),
        (f"{v}^2-{a * a}", [f"({v}-{a})({v}+{a})", f"-{a * a}+{v}^2"], f"({v}-{a})^2"),
    ]
    ref, forms, wrong = rng.choice(options)
    return ref, rng.choice(forms), wrong


def equations(rng: random.Random):
    n, m = rng.randint(-20, 40), rng.randint(2, 9)
    options = [
        (str(n), [f"x={n}", f"x = {n}"], f"x={n + 1}"),
        (f"x={n}", [str(n), f"{n}=x"], str(n - 1)),
        (f"y={m}x+{abs(n)}", [f"y={abs(n)}+{m}x", f"y = {m} x + {abs(n)}"], f"y={m}x-{abs(n) + 1}"),
        (f"y={m}x+{abs(n)}", [f"{m}x-y+{abs(n)}=0", f"y-{m}x={abs(n)}"], f"{m}x+y={abs(n)}"),
        (f"k={m}", [f"k = {m}", str(m)], f"k={m + 2}"),
    ]
    ref, forms, wrong = rng.choice(options)
    return ref, rng.choice(forms), wrong


def intervals(rng: random.Random):
    a = rng.randint(-10, 5)
    b = a + rng.randint(1, 9)
    lo, hi = rng.choice("(["), rng.choice(")]")
    options = [
        (
            f"{lo}{a}, {b}{hi}",
            [f"\\left{lo}{a},{b}\\right{hi}", f"{lo} {a} , {b} {hi}"],
            f"{'[' if lo == '(' else '('}{a}, {b}{hi}",
        ),
        (f"[{a}, {b})", [f"{a} \\le x < {b}", f"x \\in [{a},{b})"], f"{a} < x < {b}"),
        (f"[{a}, \\infty)", [f"\\left[{a},\\infty\\right)", f"[{a},+\\infty)"], f"({a}, \\infty)"),
        (
            f"(-\\infty, {a}) \\cup ({b}, \\infty)",
            [f"(-\\infty,{a})\\cup({b},\\infty)"],
            f"(-\\infty, {a}] \\cup ({b}, \\infty)",
        ),
    ]
    ref, forms, wrong = rng.choice(options)
    return ref, rng.choice(forms), wrong


def sets_tuples(rng: random.Random):
    xs = rng.sample(range(-9, 20), rng.randint(2, 4))
    ys = xs[:]
    rng.shuffle(ys)
    if rng.random() < 0.5:
        ref = "\\{" + ", ".join(map(str, xs)) + "\\}"
        forms = [
            "\\{" + ",".join(map(str, ys)) + "\\}",
            "\\left\\{" + ", ".join(map(str, ys)) + "\\right\\}",
            ", ".join(map(str, ys)),
        ]
        wrong = "\\{" + ", ".join(map(str, xs[:-1] + [xs[-1] + 1])) + "\\}"
    else:
        ref = "(" + ", ".join(map(str, xs)) + ")"
        forms = [
            "\\left(" + ",".join(map(str, xs)) + "\\right)",
            "(" + ", ".join(f"\\frac{{{2 * x}}}{{2}}" for x in xs) + ")",
        ]
        wrong = "(" + ", ".join(map(str, xs[::-1])) + ")"  # the same numbers in another order
    return ref, rng.choice(forms), wrong


def matrices(rng: random.Random):
    r, c = rng.choice([(2, 2), (2, 1), (3, 1), (3, 3)])
    m = [[rng.randint(-9, 9) for _ in range(c)] for _ in range(r)]

    def tex(rows, env="pmatrix", cell=str):
        body = " \\\\ ".join(" & ".join(cell(x) for x in row) for row in rows)
        return f"\\begin{{{env}}}" + body + f"\\end{{{env}}}"

    forms = [tex(m, "bmatrix"), tex(m, cell=lambda x: f"\\frac{{{2 * x}}}{{2}}"), tex(m).replace(" ", "")]
    bad = [row[:] for row in m]
    bad[-1][-1] += rng.choice([1, -1, 2])
    return tex(m), rng.choice(forms), tex(bad)


def text_choices(rng: random.Random):
    letter = rng.choice("ABCDE")
    other = rng.choice([x for x in "ABCDE" if x != letter])
    name, other_name = rng.sample(["Evelyn", "Monday", "Tuesday", "yes", "no", "Carlos", "even", "odd", "north"], 2)
    options = [
        (
            letter,
            [f"\\text{{{letter}}}", f"\\textbf{{{letter}}}", letter, f"\\text{{({letter})}}", f"({letter})"],
            other,
        ),
        (f"\\text{{{letter}}}", [letter, f"\\mathrm{{{letter}}}"], f"\\text{{{other}}}"),
        (
            f"\\text{{{name}}}",
            [name, f"\\text{{{name}}}", name.capitalize() if name.islower() else name],
            f"\\text{{{other_name}}}",
        ),
    ]
    ref, forms, wrong = rng.choice(options)
    return ref, rng.choice(forms), wrong


_NUMERIC = [integers, decimals, fractions, radicals]
_FILLER = [
    "Let me compute this step by step.",
    "First, note that the expression simplifies if we expand the product and collect like terms.",
    "Wait, I should double-check the arithmetic here: {a} + {b} = {c}, and {c} times 2 is {d}.",
    "Hmm, maybe a substitution works better. Let $u = x + {a}$, then $u^2 = x^2 + {d}x + {e}$.",
    "So the sum is $\\frac{{{a}}}{{{b}}} + \\frac{{{b}}}{{{a}}}$, which we can put over a common denominator.",
    "Checking the boundary case $n = {a}$ gives ${c}$, consistent with the formula.",
    "Alternatively, consider the complementary count: there are ${e}$ arrangements in total.",
    "That contradicts the earlier assumption, so the case $k > {b}$ is impossible.",
]


def trace(rng: random.Random):
    ref, ans, wrong = rng.choice(_NUMERIC)(rng)
    return ref, ans, wrong


def _reasoning(rng: random.Random, target_chars: int) -> str:
    parts, size = [], 0
    while size < target_chars:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        s = rng.choice(_FILLER).format(a=a, b=b, c=a + b, d=2 * (a + b), e=a * a)
        parts.append(s)
        size += len(s) + 1
    return " ".join(parts)


def _wrap(rng: random.Random, category: str, answer: str) -> str:
    if category == "trace":
        think = _reasoning(rng, rng.randint(2000, 8000))
        if rng.random() < 0.3:  # an abandoned boxed guess inside the reasoning must not count
            think += f" So maybe \\boxed{{{rng.randint(0, 99)}}}? No, let me recheck."
        tail = _reasoning(rng, 200)
        return f"<think>\n{think}\n</think>\n\n{tail}\n\nTherefore, the final answer is $\\boxed{{{answer}}}$."
    style = rng.random()
    if style < 0.7:
        return f"{_reasoning(rng, rng.randint(100, 600))}\n\nThus the answer is $\\boxed{{{answer}}}$."
    if style < 0.8:
        return f"{_reasoning(rng, 200)}\n\nThe final answer is $\\boxed{{{answer}}}$"
    if style < 0.9:
        return f"{_reasoning(rng, 300)}\n\n**Final Answer**\n\\[\n\\boxed{{{answer}}}\n\\]"
    return f"{_reasoning(rng, 200)}\n\nThe final answer is ${answer}$."


CATEGORIES = {  # name -> (generator, weight); weights roughly like a competition-math corpus
    "integer": (integers, 32),
    "decimal": (decimals, 8),
    "fraction": (fractions, 12),
    "percent": (percents, 3),
    "radical_pi": (radicals, 8),
    "symbolic": (symbolic, 6),
    "equation": (equations, 4),
    "interval": (intervals, 3),
    "set_tuple": (sets_tuples, 4),
    "matrix": (matrices, 2),
    "text_choice": (text_choices, 6),
    "trace": (trace, 12),
}


def make_mix(n: int, seed: int = 0) -> list[Pair]:
    """`n` pairs drawn with the category weights; about half are meant to be equivalent."""
    rng = random.Random(seed)
    names = list(CATEGORIES)
    weights = [CATEGORIES[k][1] for k in names]
    out = []
    for _ in range(n):
        cat = rng.choices(names, weights)[0]
        ref, same, wrong = CATEGORIES[cat][0](rng)
        label = rng.random() < 0.5
        out.append(Pair(cat, ref, _wrap(rng, cat, same if label else wrong), label))
    return out
