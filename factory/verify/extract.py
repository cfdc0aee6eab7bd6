"""Find the final answer in a model response.

Only the part after the reasoning counts (after the last `</think>` or `<|end_of_thought|>`), and only
its last 20k characters are searched, so a megabyte trace costs the same as a short one. Boxed
answers are cut out with real brace matching, computed in one pass over the braces.
"""

from __future__ import annotations

import re

MAX_SEARCH_CHARS = 20_000
MAX_BARE_CHARS = 100  # a final part this short with no box is taken as the answer itself
_END_MARKERS = ("</think>", "<|end_of_thought|>")
_SOLUTION_TAGS = re.compile(r"<\|(?:begin|end)_of_solution\|>")
_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BARE_ARG = re.compile(r"[^\s$]+")
_BRACE = re.compile(r"\\[{}]|[{}]")
_ANSWER_IS = re.compile(r"answer\s*(?:is\b|:)[\s:]*", re.IGNORECASE)
_FENCES = re.compile(r"^(?:\$+|\\\[|\\\()\s*|\s*(?:\$+|\\\]|\\\))$")


def final_part(text: str) -> str:
    """Return the text after the reasoning block (the whole text when there is none), bounded.

    Args:
        text: A whole response, or just its final part.

    Returns:
        At most the last MAX_SEARCH_CHARS characters after the last end-of-reasoning marker, with
        `<|begin_of_solution|>` tags removed.
    """
    cut = max((text.rfind(m) + len(m) for m in _END_MARKERS if m in text), default=0)
    part = text[cut:][-MAX_SEARCH_CHARS:]
    return _SOLUTION_TAGS.sub("", part)


def boxed_contents(text: str) -> list[str]:
    """All top-level `\\boxed{...}` / `\\fbox{...}` contents (and `\\boxed 5`), in order."""
    first = _BOX.search(text)
    if not first:
        return []
    close: dict[int, int] = {}  # position of "{" -> position of its matching "}"
    stack: list[int] = []
    for m in _BRACE.finditer(text, first.start()):
        if m.group() == "{":
            stack.append(m.start())
        elif m.group() == "}" and stack:
            close[stack.pop()] = m.start()
    out: list[str] = []
    end = -1
    for m in _BOX.finditer(text, first.start()):
        if m.start() < end:
            continue  # a box nested inside the previous one
        j = m.end()
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            if j not in close:
                continue  # never closed: no answer here
            content, end = text[j + 1 : close[j]], close[j] + 1
        else:
            word = _BARE_ARG.match(text, j)
            if not word:
                continue
            content, end = word.group(), word.end()
        if content.strip():
            out.append(content.strip())
    return out


def _key(ans: str) -> str:
    """A whitespace/formatting-insensitive key, so repeats of one answer are not 'hedging'."""
    s = re.sub(r"\\(?:left|right)(?![A-Za-z])|\\[,;!]|\s+", "", ans)
    return re.sub(r"\\[dt]frac", r"\\frac", s).rstrip(".")


def _strip(ans: str) -> str:
    for _ in range(2):  # "$42$." needs the period, then the fences removed
        ans = ans.strip().strip("*").rstrip(".").strip()
        ans = _FENCES.sub("", ans).strip()
    return ans


def extract_answer(text: str) -> tuple[str | None, str]:
    """Extract the final answer from a response.

    Order: the last boxed answer in the final part; else the last "the (final) answer is X";
    else, if the final part is a short single line, the line itself.

    Args:
        text: A whole reasoning trace, only its final part, or a bare answer.

    Returns:
        (answer, reason): reason is "ok", "no_answer" (answer None) or "hedged" (several different
        boxed answers; answer is the last one).
    """
    if not text:
        return None, "no_answer"
    part = final_part(text)
    boxes = boxed_contents(part)
    if boxes:
        if len({_key(b) for b in boxes}) > 1:
            return boxes[-1], "hedged"
        return boxes[-1], "ok"
    lines = [ln for ln in part.strip().splitlines() if ln.strip()]
    for line in reversed(lines[-50:]):  # the statement is near the end; do not scan the whole part
        heads = list(_ANSWER_IS.finditer(line[-2000:]))
        if heads:
            rest = line[-2000:][heads[-1].end() :].strip()
            dollars = re.match(r"\$+([^$]+)\$+", rest)
            ans = _strip(dollars.group(1) if dollars else re.split(r"\.\s", rest, maxsplit=1)[0])
            if ans and not _BOX.search(ans):  # a box left open (cut off mid-answer) is no answer
                return ans, "ok"
    bare = part.strip()
    if bare and not _BOX.search(bare) and len(bare) <= MAX_BARE_CHARS and "\n" not in bare:
        ans = _strip(bare)
        if ans:
            return ans, "ok"
    return None, "no_answer"
