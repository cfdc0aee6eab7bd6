"""Trace filters applied before answer checking; each rejection has its own reason code.

Codes, in the order they are checked (a trace with several problems always gets the first):
truncated, unclosed_think, empty, empty_reasoning, repetition, mixed_script, no_answer (only with
`require_boxed`; otherwise the verifier reports it), then the verifier's own codes (`hedged` is
subject to the `hedged` policy, see `answer_policy`), then over_length (decided by the caller,
which has the token counts).

Work is bounded whatever the trace length: the loop detector reads only the last `window_chars`,
the script detector a fixed-size sample spread over the whole trace, so a megabyte trace costs
about the same as a short one.
"""

from __future__ import annotations

import operator
import re
import zlib
from collections import Counter
from functools import lru_cache

from factory.config import FilterConfig, RepetitionFilter, ScriptFilter
from factory.verify.compare import Prepared, Verdict, prepare_reference, verify_prepared
from factory.verify.extract import boxed_contents, final_part
from factory.verify.options import Options

MAX_UNITS = 4096  # bounds the period search even for a window made of tiny lines

SCRIPT_SLICES, SCRIPT_SLICE_CHARS = 16, 2048  # at most 32k characters of a trace is looked at for its scripts
# Letters are counted by script with character ranges (a few C-level regex passes; testing each
# character's Unicode category in Python would cost far more). Greek, letterlike symbols (ℝ ℓ),
# super/subscripts, mathematical alphanumerics (𝑥 𝔽), digits and math symbols are in no range: they
# are notation, not language, and never count.
_SCRIPTS = {
    "latin": "A-Za-z\u00c0-\u02ff\u1e00-\u1eff\uff21-\uff3a\uff41-\uff5a",
    "han": "\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
           "\U00020000-\U0003134f",
    "kana": "\u3040-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f",  # not U+30FB ・, used as a dot
    "hangul": "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af",
    "cyrillic": "\u0400-\u052f\u1c80-\u1c8f\u2de0-\u2dff\ua640-\ua69f",
    "arabic": "\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
    "hebrew": "\u0590-\u05ff\ufb1d-\ufb4f",
    "devanagari": "\u0900-\u097f",
    "thai": "\u0e00-\u0e7f",
}
# Scripts that cannot be allowed but still count as foreign: Armenian, the other Indic scripts, Lao,
# Tibetan, Myanmar, Georgian, Ethiopic, Khmer.
_OTHER = "\u0530-\u058f\u0980-\u0dff\u0e80-\u0fff\u1000-\u109f\u10a0-\u10ff\u1200-\u139f\u1780-\u17ff"
_ASCII = re.compile(r"[\x00-\x7f]+")
_NOT_ASCII_LETTERS = bytes(b for b in range(256) if not (65 <= b <= 90 or 97 <= b <= 122))  # for bytes.translate


def check_trace(
    reasoning: str | None,
    answer: str | None,
    finish_reason: str | None,
    think_closed: bool,
    cfg: FilterConfig,
) -> str | None:
    """Decide whether a trace is usable at all, before its answer is checked.

    Args:
        reasoning: The reasoning text (tags stripped), or None.
        answer: The text after the reasoning, or None.
        finish_reason: The endpoint's finish reason ("stop", "length", ...).
        think_closed: False when an inline reasoning block was opened but never closed.
        cfg: The pipeline's filter settings.

    Returns:
        A rejection reason code ("truncated", "unclosed_think", "empty", "empty_reasoning",
        "repetition", "mixed_script", "no_answer"), or None when the trace passes.
    """
    reasoning, answer = reasoning or "", answer or ""
    reasoning_blank = not reasoning.strip()
    if cfg.reject_truncated and finish_reason == "length":
        return "truncated"
    if cfg.reject_unclosed_think and not think_closed:
        return "unclosed_think"
    if reasoning_blank and not answer.strip():
        return "empty"
    if cfg.reject_empty_reasoning and reasoning_blank:
        return "empty_reasoning"
    if cfg.repetition.enabled and (is_looping(reasoning, cfg.repetition) or is_looping(answer, cfg.repetition)):
        return "repetition"
    if cfg.mixed_script.enabled and (is_mixed_script(script_sample(reasoning) + "\n" + answer[-SCRIPT_SLICE_CHARS:],
                                                     cfg.mixed_script)):
        return "mixed_script"
    if cfg.require_boxed and not boxed_contents(final_part(answer)):
        return "no_answer"
    return None


