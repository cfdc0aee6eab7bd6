"""`factory audit RUN_DIR --export DIR`: every table and the lineage view as Parquet, and nothing else writes."""

import json

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from factory.cli import main
from factory.errors import RunDirError
from factory.report.export import export
from factory.store.provenance import relations

from support import runs


@pytest.fixture
def run_dir(tmp_path):
    (tmp_path / "run").mkdir()
    runs.provenance_run(tmp_path / "run")
    return tmp_path / "run"


def test_every_table_and_the_lineage_view_becomes_one_parquet_file_with_the_same_rows(run_dir, tmp_path):
    out = tmp_path / "warehouse"
    written = export(run_dir, out)
    assert sorted(written) == sorted(relations())
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.parquet" for name in relations())  # no temp files
    con = duckdb.connect(str(run_dir / "provenance.duckdb"), read_only=True)
    for name in relations():
        table = pq.read_table(out / f"{name}.parquet")
        assert table.num_rows == written[name] == con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        assert table.column_names == [d[0] for d in con.execute(f"SELECT * FROM {name} LIMIT 0").description]
    assert written["lineage"] == 4 and written["outcomes"] == 12
    lineage = pq.read_table(out / "lineage.parquet").to_pylist()
    assert sorted(r["id"] for r in lineage) == sorted(r[0] for r in con.execute("SELECT sample_id FROM published")
                                                      .fetchall())
    # JSON columns travel as JSON text a warehouse can parse
    requests = pq.read_table(out / "requests.parquet").to_pylist()
    assert all(json.loads(r["messages"])[-1]["role"] == "user" for r in requests)
    assert {json.loads(r["sampling"])["max_tokens"] for r in requests} == {16384}
    con.close()


def test_exporting_again_replaces_the_files(run_dir, tmp_path):
    out = tmp_path / "warehouse"
    export(run_dir, out)
    (out / "published.parquet").write_bytes(b"stale")
    export(run_dir, out)
    assert pq.read_table(out / "published.parquet").num_rows == 4


def test_an_export_target_that_is_a_file_is_one_line(run_dir, tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(RunDirError, match="is a file; pass a directory"):
        export(run_dir, target)


def test_the_cli_exports_and_refuses_a_query_beside_it(run_dir, tmp_path):
    cli = CliRunner()
    res = cli.invoke(main, ["audit", str(run_dir), "--export", str(tmp_path / "w")])
    assert res.exit_code == 0, res.output
    assert f"{tmp_path / 'w' / 'published.parquet'}  4 rows" in res.output.splitlines()
    res = cli.invoke(main, ["audit", str(run_dir), "--export", str(tmp_path / "w2"), "--json"])
    assert json.loads(res.output)["lineage"] == 4
    res = cli.invoke(main, ["audit", str(run_dir), "SELECT 1", "--export", str(tmp_path / "w3")])
    assert res.exit_code == 2 and "--export writes every table" in res.output and not (tmp_path / "w3").exists()


def test_ad_hoc_sql_still_cannot_write_what_export_writes(run_dir, tmp_path):
    out = tmp_path / "copy.parquet"
    res = CliRunner().invoke(main, ["audit", str(run_dir), f"COPY published TO '{out}' (FORMAT parquet)"])
    assert res.exit_code == 1 and res.output.startswith("error: SQL failed:") and not out.exists()
