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
_START_MARKERS = ("<think>", "<|begin_of_thought|>")
_PHANTOM = re.compile(r"\\[hv]?phantom\s*\{[^{}]*\}|\\(?:quad|qquad|,|;|!)")
# the last sentence of a final part that states its result: "... divided by 7 is 3." / "... = **194**"
_BOLD = re.compile(r"\*\*([^*\n]{1,60})\*\*")
MAX_MATH_CHARS = 500  # one stated math span (also in _STATED): a matrix or a long tuple runs to hundreds
MAX_LINE_CHARS = 2000  # the end of a closing line that the sentence rules read
_STATED = re.compile(
    r"(?:\bis|\bare|\bequals|=)\s+(?:definitely\s+|indeed\s+|exactly\s+)?"
    r"(\$\$[^$]{1,500}\$\$|\$[^$]{1,500}\$|\\\((?:(?!\\\)).){1,500}\\\)|\\\[(?:(?!\\\]).){1,500}\\\]"
    r"|\\?\$?[^\s$]{1,40})(?:\s+[A-Za-z]{1,12}){0,3}\s*[.!]?\s*$")
_SIDE_TOKEN = re.compile(r"\\[{}()\[\]]|[{}()\[\]]|(?<![<>!:=\\])=(?!=)|\\approx(?![A-Za-z])")
_COMMANDS = re.compile(r"\\(?:text|mathrm|operatorname)\s*\{[^{}]*\}|\\[A-Za-z]+")
# a closing remark after the statement: "I think that's the answer." / "I'm confident this is correct."
_MATHY = re.compile(r"[\d\\$^_{}()\[\]=+\-/π]")
_CLOSING = re.compile(r"\b(?:answer|correct|right|good|confident|done)\b", re.IGNORECASE)
_FILLER = re.compile(r"^(?:definitely|indeed|exactly|simply|clearly|just)\s+", re.IGNORECASE)
# chat-template turn markers: what follows one (outside the response's own header) is another turn
_TURN = re.compile(
    r"<\|im_start\|>|<\|im_end\|>|<\|eot_id\|>|<\|start_header_id\|>|<\|endoftext\|>|</s>"
    r"|<end_of_turn>|<start_of_turn>|<\|user\|>|<\|assistant\|>"
)
_OWN_HEADER = re.compile(
    r"\s*(?:<\|im_start\|>(?![ \t]*(?:user|system|human|tool)\b)[^\n<]{0,40}\n?"
    r"|<start_of_turn>(?![ \t]*(?:user|system)\b)[^\n<]{0,40}\n?"
    r"|<\|start_header_id\|>(?![ \t]*(?:user|system|tool|ipython)\b)[^\n<]{0,40}<\|end_header_id\|>\n*"
    r"|<\|assistant\|>\n?)"
)
_OWN_SPOT = re.compile(r"^\s*|(?:</think>|<\|end_of_thought\|>)\s*")
_SOLUTION_TAGS = re.compile(r"<\|(?:begin|end)_of_solution\|>")
_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BARE_ARG = re.compile(r"[^\s$]+")
_BRACE = re.compile(r"\\[\\{}]|[{}]")  # "\\}" is a line break, then a brace
_AFTER_BOX = re.compile(r"[ \t]*(?:$|[\n$.,;:!?]|\\[\])])")  # what may follow a box's closing brace
_ANSWER_IS = re.compile(r"answer\s*(?:is\b|:)[\s:]*", re.IGNORECASE)
_FENCES = re.compile(r"^(?:\$+|\\\[|\\\()\s*|\s*(?:\$+|\\\]|\\\))$")


