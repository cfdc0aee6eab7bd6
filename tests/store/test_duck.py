"""Tables handed to DuckDB: Parquet datasets through its own reader, with their row counts."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from factory.store.duck import register, unregister


def test_a_parquet_dataset_is_read_by_duckdb_knowing_its_rows(tmp_path):
    folder = tmp_path / "it's here"  # a quote in the path must not break the view
    folder.mkdir()
    pq.write_table(pa.table({"a": list(range(5000))}), folder / "t.parquet")
    con = duckdb.connect()
    register(con, "t", ds.dataset(folder / "t.parquet", format="parquet"))
    plan = con.execute("EXPLAIN SELECT * FROM t").fetchall()[0][1]
    # an Arrow scan would be planned as one row, and put on the build side of every hash join
    assert "READ_PARQUET" in plan and "5,000" in plan
    assert con.execute("SELECT count(*), sum(a) FROM t").fetchall() == [(5000, 12497500)]
    unregister(con, "t")
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM t")


def test_an_arrow_table_is_registered_as_it_is(tmp_path):
    con = duckdb.connect()
    register(con, "t", pa.table({"a": [1, 2, 3]}))
    assert con.execute("SELECT sum(a) FROM t").fetchall() == [(6,)]
    unregister(con, "t")
    with pytest.raises(duckdb.CatalogException):
        con.execute("SELECT * FROM t")
