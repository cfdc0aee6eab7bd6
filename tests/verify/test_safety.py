"""Untrusted input: pathological answers finish quickly with a verdict, nothing ever raises."""

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factory.verify import Verdict, compare, sandbox, verify
from factory.verify.latex import MAX_DEPTH, ParseError, parse

HANG_GUARD_S = 10.0  # a hang guard only, not a performance assertion (a real hang: pytest-timeout)
REASONS = {"correct", "wrong_answer", "no_answer", "hedged", "unparseable", "timeout", "no_reference"}

PATHOLOGICAL = [
    r"9^{9^{9^{9}}}",
    r"10^{10^{8}}",
    r"(10^{7})!",
    r"2^{2^{2^{2^{2^{2}}}}}",
    r"\sqrt{10^{10^{10}}}",
    r"\sin(10^{100})",
    r"e^{10^{10}}",
    r"\pi^{10^{100}}",
    r"\binom{10^{9}}{5}",
    r"\log_2 (2^{100000})",
    "(" * 2000 + "1" + ")" * 2000,
    r"\frac{" * 300 + "1" + "}{2}" * 300,
    "-" * 5000 + "1",
    "9" * 5000,
    "1" + "+1" * 240,
    r"\boxed{" * 3000,
    "x^" * 200 + "2",
    r"\sqrt" * 400 + "2",
    r"\sin" * 120 + "x",
    "5" + "%" * 400,
    "|" * 400 + "1",
    "5" + " abc" * 120 + " $",  # regression: trailing-unit regex once backtracked exponentially
    "The value is $1.00 \\times 10^{10}$ atoms per cubic meter of the crystal lattice",
    r"i^{9^{9^{9}}}",  # complex values go to the symbolic tier: its kill must bound them too
    r"(1+i)^{10^{8}}",
    r"\pm" * 100 + "1",
    r"\begin{pmatrix}" + "1&" * 200 + r"1\\" * 50 + r"\end{pmatrix}",
    "1<x<" * 50 + "2",
]


@pytest.mark.parametrize("line", [
    "The answer is " + "word " * 400 + "$",
    "Final answer: " + "5 cm " * 300 + "!",
    "answer is " * 500,
])
def test_long_answer_lines_finish(line):
    t = time.monotonic()
    v = verify("5", "<think>x</think>\n" + line)
    assert time.monotonic() - t < HANG_GUARD_S
    assert not v.correct and v.reason in {"no_answer", "wrong_answer", "unparseable"}, v


@pytest.mark.parametrize("ans", PATHOLOGICAL)
@pytest.mark.parametrize("ref", ["5", r"9^{9^{9^{9}}}", "x+1"])
def test_pathological_answers_finish(ref, ans):
    t = time.monotonic()
    v = verify(ref, rf"\boxed{{{ans}}}", timeout_s=2.0)
    assert v.reason in REASONS
    assert not v.correct or ans == ref
    assert time.monotonic() - t < HANG_GUARD_S


@pytest.mark.parametrize("ref", [
    "[" + "'' " * 3000 + "x",  # once backtracked exponentially in the list-string reference pattern
    "['" + "a', '" * 5000 + "b']",
    "(A) " * 2000,
    r"\boxed{" * 3000 + "1",
    "1" * 100_000,
])
def test_pathological_references_finish(ref):
    t = time.monotonic()
    compare.prepare_reference(ref)  # raises here if parsing a hostile reference breaks (verify hides it)
    v = verify(ref, r"\boxed{1}", timeout_s=1.0)
    assert time.monotonic() - t < HANG_GUARD_S
    assert not v.correct and v.reason in {"wrong_answer", "unparseable"}, v


def test_huge_values_never_equal_by_accident():
    assert verify(r"9^{9^{9^{9}}}", r"9^{9^{9^{9}}}+1").reason == "unparseable"
    assert verify(r"9^{9^{9^{9}}}", r"9^{9^{9^{9}}}").correct
    assert verify(r"(10^{7})!", "5").reason == "wrong_answer"  # magnitudes differ: provably wrong
    assert verify(r"2^{20000}", r"2^{20001}").reason == "wrong_answer"


def test_megabyte_trace():
    trace = "<think>" + ("Let me think about \\boxed{x} again. " * 30000) + "</think>\nSo \\boxed{7}"
    assert len(trace) > 1_000_000
    t = time.monotonic()
    v = verify("7", trace)
    assert v.correct
    assert time.monotonic() - t < HANG_GUARD_S
    unclosed = "<think>" + "{" * 1_000_000
    assert verify("7", unclosed).reason == "no_answer"


def test_depth_limit_is_a_parse_error_not_recursion():
    with pytest.raises(ParseError):
        parse("(" * (MAX_DEPTH + 5) + "1" + ")" * (MAX_DEPTH + 5))
    assert parse("(" * 20 + "1" + ")" * 20) == ("num", parse("1")[1])


