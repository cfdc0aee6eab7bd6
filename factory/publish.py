"""The publish stage: accepted, deduplicated samples in, HF-layout Parquet shards and a manifest out.

Every set-wise decision (joins, trace dedup, counts, token stats) is a DuckDB query over the Arrow
tables the driver hands in; Python only loops over shards and row groups. The published rows are
streamed from DuckDB into the shards, so only one row group of them is held in Python at a time.

The publication is swapped in atomically: shards, manifest and card are built in a hidden staging
directory inside the run directory (same file system, so renames are atomic) and then renamed into
place. Output is deterministic: the same input gives byte-identical shards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import typing
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from factory import card
from factory.config import PublishConfig
from factory.errors import RunDirError
from factory.records import (CURRICULUM_BUCKETS, PROBLEM_SCHEMA, PUBLISHED_SCHEMA, SAMPLE_SCHEMA,
                             VERDICT_SCHEMA, Manifest, Problem, ShardEntry)

DATA_DIR = "data"
SPLIT = "train"
MANIFEST = "manifest.json"
CARD = "README.md"
_STAGING_PREFIX = ".publish-tmp-"
_OLD_PREFIX = ".publish-old-"

PLACEMENT_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False), pa.field("problem_id", pa.string(), nullable=False),
    pa.field("shard", pa.string(), nullable=False), pa.field("row_index", pa.int64(), nullable=False)])
OUTCOME_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False), pa.field("status", pa.string(), nullable=False),
    pa.field("reason", pa.string(), nullable=False)])

# Size estimate per row on top of its text bytes: Parquet length prefixes, int64 columns, list
# offsets and levels. Per file: footer, Arrow schema; per row group: column-chunk metadata. All
# generous, so that uncompressed estimate + overheads bounds the file size.
_ROW_OVERHEAD = 160
_FILE_OVERHEAD = 8 * 1024
_ROW_GROUP_OVERHEAD = 4 * 1024
# Columns whose values repeat across rows (one problem, n samples) are worth a dictionary; the
# long unique texts are not, and would only make the writer try and fall back.
_DICTIONARY = ["problem_id", "run_id", "source", "source_row", "problem", "reference_answer",
               "predicted_answer", "model"]
# Statistics only where predicate pushdown helps; min/max of long texts would bloat the footer.
_STATISTICS = ["id", "problem_id", "run_id", "source", "model", "sample_index", "prompt_tokens",
               "reasoning_tokens", "answer_tokens", "total_tokens", "curriculum_bucket"]


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


def _bucket_sql(column: str) -> str:
    # Mirrors records.bucket_for, generated from the same constant so the two cannot disagree.
    whens = " ".join(f"WHEN {column} <= {b} THEN {b}" for b in CURRICULUM_BUCKETS)
    return f"CASE {whens} ELSE NULL END"


_JUDGE_SQL = f"""
CREATE TEMP TABLE ok_problems AS
SELECT * FROM problems_in WHERE status = 'ok'
QUALIFY row_number() OVER (PARTITION BY problem_id ORDER BY source, source_row) = 1;

CREATE TEMP TABLE judged AS
WITH j AS (
    SELECT s.sample_id, s.problem_id, s.sample_index, s.outcome,
           v.sample_id IS NOT NULL AS has_verdict, v.correct, v.reason AS verdict_reason, v.trace_hash,
           ok.problem_id IS NOT NULL AS problem_ok,
           (SELECT min(p.status) FROM problems_in p WHERE p.problem_id = s.problem_id) AS problem_status,
           {_bucket_sql("v.total_tokens")} AS bucket
    FROM samples_in s
    LEFT JOIN verdicts_in v ON v.sample_id = s.sample_id
    LEFT JOIN ok_problems ok ON ok.problem_id = s.problem_id
), c AS (
    SELECT *, coalesce(has_verdict AND correct AND problem_ok AND bucket IS NOT NULL, false) AS candidate
    FROM j
), r AS (
    -- exact trace dedup among accepted samples: the lowest sample_index of each trace survives;
    -- a missing trace hash never counts as a duplicate
    SELECT *, row_number() OVER (PARTITION BY candidate, problem_id, coalesce(trace_hash, sample_id)
                                 ORDER BY sample_index, sample_id) AS trace_rank
    FROM c
)
SELECT sample_id, problem_id, sample_index, bucket,
    CASE WHEN NOT has_verdict THEN (CASE WHEN outcome IN ('failed', 'rejected') THEN 'rejected' ELSE 'pending' END)
         WHEN NOT candidate OR trace_rank > 1 THEN 'rejected'
         ELSE 'published' END AS status,
    CASE WHEN NOT has_verdict THEN (CASE WHEN outcome IN ('failed', 'rejected') THEN 'request_' || outcome
                                         ELSE 'no_verdict' END)
         WHEN NOT correct THEN verdict_reason
         WHEN NOT problem_ok THEN 'problem_' || coalesce(problem_status, 'missing')
         WHEN bucket IS NULL THEN 'over_length'
         WHEN trace_rank > 1 THEN 'duplicate_trace'
         ELSE verdict_reason END AS reason
