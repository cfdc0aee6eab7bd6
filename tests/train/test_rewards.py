"""GRPO's reward is the verifier's verdict on the completion, under the format policy; untrusted text is safe."""

import pytest

from factory.train.rewards import AccuracyReward, FormatReward, completion_text, well_formed

RIGHT = "<think>\n2 plus 3 is 5.\n</think>\n\nThe answer is $\\boxed{5}$."
EQUIVALENT = "<think>\nhalf of ten\n</think>\n\n$\\boxed{\\frac{10}{2}}$"
WRONG = "<think>\n2 plus 3 is 6?\n</think>\n\nThe answer is $\\boxed{6}$."
UNCLOSED = "<think>\n2 plus 3 is 5, so \\boxed{5}"
UNBOXED = "<think>\n2 plus 3\n</think>\n\nThe answer is 5."


def chat(text):
    return [{"role": "assistant", "content": text}]


def test_a_right_boxed_answer_scores_1_and_a_wrong_one_0():
    reward = AccuracyReward()
    got = reward(completions=[chat(RIGHT), chat(EQUIVALENT), chat(WRONG)], answer=["5", "5", "5"], prompts=None)
    assert got == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("text, strict, off", [
    (RIGHT, 1.0, 1.0), (UNCLOSED, 0.0, 1.0), (UNBOXED, 0.0, 1.0), (WRONG, 0.0, 0.0), ("", 0.0, 0.0)])
def test_the_format_policy(text, strict, off):
    assert AccuracyReward("strict").score("5", text) == strict
    assert AccuracyReward("off").score("5", text) == off


def test_plain_string_completions_and_missing_references():
    reward = AccuracyReward()
    assert reward(completions=[RIGHT, RIGHT], answer=["5", None]) == [1.0, 0.0]
    assert completion_text(chat("x")) == "x" and completion_text([]) == "" and completion_text(None) == ""


def test_the_format_reward_alone():
    assert FormatReward()(completions=[chat(RIGHT), chat(UNCLOSED), chat(UNBOXED), chat(WRONG)]) == [1, 0, 0, 1]
    assert well_formed(RIGHT) and not well_formed(UNBOXED)


def test_model_text_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    evil = [f"<think>x</think> \\boxed{{__import__('pathlib').Path({str(marker)!r}).touch()}}",
            f"<think>x</think> \\boxed{{open({str(marker)!r}, 'w')}}", "<think>x</think> \\boxed{" * 2000]
    assert AccuracyReward()(completions=[chat(t) for t in evil], answer=["1"] * 3) == [0.0, 0.0, 0.0]
    assert not marker.exists()


def test_what_was_scored_is_kept_only_when_asked():
    quiet, recording = AccuracyReward(), AccuracyReward(record=True)
    for r in (quiet, recording):
        r(completions=[chat(RIGHT)], answer=["5"])
    assert quiet.seen == [] and recording.seen == [("5", RIGHT, 1.0)]
