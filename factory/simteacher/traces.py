"""Text the simulated teacher says: R1-style reasoning, equivalent answer forms, wrong answers.

Everything here is cheap string work on pools built once at import time: the server calls it on
every request and must sustain hundreds of requests per second on one core, so no sympy, no
parsing beyond a few regexes. All randomness comes from the caller's `random.Random`, which keeps
the server reproducible for a given seed and request order.
"""

from __future__ import annotations

import hashlib
import math
import random
import re

# Plain sentences need no formatting; templated ones mention the problem's numbers ({a}, {b}).
_PLAIN = (
    "Let me start by restating what the problem is asking.",
    "First, I should identify the quantities involved and how they relate.",
    "It might help to set up an equation for the unknown.",
    "Let me simplify this expression step by step.",
    "I'll expand the product and collect like terms.",
    "Now I can substitute this back into the original equation.",
    "This looks like a standard setup, so let me be careful with the signs.",
    "Factoring might make this easier to see.",
    "Let me check whether there is a symmetry I can exploit here.",
    "Dividing both sides by the common factor gives a cleaner form.",
    "So the key step is to isolate the variable.",
    "I need to make sure I haven't dropped any cases.",
    "Let me consider the boundary cases separately.",
    "Hmm, that approach gets messy, so let me try a different one.",
    "Maybe it is easier to work with the complement.",
    "By the distributive property the two terms combine.",
    "The denominators are different, so I'll rewrite over a common denominator.",
    "Squaring both sides could introduce extraneous solutions, so I'll verify at the end.",
    "Let me count the cases systematically instead of guessing.",
    "This is consistent with what I found earlier.",
    "Okay, so far everything checks out.",
    "That simplifies nicely.",
    "I think the cleanest way is to work backwards from the condition.",
    "Let me write down the relevant formula before plugging in numbers.",
    "The constraint tells us the variable must be positive.",
    "Putting these together gives a single equation.",
)
_TEMPLATED = (
    "The problem gives the number {a}, so let me keep track of it.",
    "If I plug in {a}, the left side becomes something manageable.",
    "We have {a} and {b}, so their sum is {s} and their product is {p}.",
    "Let me compute {a} times {b}, which is {p}.",
    "Subtracting, {a} minus {b} is {d}.",
    "Since {a} appears twice, maybe I can factor it out.",
    "Checking with {b}: that gives a consistent value.",
    "So the relation between {a} and {b} is what drives the answer.",
)
_OPENERS = (
    "Okay, so I need to solve this problem.",
    "Alright, let's see.",
    "Okay, let me think about this carefully.",
    "Let me try to understand the problem first.",
    "Hmm, let me work through this.",
)
_DOUBT = (
    "Wait, let me double-check.",
    "Wait, is that right? Let me recompute.",
    "Hold on, let me verify that step again.",
    "Hmm, wait. Let me re-examine the previous line.",
)
_CLOSERS = (
    "So the answer should be {ans}.",
    "Therefore, the final answer is {ans}.",
    "Putting it all together, I get {ans}.",
    "So I'm fairly confident the answer is {ans}.",
)
_SOLUTION_LEADS = (
    "To solve the problem, we set up the relevant relation and simplify.",
    "We work through the conditions given in the problem step by step.",
    "Combining the facts above and simplifying carefully gives the result.",
    "Following the computation outlined in the reasoning, we obtain the value below.",
)
_NUM_RE = re.compile(r"\d+")
_INT_RE = re.compile(r"^-?\d+$")
_FRAC_RE = re.compile(r"^\\frac\{(\d+)\}\{(\d+)\}$")
_NEG_FRAC_RE = re.compile(r"^-\\frac\{(\d+)\}\{(\d+)\}$")
_SQRT_RE = re.compile(r"^(-?)(\d+)\\sqrt\{(\d+)\}$")
_DECIMAL_RE = re.compile(r"^-?\d+\.\d+$")
_CHOICE_RE = re.compile(r"^(\\text\{\(?|\(?)([A-E])(\)?\}?|\)?)$")
# Term reordering is only safe for plain sums; anything relational or listed stays unchanged.
_NOT_A_SUM = re.compile(r"[=<>,;|&!]|\\\\|\\pm|\\to|\\mid|\\lvert|\\mp|\\le|\\ge|\\neq|\\text|\\cup|\\cap|\\infty")


def problem_numbers(problem: str) -> tuple[int, int]:
    """Two small integers from the problem text (for templated sentences), defaults if absent."""
    found = [int(x) for x in _NUM_RE.findall(problem[:2000]) if len(x) <= 6]
    a = found[0] if found else 2
    b = found[1] if len(found) > 1 else a + 3
    return a, b


def reasoning_text(rng: random.Random, mean_tokens: int, numbers: tuple[int, int], answer: str) -> str:
    """Plausible step-by-step reasoning, lognormal in length around `mean_tokens` (chars/4).

    Args:
        rng: per-request random source.
        mean_tokens: the mean length in approximate tokens.
        numbers: two integers from the problem, mentioned in some sentences.
        answer: the answer the reasoning concludes with (possibly a wrong one).

    Returns:
        Paragraphs separated by blank lines, ending with a sentence stating the answer.
    """
    sigma = 0.6
    mu = math.log(mean_tokens) - sigma * sigma / 2  # so that the mean, not the median, is mean_tokens
    tokens = min(rng.lognormvariate(mu, sigma), 20 * mean_tokens)
    budget = max(40, int(tokens * 4))
    a, b = numbers
    fill = {"a": a, "b": b, "s": a + b, "p": a * b, "d": a - b}
    paragraphs: list[str] = []
    sentences = [rng.choice(_OPENERS)]
    size = len(sentences[0])
    while size < budget:
        if rng.random() < 0.2:
            s = rng.choice(_TEMPLATED).format(**fill)
        else:
            s = rng.choice(_PLAIN)
        sentences.append(s)
        size += len(s) + 1
        if len(sentences) >= rng.randint(3, 7):
            paragraphs.append(" ".join(sentences))
            sentences = []
            size += 2
            if rng.random() < 0.15:  # R1 traces second-guess themselves now and then
                doubt = rng.choice(_DOUBT)
                paragraphs.append(doubt)
                size += len(doubt) + 2
    sentences.append(rng.choice(_CLOSERS).format(ans=answer))
    paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def final_text(rng: random.Random, answer: str) -> str:
    """The short solution after the reasoning, ending in `The final answer is $\\boxed{answer}$.`"""
    return f"{rng.choice(_SOLUTION_LEADS)} The final answer is $\\boxed{{{answer}}}$."