FROM r;
"""

_ROWS_SQL = """
SELECT j.sample_id AS id, j.problem_id, $run_id AS run_id, ok.source, ok.source_row, ok.problem,
       ok.reference_answer, coalesce(s.reasoning, '') AS reasoning, coalesce(s.answer, '') AS answer,
       coalesce(v.predicted, '') AS predicted_answer,
       -- the request's own system/user turns, then the reply in the R1 chat format
       list_append(list_filter(s.messages, lambda m: m.role IN ('system', 'user')),
                   {'role': 'assistant', 'content': '<think>\n' || coalesce(s.reasoning, '') || '\n</think>\n\n'
                                                    || coalesce(s.answer, '')}) AS messages,
       s.model, s.sample_index, v.prompt_tokens, v.reasoning_tokens, v.answer_tokens, v.total_tokens,
       j.bucket AS curriculum_bucket
FROM judged j
JOIN samples_in s ON s.sample_id = j.sample_id
JOIN verdicts_in v ON v.sample_id = j.sample_id
JOIN ok_problems ok ON ok.problem_id = j.problem_id
WHERE j.status = 'published'
"""
_ORDER = "ORDER BY problem_id, sample_index, id"


def _estimate_sql() -> str:
    """Per published row (in shard order): its text bytes plus generous fixed overheads."""
    texts = " + ".join(f"strlen({f.name})" for f in PUBLISHED_SCHEMA if pa.types.is_string(f.type))
    items = "list_sum(list_transform(messages, lambda m: strlen(m.role) + strlen(m.content) + 8))"
    return f"SELECT {texts} + coalesce({items}, 0) + {_ROW_OVERHEAD} AS est FROM ({_ROWS_SQL}) {_ORDER}"


def _conform(table: pa.Table | ds.Dataset, schema: pa.Schema, name: str, key: str | None) -> pa.Table | ds.Dataset:
    """Select and cast `table` to `schema`, or fail naming the table and the problem.

    An Arrow dataset (the compacted journal, scanned lazily so a large run never sits in memory) is
    only checked for its schema: its writer keeps one row per key.
    """
    if isinstance(table, ds.Dataset):
        if table.schema.remove_metadata() != schema:
            raise RunDirError(f"publish: the {name} dataset does not have the {name} schema of factory/records.py")
        return table
    missing = [f for f in schema.names if f not in table.column_names]
    if missing:
        raise RunDirError(f"publish: the {name} table lacks columns {missing}; "
                          f"build it with the {name} schema of factory/records.py")
    table = table.select(schema.names).cast(schema)
    if key and pc.count_distinct(table[key]).as_py() != table.num_rows:
        raise RunDirError(f"publish: the {name} table repeats a {key}; keep one row per {key} before publishing")
    return table


def _checked(chunk: pa.Table) -> pa.Table:
    """Cast a chunk of DuckDB output to PUBLISHED_SCHEMA, refusing nulls the schema forbids."""
    for field in PUBLISHED_SCHEMA:  # the joins should make nulls impossible; check, do not trust
        if chunk[field.name].null_count:
            raise RunDirError(f"publish: column {field.name!r} of a published row is null; the inputs are inconsistent")
    return chunk.cast(PUBLISHED_SCHEMA)


def _rechunk(batches: Iterator[pa.RecordBatch], sizes: Iterable[int]) -> Iterator[pa.Table]:
    """Regroup a batch stream into tables of exactly `sizes` rows, in order (row groups of shards)."""
    pending: list[pa.RecordBatch] = []
    have = 0
    for size in sizes:
        while have < size:
            batch = next(batches)
            pending.append(batch)
            have += batch.num_rows
        table = pa.Table.from_batches(pending)
        yield table.slice(0, size)
        rest = table.slice(size)
        pending, have = rest.to_batches(), rest.num_rows


def shard_bounds(row_bytes: np.ndarray, max_rows: int, max_bytes: int) -> list[tuple[int, int]]:
    """Split rows into consecutive (start, stop) shards under both limits (at least one row each)."""
    cum = np.cumsum(row_bytes)
    budget = max(max_bytes - _FILE_OVERHEAD, 0)
    bounds, start, n = [], 0, len(row_bytes)
    while start < n:
        before = cum[start - 1] if start else 0
        fit = int(np.searchsorted(cum, before + budget, side="right"))  # rows [start, fit) fit the budget
        stop = min(start + max_rows, max(fit, start + 1), n)
        bounds.append((start, stop))
        start = stop
    return bounds


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_shard(path: Path, chunks: Iterable[pa.Table], row_group_rows: int) -> None:
    """Write one shard file, one row group per chunk."""
    with pq.ParquetWriter(path, PUBLISHED_SCHEMA, compression="zstd", use_dictionary=_DICTIONARY,
                          write_statistics=_STATISTICS) as writer:
        for chunk in chunks:
            writer.write_table(chunk, row_group_size=row_group_rows)


def _write_shards(con: duckdb.DuckDBPyConnection, run_id: str, staging: Path,
                  cfg: PublishConfig) -> tuple[list[ShardEntry], pa.Table]:
    """Stream the published rows into shards under `staging/data`; return manifest entries and placements."""
    (staging / DATA_DIR).mkdir()
    rg = cfg.row_group_rows
    est = con.sql(_estimate_sql(), params={"run_id": run_id}).to_arrow_table()["est"].to_numpy()
    bounds = shard_bounds(est + -(-_ROW_GROUP_OVERHEAD // rg), cfg.max_shard_rows, cfg.max_shard_bytes)
    # nothing accepted still gets one empty shard: loaders fail on a card whose data_files match nothing
    bounds = bounds or [(0, 0)]
    # row groups never straddle two shards, so each shard is a whole number of chunks
    sizes = [min(rg, stop - i) for start, stop in bounds for i in range(start, stop, rg)]
    reader = con.sql(f"{_ROWS_SQL} {_ORDER}", params={"run_id": run_id}).to_arrow_reader(max(rg, 1024))
    keys: list[pa.Table] = []

    def chunks() -> Iterator[pa.Table]:
        for chunk in _rechunk(iter(reader), sizes):
            chunk = _checked(chunk)
            keys.append(chunk.select(["id", "problem_id"]))
            yield chunk

    stream = chunks()
    entries, shard_col, index_col = [], [], []
    for k, (start, stop) in enumerate(bounds):
        rel = f"{DATA_DIR}/{SPLIT}-{k:05d}-of-{len(bounds):05d}.parquet"
        _write_shard(staging / rel, itertools.islice(stream, -(-(stop - start) // rg)), rg)
        entries.append(ShardEntry(path=rel, rows=stop - start, bytes=(staging / rel).stat().st_size,
                                  sha256=_sha256(staging / rel)))
        shard_col.append(pa.repeat(rel, stop - start))
        index_col.append(np.arange(stop - start, dtype=np.int64))
    if not keys:
        return entries, PLACEMENT_SCHEMA.empty_table()
    ids = pa.concat_tables(keys)
    return entries, pa.table([ids["id"], ids["problem_id"], pa.concat_arrays(shard_col),
                              pa.array(np.concatenate(index_col))], schema=PLACEMENT_SCHEMA)


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Problems by status, samples by final status, rejections by reason (zeros kept for statuses)."""
    counts = {"problems": con.sql("SELECT count(*) FROM problems_in").fetchall()[0][0]}
    for status in typing.get_args(Problem.model_fields["status"].annotation):
        counts[f"problems_{status}"] = 0
    for status, n in con.sql("SELECT status, count(*) FROM problems_in GROUP BY ALL ORDER BY 1").fetchall():
        counts[f"problems_{status}"] = n
    counts["samples"] = con.sql("SELECT count(*) FROM judged").fetchall()[0][0]
    for status in ("published", "rejected", "pending"):
        counts[status] = con.sql(f"SELECT count(*) FROM judged WHERE status = '{status}'").fetchall()[0][0]
    rejected = "SELECT reason, count(*) FROM judged WHERE status = 'rejected' GROUP BY ALL ORDER BY 1"
    for reason, n in con.sql(rejected).fetchall():
        counts[f"rejected.{reason}"] = n
    return counts


