"""Find the final answer in a model response.

Only the part after the reasoning counts (after the last `</think>` or `<|end_of_thought|>`), and only
its last 20k characters are searched, so a megabyte trace costs the same as a short one; a chat-template
tail (the model running on into another turn) is cut off first. Boxed answers are cut out with real
brace matching, computed in one pass over the braces. Without a box, only a sentence that says it
states the answer counts ("the answer is", "Answer $...$", "Therefore ... $x = 5$.", "... is 12."),
unless the caller opts into `prose`. Every pattern is linear in its input: model output is untrusted.
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
# a closing sentence that concludes: "Therefore, ...", "we find that ...", "which gives ..." (in the sentence
# that ends with the math); "so" and "thus" open a clause ("so that" is a purpose, not a conclusion)
_CONCLUDES = re.compile(
    r"(?:^[\s*#>\-]*|[,;:(]\s*)(?:therefore|thus|hence|so(?!\s+that\b)|consequently|finally|altogether"
    r"|in\s+(?:conclusion|summary|total|the\s+end)|as\s+a\s+result|overall)\b"
    r"|\b(?:we|I)\s+(?:(?:can|now|then|finally|thus|therefore|indeed)\s+)?(?:find|found|get|got|obtain|obtained"
    r"|have|conclude|concluded|arrive\s+at|deduce|end\s+up\s+with)\b"
    r"|\b(?:which|this|that|it)\s+(?:gives|yields|means|implies|simplifies\s+to|leaves\s+us\s+with)\b"
    r"|\b(?:giving|yielding|it\s+follows\s+that)\b"
    r"|\b(?:solution|result|answer)s?\s+(?:is|are)\b",
    re.IGNORECASE,
)
# a sentence that sets up, supposes or doubts states no result: "Let $x = 3$.", "Suppose $n > 2$.",
# "Therefore, if $a = 1$.", "Let me check whether $y = 4$ is the solution."
_DOUBT = re.compile(
    r"\b(?:let|let's|suppose|assume|assuming|consider|define|denote|if|whether|maybe|perhaps|might|could"
    r"|check|verify|try|guess|wait|unless|not)\b",
    re.IGNORECASE,
)
# an instruction states nothing either: "Finally, compute $a + b$.", "Now substitute $t = 2$."
_INSTRUCTION = re.compile(
    r"(?:^|[,;:])[\s*#>\-]*(?:(?:finally|then|now|next|so|thus|therefore|hence)(?:\s*,)?\s*)?"
    r"(?:calculate|compute|find|determine|solve|evaluate|simplify|substitute|plug|recall|note|use|apply|write"
    r"|set|take|add|multiply|divide|subtract|express|rewrite|combine|factor|expand)\b",
    re.IGNORECASE,
)
_SIDE_TOKEN = re.compile(r"\\[{}()\[\]]|[{}()\[\]]|(?<![<>!:=\\])=(?!=)|\\approx(?![A-Za-z])")
_COMMANDS = re.compile(r"\\(?:text|mathrm|operatorname)\s*\{[^{}]*\}|\\[A-Za-z]+")
# "$a = 1$, $b = 2$ and $c = 3$", "$x = 1$ or": the value is one item of a list
_LISTED = re.compile(r"(?:\$|\\\)|\\\])[^$]{0,12}?(?:,|\band|\bor)\s*$", re.IGNORECASE)
# "... $x \geq 5$ is the solution." / "... 44 is the correct answer."
_IS_THE_ANSWER = re.compile(
    r"\s(?:is|are)\s+(?:(?:indeed|definitely|clearly|certainly|also)\s+)?(?:the|my|our)\s+"
    r"(?:(?:correct|right|final|required|desired|only|exact|true)\s+){0,2}(?:answer|solution|result)s?\b"
    r"[^$\\]{0,80}$",
    re.IGNORECASE,
)
_APPROX = re.compile(r"\b(is|are|equals|=)\s+(?:approximately|about|around|roughly|nearly)\s+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
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
# "answer is X", "Answer: X", and "Answer" opening a line right before its math ("Final Answer $9$")
_ANSWER_IS = re.compile(
    r"(?:answer\s*(?:is\b|:)|^[\s*#>\-]*(?:final\s+)?answer\**(?=\s*(?:\$|\\[(\[])))[\s:]*", re.IGNORECASE
)
MAX_DISPLAY_LINES = 12  # a display block joined to the line that introduces it
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


def answer_key(ans: str) -> str:
    """A whitespace/formatting-insensitive key, so repeats of one answer are not 'hedging'."""
    s = re.sub(r"\\(?:left|right)(?![A-Za-z])|\\[,;!]|\s+", "", ans)
    return re.sub(r"\\[dt]frac", r"\\frac", s).rstrip(".")


def _strip(ans: str) -> str:
    for _ in range(2):  # "$42$." needs the period, then the fences removed
        ans = ans.strip().strip("*").rstrip(".").strip()
        ans = _FENCES.sub("", ans).strip()
    return ans


def extract_answer(text: str, *, prose: bool = False) -> tuple[str | None, str]:
    """Extract the final answer from a response.

    Order: the last boxed answer in the final part; else the last "the (final) answer is X" (or "Answer"
    opening a line right before its math); else, if the final part is a short single line, the line itself;
    else what the closing sentence states: "... is X.", "$x = 5$ is the solution.", or math that ends a
    sentence that concludes ("Therefore ...", "we find that ...", "which gives ...").

    Args:
        text: A whole reasoning trace, only its final part, or a bare answer.
        prose: Also take an answer stated only in prose: the math that ends the closing sentence with no
            conclusion marker ("The curves meet at $(1, 2)$."), and a value stated after "is" in any
            sentence of the closing line. Off by default: then a response that never says it concludes
            gives no answer, so the last formula of reasoning that was cut off is never taken for one.

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
        if len({answer_key(b) for b in boxes}) > 1:
            return boxes[-1], "hedged"
        return boxes[-1], "ok"
    if any(m in text for m in _START_MARKERS) and not any(m in text for m in _END_MARKERS):
        # reasoning that never closed (cut off): a phrase in it is a thought, not the answer
        return None, "no_answer"
    raw = [ln for ln in part.strip().splitlines() if ln.strip()]
    lines = _logical_lines(raw[-50:])  # the statement is near the end; do not scan the whole part
    for line in reversed(lines):
        heads = list(_ANSWER_IS.finditer(line[-MAX_LINE_CHARS:]))
        if heads:
            rest = line[-MAX_LINE_CHARS:][heads[-1].end() :].strip()
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
        ans = (sentence and _closing_value(bare, prose)) or _concluded(bare, prose) or _strip(bare)
        if ans:
            return ans, "ok"
    if lines and not _BOX.search(lines[-1]):
        last = lines[-1][-MAX_LINE_CHARS:]
        closing = len(last) <= 200 and _CLOSING.search(last) and not re.search(r"\d", last)
        if not closing and (stated := _closing_value(last, prose)):
            return stated, "ok"
        if closing:
            if stated := _concluded(last, prose):  # "Thus $x$ is the correct answer."
                return stated, "ok"
            for line in reversed(lines[-3:-1]):  # the statement just before the closing remark
                if not _BOX.search(line) and (stated := _closing_value(line[-MAX_LINE_CHARS:], prose)):
                    return stated, "ok"
    return None, "no_answer"


