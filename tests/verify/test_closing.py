"""Answers stated without a box, and boxes broken at the end: what is extracted and what is not.

The wording and numbers here are our own; none is taken from another project's tests.
"""

import pytest

from factory.verify import extract_answer
from factory.verify.extract import boxed_contents, final_part

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


# -- a chat-template tail: another turn after the response's own ---------------------------------------------

_QWEN_TAIL = "<|im_end|>\n<|im_start|>user\nHow many odd divisors does 90 have?<|im_start|>assistant\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The final answer is $(\\frac14, \\frac13)$. I hope it is correct." + _QWEN_TAIL
         + "Final Answer: The final answer is $6$. I hope it is correct.", ("(\\frac14, \\frac13)", "ok")),
        ("Simplifying, the answer is 26." + _QWEN_TAIL + "It has \\boxed{6} odd divisors.", ("26", "ok")),
        ("We get $q = 8$, so \\boxed{8}.</s>\n<|user|>\nAnd the next one?\n<|assistant|>\n\\boxed{31}", ("8", "ok")),
        ("The answer is 5.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nMore?<|eot_id|>"
         "<|start_header_id|>assistant<|end_header_id|>\n\n\\boxed{17}", ("5", "ok")),
        ("So the answer is 2.<end_of_turn>\n<start_of_turn>user\nAgain\\boxed{3}", ("2", "ok")),
        ("The answer is 14.<|endoftext|>The answer is 15.", ("14", "ok")),
        # the tail holds the only box: it is not this response's answer
        ("I could not finish this one.\nThe series keeps growing." + _QWEN_TAIL + "\\boxed{6}", (None, "no_answer")),
        ("<think>so x is 4</think>\nNo idea, sorry.\nIt is hard.<|im_end|>\n<|im_start|>user\nok\\boxed{4}",
         (None, "no_answer")),
        # a tail inside reasoning that never closed in this turn: nothing after it counts, </think> included
        ("<think>maybe 10 <|im_end|><|im_start|>user\nstop</think>\\boxed{10}", (None, "no_answer")),
        # the response's own header is kept, at the start or right after the reasoning
        ("<|im_start|>assistant\nHence the answer is $21$.<|im_end|>", ("21", "ok")),
        ("<|start_header_id|>assistant<|end_header_id|>\n\n\\boxed{64}<|eot_id|>", ("64", "ok")),
        ("<start_of_turn>model\n\\boxed{3}<end_of_turn>", ("3", "ok")),
        ("<|begin_of_thought|>work<|end_of_thought|>\n\n<|im_start|>solution\nSo the answer is 12.", ("12", "ok")),
        # a user turn at the start is not this response
        ("<|im_start|>user\nWhat is 6 times 7?<|im_end|>\n<|im_start|>assistant\n\\boxed{42}", (None, "no_answer")),
    ],
)
def test_chat_template_tail(text, expected):
    assert extract_answer(text) == expected


def test_final_part_stops_at_the_tail():
    text = "<think>r</think>\n<|im_start|>assistant\nSo \\boxed{3}.<|im_end|>\n<|im_start|>user\n\\boxed{4}"
    assert final_part(text).strip() == "So \\boxed{3}."
    assert final_part("no markers at all, \\boxed{2}") == "no markers at all, \\boxed{2}"


WORK = "We expand both sides and collect the terms.\n\n"


# -- a matrix stated in a sentence ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The matrix is $\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}$.", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
        (WORK + "The inverse is $\\begin{pmatrix} -\\frac{5}{11} & \\frac{3}{11} & 0 \\\\ \\frac{2}{11} & "
         "\\frac{1}{11} & 0 \\\\ 0 & 0 & 1 \\end{pmatrix}$.",
         "\\begin{pmatrix} -\\frac{5}{11} & \\frac{3}{11} & 0 \\\\ \\frac{2}{11} & \\frac{1}{11} & 0 \\\\ "
         "0 & 0 & 1 \\end{pmatrix}"),
        (WORK + "Therefore, the projection matrix is \\(\\begin{pmatrix} \\frac{4}{29} & -\\frac{10}{29} \\\\ "
         "-\\frac{10}{29} & \\frac{25}{29} \\end{pmatrix}\\).",
         "\\begin{pmatrix} \\frac{4}{29} & -\\frac{10}{29} \\\\ -\\frac{10}{29} & \\frac{25}{29} \\end{pmatrix}"),
    ],
)
def test_matrix_in_a_sentence(text, expected):
    assert extract_answer(text) == (expected, "ok")
