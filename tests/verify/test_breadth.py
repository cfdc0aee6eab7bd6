"""The verifier's breadth: notation, relations and sets, decimals for exact values, matrices, answers in
several boxes, and the `Options` where graders differ. Cases written for this project."""

import pytest

from factory.verify import Options, verify

C, W, H = "correct", "wrong_answer", "hedged"


def _check(ref, resp, expected, **options):
    v = verify(ref, resp, options=Options(**options))
    assert v.reason == expected, (ref, resp, v)
    assert v.correct == (expected == C)


NOTATION = [
    (r"\frac{4}{9}", r"\boxed{\cfrac{4}{9}}", C),
    (r"\frac{7}{5}", r"\boxed{1+\cfrac{2}{3+\tfrac{1}{\dfrac{1}{2}}}}", C),
    (r"\frac{7}{5}", r"\boxed{1+\cfrac{2}{3+\tfrac{1}{\dfrac{1}{3}}}}", W),
    (r"(4, \frac{\pi}{6})", r"\boxed{\left( 4, \frac{\pi}{6} \right)}", C),
    (r"\left( 4, \frac{\pi}{6} \right)", r"\boxed{(4, \pi/6)}", C),
    (r"(4, \frac{\pi}{6})", r"\boxed{\left( 4, \frac{\pi}{3} \right)}", W),
    ("35", r"\boxed{35\textnormal{ km}}", C),
    (r"35\textnormal{ km}", r"\boxed{35}", C),
    ("17\\%", r"\boxed{17 pct}", C),
    ("17\\%", r"\boxed{17 percent}", C),
    ("0.17", r"\boxed{17 \text{ percent}}", C),
    ("17\\%", r"\boxed{18 percent}", W),
    ("y < 4", r"\boxed{y \lt 4}", C),
    ("y > 4", r"\boxed{y \gt 4}", C),
    ("y \\ne 4", r"\boxed{y != 4}", C),
    ("y \\le 4", r"\boxed{y <= 4}", C),
    ("y \\ge 4", r"\boxed{y >= 4}", C),
    ("y \\ge 4", r"\boxed{y > 4}", W),
    ("y \\le 4", "\\boxed{y \u2264 4}", C),  # the unicode sign is <=, not <
    ("y \\le 4", "\\boxed{y < 4}", W),
    ("720", r"\boxed{6!}", C),  # 6!=720 stays a factorial, not "not equal"
    ("263", "The answer is 263\\", C),
    (r"\\frac{5}{8}", r"\boxed{\frac58}", C),  # a reference escaped twice
    (r"\\sqrt{7}", r"\boxed{\sqrt7}", C),
    (r"\\begin{pmatrix} 2 \\\\ 9 \\end{pmatrix}", r"\boxed{\begin{pmatrix}2\\9\end{pmatrix}}", C),
    ("4.75", r"\boxed{4,75}", C),  # a decimal comma in an answer
    ("2500.5", r"\boxed{2500,5}", C),
    ("2500.5", r"\boxed{2,500.5}", C),
    ("4.75", r"\boxed{4,76}", W),
    ("4, 75", r"\boxed{4.75}", W),  # a reference's comma is a list, never a decimal comma
    ("4,75", r"\boxed{4, 75}", C),
    ("2500.5", r"\boxed{2,500.5€}", C),
    ("2500.5", r"\boxed{£2,500.5}", C),
    ("2500.5", r"\boxed{2,500.5m²}", C),
    ("40", r"\boxed{40km}", C),
    ("40", r"\boxed{40cm^2}", C),
    ("6 \\times 10^{-3}", r"\boxed{6 \times 10^{-3} \text{ m/s²}}", C),
    ("5m", r"\boxed{5n}", W),  # a bare letter after a number is a variable, not metres
]

