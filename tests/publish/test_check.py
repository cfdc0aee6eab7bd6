"""`factory check` on a run directory: shards, footers and the card's configs against the manifest."""

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from datasets import load_dataset

from factory.errors import RunDirError
from factory.publish_remote import check, publish
from factory.publish_remote.configs import config_problems, glob_regex
from factory.store.records import CURRICULUM_BUCKETS, bucket_for

from support.cli import factory
from support.published import BUCKET_ROWS, bucket_publication, cumulative_configs, published_run, write_publication_meta


def test_a_published_run_passes_and_the_summary_is_the_last_line(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    report = check(run_dir)
    # every row fits in 8k: three shards there, and one empty shard for each empty bucket
    assert [s["bucket"] for s in manifest["shards"]] == [8192] * 3 + [16384, 24576, 32768]
    assert report.ok and report.shards == len(manifest["shards"]) == 6 and report.rows == 12
    assert report.configs == 5  # default, le8k .. le32k, each checked against the shards' buckets
    assert report.render().startswith(f"ok: {run_dir}: 6 shard(s), 12 rows")


def test_every_failure_is_one_line_naming_its_file_and_the_command_exits_1(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    first, second, third, empty = (s["path"] for s in manifest["shards"][:4])  # data/8k x 3, data/16k's empty one
    data = bytearray((run_dir / first).read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    (run_dir / first).write_bytes(bytes(data))
    (run_dir / third).unlink()
    (run_dir / empty).unlink()  # an empty shard is a shard: its config fails to load without it
    stray = "data/8k/train-00009-of-00009.parquet"  # a shard left over from an earlier publication
    pq.write_table(pa.table({"x": [1]}), run_dir / stray)
    manifest["shards"][1]["rows"] += 1  # the manifest now disagrees with itself, too: 13 rows in 8k, 12 counted
    (run_dir / "manifest.json").write_text(json.dumps(manifest))

    out = factory("check", run_dir)
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1].startswith(f"FAILED: {run_dir}: ")
    body = lines[:-1]
    assert body[0].startswith(f"{first}: sha256 ")
    # every config's glob over data/8k catches the stray; each leNk counts the manifest's 13 rows against 12
    assert body[1:] == [
        f"{second}: 4 rows in its footer, the manifest says 5",
        f"{third}: listed in the manifest but missing",
        f"{empty}: listed in the manifest but missing",
        f"{stray}: a Parquet file the manifest does not list (a reader globbing data/ would load it; delete it)",
        *(f"config {name}: data_files 'data/8k/train-*' matches {stray}, which the manifest does not list"
          for name in ("default", "le8k")),
        "config le8k: covers 13 rows; the manifest's curriculum_buckets up to 8192 hold 12",
        *(line for k in (16, 24, 32) for line in (
            f"config le{k}k: data_files 'data/8k/train-*' matches {stray}, which the manifest does not list",
            f"config le{k}k: covers 13 rows; the manifest's curriculum_buckets up to {k * 1024} hold 12"))]
    assert lines[-1].startswith(f"FAILED: {run_dir}: {len(body)} problem(s) in 6 shard(s)")


def test_a_truncated_shard_is_named_by_its_size(run_dir):
    rel = json.loads((run_dir / "manifest.json").read_text())["shards"][0]["path"]
    (run_dir / rel).write_bytes((run_dir / rel).read_bytes()[:-100])
    (line,) = check(run_dir).problems
    assert line.startswith(f"{rel}: ") and "bytes, the manifest says" in line


def test_no_manifest_is_reported_not_raised(tmp_path):
    report = check(tmp_path)
    assert not report.ok and report.problems[0].startswith("manifest.json: missing")


def test_the_per_bucket_layout_passes_with_its_cumulative_configs(tmp_path):
    bucket_publication(tmp_path)
    report = check(tmp_path)
    assert report.problems == [] and report.configs == 5 and report.rows == sum(BUCKET_ROWS.values())


@pytest.mark.parametrize("edit, expected", [
    # le8k forgets nothing but le16k leaves out the second 16k shard
    (lambda c: c[2]["data_files"][0].update(path=["data/8k/train-*", "data/16k/train-00000-*"]),
     ["config le16k: leaves out shard data/16k/train-00001-of-00002.parquet (bucket 16384)",
      "config le16k: covers 5 rows; the manifest's curriculum_buckets up to 16384 hold 7"]),
    (lambda c: c[1]["data_files"][0].update(path=["data/8k/train-*", "data/16k/train-*"]),
     ["config le8k: covers shard data/16k/train-00000-of-00002.parquet of bucket 16384 > 8192",
      "config le8k: covers shard data/16k/train-00001-of-00002.parquet of bucket 16384 > 8192",
      "config le8k: covers 7 rows; the manifest's curriculum_buckets up to 8192 hold 3"]),
    (lambda c: c[0]["data_files"][0].update(path="data/8k/train-*"),
     ["config default: leaves out shard data/16k/train-00000-of-00002.parquet",
      "config default: leaves out shard data/16k/train-00001-of-00002.parquet",
      "config default: leaves out shard data/24k/train-00000-of-00001.parquet",
      "config default: leaves out shard data/32k/train-00000-of-00001.parquet"]),
    (lambda c: c[4]["data_files"][0]["path"].append("data/64k/train-*"),
     ["config le32k: data_files 'data/64k/train-*' matches no file"]),
])
def test_a_wrong_config_is_named(tmp_path, edit, expected):
    manifest = bucket_publication(tmp_path)
    configs = cumulative_configs()
    edit(configs)
    write_publication_meta(tmp_path, manifest, configs)
    assert check(tmp_path).problems == expected


def test_the_bucket_rows_must_add_up_to_the_manifest(tmp_path):
    manifest = bucket_publication(tmp_path)
    manifest["curriculum_buckets"]["8192"] = 2
    write_publication_meta(tmp_path, manifest, cumulative_configs())
    problems = check(tmp_path).problems
    assert problems == [f"config le{k}k: covers {rows} rows; the manifest's curriculum_buckets up to {k * 1024} hold "
                        f"{rows - 1}" for k, rows in ((8, 3), (16, 7), (24, 7), (32, 8))]


def test_a_stray_file_in_a_bucket_directory_is_caught_twice(tmp_path):
    bucket_publication(tmp_path)
    pq.write_table(pa.table({"x": [1]}), tmp_path / "data" / "8k" / "train-extra.parquet")
    problems = check(tmp_path).problems
    assert ("data/8k/train-extra.parquet: a Parquet file the manifest does not list (a reader globbing data/ would "
            "load it; delete it)") in problems
    for name in ("default", "le8k", "le16k", "le24k", "le32k"):
        assert any(p.startswith(f"config {name}: data_files ") and "data/8k/train-extra.parquet" in p for p in problems)


def test_leNk_needs_the_bucket_of_every_shard():
    shards = [{"path": "data/train-00000-of-00001.parquet", "rows": 2}]
    configs = [{"config_name": "default", "data_files": "data/train-*"},
               {"config_name": "le8k", "data_files": [{"split": "train", "path": "data/train-*"}]}]
    problems, n = config_problems(configs, shards, [shards[0]["path"]], {"8192": 2})
    assert n == 2 and problems == ["config le8k: shard data/train-00000-of-00001.parquet has no `bucket` in the "
                                   "manifest, so the config cannot be checked"]


def test_globs_match_like_the_loader_within_one_segment():
    assert glob_regex("data/*/train-*").fullmatch("data/8k/train-00000-of-00001.parquet")
    assert not glob_regex("data/*/train-*").fullmatch("data/8k/old/train-0.parquet")
    assert glob_regex("data/**").fullmatch("data/8k/old/train-0.parquet")
    assert not glob_regex("data/train-*").fullmatch("data/8k/train-0.parquet")
    assert glob_regex("data/train-0000[0-1]-*").fullmatch("data/train-00001-of-00002.parquet")


def test_a_hub_location_opens_through_hffilesystem_without_the_network():
    from huggingface_hub import HfFileSystem

    from factory.publish_remote.check import open_location

    fs, root = open_location("hf://datasets/org/math-traces")
    assert isinstance(fs, HfFileSystem) and root == "datasets/org/math-traces"


# each problem's 2 rows: data/8k 4 rows, data/16k 6 (16384 fits it, 2 shards of at most 4), data/24k none, data/32k 2
SPREAD = [300, 9000, 12000, 30000, 100, 16384]


@pytest.fixture
def spread(tmp_path):
    """A real publication (the publish stage's shards and card) with rows in three buckets and one empty."""
    return published_run(tmp_path / "spread", lengths=SPREAD)


def test_a_real_publication_over_every_bucket_passes_and_each_config_loads_what_fits(spread, tmp_path):
    manifest = json.loads((spread / "manifest.json").read_text())
    assert [(s["path"].split("/")[1], s["rows"]) for s in manifest["shards"]] == [
        ("8k", 4), ("16k", 4), ("16k", 2), ("24k", 0), ("32k", 2)]
    report = check(spread)
    assert report.problems == [] and (report.shards, report.rows, report.configs) == (5, 12, 5)
    for name, limit, rows in (("le8k", 8192, 4), ("le16k", 16384, 10), ("le24k", 24576, 10), ("le32k", 32768, 12)):
        loaded = load_dataset(str(spread), name, split="train", cache_dir=str(tmp_path / "cache"))
        assert loaded.num_rows == rows and max(loaded["length"]) <= limit, name
    every = load_dataset(str(spread), split="train", cache_dir=str(tmp_path / "cache"))["length"]
    assert sorted(every) == sorted(n for n in SPREAD for _ in range(2))
    assert [bucket_for(n) for n in every] == sorted(bucket_for(n) for n in every)  # the folders in bucket order


def test_a_real_card_whose_config_leaves_out_a_bucket_folder_is_named_and_not_published(spread, tmp_path):
    _, meta, body = (spread / "README.md").read_text().split("---\n", 2)
    card = yaml.safe_load(meta)
    (le24k,) = (c for c in card["configs"] if c["config_name"] == "le24k")
    le24k["data_files"][0]["path"].remove("data/16k/train-*")
    (spread / "README.md").write_text("---\n" + yaml.safe_dump(card, sort_keys=False) + "---\n" + body)
    expected = ["config le24k: leaves out shard data/16k/train-00000-of-00002.parquet (bucket 16384)",
                "config le24k: leaves out shard data/16k/train-00001-of-00002.parquet (bucket 16384)",
                "config le24k: covers 4 rows; the manifest's curriculum_buckets up to 24576 hold 10"]
    assert check(spread).problems == expected
    out = factory("check", spread)
    assert out.returncode == 1 and out.stdout.splitlines()[:-1] == expected
    with pytest.raises(RunDirError, match=re.escape(f"{expected[0]} (and 2 more)")):
        publish(spread, str(tmp_path / "dest"))
    assert not (tmp_path / "dest").exists()


def test_a_fresh_demo_run_passes_check_with_its_curriculum_configs(demo_run):
    manifest = json.loads((demo_run / "manifest.json").read_text())
    assert {s["bucket"] for s in manifest["shards"]} == set(CURRICULUM_BUCKETS)  # empty buckets have their shard
    out = factory("check", demo_run)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith(f"ok: {demo_run}: {len(manifest['shards'])} shard(s), "
                                 f"{manifest['counts']['published']} rows, ")
    assert out.stdout.endswith(", 5 card config(s); checksums, row counts and configs match the manifest\n")


def _break_rows(m):
    del m["shards"][0]["rows"]


def _text_bucket(m):
    m["shards"][0]["bucket"] = "8192"


@pytest.mark.parametrize(("damage", "says"), [
    (_break_rows, "shards[0]: rows: Field required"),
    (_text_bucket, "shards[0]: bucket: Input should be a valid integer"),
    (lambda m: m.update(shards=None), "`shards` is null, not a list"),
    (lambda m: m.update(shards=["x"]), "shards[0]: Input should be a valid dictionary"),
    (lambda m: m.pop("shards"), "no 'shards'"),
    (lambda m: m.update(curriculum_buckets={"8k": 3}), "`curriculum_buckets` is not an object"),
], ids=["no-rows", "text-bucket", "null-shards", "string-shard", "no-shards", "bad-buckets"])
def test_a_malformed_manifest_is_one_problem_line_not_a_traceback(run_dir, damage, says):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    damage(manifest)
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    report = check(run_dir)
    assert not report.ok and len(report.problems) == 1, report.problems
    assert report.problems[0].startswith(f"manifest.json: not a factory manifest ({says}"), report.problems


def test_the_command_exits_1_on_a_malformed_manifest(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["shards"][0]["bucket"] = "8192"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    done = factory("check", run_dir)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith("manifest.json: not a factory manifest (shards[0]: bucket:"), done.stdout
