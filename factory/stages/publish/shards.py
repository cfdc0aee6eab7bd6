"""Published rows into HF-layout Parquet shards: sizes estimated up front, rows streamed, one row group at a time.

Each curriculum bucket has a directory of its own (`data/8k/`, `data/16k/`, ...: the rows whose smallest
fitting bucket it is), so that the card's cumulative configs (`le16k` = `data/8k` + `data/16k`) are lists of
files; an empty bucket still gets one empty shard, since a loader fails on a config that matches nothing.
Within a bucket, shards are split under both a row and a byte limit from a per-row size estimate made before writing,
so every shard's name (`train-K-of-N`) is known when it is written; row groups never straddle two
shards. Output is deterministic: the same rows give byte-identical shards.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from factory.config import PublishConfig
from factory.errors import RunDirError
from factory.stages.publish.select import ORDER, ROWS_SQL
from factory.store.records import CURRICULUM_BUCKETS, PUBLISHED_SCHEMA, ShardEntry
from factory.store.rundir import file_sha256

DATA_DIR = "data"
SPLIT = "train"

PLACEMENT_SCHEMA = pa.schema([
    pa.field("sample_id", pa.string(), nullable=False), pa.field("problem_id", pa.string(), nullable=False),
    pa.field("shard", pa.string(), nullable=False), pa.field("row_index", pa.int64(), nullable=False)])


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
# Published rows per pass over the texts. DuckDB holds a pass's rows (reasoning twice, in the reply and
# in `messages`) to sort them: one pass over 40k x 8 samples peaked at 1.9 GB, passes of this size at
# about 300 MB, for one more scan of the compacted journal each (a second or two at that size).
PASS_ROWS = 50_000



_PASS_SQL = f"SELECT * FROM ({ROWS_SQL}) WHERE curriculum_bucket = $bucket AND problem_id BETWEEN $first AND $last"


def bucket_dir(bucket: int) -> str:
    """The directory of a bucket's shards, relative to the run directory: `data/16k` for 16384."""
    return f"{DATA_DIR}/{bucket // 1024}k"


def _estimate_sql() -> str:
    """Per published row of a pass (in shard order): its text bytes plus generous fixed overheads."""
    texts = " + ".join(f"strlen({f.name})" for f in PUBLISHED_SCHEMA if pa.types.is_string(f.type))
    items = "list_sum(list_transform(messages, lambda m: strlen(m.role) + strlen(m.content) + 8))"
    return f"SELECT {texts} + coalesce({items}, 0) + {_ROW_OVERHEAD} AS est FROM ({_PASS_SQL}) {ORDER}"


def passes(con: duckdb.DuckDBPyConnection, bucket: int, max_rows: int | None = None) -> list[dict]:
    """Consecutive problem_id ranges of about `max_rows` (default PASS_ROWS) published rows of `bucket` each
    (a problem's rows are never split).

    The shard order starts with problem_id, so the passes' rows, each sorted, follow one another in order.
    """
    per_problem = con.sql("SELECT problem_id, count(*) FROM judged WHERE status = 'published' AND bucket = $b "
                          "GROUP BY problem_id ORDER BY problem_id", params={"b": bucket}).fetchall()
    max_rows = max_rows or PASS_ROWS
    out, first, rows = [], None, 0
    for problem_id, n in per_problem:
        first, rows = problem_id if first is None else first, rows + n
        if rows >= max_rows:
            out.append({"first": first, "last": problem_id, "bucket": bucket})
            first, rows = None, 0
    if first is not None:
        out.append({"first": first, "last": per_problem[-1][0], "bucket": bucket})
    return out