def _logical_lines(lines: list[str]) -> list[str]:
    """The lines, with each display block (`\\[ ... \\]`, `$$ ... $$`, over up to MAX_DISPLAY_LINES lines)
    joined into one line, and into the line before it when that one introduces it (ends in no period):
    "Thus, the plane is:" + "\\[ x + y = 1 \\]" is one closing sentence."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        j = i
        opener = "\\[" if line.startswith("\\[") else "$$" if line.startswith("$$") else None
        if opener is None and (line.count("\\[") > line.count("\\]") or line.count("$$") % 2):
            # "Answer \[" with the block on the lines after it: one logical line
            closer = "\\]" if line.count("\\[") > line.count("\\]") else "$$"
            j = next((k for k in range(i + 1, min(len(lines), i + MAX_DISPLAY_LINES)) if closer in lines[k]), i)
            out.append(" ".join(ln.strip() for ln in lines[i : j + 1]))
            i = j + 1
            continue
        if opener:
            closer = "\\]" if opener == "\\[" else "$$"
            if closer not in line[2:]:
                j = next((k for k in range(i + 1, min(len(lines), i + MAX_DISPLAY_LINES)) if closer in lines[k]), i)
            block = " ".join(ln.strip() for ln in lines[i : j + 1])
            prev = out[-1].rstrip() if out else ""
            if prev and not prev.endswith((".", "?", "!", "\\]", "$$")) and (j > i or closer in line[2:]):
                out[-1] = f"{prev} {block}"
            else:
                out.append(block)
        else:
            out.append(line)
        i = j + 1
    return out


def _closing_value(line: str, prose: bool) -> str | None:
    """What a closing line states: "... is X." (`_stated`), else a concluding sentence (`_concluded`); with
    `prose`, also a value stated after "is" in any of its sentences, "approximately" allowed."""
    found = _stated(line) or _concluded(line, prose)
    if found or not prose or not line.rstrip().endswith((".", "!")):  # a line cut off mid-sentence: no
        return found
    for sentence in reversed(_SENTENCE_END.split(line)):
        if found := _stated(_APPROX.sub(r"\1 ", sentence)):
            return found
    return None


def _trailing_math(line: str) -> tuple[str, int] | None:
    """The math a sentence ends with (`$...$`, `$$...$$`, `\\(...\\)`, `\\[...\\]`, a period may follow):
    its content and where it starts; None when the sentence ends otherwise or the span is too long."""
    t = line.rstrip()
    if t.endswith((".", "!")):
        t = t[:-1].rstrip()
    fence = next((f for f in (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"), ("$", "$")) if t.endswith(f[1])), None)
    if fence is None:
        return None
    opener, closer = fence
    inner_end = len(t) - len(closer)
    start = t.rfind(opener, max(0, inner_end - MAX_MATH_CHARS - len(opener)), inner_end)
    if start < 0 or (start and t[start - 1] == "\\"):  # none near enough, or "\\(" (a line break)
        return None
    content = t[start + len(opener) : inner_end]
    if opener == "$":
        # "\$5" is money; "$$" or an odd count of "$" means the "$" before is no opener
        if t.endswith("\\$") or (start and t[start - 1] == "$") or (t.count("$") - t.count("\\$")) % 2:
            return None
    elif closer in content:
        return None
    content = content.strip()
    if content.endswith((",", ";", "?")):  # "$ABC,$" goes on, "$F(A, B) = C?$" asks
        return None
    return (content, start) if content else None


def _concluded(line: str, prose: bool = False) -> str | None:
    """The value a closing sentence concludes with: "$x \\geq 5$ is the solution.", "44 is the correct
    answer.", or the math it ends with when it concludes ("Therefore ...", "we find that ..."); with
    `prose`, the math it ends with, marker or not. Never from a sentence that sets up or doubts."""
    line = line[-MAX_LINE_CHARS:]
    said = _IS_THE_ANSWER.search(line)
    if said:
        before = line[: said.start()]
        found = _trailing_math(before)
        if found:
            value, start = found
        else:  # a plain value: "so 44 is the correct answer"
            words = before.rsplit(None, 1)
            value, start = (words[-1], len(before) - len(words[-1])) if words else ("", 0)
            if not re.search(r"\d", value):
                return None
        if _states(_last_sentence(line[:start])):
            return _strip(_result_side(value)) or None
        return None
    found = _trailing_math(line)
    if not found:
        return None
    value, start = found
    lead = _last_sentence(line[:start])
    if not _states(lead) or not (prose or _CONCLUDES.search(lead)):
        return None
    return _strip(_result_side(value)) or None


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


def _states(lead: str) -> bool:
    """Whether the words before a sentence's final value can state a result: not a set-up, a doubt, an
    instruction, or a list whose last item the value is."""
    return not (_DOUBT.search(lead) or _INSTRUCTION.search(lead) or _LISTED.search(lead))


def _last_sentence(text: str) -> str:
    """The last sentence of `text` (it may end mid-sentence): what follows its last ". ", "? " or "! "."""
    return text[max(text.rfind(". "), text.rfind("? "), text.rfind("! ")) + 1 :]


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
