"""Extra golden table: (reference, response, expected reason code).

The ground truth a careful mathematician grading a math corpus would want, complementing (never
repeating) the table in test_golden.py. Word answers that differ are left out on purpose: the main
table grades them "unparseable", and that policy is not restated here.
"""

import importlib.util
from pathlib import Path

import pytest

from factory.verify import Verdict, verify

C, W, U = "correct", "wrong_answer", "unparseable"
H, N = "hedged", "no_answer"

_LONG_THINK = (
    "<think>\n"
    + "Let me set up the equation and try a few values. " * 200
    + r"A first attempt gives \boxed{16}, but that double counts. "
    + "Recount carefully, case by case. " * 200
    + r"Maybe \boxed{18}? No, the last case is empty."
    + "\n</think>\n\n"
)

_THOUGHT_SOLUTION = (
    "<|begin_of_thought|>\nFirst guess \\boxed{\\frac13}, then recheck.\n<|end_of_thought|>\n\n"
    "<|begin_of_solution|>\nThe probability is $\\boxed{\\dfrac{1}{2}}$.\n<|end_of_solution|>"
)

GOLDEN_EXTRA = [
    # --- integers -----------------------------------------------------------------------------
    ("-12", "-12.000", C),
    ("12", "-12", W),
    ("+7", "7", C),
    ("1000000", "10^6", C),
    ("999999", "10^6", W),
    ("2", "2.0000000001", W),
    ("123456789012345678901234567890", "123456789012345678901234567890", C),
    ("123456789012345678901234567890", "123456789012345678901234567891", W),
    ("-3", "(-3)", C),
    ("-3", r"-(-3)", W),
    # --- decimals -----------------------------------------------------------------------------
    ("0.1", ".1", C),
    ("2.5", "2.50", C),
    ("1.5", "1.05", W),
    ("-0.25", r"-\frac14", C),
    ("0.125", r"\frac{1}{8}", C),
    ("0.125", r"\frac{1}{4}", W),
    ("3", r"\pi", W),
    ("3.1416", r"\pi", C),
    ("3.14", "3.15", W),
    ("2.718", "e", C),
    ("0.67", r"\frac{2}{3}", C),
    ("1.73", r"\sqrt{3}", C),
    ("1.73", r"\sqrt{2}", W),
    # --- fractions ----------------------------------------------------------------------------
    (r"\frac{6}{4}", r"\frac{3}{2}", C),
    (r"\frac{3}{2}", r"\frac{2}{3}", W),
    (r"\frac{7}{12}", "7/12", C),
    ("1/3", r"\frac{1}{3}", C),
    (r"\frac{1}{3}", "0.3333333333", W),
    (r"\frac{10}{3}", r"3.\overline{3}", C),
    (r"\frac{-1}{-2}", "0.5", C),
    (r"\frac{1}{2}", r"-\frac{1}{2}", W),
    (r"\frac{a+b}{2}", r"\frac{b+a}{2}", C),
    # --- mixed numbers ------------------------------------------------------------------------
    (r"1\frac{2}{3}", r"\frac53", C),
    (r"2\frac{1}{2}", "2.5", C),
    (r"2\frac{1}{2}", r"\frac{5}{2}", C),
    (r"-2\frac{1}{2}", "-2.5", C),
    (r"-2\frac{1}{2}", "-1.5", W),
    (r"3\frac{1}{4}", r"\frac{13}{4}", C),
    (r"3\frac{1}{4}", r"\frac{3}{4}", W),
    (r"\frac{7}{2}", r"3\tfrac{1}{2}", C),
    (r"\frac{7}{2}", r"3\frac{1}{3}", W),
    # --- percents -----------------------------------------------------------------------------
    (r"25\%", "25", C),
    (r"25\%", "0.25", C),
    (r"25\%", r"\frac14", C),
    (r"25\%", "26", W),
    (r"25\%", "0.26", W),
    (r"12.5\%", r"\frac18", C),
    (r"12.5\%", "12.5", C),
    ("0.25", r"25\%", C),
    (r"100\%", "1", C),
    (r"33\frac{1}{3}\%", r"\frac13", C),
    (r"5\%", "50", W),
    # --- scientific notation ------------------------------------------------------------------
    (r"3\times10^{8}", "300000000", C),
    (r"3 \times 10^8", "3e8", C),
    (r"6.02\times10^{23}", "6.02e23", C),
    (r"6.02\times10^{23}", r"6.2\times10^{23}", W),
    (r"1.6\times10^{-19}", "1.6E-19", C),
    (r"1.5\times10^{3}", "1500", C),
    (r"2.5\cdot10^{-3}", "0.0025", C),
    (r"2.5\times10^{-3}", "0.025", W),
    # --- tiny and huge values (exact or relative comparison, never an absolute epsilon) --------
    ("1e-30", "2e-30", W),
    (r"1\times10^{-30}", "10^{-30}", C),
    ("10^{-30}", "0", W),
    (r"\pi\times10^{-30}", "0", W),
    (r"e^{-100}", r"e^{-101}", W),
    (r"\sqrt{2}\times10^{-20}", r"\frac{\sqrt2}{10^{20}}", C),
    (r"\sqrt{2}\times10^{-20}", r"\sqrt{3}\times10^{-20}", W),
    ("10^{100}", "10^{100}+1", W),
    ("2^{1000}", "4^{500}", C),
    ("2^{1000}", "2^{999}", W),
    ("3^{1000}", "3^{1001}", W),
    (r"\frac{1}{3^{1000}}", "3^{-1000}", C),
    # --- thousands separators -----------------------------------------------------------------
    ("12345", "12,345", C),
    ("12345", "12,346", W),
    ("1,234.5", "1234.5", C),
    ("1234.5", "1,234.50", C),
    ("1000000", "1{,}000{,}000", C),
    ("1000000", r"1\,000\,000", C),
    ("1000000", "1,000,001", W),
    ("1000", "1.000", W),
    (r"\$1,000", "1000", C),
    # --- radicals -----------------------------------------------------------------------------
    (r"\sqrt{8}", r"2\sqrt{2}", C),
    (r"\sqrt{8}", r"2\sqrt{3}", W),
    (r"\sqrt{50}", r"5\sqrt2", C),
    (r"\frac{\sqrt{6}}{3}", r"\sqrt{\frac{2}{3}}", C),
    (r"\frac{\sqrt{6}}{3}", r"\frac{\sqrt{6}}{2}", W),
    (r"\sqrt{2}+\sqrt{3}", r"\sqrt{5+2\sqrt{6}}", C),
    (r"\sqrt[4]{16}", "2", C),
    (r"\sqrt{2}", "1.414", W),
    (r"\frac{1}{\sqrt{3}}", r"\frac{\sqrt3}{3}", C),
    (r"\sqrt{3}-1", r"1-\sqrt{3}", W),
    (r"3+\sqrt{5}", r"\frac{4}{3-\sqrt{5}}", C),
    (r"\sqrt{2}", "2^{1/2}", C),
    (r"\sqrt{2}", "2^{0.5}", C),
    (r"4\sqrt{2}", "4", W),
    (r"4\sqrt{2}", r"\sqrt{32}", C),
    ("4", r"\sqrt{16}", C),
    # --- pi -----------------------------------------------------------------------------------
    (r"2\pi", "6.28", W),
    (r"\frac{4\pi}{3}", r"\frac{4}{3}\pi", C),
    (r"\pi r^2", r"r^2\pi", C),
    (r"36\pi", "36", W),
    (r"\pi^2", r"\pi\cdot\pi", C),
    (r"\frac{\pi}{2}", r"\frac{2}{\pi}", W),
    (r"\frac{\pi}{4}", r"\arctan 1", C),
    # --- e ------------------------------------------------------------------------------------
    ("5", r"e^{\ln 5}", C),
    ("3", r"\ln e^{3}", C),
    ("e", "2.718", W),
    ("e^{-1}", r"\frac{1}{e}", C),
    ("e^{2}", "2e", W),
    ("e^{x}", r"\exp(x)", C),
    # --- imaginary unit -----------------------------------------------------------------------
    ("-1", "i^{6}", C),
    ("1", "i^2", W),
    ("-1", r"e^{\pi i}", C),
    ("1", r"e^{i\pi}", W),
    ("0", r"e^{i\pi}+1", C),
    ("1", r"e^{2\pi i}", C),
    ("-2+3i", "3i-2", C),
    ("-2+3i", "2-3i", W),
    ("2+3i", "3+2i", W),
    ("1", "i^4", C),
    ("-i", "i^3", C),
    ("i", "i^3", W),
    ("i", "-i", W),
    (r"\frac{1}{2}+\frac{\sqrt{3}}{2}i", r"e^{i\pi/3}", C),
    ("1-i", r"\frac{2}{1+i}", C),
    ("1+i", r"\frac{2}{1+i}", W),
    ("2i", "(1+i)^2", C),
    ("3-4i", "(2-i)^2", C),
    ("3+4i", "(2-i)^2", W),
    ("5", "|3+4i|", C),
    # --- symbolic expressions -----------------------------------------------------------------
    ("x^2-1", "(x-1)(x+1)", C),
    ("x^2-1", "(x-1)^2", W),
    ("(a+b)^3", "a^3+3a^2b+3ab^2+b^3", C),
    ("(a+b)^3", "a^3+b^3", W),
    (r"\frac{x+1}{2}", r"\frac{x}{2}+\frac12", C),
    (r"\frac{1}{x+1}", r"\frac{1}{x}+1", W),
    (r"2\sin x\cos x", r"\sin 2x", C),
    (r"\sin(2x)", r"2\sin(x)", W),
    (r"\cos^2 x - \sin^2 x", r"\cos 2x", C),
    ("e^{x+y}", "e^x e^y", C),
    ("n(n+1)/2", r"\frac{n^2+n}{2}", C),
    ("n(n+1)/2", r"\frac{n^2-n}{2}", W),
    ("2^{n+1}", r"2\cdot 2^n", C),
    ("2^{n+1}", "2^n+1", W),
    (r"\frac{a}{b}", r"\frac{b}{a}", W),
    ("x^{3}", "x^{2}", W),
    # --- equations ----------------------------------------------------------------------------
    ("x=3", "x=-3", W),
    ("x=2", "2=x", C),
    ("y-x=0", "x-y=0", C),
    ("x^2+y^2=25", "y^2+x^2=25", C),
    ("x^2+2x+1=0", "(x+1)^2=0", C),
    (r"y = \frac{1}{2}x + 3", "y = 0.5x+3", C),
    ("y=-2x+5", "2x+y=5", C),
    ("y=-2x+5", "2x+y=-5", W),
    ("y=2x+1", "2y=4x+2", C),
    ("y=x^2", "y=x^3", W),
    # two different equations (both "= 0" after moving terms) are different answers
    ("x+y=1", "x-y=1", W),
    ("x^2+y^2=1", "x^2+y^2=4", W),
    ("2x-3=0", "2x+3=0", W),
    ("x^2-4=0", "x^2-9=0", W),
    # --- plus-minus ---------------------------------------------------------------------------
    (r"\pm 5", r"\{5, -5\}", C),
    (r"\pm 5", "-5, 5", C),
    (r"\pm 5", "-5", W),
    (r"\pm 2", r"\pm 3", W),
    ("2, -2", r"\pm 2", C),
    (r"\frac{1\pm\sqrt{5}}{2}", r"\frac{1+\sqrt5}{2}, \frac{1-\sqrt5}{2}", C),
    (r"\frac{1\pm\sqrt{5}}{2}", r"\frac{1+\sqrt5}{2}", W),
    (r"\pm\frac{1}{2}", r"\pm 0.5", C),
    # --- sets ---------------------------------------------------------------------------------
    (r"\{1,2,3\}", "1, 2, 3", C),
    (r"\{1,2,3\}", "3, 1, 2", C),
    (r"\{-1, 1\}", r"\{1,-1\}", C),
    (r"\{-1, 1\}", r"\{1\}", W),
    (r"\{-1, 1\}", r"\{-1, 0, 1\}", W),
    (r"\{1, 2\}", r"\{1, 3\}", W),
    (r"\{\frac12, 2\}", r"\{2, 0.5\}", C),
    (r"\emptyset", r"\varnothing", C),
    (r"\emptyset", r"\{0\}", W),
    # --- intervals ----------------------------------------------------------------------------
    ("(1,2]", "(1,2)", W),
    ("(1,2]", "[1,2]", W),
    ("[0,1]", r"\left[0, 1\right]", C),
    ("[0,1]", "[0,1)", W),
    (r"(-\infty, 0)", r"(-\infty, 0]", W),
    (r"(-\infty,\infty)", r"\mathbb{R}", C),
    (r"[\frac12, 2]", "[0.5, 2]", C),
    (r"(0, \infty)", r"(0, +\infty)", C),
    ("[2,5]", "[2,6]", W),
    # unions of intervals
    (r"(-\infty, 1) \cup (2, \infty)", r"(2,\infty)\cup(-\infty,1)", C),
    (r"(-\infty, 1) \cup (2, \infty)", r"(-\infty, 1] \cup (2, \infty)", W),
    (r"(-\infty,1)\cup(2,\infty)", r"(-\infty, 2)", W),
    (r"[0,1] \cup [2,3]", "[0,3]", W),
    # inequalities versus intervals
    ("x>2", r"[2,\infty)", W),
    (r"x \ge -1", r"[-1, \infty)", C),
    (r"x\geq 2", "x>2", W),
    ("x<3", "3>x", C),
    ("x<3", "x>3", W),
    ("x>2", "x>3", W),
    (r"-1<x<2", "(-1,2)", C),
    (r"-1 \le x < 2", "[-1, 2)", C),
    (r"-1<x<2", "[-1,2]", W),
    (r"x \le 5", r"(-\infty,5]", C),
    (r"(-\infty, 5]", "x<5", W),
    (r"x<-1 \text{ or } x>1", r"(-\infty,-1)\cup(1,\infty)", C),
    # --- ordered tuples -----------------------------------------------------------------------
    ("(0,0,1)", "(0, 0, 1)", C),
    ("(0,0,1)", "(0,1,0)", W),
    (r"(\frac12, 3)", "(0.5, 3)", C),
    (r"(3, \pi)", "(3, 3.14)", W),
    ("(2,3)", "(x, y) = (2, 3)", C),
    ("(2,3)", "(x, y) = (3, 2)", W),
    (r"\langle 1, 2\rangle", "(1,2)", C),
    # --- vectors and matrices -----------------------------------------------------------------
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}", C),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\left(\begin{matrix}1&2\\3&4\end{matrix}\right)", C),
    (r"\begin{pmatrix}1&-2\\-3&4\end{pmatrix}", r"\begin{pmatrix}1&-2\\3&4\end{pmatrix}", W),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix}1&2\\3&5\end{pmatrix}", W),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", "(1,2,3,4)", W),
    (r"\begin{pmatrix}\frac12&\sqrt{4}\\0&1\end{pmatrix}", r"\begin{pmatrix}0.5&2\\0&1\end{pmatrix}", C),
    (r"\begin{pmatrix}1&2&3\\4&5&6\end{pmatrix}", r"\begin{pmatrix}1&2\\3&4\\5&6\end{pmatrix}", W),
    (r"\begin{pmatrix}3\\-1\\2\end{pmatrix}", "(3,-1,2)", C),
    (r"\begin{pmatrix}3\\-1\\2\end{pmatrix}", r"\begin{pmatrix}3\\1\\2\end{pmatrix}", W),
    # --- degrees, also inside trig functions --------------------------------------------------
    (r"45^\circ", "45", C),
    (r"45^\circ", "45°", C),
    (r"45^\circ", "135", W),
    (r"60^\circ", r"60 \text{ degrees}", C),
    (r"-\frac{1}{2}", r"\cos 120^\circ", C),
    (r"\frac{\sqrt{3}}{2}", r"\sin 30^\circ", W),
    (r"\sqrt{3}", r"\tan 60^\circ", C),
    ("0", r"\cos 90^\circ", C),
    ("-1", r"\cos 180^\circ", C),
    (r"\frac{1}{2}", r"\cos 60^{\circ}", C),
    (r"\sin 30^\circ", r"\frac12", C),
    (r"\sin 30^\circ", r"\frac{\sqrt3}{2}", W),
    (r"\frac{1}{2}", r"2\sin 15^\circ \cos 15^\circ", C),
    (r"\frac{1}{2}", r"\sin\frac{\pi}{6}", C),
    # --- repeating decimals -------------------------------------------------------------------
    (r"0.\overline{6}", r"\frac23", C),
    (r"0.\overline{6}", "0.6", W),
    (r"0.\overline{6}", "0.67", W),
    (r"\frac{2}{3}", r"0.\overline{6}", C),
    (r"1.\overline{3}", r"\frac43", C),
    (r"0.\overline{142857}", r"\frac17", C),
    (r"0.\overline{9}", "1", C),
    (r"0.\overline{09}", r"\frac{1}{11}", C),
    (r"0.2\overline{3}", r"\frac{7}{30}", C),
    (r"0.\overline{3}", r"0.\overline{33}", C),
    (r"0.\overline{3}", r"0.\overline{4}", W),
    (r"2.\overline{45}", r"\frac{27}{11}", C),
    (r"-0.\overline{3}", r"-\frac13", C),
    (r"0.\overline{12}", r"0.\overline{21}", W),
    # --- \text{} answers and multiple-choice letters ------------------------------------------
    (r"\text{(B)}", "B", C),
    (r"\text{(B)}", "(B)", C),
    (r"\text{(B)}", "C", W),
    (r"\textbf{(C)}", "C", C),
    ("C", r"\textbf{(C)}", C),
    ("(C)", "C", C),
    ("C", r"\text{(C)}", C),
    ("C", "D", W),
    ("(A)", "(E)", W),
    (r"\textbf{(D)}", r"\textbf{(E)}", W),
    (r"\textbf{(B) }6", "B", C),
    (r"\text{yes}", "Yes", C),
    (r"\text{odd}", r"\text{Odd}", C),
    (r"\text{even}", "even", C),
    (r"\text{Monday}", r"\textbf{Monday}", C),
    # --- units --------------------------------------------------------------------------------
    (r"5\text{ cm}", "5 cm", C),
    ("5", r"5\text{ cm}", C),
    (r"5\text{ cm}", "6", W),
    (r"\$5", "5", C),
    ("5", r"\$5", C),
    (r"\$5", r"\$6", W),
    (r"\$5.00", "5", C),
    (r"\$1.50", "1.5", C),
    (r"\$1.50", "150", W),
    (r"12\text{ cm}^2", "12", C),
    ("12", r"12\ \text{cm}^2", C),
    (r"50\text{ m/s}", "50", C),
    ("7", r"7 \mbox{ inches}", C),
    ("15", r"15\,\mathrm{kg}", C),
    ("4", "4 hours", C),
    ("4", r"5 \text{ hours}", W),
    ("3", r"3\text{ dollars}", C),
    ("20", r"20\text{ square units}", C),
    ("100", r"100 \text{ m}^2", C),
    # --- stringified-list references (as stored by some datasets) -----------------------------
    ("['0.75']", r"\frac34", C),
    ("['0.75']", r"\frac23", W),
    ("['9.6']", r"\boxed{9.6}", C),
    ("['42']", "42", C),
    ("['42']", "24", W),
    (r"['\frac{1}{2}']", "0.5", C),
    # --- issues known from math-verify ----------------------------------------------------------
    (r"\frac{1}{2006!}", r"\frac{1}{2004!}", W),
    (r"\frac{1}{2004!}", r"\frac{2005}{2006!}", W),
    (r"\frac{1}{2004!}", r"\frac{2005\cdot 2006}{2006!}", C),
    ("2004!", r"2004\cdot 2003!", C),
    ("100!", "101!", W),
    (r"\frac{100!}{98!}", "9900", C),
    # --- extraction ---------------------------------------------------------------------------
    ("17", _LONG_THINK + r"Counting all cases, the answer is $\boxed{17}$.", C),
    ("17", _LONG_THINK + r"Counting all cases, the answer is $\boxed{19}$.", W),
    ("17", _LONG_THINK + "Counting all cases, the answer is 17.", C),
    (r"\frac{1}{2}", _THOUGHT_SOLUTION, C),
    (r"\frac{1}{3}", _THOUGHT_SOLUTION, W),
    ("5", r"The final answer is $\boxed{5}$.", C),
    ("6", r"The final answer is $\boxed{5}$.", W),
    ("12", "**Final Answer**\n\\[\n\\boxed{12}\n\\]", C),
    ("12", "Thus, the answer is 12.", C),
    ("12", "Answer: 13", W),
    ("7", r"Hence \fbox{7}.", C),
    ("5", r"So there are $\boxed{5 \text{ apples}}$.", C),
    (r"The answer is $\boxed{\frac{3}{4}}$.", "0.75", C),
    # several different boxed values at the end: hedged, even when one of them is right
    ("4", r"<think>long</think> The answer is \boxed{3} or \boxed{4}.", H),
    ("3", r"<think>long</think> The answer is \boxed{3} or \boxed{4}.", H),
    ("2", r"Either $\boxed{2}$ or $\boxed{-2}$ depending on the sign.", H),
    # one answer boxed twice in different forms is not hedging
    ("0.5", r"$\boxed{\frac{1}{2}} = \boxed{0.5}$", C),
    ("2", r"We get \boxed{2}, i.e. \boxed{2.0}.", C),
    (r"\frac34", r"Thus \boxed{75\%}, i.e. a fraction of \boxed{\frac34}.", C),
    (r"\frac13", r"So the ratio is $\boxed{0.5}$, that is $\boxed{\frac12}$.", W),
    # no final answer
    ("5", r"<think>we get \boxed{5}</think>" + "\n\nThe solution proceeds as follows.\nFirst we compute things.\nThen more things.", N),
    ("5", "  \n \n ", N),
    # truncated responses
    (r"\frac{3}{4}", r"Adding the two cases, the answer is $\boxed{\frac{3}{", N),
    ("5", "<think>\n" + "We need to count the lattice points inside the region, one row at a time. " * 50, N),
]


def _short(s: str) -> str:
    return s if len(s) <= 40 else s[:18] + "..." + s[-18:]


def _id(case) -> str:
    ref, resp, expected = case
    return f"{expected}|{_short(ref)}|{_short(resp)}"


@pytest.mark.parametrize(("ref", "resp", "expected"), GOLDEN_EXTRA, ids=[_id(c) for c in GOLDEN_EXTRA])
def test_golden_extra(ref, resp, expected):
    v = verify(ref, resp)
    assert isinstance(v, Verdict)
    assert v.reason == expected, (ref, resp, v)
    assert v.correct == (expected == C)
    if expected == N:
        assert v.predicted is None
    else:
        assert v.predicted is not None


def test_golden_extra_size_and_no_duplicates():
    assert len(GOLDEN_EXTRA) >= 180
    pairs = [(ref, resp) for ref, resp, _ in GOLDEN_EXTRA]
    assert len(pairs) == len(set(pairs)), "a case is listed twice"
    spec = importlib.util.spec_from_file_location("_golden_main", Path(__file__).with_name("test_golden.py"))
    main = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(main)
    assert not set(pairs) & {(ref, resp) for ref, resp, _ in main.GOLDEN}, "repeats a case of test_golden.py"
