"""Unit tests of the simulated teacher's text: equivalent forms, wrong answers, reasoning shape."""

from __future__ import annotations

import random
import statistics
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.simteacher import traces
from factory.simteacher.lookup import ProblemIndex


def _forms(answer: str, draws: int = 60) -> set[str]:
    rng = random.Random(0)
    return {traces.equivalent_form(answer, rng) for _ in range(draws)}


@pytest.mark.parametrize("answer, expected", [
    ("12", {"12.0", r"\frac{24}{2}"}),
    ("-3", {"-3.0", r"\frac{-6}{2}"}),
    (r"\frac{3}{4}", {"3/4", r"\dfrac{3}{4}", "0.75"}),
    (r"\frac{1}{3}", {"1/3", r"\dfrac{1}{3}"}),  # no finite decimal
    (r"\frac{7}{40}", {"7/40", r"\dfrac{7}{40}", "0.175"}),
    (r"-\frac{2}{5}", {r"\frac{-2}{5}"}),
    (r"2\sqrt{3}", {r"\sqrt{12}"}),
    (r"-3\sqrt{2}", {r"-\sqrt{18}"}),
    ("3x^{2} + 2x", {"2x + 3x^{2}"}),
    ("x^{2} - 4x + 1", {"1 - 4x + x^{2}"}),
    ("-x + 5", {"5 - x"}),
    (r"\frac{1}{2} + \sqrt{3}", {r"\sqrt{3} + \frac{1}{2}"}),
])
def test_equivalent_forms(answer, expected):
    assert _forms(answer) == expected


@pytest.mark.parametrize("answer", [
    r"\pi", "x^{2}", "(1, 2)", "x = 3 + 2", r"\text{(A)}", "|x - 1|", r"\{1, 2\}", "e^{-x}", r"2^{10}",
    r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"[0, 1)",
])
def test_unknown_forms_are_unchanged(answer):
    assert _forms(answer, 5) == {answer}


def test_finite_decimal():
    assert traces._finite_decimal(1, 8) == "0.125"
    assert traces._finite_decimal(5, 2) == "2.5"
    assert traces._finite_decimal(4, 2) == "2.0"
    assert traces._finite_decimal(1, 6) is None


def _value(text: str) -> Fraction:
    """Exact value of the integer and fraction forms produced above."""
    text = text.replace(r"\dfrac", r"\frac")
    if text.startswith(r"\frac{") or text.startswith(r"-\frac{"):
        sign = -1 if text.startswith("-") else 1
        num, den = text.split(r"\frac{", 1)[1].rstrip("}").split("}{")
        return sign * Fraction(int(num), int(den))
    if "/" in text:
        num, den = text.split("/")
        return Fraction(int(num), int(den))
    return Fraction(text)


@settings(max_examples=200, deadline=None)
@given(st.integers(-10**6, 10**6), st.integers(1, 10**4), st.integers(0, 2**32))
def test_numeric_forms_keep_value_and_wrong_answers_change_it(num, den, seed):
    rng = random.Random(seed)
    for ref in (str(num), rf"\frac{{{abs(num) or 1}}}{{{den}}}", rf"-\frac{{{abs(num) or 1}}}{{{den}}}"):
        assert _value(traces.equivalent_form(ref, rng)) == _value(ref)
        wrong = traces.wrong_answer(ref, rng)
        assert wrong != ref and _value(wrong) != _value(ref)


@pytest.mark.parametrize("answer", [
    "12", "-3", "0", r"\frac{3}{4}", r"-\frac{1}{2}", r"2\sqrt{3}", "0.75", "3x^{2} + 2x", r"\pi",
    r"\text{(C)}", "B", r"x^{2}",
])
def test_wrong_answers_differ(answer):
    rng = random.Random(1)
    for _ in range(20):
        wrong = traces.wrong_answer(answer, rng)
        assert wrong.strip() and wrong != answer


def test_sqrt_wrong_changes_coefficient():
    assert traces.wrong_answer(r"2\sqrt{3}", random.Random(0)).endswith(r"\sqrt{3}")
    assert traces.wrong_answer(r"2\sqrt{3}", random.Random(0)) != r"2\sqrt{3}"


def test_reasoning_length_is_lognormal_around_mean_and_varied():
    rng = random.Random(7)
    texts = [traces.reasoning_text(rng, 600, (3, 5), "8") for _ in range(400)]
    tokens = [len(t) / 4 for t in texts]
    assert 450 < statistics.mean(tokens) < 780
    assert min(tokens) < 350 and max(tokens) > 1000  # a spread, not a constant
    assert len(set(texts)) == len(texts)
    assert all(t.rstrip().endswith("8.") for t in texts)
    assert sum("\n\n" in t for t in texts) > 350
    assert any("Wait" in t or "wait" in t for t in texts)
    assert any("3" in t and "5" in t for t in texts)


def test_final_text_boxes_the_answer():
    text = traces.final_text(random.Random(0), r"\frac{3}{4}")
    assert text.endswith(r"The final answer is $\boxed{\frac{3}{4}}$.")


def test_fallback_answer_is_stable_integer():
    a = traces.fallback_answer("some unknown prompt")
    assert a == traces.fallback_answer("some unknown prompt") and a.isdigit()


def test_problem_numbers():
    assert traces.problem_numbers("If 3 apples cost 12 dollars") == (3, 12)
    assert traces.problem_numbers("no numbers") == (2, 5)


def test_problem_index_finds_problem_through_templates():
    problems = {"What is $3+4$?": "7", "Let $x$ satisfy\n\n$x^2 = 9$ and $x > 0$. Find $x$.": "3",
                "Find $x$.": "99"}
    index = ProblemIndex(problems)
    suffix = "\n\nPlease reason step by step, and put your final answer within \\boxed{}."
    assert index.lookup("What is $3+4$?" + suffix)[1] == "7"
    assert index.lookup("What is $3+4$?")[1] == "7"
    assert index.lookup("Solve this.\n\nWhat is $3+4$?\n\nThanks")[1] == "7"
    # a multi-paragraph problem inside a template, not confused with its sub-phrase "Find $x$."
    assert index.lookup("Let $x$ satisfy\n\n$x^2 = 9$ and $x > 0$. Find $x$." + suffix)[1] == "3"
    # a prefix on the same line needs the fallback scan
    assert index.lookup("Problem: What is $3+4$? Answer briefly.")[1] == "7"
    assert index.lookup("Problem: something else entirely")[1] is None
    assert ProblemIndex({}).lookup("anything")[1] is None
