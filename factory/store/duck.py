"""Handing the run's tables to DuckDB so that its planner sees their size.

A pyarrow dataset registered as is reaches DuckDB as a Python scan of unknown length, which the planner
takes for one row: it then builds its hash joins on the compacted journal, every reasoning text of the
run, instead of probing with it (publishing 40k problems x 8 samples, the driver peaked at 3.5 GB).
Parquet files read by DuckDB's own reader carry their row counts, and only the columns a query uses are
decoded.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs


def register(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table | ds.Dataset) -> None:
    """Make `table` queryable as `name`: a view over DuckDB's Parquet reader for a Parquet dataset on
    local disk, else the Arrow object itself."""
    if isinstance(table, ds.FileSystemDataset) and isinstance(table.format, ds.ParquetFileFormat) \
            and isinstance(table.filesystem, pafs.LocalFileSystem):
        files = ", ".join("'" + f.replace("'", "''") + "'" for f in table.files)
        con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * FROM read_parquet([{files}])')
    else:
        con.register(name, table)


def unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Undo `register`."""
    if con.execute("SELECT count(*) FROM duckdb_views() WHERE temporary AND view_name = ?", [name]).fetchone()[0]:
        con.execute(f'DROP VIEW "{name}"')
    else:
        con.unregister(name)
