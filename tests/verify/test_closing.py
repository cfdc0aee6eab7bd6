"""Answers stated without a box, and boxes broken at the end: what is extracted and what is not.

The wording and numbers here are our own; none is taken from another project's tests.
"""

import pytest

from factory.verify import extract_answer
from factory.verify.extract import boxed_contents

# -- a stray backslash before the closing brace of a box ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"The count is \boxed{185\}", ["185"]),
        (r"so $\boxed{72\}$.", ["72"]),
        (r"\[\boxed{\frac{7}{3}\}\]", [r"\frac{7}{3}"]),
        ("total: \\boxed{-4\\}\nThat settles it.", ["-4"]),
        (r"\boxed{\{2, 9\}\}", [r"\{2, 9\}"]),  # the set's own braces are matched first
        (r"\boxed{\{2, 9\}}", [r"\{2, 9\}"]),  # a real set, closed: unchanged
        (r"\boxed{\{2, 9\}", []),  # the "\}" closes the set: the box is just unclosed
        (r"\boxed{x \} y", []),  # text goes on after the "\}": not where the box should close
        (r"\boxed{\left\{ 3 \right\}", []),
        ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix} \\boxed{8\\\\}", ["8\\\\"]),  # "\\}" is a line break
    ],
)
def test_stray_backslash_in_box(text, expected):
    assert boxed_contents(text) == expected


def test_stray_backslash_box_is_the_answer():
    assert extract_answer("Adding the parts gives \\boxed{185\\}") == ("185", "ok")
    assert extract_answer("First \\boxed{12}.\n\nSo the total is \\boxed{40\\}.") == ("40", "ok")
