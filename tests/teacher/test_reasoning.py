import pytest

from factory.teacher.reasoning import split_reasoning


@pytest.mark.parametrize("content, reasoning, answer, source, closed", [
    ("<think>\nabc\n</think>\n\nThe answer is 3.", "abc", "The answer is 3.", "think_tags", True),
    ("abc\n</think>\nfinal", "abc", "final", "think_unopened", True),
    ("<think>abc never closed", "abc never closed", "", "think_tags", False),
    ("no reasoning here", "", "no reasoning here", "none", True),
    ("<|begin_of_thought|>x<|end_of_thought|><|begin_of_solution|>sol<|end_of_solution|>", "x", "sol",
     "thought_tags", True),
    ("x<|end_of_thought|>\n<|begin_of_solution|>sol<|end_of_solution|>", "x", "sol", "thought_unopened", True),
    ("<|begin_of_thought|>still going", "still going", "", "thought_tags", False),
])
def test_inline_forms(content, reasoning, answer, source, closed):
    s = split_reasoning(content)
    assert (s.reasoning, s.answer, s.source, s.closed) == (reasoning, answer, source, closed)


def test_separate_fields_win_and_are_named():
    s = split_reasoning("final \\boxed{2}", reasoning_content="think think")
    assert (s.reasoning, s.answer, s.source) == ("think think", "final \\boxed{2}", "reasoning_content")
    s = split_reasoning("<think></think>final", reasoning="r")
    assert (s.reasoning, s.answer, s.source) == ("r", "final", "reasoning")


def test_last_closing_tag_splits():
    s = split_reasoning("<think>a</think> mid </think> end")
    assert s.answer == "end"


def test_a_teacher_without_reasoning_is_reported_once_enough_samples_are_in(capsys):
    from factory.progress import Progress
    from factory.stages.generate import _warn_if_no_reasoning

    progress = Progress("t", 200)
    progress.add([{"outcome": "failed"}] * 60 + [{"outcome": "complete", "reasoning_source": "none"}] * 30)
    assert not _warn_if_no_reasoning(progress)  # 60 failures settle nothing: too few complete samples
    progress.add([{"outcome": "complete", "reasoning_source": "none"}] * 15
                 + [{"outcome": "complete", "reasoning_source": "think_tags"}] * 5)
    assert _warn_if_no_reasoning(progress)
    assert "WARNING: 45 of 50 complete samples carry no reasoning" in capsys.readouterr().err
    healthy = Progress("t", 10)
    healthy.add([{"outcome": "complete", "reasoning_source": "reasoning_content"}] * 10)
    assert _warn_if_no_reasoning(healthy) and "WARNING" not in capsys.readouterr().err


def test_a_small_run_is_judged_at_its_end_on_what_completed(capsys):
    from factory.progress import Progress
    from factory.stages.generate import _warn_if_no_reasoning

    progress = Progress("t", 20)
    progress.add([{"outcome": "failed"}] * 4 + [{"outcome": "complete", "reasoning_source": "none"}] * 16)
    assert not _warn_if_no_reasoning(progress)  # 16 of 20 complete: not settled while running
    assert _warn_if_no_reasoning(progress, final=True)
    assert "WARNING: 16 of 16 complete samples carry no reasoning" in capsys.readouterr().err
