"""GRPO's rewards: the verifier's verdict on each completion, 1 or 0, under a format policy.

Completions are untrusted model text: they only ever reach `factory.verify`, which parses answers into
a whitelisted AST and sends leftovers to its killable sandbox. The reference of each problem is parsed
once and kept.

Format policy `strict` (DeepScaleR's): a completion earns 1 only when its reasoning was closed with
`</think>` and its final answer is boxed, and the boxed answer is right; anything else earns 0. With
`off` the verifier alone decides. A separate `format` reward (0/1 for the same two conditions) can be
added with a weight of its own.
"""

from __future__ import annotations

from factory.verify import Options, prepare_reference, verify_prepared
from factory.verify.extract import answer_boxes, final_part


def completion_text(completion) -> str:
    """The text of one completion: a chat completion's last turn, or the plain string."""
    if isinstance(completion, list):
        return completion[-1]["content"] if completion else ""
    return completion or ""


def well_formed(text: str) -> bool:
    """The reasoning was closed with </think> and the final part holds a boxed answer."""
    return "</think>" in text and bool(answer_boxes(final_part(text)))


class AccuracyReward:
    """1.0 when the verifier finds the completion's answer equal to the reference (see the format policy)."""

    __name__ = "accuracy"  # the name TRL logs it under: rewards/accuracy/mean

    def __init__(self, policy: str = "strict", timeout_s: float = 5.0, record: bool = False,
                 options: Options | None = None):
        self.policy, self.timeout_s, self.record, self.options = policy, timeout_s, record, options
        self._references: dict[str, object] = {}
        self.seen: list[tuple[str, str, float]] = []  # with `record`: (reference, completion, reward) scored

    def _prepared(self, reference: str):
        if reference not in self._references:
            self._references[reference] = prepare_reference(reference)
        return self._references[reference]

    def score(self, reference: str | None, text: str) -> float:
        if not reference:
            return 0.0
        if self.policy == "strict" and not well_formed(text):
            return 0.0
        verdict = verify_prepared(self._prepared(reference), text, timeout_s=self.timeout_s, options=self.options)
        return float(verdict.correct)

    def __call__(self, completions, answer, **kwargs) -> list[float]:
        texts = [completion_text(c) for c in completions]
        rewards = [self.score(a, t) for a, t in zip(answer, texts, strict=True)]
        if self.record:
            self.seen.extend(zip(answer, texts, rewards, strict=True))
        return rewards


class FormatReward:
    """1.0 when the completion closed its reasoning and boxed its answer."""

    __name__ = "format"

    def __call__(self, completions, **kwargs) -> list[float]:
        return [float(well_formed(completion_text(c))) for c in completions]
