"""Read problem rows from a source and map its columns to (problem, answer, row id).

HF datasets are loaded with `datasets.load_dataset(name, subset, split=..., revision=...)`, exactly as
a user would; local JSONL and Parquet files go through the same `datasets` "json"/"parquet" builders
so both paths share one code path and one set of failure modes.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from factory.config import SourceConfig
from factory.errors import SourceError


@dataclass(frozen=True)
class RawProblem:
    source: str
    source_row: str
    problem: str
    answer: str | None


def _files(cfg: SourceConfig) -> list[str]:
    files = sorted(glob.glob(cfg.path)) if any(c in cfg.path for c in "*?[") else [cfg.path]
    missing = [f for f in files if not Path(f).is_file()]
    if not files or missing:
        shown = missing[0] if missing else cfg.path
        raise SourceError(f"source {cfg.name!r}: file {shown!r} not found; fix `path` in the pipeline file")
    empty = [f for f in files if Path(f).stat().st_size == 0]
    if empty:
        raise SourceError(f"source {cfg.name!r}: file {empty[0]!r} is empty; point `path` at a file with rows")
    return files


def _open_dataset(cfg: SourceConfig):
    import datasets  # heavy import: only when a source is actually read

    datasets.disable_progress_bars()
    try:
        if cfg.kind == "hf":
            return datasets.load_dataset(cfg.dataset, cfg.subset, split=cfg.split, revision=cfg.revision)
        builder = "json" if cfg.kind == "jsonl" else "parquet"
        return datasets.load_dataset(builder, data_files=_files(cfg), split="train")
    except SourceError:
        raise
    except Exception as e:  # datasets raises many unrelated types; the user needs one line
        what = cfg.dataset if cfg.kind == "hf" else cfg.path
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SourceError(f"source {cfg.name!r}: cannot load {what!r}: {first}") from None


def _as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        # a list column (OlympiadBench's final_answer): its items as written, not Python's repr of the
        # list, which doubles every backslash of the LaTeX and leaves the verifier nothing to parse
        parts = [t for t in (_as_text(v) for v in value) if t]
        return ", ".join(parts) or None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # "142.0" style answers from float columns mean 142
    text = str(value).strip()
    return text or None


def load_source(cfg: SourceConfig) -> Iterator[RawProblem]:
    """Yield the rows of one source with the configured field mapping applied."""
    ds = _open_dataset(cfg)
    fm = cfg.fields
    for col in (fm.problem, fm.answer, fm.id):
        if col is not None and col not in ds.column_names:
            raise SourceError(
                f"source {cfg.name!r}: column {col!r} not found (columns: {', '.join(ds.column_names)}); "
                "fix `fields` in the pipeline file"
            )
    if cfg.limit is not None:
        ds = ds.select(range(min(cfg.limit, len(ds))))
    for index, row in enumerate(ds):
        row_id = row[fm.id] if fm.id else index
        if row_id is None or str(row_id).strip() == "":
            raise SourceError(f"source {cfg.name!r}: row {index} has no value in id column {fm.id!r}; map "
                              "`fields.id` to a column that is always set, or drop it to use row numbers")
        yield RawProblem(
            source=cfg.name,
            source_row=str(row_id),
            problem=str(row[fm.problem] or ""),
            answer=_as_text(row[fm.answer]) if fm.answer else None,
        )
