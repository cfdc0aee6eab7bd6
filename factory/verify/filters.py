"""Trace filters applied before answer checking; each rejection has its own reason code."""

from __future__ import annotations

from factory.config import FilterConfig


def check_trace(
    reasoning: str | None,
    answer: str | None,
    finish_reason: str | None,
    think_closed: bool,
    cfg: FilterConfig,
) -> str | None:
    """Decide whether a trace is usable at all, before its answer is checked.

    Checks run in a fixed order so a trace with several problems always gets the same code:
    truncated, unclosed_think, empty, empty_reasoning. Over-length is decided by the caller after
    tokenizing.

    Args:
        reasoning: The reasoning text (tags stripped), or None.
        answer: The text after the reasoning, or None.
        finish_reason: The endpoint's finish reason ("stop", "length", ...).
        think_closed: False when an inline reasoning block was opened but never closed.
        cfg: The pipeline's filter settings.

    Returns:
        A rejection reason code ("truncated", "unclosed_think", "empty", "empty_reasoning"), or
        None when the trace passes.
    """
    reasoning_blank = not (reasoning or "").strip()
    if cfg.reject_truncated and finish_reason == "length":
        return "truncated"
    if cfg.reject_unclosed_think and not think_closed:
        return "unclosed_think"
    if reasoning_blank and not (answer or "").strip():
        return "empty"
    if cfg.reject_empty_reasoning and reasoning_blank:
        return "empty_reasoning"
    return None