def test_no_eval_of_python(tmp_path):
    marker = tmp_path / "evaluated"
    for evil in [f"open({str(marker)!r}, 'w').write('1')", f"__import__('pathlib').Path({str(marker)!r}).touch()",
                 f"exec(\"open({str(marker)!r}, 'w')\")", "().__class__", "lambda: 1"]:
        v = verify("1", rf"\boxed{{{evil}}}")
        assert not v.correct and v.reason in {"unparseable", "wrong_answer"}, (evil, v)
    assert not marker.exists(), "the verifier ran model text as Python"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ref=st.sampled_from(["5", r"\frac{3}{4}", "x^2+1", "(1,2)", r"[0, \infty)", r"\text{Evelyn}", "x=3", ""]),
    text=st.lists(st.sampled_from(list("0123456789+-*/^_{}()[],.=!|%$ xyze\\") + [
        r"\frac", r"\sqrt", r"\boxed{", r"\pi", r"\cdot", r"\left(", r"\right)", r"\text{", "</think>",
        r"\infty", r"\cup", r"\sin", r"\log_", r"\binom", r"\overline{", "<think>", r"\%", r"^\circ",
        r"\pm", "i", "&", r"\\", r"\begin{pmatrix}", r"\end{pmatrix}", "<", r"\le", "'", "[",
    ]), max_size=40).map("".join),
)
def test_fuzzed_answers_get_a_known_reason_in_time(ref, text):
    for resp in (text, rf"\boxed{{{text}}}"):
        started = time.monotonic()
        v = verify(ref, resp, timeout_s=1.0)
        assert time.monotonic() - started < HANG_GUARD_S  # the 1 s limit plus a worker restart at most
        assert v.reason in REASONS and v.correct == (v.reason == "correct")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_unicode_gets_a_known_reason_in_time(text):
    started = time.monotonic()
    v = verify("1", text, timeout_s=1.0)
    assert time.monotonic() - started < HANG_GUARD_S
    assert v.reason in REASONS and v.correct == (v.reason == "correct")


def test_the_last_line_of_defence_turns_an_internal_error_into_a_verdict(monkeypatch):
    """Production runs without STRICT: a bug met on one untrusted reply must not stop a run."""
    def broken(response):
        raise RuntimeError("a bug in extraction")

    monkeypatch.setattr(compare, "extract_answer", broken)
    monkeypatch.setattr(compare, "STRICT", False)
    assert verify("1", r"\boxed{1}") == Verdict(False, "unparseable", None)
    monkeypatch.setattr(compare, "STRICT", True)
    with pytest.raises(RuntimeError, match="a bug in extraction"):
        verify("1", r"\boxed{1}")


def test_sandbox_timeout_kills_and_restarts_worker():
    with pytest.raises(sandbox.SandboxTimeout):
        sandbox._run(("sleep", 30), timeout_s=0.5)
    assert sandbox._worker is None  # killed and forgotten
    # The next job gets a fresh worker and works.
    assert sandbox.simplify_equal(("func", "sin", ("const", "pi")), ("num", parse("0")[1]), timeout_s=30)


def test_timeout_verdict():
    # Exact zero vs cancellation noise goes to sympy; with no time left the verdict is "timeout".
    v = verify("0", r"\sin \pi", timeout_s=0.0)
    assert v.reason == "timeout" and not v.correct


def test_shutdown_leaves_no_process():
    sandbox.simplify_equal(("num", parse("1")[1]), ("num", parse("1")[1]), timeout_s=30)
    proc = sandbox._worker.proc
    sandbox.shutdown()
    assert proc.poll() is not None


def test_the_sympy_tier_works_for_a_script_piped_into_python(tmp_path):
    # a `spawn` child re-runs the caller's main script; piped into `python -` there is none on disk, and
    # every sample reaching sympy used to come back `unparseable`
    import subprocess
    import sys

    script = "from factory.verify import verify\nprint(verify('0', r'\\sin \\pi'))\n"
    out = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, cwd=tmp_path,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Verdict(correct=True, reason='correct', predicted='\\\\sin \\\\pi')"


def test_a_worker_that_cannot_start_is_an_error_never_a_verdict(monkeypatch):
    sandbox.shutdown()
    monkeypatch.setattr(sandbox.sys, "executable", "/nonexistent/python")
    with pytest.raises(sandbox.SandboxUnavailable, match="cannot start the sympy worker"):
        verify("0", r"\sin \pi")
    monkeypatch.undo()
    # an interpreter that starts but cannot import sympy under the memory cap: its own last words are named
    monkeypatch.setattr(sandbox, "MEMORY_LIMIT_BYTES", 32 << 20)
    with pytest.raises(sandbox.SandboxUnavailable, match="did not start: .*Error"):
        verify("0", r"\sin \pi")
    monkeypatch.undo()
    assert verify("0", r"\sin \pi").correct  # and the next call starts a good worker
