"""The matching form of a problem: what dedup and decontamination compare, never what is stored or asked.

Copies of one problem drift in ways that change no mathematics: `\\dfrac` for `\\frac`, `\\(...\\)` for `$...$`,
spacing around operators, the case of the first word, an instruction added before or after ("Solve the following
math problem.", "Put your final answer in \\boxed{}."). The matching form undoes all of these and keeps every
number and every variable name, so that two problems which differ in one number stay two problems.

`numbers` and `formulas` are the parts a near-duplicate must agree on exactly before it is merged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# LaTeX spellings that render the same: size variants of fractions and delimiters, spacing, display style
_SAME_COMMANDS = [
    (re.compile(r"\\[dt]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\[dt]binom(?![a-zA-Z])"), r"\\binom"),
    (re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![a-zA-Z])"), ""),
    (re.compile(r"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])"), ""),
    (re.compile(r"\\(?:q?quad|[,;:! ])|~"), " "),
    (re.compile(r"\\(?:text|mathrm|textrm|textbf|mathbf|textit|mbox|operatorname)\s*\{([^{}]*)\}"), r"\1"),
    (re.compile(r"\\(?:le|leqslant)(?![a-zA-Z])"), r"\\leq"),
    (re.compile(r"\\(?:ge|geqslant)(?![a-zA-Z])"), r"\\geq"),
    (re.compile(r"\\(?:ne)(?![a-zA-Z])"), r"\\neq"),
]
# Unicode that stands for an ASCII operator
_UNICODE = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u22c5": "*", "\u2264": "<=",
                          "\u2265": ">=", "\u2260": "!=", "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_ESCAPED_DOLLAR = re.compile(r"\\\$")
_DISPLAY = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\begin\{(equation|align|gather)\*?\}(.+?)\\end\{\3\*?\}", re.S)
_INLINE = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)", re.S)
_DELIMITERS = re.compile(r"\$\$|\$|\\[()\[\]]|\\(?:begin|end)\{(?:equation|align|gather)\*?\}")
_SPACE = re.compile(r"\s+")
# a space next to anything that is not a letter or digit carries no meaning: `x + 1` is `x+1`, `f (x)` is `f(x)`
_SPACE_BY_SYMBOL = re.compile(r"\s*([^\w\s\\])\s*|(?<=\\[a-zA-Z]) (?=[^\w])")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# tokens for shingles and n-grams: words, numbers, LaTeX commands, single symbols
TOKEN = re.compile(r"\\[a-zA-Z]+|[^\W\d_]+|\d+(?:\.\d+)?|[^\w\s]")

# Instructions prepended or appended to a problem by one dataset and not another (matched on the lowered,
# delimiter-free form). Each is anchored at the start or the end of the text, and removing them repeats, so
# "Solve the following problem. <problem> Put your final answer in \boxed{}." loses both.
_BOXED = r"(?:\\boxed\{\}|\\boxed|boxed\{\}|a box)"
_PREFIXES = [
    r"(?:please )?(?:solve|answer|consider|work out) (?:the|this) following (?:math(?:ematics|ematical)? )?"
    r"(?:problem|question|exercise)s?(?: step[- ]by[- ]step)?(?: carefully)?[.:]",
    r"(?:problem|question|task|exercise)(?: \d+)?[.:]",
    r"you are given a (?:math(?:ematics|ematical)? )?(?:problem|question)[.:]",
]
_SUFFIXES = [
    r"(?:please )?(?:let'?s|let us) think step[- ]by[- ]step"
    r"(?: and output the final answer within " + _BOXED + ")?[.]?",
    r"(?:please )?(?:reason|think|solve it|work) step[- ]by[- ]step(?:[,.]? and)?(?: then)?"
    r"(?: put (?:your|the) final answer (?:with)?in " + _BOXED + ")?[.]?",
    r"(?:please )?(?:put|write|place|present|give|enclose|output) (?:your|the) (?:final )?answer"
    r"(?: (?:with)?in(?:side)? " + _BOXED + r"| in the form [^.]*| only)?[.]?",
    r"(?:please )?(?:mark|box) your (?:final )?(?:answer|solution)(?: with " + _BOXED + ")?[.]?",
    r"return your final (?:response|answer) as [^.]*[.]?",
    r"the last line of your response should be [^.]*[.]?",
    r"show (?:all )?your work[.]?",
]
# the text they are matched in is squeezed (no space beside a symbol), so every space in them is optional
_PREFIX = re.compile((r"^(?:" + "|".join(_PREFIXES) + r")\s*").replace(" ", " ?"))
_SUFFIX = re.compile((r"\s*(?:" + "|".join(_SUFFIXES) + r")$").replace(" ", " ?"))


def _latex(text: str) -> str:
    for pattern, repl in _SAME_COMMANDS:
        text = pattern.sub(repl, text)
    return text


def _unified(text: str) -> str:
    """NFKC, Unicode operators as ASCII, equivalent LaTeX spellings as one, `\\$` kept apart from delimiters."""
    text = unicodedata.normalize("NFKC", text).translate(_UNICODE)
    return _latex(_ESCAPED_DOLLAR.sub(" dollar ", text))


def _squeezed(text: str) -> str:
    text = _SPACE.sub(" ", text).strip()
    return _SPACE_BY_SYMBOL.sub(lambda m: m.group(1) or "", text)


def strip_instructions(text: str) -> str:
    """Remove known instruction prefixes and suffixes from a lowered, squeezed text, repeatedly."""
    while True:
        trimmed = _SUFFIX.sub("", _PREFIX.sub("", text)).strip()
        if trimmed == text or not trimmed:
            return text
        text = trimmed


def canonical(text: str) -> str:
    """The matching form: LaTeX-unified, delimiter-free, space-squeezed, case-folded, instructions removed."""
    text = _DELIMITERS.sub(" ", _unified(text))
    return strip_instructions(_squeezed(text).casefold())


def tokens(form: str) -> list[str]:
    """Words, numbers, LaTeX commands and symbols of a matching form, for shingles and n-grams."""
    return TOKEN.findall(form)


def _math_spans(text: str) -> list[str]:
    spans = []
    for m in _DISPLAY.finditer(text):
        spans.append(m.group(1) or m.group(2) or m.group(4) or "")
    text = _DISPLAY.sub(" ", text)
    spans += [m.group(1) or m.group(2) or "" for m in _INLINE.finditer(text)]
    return spans


@dataclass(frozen=True)
class Signature:
    """What two copies of one problem must share exactly: every number, in order, and every formula that is
    more than a number (case kept: `A` and `a` are different variables)."""

    numbers: tuple[str, ...]
    formulas: tuple[str, ...]


def _number(literal: str) -> str:
    # 3.50 and 3.5 are one number; leading zeros are not meaningful either
    if "." in literal:
        literal = literal.rstrip("0").rstrip(".")
    return literal.lstrip("0") or "0"


def signature(text: str) -> Signature:
    unified = _unified(text)
    stripped = strip_instructions(_squeezed(_DELIMITERS.sub(" ", unified)).casefold())
    formulas = []
    for span in _math_spans(unified):
        form = _squeezed(span).replace(" ", "")
        if form and not _NUMBER.fullmatch(form):
            formulas.append(form)
    # numbers come from the instruction-free form, so "Put your answer in 2 decimal places" added to one copy
    # does not make it a different problem
    return Signature(tuple(_number(n) for n in _NUMBER.findall(stripped)),
                     tuple(sorted(f for f in formulas if "boxed" not in f)))
