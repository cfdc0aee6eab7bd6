"""Answers and references parsed once: normalised text for the string tier, the AST for the others.

How a reference is read (`prepare_reference`): a reference in several boxes written together is all of them;
a Python list string (`['9.6']`) means the strings inside; a multiple-choice option (`(B) 6`) keeps its letter;
a reference escaped twice (`\\\\frac`) is undone. How any answer is read (`prepare`): `1,000` is one number
unless a space follows the comma as written (`32, 349` is a list); an answer's `1,22` is a decimal comma in a
scalar context, a reference's only against a decimal answer (`Prepared.comma_decimal`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from fractions import Fraction

from factory.verify.extract import answer_key, boxed_contents
from factory.verify.latex import ParseError, normalize, parse_normalized

_THOUSANDS = re.compile(r"-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")  # 0,111 is no thousand
_DECIMAL = re.compile(r"-?\d*\.(\d+)")
_LIST_COMMA = re.compile(r"\d,\s+\d")
_DECIMAL_COMMA = re.compile(r"-?\d+,\d+")  # tried after _THOUSANDS: 1,000 stays a thousand
# a reference stored with every backslash doubled (\\frac{1}{2}, from a JSON or Python string escaped twice)
_DOUBLED = re.compile(r"\\\\(?=[A-Za-z{}])")
_SINGLE_CMD = re.compile(r"(?<!\\)\\[A-Za-z]")
_PY_LIST = re.compile(r"\[\s*('[^']*'(?:\s*,\s*'[^']*')*)\s*,?\s*\]")
_PY_ITEM = re.compile(r"'([^']*)'")
_TEXT_WRAP = re.compile(r"\\text(?:bf|rm)?\s*\{([^{}]*)\}")
_OPTION = re.compile(r"\(([A-E])\)\s*(\S.*)", re.DOTALL)


@dataclass(frozen=True)
class Prepared:
    """An answer normalised and parsed once (the reference is reused across a batch)."""

    key: str  # whitespace-free normalised text, for the string tier
    node: tuple | None  # AST, or None when unparseable
    decimals: int | None  # digits after the point when the text is a plain decimal literal
    choice: str | None = None  # "B" when the reference is a multiple-choice option, "(B) 6"
    comma_decimal: str | None = None  # "1.22" when the text was "1,22" (no space): maybe a decimal comma


_PLAIN = re.compile(r"-?\d{1,50}(?:\.(\d{1,50}))?")


def prepare(text: str, scalar_context: bool = True, decimal_comma: bool = False) -> Prepared:
    """Normalise and parse one answer; never raises.

    `decimal_comma` (answers only, in a scalar context): `1,22` is 1.22. Never for a reference, where `3,5`
    is far more often the list of two answers than a European decimal."""
    plain = _PLAIN.fullmatch(text.strip())
    if not plain and _DOUBLED.search(text) and not _SINGLE_CMD.search(text.replace("\\\\", "")):
        text = text.replace("\\\\", "\\")  # every command doubled, none single: escaped twice (JSON in JSON)
    if plain:  # most answers of a math corpus: no normalising or parsing needed
        key = text.strip()
        digits = len(plain.group(1)) if plain.group(1) else None
        return Prepared(key, ("num", Fraction(key), digits) if digits else ("num", Fraction(key)), digits)
    try:
        norm = normalize(text)
    except ParseError:
        return Prepared(re.sub(r"\s+", "", text[:1000]), None, None)
    key = re.sub(r"\s+", "", norm)
    # `32, 349` (a space after the comma, as written) is a list; `1,000` and LaTeX's `1,\!000` are one number
    if scalar_context and not _LIST_COMMA.search(text):
        if _THOUSANDS.fullmatch(key):
            key = norm = key.replace(",", "")
        elif decimal_comma and _DECIMAL_COMMA.fullmatch(key):  # 1,22 and 1000,99: a decimal comma
            key = norm = key.replace(",", ".")
    dec = _DECIMAL.fullmatch(key)
    try:
        node = parse_normalized(norm)
    except ParseError:
        node = None
    comma = _DECIMAL_COMMA.fullmatch(text.strip()) and not _THOUSANDS.fullmatch(text.strip())
    return Prepared(key, node, len(dec.group(1)) if dec else None,
                    comma_decimal=text.strip().replace(",", ".") if comma else None)


_GAP_NOISE = re.compile(r"\$|\\[()\[\]]|\\q?quad|\\text\s*\{[^{}]*\}|[\s,;.:=]")
_GAP_WORD = re.compile(r"[A-Za-z_]+")


def _written_together(text: str, boxes: list[str]) -> bool:
    """Whether a reference's boxes are parts of one answer: at most two words between consecutive boxes
    (`\\boxed{1} and \\boxed{2}`, `x = \\boxed{1}, y = \\boxed{2}`), not boxes strewn through a solution."""
    cursor = 0
    ends = []
    for box in boxes:
        start = text.find(box, cursor)
        if start < 0:
            return False
        ends.append((text.rfind("\\", cursor, start), start + len(box)))
        cursor = start + len(box)
    for (_, prev_end), (next_start, _) in zip(ends, ends[1:], strict=False):
        gap = _GAP_NOISE.sub(" ", text[prev_end + 1:max(next_start, prev_end + 1)])
        if len(_GAP_WORD.findall(gap)) > 2:
            return False
    return True


def prepare_reference(reference: str | None) -> Prepared | None:
    """Prepare a reference given as bare LaTeX, `$...$`, or text holding `\\boxed{}`; None if empty."""
    if reference is None or not str(reference).strip():
        return None
    text = str(reference)
    boxes = boxed_contents(text[-20_000:]) if "box" in text else []
    if len({answer_key(b) for b in boxes}) > 1 and _written_together(text[-20_000:], boxes):
        text = ", ".join(boxes)  # `\\boxed{1} and \\boxed{-2}`: a reference in parts is all of them
    else:
        text = boxes[-1] if boxes else text.strip()
    listed = _PY_LIST.fullmatch(text)
    if listed:  # "['9.6']" as some datasets store answers: the strings inside are the answer
        text = ", ".join(item.strip() for item in _PY_ITEM.findall(listed.group(1)))
    option = _OPTION.fullmatch(_TEXT_WRAP.sub(r"\1", text).strip())
    if option:  # "\textbf{(B) }6": the letter and the value are both the answer
        return dataclasses.replace(prepare(option.group(2)), choice=option.group(1))
    return prepare(text) if text.strip() else None
