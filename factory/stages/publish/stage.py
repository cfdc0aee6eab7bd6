"""The publish stage: accepted, deduplicated samples in, HF-layout Parquet shards, a manifest and a card out.

`select` decides in SQL what is published and why each other sample is not, `traces` which of a
problem's accepted traces to keep (near duplicates, k per problem); `shards` streams the rows
into Parquet files, one row group at a time; `swap` puts the new publication in place atomically; `card`
renders the dataset card. Output is deterministic: the same input gives byte-identical shards.
`problems.parquet` is rewritten with each problem's teacher pass rate.
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
from factory.stages.publish.select import ACCEPTED_SQL, JUDGE_SQL, PASS_RATE_SQL, apply_rejections, counts, token_stats
from factory.stages.publish.shards import write_shards
from factory.stages.publish.swap import CARD, MANIFEST, STAGING_PREFIX, recover, swap_in, write_durable
from factory.stages.publish.traces import choose
from factory.store.duck import register
from factory.store.records import PROBLEM_SCHEMA, SAMPLE_SCHEMA, VERDICT_SCHEMA, Manifest, SourceRecord, asked_statuses
from factory.store.rundir import write_parquet_atomic

OUTCOME_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False), pa.field("status", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False), pa.field("duplicate_of", pa.string())])


@dataclass
class PublishResult:
    """What `publish` wrote and decided.

    Attributes:
        manifest: the `manifest.json` content.
        placements: one row per published sample: sample_id, problem_id, shard (path relative to the
            run directory), row_index (row within that shard).
        outcomes: one row per input sample: sample_id, status ('published' | 'rejected' |
            'pending'), reason (reason code), duplicate_of (the published sample an exact or near
            duplicate trace copies).
        problems: the problems table with each asked problem's pass-rate columns filled.
    """

    manifest: Manifest
    placements: pa.Table
    outcomes: pa.Table
    problems: pa.Table


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


def _select(con: duckdb.DuckDBPyConnection, cfg: PublishConfig) -> None:
    """The pass-rate filter, then near-duplicate traces and the k kept per problem, applied to `judged`."""
    if cfg.select.pass_rate is not None:
        lo, hi = cfg.select.pass_rate
        con.execute(PASS_RATE_SQL, {"lo": lo, "hi": hi})
    if cfg.select.near_duplicate is None and cfg.select.policy == "all":
        return
    rejections = choose(con.sql(ACCEPTED_SQL).to_arrow_reader(4096), cfg.select)
    apply_rejections(con, rejections)


def _with_pass_rates(problems: pa.Table, con: duckdb.DuckDBPyConnection) -> pa.Table:
    """`problems` with the pass-rate columns filled for the asked rows, in their order."""
    stats = con.sql("SELECT problem_id, samples_judged, samples_correct, pass_rate FROM problem_stats").to_arrow_table()
    at = pc.index_in(problems["problem_id"], value_set=stats["problem_id"])
    # a duplicate shares its original's id but was never asked itself
    asked = pc.is_in(problems["status"], pa.array(asked_statuses(majority_vote=True)))
    at = pc.if_else(asked, at, pa.scalar(None, pa.int32()))
    for name in ("samples_judged", "samples_correct", "pass_rate"):
        problems = problems.set_column(problems.schema.get_field_index(name), PROBLEM_SCHEMA.field(name),
                                       stats[name].take(at).cast(PROBLEM_SCHEMA.field(name).type))
    return problems


def publish(run_dir: Path, *, run_id: str, pipeline: str, tokenizer: str, problems: pa.Table,
            samples: pa.Table | ds.Dataset, verdicts: pa.Table, cfg: PublishConfig,
            sources: list[SourceRecord] | None = None, tokenizer_files: dict | None = None) -> PublishResult:
    """Publish the accepted samples of a run as Parquet shards with a manifest and a dataset card.

    Args:
        run_dir: the run directory; `data/`, `manifest.json` and `README.md` are (re)written there.
        run_id: stored in every row, joins provenance `runs.run_id`.
        pipeline: the pipeline name, for the manifest and card.
        tokenizer: name of the tokenizer the token counts are measured in.
        problems: PROBLEM_SCHEMA rows, every status.
        samples: SAMPLE_SCHEMA rows (the teacher journal), one per sample_id.
        verdicts: VERDICT_SCHEMA rows, at most one per sample_id.
        cfg: trace selection, the pass-rate filter and shard size limits.
        sources: the run's sources as read, for the manifest and the card's license.
        tokenizer_files: what the lengths were counted with, for the manifest: tokenizer_revision (hub
            commit), tokenizer_sha256, chat_template_sha256 (None: no template).

    Returns:
        The manifest, where each published sample landed, every sample's final status, and the
        problems with their pass rates (also written to `problems.parquet`).

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
        _select(con, cfg)
        outcomes = con.sql("SELECT sample_id, status, reason, duplicate_of FROM judged "
                           "ORDER BY problem_id, sample_index, sample_id")
        outcomes = outcomes.to_arrow_table().cast(OUTCOME_SCHEMA)
        entries, placements = write_shards(con, run_id, staging, cfg)
        stats, buckets = token_stats(con)
        manifest = Manifest(run_id=run_id, pipeline=pipeline, tokenizer=tokenizer, **(tokenizer_files or {}),
                            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                            shards=entries, counts=counts(con), curriculum_buckets=buckets, token_stats=stats,
                            sources=sources or [])
        write_durable(staging / CARD, card.render_card(manifest))
        write_durable(staging / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
        swap_in(run_dir, staging)
        problems = _with_pass_rates(problems, con)
        write_parquet_atomic(run_dir / "problems.parquet", problems)
    finally:
        con.close()
        shutil.rmtree(staging, ignore_errors=True)
    return PublishResult(manifest=manifest, placements=placements, outcomes=outcomes, problems=problems)
