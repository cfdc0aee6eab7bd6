"""`factory publish` and `factory check` against a real S3 API: moto's server on loopback, through s3fs."""

import json

import pytest
import s3fs
from datasets import load_dataset

from factory.publish_remote import check, publish

from support.cli import factory, free_port
from support.published import published_run


def _fs() -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem(skip_instance_cache=True)


def _keys(fs, prefix="bucket/ds") -> list[str]:
    return sorted(k.removeprefix(prefix + "/") for k in fs.find(prefix))


def test_round_trip_publish_check_and_load(run_dir, s3, tmp_path):
    out = factory("publish", run_dir, "--to", f"{s3}/ds")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"published to {s3}/ds: 9 file(s) sent")  # 6 shards (3 of them empty), 3 others
    manifest = json.loads((run_dir / "manifest.json").read_text())
    fs = _fs()
    assert _keys(fs) == sorted([*(s["path"] for s in manifest["shards"]), "provenance.duckdb", "README.md",
                                "manifest.json"])
    assert fs.metadata(f"bucket/ds/{manifest['shards'][0]['path']}")["sha256"] == manifest["shards"][0]["sha256"]
    checked = factory("check", f"{s3}/ds")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout == f"ok: {s3}/ds: 6 shard(s), 12 rows, 0.0 MiB, 5 card config(s); checksums, row counts " \
                             "and configs match the manifest\n"
    fs.get("bucket/ds", str(tmp_path / "copy"), recursive=True)
    assert load_dataset(str(tmp_path / "copy"), split="train").num_rows == 12
    assert load_dataset(str(tmp_path / "copy"), "le16k", split="train").num_rows == 12  # 8k's rows, 16k's empty shard
    # the secret in the environment reached neither the run directory nor the bucket
    for path in run_dir.rglob("*"):
        assert not path.is_file() or b"test-secret-do-not-write" not in path.read_bytes()
    for key in fs.find("bucket"):
        assert b"test-secret-do-not-write" not in fs.cat_file(key)


def test_a_corrupted_object_is_named_and_check_exits_1(run_dir, s3):
    publish(run_dir, f"{s3}/ds")
    rel = json.loads((run_dir / "manifest.json").read_text())["shards"][2]["path"]
    fs = _fs()
    data = bytearray(fs.cat_file(f"bucket/ds/{rel}"))
    data[100] ^= 0x01
    fs.pipe_file(f"bucket/ds/{rel}", bytes(data))
    out = factory("check", f"{s3}/ds")
    assert out.returncode == 1
    line, summary = out.stdout.splitlines()
    assert line.startswith(f"{rel}: sha256 ") and summary.startswith(f"FAILED: {s3}/ds: 1 problem(s)")
    again = publish(run_dir, f"{s3}/ds")  # publish repairs it: the ETag no longer matches
    assert again.sent == [rel, "manifest.json"] and check(f"{s3}/ds").ok


class _Interrupted(Exception):
    pass


def _interrupt_after(monkeypatch, n: int) -> list[str]:
    """Make s3fs's uploads fail after `n` files (the connection drops); returns the keys that got through."""
    done: list[str] = []
    real = s3fs.S3FileSystem._put_file

    async def put_file(self, lpath, rpath, *args, **kwargs):
        if len(done) == n:
            raise _Interrupted(rpath)
        await real(self, lpath, rpath, *args, **kwargs)
        done.append(rpath)

    monkeypatch.setattr(s3fs.S3FileSystem, "_put_file", put_file)
    # fsspec binds the sync put_file when an instance is made: make the next one anew, and the one after
    s3fs.S3FileSystem.clear_instance_cache()
    monkeypatch.setattr(s3fs.S3FileSystem, "_cache", {})
    return done


def test_a_resumed_upload_sends_only_what_is_missing(run_dir, s3, monkeypatch):
    with monkeypatch.context() as m:
        got_through = _interrupt_after(m, 2)
        with pytest.raises(_Interrupted):
            publish(run_dir, f"{s3}/ds")
    assert len(got_through) == 2
    assert check(f"{s3}/ds").problems[0].startswith("manifest.json: missing")  # no half set visible
    result = publish(run_dir, f"{s3}/ds")
    shards = [s["path"] for s in json.loads((run_dir / "manifest.json").read_text())["shards"]]
    assert result.skipped == shards[:2]
    assert result.sent == [*shards[2:], "provenance.duckdb", "README.md", "manifest.json"]
    assert check(f"{s3}/ds").ok
    logged = [json.loads(line) for line in (run_dir / "publications.jsonl").read_text().splitlines()]
    assert len(logged) == 1 and logged[0]["skipped"] == shards[:2]  # the failed attempt recorded nothing


