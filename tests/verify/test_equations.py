"""A reference equation: which side, if any, a bare value in the response is compared with."""

import pytest

from factory.verify import verify


@pytest.mark.parametrize("reference, response, correct", [
    ("x = 5", r"\boxed{5}", True),                      # the left side names the unknown: 5 is the answer
    ("5 = x", r"\boxed{5}", True),
    (r"f(x) = 3x + 1", r"\boxed{3x+1}", True),          # a function of the variable names it too
    ("P(2) = 7", r"\boxed{7}", True),
    ("a + 3z = 0", r"\boxed{0}", False),                 # the equation is the answer, not its right side
    ("7 = 11a + c", r"\boxed{11a+c}", False),
    ("7 = 11a + c", r"\boxed{7}", False),
    ("2x = 6", r"\boxed{6}", False),
    ("a + 3z = 0", r"\boxed{a + 3z = 0}", True),         # the equation itself, in any equivalent form
    ("7 = 11a + c", r"\boxed{11a + c - 7 = 0}", True),
])
def test_a_bare_value_answers_an_equation_only_when_a_side_names_the_unknown(reference, response, correct):
    assert verify(reference, response).correct is correct


@pytest.mark.parametrize("reference, response, correct", [
    ("32349", r"\boxed{32,349}", True),
    ("32349", r"\boxed{32, 349}", False),                # a list of two numbers, as written
    ("1000", r"\boxed{1,\!000}", True),                  # LaTeX's thousands separator
    ("32, 349", r"\boxed{32, 349}", True),
])
def test_a_space_after_the_comma_makes_a_list(reference, response, correct):
    assert verify(reference, response).correct is correct