RELATIONS = [
    ("x < 2", r"\boxed{-x > -2}", C),
    ("x < 2", r"\boxed{-x < -2}", W),
    ("x > 2", r"\boxed{3x - 1 > 5}", C),
    ("x \\ge -3", r"\boxed{-2x \le 6}", C),
    ("(2, \\infty)", r"\boxed{-x < -2}", C),
    (r"x \in [-4, 1]", r"\boxed{-4 \leq x \leq 1}", C),
    (r"-4 \le x \le 1", r"\boxed{x \in [-4,1]}", C),
    (r"-4 \le x \le 1", r"\boxed{x \in [-4,1)}", W),
    ("(0, 2)", r"\boxed{0 < g(x) < 2}", C),
    (r"0 < g(x) < 2", r"\boxed{(0, 2)}", C),
    ("(0, 2]", r"\boxed{0 < g(x) < 2}", W),
    ("5:13", r"\boxed{5:13}", C),
    ("5:13", r"\boxed{10 : 26}", C),
    ("5:13", r"\boxed{\frac{5}{13}}", C),
    ("5:13", r"\boxed{13:5}", W),
    ("5:13", r"\boxed{A_1 : A_2 = 5 : 13}", C),
    ("5:13", r"\boxed{A_1 : A_2 = 5 : 12}", W),
    ("2:3:4", r"\boxed{4:6:8}", C),
    ("2:3:4", r"\boxed{2:4:3}", W),
    ("(3,1),(5,4)", r"\boxed{m=3,n=1; m=5,n=4}", C),
    ("(3,1),(5,4)", r"\boxed{m=5,n=4; m=3,n=1}", C),
    ("(3,1),(5,4)", r"\boxed{m=3,n=1; m=5,n=2}", W),
    ("m=3,n=1; m=5,n=4", r"\boxed{(3,1),(5,4)}", C),
    ("-8; -7; -6", r"\boxed{\{-8, -7, -6\}}", C),
    ("-8; -7; -6", r"\boxed{\{-8, -7, -5\}}", W),
    (r"\{-8, -7, \ldots\}", r"\boxed{\{-8, -7, \dots\}}", C),
    (r"\{-8, -7, \ldots\}", r"\boxed{-8, -7, ...}", C),
    (r"\{-8, -7, \ldots\}", r"\boxed{\{-8, -6, \dots\}}", W),
    ("4, 5, 6", r"\boxed{4 and 5 and 6}", C),
    ("4, 5, 6", r"\boxed{4, 5, \text{and } 6}", C),
    ("4, 5, 6", r"\boxed{4 and 5 and 7}", W),
    (r"-3, \frac{11}{2}", r"\boxed{a=-3, b=\frac{11}{2}}", C),
    (r"a=-3, b=\frac{11}{2}", r"\boxed{-3, \frac{11}{2}}", C),
]

DECIMALS = [
    (r"\frac{1}{7}", r"\boxed{0.142857142857143}", C),
    (r"\frac{1}{7}", r"\boxed{0.1429}", C),
    (r"\frac{1}{7}", r"\boxed{0.143}", C),
    (r"\frac{1}{7}", r"\boxed{0.14}", W),  # two significant digits do not stand for 1/7
    (r"\frac{1}{7}", r"\boxed{0.1428}", W),  # truncated, not rounded
    (r"-\frac{5}{3}", r"\boxed{-1.667}", C),
    (r"-\frac{5}{3}", r"\boxed{1.667}", W),
    (r"(\frac{2}{5}, \frac{5}{3}]", r"\boxed{(0.4, 1.6667]}", C),
    (r"(\frac{2}{5}, \frac{5}{3}]", r"\boxed{(0.4, 1.6667)}", W),
    (r"\begin{pmatrix}\frac17 & 2\\ \frac29 & 1\end{pmatrix}",
     r"\boxed{\begin{pmatrix}0.1429 & 2\\ 0.2222 & 1\end{pmatrix}}", C),
    (r"\begin{pmatrix}\frac17 & 2\\ \frac29 & 1\end{pmatrix}",
     r"\boxed{\begin{pmatrix}0.1429 & 2\\ 0.2223 & 1\end{pmatrix}}", W),
    (r"\sqrt{5}", r"\boxed{2.236}", W),  # an approximation of an irrational is not the value asked for
    ("2.5", r"\boxed{2.50}", C),
    ("2.53", r"\boxed{2.5}", W),  # a decimal reference is taken as written
]

MATRICES = [
    (r"\begin{pmatrix}5&1\\0&2\end{pmatrix}", r"\boxed{\begin{bmatrix}5&1\\0&2\end{bmatrix}}", C),
    (r"\begin{bmatrix}5&1\\0&2\end{bmatrix}", r"\boxed{\begin{pmatrix}5&1\\0&2\end{pmatrix}}", C),
    (r"\begin{pmatrix}5&1\\0&2\end{pmatrix}", r"\boxed{\left[\begin{array}{cc}5&1\\0&2\end{array}\right]}", C),
    (r"\begin{pmatrix}5&1\\0&2\end{pmatrix}", r"\boxed{\left(\begin{array}{rr}5&1\\0&2\end{array}\right)}", C),
    (r"\begin{pmatrix}5\\2\end{pmatrix}", r"\boxed{\left[\begin{array}{c}5\\2\end{array}\right]}", C),
    (r"\begin{pmatrix}5&1\\0&2\end{pmatrix}", r"\boxed{\begin{bmatrix}5&0\\1&2\end{bmatrix}}", W),
    (r"\begin{pmatrix}5&1\\0&2\end{pmatrix}", r"\boxed{\begin{vmatrix}5&1\\0&2\end{vmatrix}}", "unparseable"),
]

