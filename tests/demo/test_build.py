"""The offline demo's data: regenerating it is a no-op, and every answer survives an independent check.

The checks below never reuse the generator's arithmetic: they read the numbers back out of the problem
text and recompute with plain ints/Fractions, brute force, or sympy on the parsed LaTeX.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import random
import re
import unicodedata
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest
import sympy as sp
from sympy.parsing.sympy_parser import (
    implicit_multiplication_application,
    parse_expr,
    standard_transformations,
)
from tokenizers import Tokenizer

from factory.demo.build import (
    generate_problems,
    generate_side_files,
    render_jsonl,
    tokenizer_corpus,
    train_tokenizer,
)
from factory.stages.sources.canonical import canonical

DEMO = Path(__file__).resolve().parents[2] / "datasets" / "demo"
X = sp.Symbol("x")

FORMS = {  # topic -> answer form, declared here independently of the generator
    **dict.fromkeys(["linear_equation", "gcd_lcm", "modular_power", "binomial", "arithmetic_series",
                     "divisor_count", "digit_sum", "area_perimeter", "polynomial_value",
                     "multiples_count"], "integer"),
    **dict.fromkeys(["quadratic_roots", "probability", "rational_expression"], "fraction"),
    **dict.fromkeys(["sqrt_simplify", "distance"], "radical"),
    **dict.fromkeys(["derivative", "expand"], "polynomial"),
}


def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def as_generated(text: str) -> str:
    """A side file's drifted copy as problems.jsonl wrote it (the templates parse that form); others as is."""
    originals = _originals()
    return originals.get(canonical(text.removesuffix(" Give an exact answer.")), text)


@functools.cache
def _originals() -> dict[str, str]:
    return {canonical(r["problem"]): r["problem"] for r in read_jsonl("problems.jsonl")}


def read_jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (DEMO / name).read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def problems() -> list[dict]:
    return generate_problems(0)


@pytest.fixture(scope="module")
def committed() -> dict[str, list[dict]]:
    return {n: read_jsonl(f"{n}.jsonl") for n in ("problems", "extra", "eval")}


# --- determinism -----------------------------------------------------------------------------------


def test_regenerating_is_a_noop(problems):
    extra, evals = generate_side_files(problems, 0)
    for name, rows in (("problems", problems), ("extra", extra), ("eval", evals)):
        assert (DEMO / f"{name}.jsonl").read_text(encoding="utf-8") == render_jsonl(rows), name


def test_same_seed_same_output_other_seed_differs(problems):
    again = generate_problems(0)
    assert render_jsonl(again) == render_jsonl(problems)
    assert generate_side_files(again, 0) == generate_side_files(problems, 0)
    other = generate_problems(1)
    assert len(other) == 2400 and [r["problem"] for r in other] != [r["problem"] for r in problems]


def test_tokenizer_training_is_deterministic_and_matches_the_committed_file(problems):
    # Training takes well under a second on this corpus, so it is cheap to redo here.
    trained = json.loads(train_tokenizer(tokenizer_corpus(problems)).to_str())
    assert trained == json.loads(train_tokenizer(tokenizer_corpus(problems)).to_str())
    assert trained == json.loads((DEMO / "tokenizer.json").read_text(encoding="utf-8"))


# --- problems.jsonl --------------------------------------------------------------------------------


def test_problems_are_2400_unique_rows_with_the_documented_mix(committed):
    rows = committed["problems"]
    assert len(rows) == 2400
    assert all(set(r) == {"id", "problem", "answer", "topic"} for r in rows)
    assert [r["id"] for r in rows] == [f"synth-{i:05d}" for i in range(2400)]
    assert len({norm(r["problem"]) for r in rows}) == 2400
    assert all(r["problem"] == r["problem"].strip() and r["problem"].count("$") % 2 == 0 for r in rows)
    assert len(Counter(r["topic"] for r in rows)) >= 12
    forms = Counter(FORMS[r["topic"]] for r in rows)
    assert forms == {"integer": 1440, "fraction": 480, "radical": 240, "polynomial": 240}


INT_RE = re.compile(r"-?(?:0|[1-9]\d*)")
FRAC_RE = re.compile(r"-?\\frac\{([1-9]\d*)\}\{([1-9]\d*)\}")
RAD_RE = re.compile(r"([1-9]\d*)?\\sqrt\{([1-9]\d*)\}")
TERM = r"(?:[1-9]\d*)?x(?:\^\{(?:[2-9]|[1-9]\d+)\})?|[1-9]\d*"
POLY_RE = re.compile(rf"-?(?:{TERM})(?: [+-] (?:{TERM}))*")