def _own_turn(text: str) -> str:
    """The response up to the first chat-template turn marker that is not its own header.

    A model that runs past its turn writes `<|im_end|>`, `<|eot_id|>`, `</s>`... and then someone else's
    turn (a new question, another answer): nothing from there on is this response. A header that opens
    the response's own text (`<|im_start|>assistant`, `<start_of_turn>model`, `<|assistant|>`, at the
    start or right after the reasoning) is kept; a user or system header is another turn.
    """
    first = _TURN.search(text)
    if not first:
        return text
    spots = {m.end() for m in _OWN_SPOT.finditer(text)}  # where a header of the response's own may stand
    for m in _TURN.finditer(text, first.start()):
        if m.start() in spots and _OWN_HEADER.match(text, m.start()):
            continue
        return text[: m.start()]
    return text


def final_part(text: str) -> str:
    """Return the text after the reasoning block (the whole text when there is none), bounded.

    Args:
        text: A whole response, or just its final part.

    Returns:
        At most the last MAX_SEARCH_CHARS characters after the last end-of-reasoning marker, with
        `<|begin_of_solution|>` tags removed; a chat-template tail (another turn, after an end-of-turn
        or start-of-turn marker) is cut off first, and the response's own turn header dropped.
    """
    text = _own_turn(text)
    cut = max((text.rfind(m) + len(m) for m in _END_MARKERS if m in text), default=0)
    part = text[cut:][-MAX_SEARCH_CHARS:]
    header = _OWN_HEADER.match(part)
    if header:
        part = part[header.end() :]
    return _SOLUTION_TAGS.sub("", part)


def boxed_contents(text: str) -> list[str]:
    """All top-level `\\boxed{...}` / `\\fbox{...}` contents (and `\\boxed 5`), in order.

    A box left open only because its content ends in a stray `\\}` (`\\boxed{185\\}`: the backslash
    escapes the closing brace) is closed there, when no `\\{` inside the box is left for it to close and
    the box would end there (the text, its line, its math or its sentence ends).
    """
    first = _BOX.search(text)
    if not first:
        return []
    close: dict[int, int] = {}  # position of "{" -> position of its matching "}"
    stray: dict[int, int] = {}  # position of an unclosed "{" -> position of its stray "\}"
    stack: list[list[int]] = []  # [position of "{", its escaped-brace depth, its first stray "\}" or -1]
    for m in _BRACE.finditer(text, first.start()):
        brace = m.group()
        if brace == "{":
            stack.append([m.start(), 0, -1])
        elif brace == "}":
            if stack:
                close[stack.pop()[0]] = m.start()
        elif stack and brace != "\\\\":  # "\{" or "\}" directly inside the innermost open group
            top = stack[-1]
            if brace == "\\{":
                top[1] += 1
            elif top[1]:
                top[1] -= 1
            elif top[2] < 0:
                top[2] = m.start()
    for pos, _, bad in stack:  # never closed: a stray "\}" is where it should have closed
        if bad >= 0:
            stray[pos] = bad
    out: list[str] = []
    end = -1
    for m in _BOX.finditer(text, first.start()):
        if m.start() < end:
            continue  # a box nested inside the previous one
        j = m.end()
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            if j in close:
                content, end = text[j + 1 : close[j]], close[j] + 1
            elif j in stray and _AFTER_BOX.match(text, stray[j] + 2):
                content, end = text[j + 1 : stray[j]], stray[j] + 2
            else:
                continue  # never closed: no answer here
        else:
            word = _BARE_ARG.match(text, j)
            if not word:
                continue
            content, end = word.group(), word.end()
        if content.strip() and _PHANTOM.sub("", content).strip():  # \boxed{\phantom{2}} is a blank
            out.append(content.strip())
    return out


