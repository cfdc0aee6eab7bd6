"""Golden table: (reference, response, expected reason code)."""

import pytest

from factory.verify import Verdict, verify, verify_batch

C, W, U = "correct", "wrong_answer", "unparseable"

GOLDEN = [
    # integers, signs, decimals
    ("42", "42", C),
    ("42", "43", W),
    ("-5", "- 5", C),
    ("-5", "5", W),
    ("3", "3.0", C),
    ("3", "3.01", W),
    ("142.0", "142", C),
    ("142.0", r"\frac{2843}{20}", W),
    ("1.5", r"\frac32", C),
    ("1.50", "1.5", C),
    (r"\dfrac{9}{2}", "4.5", C),
    ("0", "0.0", C),
    ("0", "-0", C),
    ("007", "7", C),
    ("1.2e-5", "0.000012", C),
    (r"2\times 10^{3}", "2000", C),
    # fractions
    (r"\frac{3}{4}", "0.75", C),
    (r"\frac34", r"\dfrac{3}{4}", C),
    (r"\frac34", r"\tfrac{6}{8}", C),
    (r"\frac34", "3/4", C),
    (r"\frac34", "4/3", W),
    (r"-\frac{3}{4}", r"\frac{-3}{4}", C),
    (r"-\frac{3}{4}", r"\frac{3}{-4}", C),
    (r"-\frac{3}{4}", "-0.75", C),
    (r"-\frac{3}{4}", r"\frac{3}{4}", W),
    (r"\frac{1}{3}", "0.333", W),
    (r"\frac{1}{3}", r"0.\overline{3}", C),
    (r"0.\overline{12}", r"\frac{4}{33}", C),
    (r"0.1\overline{6}", r"\frac{1}{6}", C),
    (r"\frac{14}{3}", r"4\frac{2}{3}", C),
    (r"10\frac{1}{12}", r"\frac{121}{12}", C),
    (r"-15\frac{3}{5}", "-15.6", C),
    (r"\frac{1}{2004!}", r"\frac{1}{2006!}", W),
    (r"\frac{1}{2004!}", r"\frac{1}{2004!}", C),
    (r"\frac{1}{10!}", r"\frac{1}{3628800}", C),
    (r"\frac{a}{b}", r"\frac{a}{b}", C),
    # reference-rounding leniency (reference is a rounded decimal)
    ("0.33", r"\frac{1}{3}", C),
    ("0.33", r"\frac{1}{2}", W),
    ("1.41", r"\sqrt{2}", C),
    ("1.41", "1.414", W),
    # percent policy
    (r"50\%", "50", C),
    (r"50\%", "0.5", C),
    (r"50\%", r"\frac{1}{2}", C),
    ("50", r"50\%", C),
    ("50", "0.5", W),
    (r"20 \%", "20%", C),
    (r"17\%", "18", W),
    # thousands separators
    ("1000", "1{,}000", C),
    ("1000", "1,000", C),
    ("1,000", "1000", C),
    ("1234567", "1,234,567", C),
    ("1000", r"1\,000", C),
    (r"(1, 0)", "1,000", C),  # tuple reference: "1,000" is the pair (1, 000), not a thousand
    (r"(1, 1)", "1,000", W),
    # radicals
    (r"2\sqrt{3}", r"\sqrt{12}", C),
    (r"\sqrt{12}", r"2\sqrt3", C),
    (r"4", r"4\sqrt{2}", W),
    (r"\frac{\sqrt{3}}{2}", r"\frac{1}{2}\sqrt{3}", C),
    (r"\frac{\sqrt{3}}{2}", r"\sqrt{3}/2", C),
    (r"\frac{\sqrt{3}}{2}", r"\sqrt{0.75}", C),
    (r"\frac{1}{\sqrt{2}}", r"\frac{\sqrt{2}}{2}", C),
    (r"\sqrt[3]{8}", "2", C),
    (r"\sqrt[3]{-8}", "-2", C),
    ("8^{1/3}", "2", C),
    (r"3\sqrt{2}", r"2\sqrt{3}", W),
    (r"5+2\sqrt{6}", r"(\sqrt{2}+\sqrt{3})^2", C),
    # constants, powers, products
    (r"\pi", r"\pi", C),
    (r"\pi", "3.14159", W),
    (r"2\pi", r"\pi \cdot 2", C),
    (r"\frac{\pi}{2}", r"0.5\pi", C),
    (r"\frac{\pi}{3}", r"\frac{\pi}{4}", W),
    ("e^{2}", "e^2", C),
    ("2e", r"2\cdot e", C),
    ("2^{10}", "1024", C),
    ("2^{10}", "1023", W),
    (r"3 \times 4", "12", C),
    ("2^{-1}", "0.5", C),
    (r"\left(\frac{1}{2}\right)^2", r"\frac14", C),
    (r"\binom{5}{2}", "10", C),
    ("5!", "120", C),
    (r"\log_2 8", "3", C),
    (r"\ln 1", "0", C),
    ("0", r"\sin \pi", C),
    (r"|{-3}|", "3", C),
    # text, units, degrees, dollars, choices
    (r"5\text{ cm}", "5", C),
    ("20", r"20 \text{ miles}", C),
    ("20", "20 miles", C),
    (r"6\frac{1}{6}\text{ feet}", "37/6", C),
    (r"30^\circ", "30", C),
    ("30", r"30^{\circ}", C),
    ("30", r"31^{\circ}", W),
    (r"\$20", "20", C),
    ("20", r"\$20.00", C),
    (r"\text{(C)}", "C", C),
    (r"\textbf{(C)}", "(C)", C),
    (r"\text{Evelyn}", "Evelyn", C),
    (r"\text{Evelyn}", r"\text{Briana}", U),
    (r"\text{Tuesday}", "tuesday", C),
    # equations
    ("x=3", "3", C),
    ("3", "x = 3", C),
    ("3", "x = 4", W),
    ("y = 2x+1", "2x+1", C),
    ("y=2x+1", "y = 1+2x", C),
    ("2x+y=3", "y=3-2x", C),
    ("y=2x+1", "y=2x-1", W),
    # tuples, sets, lists, intervals
    ("(1,2)", "(1, 2)", C),
    ("(1,2)", "(2,1)", W),
    ("(1,2)", "(1,2,3)", W),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(3, \pi/2)", C),
    (r"\left( 3, \frac{\pi}{2} \right)", r"(\frac{\pi}{2}, 3)", W),
    (r"\{1,2,3\}", r"\{3,2,1\}", C),
    (r"\{1,2,3\}", r"\{1,2\}", W),
    ("2, 3", "3, 2", C),
    (r"2, 3, \text{ and } 4", "4,3,2", C),
    (r"6, 8\text{, and }10", "6, 8, 10", C),
    ("1, -2", "x = 1 or x = -2", C),
    ("[1,2)", "[1, 2)", C),
    ("[1,2)", "[1, 2]", W),
    ("(1,2]", r"\left(1, 2\right]", C),
    (r"(-\infty, 3]", r"(-\infty,3]", C),
    (r"(-\infty, 3]", r"(-\infty,3)", W),
    (r"[2,5) \cup (7, \infty)", r"(7,\infty) \cup [2,5)", C),
    (r"x \in [1,2]", "[1,2]", C),
    (r"\varnothing", r"\{\}", C),
    # polynomials and symbolic expressions
    ("3x^{2} + 2x", "2x + 3x^2", C),
    ("3x^{2} + 2x", "x(3x+2)", C),
    ("3x^{2} + 2x", "3x^2 - 2x", W),
    ("(x+1)^2", "x^2+2x+1", C),
    ("(x+1)^2", "x^2+2x+2", W),
    ("p - q", "-q + p", C),
    (r"\frac{x^2-1}{x-1}", "x+1", C),
    (r"\frac{1}{x}", "x^{-1}", C),
    ("x^2 y + x y^2", "xy(x+y)", C),
    (r"\alpha + \beta", r"\beta+\alpha", C),
    (r"\sin^2 x + \cos^2 x", "1", C),
    ("2 x_1 + x_2", "x_2 + 2x_1", C),
    ("1+2i", "2i+1", C),
    ("a+b", "a-b", W),
    (r"e^{st}", r"e^{ts}", C),
    (r"\frac{\omega_{d}}{(s+\sigma)^{2}+\omega_{d}^{2}}", r"\frac{\omega_d}{(\sigma + s)^2 + \omega_d^2}", C),
    (r"\frac{\cos(2t)+\sin(2t)}{4}", r"\frac{1}{4} \left[ \cos(2t) + \sin(2t) \right]", C),
    ("s^2 + 2 s", "s^2+2", W),
    # vectors, ordinals, unicode units
    (r"\begin{pmatrix}-1/3\\2/3\end{pmatrix}", r"\begin{pmatrix} -\frac{1}{3} \\ \frac{2}{3} \end{pmatrix}", C),
    (r"\begin{pmatrix}1\\2\end{pmatrix}", r"\begin{pmatrix} 2 \\ 1 \end{pmatrix}", W),
    ("12", r"12^{\mathrm{th}} \text{ grade}", C),
    ("6630", r"6630 \text{ nm}", C),
    ("300", r"300 \text{ km/s}", C),
    # plus-minus: two answers
    (r"\pm 2", "2, -2", C),
    (r"\pm 2", r"-2 \text{ and } 2", C),
    (r"\pm 2", "2", W),
    (r"3\pm\sqrt{2}", r"3-\sqrt2, 3+\sqrt 2", C),
    (r"3\pm\sqrt{2}", r"3+\sqrt 2", W),
    (r"x=\pm 2", "x=2 or x=-2", C),
    (r"1 \mp i", r"1+i, 1-i", C),
    # matrices (multi-row), determinants stay strings
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{bmatrix}1 & 2\\ 3 & 4\end{bmatrix}", C),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix}1&3\\2&4\end{pmatrix}", W),
    (r"\begin{pmatrix}\frac12&0\\0&1\end{pmatrix}", r"\begin{pmatrix}0.5&0\\0&1\end{pmatrix}", C),
    (r"\begin{pmatrix}1&2\\3&4\end{pmatrix}", r"\begin{pmatrix}1&2&3\\4&5&6\end{pmatrix}", W),
    # trig of degrees is converted, not dropped
    (r"\frac12", r"\sin 30^\circ", C),
    (r"\frac{\sqrt3}{2}", r"\cos(30^{\circ})", C),
    (r"\frac12", r"\cos 30^\circ", W),
    ("1", r"\tan 45°", C),
    # inequalities against intervals
    (r"(2,\infty)", "x>2", C),
    (r"(2,\infty)", r"x\ge 2", W),
    (r"[2,\infty)", r"x\geq 2", C),
    (r"(-\infty, 3]", r"x \le 3", C),
    (r"(-\infty, 3]", r"3 \ge x", C),
    ("(1,3]", r"1<x\le 3", C),
    ("(1,3]", r"1<x<3", W),
    (r"x>2", r"(2, \infty)", C),
    # references stored as Python list strings
    ("['9.6']", "9.6", C),
    ("['9.6\n']", "9.6", C),
    ("['1', '2']", "2, 1", C),
    ("['9.6']", "9.5", W),
    # i is the imaginary unit
    ("-1", r"e^{i\pi}", C),
    ("-1", "i^2", C),
    ("2+3i", "3i+2", C),
    ("2+3i", "2-3i", W),
    ("i", r"\sqrt{-1}", C),
    (r"a_i", r"a_i", C),
    # found by the agreement study on real generations
    (r"x/2-1/4+ce^{-2x}", r"\frac12 x - \frac14 + Ce^{-2x}", C),  # one arbitrary constant, either case
    (r"x+C", r"x+2C", W),
    (r"1+i\sqrt{3}", r"e^{a+bi} = e^{\ln 2}e^{i\pi/3} = 1 + i\sqrt{3}", C),  # chained: the last side
    ("600", r"x \approx 600", C),
    ("4210_{5}", "4210_5", C),
    ("4210_{5}", "4211_5", W),
    (r"\sqrt{4\piG\rho_{0}r_{0}^{2}}", r"v(r) = \sqrt{4\pi G \rho_0 r_0^2}", C),  # gold lost its spaces
    ("15000", r"15000 \text{ kcal m}^{-2} \text{ yr}^{-1}", C),
    ("1.69", "1.69 Å", C),
    # found by review
    (r"\sin 2\theta", r"\sin(2\theta)", C),
    (r"\sin 2\theta", r"2\sin\theta\cos\theta", C),
    (r"\textbf{(B) }6", r"\textbf{(B)}\ 6", C),
    (r"\textbf{(B) }6", "(C) 6", W),
    (r"\Delta", r"\delta", W),  # only single Latin letters fold (c and C)
    ("2pi", r"2\pi", C),
]