def squarefree(m: int) -> bool:
    return all(m % (p * p) for p in range(2, math.isqrt(m) + 1))


def check_form(form: str, answer: str) -> None:
    if form == "integer":
        assert INT_RE.fullmatch(answer)
    elif form == "fraction":
        m = FRAC_RE.fullmatch(answer)
        assert m and int(m[2]) > 1 and math.gcd(int(m[1]), int(m[2])) == 1
    elif form == "radical":
        m = RAD_RE.fullmatch(answer)
        assert m and m[1] != "1" and int(m[2]) > 1 and squarefree(int(m[2]))
    else:
        assert POLY_RE.fullmatch(answer) and "x" in answer
        assert not re.search(r"(?<!\d)1x", answer)  # unit coefficients are omitted
        degrees = [int(d or 1) if "x" in t else 0
                   for t, d in re.findall(r"(\d*x(?:\^\{(\d+)\})?|\d+)", answer)]
        assert degrees == sorted(set(degrees), reverse=True)  # descending, like terms combined


@pytest.mark.parametrize("name", ["problems", "extra", "eval"])
def test_answer_forms(committed, name):
    assert len(committed[name]) >= 40
    for row in committed[name]:
        text, answer = (row["question"], row["final"]) if name == "extra" else (row["problem"], row["answer"])
        text = as_generated(text)
        if answer:
            check_form(FORMS[infer_topic(text)], answer)


# --- independent re-check of answers ---------------------------------------------------------------

_T = standard_transformations + (implicit_multiplication_application,)


def to_sympy(tex: str) -> sp.Expr:
    """Parse the small LaTeX subset the templates use (powers, \\frac, \\sqrt, implicit products)."""
    s = tex.replace("\\left(", "(").replace("\\right)", ")").replace("\\cdot", "*").replace("\\times", "*")
    s = re.sub(r"\^\{([^{}]*)\}", r"**(\1)", s)
    s = re.sub(r"\\sqrt\{([^{}]*)\}", r"sqrt(\1)", s)
    s = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"((\1)/(\2))", s)
    assert "\\" not in s and "{" not in s, s
    return parse_expr(s, transformations=_T, local_dict={"x": X})


def math_segments(text: str) -> list[str]:
    return re.findall(r"\$([^$]*)\$", text)


def ints(text: str) -> list[int]:
    return [int(n) for seg in math_segments(text) for n in re.findall(r"-?\d+", seg)]


def infer_topic(text: str) -> str:
    """Which template wrote `text`, from its wording alone (also checks the `topic` labels)."""
    rules = [
        ("derivative", r"derivative|f'\(x\)|\\frac\{d\}\{dx\}"), ("expand", r"Expand|standard form"),
        ("probability", r"probability"), ("quadratic_roots", r"roots of|solutions of"),
        ("sqrt_simplify", r"\\sqrt"), ("distance", r"points|endpoints"),
        ("rational_expression", r"\\frac"), ("linear_equation", r"\$x\$"),
        ("gcd_lcm", r"common (divisor|multiple)|gcd|lcm"), ("modular_power", r"remainder|bmod|units digit"),
        ("binomial", r"committee|dbinom|subsets|toppings"), ("arithmetic_series", r"arithmetic|cdots"),
        ("digit_sum", r"sum of the digits"), ("divisor_count", r"divisors|factors of"),
        ("multiples_count", r"divisible by"), ("area_perimeter", r"rectangle|triangle|trapezoid|square"),
        ("polynomial_value", r"[fg]\(x\) =|Evaluate"),
    ]
    return next(topic for topic, pattern in rules if re.search(pattern, text))


