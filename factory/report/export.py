"""`factory audit RUN_DIR --export DIR`: the provenance database as Parquet, for a warehouse.

One file per table and one for the `lineage` view (`DIR/TABLE.parquet`, zstd), each written to a temporary
name and renamed, so a reader never sees half a file. This is the one way to write files from the
database: ad-hoc `factory audit` SQL runs with external access off and cannot.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from factory.errors import RunDirError
from factory.report.audit import provenance

_BATCH_ROWS = 65_536


def export(run_dir: Path, out: Path) -> dict[str, int]:
    """Write every table and view of `run_dir`'s provenance to `out/NAME.parquet`; rows written, by name."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--export {str(out)!r} is a file; pass a directory for the Parquet files")
    with provenance(run_dir) as con:
        return _export(con, run_dir, out)


def _export(con: duckdb.DuckDBPyConnection, run_dir: Path, out: Path) -> dict[str, int]:
    try:
        # the database's own relations, not the DDL's: an older database has fewer, and all are exported
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "ORDER BY table_type, table_name").fetchall()]
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        for name in names:
            # Arrow batches out of the connection, Parquet written here (the connection itself never touches
            # files), streamed so a table of millions of requests never sits in memory whole
            reader = con.sql(f'SELECT * FROM "{name}"').to_arrow_reader(_BATCH_ROWS)
            target = out / f"{name}.parquet"
            tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            rows = 0
            try:
                with pq.ParquetWriter(tmp, reader.schema, compression="zstd") as writer:
                    for batch in reader:
                        writer.write_batch(batch)
                        rows += batch.num_rows
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
            written[name] = rows
        return written
    except duckdb.IOException:
        raise  # the database's bytes: `provenance` words it
    except duckdb.Error as e:
        raise RunDirError(f"cannot export {str(run_dir)!r}: {str(e).splitlines()[0]}") from None
