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


# -- "Answer" right before its math, with no "is" or ":" ------------------------------------------------------

WORK = "We expand both sides and collect the terms.\n\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer $ 9 $", "9"),
        ("Answer \\[ 9 \\]", "9"),
        ("Answer: \\( 9 \\)", "9"),
        (WORK + "Answer $\\frac{7}{12}$", "\\frac{7}{12}"),
        (WORK + "**Final Answer** $$x^2 - 3$$", "x^2 - 3"),
        (WORK + "Answer\n\\[\n(4, -1)\n\\]", "(4, -1)"),  # a display block after the line that introduces it
        (WORK + "The answer is:\n$$\n-\\frac{5}{2}\n$$", "-\\frac{5}{2}"),
        (WORK + "### Final Answer\n\n\\[ 2\\sqrt{13} \\]", "2\\sqrt{13}"),
    ],
)
def test_answer_before_math(text, expected):
    assert extract_answer(text) == (expected, "ok")


# -- math followed by "is the answer/solution/result" --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Therefore $x \\geq 5$ is the solution.", "x \\geq 5"),
        (WORK + "So $t = 14$ is the answer.", "t = 14"),
        (WORK + "Hence \\(\\frac{3}{8}\\) is the final answer.", "\\frac{3}{8}"),
        (WORK + "I am sure that \\( 2 - \\sqrt{5} \\) is the correct result of the problem.", "2 - \\sqrt{5}"),
        (WORK + "Both checks agree, so I'm confident that 61 is the correct answer.", "61"),
        (WORK + "Thus $n = 3$ is the only solution.", "n = 3"),
    ],
)
def test_math_then_is_the_answer(text, expected):
    assert extract_answer(text) == (expected, "ok")


# -- a closing sentence that concludes with math ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We find that $x \\neq 3$.", "x \\neq 3"),
        (WORK + "We find that $x \\neq 3$.", "x \\neq 3"),
        (WORK + "Therefore, $y = -8$.", "y = -8"),
        (WORK + "Thus \\(a_{10} = 512\\)", "512"),  # "= X" at the end: the value stated
        (WORK + "Hence the perimeter comes to $$36 + 4\\pi$$", "36 + 4\\pi"),
        (WORK + "So we get \\[ k = 11 \\].", "k = 11"),
        (WORK + "Putting both parts together, we obtain $f(2) = 19$.", "f(2) = 19"),
        (WORK + "Dividing by the common factor, which gives $\\frac{9}{14}$.", "\\frac{9}{14}"),
        (WORK + "In conclusion, the remainder is $r = 6$.", "r = 6"),
        (WORK + "Thus, the equation of the line is:\n\\[\ny = 2x - 7\n\\]", "y = 2x - 7"),
        # a chain states its last side; a computation its result; an equation with unknowns stays whole
        (WORK + "Therefore we get $E = \\frac{9.6}{1.6} = 6 \\text{ J}$.", "6 \\text{ J}"),
        (WORK + "Thus, $\\frac{16}{40} = \\frac{2}{5}$.", "\\frac{2}{5}"),
        (WORK + "Hence the plane is $3x - y + 2z = 5$.", "3x - y + 2z = 5"),
        # the last math span of the sentence
        (WORK + "Therefore, since $m$ is odd, we have $m^2 \\equiv 1 \\pmod 8$.", "m^2 \\equiv 1 \\pmod 8"),
        # the statement before a closing remark
        (WORK + "Therefore, $p = 0.35$.\n\nI think that is the right answer.", "p = 0.35"),
    ],
)
def test_concluding_sentence(text, expected):
    assert extract_answer(text) == (expected, "ok")


# -- a Minerva-style final line, then a chat-template tail -------------------------------------------------


def test_minerva_line_then_tail():
    text = (
        "Solving the two equations gives $p = \\frac15$ and $q = \\frac16$.\n"
        "Final Answer: The final answer is $(\\frac15, \\frac16)$. I hope it is correct.<|im_end|>\n"
        "<|im_start|>user\nWhat is the largest prime factor of 91?<|im_end|>\n<|im_start|>assistant\n"
        "Since $91 = 7 \\cdot 13$, the answer is $\\boxed{13}$."
    )
    assert extract_answer(text) == ("(\\frac15, \\frac16)", "ok")
    assert extract_answer(text.replace("<|im_end|>", "<|eot_id|>", 1)) == ("(\\frac15, \\frac16)", "ok")


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


