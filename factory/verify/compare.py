"""Answer equivalence and the public `verify` entry points.

Tiers, cheapest first: normalised-string equality; structural comparison of the parsed ASTs
(containers elementwise); exact/relative numeric comparison; for expressions with variables, a
check at fixed pseudo-random rational points; only when all of that is inconclusive, sympy's
`simplify(a - b) == 0` in the sandbox worker. Plain numbers never reach sympy.

Policies:
    Percent: the % sign is dropped, so `50\\%` equals `50`; when either side carries a % sign its
        value divided by 100 is accepted too, so `50\\%` also equals `0.5` and `\\frac12`.
    Decimals: compared by their exact value. `0.75` equals `\\frac34`. Two rounding rules. A decimal
        ANSWER for a rational reference is right when it is the reference rounded to the digits it
        shows and shows at least 3 significant digits (`0.333` and `0.0833333333333333` for
        `\\frac13`, `\\frac1{12}`; not `0.33`); a decimal for an irrational reference (`3.1416` for
        `\\pi`) stays wrong. When the REFERENCE is a non-integer decimal literal with k digits (it was
        rounded by its author) and the answer is not a decimal literal, the answer is accepted if it
        lies within half a unit of the k-th digit (`\\frac13` vs `0.33`).
    Irrational values: relative tolerance 1e-9 at 50 significant digits, never an absolute epsilon.
    Units and `\\text{}` words beside a number are dropped on both sides; degree signs are dropped,
        except inside a trig argument, where degrees become radians (`\\sin 30^\\circ` is 1/2).
    `1,000` is a thousands-separated number only when the reference is not a tuple/list, and never with a
        space after the comma as written (`32, 349` is a list of two).
    `a \\pm b` is the list of the two answers; `x > 2` equals the interval `(2, \\infty)`, and
        `1 < x \\le 3` is `(1, 3]`.
    `i` is the imaginary unit (and `e` Euler's number); complex values are decided by the symbolic tier.
    Hedging: several boxed answers that are all the same value (`0.5` then `\\frac12`) are one answer;
        several boxes whose number is the reference's number of parts are one answer in parts.
    Lists: a bare list (`3, 1`) is compared in any order unless `Options.ordered_lists`; a tuple always in
        order, a set never. `p=5, q=2; p=7, q=2` (semicolons between answers) is the pairs (5, 2), (7, 2).
    Relations: one linear in its variable is solved (`-x > -1` is `x < 1`, `2x + 1 \\le 7` is `x \\le 3`);
        `0 < f(x) < 1` is the interval (0, 1); `<=`, `>=`, `!=`, `\\lt`, `\\gt` are the relations they spell.
    Ratios: `7:32` is the quotient 7/32 (so `14:64` and `\\frac{7}{32}` match it); `1:2:3` a scaled triple.
    Matrices: pmatrix, bmatrix, matrix and `\\begin{array}{..}` in any brackets are one matrix, compared cell
        by cell (the rounding rule applies per cell); vmatrix is a determinant and is not parsed.
    How references and answers are read before comparing (boxes, escapes, decimal commas): `prepare.py`.
    A reference equation is answered by a bare value only when one side names the unknown (`x = 5`,
        `f(x) = 3x+1`, `P(2) = 7`: the other side is the answer); `a + 3z = 0` or `2x = 6` needs an
        equivalent equation, since `0` or `6` alone is not what was asked.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass
from fractions import Fraction

from factory.verify.extract import answer_boxes, boxed_contents, extract_answer, final_part
from factory.verify.latex import names_unknown
from factory.verify.numeric import EvalError, TooBig, evaluate, log_magnitude, to_mpf, values_equal
from factory.verify.options import DEFAULT, Options
from factory.verify.prepare import _OPTION, _TEXT_WRAP, Prepared, prepare, prepare_reference
from factory.verify.sandbox import SandboxError, SandboxTimeout, SandboxUnavailable, simplify_equal

_SEQ = frozenset(["tuple", "list", "set", "union"])
_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "!=": "!="}
_POINTS = 6
# linear: each item is one quoted run, separators are unambiguous (no adjacent optional whitespace)
_LETTER = re.compile(r"\(?([A-E])\)?")
STRICT = False  # tests set this to surface internal errors instead of folding them into "unparseable"


@dataclass(frozen=True)
class Verdict:
    """The verifier's decision about one response."""

    correct: bool
    reason: str  # correct, wrong_answer, no_answer, hedged, unparseable, timeout, no_reference
    predicted: str | None  # the extracted answer (raw LaTeX inside the box), or None