def answer_policy(verdict: Verdict, reference: str | Prepared | None, cfg: FilterConfig,
                  timeout_s: float, options: Options | None = None) -> Verdict:
    """Apply the `hedged` policy to the verifier's verdict.

    `reject` (the default) keeps `hedged`: a trace that boxes several different answers teaches the
    student to hedge, and crediting it when any box matches would reward guessing. `accept_last`
    judges the last boxed answer alone, as graders that take the last box do.
    """
    if verdict.reason == "hedged" and cfg.hedged == "accept_last" and verdict.predicted:
        # the prediction came out of balanced braces, so re-boxing it gives back exactly that answer
        ref = prepare_reference(reference) if isinstance(reference, str) else reference  # parsed once by callers
        return verify_prepared(ref, "\\boxed{" + verdict.predicted + "}", timeout_s=timeout_s, options=options)
    return verdict


def loop_window(text: str, cfg: RepetitionFilter) -> str:
    """The only part of `text` the loop detector reads: its last `window_chars` characters."""
    return text[-cfg.window_chars:]


def is_looping(text: str, cfg: RepetitionFilter) -> bool:
    """True when the end of `text` holds a block of sentences/lines repeated back to back.

    A block of p units copied r >= min_repeats times in a row (covering >= min_loop_chars) is a
    loop, wherever it sits in the window, so a loop that broke off just before the end counts too.
    Loops with no sentence or line breaks ("1, 1, 1, ...") are caught by the compression ratio.
    """
    window = loop_window(text, cfg)
    if len(window) < cfg.min_loop_chars:
        return False
    raw = window.encode("utf-8", "surrogatepass")  # teacher JSON can carry lone surrogates
    ratio = cfg.max_compression_ratio
    if ratio and len(raw) >= 1024 and len(raw) > ratio * len(zlib.compress(raw, 1)):  # too short: ratio says little
        return True
    units = _units(window)
    ids: dict[str, int] = {}
    seq = [ids.setdefault(u, len(ids)) for u in units]
    if len(ids) == len(seq) or max(Counter(seq).values()) < cfg.min_repeats:
        return False  # every unit of a loop's block occurs min_repeats times; ordinary text rarely has one
    for p in range(1, min(cfg.max_block_lines, len(seq) // cfg.min_repeats) + 1):
        need = (cfg.min_repeats - 1) * p  # unit i equals unit i + p for this many units in a row
        # one C-level pass per period: 1 where a unit equals the one p later, then find runs of 1s
        same = bytes(map(operator.eq, seq, seq[p:]))
        start = same.find(b"\x01" * need)
        while start >= 0:
            end = same.find(b"\x00", start)
            end = len(same) if end < 0 else end
            if sum(map(len, units[start:end + p])) >= cfg.min_loop_chars:
                return True
            start = same.find(b"\x01" * need, end)
    return False


def _units(window: str) -> list[str]:
    """Sentences and lines, stripped, blanks dropped: the units whose repeats make a loop."""
    # str.replace and splitlines run in C; a splitting regex costs ~10x more on a window of short lines
    for end in (". ", "? ", "! ", "。", "？", "！"):
        window = window.replace(end, end.rstrip() + "\n")
    return list(filter(None, map(str.strip, window.splitlines())))[-MAX_UNITS:]


def script_sample(text: str) -> str:
    """At most SCRIPT_SLICES slices of SCRIPT_SLICE_CHARS spread evenly over `text` (all of a short one)."""
    if len(text) <= SCRIPT_SLICES * SCRIPT_SLICE_CHARS:
        return text
    starts = (i * (len(text) - SCRIPT_SLICE_CHARS) // (SCRIPT_SLICES - 1) for i in range(SCRIPT_SLICES))
    return "\n".join(text[i:i + SCRIPT_SLICE_CHARS] for i in starts)  # first and last slices: the ends


@lru_cache(maxsize=32)
def _script_patterns(allowed: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern]:
    """Regexes for runs of allowed letters and of letters in any other script."""
    foreign = "".join(r for name, r in _SCRIPTS.items() if name not in allowed) + _OTHER
    return re.compile("[" + "".join(_SCRIPTS[s] for s in allowed) + "]+"), re.compile("[" + foreign + "]+")


def _count(pattern: re.Pattern, text: str) -> int:
    return len(text) - len(pattern.sub("", text))


def is_mixed_script(text: str, cfg: ScriptFilter) -> bool:
    """True when more than `max_share` of the letters in `text` are outside the allowed scripts."""
    if text.isascii():
        return False  # only Latin letters, always allowed: the common case costs one C-level pass
    # ASCII letters are counted on bytes and the script regexes run on the rest only: both are far
    # cheaper than matching character ranges over the whole text
    ascii_letters = len(text.encode("ascii", "ignore").translate(None, _NOT_ASCII_LETTERS))
    rest = _ASCII.sub("", text)
    allowed, foreign = _script_patterns(tuple(cfg.allowed_scripts))
    n_foreign = _count(foreign, rest)
    return n_foreign > 0 and n_foreign > cfg.max_share * (n_foreign + ascii_letters + _count(allowed, rest))
