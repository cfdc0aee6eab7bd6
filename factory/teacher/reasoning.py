"""One place that finds the reasoning in a teacher reply, whichever way the server returns it.

Servers disagree: DeepSeek's API and vLLM's reasoning parsers put it in `reasoning_content`, newer
vLLM and OpenRouter in `reasoning`, and plain chat templates leave it inline in `<think>` tags (R1
distills often omit the opening tag because the template already emitted it). Sky-T1/Bespoke
models use `<|begin_of_thought|>` tags.
"""

from __future__ import annotations

from dataclasses import dataclass

_TAGS = (("<think>", "</think>", "think"), ("<|begin_of_thought|>", "<|end_of_thought|>", "thought"))
_SOLUTION_TAGS = ("<|begin_of_solution|>", "<|end_of_solution|>")


@dataclass(frozen=True)
class Split:
    reasoning: str
    answer: str
    # reasoning_content | reasoning | think_tags | think_unopened | thought_tags | thought_unopened | none
    source: str
    closed: bool  # False when a reasoning block was opened but never closed


def _strip_solution_tags(text: str) -> str:
    for tag in _SOLUTION_TAGS:
        text = text.replace(tag, "")
    return text.strip()


def split_reasoning(content: str | None, reasoning_content: str | None = None,
                    reasoning: str | None = None) -> Split:
    """Separate reasoning from the final answer text of one chat completion message."""
    content = content or ""
    for field, value in (("reasoning_content", reasoning_content), ("reasoning", reasoning)):
        if value:
            inner = split_reasoning(content)  # a server may still echo tags in content
            answer = inner.answer if inner.source != "none" else content.strip()
            return Split(value.strip(), _strip_solution_tags(answer), field, inner.closed)
    for open_tag, close_tag, style in _TAGS:
        start, end = content.find(open_tag), content.rfind(close_tag)
        if end >= 0:
            body_start = start + len(open_tag) if 0 <= start < end else 0
            source = f"{style}_tags" if 0 <= start < end else f"{style}_unopened"
            answer = _strip_solution_tags(content[end + len(close_tag):])
            return Split(content[body_start:end].strip(), answer, source, True)
        if start >= 0:
            return Split(content[start + len(open_tag):].strip(), "", f"{style}_tags", False)
    return Split("", _strip_solution_tags(content), "none", True)
