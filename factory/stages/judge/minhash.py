"""MinHash signatures of reasoning traces, computed in the judge workers where the texts already are.

A signature is NUM_PERM 32-bit minima over the trace's word 5-gram shingles, stored as bytes in the
verdict row; publish compares signatures of one problem's traces (near-duplicate detection, diverse
selection) without reading any reasoning text again. The estimated Jaccard similarity of two traces
is the share of positions where their signatures agree.
"""

from __future__ import annotations

import re

import numpy as np
from rensa import RMinHash

NUM_PERM = 128  # standard error of a Jaccard estimate near 0.8: sqrt(0.8 * 0.2 / 128) = 0.035
SHINGLE_WORDS = 5
SEED = 0
_WORD = re.compile(r"\S+")


def shingles(text: str) -> list[str]:
    """Word 5-grams of `text`, lowercased; a text shorter than 5 words is one shingle."""
    words = _WORD.findall(text.lower())
    if len(words) <= SHINGLE_WORDS:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)]


def signature(text: str) -> bytes | None:
    """The MinHash signature of `text` as NUM_PERM little-endian uint32 values; None for an empty text."""
    grams = shingles(text)
    if not grams:
        return None
    mh = RMinHash(num_perm=NUM_PERM, seed=SEED)
    mh.update(grams)
    return np.asarray(mh.digest(), dtype="<u4").tobytes()