# -- what must NOT be taken for the answer -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # intermediate math in a line that is not the last
        WORK + "Therefore $x = 4$.\nNow we need the area of the second region as well",
        WORK + "We find that $k = 2$.\n\nNext, consider the case where $k$ is odd",
        # a final question to the user
        WORK + "Therefore, is it $x = 6$?",
        WORK + "So would you like me to double-check $y = 7$?",
        # a sentence that sets up, supposes, doubts or instructs
        WORK + "Let $x = 3$.",
        WORK + "Therefore, let $u = x^2 + 1$.",
        WORK + "So suppose $n > 10$.",
        WORK + "Thus we check whether $t = 5$.",
        WORK + "Let me verify that $z = 12$ is the solution.",
        WORK + "Maybe $a = 2$ is the answer.",
        WORK + "Finally, compute $|p| + |q|$.",
        WORK + "So, we have $b = 8$ or $b = -8$",  # one item of a list
        WORK + "Hence $A = 1$, $B = 2$, and $C = 5$.",
        # no conclusion marker: prose only (see below)
        WORK + "The two curves meet at $(1, 2)$.",
        WORK + "$x = 17$",
    ],
)
def test_not_an_answer(text):
    assert extract_answer(text) == (None, "no_answer")


@pytest.mark.parametrize(
    "text",
    [
        # a trace cut off mid-reasoning: the last formula is a thought, marker or not
        "<think>Expanding, we find that $x = 5$.",
        "<think>The product is 12. Therefore $y = 12$.\nThus $y = 12$ is the answer.",
        "<|begin_of_thought|>\n\nSo we get \\(m = 40\\).",
    ],
)
def test_cut_off_trace_gives_nothing(text):
    assert extract_answer(text) == (None, "no_answer")
    assert extract_answer(text, prose=True) == (None, "no_answer")


def test_box_after_a_tail_is_ignored():
    text = WORK + "I am not able to finish.\nIt needs more cases." + "<|endoftext|>Therefore $x = 2$. \\boxed{2}"
    assert extract_answer(text) == (None, "no_answer")
    assert extract_answer(text, prose=True) == (None, "no_answer")


# -- prose=False vs prose=True --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "strict", "prose"),
    [
        # the math that ends the closing sentence, with no conclusion marker
        (WORK + "The two curves meet at $(1, 2)$.", None, "(1, 2)"),
        (WORK + "The shaded area equals \\(18 - 2\\pi\\) square units, to be exact\nwhich is about \\(11.72\\).",
         None, "11.72"),
        (WORK + "The smallest such base turns out to be $b = 7$.", None, "b = 7"),
        # a value after "is" in an earlier sentence of the closing line
        (WORK + "So the product is 22. It is a neat use of the difference of squares.", None, "22"),
        # "is approximately"
        (WORK + "The angle is approximately $0.52$ radians.", None, "0.52"),
        # the same with a marker, or stated: both modes agree
        (WORK + "Therefore the curves meet at $(1, 2)$.", "(1, 2)", "(1, 2)"),
        (WORK + "The number of paths is $35$.", "35", "35"),
        (WORK + "Therefore, the height is 5 cm.", "5", "5"),
    ],
)
def test_prose_option(text, strict, prose):
    assert extract_answer(text) == ((strict, "ok") if strict else (None, "no_answer"))
    assert extract_answer(text, prose=True) == (prose, "ok")


@pytest.mark.parametrize(
    "text",
    [
        WORK + "Let $x = 3$.",
        WORK + "Is the answer $7$?",
        WORK + "Now substitute $t = 2$.",
        WORK + "We need $a$, $b$, and $c$.",
        WORK + "The first term is 3. We still need the common ratio",
        WORK + "The sum is taken over the sides $a,$ $b,$ and $c$ of the triangle $ABC,$",
        WORK + "How many maps are there of the form $f(x, y) = z ?$",
    ],
)
def test_prose_still_refuses(text):
    assert extract_answer(text, prose=True) == (None, "no_answer")


def test_prose_is_keyword_only():
    with pytest.raises(TypeError):
        extract_answer("The value is $4$.", True)  # type: ignore[misc]


# -- hostile input: linear regexes, bounded search (a hang would show as a timeout) -----------------------------


@pytest.mark.parametrize(
    "text",
    [
        "$" * 20_000,
        "\\(" * 10_000,
        "\\[" * 10_000,
        "$$\n" * 7_000,
        "we find that " * 1_600,
        "We find that $" * 1_500 + ".",
        "Therefore $x$ " * 1_500 + ".",
        "{" * 20_000,
        "\\boxed{" * 3_000,
        "\\boxed{" + "\\}" * 10_000,
        "\\boxed{1\\}" * 2_000,
        "Thus, " + " " * 20_000 + "$x$.",
        "x is" + " " * 20_000 + "the answer",
        " is the answer" * 1_500,
        "So $" + "x = " * 5_000 + "1$.",
        "</think><|im_start|>assistant\n" * 700,
        "Answer $" * 2_500,
    ],
)
def test_hostile_input_finishes(text):
    for prose in (False, True):
        answer, reason = extract_answer(text, prose=prose)
        assert reason in {"ok", "no_answer", "hedged"}


@pytest.mark.parametrize(("text", "expected"), [
    ("Answer \\[\n 14 \n\\]", "14"),
    ("Answer $$\n 14\n$$", "14"),
    ("Some work.\n\nAnswer:\n\\[\n\\frac{5}{9}\n\\]", r"\frac{5}{9}"),
])
def test_a_display_block_opened_on_the_answer_line(text, expected):
    assert extract_answer(text) == (expected, "ok")