BOXES = [
    ("(1,4),(3,8)", r"So \boxed{(1, 4)} \quad \text{and} \quad \boxed{(3, 8)}.", C),
    ("(1,4),(3,8)", r"\boxed{(3,8)} and \boxed{(1,4)}", C),
    ("(1,4),(3,8)", r"\boxed{(1,4)} and \boxed{(3,9)}", W),
    ("2, 5, 9", r"\boxed{2}, \boxed{5}, \boxed{9}", C),
    ("(2, 9)", r"\boxed{2} and \boxed{9}", C),
    ("(2, 9)", r"\boxed{9} and \boxed{2}", W),
    ("p=2, q=9", r"\boxed{p=2}, \boxed{q=9}", C),
    ("4, 11", "(a) The length is \\boxed{4}.\n\n(b) The width is \\boxed{11}.", C),
    ("4, 11", "(a) The length is \\boxed{4}.\n\n(b) The width is \\boxed{12}.", W),
    ("9", r"\boxed{8} or \boxed{9}", H),  # several candidates for one answer stay a hedge
    ("2, 5", r"\boxed{2}, \boxed{5}, \boxed{9}", H),  # more boxes than parts
]


@pytest.mark.parametrize(("ref", "resp", "expected"), NOTATION + RELATIONS + DECIMALS + MATRICES + BOXES)
def test_default(ref, resp, expected):
    _check(ref, resp, expected)


@pytest.mark.parametrize(("ref", "resp", "default", "ordered"), [
    ("-3, 4", r"\boxed{4, -3}", C, W),
    ("-3, 4", r"\boxed{-3, 4}", C, C),
    ("-3, 4", r"\boxed{4} and \boxed{-3}", C, W),
    (r"\{-3, 4\}", r"\boxed{\{4, -3\}}", C, C),  # a set has no order under either setting
    ("(-3, 4)", r"\boxed{(4, -3)}", W, W),  # a tuple always has one
])
def test_ordered_lists(ref, resp, default, ordered):
    _check(ref, resp, default)
    _check(ref, resp, ordered, ordered_lists=True)



REFERENCES = [  # how references are written in the datasets and suites verifiers meet
    (r"\boxed{3} and \boxed{-4}", r"\boxed{-4, 3}", C),  # a reference in several boxes is all of them
    (r"\(\boxed{3}\), \(\boxed{-4}\)", r"\boxed{3, -4}", C),
    (r"The width is \boxed{3} and, after the second step of the long computation, \boxed{-4}", r"\boxed{-4}", C),
    (r"(a, b) = (6, 1)", r"\boxed{(6, 1)}", C),  # the left side names the unknowns
    (r"(a, b) = (6, 1)", r"\boxed{(1, 6)}", W),
    (r"|PQ| = 13", r"\boxed{13}", C),
    (r"S_{PQRS} : S = 3 : 8", r"\boxed{3:8}", C),
    (r"(1;0;2),(3;-1;0)", r"\boxed{(3, -1, 0), (1, 0, 2)}", C),  # semicolons inside a tuple
    (r"(1;0;2),(3;-1;0)", r"\boxed{(3, -1, 1), (1, 0, 2)}", W),
    (r"$4$ and $9$", r"\boxed{4, 9}", C),  # math shifts inside the reference
    (r"$14,3$ or $8$", r"\boxed{14, 3, 8}", C),
    (r"(4,9)or(9,4)", r"\boxed{(9,4), (4,9)}", C),
    (r"y_{1} = 2,\quady_{2} = 5", r"\boxed{2} \quad \text{and} \quad \boxed{5}", C),
    (r"\boxed{m = 2,\ n = 7}", r"\boxed{2, 7}", C),
    ("1,25", r"\boxed{1.25}", C),  # a decimal comma in a reference, against a decimal answer
    ("0,375", r"\boxed{0.375}", C),
    ("1,25", r"\boxed{1, 25}", C),  # and still the list it may be
    ("\\\\left( 2, \\\\frac{\\\\pi}{4} \\\\right)", "\\\\boxed{\\\\left( 2, \\\\frac{\\\\pi}{4} \\\\right)}", C),
    (r"\frac{2}{7}", r"\boxed{x = \frac{2}{7} \approx 0.29}", C),  # the gloss after an exact value is dropped
    (r"\frac{2}{7}", r"\boxed{x = \frac{3}{7} \approx 0.29}", W),
    (r"\frac{2}{7}", r"\boxed{\approx 0.2857}", C),
]


@pytest.mark.parametrize(("ref", "resp", "expected"), REFERENCES)
def test_references(ref, resp, expected):
    _check(ref, resp, expected)


def test_a_list_of_references_is_a_choice_of_answers():
    assert verify(["0.25", r"\frac14", "one quarter"], r"\boxed{\frac{1}{4}}").correct
    assert verify(["0.25", "one quarter"], r"\boxed{one quarter}").correct
    wrong = verify(["0.25", r"\frac14"], r"\boxed{0.2}")
    assert (wrong.correct, wrong.reason) == (False, "wrong_answer")
    assert verify([], r"\boxed{1}").reason == "no_reference"
