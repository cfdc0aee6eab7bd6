"""The dataset card: YAML front matter the HF loader reads, and prose whose every figure is the manifest's."""

import datasets
import pytest
import yaml

from factory.stages.publish.card import front_matter, render_card
from factory.store.records import PUBLISHED_SCHEMA, Manifest, ShardEntry, SourceRecord


def manifest(sources=(), template="c" * 64, **counts):
    return Manifest(
        run_id="r1", pipeline="demo", created_at="2026-11-30T00:00:00+00:00", tokenizer="Qwen/Qwen2.5-Math-7B",
        tokenizer_revision="0123456789abcdef0123", chat_template_sha256=template,
        shards=[ShardEntry(path="data/8k/train-00000-of-00002.parquet", rows=3, bytes=100, sha256="a" * 64,
                           bucket=8192),
                ShardEntry(path="data/8k/train-00001-of-00002.parquet", rows=1, bytes=90, sha256="b" * 64,
                           bucket=8192),
                ShardEntry(path="data/16k/train-00000-of-00001.parquet", rows=1, bytes=90, sha256="d" * 64,
                           bucket=16384)]
        + [ShardEntry(path=f"data/{b}k/train-00000-of-00001.parquet", rows=0, bytes=9, sha256="e" * 64, bucket=b * 1024)
           for b in (24, 32)],
        counts=dict(problems=4, problems_ok=3, problems_duplicate=1, samples=12, published=5, rejected=6, pending=1,
                    **counts),
        curriculum_buckets={"8192": 4, "16384": 1, "24576": 0, "32768": 0},
        token_stats=dict(min=120.0, mean=2000.5, p50=1500.0, p90=9000.0, max=12000.0), sources=list(sources))


def source(name, license, role="train", kind="jsonl", location=None, origin="pipeline", **more):
    location = location or f"/home/someone/data/{name}.{kind}"
    fields = dict(subset=None, split=None, revision=None, commit=None) | more
    return SourceRecord(name=name, role=role, kind=kind, location=location, license=license,
                        license_from=origin if license else None, rows=10, **fields)


def split(card):
    _, meta, body = card.split("---\n", 2)
    return yaml.safe_load(meta), body


def test_front_matter_points_the_loader_at_the_shards_with_their_features():
    meta, _ = split(render_card(manifest()))
    assert meta == front_matter(manifest())
    train = {"split": "train"}
    assert meta["configs"] == [
        {"config_name": "default", "data_files": [train | {"path": ["data/8k/train-*", "data/16k/train-*",
                                                                   "data/24k/train-*", "data/32k/train-*"]}]},
        {"config_name": "le8k", "data_files": [train | {"path": ["data/8k/train-*"]}]},
        {"config_name": "le16k", "data_files": [train | {"path": ["data/8k/train-*", "data/16k/train-*"]}]},
        {"config_name": "le24k", "data_files": [train | {"path": ["data/8k/train-*", "data/16k/train-*",
                                                                  "data/24k/train-*"]}]},
        {"config_name": "le32k", "data_files": [train | {"path": ["data/8k/train-*", "data/16k/train-*",
                                                                  "data/24k/train-*", "data/32k/train-*"]}]}]
    features = meta["dataset_info"]["features"]
    assert [f["name"] for f in features] == PUBLISHED_SCHEMA.names
    # the HF loader's own reading of the Arrow schema, so the two cannot disagree
    assert datasets.Features._from_yaml_list(features) == datasets.Features.from_arrow_schema(PUBLISHED_SCHEMA)
    messages = next(f for f in features if f["name"] == "messages")
    assert messages["list"] == [{"name": "role", "dtype": "string"}, {"name": "content", "dtype": "string"}]
    assert next(f for f in features if f["name"] == "length") == {"name": "length", "dtype": "int64"}


def test_a_manifest_from_before_bucket_directories_keeps_its_one_config():
    old = manifest()
    old.shards = [ShardEntry(path="data/train-00000-of-00001.parquet", rows=5, bytes=100, sha256="a" * 64)]
    meta, _ = split(render_card(old))
    assert meta["configs"] == [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}]