def answer_boxes(part: str) -> list[str]:
    """The boxes of the answer: those in the last paragraph that holds a box.

    Earlier paragraphs box intermediate results or sub-questions; only boxes written together at
    the end ("\\boxed{3} or \\boxed{4}") can be a hedge.
    """
    end = len(part)
    while end > 0:  # paragraphs from the last; a blank or unclosed box does not hide an earlier answer
        start = part.rfind("\n\n", 0, end)
        has_box = _BOX.search(part, max(start, 0), end)
        boxes = boxed_contents(part[start + 1 if start >= 0 else 0:end]) if has_box else []
        if boxes:
            return boxes
        end = start
    return []


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
    text = _own_turn(text)  # another turn after a chat-template marker is never the answer
    part = final_part(text)
    boxes = answer_boxes(part)
    if boxes:
        if len({_key(b) for b in boxes}) > 1:
            return boxes[-1], "hedged"
        return boxes[-1], "ok"
    if any(m in text for m in _START_MARKERS) and not any(m in text for m in _END_MARKERS):
        # reasoning that never closed (cut off): a phrase in it is a thought, not the answer
        return None, "no_answer"
    lines = [ln for ln in part.strip().splitlines() if ln.strip()]
    for line in reversed(lines[-50:]):  # the statement is near the end; do not scan the whole part
        heads = list(_ANSWER_IS.finditer(line[-2000:]))
        if heads:
            rest = line[-2000:][heads[-1].end() :].strip()
            rest = _FILLER.sub("", rest)
            dollars = re.match(r"\$+((?:\\\$|[^$])+)\$+", rest)  # "\$41" is money, not the closing $
            ans = _strip(dollars.group(1) if dollars else re.split(r"\.\s", rest, maxsplit=1)[0])
            if re.search(r"[A-Za-z]{3,}\s", ans) and (stated := _stated(ans)):
                ans = stated  # "Final answer: The velocity is 1000 radians per second."
            if ans and not _BOX.search(ans):  # a box left open (cut off mid-answer) is no answer
                return ans, "ok"
    bare = part.strip()
    if bare and not _BOX.search(bare) and len(bare) <= MAX_BARE_CHARS and "\n" not in bare:
        sentence = _BOLD.search(bare) or re.search(r"[A-Za-z]{3,}\s", bare)
        ans = (sentence and _stated(bare)) or _strip(bare)
        if ans:
            return ans, "ok"
    if lines and not _BOX.search(lines[-1]):
        last = lines[-1]
        closing = len(last) <= 200 and _CLOSING.search(last) and not re.search(r"\d", last)
        if not closing and (stated := _stated(last[-MAX_LINE_CHARS:])):
            return stated, "ok"
        if closing:
            for line in reversed(lines[-3:-1]):  # the statement just before the closing remark
                if not _BOX.search(line) and (stated := _stated(line[-MAX_LINE_CHARS:])):
                    return stated, "ok"
    return None, "no_answer"


def _result_side(value: str) -> str:
    """What a concluding formula states: the last side of a chain (`E = 2.48/1.602 = 1.55`), and the right
    side of a computation (`\\frac{4}{32} = \\frac18`); an equation with unknowns (`2x + y = 7`, `y = 4`)
    is kept whole. An earlier side of a chain is working, not the result."""
    sides, depth, start = [], 0, 0
    for m in _SIDE_TOKEN.finditer(value):
        tok = m.group()
        if tok[-1] in "{([":  # "\\{" opens a set as "{" opens a group
            depth += 1
        elif tok[-1] in "})]":
            depth = max(0, depth - 1)
        elif depth == 0:  # "=" or "\\approx"
            sides.append(value[start : m.start()])
            start = m.end()
    if not sides:
        return value
    sides.append(value[start:])
    if len(sides) == 2 and re.search(r"[A-Za-z]", _COMMANDS.sub("", sides[0])):
        return value
    return sides[-1].strip() or value


def _stated(line: str) -> str | None:
    """The value a closing sentence states: its last **bold** part, else what follows its last "is"/"="."""
    bold = _BOLD.findall(line)
    if bold:
        return _strip(bold[-1]) or None
    m = _STATED.search(line.rstrip())
    if not m:
        return None
    value = m.group(1)
    if value.startswith(("\\(", "\\[")):
        value = value[2:-2]
    if len(value) > 80:  # a long formula stated: its result, not its working
        value = _result_side(_strip(value))
    value = _strip(value)
    # a value, not a word: "x is a real number" and "this is correct" state nothing
    if not _MATHY.search(value) and not (len(value) == 1 and value not in "aAI"):
        return None
    return value or None
