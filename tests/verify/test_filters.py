"""check_trace: one test per reason code, plus config switches."""

from factory.config import FilterConfig
from factory.verify import check_trace

CFG = FilterConfig()


def test_passes():
    assert check_trace("thinking", r"\boxed{1}", "stop", True, CFG) is None


def test_truncated():
    assert check_trace("thinking", "", "length", True, CFG) == "truncated"
    assert check_trace("thinking", "x", "length", True, FilterConfig(reject_truncated=False)) is None


def test_unclosed_think():
    assert check_trace("thinking", "", "stop", False, CFG) == "unclosed_think"
    assert check_trace("thinking", "x", "stop", False, FilterConfig(reject_unclosed_think=False)) is None


def test_truncated_wins_over_unclosed():
    assert check_trace("thinking", None, "length", False, CFG) == "truncated"


def test_empty():
    assert check_trace(None, None, "stop", True, CFG) == "empty"
    assert check_trace("  ", "\n", "stop", True, CFG) == "empty"


def test_empty_reasoning():
    strict = FilterConfig(reject_empty_reasoning=True)
    assert check_trace("", r"\boxed{1}", "stop", True, strict) == "empty_reasoning"
    assert check_trace(None, r"\boxed{1}", "stop", True, CFG) is None