class _Undecided(Exception):
    """Neither equal nor different could be established (too big to evaluate, sympy failed)."""


def _symbols(node, out: set) -> set:
    if node[0] == "sym":
        out.add(node[1])
    else:
        for child in node[1:]:
            if isinstance(child, tuple):
                if child and isinstance(child[0], str):
                    _symbols(child, out)
                else:
                    for c in child:
                        _symbols(c, out)
    return out


def _has_inf(node) -> bool:
    return "'inf'" in repr(node)  # AST is small (<= 500 chars of source); repr is a cheap walk


def _folded(name: str) -> str:
    base = name.split("_")[0]  # c_1 and C_1 fold too
    return name.lower() if len(base) == 1 and base.isascii() and base.isalpha() else name


def _has_imaginary(node) -> bool:
    return "('const', 'i')" in repr(node)


_INF = ("const", "inf")


def _solved(node):
    r"""A relation linear in its one variable, solved for it: `-x > -1` is `x < 1`, `2x + 1 \le 7` is `x \le 3`.

    Returns the relation as `("rel", op, ("sym", x), ("num", value))`, or the node itself when it is not
    linear in exactly one variable with rational coefficients (checked exactly at three points)."""
    if node[0] != "rel":
        return node
    names = _symbols(node[2], set()) | _symbols(node[3], set())
    if len(names) != 1 or (node[2][0] == "sym" and node[2][1] not in _symbols(node[3], set())):
        return node  # already solved (x > 2), or not one variable
    (name,) = names
    diff = ("add", (node[2], ("neg", node[3])))
    try:
        d0, d1, d2 = (evaluate(diff, {name: Fraction(t)}) for t in (0, 1, 2))
    except (EvalError, TooBig):
        return node
    if not all(isinstance(d, Fraction) for d in (d0, d1, d2)) or d1 - d0 != d2 - d1 or d1 == d0:
        return node
    slope = d1 - d0
    op = node[1] if slope > 0 else _FLIP[node[1]]
    return ("rel", op, ("sym", name), ("num", -d0 / slope))


def _rel_interval(node):
    """`x > 2` as the interval (2, oo); None unless it is one variable against an expression without it."""
    if node[0] != "rel" or node[1] == "!=":
        return None
    node = _solved(node)
    op, lhs, rhs = node[1], node[2], node[3]
    if rhs[0] == "sym" and lhs[0] != "sym":
        op, lhs, rhs = _FLIP[op], rhs, lhs
    if lhs[0] != "sym" or lhs[1] in _symbols(rhs, set()):
        return None
    if op in (">", ">="):
        return ("interval", op == ">=", rhs, _INF, False)
    return ("interval", False, ("neg", _INF), rhs, op == "<=")


