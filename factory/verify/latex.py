"""A small recursive-descent parser from answer LaTeX into a whitelisted AST.

Model output is untrusted, so nothing here evaluates text: the parser only recognises a fixed
vocabulary (numbers, single-letter or Greek symbols, + - * / ^, \\frac, \\sqrt, \\binom, a handful
of functions, brackets, sets, intervals, equations) and raises `ParseError` on anything else.
Input length, digit count, list length and nesting depth are all bounded before any work is done;
nesting uses an explicit counter so Python's recursion limit is never the safety net. Formatting
(spacing, \\text units, degrees, vectors, repeating decimals) is removed first by `normalize.py`.

AST nodes are plain tuples (cheap, hashable, picklable for the sandbox worker):
    ("num", Fraction[, digits])  ("sym", name)             ("const", "pi" | "e" | "i" | "inf")
    ("add", (terms...))          ("mul", (factors...))     ("neg", x)
    ("div", a, b)                ("pow", a, b)             ("root", x, n)
    ("fact", x)                  ("binom", n, k)           ("func", name, x)
    ("log", x, base)             ("pct", x)
    ("tuple", items)             ("set", items)            ("list", items)   # bare "a, b"
    ("interval", lclosed, a, b, rclosed)    ("union", parts)
    ("eq", lhs, rhs)             ("rel", op, lhs, rhs)
"""

from __future__ import annotations

import re
from fractions import Fraction

from factory.verify.normalize import MAX_ANSWER_CHARS, ParseError, normalize

MAX_DEPTH = 50
MAX_DIGITS = 1000
MAX_ITEMS = 64

GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi "
    "rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega".split()
)
FUNCS = frozenset("sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh ln log exp".split())
_TRIG = frozenset("sin cos tan".split())
_RELS = {"<": "<", ">": ">", "\\le": "<=", "\\leq": "<=", "\\ge": ">=", "\\geq": ">=", "\\ne": "!=", "\\neq": "!="}
_MULOPS = frozenset(["*", "\\cdot", "\\times"])
_DIVOPS = frozenset(["/", "\\div"])
_DOTS = frozenset(["\\dots", "\\ldots", "\\cdots"])
_ATOM_CMDS = frozenset(["\\frac", "\\sqrt", "\\binom", "\\pi", "\\infty"]) | _DOTS | {"\\" + g for g in GREEK} | {
    "\\" + f for f in FUNCS
}


# --- tokenizer -----------------------------------------------------------------------------------

_ARG_CMDS = frozenset({"\\pi"} | {"\\" + g for g in GREEK})  # \sin 2\theta is sin(2 theta)
_PREFIXABLE = sorted({"\\" + g for g in GREEK} | {"\\pi"}, key=len, reverse=True)
_KNOWN_CMDS = _ATOM_CMDS | frozenset(["\\cup", "\\cdot", "\\times", "\\div", "\\le", "\\leq", "\\ge", "\\geq",
                                      "\\ne", "\\neq", "\\lt", "\\gt", "\\infty"])


def _known_prefix(cmd: str) -> str | None:
    for known in _PREFIXABLE:
        if cmd.startswith(known) and len(cmd) - len(known) <= 3:
            return known
    return None

_TOKEN = re.compile(
    r"(?P<ws>\s+)|(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<cmd>\\[A-Za-z]+|\\[{}|])|(?P<word>[A-Za-z]+)"
    r"|(?P<op>[-+*/^_()\[\]{},;:=!|<>%])"
)


def tokenize(s: str) -> list[tuple[str, str]]:
    """Split normalised text into (kind, text) tokens; kinds: num, cmd, letter, op.

    Raises:
        ParseError: on any character outside the vocabulary, a number with too many digits, or a
            run of four or more letters (a word answer such as "Evelyn", compared as a string).
    """
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            raise ParseError(f"unexpected character {s[pos]!r}")
        pos = m.end()
        kind, val = m.lastgroup, m.group()
        if kind == "ws":
            continue
        if kind == "num" and len(val) > MAX_DIGITS:
            raise ParseError("number too long")
        if kind == "word" and val == "pi":  # plain-text pi, not p times the imaginary unit
            out.append(("cmd", "\\pi"))
            continue
        if kind == "word":
            if len(val) >= 4 and out[-2:] != [("op", "_"), ("op", "{")]:  # S_{ABCD} names one point set
                raise ParseError("word answer")
            out.extend(("letter", ch) for ch in val)  # "xy" is the product x*y
            continue
        if kind == "cmd" and val in ("\\lt", "\\gt"):
            kind, val = "op", "<" if val == "\\lt" else ">"
        if kind == "cmd" and val not in _KNOWN_CMDS and (known := _known_prefix(val)):
            # "\piG", "\lambdakT": a known command whose following letters lost their space
            out.append(("cmd", known))
            out.extend(("letter", ch) for ch in val[len(known):])
            continue
        out.append((kind, val))
    return out


