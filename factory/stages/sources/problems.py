"""Normalize problems, give them content-hash ids, drop exact duplicates and eval-set contamination.

Every input row becomes a `Problem` row, kept or not, so provenance can say why a problem was not
asked: `empty` (no problem text), `duplicate` (same normalized text seen earlier), `contaminated`
(text of an eval-set problem) or `no_reference` (nothing to verify against). Only `ok` problems
reach the teacher.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from factory.config import PipelineConfig
from factory.errors import SourceError
from factory.stages.sources.loaders import RawProblem, open_source
from factory.store.records import PROBLEM_SCHEMA, SourceRecord

_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Canonical form used for ids and exact dedup: NFKC, collapsed whitespace, stripped."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def problem_id(text: str) -> str:
    """Stable id of a problem: sha256 of its normalized text (first 16 hex digits)."""
    return hashlib.sha256(normalize_text(text).encode()).hexdigest()[:16]


def reference_answers(problems: pa.Table) -> dict[str, str]:
    """problem text -> reference answer, for problems that have one (what a simulated teacher knows)."""
    texts, answers = problems["problem"].to_pylist(), problems["reference_answer"].to_pylist()
    return {text: answer for text, answer in zip(texts, answers, strict=True) if answer}


def build_problems(
    rows: Iterable[RawProblem], eval_rows: Iterable[RawProblem] = (), limit: int | None = None
) -> pa.Table:
    """Turn raw rows into the problems table (PROBLEM_SCHEMA), deciding each row's status.

    `limit` caps the number of `ok` problems (first K in source order); rows past the cap are not
    listed at all, so a later run with a larger limit simply adds problems.
    """
    contaminated = {problem_id(r.problem) for r in eval_rows if r.problem.strip()}
    first_seen: dict[str, str] = {}
    row_ids: set[tuple[str, str]] = set()
    out: list[dict] = []
    ok = 0
    for r in rows:
        if limit is not None and ok >= limit:
            break
        if (r.source, r.source_row) in row_ids:
            # provenance keys problems by (source, row id): a repeated id would make lineage ambiguous
            raise SourceError(f"source {r.source!r}: row id {r.source_row!r} appears more than once; map "
                              "`fields.id` to a unique column, or drop it to use row numbers")
        row_ids.add((r.source, r.source_row))
        text = r.problem.strip()
        pid = problem_id(text)
        status, dup_of = "ok", None
        if not text:
            status = "empty"
        elif pid in first_seen:
            status, dup_of = "duplicate", first_seen[pid]
        elif pid in contaminated:
            status = "contaminated"
        elif not r.answer:
            status = "no_reference"
        if text and pid not in first_seen:
            first_seen[pid] = f"{r.source}:{r.source_row}"
        ok += status == "ok"
        out.append(
            dict(problem_id=pid, source=r.source, source_row=r.source_row, problem=text,
                 reference_answer=r.answer, solution=r.solution, status=status, duplicate_of=dup_of)
        )
    return pa.Table.from_pylist(out, schema=PROBLEM_SCHEMA)


def read_sources(cfg: PipelineConfig) -> tuple[pa.Table, list[SourceRecord]]:
    """Every source and eval set of a pipeline, read and decided: the problems table of a run, and each
    source as read (where from, its license, how many rows), for provenance and the dataset card.

    Every source is opened, and its field paths checked, before the first row is read.
    """
    train = [open_source(src) for src in cfg.sources]
    evals = [open_source(src) for src in cfg.decontaminate]
    eval_rows = {o.cfg.name: list(o.rows) for o in evals}
    table = build_problems((row for o in train for row in o.rows),
                           [row for rows in eval_rows.values() for row in rows], cfg.limit)
    listed = {c["values"]: c["counts"] for c in pc.value_counts(table["source"]).to_pylist()}
    return table, ([o.record("train", listed.get(o.cfg.name, 0)) for o in train]
                   + [o.record("decontaminate", len(eval_rows[o.cfg.name])) for o in evals])


def load_problems(cfg: PipelineConfig) -> pa.Table:
    """Every source and eval set of a pipeline, read and decided (the problems table of a run)."""
    return read_sources(cfg)[0]
