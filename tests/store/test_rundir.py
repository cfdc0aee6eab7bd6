"""The run directory: identity fixed on first use, one driver at a time, sessions logged, atomic writes."""

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import factory
from factory.errors import RunDirError
from factory.store.rundir import RunDir, code_version, new_session_id, write_atomic, write_parquet_atomic


def test_a_new_directory_gets_an_identity_and_a_later_session_resumes_it(tmp_path):
    out = tmp_path / "run"
    first = RunDir(out, "demo", "factory run a")
    info = json.loads((out / "run.json").read_text())
    assert info == first.info and info["pipeline"] == "demo" and len(info["run_id"]) == 16
    first.finish()
    first.close()
    second = RunDir(out, "demo", "factory run b")
    assert second.info == info  # the same run, resumed
    assert second.session["session_id"] != first.session["session_id"]
    sessions = second.sessions()
    assert [s["command"] for s in sessions] == ["factory run a", "factory run b"]
    assert sessions[0]["finished_at"] is None  # finish() logs the line as it stands: set by the caller
    assert sessions[1]["factory_version"] == factory.__version__
    second.close()
    lines = (out / "sessions.jsonl").read_text().splitlines()
    assert len(lines) == 3  # a start line per session, and the first one's finish line


def test_a_directory_of_another_pipeline_is_refused(tmp_path):
    RunDir(tmp_path, "demo", "c").close()
    with pytest.raises(RunDirError, match="belongs to pipeline 'demo', not 'other'; use another --out"):
        RunDir(tmp_path, "other", "c")


def test_two_drivers_on_one_directory_are_refused(tmp_path):
    first = RunDir(tmp_path, "demo", "c")
    with pytest.raises(RunDirError, match="is in use by another `factory run`"):
        RunDir(tmp_path, "demo", "c")
    first.close()
    RunDir(tmp_path, "demo", "c").close()  # free again once the first has closed


def test_a_file_given_as_the_directory_is_named(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(RunDirError, match="is a file; pass a directory"):
        RunDir(tmp_path / "f", "demo", "c")


def test_session_ids_sort_in_the_order_they_were_made():
    ids = [new_session_id() for _ in range(3)]
    assert all(len(i.split("-")[0]) == 15 for i in ids)  # YYYYmmddTHHMMSS
    assert sorted(ids, key=lambda i: i.split("-")[0]) == ids


def test_atomic_writes_leave_the_whole_file_and_no_temporary(tmp_path):
    write_atomic(tmp_path / "a.json", "old")
    write_atomic(tmp_path / "a.json", b"new")
    assert (tmp_path / "a.json").read_bytes() == b"new"
    table = pa.table({"x": [1, 2, 3]})
    write_parquet_atomic(tmp_path / "t.parquet", table)
    assert pq.read_table(tmp_path / "t.parquet").equals(table)
    assert sorted(os.listdir(tmp_path)) == ["a.json", "t.parquet"]


def test_the_code_version_is_the_checkout_commit_or_the_package_version():
    version = code_version()
    assert version == f"v{factory.__version__}" or len(version.removesuffix("-dirty")) == 12
