"""The extra golden table (support/golden_extra.py), run through the verifier."""

import pytest

from factory.verify import Verdict, verify

from support.golden import GOLDEN
from support.golden_extra import GOLDEN_EXTRA

C, N = "correct", "no_answer"


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
    assert not set(pairs) & {(ref, resp) for ref, resp, _ in GOLDEN}, "repeats a case of the main golden table"