def _token_stats(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, float], dict[str, int]]:
    """Summary of published total_tokens (zeros when nothing was published) and rows per bucket."""
    published = "judged j JOIN verdicts_in v ON v.sample_id = j.sample_id WHERE j.status = 'published'"
    values = con.sql(f"""
        SELECT coalesce(min(total_tokens), 0), coalesce(round(avg(total_tokens), 3), 0),
               coalesce(quantile_cont(total_tokens, 0.5), 0), coalesce(quantile_cont(total_tokens, 0.9), 0),
               coalesce(max(total_tokens), 0)
        FROM {published}""").fetchall()[0]
    stats = dict(zip(("min", "mean", "p50", "p90", "max"), map(float, values)))
    buckets = {str(b): 0 for b in CURRICULUM_BUCKETS}
    for bucket, n in con.sql(f"SELECT bucket, count(*) FROM {published} GROUP BY ALL").fetchall():
        buckets[str(bucket)] = n
    return stats, buckets


def _write_durable(path: Path, text: str) -> None:
    """Write and fsync a staged file, so the rename that publishes it never exposes a partial file."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def recover(run_dir: Path) -> None:
    """Finish or undo a publication that crashed mid-swap, and drop stale staging directories.

    The only state a crash can leave without a complete publication in place is `data/` renamed
    away and the new one not yet renamed in; then the old one is put back.
    """
    for old in sorted(run_dir.glob(_OLD_PREFIX + "*")):
        if not (run_dir / DATA_DIR).exists() and (old / DATA_DIR).is_dir():
            os.rename(old / DATA_DIR, run_dir / DATA_DIR)
        shutil.rmtree(old)
    for staging in run_dir.glob(_STAGING_PREFIX + "*"):
        shutil.rmtree(staging)


def _swap_in(run_dir: Path, staging: Path) -> None:
    """Replace the published data, card and manifest (the manifest last: it vouches for the rest)."""
    data, old = run_dir / DATA_DIR, None
    if data.exists():
        # two renames, not one: POSIX cannot rename a directory over a non-empty one. The old tree
        # waits under a name recover() knows, in case we die between the two.
        old = Path(tempfile.mkdtemp(prefix=_OLD_PREFIX, dir=run_dir))
        os.rename(data, old / DATA_DIR)
    try:
        os.rename(staging / DATA_DIR, data)
    except BaseException:
        if old is not None:
            os.rename(old / DATA_DIR, data)
            old.rmdir()
        raise
    os.replace(staging / CARD, run_dir / CARD)
    os.replace(staging / MANIFEST, run_dir / MANIFEST)
    if old is not None:
        shutil.rmtree(old)


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
    staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=run_dir))
    # DuckDB spills big sorts next to the output (same disk, cleaned up with the staging dir)
    con = duckdb.connect(config={"temp_directory": str(staging / "spill")})
    try:
        for name, table in (("problems_in", problems), ("samples_in", samples), ("verdicts_in", verdicts)):
            con.register(name, table)
        con.execute(_JUDGE_SQL)
        outcomes = con.sql("SELECT sample_id, status, reason FROM judged ORDER BY problem_id, sample_index, sample_id")
        outcomes = outcomes.to_arrow_table().cast(OUTCOME_SCHEMA)
        entries, placements = _write_shards(con, run_id, staging, cfg)
        stats, buckets = _token_stats(con)
        manifest = Manifest(run_id=run_id, pipeline=pipeline, tokenizer=tokenizer,
                            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                            shards=entries, counts=_counts(con), curriculum_buckets=buckets, token_stats=stats)
        _write_durable(staging / CARD, card.render_card(manifest))
        _write_durable(staging / MANIFEST, manifest.model_dump_json(indent=2) + "\n")
        _swap_in(run_dir, staging)
    finally:
        con.close()
        shutil.rmtree(staging, ignore_errors=True)
    return PublishResult(manifest=manifest, placements=placements, outcomes=outcomes)
