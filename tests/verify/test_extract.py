"""Answer extraction."""

import pytest

from factory.verify import extract_answer
from factory.verify.extract import MAX_SEARCH_CHARS, boxed_contents, final_part


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"so \boxed{5}", ("5", "ok")),
        (r"\boxed{\frac{1}{2}}", (r"\frac{1}{2}", "ok")),
        (r"\boxed{\{1,2\}}", (r"\{1,2\}", "ok")),
        (r"\fbox{7}", ("7", "ok")),
        (r"\boxed 5.", ("5.", "ok")),
        (r"$\boxed{x^{2}}$", ("x^{2}", "ok")),
        (r"\boxed{3} then \boxed{4}", ("4", "hedged")),
        (r"\boxed{3} then \boxed{ 3 }", ("3", "ok")),
        (r"\boxed{\dfrac12} or \boxed{\frac12}", (r"\frac12", "ok")),
        (r"\boxed{\boxed{3}}", (r"\boxed{3}", "ok")),
        (r"<think>\boxed{1}</think>\boxed{2}", ("2", "ok")),
        (r"<think>\boxed{1}</think> no box here, a long explanation" + " x" * 60, (None, "no_answer")),
        ("<think>reasoning</think>\n\n42", ("42", "ok")),
        ("<think>reasoning</think>\n\n$42$.", ("42", "ok")),
        ("The answer is 12.", ("12", "ok")),
        ("blah\nThe final answer is $\\frac{1}{2}$. I hope it is correct.", (r"\frac{1}{2}", "ok")),
        ("Final Answer: The final answer is $6$. I hope it is correct.", ("6", "ok")),
        ("**Answer:** 17", ("17", "ok")),
        ("", (None, "no_answer")),
        ("   ", (None, "no_answer")),
        (r"\boxed{", (None, "no_answer")),
        (r"\boxed{}", (None, "no_answer")),
        ("<|begin_of_thought|>\\boxed{1}<|end_of_thought|>\n<|begin_of_solution|>\n\\boxed{9}\n<|end_of_solution|>",
         ("9", "ok")),
        ("a long final part\nwith several lines\nand no answer", (None, "no_answer")),
        ("Work.\n\nTherefore, the remainder when 100 is divided by 7 is 2.", ("2", "ok")),
        ("Work.\n\nSo the number of divisors of 196 is $9$.", ("9", "ok")),
        ("Adding up, m + n = 25 + 169 = **194**", ("194", "ok")),
        ("The midpoint is **(-1, 6)**.", ("(-1, 6)", "ok")),
        ("The answer is definitely \\(8000\\).", ("8000", "ok")),
        ("<|begin_of_thought|>long... so the correct answer is 1/2. Wait, let me recheck", (None, "no_answer")),
        ("<think>I recall the answer is 5, but", (None, "no_answer")),
        ("Checks out.\n\nSo, m = 25 and n = 169, and m + n = 194.\n\nI think that's the answer.", ("194", "ok")),
        ("Therefore, the height is 5 cm.", ("5", "ok")),
        ("Profit: $93 - $15 = $78.\n\nI think that's the right answer.", ("78", "ok")),
        ("We found x = 5.\n\nLet me check the other case", (None, "no_answer")),  # no closing remark
        ("The result is 42.\nI'm confident this is correct.", ("42", "ok")),
        ("Work.\n\nHence, x is a real number.", (None, "no_answer")),  # a word is not a stated value
        ("Final answer: The velocity is 1000 radians per second.", ("1000", "ok")),
        ("So \\boxed{5}.\n\nThe final value is \\boxed{}", ("5", "ok")),  # an empty box hides nothing
        ("First $x = \\boxed{\\frac95}$.\n\nSo the total is \\boxed{4}.", ("4", "ok")),
        ("| a | \\boxed{\\phantom{2}} |\n\\boxed{4}", ("4", "ok")),
    ],
)
def test_extract(text, expected):
    assert extract_answer(text) == expected


def test_final_part_is_bounded():
    text = "<think>r</think>" + "a" * (3 * MAX_SEARCH_CHARS)
    assert len(final_part(text)) == MAX_SEARCH_CHARS


def test_unclosed_think_uses_whole_text():
    assert extract_answer(r"<think>so \boxed{4}") == ("4", "ok")


def test_escaped_braces_do_not_break_matching():
    assert boxed_contents(r"\boxed{\{1, 2\}} and text") == [r"\{1, 2\}"]