def fallback_answer(prompt: str) -> str:
    """An arbitrary but stable integer answer for a prompt whose problem is unknown."""
    return str(int(hashlib.sha256(prompt.encode()).hexdigest()[:8], 16) % 997 + 2)


def _split_terms(expr: str) -> list[tuple[str, str]] | None:
    """Split a plain sum at top-level binary + and -; None when it is not a sum of 2+ terms."""
    terms: list[tuple[str, str]] = []
    depth, start, sign = 0, 0, "+"
    for i, ch in enumerate(expr):
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0 and ch in "+-" and i > 0:
            prev = expr[:i].rstrip()
            if prev and prev[-1] not in "+-*/^_({[":  # binary, not a sign or exponent
                terms.append((sign, expr[start:i].strip()))
                sign, start = ch, i + 1
    terms.append((sign, expr[start:].strip()))
    if depth != 0 or len(terms) < 2 or any(not t for _, t in terms):
        return None
    first_sign, first = terms[0]
    if first.startswith("-"):  # a leading minus belongs to the sign, not the term
        terms[0] = ("-", first[1:].strip())
    return terms


def _join_terms(terms: list[tuple[str, str]]) -> str:
    sign, first = terms[0]
    out = ("-" if sign == "-" else "") + first
    return out + "".join(f" {s} {t}" for s, t in terms[1:])


def _finite_decimal(a: int, b: int) -> str | None:
    """The exact decimal of a/b when b has only the prime factors 2 and 5, else None."""
    if b == 0:
        return None
    rest, twos, fives = b, 0, 0
    while rest % 2 == 0:
        rest, twos = rest // 2, twos + 1
    while rest % 5 == 0:
        rest, fives = rest // 5, fives + 1
    if rest != 1:
        return None
    places = max(twos, fives, 1)
    scaled = a * 10**places // b
    whole, frac = divmod(scaled, 10**places)
    text = f"{whole}.{frac:0{places}d}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def equivalent_form(answer: str, rng: random.Random) -> str:
    """The same value written differently, or `answer` unchanged when no safe rewrite is known.

    Forms: `n` -> `n.0` or `\\frac{2n}{2}`; `\\frac{a}{b}` -> `a/b`, `\\dfrac{a}{b}` or its exact
    decimal; `-\\frac{a}{b}` -> `\\frac{-a}{b}`; `k\\sqrt{m}` -> `\\sqrt{k^2 m}`; a sum -> its
    terms in reverse order.
    """
    s = answer.strip()
    if _INT_RE.match(s):
        return rng.choice((f"{s}.0", f"\\frac{{{2 * int(s)}}}{{2}}"))
    if m := _FRAC_RE.match(s):
        a, b = int(m[1]), int(m[2])
        forms = [f"{a}/{b}", f"\\dfrac{{{a}}}{{{b}}}"]
        if (dec := _finite_decimal(a, b)) is not None:
            forms.append(dec)
        return rng.choice(forms)
    if m := _NEG_FRAC_RE.match(s):
        return f"\\frac{{-{m[1]}}}{{{m[2]}}}"
    if m := _SQRT_RE.match(s):
        k, inner = int(m[2]), int(m[3])
        return f"{m[1]}\\sqrt{{{k * k * inner}}}"
    if not _NOT_A_SUM.search(s) and (terms := _split_terms(s)):
        return _join_terms(terms[::-1])
    return answer


def wrong_answer(answer: str, rng: random.Random) -> str:
    """A plausible but wrong answer (always a different string, and a different value for numbers)."""
    s = answer.strip()
    delta = rng.choice((-3, -2, -1, 1, 2, 3))
    if _INT_RE.match(s):
        return str(int(s) + delta)
    if m := _FRAC_RE.match(s) or _NEG_FRAC_RE.match(s):
        a = int(m[1]) + delta
        a = a if a > 0 else int(m[1]) + abs(delta)  # keep the numerator positive and different
        return s.replace(f"{{{m[1]}}}", f"{{{a}}}", 1)
    if m := _SQRT_RE.match(s):
        return f"{m[1]}{int(m[2]) + abs(delta)}\\sqrt{{{m[3]}}}"
    if _DECIMAL_RE.match(s):
        return f"{float(s) + delta:g}"
    if m := _CHOICE_RE.match(s):
        other = rng.choice([c for c in "ABCDE" if c != m[2]])
        return f"{m[1]}{other}{m[3]}"
    digits = list(_NUM_RE.finditer(s))
    if digits:  # bump the last number: changes the value of nearly any expression
        d = digits[-1]
        return s[: d.start()] + str(int(d[0]) + abs(delta)) + s[d.end():]
    return f"{s} + {abs(delta)}"
