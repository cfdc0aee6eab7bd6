"""What a training run consumes, and the lineage it records: rows for SFT, problems for GRPO.

A run directory is read through its manifest: every shard is checked against the sha256 the manifest
lists before a row of it is used, and the run id, shard paths and checksums go into `training.json`.
HF datasets are recorded by id, revision and split, Parquet files by path and sha256.
"""

from __future__ import annotations

import glob
import hashlib
import json
from pathlib import Path

from factory.errors import SourceError
from factory.store.rundir import file_sha256
from factory.train.config import DataSource, TrainConfig


def _load_parquet(files: list[str], digests: list[str]):
    """The files as one dataset, cached under their content's hash.

    `datasets` keys a local file's cache on its path and mtime (and a local dataset directory's on little
    more than its name): a file rewritten in place with its mtime kept, or another run directory of the
    same name, came back as the old rows (seen here). Keyed by the sha256s, the cache is right or absent.
    """
    import datasets

    datasets.disable_progress_bars()
    return datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=str(_cache_dir(digests)))


def _cache_dir(digests: list[str]) -> Path:
    import datasets

    key = hashlib.sha256("".join(digests).encode()).hexdigest()[:24]
    return Path(datasets.config.HF_DATASETS_CACHE) / "distill-factory" / key


def _dir_state(path: Path) -> str:
    """A local dataset directory's path and the size and mtime of every file in it: a new cache when any
    file changes, without reading gigabytes to hash them."""
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return str(path.resolve()) + "".join(f"{f.relative_to(path)}:{f.stat().st_size}:{f.stat().st_mtime_ns}"
                                         for f in files)


def _run_shards(source: DataSource) -> tuple[list[str], dict]:
    """A run's published shards, each checked against its manifest, and their lineage entry."""
    run = Path(source.run)
    manifest_path = run / "manifest.json"
    if not manifest_path.is_file():
        raise SourceError(f"data {source.run!r} is not a published run (no manifest.json); pass the --out of a "
                          "finished `factory run`, or a Parquet file with `parquet:`")
    manifest = json.loads(manifest_path.read_text())
    shards = []
    for shard in manifest["shards"]:
        path = run / shard["path"]
        if not path.is_file() or file_sha256(path) != shard["sha256"]:
            raise SourceError(f"shard {str(path)!r} does not match its manifest (sha256); it changed after "
                              f"`factory run` published it: run `factory run` on {source.run!r} again")
        shards.append(dict(path=shard["path"], rows=shard["rows"], sha256=shard["sha256"]))
    lineage = dict(kind="run", path=str(run), run_id=manifest["run_id"], pipeline=manifest["pipeline"],
                   tokenizer=manifest["tokenizer"], shards=shards)
    return [str(run / s["path"]) for s in shards], lineage


def _parquet_files(source: DataSource) -> tuple[list[str], dict]:
    pattern = source.parquet
    files = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
    missing = [f for f in files if not Path(f).is_file()]
    if not files or missing:
        raise SourceError(f"data file {(missing or [pattern])[0]!r} not found; fix `parquet:` in the training config")
    checked = [dict(path=str(Path(f).resolve()), sha256=file_sha256(Path(f))) for f in files]
    return files, dict(kind="parquet", files=checked)


def _hub_dataset(source: DataSource):
    import datasets

    datasets.disable_progress_bars()
    local = Path(source.dataset)
    cache = {"cache_dir": str(_cache_dir([_dir_state(local)]))} if local.is_dir() else {}
    try:
        ds = datasets.load_dataset(source.dataset, source.subset, split=source.split, revision=source.revision,
                                   **cache)
    except Exception as e:  # datasets raises many unrelated types; the user needs one line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SourceError(f"dataset {source.dataset!r} cannot be loaded: {first}") from None
    lineage = dict(kind="dataset", id=source.dataset, revision=source.revision, subset=source.subset,
                   split=source.split, fingerprint=ds._fingerprint)
    return ds, lineage


def load_source(source: DataSource):
    """(the source's rows as a `datasets.Dataset`, its lineage entry for training.json)."""
    if source.run:
        files, lineage = _run_shards(source)
        return _load_parquet(files, [s["sha256"] for s in lineage["shards"]]), lineage
    if source.parquet:
        files, lineage = _parquet_files(source)
        return _load_parquet(files, [f["sha256"] for f in lineage["files"]]), lineage
    return _hub_dataset(source)


def sft_rows(cfg: TrainConfig):
    """Every source's chat rows in one dataset (`messages`, and `id`/`run_id` where the rows have them)."""
    import datasets

    parts, lineage = [], []
    for source in cfg.data:
        ds, entry = load_source(source)
        if "messages" not in ds.column_names:
            raise SourceError(f"data {source.label()!r} has no `messages` column (columns: "
                              f"{', '.join(ds.column_names)}); SFT needs chat rows, as `factory run` publishes them")
        keep = [c for c in ("messages", "id", "run_id") if c in ds.column_names]
        ds = ds.select_columns(keep)
        for column in ("id", "run_id"):
            if column not in ds.column_names:
                ds = ds.add_column(column, [None] * len(ds))
        parts.append(ds.cast(parts[0].features) if parts else ds)
        lineage.append(dict(entry, rows=len(ds)))
    return datasets.concatenate_datasets(parts), lineage


def with_lengths(rows, tokenizer):
    """`rows` with `tokens`: each row's length with the student's chat template applied, <think> tags and all."""
    def measure(batch):
        ids = tokenizer.apply_chat_template(batch["messages"], tokenize=True, return_dict=False)
        return {"tokens": [len(x) for x in ids]}

    return rows.map(measure, batched=True, batch_size=256, desc=None)


def stage_rows(rows, low: int, high: int):
    """The rows of one stage: length in (low, high]."""
    return rows.filter(lambda t: low < t <= high, input_columns="tokens")