def expected_value(text: str, answer: str) -> None:  # noqa: C901 - one branch per template
    """Assert `answer` is right for `text`, recomputed without the generator's code."""
    topic, segs, n = infer_topic(text), math_segments(text), ints(text)
    if topic == "linear_equation":
        lhs, rhs = (to_sympy(side) for side in next(s for s in segs if "=" in s).split("="))
        assert sp.diff(lhs - rhs, X) != 0 and (lhs - rhs).subs(X, int(answer)) == 0
    elif topic == "gcd_lcm":
        op = math.gcd if re.search("divisor|gcd", text) else math.lcm
        assert op(n[0], n[1]) == int(answer)
    elif topic == "modular_power":
        assert pow(n[0], n[1], 10 if "units digit" in text else n[2]) == int(answer)
    elif topic == "binomial":
        assert math.comb(max(n), min(n)) == int(answer)
    elif topic == "arithmetic_series":
        if "first term" in text:
            terms = [n[1] + i * n[2] for i in range(n[0])]
        else:
            terms = list(range(n[0], n[-1] + 1, n[1] - n[0]))
            assert terms[:3] == n[:3] and terms[-1] == n[-1]
        assert sum(terms) == int(answer)
    elif topic == "digit_sum":
        value = n[0] * n[1] if "\\times" in text else n[0] ** n[1]
        assert sum(int(c) for c in str(value)) == int(answer)
    elif topic == "divisor_count":
        assert sum(n[0] % k == 0 for k in range(1, n[0] + 1)) == int(answer)
    elif topic == "multiples_count":
        hit = [k % n[1] == 0 or k % n[2] == 0 for k in range(1, n[0] + 1)]
        assert (hit.count(False) if "neither" in text else hit.count(True)) == int(answer)
    elif topic == "area_perimeter":
        if "trapezoid" in text:
            assert Fraction((n[0] + n[1]) * n[2], 2) == int(answer)
        elif "hypotenuse" in text:
            assert n[0] ** 2 + n[1] ** 2 == int(answer) ** 2
        elif "triangle" in text:
            assert Fraction(n[0] * n[1], 2) == int(answer)
        elif "square has" in text:
            assert Fraction(n[0], 4) ** 2 == int(answer)
        elif "perimeter" in text:
            assert 2 * (n[0] + n[1]) == int(answer)
        else:
            assert n[0] * n[1] == int(answer)
    elif topic == "polynomial_value":
        assert to_sympy(segs[0].split("=")[-1]).subs(X, n[-1]) == int(answer)
    elif topic == "quadratic_roots":
        roots = sp.solve(to_sympy(max(segs, key=len).split("=")[0]), X)
        assert len(roots) == 2 and all(r.is_real for r in roots)
        value = roots[0] + roots[1] if re.search(r"sum|r \+ s", text) else roots[0] * roots[1]
        assert sp.simplify(value - to_sympy(answer)) == 0
    elif topic == "probability":
        if "marbles" in text:
            bag = ["r"] * n[0] + ["b"] * n[1]
            draws = [bag[i] + bag[j] for i, j in itertools.permutations(range(len(bag)), 2)]
            good = sum(d == "rr" if "both" in text else d in ("rb", "br") for d in draws)
        elif "dice" in text:
            draws = list(itertools.product(range(1, n[0] + 1), repeat=2))
            good = sum(a + b == n[-1] for a, b in draws)
        else:
            draws = range(n[0], n[1] + 1)
            good = sum(k % n[2] == 0 for k in draws)
        assert Fraction(good, len(draws)) == Fraction(str(to_sympy(answer)))
    elif topic == "rational_expression":
        value = to_sympy(segs[0])
        if "x =" in text:
            value = value.subs(X, n[-1])
        assert value == to_sympy(answer) and value.is_Rational
    elif topic in ("sqrt_simplify", "distance"):
        k, m = RAD_RE.fullmatch(answer).groups()
        square = (n[0] - n[2]) ** 2 + (n[1] - n[3]) ** 2 if topic == "distance" else math.prod(n)
        assert int(k or 1) ** 2 * int(m) == square
    elif topic == "derivative":
        seg = max(segs, key=len)  # the polynomial; the other segments are `f'(x)` or `x`
        f = seg.split("=")[-1] if "=" in seg else re.sub(r"^\\frac\{d\}\{dx\}", "", seg)
        assert sp.expand(sp.diff(to_sympy(f), X) - to_sympy(answer)) == 0
    elif topic == "expand":
        assert sp.expand(to_sympy(segs[0]) - to_sympy(answer)) == 0


def test_topic_labels_match_the_wording(committed):
    assert all(infer_topic(r["problem"]) == r["topic"] for r in committed["problems"])


def test_answers_recheck_independently_for_a_sample_of_each_template(committed):
    by_topic: dict[str, list[dict]] = {}
    for row in committed["problems"]:
        by_topic.setdefault(row["topic"], []).append(row)
    rng = random.Random(0)
    for _, rows in sorted(by_topic.items()):
        for row in rng.sample(rows, 40):
            expected_value(row["problem"], row["answer"])