def _rows(con: duckdb.DuckDBPyConnection, run_id: str, ranges: list[dict], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The passes' rows in shard order, as batches of exactly `batch_rows` (the last one shorter): the batches
    one query over all rows would give, so the shards' bytes do not depend on where passes end."""
    pending: list[pa.RecordBatch] = []
    have = 0
    for bounds in ranges:
        for batch in con.sql(f"{_PASS_SQL} {ORDER}", params={"run_id": run_id, **bounds}).to_arrow_reader(batch_rows):
            pending.append(batch)
            have += batch.num_rows
            while have >= batch_rows:
                table = pa.Table.from_batches(pending)
                yield from table.slice(0, batch_rows).combine_chunks().to_batches()
                rest = table.slice(batch_rows)
                pending, have = rest.to_batches(), rest.num_rows
    if have:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


def _checked(chunk: pa.Table) -> pa.Table:
    """Cast a chunk of DuckDB output to PUBLISHED_SCHEMA, refusing nulls the schema forbids."""
    for field in PUBLISHED_SCHEMA:  # the joins should make nulls impossible; check, do not trust
        if not field.nullable and chunk[field.name].null_count:
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


def _write_shard(path: Path, chunks: Iterable[pa.Table], row_group_rows: int) -> None:
    """Write one shard file, one row group per chunk."""
    with pq.ParquetWriter(path, PUBLISHED_SCHEMA, compression="zstd", use_dictionary=_DICTIONARY,
                          write_statistics=_STATISTICS) as writer:
        for chunk in chunks:
            writer.write_table(chunk, row_group_size=row_group_rows)


def write_shards(con: duckdb.DuckDBPyConnection, run_id: str, staging: Path,
                  cfg: PublishConfig) -> tuple[list[ShardEntry], pa.Table]:
    """Stream the published rows into shards under `staging/data/<bucket>/`; return manifest entries and
    placements."""
    entries, placements = [], []
    for bucket in CURRICULUM_BUCKETS:
        bucket_entries, bucket_placements = _write_bucket(con, run_id, staging, cfg, bucket)
        entries += bucket_entries
        placements.append(bucket_placements)
    return entries, pa.concat_tables(placements)


def _write_bucket(con: duckdb.DuckDBPyConnection, run_id: str, staging: Path, cfg: PublishConfig,
                  bucket: int) -> tuple[list[ShardEntry], pa.Table]:
    folder = bucket_dir(bucket)
    (staging / folder).mkdir(parents=True)
    rg = cfg.row_group_rows
    ranges = passes(con, bucket)
    est = np.concatenate([np.zeros(0, np.int64)] + [
        con.sql(_estimate_sql(), params={"run_id": run_id, **b}).to_arrow_table()["est"].to_numpy() for b in ranges])
    bounds = shard_bounds(est + -(-_ROW_GROUP_OVERHEAD // rg), cfg.max_shard_rows, cfg.max_shard_bytes)
    # an empty bucket still gets one empty shard: loaders fail on a config whose data_files match nothing
    bounds = bounds or [(0, 0)]
    # row groups never straddle two shards, so each shard is a whole number of chunks
    sizes = [min(rg, stop - i) for start, stop in bounds for i in range(start, stop, rg)]
    reader = _rows(con, run_id, ranges, max(rg, 1024))
    keys: list[pa.Table] = []

    def chunks() -> Iterator[pa.Table]:
        for chunk in _rechunk(reader, sizes):
            chunk = _checked(chunk)
            keys.append(chunk.select(["id", "problem_id"]))
            yield chunk

    stream = chunks()
    entries, shard_col, index_col = [], [], []
    for k, (start, stop) in enumerate(bounds):
        rel = f"{folder}/{SPLIT}-{k:05d}-of-{len(bounds):05d}.parquet"
        _write_shard(staging / rel, itertools.islice(stream, -(-(stop - start) // rg)), rg)
        entries.append(ShardEntry(path=rel, rows=stop - start, bytes=(staging / rel).stat().st_size,
                                  sha256=file_sha256(staging / rel), bucket=bucket))
        shard_col.append(pa.repeat(rel, stop - start))
        index_col.append(np.arange(stop - start, dtype=np.int64))
    if not keys:
        return entries, PLACEMENT_SCHEMA.empty_table()
    ids = pa.concat_tables(keys)
    return entries, pa.table([ids["id"], ids["problem_id"], pa.concat_arrays(shard_col),
                              pa.array(np.concatenate(index_col))], schema=PLACEMENT_SCHEMA)
