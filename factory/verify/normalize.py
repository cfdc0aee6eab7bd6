"""Normalisation of answer LaTeX: strip formatting that never changes the value.

Runs before tokenizing (see `latex.py`). Everything here is regex substitution on text of at most
MAX_ANSWER_CHARS characters; every pattern is written so that matching stays linear (no nested
quantifiers that could backtrack catastrophically on adversarial text).
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_ANSWER_CHARS = 500

# Unit and filler words removed from the end of an answer ("5 cm", "12 square units").
UNIT_WORDS = frozenset(
    "cm mm km kg mg ft in yd mi sec min hr hrs ml units unit square sq cubic degrees degree "
    "dollars dollar cents cent inches inch feet foot meters meter miles mile hours hour minutes "
    "seconds days day weeks years mph km/h ways people students pounds lb lbs oz euros å".split()
)


class ParseError(ValueError):
    """The text is not an answer this parser accepts (unknown command, too long, too deep...)."""


_SI_LETTERS = frozenset("m g s L h J N W V K A".split())
_UNIT_POWER = re.compile(r"\s*\^\s*(?:\{\s*-?\d\s*\}|[23])")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|textrm|textnormal|mathrm|mathbf|mathit|mbox|operatorname)\s*\{")
_SUBS = [
    (re.compile(r"\\[dtc]frac(?![A-Za-z])"), r"\\frac"),
    (re.compile(r"\\[dt]binom(?![A-Za-z])"), r"\\binom"),
    (re.compile(r"\\(?:left|right)(?![A-Za-z])\s*\.?"), ""),
    (re.compile(r"\\[bB]igg?[lr]?(?![A-Za-z])"), ""),
    (re.compile(r"\\(?:displaystyle|limits|,|;|:|!)(?![A-Za-z])|\\q?quad|\\\s|~"), " "),  # \quadx_2: a space
    (re.compile(r"\{,\}"), ""),
    (re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ(?![A-Za-z])|°|\\degree(?![A-Za-z])"), ""),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"^\s*\\approx|^\s*[A-Za-z]\s*\\in(?![A-Za-z])|\\\$"), ""),
    (re.compile(r"\\approx(?![A-Za-z])"), "="),  # x \approx 600 states x = 600
    (re.compile(r"(?<=\d)_\{(\d+)\}"), r"_\1"),  # 4210_{5} and 4210_5: one base-5 numeral
    (re.compile(r"\\lbrace(?![A-Za-z])"), r"\\{"),
    (re.compile(r"\\rbrace(?![A-Za-z])"), r"\\}"),
    (re.compile(r"\\(?:langle)(?![A-Za-z])"), "("),
    (re.compile(r"\\(?:rangle)(?![A-Za-z])"), ")"),
    (re.compile(r"\\varnothing|\\emptyset"), r"\\{\\}"),
    (re.compile(r"\\mathbb\s*\{?\s*R\s*\}?"), r"(-\\infty,\\infty)"),
    (re.compile(r"(?<=\d)[eE]([+-]?\d+)(?![\d.])"), r"\\times10^{\1}"),
    (re.compile(r"\s+(?:and|or)\s+|(?<=[)\]])\s*(?:and|or)\s*(?=[(\[])"), ","),  # (11,7)or(7,11) too
    (re.compile(r"<=|=<"), r"\\le "),  # plain-text relations, as models type them
    (re.compile(r">="), r"\\ge "),
    (re.compile(r"(?<![\d)!}])\s*!="), r"\\ne "),  # 5!=120 is a factorial, x != 3 is not
    (re.compile(r"(?<=[\d}])\s*(?:pct|percent|per\s?cent)(?![A-Za-z])"), "%"),
    # a unit glued to the number: 12km, 3.5kg, 20m^2 (a bare m or s only with a power: 5m is 5 times m)
    (re.compile(r"(?<=\d)(?:cm|mm|km|kg|mg|ml|ft|m(?=\s*\^)|s(?=\s*\^))(?:\s*\^\s*\{?[23]\}?)?\s*$"), ""),
    (re.compile(r"(?<!\\)\\$"), ""),  # a stray trailing backslash: 185\
]
_UNICODE = str.maketrans({"−": "-", "×": "*", "·": "*", "÷": "/", "π": "\\pi ", "≤": "\\le ", "≥": "\\ge ",
                          "≠": "\\ne ", "∞": "\\infty ", "…": "\\dots ",
                          "€": " ", "£": " ", "¥": " ", "₹": " "})
_SUPERSCRIPTS = str.maketrans({"²": "^2", "³": "^3"})  # after the \text blocks: \text{ m/s²} stays a unit
_ORDINAL = re.compile(r"(?<=\d)\^\s*\{?\s*(?:\\(?:text|mathrm)\s*\{)?\s*(?:st|nd|rd|th)\s*\}?\s*\}?")
# pmatrix, bmatrix, matrix and \begin{array}{cc}: one matrix whatever its brackets (vmatrix is a determinant)
_MATRIX = re.compile(r"\\begin\{(?:([pbvB]?)matrix|array\}\s*\{[^{}]{0,40})\}(.*?)\\end\{(?:[pbvB]?matrix|array)\}",
                     re.DOTALL)
# degrees inside a trig argument are converted, not dropped: \sin 30^\circ is sin(pi/6)
_TRIG_DEGREES = re.compile(
    r"(\\(?:sin|cos|tan|cot|sec|csc)\s*(?:\^\s*\{?\s*\d\s*\}?\s*)?)(\(?)\s*(\d+(?:\.\d+)?)\s*"
    r"(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![A-Za-z]))")
_REPEATING = re.compile(r"(-?)(\d*)\.(\d*)\\overline\s*\{(\d{1,50})\}")
# Whitespace-separated words at the very end; each repetition must start with whitespace, so the
# split is unambiguous and matching stays linear (no catastrophic backtracking on long text).
_TRAILING_WORDS = re.compile(r"(?:\s+(?:[^\W\d_]|/)+\.?)+\s*$")


def _text_blocks(s: str) -> str:
    """Unwrap or drop \\text{...}-style blocks: words next to math are units, a lone block is the answer."""
    for _ in range(20):  # bounded: each pass removes one block
        m = _TEXT_CMD.search(s)
        if not m:
            return s
        depth, j = 1, m.end()
        while j < len(s) and depth:
            depth += {"{": 1, "}": -1}.get(s[j], 0)
            j += 1
        if depth:
            raise ParseError("unbalanced \\text block")
        inner = s[m.end() : j - 1]
        rest = (s[: m.start()] + s[j:]).strip()
        words = inner.strip(" ,.").lower().split()
        # a one-letter block is a symbol, unless it is an SI unit written after a number: 100\text{ m}^2
        si_unit = inner.strip() in _SI_LETTERS and re.search(r"[\d}]\s*$", s[: m.start()]) is not None
        if not rest or (len(inner.strip()) <= 1 and not si_unit) or \
                not re.fullmatch(r"(?:[^\W\d_]|[ ,./])*", inner):
            repl = inner  # the block is the whole answer, a symbol, or holds math
        elif words and set(words) <= {"and", "or"}:
            repl = ","
        elif words in (["percent"], ["pct"], ["per", "cent"]):
            repl = "%"  # 28\text{ percent} is 28%, not the unit-free 28
        else:
            repl = " "  # a unit or a filler word beside the math
        tail = s[j:]
        if repl == " " and (power := _UNIT_POWER.match(tail)):
            tail = tail[power.end():]  # cm^2 is a unit: its square must not square the number
        s = s[: m.start()] + repl + tail
    raise ParseError("too many \\text blocks")


def _matrix(m: re.Match) -> str:
    """A column or row vector becomes a tuple, a matrix a tuple of row tuples (compared cell by cell)."""
    if m.group(1) == "v":
        return "\\vmatrix"  # a determinant, not a matrix: unknown command, compared as a string
    rows = [r.strip() for r in m.group(2).split("\\\\") if r.strip()]
    if len(rows) > 1 and any("&" in r for r in rows):
        return "(" + ", ".join("(" + ", ".join(c.strip() for c in r.split("&")) + ")" for r in rows) + ")"
    cells = [c.strip() for r in rows for c in r.split("&")]
    return "(" + ", ".join(cells) + ")"


def _repeating(m: re.Match) -> str:
    sign, whole, fixed, rep = m.groups()
    # 0.1\overline{6} = (16 - 1) / 90: standard repeating-decimal identity, done exactly.
    repeating = Fraction(int(fixed + rep) - int(fixed or "0"), (10 ** len(rep) - 1) * 10 ** len(fixed))
    value = Fraction(int(whole or "0")) + repeating
    return f"{sign}\\frac{{{value.numerator}}}{{{value.denominator}}}"


def normalize(text: str) -> str:
    """Strip formatting that never changes the value (spacing, \\left, \\text units, degrees, $).

    Args:
        text: Answer LaTeX (already cut out of any \\boxed{}).

    Returns:
        The normalised string, ready to tokenize.

    Raises:
        ParseError: if the text is longer than MAX_ANSWER_CHARS or malformed beyond repair.
    """
    if len(text) > MAX_ANSWER_CHARS:
        raise ParseError("answer too long")
    s = text.translate(_UNICODE).strip().replace("...", "\\dots ")  # an ellipsis, not a sentence's period
    s = re.sub(r"^\$+|\$+$|^\\\[|\\\]$|^\\\(|\\\)$", "", s).strip()
    s = re.sub(r"(?<!\\)\$", " ", s)  # math shifts inside: `$28$ %`, `$1$ and $2$`
    approx = re.search(r"\\approx(?![A-Za-z])", s)
    if approx and "=" in s[:approx.start()]:
        s = s[:approx.start()]  # x = \frac13 \approx 0.33: the exact value was stated, the rest is a gloss
    s = _ORDINAL.sub("", s)
    s = _MATRIX.sub(_matrix, s)
    s = _TRIG_DEGREES.sub(lambda m: f"{m.group(1)}{m.group(2)}({m.group(3)}\\pi/180)", s)
    s = _text_blocks(s).translate(_SUPERSCRIPTS)
    for pattern, repl in _SUBS:
        s = pattern.sub(repl, s)
    s = _REPEATING.sub(_repeating, s)
    s = s.strip().rstrip(".").strip()
    m = _TRAILING_WORDS.search(s)
    if m and m.start() > 0 and s[m.start() - 1] in "0123456789})":
        words = re.findall(r"(?:[^\W\d_]|/)+", m.group())
        if all(w.lower() in UNIT_WORDS or len(w) >= 4 for w in words):
            s = s[: m.start()].strip()
    s = re.sub(r",\s*(?:,\s*)+", ",", s).strip(" ,")
    return s
