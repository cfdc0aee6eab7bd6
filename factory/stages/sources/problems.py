"""The problems table of a pipeline: every source row read, curated (see `curate`), with its status.

Every input row becomes a `Problem` row, kept or not, so provenance can say why a problem was not asked.
Only `ok` problems reach the teacher.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from factory.config import CurateConfig, PipelineConfig
from factory.stages.sources.curate import Curation, curate
from factory.stages.sources.loaders import RawProblem, open_source


def reference_answers(problems: pa.Table) -> dict[str, str]:
    """problem text -> reference answer, for problems that have one (what a simulated teacher knows)."""
    texts, answers = problems["problem"].to_pylist(), problems["reference_answer"].to_pylist()
    return {text: answer for text, answer in zip(texts, answers, strict=True) if answer}


def build_problems(rows: Iterable[RawProblem], eval_rows: Iterable[RawProblem] = (), limit: int | None = None,
                   cfg: CurateConfig | None = None) -> pa.Table:
    """Raw rows curated into the problems table (PROBLEM_SCHEMA); sources rank in the order first seen.

    `limit` caps the number of `ok` problems (first K in source order); rows past the cap are not listed at
    all, so a later run with a larger limit simply adds problems.
    """
    rows = list(rows)
    order = list(dict.fromkeys(r.source for r in rows))
    return curate(rows, eval_rows, cfg or CurateConfig(), order, limit).problems


def curate_pipeline(cfg: PipelineConfig) -> Curation:
    """Every source and eval set of a pipeline, read and curated (sources rank in the pipeline file's order),
    with each source as read (where from, its license, how many rows) for provenance and the dataset card.

    Every source is opened, and its field paths checked, before the first row is read.
    """
    train = [open_source(src) for src in cfg.sources]
    evals = [open_source(src) for src in cfg.decontaminate]
    eval_rows = {o.cfg.name: list(o.rows) for o in evals}
    cur = curate((row for o in train for row in o.rows), [row for rows in eval_rows.values() for row in rows],
                 cfg.curate, [s.name for s in cfg.sources], cfg.limit)
    listed = {c["values"]: c["counts"] for c in pc.value_counts(cur.problems["source"]).to_pylist()}
    cur.sources = ([o.record("train", listed.get(o.cfg.name, 0)) for o in train]
                   + [o.record("decontaminate", len(eval_rows[o.cfg.name])) for o in evals])
    return cur


def load_problems(cfg: PipelineConfig) -> pa.Table:
    """The problems table of a pipeline (`curate_pipeline` without the matches and source records)."""
    return curate_pipeline(cfg).problems
