"""`factory audit`: the provenance summary, one read-only query as a table, and one-line errors."""

import duckdb
import pytest

from factory.errors import FactoryError, RunDirError
from factory.report.audit import SUMMARY, answer, audit
from factory.report.export import export
from factory.store.provenance import relations

from support import runs


@pytest.fixture
def run_dir(tmp_path):
    runs.provenance_run(tmp_path)
    return tmp_path


def test_the_summary_has_every_section_with_its_figures(run_dir):
    text = audit(run_dir)
    assert [line[3:] for line in text.splitlines() if line.startswith("== ")] == list(SUMMARY)
    section = text.split("== problems by source and status\n")[1].split("\n\n")[0].splitlines()
    assert section[0].split() == ["source", "status", "problems"]
    assert {tuple(line.split()) for line in section[2:]} == {
        ("demo", "contaminated", "1"), ("demo", "no_reference", "1"), ("demo", "ok", "3"),
        ("extra", "duplicate", "1")}
    samples = text.split("== samples by final status and reason\n")[1].split("\n\n")[0]
    assert "published  correct" in samples and "rejected   duplicate_trace" in samples
    sources = text.split("== sources and licenses\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[:2] + line.split()[-3:] for line in sources[2:]] == [
        ["demo", "train", "mit", "pipeline", "5"], ["extra", "train", "cc-by-4.0", "dataset", "1"],
        ["bench", "decontaminate", "test", "unknown", "30"]]  # license_from is empty: nothing declared


def test_a_database_from_before_the_sources_table_still_summarizes(run_dir):
    with duckdb.connect(str(run_dir / "provenance.duckdb")) as con:
        con.execute("DROP TABLE sources")
    text = audit(run_dir)
    assert "== sources and licenses\n(not recorded in this database" in text and "== sessions\n" in text


def test_a_query_comes_back_as_an_aligned_table(run_dir):
    lines = audit(run_dir, "SELECT status, count(*) AS n FROM outcomes GROUP BY 1 ORDER BY 1").splitlines()
    assert lines == ["status     n", "---------  -", "pending    1", "published  4", "rejected   7"]
    nulls = audit(run_dir, "SELECT NULL AS x, 'a' AS y")
    assert nulls.splitlines()[2].split() == ["a"]  # NULL prints empty


def test_bad_sql_is_one_line_naming_every_table_and_view(run_dir):
    with pytest.raises(FactoryError) as err:
        audit(run_dir, "SELECT nope FROM nowhere")
    message = str(err.value)
    assert "\n" not in message and message.startswith("SQL failed:")
    for name in relations():
        assert name in message
    assert "endpoint_costs" in message and "lineage" in message


def test_the_database_is_opened_read_only(run_dir):
    with pytest.raises(FactoryError):
        audit(run_dir, "DROP TABLE published")
    with pytest.raises(FactoryError):
        audit(run_dir, "INSERT INTO runs VALUES ('x', 'y', '{}', 'z', now())")
    con = duckdb.connect(str(run_dir / "provenance.duckdb"), read_only=True)
    assert con.sql("SELECT count(*) FROM published").fetchall() == [(4,)] and con.sql(
        "SELECT count(*) FROM runs").fetchall() == [(1,)]
    con.close()


def test_a_run_without_provenance_is_named(tmp_path):
    with pytest.raises(RunDirError, match="no provenance database at"):
        audit(tmp_path)


@pytest.mark.parametrize("sql", [
    "COPY (SELECT 1 AS x) TO '{out}'",
    "COPY published TO '{out}' (FORMAT parquet)",
    "SELECT * FROM read_csv_auto('{secret}')",
    "ATTACH '{out}.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
])
def test_read_only_holds_for_files_too(run_dir, tmp_path, sql):
    secret = tmp_path / "secret.csv"
    secret.write_text("token\nabc\n")
    out = tmp_path / "written.csv"
    with pytest.raises(FactoryError, match="^SQL failed:"):
        audit(run_dir, sql.format(out=out, secret=secret))
    assert not out.exists() and not (tmp_path / "written.csv.duckdb").exists()
    assert audit(run_dir, "SELECT count(*) AS n FROM published").splitlines()[-1].strip() == "4"


def _truncate(path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


# 100 bytes: duckdb refuses to open it; a fifth: it opens, and the first query reaches a page it lacks
@pytest.mark.parametrize("keep", [100, 0.2], ids=["fails-to-open", "fails-mid-query"])
@pytest.mark.parametrize("ask", [
    lambda d: audit(d), lambda d: audit(d, as_json=True), lambda d: audit(d, "SELECT * FROM requests"),
    lambda d: answer(d, "cost", []), lambda d: answer(d, "rejections", []),
    lambda d: export(d, d / "warehouse")], ids=["summary", "json", "sql", "cost", "rejections", "export"])
def test_a_truncated_database_is_one_line_naming_it_for_every_reader(run_dir, keep, ask):
    db = run_dir / "provenance.duckdb"
    _truncate(db, keep if isinstance(keep, int) else int(db.stat().st_size * keep))
    with pytest.raises(RunDirError) as caught:
        ask(run_dir)
    message = str(caught.value)
    assert message.startswith(f"{db}: the provenance database cannot be read, it is truncated or damaged (IO Error")
    assert "rerun `factory run`" in message and "\n" not in message