# --- parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]):
        self.t = toks
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str]:
        return self.t[self.i] if self.i < len(self.t) else ("eof", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "eof":
            raise ParseError("unexpected end")
        self.i += 1
        return tok

    def expect(self, val: str) -> None:
        if self.take()[1] != val:
            raise ParseError(f"expected {val!r}")

    def separated(self, parse, separators: tuple[str, ...]) -> list:
        """`parse()` once, then again after each separator token, at most MAX_ITEMS times."""
        out = [parse()]
        while self.peek()[0] == "op" and self.peek()[1] in separators:
            self.take()
            out.append(parse())
            if len(out) > MAX_ITEMS:
                raise ParseError("too many items")
        return out

    def items(self, semicolons: bool = False) -> list:
        """Comma-separated items; inside brackets a semicolon separates them too: `(0;-2;6)`."""
        return self.separated(self.relation, (",", ";") if semicolons else (",",))

    def groups(self) -> list:
        """`p=5, q=2; p=7, q=2`: semicolons separate whole answers, commas the parts of one."""
        groups = self.separated(self.items, (";",))
        if len(groups) == 1:
            return groups[0]
        return [_group(g) for g in groups]

    def relation(self):
        a = self.ratio()
        kind, val = self.peek()
        if val == "=" or val in _RELS:
            self.take()
            b = self.ratio()
            if val == "=":
                while self.peek() == ("op", "="):  # a = b = c: the last side is the result
                    self.take()
                    b = self.ratio()
                return ("eq", a, b)
            op = _RELS[val]
            if self.peek()[1] in _RELS:  # a < x <= b is the interval (a, b]
                op2 = _RELS[self.take()[1]]
                c = self.ratio()
                return _chain(op, a, b, op2, c)
            return ("rel", op, a, b)
        return a

    def ratio(self):
        """`7:32` is the quotient 7/32 (22:42 is the same ratio); `1:2:3` is the triple scaled to start at 1."""
        parts = self.separated(self.union, (":",))
        if len(parts) == 1:
            return parts[0]
        if len(parts) == 2:
            return ("div", parts[0], parts[1])
        return ("tuple", tuple(("div", p, parts[0]) for p in parts))

    def union(self):
        parts = [self.expr()]
        while self.peek() == ("cmd", "\\cup"):
            self.take()
            parts.append(self.expr())
        return parts[0] if len(parts) == 1 else ("union", tuple(parts))

    def expr(self):
        terms = [self.term()]
        while self.peek()[1] in ("+", "-"):
            sign = self.take()[1]
            t = self.term()
            terms.append(t if sign == "+" else ("neg", t))
        return terms[0] if len(terms) == 1 else ("add", tuple(terms))

    def term(self):
        factors = [self.unary()]
        while True:
            kind, val = self.peek()
            if val in _MULOPS:
                self.take()
                factors.append(self.unary())
            elif val in _DIVOPS:
                self.take()
                factors = [("div", _mul(factors), self.unary())]  # left-associative a/b/c
            elif kind in ("num", "letter") or val in ("(", "[", "{") or val in _ATOM_CMDS:
                factors.append(self.power())  # implicit multiplication: 2x, 3\sqrt{2}, x(x+1)
            else:
                return _mul(factors)
            if len(factors) > MAX_ITEMS:
                raise ParseError("too many factors")

    def unary(self):
        # Every nesting level passes through here, so this one counter bounds the whole descent.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("nesting too deep")
        try:
            val = self.peek()[1]
            if val == "-":
                self.take()
                return ("neg", self.unary())
            if val == "+":
                self.take()
                return self.unary()
            return self.power()
        finally:
            self.depth -= 1

    def power(self):
        base = self.postfix()
        if self.peek() == ("op", "^"):
            self.take()
            base = ("pow", base, self.arg(signed=True))
            base = self.postfix_ops(base)
        return base

    def postfix(self):
        return self.postfix_ops(self.atom())

    def postfix_ops(self, node):
        for _ in range(3):  # "5!%" at most; longer chains are nonsense and would nest the AST
            if self.peek()[1] not in ("!", "%"):
                return node
            if self.take()[1] == "%":
                node = ("pct", node)
            elif self.peek()[1] == "!":
                raise ParseError("double factorial")
            else:
                node = ("fact", node)
        if self.peek()[1] in ("!", "%"):
            raise ParseError("too many postfix operators")
        return node

    def arg(self, signed: bool = False):
        """One macro argument: {group}, a single digit, a letter, or a command (\\frac12, x^2)."""
        kind, val = self.peek()
        if val == "{":
            self.take()
            items = self.items()
            self.expect("}")
            if len(items) != 1:
                raise ParseError("list inside a group")
            return items[0]
        if kind == "num":
            if not val[0].isdigit():
                raise ParseError("bad macro argument")
            if len(val) > 1:  # \frac12 and x^23 take one digit; the rest stays in the stream
                self.t[self.i] = ("num", val[1:])
                return ("num", Fraction(val[0]))
            self.take()
            return ("num", _number(val))
        if signed and val == "-":
            self.take()
            return ("neg", self.arg(signed=True))
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("nesting too deep")
        try:
            return self.atom()
        finally:
            self.depth -= 1

    def atom(self):
        # Function chains (\sin\sin\sin x) nest through here without passing `unary`: count them too.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError("nesting too deep")
        try:
            return self._atom()
        finally:
            self.depth -= 1

    def _atom(self):
        kind, val = self.take()
        if kind == "num":
            if self.peek() == ("op", "_"):  # 4210_5, a numeral in base 5: equal only as written
                return self.subscripted(val)
            node = _literal(val)
            if self.peek() == ("cmd", "\\frac") and "." not in val:
                node = self.mixed(node)
            return node
        if kind == "letter":
            if self.peek() == ("op", "_"):
                return self.subscripted(val)
            # in an answer, e and i are the constants, not variables (e^{i\pi} = -1)
            return ("const", val) if val in ("e", "i") else ("sym", val)
        if val == "(" or val == "[":
            items = self.items(semicolons=True)
            close = self.take()[1]
            if close not in (")", "]"):
                raise ParseError("unclosed bracket")
            if len(items) == 1 and (val, close) in (("(", ")"), ("[", "]")):
                return items[0]
            if len(items) == 2 and (val, close) != ("(", ")"):
                return ("interval", val == "[", items[0], items[1], close == "]")
            if (val, close) == ("(", ")"):
                return ("tuple", tuple(items))
            raise ParseError("bad bracket")
        if val == "{":
            items = self.items(semicolons=True)
            self.expect("}")
            return items[0] if len(items) == 1 else ("set", tuple(items))  # {1, 2}: a set whose \{ was not escaped
        if val == "\\{":
            if self.peek() == ("cmd", "\\}"):
                self.take()
                return ("set", ())
            items = self.items(semicolons=True)
            self.expect("\\}")
            return ("set", tuple(items))
        if val == "|":
            inner = self.expr()
            self.expect("|")
            return ("func", "abs", inner)
        if kind == "cmd":
            return self.command(val)
        raise ParseError(f"unexpected {val!r}")

    def subscripted(self, name: str):
        """`x_1`, `x_{12}`, `\\omega_d` are single symbols."""
        self.take()
        sub = self.arg()
        if sub[0] == "const" and sub[1] in ("e", "i"):
            sub = ("sym", sub[1])  # x_i is a name, not x times the imaginary unit
        if sub[0] == "mul" and all(f[0] in ("num", "sym") for f in sub[1]):
            return ("sym", f"{name}_{''.join(str(f[1]) for f in sub[1])}")  # S_{ABC}: one name
        if sub[0] not in ("num", "sym"):
            raise ParseError("complex subscript")
        return ("sym", f"{name}_{sub[1]}")

    def mixed(self, whole):
        """`2\\frac{1}{2}` is the mixed number 5/2 when both parts are plain integers."""
        save, saved_tokens = self.i, list(self.t)
        try:
            frac = self.command(self.take()[1])
        except ParseError:
            self.i, self.t = save, saved_tokens
            return whole
        if frac[0] == "div" and frac[1][0] == "num" and frac[2][0] == "num" and frac[2][1] != 0:
            return ("num", whole[1] + frac[1][1] / frac[2][1])
        self.i, self.t = save, saved_tokens
        return whole

    def command(self, val: str):
        name = val[1:]
        if name == "frac":
            return ("div", self.arg(), self.arg())
        if name == "binom":
            return ("binom", self.arg(), self.arg())
        if name == "sqrt":
            n = ("num", Fraction(2))
            if self.peek() == ("op", "["):
                self.take()
                n = self.expr()
                self.expect("]")
            return ("root", self.arg(), n)
        if name == "pi":
            return ("const", "pi")
        if name == "infty":
            return ("const", "inf")
        if val in _DOTS:
            return ("const", "dots")  # an ellipsis equals only an ellipsis
        if name in GREEK:
            return self.subscripted(name) if self.peek() == ("op", "_") else ("sym", name)
        if name in FUNCS:
            return self.function(name)
        raise ParseError(f"unsupported command {val}")

    def function(self, name: str):
        power = base = None
        if name == "log" and self.peek() == ("op", "_"):
            self.take()
            base = self.arg()
        if self.peek() == ("op", "^"):
            self.take()
            power = self.arg(signed=True)
            if power == ("neg", ("num", Fraction(1))) and name in _TRIG:
                name, power = "arc" + name, None  # \sin^{-1} x is arcsin x
        if self.peek() == ("op", "("):
            x = self.postfix()
        else:  # \sin 2x is sin(2x): an unbracketed argument runs over numbers and letters, not commands
            factors = [self.power()]
            while (self.peek()[0] in ("num", "letter") or self.peek()[1] in _ARG_CMDS) and len(factors) < MAX_ITEMS:
                factors.append(self.power())
            x = _mul(factors)
        node = ("log", x, base) if base is not None else ("func", name, x)
        return ("pow", node, power) if power is not None else node


def _chain(op1: str, a, x, op2: str, c):
    """`a < x <= c` (or `c >= x > a`) as the interval it describes; anything else is not an answer."""
    if not names_unknown(x):
        raise ParseError("chained relation without a variable")
    if op1 in ("<", "<=") and op2 in ("<", "<="):
        return ("interval", op1 == "<=", a, c, op2 == "<=")
    if op1 in (">", ">=") and op2 in (">", ">="):
        return ("interval", op2 == ">=", c, a, op1 == ">=")
    raise ParseError("mixed chained relation")


def names_unknown(node) -> bool:
    """What a side of an equation names when it asks for the other: a variable (`x`, `a_n`), a function at a
    point or variable (`f(x)`, `P(2)`: a letter times one factor), a ratio of those (`V_1:V_2`), a tuple of
    them (`(p, q)`) or a length (`|AB|`)."""
    if node[0] == "sym":
        return True
    if node[0] == "div":
        return names_unknown(node[1]) and names_unknown(node[2])
    if node[0] == "tuple":  # (p, q) = (3, 2)
        return all(names_unknown(x) for x in node[1])
    if node[0] == "func" and node[1] == "abs":  # |AB| = 5
        inner = node[2]
        return names_unknown(inner) or (inner[0] == "mul" and all(f[0] == "sym" for f in inner[1]))
    return (node[0] == "mul" and len(node[1]) == 2 and node[1][0][0] == "sym"
            and node[1][1][0] in ("sym", "num"))


def _group(items: list):
    """One answer of a `;`-separated list: `p=5, q=2` is the pair (5, 2); a lone item is itself."""
    if len(items) == 1:
        return items[0]
    if all(it[0] == "eq" and it[1][0] == "sym" for it in items):
        return ("tuple", tuple(it[2] for it in items))
    return ("tuple", tuple(items))


def _literal(val: str):
    """A number as written; a decimal keeps how many digits it shows after the point (`("num", 2.6667, 4)`),
    which decides whether it is a rounding of an exact reference."""
    digits = len(val) - val.index(".") - 1 if "." in val else 0
    return ("num", _number(val), digits) if digits else ("num", _number(val))


def _number(val: str) -> Fraction:
    try:
        return Fraction(val)  # exact: "0.1" is 1/10, never a binary float
    except ValueError:
        raise ParseError(f"bad number {val!r}") from None


def _mul(factors: list):
    return factors[0] if len(factors) == 1 else ("mul", tuple(factors))


def parse(text: str):
    """Parse answer LaTeX into the whitelisted AST.

    Args:
        text: Answer text; normalised here first.

    Returns:
        The AST root; a bare comma list becomes ("list", items).

    Raises:
        ParseError: if the text is empty, too long, too deep or outside the vocabulary.
    """
    return parse_normalized(normalize(text))


_PLUS_MINUS = re.compile(r"\\(?:pm|mp)(?![A-Za-z])")


def parse_normalized(s: str):
    """Parse text that already went through `normalize` (see `parse`)."""
    if not s:
        raise ParseError("empty")
    if len(s) > MAX_ANSWER_CHARS:
        raise ParseError("answer too long")
    signs = _PLUS_MINUS.findall(s)
    if signs:
        # `a \pm b` is the two answers a + b and a - b (one sign only: more is not an answer list)
        if len(signs) > 1:
            raise ParseError("more than one \\pm")
        first, second = ("+", "-") if signs[0] == "\\pm" else ("-", "+")
        return ("list", (_parse_one(_PLUS_MINUS.sub(first, s)), _parse_one(_PLUS_MINUS.sub(second, s))))
    return _parse_one(s)


def _parse_one(s: str):
    p = _Parser(tokenize(s))
    items = p.groups()
    if p.peek()[0] != "eof":
        raise ParseError(f"unexpected {p.peek()[1]!r}")
    return items[0] if len(items) == 1 else ("list", tuple(items))
