"""Which of a problem's accepted traces are published: near duplicates out, then the k the policy keeps.

Works one problem at a time on the MinHash signatures the judge stage stored in the verdicts, so no
reasoning text is read here and memory holds one batch of signatures, never the run's texts. Traces
are only ever compared within one problem. A problem holds a few traces (n samples), so every pair is
compared on its full signature: exact estimates, no LSH banding and none of its false negatives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

from factory.config import SelectConfig

REJECTION_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False), pa.field("reason", pa.string(), nullable=False),
    pa.field("duplicate_of", pa.string())])


def similarity(signatures: list[bytes | None]) -> np.ndarray:
    """Estimated Jaccard similarity of every pair: the share of equal MinHash values (0 for a missing one)."""
    n = len(signatures)
    present = [i for i, sig in enumerate(signatures) if sig is not None]
    sim = np.zeros((n, n))
    if present:
        sigs = np.stack([np.frombuffer(signatures[i], dtype="<u4") for i in present])
        sim[np.ix_(present, present)] = (sigs[:, None, :] == sigs[None, :, :]).mean(axis=2)
    np.fill_diagonal(sim, 1.0)
    return sim


def near_duplicates(sim: np.ndarray, threshold: float) -> dict[int, int]:
    """Trace index -> the earlier kept trace it nearly duplicates (the most similar), in sample order."""
    kept: list[int] = []
    dups: dict[int, int] = {}
    for i in range(len(sim)):
        close = [j for j in kept if sim[i, j] >= threshold]
        if close:
            dups[i] = max(close, key=lambda j: (sim[i, j], -j))
        else:
            kept.append(i)
    return dups


def pick(candidates: list[int], tokens: list[int], sim: np.ndarray, k: int | None, policy: str) -> list[int]:
    """The traces `policy` keeps among `candidates` (indices into tokens/sim), at most k."""
    if policy == "all" or k is None or len(candidates) <= k:
        return candidates
    by_length = sorted(candidates, key=lambda i: (tokens[i], i))
    if policy == "shortest":
        return by_length[:k]
    chosen = [by_length[0]]
    nearest = sim[by_length[0]].copy()  # each trace's highest similarity to anything chosen so far
    while len(chosen) < k:
        # the trace least like everything chosen; ties go to the shorter one
        best = min((i for i in by_length if i not in chosen), key=lambda i: (nearest[i], tokens[i], i))
        chosen.append(best)
        nearest = np.maximum(nearest, sim[best])
    return chosen


def _problem(ids: list[str], tokens: list[int], signatures: list[bytes | None], cfg: SelectConfig) -> Iterator[tuple]:
    sim = similarity(signatures)
    dups = near_duplicates(sim, cfg.near_duplicate) if cfg.near_duplicate is not None else {}
    for i, j in dups.items():
        yield ids[i], "near_duplicate_trace", ids[j]
    candidates = [i for i in range(len(ids)) if i not in dups]
    kept = set(pick(candidates, tokens, sim, cfg.k, cfg.policy))
    for i in candidates:
        if i not in kept:
            yield ids[i], "not_selected", None


def _by_problem(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[list[str], list[int], list[bytes | None]]]:
    """Regroup a stream ordered by problem_id into one (ids, tokens, signatures) per problem."""
    current, group = None, ([], [], [])
    for batch in batches:
        cols = (batch[c].to_pylist() for c in ("sample_id", "problem_id", "length", "minhash"))
        for sid, pid, tokens, sig in zip(*cols, strict=True):
            if pid != current and group[0]:
                yield group
                group = ([], [], [])
            current = pid
            group[0].append(sid)
            group[1].append(tokens)
            group[2].append(sig)
    if group[0]:
        yield group


def choose(batches: Iterable[pa.RecordBatch], cfg: SelectConfig) -> pa.Table:
    """Rejections (REJECTION_SCHEMA) among accepted traces streamed in problem, then sample, order."""
    rows = [r for group in _by_problem(batches) for r in _problem(*group, cfg)]
    return pa.Table.from_pylist([dict(zip(REJECTION_SCHEMA.names, r, strict=True)) for r in rows],
                                schema=REJECTION_SCHEMA)
