"""Near-duplicate problems: MinHash-LSH over the matching form proposes pairs, their numbers and formulas decide.

LSH alone merges problems that differ in one number (the text around the number is the same), and a problem
with one number changed is a different problem with a different answer. So a pair proposed by LSH is merged
only when the shingle sets' Jaccard similarity reaches the threshold, both problems have the same
`Signature` (the same numbers in the same order and the same formulas), and their wording differs only where
copies drift: text added before or after (an instruction), articles and punctuation. On MATH and AIME this
last check is what keeps "find the sum of the possible values" apart from "find the product of ...", and
"the center of the circle" from "the radius of the circle": same numbers, same formulas, other problems.

rensa (Rust) computes the signatures: 114x faster than datasketch on 40k problems' shingles here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import rensa

from factory.stages.sources.canonical import Signature, tokens

_SEED = 1  # fixed, so a run's clusters are the same every time it is curated


def shingles(form: str, width: int) -> set[str]:
    toks = tokens(form)
    if len(toks) <= width:
        return {"\x1f".join(toks)} if toks else set()
    return {"\x1f".join(toks[i:i + width]) for i in range(len(toks) - width + 1)}


# what may differ inside two copies' wording: articles and sentence punctuation (not operators: in a problem
# written without delimiters `+` for `-` is another problem)
_FILLER = frozenset({"a", "an", "the", ",", ".", ";", ":", "!", "?", "(", ")", "'", '"'})


def same_wording(a: list[str], b: list[str]) -> bool:
    """True when token lists `a` and `b` differ only by filler, or by text added at either end."""
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for k, (tag, i1, i2, j1, j2) in enumerate(ops):
        if tag == "equal":
            continue
        if tag != "replace" and k in (0, len(ops) - 1):
            continue  # an instruction put before or after the problem
        if not set(a[i1:i2]) | set(b[j1:j2]) <= _FILLER:
            return False
    return True


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass(frozen=True)
class Item:
    """One distinct matching form and the signature a pair of them is confirmed on."""

    form: str
    signature: Signature


def _bands(threshold: float, num_perm: int) -> int:
    # the band count whose S-curve midpoint (1/b)^(1/r) lies nearest 0.85 x threshold: pairs at the threshold
    # are then proposed with high probability, and the confirmation step removes the extra candidates
    target = 0.85 * threshold
    divisors = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
    return min(divisors, key=lambda b: abs((1 / b) ** (b / num_perm) - target))


def near_pairs(items: list[Item], threshold: float, num_perm: int = 128, width: int = 3
               ) -> list[tuple[int, int, float]]:
    """Confirmed near-duplicate pairs (i, j, Jaccard) among distinct matching forms, i < j."""
    sets = [shingles(it.form, width) for it in items]
    lsh = rensa.RMinHashLSH(threshold=threshold, num_perm=num_perm, num_bands=_bands(threshold, num_perm))
    hashes = []
    for i, s in enumerate(sets):
        m = rensa.RMinHash(num_perm=num_perm, seed=_SEED)
        m.update(sorted(s))
        hashes.append(m)
        lsh.insert(i, m)
    pairs = []
    for i, m in enumerate(hashes):
        for j in lsh.query(m):
            if j <= i or items[i].signature != items[j].signature:
                continue
            sim = jaccard(sets[i], sets[j])
            if sim >= threshold and same_wording(tokens(items[i].form), tokens(items[j].form)):
                pairs.append((i, j, sim))
    return pairs


def clusters(n: int, pairs: list[tuple[int, int, float]]) -> list[list[int]]:
    """Connected components of the confirmed pairs, each sorted, singletons left out."""
    parent = list(range(n))

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j, _ in pairs:
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for x in range(n):
        groups.setdefault(root(x), []).append(x)
    return [g for g in groups.values() if len(g) > 1]
