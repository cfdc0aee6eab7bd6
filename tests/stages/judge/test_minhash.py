"""MinHash signatures of traces: shingles, agreement with the true Jaccard similarity, and on real traces
(when /work/wt/shared is present) what the default threshold merges."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import numpy as np
import pytest

from factory.config import SelectConfig
from factory.stages.judge.minhash import NUM_PERM, shingles, signature
from factory.stages.publish.traces import near_duplicates, similarity

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "qwen25math_math_cot_100x8.jsonl"


def test_shingles_are_lowercased_word_5grams():
    assert shingles("A b  c\nd E f") == ["a b c d e", "b c d e f"]
    assert shingles("too short") == ["too short"] and shingles("  ") == []


def test_signature_is_stable_and_empty_text_has_none():
    sig = signature("the same words in the same order")
    assert len(sig) == 4 * NUM_PERM and sig == signature("The same  words in the same order")
    assert signature("") is None


@pytest.mark.parametrize("shared", [10, 50, 90])
def test_the_estimate_tracks_the_true_jaccard_similarity(shared):
    # two texts of 100 distinct shingles each, `shared` in common: J = shared / (200 - shared)
    words = [f"w{i}" for i in range(400)]
    a = " ".join(words[:104])
    b_words = words[:shared + 4] + words[200:200 + 100 - shared]
    sa, sb = set(shingles(a)), set(shingles(" ".join(b_words)))
    truth = len(sa & sb) / len(sa | sb)
    est = similarity([signature(a), signature(" ".join(b_words))])[0, 1]
    assert abs(est - truth) < 4 * np.sqrt(truth * (1 - truth) / NUM_PERM) + 0.02


@pytest.mark.shared
@pytest.mark.skipif(not SHARED.is_file(), reason="the shared data is not present")
def test_on_real_samples_the_default_merges_only_reworded_copies():
    threshold = SelectConfig().near_duplicate
    merged = total = exact = 0
    for line in SHARED.read_text().splitlines():
        texts = [t for t in json.loads(line)["response"] if t.strip()]
        dups = near_duplicates(similarity([signature(t) for t in texts]), threshold)
        total += len(texts)
        merged += len(dups)
        exact += len(texts) - len(set(texts))
        for i, j in dups.items():
            words = texts[i].split(), texts[j].split()
            assert difflib.SequenceMatcher(None, *words, autojunk=False).ratio() > 0.6
    assert exact <= merged < total / 2