def test_a_new_publication_withdraws_the_old_manifest_first_and_deletes_stale_shards_last(run_dir, s3, tmp_path,
                                                                                         monkeypatch):
    publish(run_dir, f"{s3}/ds")
    other = published_run(tmp_path / "other", n_problems=5, text_len=150)  # 3 shards in data/8k again, other bytes
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        with pytest.raises(_Interrupted):
            publish(other, f"{s3}/ds")
    # the first shard of the old set was overwritten, so its manifest was withdrawn before that
    assert not _fs().exists("bucket/ds/manifest.json")
    result = publish(other, f"{s3}/ds", provenance=False)
    # the empty buckets' shards are the same bytes in every publication: never sent again
    empty = [f"data/{k}k/train-00000-of-00001.parquet" for k in (16, 24, 32)]
    assert result.skipped == ["data/8k/train-00000-of-00003.parquet", *empty]
    assert result.deleted == ["provenance.duckdb"]
    assert check(f"{s3}/ds").ok and check(f"{s3}/ds").rows == 10
    smaller = published_run(tmp_path / "smaller", n_problems=3, text_len=150)
    result = publish(smaller, f"{s3}/ds")
    assert result.deleted == [f"data/8k/train-0000{k}-of-00003.parquet" for k in range(3)]
    assert check(f"{s3}/ds").ok and check(f"{s3}/ds").rows == 6
    assert _keys(_fs()) == ["README.md", *empty, "data/8k/train-00000-of-00002.parquet",
                            "data/8k/train-00001-of-00002.parquet", "manifest.json", "provenance.duckdb"]


def test_an_unchanged_republication_sends_nothing(run_dir, s3):
    publish(run_dir, f"{s3}/ds")
    again = publish(run_dir, f"{s3}/ds")
    assert again.sent == [] and len(again.skipped) == 9 and again.deleted == []


@pytest.mark.parametrize("uri", ["s3://AKIAEXAMPLE:wJalrSECRET@bucket/ds", "https://user:hf_tokenSECRET@example.org/x",
                                 "s3://bucket/ds?aws_secret_access_key=SECRET"])
def test_a_uri_with_credentials_is_refused_in_one_line(run_dir, uri):
    out = factory("publish", run_dir, "--to", uri)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and "SECRET" not in out.stderr
    assert not (run_dir / "publications.jsonl").exists()
    checked = factory("check", uri)
    assert checked.returncode == 1 and "SECRET" not in checked.stderr + checked.stdout


def test_a_missing_bucket_is_one_line(run_dir, s3):
    out = factory("publish", run_dir, "--to", "s3://no-such-bucket/ds")
    assert out.returncode == 1 and out.stderr.startswith("error: s3://no-such-bucket/ds: ")
    assert out.stderr.count("\n") == 1 and "run the same command again" in out.stderr


def test_a_multipart_object_is_matched_by_the_sha256_we_attached(s3, tmp_path):
    from factory.publish_remote.files import LocalFile
    from factory.publish_remote.store import same_object
    from factory.store.rundir import file_sha256

    path = tmp_path / "big.bin"
    path.write_bytes(__import__("os").urandom(11 * 2**20))
    local = LocalFile(rel="big.bin", path=path, size=path.stat().st_size, sha256=file_sha256(path))
    fs = _fs()
    fs.put_file(str(path), "bucket/big.bin", chunksize=5 * 2**20)  # multipart: the ETag is no md5
    info = fs.info("bucket/big.bin")
    assert "-" in info["ETag"] and not same_object(fs, "bucket/big.bin", info, local)  # no checksum: send again
    fs.put_file(str(path), "bucket/big.bin", chunksize=5 * 2**20, Metadata={"sha256": local.sha256})
    assert same_object(fs, "bucket/big.bin", fs.info("bucket/big.bin"), local)
    other = LocalFile(rel="big.bin", path=path, size=local.size, sha256="0" * 64)
    assert not same_object(fs, "bucket/big.bin", fs.info("bucket/big.bin"), other)


def test_a_store_out_of_reach_is_one_line_for_publish_and_check(run_dir):
    # nothing listens on the port; one attempt each, so botocore does not back off and retry
    env = {"AWS_ACCESS_KEY_ID": "test-key-id", "AWS_SECRET_ACCESS_KEY": "test-secret-do-not-write",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
           "AWS_MAX_ATTEMPTS": "1"}
    published = factory("publish", run_dir, "--to", "s3://bucket/ds", env=env, timeout=120)
    checked = factory("check", "s3://bucket/ds", env=env, timeout=120)
    for done in (published, checked):
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith("error: s3://bucket/ds: the store could not be reached "
                                      "(EndpointConnectionError") and done.stderr.count("\n") == 1, done.stderr
    assert "(it resumes)" in published.stderr and not (run_dir / "publications.jsonl").exists()