class _Matcher:
    def __init__(self, ref: Prepared, ans: Prepared, deadline: float, ordered: bool = False):
        self.ref, self.ans, self.deadline, self.ordered = ref, ans, deadline, ordered

    def match(self, a, b) -> bool:
        """Structural equivalence; `a` is always the reference side."""
        if a == b:
            return True
        a, b = _as_tuple(a), _as_tuple(b)
        ka, kb = a[0], b[0]
        if ka == "eq" and kb != "eq":
            # a reference `x = 5` asks for 5; `a + 3z = 0` or `7 = 11a + c` asks for the equation itself
            if names_unknown(a[1]):
                return self.match(a[2], b)
            return names_unknown(a[2]) and self.match(a[1], b)
        if kb == "eq" and ka != "eq":
            return self.match(a, b[2]) or (b[1][0] != "sym" and self.match(a, b[1]))
        if ka == "eq":
            if a[1] == b[1]:
                return self.match(a[2], b[2])
            da, db = ("add", (a[1], ("neg", a[2]))), ("add", (b[1], ("neg", b[2])))
            return self.scalar(da, db) or self.scalar(da, ("neg", db)) or self._proportional(da, db)
        if ka != kb and "rel" in (ka, kb) and {ka, kb} <= {"rel", "interval", "tuple"}:
            # x > 2 against (2, \infty) (a tuple once open) or [2, \infty): compare as intervals
            ra, rb = _rel_interval(a) if ka == "rel" else a, _rel_interval(b) if kb == "rel" else b
            return ra is not None and rb is not None and self.match(ra, rb)
        if ka in _SEQ or kb in _SEQ:
            xs = a[1] if ka in _SEQ else (a,)
            ys = b[1] if kb in _SEQ else (b,)
            if len(xs) != len(ys):
                return False
            if len(xs) == 1:
                return self.match(xs[0], ys[0])
            if ("tuple" in (ka, kb) and {ka, kb} <= {"tuple", "list"}) or (self.ordered and ka == kb == "list"):
                return all(self.match(x, y) for x, y in zip(xs, ys, strict=True))
            if "tuple" in (ka, kb):
                return False  # an ordered tuple is not a set
            return self._unordered(xs, ys)
        if ka == "interval" or kb == "interval":
            return ka == kb and a[1] == b[1] and a[4] == b[4] and self.match(a[2], b[2]) and self.match(a[3], b[3])
        if ka == "rel" or kb == "rel":
            if ka != kb:
                return False
            if a[1] == b[1] and self.match(a[2], b[2]) and self.match(a[3], b[3]):
                return True
            if _FLIP[a[1]] == b[1] and self.match(a[2], b[3]) and self.match(a[3], b[2]):
                return True
            sa, sb = _solved(a), _solved(b)  # -x > -1 against x < 1
            return (sa is not a or sb is not b) and sa[1] == sb[1] and sa[2] == sb[2] and self.match(sa[3], sb[3])
        return self.scalar(a, b)

    def _unordered(self, xs, ys) -> bool:
        used = [False] * len(ys)
        for x in xs:  # greedy is enough: equivalence is transitive
            for j, y in enumerate(ys):
                if not used[j] and self.match(x, y):
                    used[j] = True
                    break
            else:
                return False
        return True

    def scalar(self, a, b) -> bool:
        if a == b:
            return True
        if _has_inf(a) or _has_inf(b):
            return False  # infinities only match structurally
        strip_a, strip_b = (a[1] if a[0] == "pct" else a), (b[1] if b[0] == "pct" else b)
        pairs = [(strip_a, strip_b)]
        if a[0] == "pct":
            pairs.append((a, strip_b))
        if b[0] == "pct":
            pairs.append((strip_a, b))
        undecided = None
        for x, y in pairs:
            try:
                if self._values(x, y):
                    return True
            except _Undecided as e:
                undecided = e
        if undecided is not None:
            raise undecided
        return False

    def _values(self, a, b) -> bool:
        if _has_imaginary(a) or _has_imaginary(b):
            return self._sympy(a, b)  # the exact and numeric tiers are real-only
        syms = _symbols(a, set()) | _symbols(b, set())
        if syms:
            return self._at_points(a, b, sorted(syms))
        try:
            va, vb = evaluate(a), evaluate(b)
        except TooBig:
            la, lb = log_magnitude(a), log_magnitude(b)
            if la is not None and lb is not None and abs(la - lb) > 1e-20 * max(1, abs(la), abs(lb)):
                return False  # different magnitudes: surely different values
            raise _Undecided("too big to evaluate") from None
        except EvalError:
            return False  # not structurally equal and at least one side is undefined
        same = values_equal(va, vb)
        if same is None:
            return self._sympy(a, b)
        if not same and (self._rounded_reference(a, va, vb) or _rounded_answer(a, b, va, vb)):
            return True
        return same

    def _rounded_reference(self, a, va, vb) -> bool:
        """The reference-rounding leniency documented in the module docstring."""
        k = self.ref.decimals
        if k is None or self.ans.decimals is not None or a is not self.ref.node:
            return False
        if not isinstance(va, Fraction) or va.denominator == 1:
            return False
        half_unit = Fraction(1, 2 * 10**k)
        if isinstance(vb, Fraction):
            return abs(vb - va) <= half_unit
        return abs(to_mpf(vb) - to_mpf(va)) <= to_mpf(half_unit)

    def _proportional(self, da, db) -> bool:
        """`2y = 4x + 2` is `y = 2x + 1`: the two sides' differences are a constant nonzero multiple."""
        syms = sorted(_symbols(da, set()) | _symbols(db, set()))
        if not syms:
            return False
        rng = random.Random(4242)
        ratios = []
        for _ in range(_POINTS):
            env = {s: Fraction(rng.randint(1, 97), rng.randint(1, 13)) for s in syms}
            try:
                va, vb = evaluate(da, env), evaluate(db, env)
            except (EvalError, TooBig):
                continue
            if not (isinstance(va, Fraction) and isinstance(vb, Fraction)) or vb == 0:
                return False  # only exact rational ratios are trusted here
            ratios.append(va / vb)
        return len(ratios) >= 3 and ratios[0] != 0 and all(r == ratios[0] for r in ratios)

    def _at_points(self, a, b, syms: list[str]) -> bool:
        rng = random.Random(1729)  # fixed seed: the same pair always gets the same verdict
        agree, unsure, big = 0, False, False
        # `c` and `C` name the same arbitrary constant (single Latin letters only; not \Delta and
        # \delta), unless one side uses both as different names
        sa, sb = _symbols(a, set()), _symbols(b, set())
        fold = all(len({_folded(x) for x in side}) == len(side) for side in (sa, sb))
        key = _folded if fold else (lambda x: x)
        for _ in range(_POINTS):
            drawn = {n: Fraction(rng.randint(1, 97), rng.randint(1, 13)) for n in sorted({key(x) for x in syms})}
            env = {x: drawn[key(x)] for x in syms}  # positive values: sqrt and log are defined
            try:
                same = values_equal(evaluate(a, env), evaluate(b, env))
            except TooBig:
                big = True
                continue
            except EvalError:
                continue
            if same is False:
                return False  # one point where they differ is a proof
            if same is None:
                unsure = True
            else:
                agree += 1
        if agree >= 3 and not unsure:
            return True
        if big:
            raise _Undecided("too big to evaluate")
        return self._sympy(a, b)

    def _sympy(self, a, b) -> bool:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise SandboxTimeout("no time left")
        try:
            return simplify_equal(a, b, remaining)
        except SandboxError:
            raise _Undecided("sympy failed") from None


