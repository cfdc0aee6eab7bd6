"""Golden table: (reference, response, expected reason code)."""

import pytest

from factory.verify import Verdict, verify, verify_batch

from support.golden import GOLDEN

C, W = "correct", "wrong_answer"


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
        ("5", r"<|begin_of_thought|>try \boxed{4}<|end_of_thought|>"
              r"<|begin_of_solution|>Thus \boxed{5}<|end_of_solution|>", C),
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
