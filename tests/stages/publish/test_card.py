"""The dataset card: YAML front matter the HF loader reads, and prose whose every figure is the manifest's."""

import yaml

from factory.stages.publish.card import front_matter, render_card
from factory.store.records import PUBLISHED_SCHEMA, Manifest, ShardEntry


def manifest(**counts):
    return Manifest(
        run_id="r1", pipeline="demo", created_at="2026-11-30T00:00:00+00:00", tokenizer="Qwen/Qwen2.5-Math-7B",
        shards=[ShardEntry(path="data/train-00000-of-00002.parquet", rows=3, bytes=100, sha256="a" * 64),
                ShardEntry(path="data/train-00001-of-00002.parquet", rows=2, bytes=90, sha256="b" * 64)],
        counts=dict(problems=4, problems_ok=3, problems_duplicate=1, samples=12, published=5, rejected=6, pending=1,
                    **counts),
        curriculum_buckets={"8192": 4, "16384": 1, "24576": 0, "32768": 0},
        token_stats=dict(min=120.0, mean=2000.5, p50=1500.0, p90=9000.0, max=12000.0))


def split(card):
    _, meta, body = card.split("---\n", 2)
    return yaml.safe_load(meta), body


def test_front_matter_points_the_loader_at_the_shards_with_their_features():
    meta, _ = split(render_card(manifest()))
    assert meta == front_matter(manifest())
    assert meta["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}]
    features = meta["dataset_info"]["features"]
    assert [f["name"] for f in features] == PUBLISHED_SCHEMA.names
    messages = next(f for f in features if f["name"] == "messages")
    assert messages["list"] == [{"name": "role", "dtype": "string"}, {"name": "content", "dtype": "string"}]
    assert next(f for f in features if f["name"] == "total_tokens") == {"name": "total_tokens", "dtype": "int64"}


def test_every_figure_comes_from_the_manifest():
    _, body = split(render_card(manifest(**{"rejected.wrong_answer": 4, "rejected.truncated": 2})))
    assert "**5** rows published in 2 shard(s), out of\n12 teacher samples for 3 problems" in body
    assert "(6 rejected, 1 not yet verified)" in body
    assert "| wrong_answer | 4 |" in body and "| truncated | 2 |" in body
    assert "| ok | 3 |" in body and "| duplicate | 1 |" in body
    assert "| ≤ 8192 tokens | 4 |" in body and "| ≤ 16384 tokens | 1 |" in body
    assert "min 120, mean 2000.5, p50 1500, p90 9000, max 12000" in body
    assert "`Qwen/Qwen2.5-Math-7B`" in body and "run `r1`" in body


def test_no_rejections_show_as_none_and_the_token_counts_say_what_they_leave_out():
    _, body = split(render_card(manifest()))
    assert "## Rejected samples\n\n| reason | samples |\n|---|---:|\n| (none) | 0 |" in body
    # the counts are of the texts alone: a training team must not read a bucket as a templated length
    assert "no chat template" in body and "not counted" in body
    assert "holds the whole sample" not in body


def test_every_column_is_described():
    _, body = split(render_card(manifest()))
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == PUBLISHED_SCHEMA.names
    assert all(not r.endswith("|  |") for r in rows)