MIN_ROUNDED_DIGITS = 3  # significant digits a decimal must show to stand for an exact value


def _shown_digits(node) -> int | None:
    """Digits after the point of a decimal literal (`-2.6667` -> 4); None for anything else."""
    if node[0] == "neg":
        node = node[1]
    return node[2] if node[0] == "num" and len(node) == 3 else None


def _rounded_answer(a, b, va, vb) -> bool:
    """The rounding rule: a decimal ANSWER is right when it is the exact reference value rounded to the
    digits it shows, provided it shows at least MIN_ROUNDED_DIGITS significant digits (`0.0833` and
    `0.08333333` for `\\frac{1}{12}`, `2.6667` for `\\frac83`; not `0.3` or `0.33` for `\\frac13`). Only for a
    rational reference: its decimal expansion is another notation of it, while `3.1416` for `\\pi` is an
    approximation, not the value asked for. A reference that is itself a decimal literal is taken as written
    (see `_rounded_reference`)."""
    k = _shown_digits(b)
    if k is None or _shown_digits(a) is not None or not isinstance(vb, Fraction) or not isinstance(va, Fraction):
        return False
    if len(str(abs(vb.numerator * 10**k // vb.denominator))) < MIN_ROUNDED_DIGITS:
        return False
    return abs(vb - va) <= Fraction(1, 2 * 10**k)


def _as_tuple(node):
    # An open interval (a, b) and the pair (a, b) are written identically.
    if node[0] == "interval" and not node[1] and not node[4]:
        return ("tuple", (node[2], node[3]))
    return node


def equivalent(ref: Prepared, answer: str, timeout_s: float = 5.0, ordered: bool = False) -> str:
    """Compare a prepared reference with an answer string (`ordered`: see `Options.ordered_lists`).

    Returns:
        One of "correct", "wrong_answer", "unparseable", "timeout".
    """
    if ref.choice:
        plain = _TEXT_WRAP.sub(r"\1", answer).strip()
        letter = _LETTER.fullmatch(plain) or _OPTION.fullmatch(plain)  # "B", "(B)" or "(B) 6"
        if letter:
            return "correct" if letter.group(1) == ref.choice else "wrong_answer"
    scalar = ref.node is None or ref.node[0] not in _SEQ | {"interval"}
    ans = prepare(answer, scalar_context=scalar, decimal_comma=scalar)
    if ans.decimals and ref.comma_decimal:
        # a reference `1,22` against the answer `1.22`: read as a decimal comma only when the answer is a decimal
        # (a model answering the list `1, 22` would not write 1.22)
        ref = prepare(ref.comma_decimal)
    if ans.key and (ans.key == ref.key or (ans.key.isalpha() and ans.key.lower() == ref.key.lower())):
        return "correct"
    if ref.node is None or ans.node is None:
        return "unparseable"
    try:
        same = _Matcher(ref, ans, time.monotonic() + timeout_s, ordered).match(ref.node, ans.node)
    except SandboxTimeout:
        return "timeout"
    except _Undecided:
        return "unparseable"
    return "correct" if same else "wrong_answer"


_MAX_HEDGE_BOXES = 8


def _one_value(response: str, timeout_s: float) -> bool:
    """Whether the different boxed answers of a response are all the same value in other forms."""
    boxes = answer_boxes(final_part(response))
    others = set(boxes[:-1]) - {boxes[-1]}
    last = prepare(boxes[-1])
    if last.node is None or len(others) >= _MAX_HEDGE_BOXES:
        return False
    deadline = time.monotonic() + timeout_s  # one limit for the whole response, not one per box
    return all(equivalent(last, b, max(0.0, deadline - time.monotonic())) == "correct" for b in others)


def _parts(ref: Prepared, response: str) -> str | None:
    """Boxes that together state a multi-part reference: `\\boxed{(2, 2)} and \\boxed{(6, 2)}`, or one box per
    part in paragraphs of their own. They are one answer when their number is the reference's number of parts:
    the boxes written together at the end, else the last that many boxes of the final part. None otherwise."""
    if ref.node is None or ref.node[0] not in _SEQ or len(ref.node[1]) < 2:
        return None
    n, part = len(ref.node[1]), final_part(response)
    boxes = answer_boxes(part)
    if len(boxes) < n:
        boxes = boxed_contents(part)[-n:]
    return ", ".join(boxes) if len(boxes) == n else None


def _verify_prepared(ref: Prepared | None, response: str, timeout_s: float, options: Options | None) -> Verdict:
    predicted, options = None, options or DEFAULT
    ordered = options.ordered_lists
    try:
        text = response if isinstance(response, str) else ""
        predicted, code = extract_answer(text, prose=True) if options.prose else extract_answer(text)
        if ref is None:
            return Verdict(False, "no_reference", predicted)
        if code == "hedged" and _one_value(response, timeout_s):
            code = "ok"  # 0.5 boxed, then \frac12 boxed: one answer written twice, not a hedge
        if code == "hedged" and (joined := _parts(ref, response)):
            # several boxes, a reference of that many parts: one answer in parts, right or wrong as a whole
            reason = equivalent(ref, joined, timeout_s, ordered)
            return Verdict(reason == "correct", reason, joined)
        if code != "ok" or predicted is None:
            return Verdict(False, code, predicted)
        reason = equivalent(ref, predicted, timeout_s, ordered)
        if reason == "wrong_answer" and (joined := _parts(ref, response)) and \
                equivalent(ref, joined, timeout_s, ordered) == "correct":
            return Verdict(True, "correct", joined)  # (a) \boxed{3} ... (b) \boxed{7}, against `3, 7`
        return Verdict(reason == "correct", reason, predicted)
    except SandboxUnavailable:
        raise  # the machine's fault, not the sample's: a verdict here would mislabel every sample after it
    except Exception:  # last line of defence: untrusted input must never crash the pipeline
        if STRICT:
            raise
        return Verdict(False, "unparseable", predicted)


def verify(reference: str | list[str], response: str, timeout_s: float = 5.0, *,
           options: Options | None = None) -> Verdict:
    """Decide whether a response's final answer matches the reference.

    Args:
        reference: Bare LaTeX (`\\frac{3}{4}`), `$...$`, or text containing `\\boxed{}`; or a list of such
            references, each an acceptable answer on its own (`["0.5", "\\frac12"]`): right when any is.
        response: A whole trace (`<think>...</think> final part`), the final part, or a bare answer.
        timeout_s: Wall-clock limit for the sympy tier (rarely used).
        options: The readings where graders differ (`Options`); the strict defaults when None.

    Returns:
        A Verdict; never raises for any input.

    Raises:
        SandboxUnavailable: the sympy worker cannot start on this machine (not a property of the input).
    """
    if isinstance(reference, (list, tuple)):
        verdicts = [verify(r, response, timeout_s, options=options) for r in reference]
        if not verdicts:
            return verify("", response, timeout_s, options=options)
        return next((v for v in verdicts if v.correct), verdicts[0])
    try:
        ref = prepare_reference(reference)
    except Exception:
        ref = Prepared("", None, None)
    return _verify_prepared(ref, response, timeout_s, options)


def verify_prepared(reference: Prepared | None, response: str, timeout_s: float = 5.0, *,
                    options: Options | None = None) -> Verdict:
    """`verify` against a reference already prepared with `prepare_reference` (parsed once, reused)."""
    return _verify_prepared(reference, response, timeout_s, options)


def verify_batch(reference: str, responses: list[str], timeout_s: float = 5.0, *,
                 options: Options | None = None) -> list[Verdict]:
    """`verify` for many responses to one problem; the reference is parsed once.

    Args:
        reference: As for `verify`.
        responses: The responses, in order.
        timeout_s: Per-response wall-clock limit for the sympy tier.
        options: As for `verify`.

    Returns:
        One Verdict per response, in order.
    """
    try:
        ref = prepare_reference(reference)
    except Exception:
        ref = Prepared("", None, None)
    return [_verify_prepared(ref, r, timeout_s, options) for r in responses]
