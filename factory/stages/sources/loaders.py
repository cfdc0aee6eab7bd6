"""Read problem rows from a source and map its fields to (problem, answer, solution, row id).

HF datasets are loaded with `datasets.load_dataset(name, subset, split=..., revision=...)`, exactly as
a user would (a directory written by `Dataset.save_to_disk`, which `load_dataset` refuses, with
`load_from_disk`); local JSONL, Parquet and CSV files go through the same `datasets` builders so every
path shares one code path and one set of failure modes. `streaming: true` iterates the rows as they
arrive instead of materializing the dataset first.
"""

from __future__ import annotations

import csv
import glob
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from factory.config import SourceConfig
from factory.errors import SourceError
from factory.stages.sources import fieldpath
from factory.stages.sources.licenses import DeclaredLicense, declared_license
from factory.store.records import SourceRecord

_BUILDERS = {"jsonl": "json", "parquet": "parquet", "csv": "csv"}
_FIELDS = ("problem", "answer", "solution", "id")


@dataclass(frozen=True)
class RawProblem:
    source: str
    source_row: str
    problem: str
    answer: str | None
    solution: str | None = None


@dataclass
class OpenedSource:
    """A source whose dataset is open and whose field paths fit it: its rows, and what it declares."""

    cfg: SourceConfig
    rows: Iterator[RawProblem]
    declared: DeclaredLicense

    def record(self, role: str, rows: int) -> SourceRecord:
        """The source as provenance and the manifest list it."""
        cfg, hf = self.cfg, self.cfg.kind == "hf"
        license, origin = (cfg.license, "pipeline") if cfg.license else (self.declared.license, "dataset")
        return SourceRecord(name=cfg.name, role=role, kind=cfg.kind, location=cfg.dataset if hf else cfg.path,
                            subset=cfg.subset if hf else None, split=cfg.split if hf else None,
                            revision=cfg.revision if hf else None, commit=self.declared.commit,
                            license=license, license_from=origin if license else None, rows=rows)


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


def _csv_options(files: list[str]) -> dict:
    import datasets

    with open(files[0], newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    # a CSV has no types: every column as written, so an id "0012" or an answer "1.50" is not turned into
    # 12 or 1.5, and only an empty cell is missing (pandas would also read "NA" or "None" as missing)
    features = datasets.Features({name: datasets.Value("string") for name in header})
    return dict(features=features, keep_default_na=False, na_values=[""])


def _from_disk(cfg: SourceConfig):
    import datasets

    ds = datasets.load_from_disk(cfg.dataset)
    if isinstance(ds, datasets.DatasetDict):
        if cfg.split not in ds:
            raise SourceError(f"source {cfg.name!r}: split {cfg.split!r} not in {cfg.dataset!r} "
                              f"(splits: {', '.join(ds)}); fix `split` in the pipeline file")
        ds = ds[cfg.split]
    return ds


def _open_dataset(cfg: SourceConfig):
    """The dataset (an `IterableDataset` when streaming) and the license its info declares."""
    import datasets  # heavy import: only when a source is actually read

    datasets.disable_progress_bars()
    try:
        if cfg.kind != "hf":
            files = _files(cfg)
            options = _csv_options(files) if cfg.kind == "csv" else {}
            ds = datasets.load_dataset(_BUILDERS[cfg.kind], data_files=files, split="train",
                                       streaming=cfg.streaming, **options)
            return ds, None
        if any((Path(cfg.dataset) / marker).is_file() for marker in ("state.json", "dataset_dict.json")):
            ds = _from_disk(cfg)
            return (ds.to_iterable_dataset() if cfg.streaming else ds), ds.info.license
        ds = datasets.load_dataset(cfg.dataset, cfg.subset, split=cfg.split, revision=cfg.revision,
                                   streaming=cfg.streaming)
        return ds, ds.info.license
    except SourceError:
        raise
    except Exception as e:  # datasets raises many unrelated types; the user needs one line
        raise _load_error(cfg, e) from None


def _load_error(cfg: SourceConfig, e: Exception) -> SourceError:
    what = cfg.dataset if cfg.kind == "hf" else cfg.path
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return SourceError(f"source {cfg.name!r}: cannot load {what!r}: {first}")


def _field_steps(cfg: SourceConfig, ds) -> dict[str, list[fieldpath.Step]]:
    """Each mapped field's path steps, checked against the dataset's features when it has them."""
    fields = {role: getattr(cfg.fields, role) for role in _FIELDS if getattr(cfg.fields, role)}
    columns, features = ds.column_names, ds.features
    steps = {role: fieldpath.parse(path, columns) for role, path in fields.items()}
    for role, path in fields.items():
        try:
            sample = fieldpath.check_features(features, steps[role]) if features else None
        except fieldpath.PathError as e:
            raise _path_error(cfg, role, path, str(e)) from None
        if (why := fieldpath.structured(sample)) is not None:
            raise _path_error(cfg, role, path, f"it leads to {why}, not text")
    return steps


def _path_error(cfg: SourceConfig, role: str, path: str, why: str, row: int | None = None) -> SourceError:
    where = f" (row {row})" if row is not None else ""
    return SourceError(f"source {cfg.name!r}: fields.{role} {path!r} does not resolve{where}: {why}; "
                       "fix `fields` in the pipeline file")


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


def _guarded(cfg: SourceConfig, rows: Iterable[dict]) -> Iterator[dict]:
    """`rows`, with a failure while reading (a streamed file that breaks halfway) as one line."""
    it = iter(rows)
    while True:
        try:
            row = next(it)
        except StopIteration:
            return
        except Exception as e:
            raise _load_error(cfg, e) from None
        yield row


def _values(cfg: SourceConfig, steps: dict, row: dict, index: int) -> dict[str, str | None]:
    out = {}
    for role, path_steps in steps.items():
        try:
            value = fieldpath.resolve(row, path_steps)
        except fieldpath.PathError as e:
            raise _path_error(cfg, role, getattr(cfg.fields, role), str(e), index) from None
        if (why := fieldpath.structured(value)) is not None:
            raise _path_error(cfg, role, getattr(cfg.fields, role), f"it leads to {why}, not text", index)
        out[role] = _as_text(value) if role != "id" or value is None else str(value)
    return out


def _rows(cfg: SourceConfig, ds, steps: dict) -> Iterator[RawProblem]:
    if cfg.limit is not None:
        ds = ds.take(cfg.limit) if cfg.streaming else ds.select(range(min(cfg.limit, len(ds))))
    for index, row in enumerate(_guarded(cfg, ds)):
        values = _values(cfg, steps, row, index)
        row_id = values["id"] if cfg.fields.id else str(index)
        if row_id is None or row_id.strip() == "":
            raise SourceError(f"source {cfg.name!r}: row {index} has no value in id column {cfg.fields.id!r}; map "
                              "`fields.id` to a column that is always set, or drop it to use row numbers")
        yield RawProblem(source=cfg.name, source_row=row_id, problem=values["problem"] or "",
                         answer=values.get("answer"), solution=values.get("solution"))


def open_source(cfg: SourceConfig) -> OpenedSource:
    """Open one source: load (or start streaming) its dataset and check its field paths, before any row."""
    ds, info_license = _open_dataset(cfg)
    steps = _field_steps(cfg, ds)
    declared = declared_license(cfg, info_license) if cfg.kind == "hf" else DeclaredLicense()
    return OpenedSource(cfg=cfg, rows=_rows(cfg, ds, steps), declared=declared)


def load_source(cfg: SourceConfig) -> Iterator[RawProblem]:
    """Yield the rows of one source with the configured field mapping applied."""
    return open_source(cfg).rows
