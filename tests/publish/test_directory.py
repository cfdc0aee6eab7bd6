"""`factory publish` to a local directory: built beside it, swapped in, stale shards gone, refusals in one line."""

import json
import os

import pytest
from datasets import load_dataset

from factory.errors import RunDirError
from factory.publish_remote import check, publish
from factory.publish_remote.uri import DestinationError
from factory.store.rundir import file_sha256

from support.cli import factory
from support.published import published_run


def test_publish_then_check_then_load(run_dir, tmp_path):
    dest = tmp_path / "out" / "demo"
    out = factory("publish", run_dir, "--to", dest)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"published to {dest}: 9 file(s) sent")  # 6 shards (3 of them empty), 3 others
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()) == sorted(
        [*(s["path"] for s in json.loads((run_dir / "manifest.json").read_text())["shards"]),
         "provenance.duckdb", "README.md", "manifest.json"])
    assert dest.stat().st_mode & 0o755 == 0o755  # not mkdtemp's private 0700
    assert check(dest).ok
    assert load_dataset(str(dest), split="train").num_rows == 12
    (line,) = (run_dir / "publications.jsonl").read_text().splitlines()
    logged = json.loads(line)
    assert logged["destination"] == str(dest) and logged["skipped"] == [] and len(logged["sent"]) == 9
    assert logged["manifest_sha256"] == file_sha256(run_dir / "manifest.json")


def test_a_smaller_republication_replaces_the_set_and_keeps_files_not_ours(run_dir, tmp_path):
    dest = tmp_path / "dest"
    publish(run_dir, str(dest))
    (dest / "NOTES.txt").write_text("ours, not the factory's")
    again = publish(run_dir, str(dest))
    assert again.sent == [] and len(again.skipped) == 9
    smaller = published_run(tmp_path / "smaller", n_problems=3, text_len=150)  # 2 shards in data/8k, not 3
    result = publish(smaller, str(dest), provenance=False)
    assert result.deleted == [f"data/8k/train-0000{k}-of-00003.parquet" for k in range(3)] + ["provenance.duckdb"]
    # the empty buckets' shards are the same bytes in both sets: linked from the old one, not copied
    assert result.skipped == [f"data/{k}k/train-00000-of-00001.parquet" for k in (16, 24, 32)]
    assert sorted(p.relative_to(dest).as_posix() for p in (dest / "data").rglob("*.parquet")) == sorted(
        json.loads((smaller / "manifest.json").read_text())["shards"][i]["path"] for i in range(5))
    assert not (dest / "provenance.duckdb").exists() and (dest / "NOTES.txt").read_text() == "ours, not the factory's"
    assert check(dest).ok and check(dest).rows == 6
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dest.")] == []


def test_a_crash_between_the_renames_is_undone_by_the_next_publish(run_dir, tmp_path):
    dest = tmp_path / "dest"
    publish(run_dir, str(dest))
    away = tmp_path / ".dest.publish-old-x1"
    away.mkdir()
    os.rename(dest, away / "set")  # the old set renamed away, the new one never renamed in
    (tmp_path / ".dest.publish-tmp-x2").mkdir()
    result = publish(run_dir, str(dest))
    assert result.sent == [] and check(dest).ok  # the old set was put back, then found whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest", "run"]


def test_refusals_name_the_problem_in_one_line(run_dir, tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(DestinationError, match="without manifest.json is not a publication"):
        publish(run_dir, str(foreign))
    with pytest.raises(DestinationError, match="overlaps the run directory"):
        publish(run_dir, str(run_dir / "copy"))
    (run_dir / "manifest.json").unlink()
    with pytest.raises(RunDirError, match="no manifest.json"):
        publish(run_dir, str(tmp_path / "new"))


def test_a_damaged_run_directory_is_refused_before_anything_is_sent(run_dir, tmp_path):
    rel = json.loads((run_dir / "manifest.json").read_text())["shards"][1]["path"]
    (run_dir / rel).unlink()
    out = factory("publish", run_dir, "--to", tmp_path / "dest")
    assert out.returncode == 1 and not (tmp_path / "dest").exists()
    assert out.stderr == (f"error: {run_dir}: the publication is incomplete or damaged: {rel}: listed in the manifest "
                          f"but missing; `factory check {run_dir}` lists all, `factory run` rebuilds it\n")


def test_a_run_directory_a_factory_run_holds_is_refused(run_dir, tmp_path):
    import fcntl

    with open(run_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what RunDir does for the whole of a run
        with pytest.raises(RunDirError, match="a `factory run` is writing it"):
            publish(run_dir, str(tmp_path / "dest"))
    assert publish(run_dir, str(tmp_path / "dest")).sent  # free again once the run has finished


def test_a_file_system_that_refuses_is_one_line(run_dir, tmp_path):
    (tmp_path / "afile").write_text("not a directory")
    places = [tmp_path / "afile" / "pub"]  # a parent that is a file: FileExistsError making the parents
    if os.path.isdir("/proc/self"):
        places.append("/proc/factory-publish-test")  # a virtual file system that makes no directories
    for place in places:
        with pytest.raises(DestinationError, match=rf"^{place}: cannot publish there \((FileExists|FileNotFound)"
                                                   r"Error: .*\); choose a directory you may write to"):
            publish(run_dir, str(place))
    done = factory("publish", run_dir, "--to", places[0])
    assert done.returncode == 1 and done.stderr.startswith(f"error: {places[0]}: cannot publish there"), done.stderr
    assert done.stderr.count("\n") == 1 and not (run_dir / "publications.jsonl").exists()


@pytest.mark.parametrize("keep", [100, 0.5, -1], ids=["not-a-database", "half", "one-byte-short"])
def test_a_truncated_provenance_database_is_refused_before_anything_is_sent(run_dir, tmp_path, keep):
    db = run_dir / "provenance.duckdb"
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.truncate(keep if keep > 1 else size + keep if keep < 0 else int(size * keep))
    dest = tmp_path / "out"
    refused = (rf"^{db}: (not a readable DuckDB database \(IO Error.*\)|truncated \(\d+ bytes; its \d+ block\(s\) "
               rf"of \d+ need {size}\)); rerun `factory run`")
    with pytest.raises(RunDirError, match=refused):
        publish(run_dir, str(dest))
    assert not dest.exists() and not (run_dir / "publications.jsonl").exists()
    out = publish(run_dir, str(dest), provenance=False)  # left out, the rest is whole and goes
    assert "provenance.duckdb" not in out.sent and (dest / "manifest.json").is_file()
