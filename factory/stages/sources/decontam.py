"""Decontamination: which training problems are (drifted) copies of an eval-set problem.

Two methods, both on the matching form (so `\\dfrac` for `\\frac`, other delimiters or an added instruction do
not hide a copy):
- `ngram`: the share of an eval problem's token n-grams (13 as in OLMo and Tulu, or 8 as in open-r1) found in
  the training problem. Containment of the eval problem, not overlap of the two: a training problem that
  embeds a benchmark item plus extra text is still contaminated, and one shared stock phrase is not. With
  `same_numbers` (the default) every number of the eval problem must also be in the training problem: a
  problem made from the same template with other numbers shares most n-grams but is another problem, with
  another answer (synthetic sets and MATH's own variants are full of them).
- `fuzzy`: for short eval problems (under `short_tokens`), whose few n-grams make that share coarse (or who
  have none), the share of the shorter matching form found, in order, in the longer one. It
  also needs the same numbers and formulas, and wording that differs only by text added before or after
  (the near-duplicate rule): "What is $2+3$?" and "What is $2+4$?", or "arrange the letters of the word
  RADII" and "... ELLIPSE", read alike but are other items.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from dataclasses import dataclass

from factory.stages.sources.canonical import Signature, tokens
from factory.stages.sources.near_dup import same_wording


@dataclass(frozen=True)
class EvalItem:
    benchmark: str
    row: str
    form: str
    signature: Signature


@dataclass(frozen=True)
class Match:
    benchmark: str
    eval_row: str
    method: str  # ngram | fuzzy
    score: float


def _ngrams(toks: list[str], n: int) -> set[int]:
    return {hash(tuple(toks[i:i + n])) for i in range(len(toks) - n + 1)}


class ContaminationIndex:
    """The eval sets, indexed once; `matches` is then asked about each training problem."""

    def __init__(self, items: list[EvalItem], n: int, threshold: float, fuzzy_threshold: float, short_tokens: int,
                 same_numbers: bool = True):
        self.items, self.n, self.threshold, self.same_numbers = items, n, threshold, same_numbers
        self._numbers = [Counter(item.signature.numbers) for item in items]
        self.fuzzy_threshold, self.short_tokens = fuzzy_threshold, short_tokens
        self._index: dict[int, list[int]] = defaultdict(list)
        self._sizes: list[int] = []
        self._short: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for k, item in enumerate(items):
            toks = tokens(item.form)
            if len(toks) < short_tokens:
                self._short[item.signature.numbers].append(k)
                self._sizes.append(0)
                continue
            grams = _ngrams(toks, n)
            self._sizes.append(len(grams))
            for g in grams:
                self._index[g].append(k)

    def matches(self, form: str, sig: Signature) -> list[Match]:
        """Every eval problem this training problem copies, best score first."""
        toks = tokens(form)
        hits: dict[int, int] = defaultdict(int)
        for g in _ngrams(toks, self.n):
            for k in self._index.get(g, ()):
                hits[k] += 1
        mine = Counter(sig.numbers)
        found = {k: Match(self.items[k].benchmark, self.items[k].row, "ngram", count / self._sizes[k])
                 for k, count in hits.items() if count / self._sizes[k] >= self.threshold
                 and (not self.same_numbers or not self._numbers[k] - mine)}
        for k in self._short.get(sig.numbers, ()):
            item = self.items[k]
            if set(item.signature.formulas) - set(sig.formulas):
                continue
            blocks = difflib.SequenceMatcher(None, item.form, form, autojunk=False).get_matching_blocks()
            # the shorter text's share found in the longer: either side may carry an added instruction
            score = sum(b.size for b in blocks) / min(len(item.form), len(form))
            if score >= self.fuzzy_threshold and same_wording(tokens(item.form), toks):
                found[k] = Match(item.benchmark, item.row, "fuzzy", score)
        return sorted(found.values(), key=lambda m: (-m.score, m.benchmark, m.eval_row))