def test_every_figure_comes_from_the_manifest():
    _, body = split(render_card(manifest(**{"rejected.wrong_answer": 4, "rejected.truncated": 2})))
    assert "**5** rows published in 5 shard(s), out of\n12 teacher samples for 3 problems" in body
    assert "(6 rejected, 1 not yet verified)" in body
    assert "| wrong_answer | 4 |" in body and "| truncated | 2 |" in body
    assert "| ok | 3 |" in body and "| duplicate | 1 |" in body
    # rows per bucket, and per cumulative config
    assert "| `le8k` | 8192 tokens | 4 | 4 |" in body and "| `le16k` | 16384 tokens | 1 | 5 |" in body
    assert "| `le32k` | 32768 tokens | 0 | 5 |" in body
    assert "min 120, mean 2000.5, p50 1500, p90 9000, max 12000" in body
    assert "`Qwen/Qwen2.5-Math-7B` at commit `0123456789ab`" in body and "run `r1`" in body
    assert "chat template (sha256 `cccccccccccccccc`)" in body


def test_no_rejections_show_as_none_and_lengths_without_a_template_say_what_they_leave_out():
    _, body = split(render_card(manifest(template=None)))
    assert "## Rejected samples\n\n| reason | samples |\n|---|---:|\n| (none) | 0 |" in body
    # a training team must not read a bucket as a templated length when there was no template
    assert "has no chat template" in body and "not counted" in body


def test_every_column_is_described():
    _, body = split(render_card(manifest()))
    columns = body.split("## Columns")[1].split("## Loading")[0]
    rows = [line for line in columns.splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == PUBLISHED_SCHEMA.names
    assert all(not r.endswith("|  |") for r in rows)


@pytest.mark.parametrize("licenses, keys", [
    (["mit", "mit"], {"license": "mit"}),
    (["cc-by-4.0"], {"license": "cc-by-4.0"}),
    ([None, None], {"license": "unknown"}),
    (["mit", "cc-by-4.0"], {"license": "other", "license_name": "mixed-sources"}),
    (["mit", None], {"license": "other", "license_name": "mixed-sources"}),
    (["Free for research use only; see the paper."], {"license": "other"}),
])
def test_the_card_license_is_what_the_sources_declare(licenses, keys):
    sources = [source(f"s{k}", lic) for k, lic in enumerate(licenses)]
    # an eval set's license does not bear on the published rows: none of its problems is in them
    meta, body = split(render_card(manifest(sources + [source("bench", "gpl-3.0", role="decontaminate")])))
    assert {k: v for k, v in meta.items() if k.startswith("license")} == keys
    table = body[body.index("| source | from |"):body.index("## Problems")]
    for k, lic in enumerate(licenses):
        assert f"| s{k} | local jsonl file `s{k}.jsonl` |  | {f'`{lic}`' if lic else 'unknown'} | 10 |" in table
    assert "/home/someone" not in body
    assert "bench (local jsonl file `bench.jsonl`, 10 rows; 0 training rows matched it)" in body


def test_the_card_says_why_its_license_is_other_or_unknown():
    _, mixed = split(render_card(manifest([source("a", "mit"), source("b", "cc-by-4.0")])))
    assert "different licenses" in mixed and "filter on `source`" in mixed
    _, unknown = split(render_card(manifest([source("a", None)])))
    assert "No source declares a license" in unknown and "before redistributing" in unknown
    _, known = split(render_card(manifest([source("a", "mit")])))
    assert "Every problem comes from a source under `mit`." in known


def test_hub_sources_link_the_hub_and_pin_the_commit():
    hub = source("ds", "mit", kind="hf", location="agentica-org/DeepScaleR-Preview-Dataset", split="train",
                 revision="main", commit="0123456789abcdef" * 2 + "01234567", origin="dataset")
    _, body = split(render_card(manifest([hub])))
    assert ("| ds | [agentica-org/DeepScaleR-Preview-Dataset](https://huggingface.co/datasets/agentica-org/"
            "DeepScaleR-Preview-Dataset) @ `0123456789ab` | train | `mit` (declared by the dataset) | 10 |") in body
    local = source("mine", None, kind="hf", location="/srv/data/my_hf_dataset", split="train")
    assert "| mine | local dataset `my_hf_dataset` | train | unknown | 10 |" in split(render_card(manifest([local])))[1]


def test_a_manifest_without_sources_claims_no_license():
    meta, body = split(render_card(manifest()))
    assert "license" not in meta and "## Sources" not in body
