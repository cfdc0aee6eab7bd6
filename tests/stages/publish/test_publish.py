"""The publish stage: decisions per sample, shard layout, manifest, card, determinism, atomic swap."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import yaml

from factory.config import PublishConfig
from factory.errors import RunDirError
from factory.stages.publish import shards, swap
from factory.stages.publish import stage as pub
from factory.stages.publish.select import JUDGE_SQL
from factory.store.records import PUBLISHED_SCHEMA, SAMPLE_SCHEMA, Manifest, PublishedRow, bucket_for

from support import runs as fx

SHARD = "data/8k/train-00000-of-00001.parquet"  # the small run's bucket directories each hold one shard
SHARDS = [f"data/{b}k/train-00000-of-00001.parquet" for b in (8, 16, 24, 32)]


def run_publish(run_dir: Path, tables=None, **cfg) -> pub.PublishResult:
    problems, samples, verdicts = tables or fx.small_run()
    return pub.publish(run_dir, run_id="run-1", pipeline="demo", tokenizer="Qwen/Qwen2.5-Math-7B",
                       problems=problems, samples=samples, verdicts=verdicts, cfg=PublishConfig(**cfg))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shard_files(run_dir: Path, bucket: str = "8k") -> list[str]:
    return sorted(p.name for p in (run_dir / "data" / bucket).iterdir())


def all_rows(run_dir: Path) -> list[dict]:
    """Every published row, in bucket order."""
    return [r for path in SHARDS for r in pq.read_table(run_dir / path).to_pylist()]


def hidden(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.iterdir() if p.name.startswith("."))


@pytest.fixture
def published(tmp_path):
    return tmp_path, run_publish(tmp_path)


def test_every_sample_gets_its_expected_outcome(published):
    _, result = published
    got = {r["sample_id"]: (r["status"], r["reason"]) for r in result.outcomes.to_pylist()}
    want = {fx.sid(fx.pid(text), i): v for (text, i), v in fx.EXPECTED.items()}
    assert result.outcomes.num_rows == 12 and got == want
    assert result.outcomes.schema == pub.OUTCOME_SCHEMA


def test_dedup_keeps_lowest_sample_index(tmp_path):
    problems, samples, verdicts = fx.small_run()
    result = run_publish(tmp_path, (problems, samples, verdicts))
    add = fx.pid(fx.P_ADD)
    kept = pc.filter(result.placements, pc.equal(result.placements["problem_id"], add))["sample_id"].to_pylist()
    assert kept == [fx.sid(add, 1)]  # [1] and [3] share a trace; [1] is listed after [3] in the journal


def test_shard_rows_follow_the_published_schema(published):
    run_dir, _ = published
    assert sorted(p.name for p in (run_dir / "data").iterdir()) == ["16k", "24k", "32k", "8k"]
    assert all(shard_files(run_dir, b) == ["train-00000-of-00001.parquet"] for b in ("8k", "16k", "24k", "32k"))
    meta = pq.ParquetFile(run_dir / SHARD).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    for path in SHARDS:  # the empty 32k bucket too: its config must load
        assert pq.read_table(run_dir / path).schema.equals(PUBLISHED_SCHEMA)
    rows = all_rows(run_dir)
    assert len(rows) == 4  # the four accepted samples of the small run
    for row in rows:
        PublishedRow.model_validate(row)
        assert row["curriculum_bucket"] == bucket_for(row["length"])
        assert row["run_id"] == "run-1"
    assert [r["curriculum_bucket"] for r in rows] == [8192, 8192, 16384, 24576]
    order = [(r["problem_id"], r["sample_index"]) for r in pq.read_table(run_dir / SHARD).to_pylist()]
    assert order == sorted(order)


def test_messages_are_request_turns_plus_think_formatted_reply(published):
    run_dir, _ = published
    rows = all_rows(run_dir)
    assert len(rows) == 4 and sum(row["problem"] == fx.P_FRAC for row in rows) == 2
    for row in rows:
        roles = [m["role"] for m in row["messages"]]
        system = row["problem"] == fx.P_FRAC  # only the FRAC requests carried a system prompt
        assert roles == (["system"] if system else []) + ["user", "assistant"]
        assert row["messages"][-2]["content"] == fx.TEMPLATE.format(problem=row["problem"])
        assert row["messages"][-1]["content"] == f"<think>\n{row['reasoning']}\n</think>\n\n{row['answer']}"
        if system:
            assert row["messages"][0]["content"] == fx.SYSTEM


def test_row_values_come_from_their_verdict_problem_and_sample(published):
    run_dir, _ = published
    rows = {r["id"]: r for r in all_rows(run_dir)}
    long = rows[fx.sid(fx.pid(fx.P_LONG), 0)]
    assert (long["source"], long["source_row"], long["reference_answer"]) == ("demo", "4", "5050")
    assert long["reasoning"] == "Gauß: 100·101/2 = 5050 ✓" and long["predicted_answer"] == "5050"
    assert (long["length"], long["reasoning_tokens"], long["curriculum_bucket"]) == (1200, 1110, 8192)
    frac1 = rows[fx.sid(fx.pid(fx.P_FRAC), 1)]
    assert (frac1["predicted_answer"], frac1["curriculum_bucket"]) == ("5/6", 24576)


def test_manifest_checksums_counts_and_stats(published):
    run_dir, result = published
    manifest = Manifest.model_validate_json((run_dir / "manifest.json").read_text())
    assert manifest == result.manifest
    assert [(s.path, s.rows, s.bucket) for s in manifest.shards] == [
        (SHARDS[0], 2, 8192), (SHARDS[1], 1, 16384), (SHARDS[2], 1, 24576), (SHARDS[3], 0, 32768)]
    for shard in manifest.shards:
        assert shard.bytes == (run_dir / shard.path).stat().st_size and shard.sha256 == sha(run_dir / shard.path)
    c = manifest.counts
    assert (c["problems"], c["problems_ok"], c["problems_duplicate"], c["problems_no_reference"],
            c["problems_contaminated"]) == (6, 3, 1, 1, 1)
    assert (c["samples"], c["published"], c["rejected"], c["pending"]) == (12, 4, 7, 1)
    assert c["rejected.duplicate_trace"] == c["rejected.request_failed"] == c["rejected.over_length"] == 1
    assert manifest.curriculum_buckets == {"8192": 2, "16384": 1, "24576": 1, "32768": 0}
    tokens = [300, 1200, 9000, 20000]
    assert manifest.token_stats["min"] == 300 and manifest.token_stats["max"] == 20000
    assert manifest.token_stats["mean"] == pytest.approx(np.mean(tokens))
    assert manifest.token_stats["p50"] == pytest.approx(np.percentile(tokens, 50))
    assert manifest.token_stats["p90"] == pytest.approx(np.percentile(tokens, 90))


def test_placements_point_at_the_rows(published):
    run_dir, result = published
    assert result.placements.num_rows == 4
    for p in result.placements.to_pylist():
        assert pq.read_table(run_dir / p["shard"])["id"][p["row_index"]].as_py() == p["sample_id"]
    assert sorted(set(result.placements["shard"].to_pylist())) == sorted(SHARDS[:3])
    assert result.placements.schema == shards.PLACEMENT_SCHEMA


def test_datasets_and_duckdb_load_the_rows_unchanged(published, tmp_path_factory):
    import datasets

    run_dir, _ = published
    cache = str(tmp_path_factory.mktemp("hf-cache"))
    expected = all_rows(run_dir)
    assert len(expected) == 4
    by_files = datasets.load_dataset("parquet", data_files=[str(run_dir / p) for p in SHARDS], split="train",
                                     cache_dir=cache)
    # the card's `configs` must steer the loader to the shards, past the run's other Parquet files
    pq.write_table(pa.table({"x": [1]}), run_dir / "problems.parquet")
    by_dir = datasets.load_dataset(str(run_dir), split="train", cache_dir=cache)
    for ds in (by_files, by_dir):
        assert ds.to_list() == expected
        assert ds.features["messages"] == datasets.List({"role": datasets.Value("string"),
                                                         "content": datasets.Value("string")})
    # each curriculum config holds the rows that fit its length, cumulatively
    for config, n in (("le8k", 2), ("le16k", 3), ("le24k", 4), ("le32k", 4)):
        stage = datasets.load_dataset(str(run_dir), config, split="train", cache_dir=cache)
        assert stage.to_list() == expected[:n]
        assert max(stage["length"]) <= int(config[2:-1]) * 1024
    shards_glob = f"{run_dir}/data/*/train-*.parquet"
    rows = duckdb.sql(f"SELECT id, messages FROM read_parquet('{shards_glob}') ORDER BY id").fetchall()
    assert [r[0] for r in rows] == sorted(r["id"] for r in expected)
    assert all(m[-1]["role"] == "assistant" for _, m in rows)


def test_card_front_matter_and_tables(published):
    run_dir, _ = published
    text = (run_dir / "README.md").read_text()
    _, front, body = text.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert [c["config_name"] for c in meta["configs"]] == ["default", "le8k", "le16k", "le24k", "le32k"]
    assert [f["name"] for f in meta["dataset_info"]["features"]] == PUBLISHED_SCHEMA.names
    for needle in ("| wrong_answer | 1 |", "| duplicate_trace | 1 |", "| `le8k` | 8192 tokens | 2 | 2 |",
                   "Qwen/Qwen2.5-Math-7B", "load_dataset", "read_parquet", "SFTTrainer", "lineage"):
        assert needle in body


def test_sharding_splits_at_max_shard_rows(tmp_path):
    result = run_publish(tmp_path, fx.bulk_run(10, 5), max_shard_rows=12, row_group_rows=5)
    names = shard_files(tmp_path)
    assert names == [f"train-{k:05d}-of-00005.parquet" for k in range(5)]
    assert [s.rows for s in result.manifest.shards] == [12, 12, 12, 12, 2, 0, 0, 0]  # then the empty buckets
    assert [pq.ParquetFile(tmp_path / "data/8k" / n).metadata.num_row_groups for n in names] == [3, 3, 3, 3, 1]
    for s in result.manifest.shards:
        assert s.sha256 == sha(tmp_path / s.path)
    assert result.placements.num_rows == 50 and pc.max(result.placements["row_index"]).as_py() == 11


def test_sharding_bounds_the_file_size(tmp_path):
    limit = 48 * 1024
    result = run_publish(tmp_path, fx.bulk_run(20, 4, text_len=3000), max_shard_bytes=limit, row_group_rows=4)
    assert len(result.manifest.shards) > 4 and sum(s.rows for s in result.manifest.shards) == 80
    assert all(s.bytes <= limit for s in result.manifest.shards)


def test_shard_bounds_edge_cases():
    assert shards.shard_bounds(np.array([10, 10, 10]), max_rows=2, max_bytes=10**9) == [(0, 2), (2, 3)]
    big = shards._FILE_OVERHEAD
    # a row over the byte budget still gets a shard of its own
    assert shards.shard_bounds(np.array([5, 10**6, 5]), max_rows=100, max_bytes=big + 20) == [(0, 1), (1, 2), (2, 3)]
    assert shards.shard_bounds(np.array([], dtype=np.int64), max_rows=1, max_bytes=big) == []


def test_republishing_is_byte_identical(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    first = run_publish(a, fx.bulk_run(6, 3), max_shard_rows=5)
    digests = {s.path: sha(a / s.path) for s in first.manifest.shards}
    second = run_publish(a, fx.bulk_run(6, 3), max_shard_rows=5)  # over its own output
    run_publish(b, fx.bulk_run(6, 3), max_shard_rows=5)  # elsewhere
    assert {s.path: s.sha256 for s in second.manifest.shards} == digests
    assert {s.path: sha(b / s.path) for s in second.manifest.shards} == digests
    assert first.placements.equals(second.placements) and first.outcomes.equals(second.outcomes)


def test_republish_replaces_old_shards_and_leaves_no_temp_dirs(tmp_path):
    run_publish(tmp_path, fx.bulk_run(10, 5), max_shard_rows=12)
    assert len(shard_files(tmp_path)) == 5
    run_publish(tmp_path)
    assert shard_files(tmp_path) == ["train-00000-of-00001.parquet"] and hidden(tmp_path) == []
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "data").rglob("*.parquet")) == sorted(SHARDS)
    assert json.loads((tmp_path / "manifest.json").read_text())["counts"]["published"] == 4


def test_crash_while_writing_shards_keeps_the_old_publication(tmp_path, monkeypatch):
    old = run_publish(tmp_path)
    card = (tmp_path / "README.md").read_bytes()
    real_write, calls = shards._write_shard, []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(shards, "_write_shard", flaky)
    with pytest.raises(OSError, match="disk full"):
        run_publish(tmp_path, fx.bulk_run(10, 5), max_shard_rows=12)
    assert Manifest.model_validate_json((tmp_path / "manifest.json").read_text()) == old.manifest
    assert sha(tmp_path / SHARD) == old.manifest.shards[0].sha256 and shard_files(tmp_path) == [Path(SHARD).name]
    assert (tmp_path / "README.md").read_bytes() == card and hidden(tmp_path) == []


def test_crash_between_the_renames_restores_the_old_data(tmp_path, monkeypatch):
    old = run_publish(tmp_path)
    real_rename = os.rename

    def failing(src, dst):
        if Path(src).parent.name.startswith(".publish-tmp-"):  # moving the new data/ in
            raise OSError("power cut")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(OSError, match="power cut"):
        run_publish(tmp_path, fx.bulk_run(3, 2))
    assert sha(tmp_path / SHARD) == old.manifest.shards[0].sha256 and hidden(tmp_path) == []


def test_recover_puts_back_data_moved_away_by_a_killed_process(tmp_path):
    old = run_publish(tmp_path)
    parked = tmp_path / ".publish-old-x"
    parked.mkdir()
    os.rename(tmp_path / "data", parked / "data")  # killed right after the first rename
    (tmp_path / ".publish-tmp-y" / "data").mkdir(parents=True)
    swap.recover(tmp_path)
    assert sha(tmp_path / SHARD) == old.manifest.shards[0].sha256 and hidden(tmp_path) == []


def test_zero_accepted_rows_give_one_empty_shard_with_the_schema(tmp_path):
    problems, samples, verdicts = fx.small_run()
    verdicts = verdicts.set_column(verdicts.schema.get_field_index("correct"), verdicts.schema.field("correct"),
                                   pa.array([False] * verdicts.num_rows))
    result = run_publish(tmp_path, (problems, samples, verdicts))
    assert [s.rows for s in result.manifest.shards] == [0, 0, 0, 0] and result.placements.num_rows == 0
    assert pq.read_table(tmp_path / result.manifest.shards[0].path).schema.remove_metadata() == PUBLISHED_SCHEMA
    rows = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{tmp_path}/data/*/train-*.parquet')")
    assert rows.fetchone()[0] == 0
    assert result.manifest.counts["published"] == 0 and set(result.manifest.token_stats.values()) == {0.0}
    assert result.manifest.curriculum_buckets == {"8192": 0, "16384": 0, "24576": 0, "32768": 0}
    assert (tmp_path / "README.md").is_file()


def test_inconsistent_inputs_fail_with_a_clear_error(tmp_path):
    problems, samples, verdicts = fx.small_run()
    with pytest.raises(RunDirError, match="repeats a sample_id"):
        run_publish(tmp_path, (problems, pa.concat_tables([samples, samples.slice(0, 1)]), verdicts))
    with pytest.raises(RunDirError, match=r"lacks columns \['trace_hash'\]"):
        run_publish(tmp_path, (problems, samples, verdicts.drop_columns(["trace_hash"])))
    assert not (tmp_path / "data").exists() and hidden(tmp_path) == []


def test_sorting_in_passes_gives_the_bytes_of_one_sort(tmp_path, monkeypatch):
    # more rows than one DuckDB batch (1024), so pass ends fall inside batches and row groups
    problems, samples, verdicts = fx.bulk_run(300, 4, text_len=4000)  # row groups of several data pages
    pq.write_table(samples, tmp_path / "samples.parquet")
    tables = problems, pads.dataset(tmp_path / "samples.parquet", schema=SAMPLE_SCHEMA, format="parquet"), verdicts
    one, many = tmp_path / "one", tmp_path / "many"
    one.mkdir(), many.mkdir()
    single = run_publish(one, tables, max_shard_rows=1000, row_group_rows=500)
    real, ranges = shards.passes, []

    def small_passes(con, bucket):
        found = real(con, bucket, max_rows=97)
        ranges.extend(found)
        return found

    monkeypatch.setattr(shards, "passes", small_passes)
    split = run_publish(many, tables, max_shard_rows=1000, row_group_rows=500)
    assert len(ranges) > 10 and sum(s.rows for s in split.manifest.shards) == single.manifest.counts["published"] > 1024
    assert [(s.path, s.sha256) for s in split.manifest.shards] == [(s.path, s.sha256) for s in single.manifest.shards]
    assert split.placements.equals(single.placements) and split.outcomes.equals(single.outcomes)


def test_passes_never_split_a_problem(tmp_path):
    problems, samples, verdicts = fx.bulk_run(10, 3)
    con = duckdb.connect()
    for name, table in (("problems_in", problems), ("samples_in", samples), ("verdicts_in", verdicts)):
        con.register(name, table)
    con.execute(JUDGE_SQL)
    ranges = shards.passes(con, 8192, max_rows=5)
    assert len(ranges) == 5  # 6 rows (2 problems) each
    assert all(a["last"] < b["first"] for a, b in zip(ranges, ranges[1:], strict=False))
    ids = sorted(set(problems["problem_id"].to_pylist()))
    assert ranges[0]["first"] == ids[0] and ranges[-1]["last"] == ids[-1]
