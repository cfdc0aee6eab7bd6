"""The publish stage: accepted, deduplicated samples in, HF-layout Parquet shards, a manifest and a card out.

`select` decides in SQL what is published and why each other sample is not; `shards` streams the rows
into Parquet files, one row group at a time; `swap` puts the new publication in place atomically; `card`
renders the dataset card. Output is deterministic: the same input gives byte-identical shards.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from factory.config import PublishConfig
from factory.errors import RunDirError
from factory.stages.publish import card
from factory.stages.publish.select import JUDGE_SQL, counts, token_stats
from factory.stages.publish.shards import write_shards
from factory.stages.publish.swap import CARD, MANIFEST, STAGING_PREFIX, recover, swap_in, write_durable
from factory.store.duck import register
from factory.store.records import PROBLEM_SCHEMA, SAMPLE_SCHEMA, VERDICT_SCHEMA, Manifest

OUTCOME_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False), pa.field("status", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False)])


@dataclass
class PublishResult:
    """What `publish` wrote and decided.

    Attributes:
        manifest: the `manifest.json` content.
        placements: one row per published sample: sample_id, problem_id, shard (path relative to the
            run directory), row_index (row within that shard).
        outcomes: one row per input sample: sample_id, status ('published' | 'rejected' |
            'pending'), reason (reason code).
    """

    manifest: Manifest
    placements: pa.Table
    outcomes: pa.Table


def _conform(table: pa.Table | ds.Dataset, schema: pa.Schema, name: str, key: str | None) -> pa.Table | ds.Dataset:
    """Select and cast `table` to `schema`, or fail naming the table and the problem.

    An Arrow dataset (the compacted journal, scanned lazily so a large run never sits in memory) is
    only checked for its schema: its writer keeps one row per key.
    """
    if isinstance(table, ds.Dataset):
        if table.schema.remove_metadata() != schema:
            raise RunDirError(f"publish: the {name} dataset does not have the {name} schema of "
                              "factory/store/records.py")
        return table
    missing = [f for f in schema.names if f not in table.column_names]
    if missing:
        raise RunDirError(f"publish: the {name} table lacks columns {missing}; "
                          f"build it with the {name} schema of factory/store/records.py")
    table = table.select(schema.names).cast(schema)
    if key and pc.count_distinct(table[key]).as_py() != table.num_rows:
        raise RunDirError(f"publish: the {name} table repeats a {key}; keep one row per {key} before publishing")
    return table


def publish(run_dir: Path, *, run_id: str, pipeline: str, tokenizer: str, problems: pa.Table,
            samples: pa.Table | ds.Dataset, verdicts: pa.Table, cfg: PublishConfig) -> PublishResult:
    """Publish the accepted samples of a run as Parquet shards with a manifest and a dataset card.

    Args:
        run_dir: the run directory; `data/`, `manifest.json` and `README.md` are (re)written there.
        run_id: stored in every row, joins provenance `runs.run_id`.
        pipeline: the pipeline name, for the manifest and card.
        tokenizer: name of the tokenizer the token counts are measured in.
        problems: PROBLEM_SCHEMA rows, every status.
        samples: SAMPLE_SCHEMA rows (the teacher journal), one per sample_id.
        verdicts: VERDICT_SCHEMA rows, at most one per sample_id.
        cfg: shard size limits.

    Returns:
        The manifest, where each published sample landed, and every sample's final status.

    Raises:
        RunDirError: an input table does not follow its schema or repeats a sample.
    """
    run_dir = Path(run_dir)
    problems = _conform(problems, PROBLEM_SCHEMA, "problems", None)
    samples = _conform(samples, SAMPLE_SCHEMA, "samples", "sample_id")
    verdicts = _conform(verdicts, VERDICT_SCHEMA, "verdicts", "sample_id")
    recover(run_dir)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=run_dir))
    # DuckDB spills big sorts next to the output (same disk, cleaned up with the staging dir)
    con = duckdb.connect(config={"temp_directory": str(staging / "spill")})
    try:
        for name, table in (("problems_in", problems), ("samples_in", samples), ("verdicts_in", verdicts)):
            register(con, name, table)
        con.execute(JUDGE_SQL)
        outcomes = con.sql("SELECT sample_id, status, reason FROM judged ORDER BY problem_id, sample_index, sample_id")
        outcomes = outcomes.to_arrow_table().cast(OUTCOME_SCHEMA)
        entries, placements = write_shards(con, run_id, staging, cfg)
        stats, buckets = token_stats(con)
        manifest = Manifest(run_id=run_id, pipeline=pipeline, tokenizer=tokenizer,
                            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                            shards=entries, counts=counts(con), curriculum_buckets=buckets, token_stats=stats)
        write_durable(staging / CARD, card.render_card(manifest))
        write_durable(staging / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
        swap_in(run_dir, staging)
    finally:
        con.close()
        shutil.rmtree(staging, ignore_errors=True)
    return PublishResult(manifest=manifest, placements=placements, outcomes=outcomes)