@pytest.mark.parametrize(("ref", "resp", "expected"), GOLDEN)
def test_golden(ref, resp, expected):
    v = verify(ref, resp)
    assert isinstance(v, Verdict)
    assert v.reason == expected, (ref, resp, v)
    assert v.correct == (expected == "correct")
    assert v.predicted is not None


def test_golden_size():
    assert len(GOLDEN) >= 120


@pytest.mark.parametrize(
    ("ref", "resp", "expected"),
    [
        (r"\frac34", r"<think>maybe \boxed{7}?</think> So the answer is $\boxed{\frac{3}{4}}$.", C),
        (r"\frac34", r"<think>\boxed{3/4}</think> Final: \boxed{7}", W),
        ("5", r"<|begin_of_thought|>try \boxed{4}<|end_of_thought|><|begin_of_solution|>Thus \boxed{5}<|end_of_solution|>", C),
        ("5", r"<think>long</think> \boxed{4} or maybe \boxed{5}", "hedged"),
        ("0.5", r"<think>t</think> so \boxed{0.5}, that is \boxed{\frac12}", C),  # one value, two forms
        ("4", r"\boxed{x=4}, so \boxed{4}", C),
        ("5", r"<think>long</think> \boxed{5} and again \boxed{ 5 }", C),
        ("5", "<think>I have no idea</think>\nLet me explain at length.\nMany lines, no answer here.", "no_answer"),
        ("5", "", "no_answer"),
        ("5", "The final answer is $5$. I hope it is correct.", C),
        ("5", "Final Answer: The final answer is $6$. I hope it is correct.", W),
        (r"\boxed{12}", r"the total is \boxed{12}", C),
        ("$12$", "12", C),
        (r"$\frac{1}{2}$", r"\boxed 5", W),
        ("", r"\boxed{5}", "no_reference"),
        (None, r"\boxed{5}", "no_reference"),
    ],
)
def test_traces(ref, resp, expected):
    assert verify(ref, resp).reason == expected


def test_verify_batch_matches_verify():
    ref = r"\frac{3}{4}"
    resps = [r"\boxed{0.75}", r"\boxed{1}", "nothing here at all\n" * 3, r"\boxed{1} \boxed{2}"]
    assert verify_batch(ref, resps) == [verify(ref, r) for r in resps]
    assert [v.reason for v in verify_batch(ref, resps)] == [C, W, "no_answer", "hedged"]
    assert verify_batch(None, [r"\boxed{1}"])[0].reason == "no_reference"