def test_side_file_answers_recheck(committed):
    pairs = [(r["question"], r["final"]) for r in committed["extra"] if r["final"]]
    pairs += [(r["problem"], r["answer"]) for r in committed["eval"]]
    assert len(pairs) >= 60
    for text, answer in pairs:
        expected_value(as_generated(text), answer)


# --- extra.jsonl and eval.jsonl --------------------------------------------------------------------


def test_extra_overlaps(committed):
    rows, base = committed["extra"], {norm(r["problem"]): r for r in committed["problems"]}
    forms = {canonical(r["problem"]): r for r in committed["problems"]}
    assert len(rows) == 60 and all(set(r) == {"qid", "question", "final"} for r in rows)
    assert len({norm(r["question"]) for r in rows}) == 60  # no duplicates inside the file
    copies = [r for r in rows if norm(r["question"]) in base]
    drifted = [r for r in rows if norm(r["question"]) not in base and canonical(r["question"]) in forms]
    assert (len(copies), len(drifted)) == (19, 6)
    assert all(r["final"] == base[norm(r["question"])]["answer"] for r in copies)
    assert all(r["final"] == forms[canonical(r["question"])]["answer"] for r in drifted)
    respaced = [r for r in copies if r["question"] != base[norm(r["question"])]["problem"]]
    assert len(respaced) == 12
    missing = [r for r in rows if r["final"] in (None, "")]
    assert len(missing) == 5 and Counter(r["final"] for r in missing) == {None: 3, "": 2}
    assert not any(canonical(r["question"]) in forms for r in missing)
    assert sum(canonical(r["question"]) not in forms and bool(r["final"]) for r in rows) == 30


def test_eval_overlaps(committed):
    rows, base = committed["eval"], {norm(r["problem"]): r for r in committed["problems"]}
    forms = {canonical(r["problem"]): r for r in committed["problems"]}
    assert len(rows) == 40 and all(set(r) == {"problem", "answer"} and r["answer"] for r in rows)
    assert len({norm(r["problem"]) for r in rows}) == 40
    copies = [r for r in rows if norm(r["problem"]) in base]
    assert len(copies) == 5
    assert all(r == {k: base[norm(r["problem"])][k] for k in ("problem", "answer")} for r in copies)
    # the other five drift (delimiters, \dfrac, an instruction); the one with an instruction no pattern knows
    # has another matching form, and `factory curate` still finds it (tests/test_cli.py)
    drifted = [r for r in rows if norm(r["problem"]) not in base and canonical(r["problem"]) in forms]
    assert len(drifted) + sum("Give an exact answer." in r["problem"] for r in rows) == 5
    extra = {canonical(r["question"]) for r in committed["extra"]}
    assert not any(canonical(r["problem"]) in extra for r in rows)


# --- tokenizer.json --------------------------------------------------------------------------------

PARAGRAPH = (
    "Okay, let me work through this carefully. We need the sum of the roots of $6x^{2} - 5x - 4 = 0$. "
    "By Vieta's formulas, the sum is $-\\frac{b}{a} = \\frac{5}{6}$. Wait, let me double-check by "
    "factoring: $6x^{2} - 5x - 4 = (2x + 1)(3x - 4)$, so the roots are $x = -\\frac{1}{2}$ and "
    "$x = \\frac{4}{3}$. Adding them, $-\\frac{3}{6} + \\frac{8}{6} = \\frac{5}{6}$, which matches. "
)


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer.from_file(str(DEMO / "tokenizer.json"))


def test_tokenizer_file(tokenizer):
    assert (DEMO / "tokenizer.json").stat().st_size < 400_000
    assert 3000 <= tokenizer.get_vocab_size() <= 4000
    for special in ("<|endoftext|>", "<think>", "</think>"):
        assert tokenizer.encode(special).tokens == [special]


@pytest.mark.parametrize("text", [
    PARAGRAPH,
    "Plain ASCII with   odd  spacing,\ttabs\nand newlines.\n\n",
    "Unicode: café, naïve, Ω ≈ 3.14, ∑_{k=1}^{n} k, 数学, 😀, \u200b zero-width.",
])
def test_tokenizer_round_trips_any_text(tokenizer, text):
    ids = tokenizer.encode(text).ids
    assert tokenizer.decode(ids) == text


def test_tokenizer_token_count_is_plausible(tokenizer):
    paragraph = (PARAGRAPH * 3)[:1000]
    assert 50 <= len(tokenizer.encode(paragraph).ids) <= 400
