import pytest

from factory.stages.sources.canonical import canonical, signature, strip_instructions

BASE = r"If $f(x) = \frac{3x-2}{x-2}$, what is the value of $f(-2) +f(-1)+f(0)$? Express your answer as a fraction."


@pytest.mark.parametrize("drifted", [
    BASE.replace(r"\frac", r"\dfrac"),
    BASE.replace(r"\frac", r"\tfrac"),
    BASE.replace("$f(x) = ", r"\(f(x) = ").replace("{x-2}$", r"{x-2}\)"),
    BASE.replace(" ", "  "),
    BASE.replace("=", " = ").replace("+", " + ").replace(",", " , ").replace("?", " ?"),
    "Solve the following math problem. " + BASE,
    BASE + " Put your final answer in \\boxed{}.",
    BASE + "\n\nLet's think step by step and output the final answer within \\boxed{}.",
    "Problem: " + BASE + " Please reason step by step, and put your final answer within \\boxed{}.",
    "if" + BASE[2:],
    BASE.replace("(x)", r"\left(x\right)"),
])
def test_drift_leaves_the_matching_form_unchanged(drifted):
    assert canonical(drifted) == canonical(BASE)
    assert signature(drifted) == signature(BASE)


@pytest.mark.parametrize("other", [
    BASE.replace("x-2}{", "x-3}{").replace("{x-2}", "{x-2}"),  # one number
    BASE.replace("f(0)", "f(1)"),
    BASE.replace("3x-2", "3y-2"),  # a variable
    BASE.replace("$f(x)", "$F(x)"),  # case inside a formula is a different name
])
def test_every_number_and_variable_survives(other):
    assert other != BASE
    assert signature(other) != signature(BASE)


def test_numbers_and_formulas_are_compared_as_written():
    sig = signature(r"Let $x = 3.50$ and $y=\dfrac{1}{2}$. Find $x+y$; the answer is 4.")
    assert sig.numbers == ("3.5", "1", "2", "4")
    assert sig.formulas == (r"x+y", r"x=3.50", r"y=\frac{1}{2}")


def test_instructions_are_removed_only_at_the_ends():
    assert strip_instructions("solve the following problem.find x.put your final answer in \\boxed{}.") == "find x."
    middle = "find x.put your final answer in \\boxed{}.then find y."
    assert strip_instructions(middle) == middle


def test_escaped_dollars_are_money_not_delimiters():
    assert "dollar" in canonical(r"A pen costs \$5 and a book \$12. What do both cost?")
    assert signature(r"A pen costs \$5 and a book \$12.").numbers == ("5", "12")
