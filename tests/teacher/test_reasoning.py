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
