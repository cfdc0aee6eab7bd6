"""The checked-in files in schemas/ are exactly what the code renders."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb

from factory.store import schemas
from factory.store.records import PUBLISHED_SCHEMA


def test_checked_in_schemas_match_the_code():
    stale = schemas.drifted()
    assert stale == [], f"regenerate with `python -m factory.store.schemas`: {stale}"


def test_check_flag_lists_drifted_files_and_write_fixes_them(tmp_path, capsys):
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert len(schemas.render()) == 3 and all(name in err for name in schemas.render())
    assert schemas.main(["--dir", str(tmp_path)]) == 0
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / "provenance.sql").write_text("-- edited by hand\n")
    assert schemas.main(["--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "provenance.sql" in err and "manifest" not in err


def test_module_entry_point_exits_nonzero_on_drift(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "factory.store.schemas", "--check", "--dir", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "published_row.schema.json" in proc.stderr


def test_rendered_files_describe_the_real_contracts():
    files = schemas.render()
    row = json.loads(files["published_row.schema.json"])
    assert list(row["properties"]) == PUBLISHED_SCHEMA.names and row["additionalProperties"] is False
    assert "shards" in json.loads(files["manifest.schema.json"])["properties"]
    con = duckdb.connect()
    con.execute(files["provenance.sql"])  # the DDL file runs as-is
    tables = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert tables == {"runs", "sessions", "sources", "problems", "contaminated_by", "requests", "verdicts",
                      "outcomes", "published", "endpoint_costs"}
    assert con.sql("SELECT count(*) FROM duckdb_views() WHERE view_name = 'lineage'").fetchall() == [(1,)]
