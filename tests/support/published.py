"""Publications for `factory publish` and `factory check` tests: run directories through the real publish
stage, and a hand-built per-bucket publication (the layout of issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from factory.config import PublishConfig
from factory.stages.publish.stage import publish
from factory.store.provenance import write_provenance
from factory.store.rundir import file_sha256

from support import runs


def published_run(path: Path, n_problems: int = 6, per_problem: int = 2, max_shard_rows: int = 4,
                  text_len: int = 200, lengths: list[int] | None = None) -> Path:
    """A run directory through the real publish stage and provenance writer: several shards, a card, a manifest.

    Every row fits in 8k (data/8k, and one empty shard in each other bucket's folder) unless `lengths` gives
    each problem's samples a `length` of its own (one per problem), which the stage buckets them by.
    """
    path.mkdir(parents=True, exist_ok=True)
    problems, samples, verdicts = runs.bulk_run(n_problems, per_problem, text_len)
    if lengths is not None:
        assert len(lengths) == n_problems
        at = verdicts.schema.get_field_index("length")
        verdicts = verdicts.set_column(at, verdicts.schema.field(at), pa.array(
            [n for n in lengths for _ in range(per_problem)], verdicts.schema.field(at).type))
    result = publish(path, run_id="run-1", pipeline="bulk", tokenizer="tok", problems=problems, samples=samples,
                     verdicts=verdicts, cfg=PublishConfig(max_shard_rows=max_shard_rows))
    write_provenance(path, run=runs.RUN, sessions=runs.SESSIONS, problems=problems, samples=samples,
                     verdicts=verdicts, placements=result.placements, outcomes=result.outcomes)
    return path


# the per-bucket layout of issue 14: one directory per curriculum bucket, cumulative leNk configs
BUCKET_ROWS = {8192: 3, 16384: 4, 24576: 0, 32768: 1}
BUCKET_SHARDS = {8192: [3], 16384: [2, 2], 24576: [0], 32768: [1]}


def cumulative_configs() -> list[dict]:
    configs = [{"config_name": "default", "data_files": [{"split": "train", "path": "data/*/train-*"}]}]
    dirs = []
    for bucket in BUCKET_ROWS:
        dirs.append(f"data/{bucket // 1024}k/train-*")
        configs.append({"config_name": f"le{bucket // 1024}k", "data_files": [{"split": "train", "path": list(dirs)}]})
    return configs


def bucket_publication(path: Path) -> dict:
    """Shards under data/8k ... data/32k with a manifest (shards with `bucket`) and a card with the
    cumulative configs; returns the manifest written."""
    shards, row = [], 0
    for bucket, sizes in BUCKET_SHARDS.items():
        for k, n in enumerate(sizes):
            rel = f"data/{bucket // 1024}k/train-{k:05d}-of-{len(sizes):05d}.parquet"
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            table = pa.table({"id": [f"r{row + i}" for i in range(n)], "length": pa.array(
                [bucket - 100 - i for i in range(n)], pa.int64())})
            pq.write_table(table, path / rel)
            row += n
            shards.append({"path": rel, "rows": n, "bytes": (path / rel).stat().st_size,
                           "sha256": file_sha256(path / rel), "bucket": bucket})
    manifest = {"format_version": 1, "run_id": "hand", "pipeline": "hand", "created_at": "2026-11-30T00:00:00+00:00",
                "tokenizer": "tok", "shards": shards, "counts": {"published": row},
                "curriculum_buckets": {str(b): n for b, n in BUCKET_ROWS.items()}, "token_stats": {}}
    write_publication_meta(path, manifest, cumulative_configs())
    return manifest


def write_publication_meta(path: Path, manifest: dict, configs: list[dict]) -> None:
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (path / "README.md").write_text("---\n" + yaml.safe_dump({"configs": configs}, sort_keys=False) + "---\n\n# card\n")


