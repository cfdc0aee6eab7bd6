"""The demo pipeline end to end through the CLI: real local Ray, simulated teacher over HTTP,
then the shards read back by `datasets` and DuckDB, checksums and provenance joins checked."""

import hashlib
import json

import duckdb
import pyarrow.parquet as pq
import pytest

from factory.store.records import CURRICULUM_BUCKETS, PUBLISHED_SCHEMA, bucket_for

from support.cli import DEMO, factory

pytestmark = pytest.mark.e2e
LIMIT = 30


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    result = factory("run", DEMO, "--out", out, "--limit", LIMIT)
    assert result.returncode == 0, result.stderr
    return out, result


def test_cli_reports_what_it_published(demo_run):
    out, result = demo_run
    manifest = json.loads((out / "manifest.json").read_text())
    assert f"published {manifest['counts']['published']} samples" in result.stdout
    assert manifest["counts"]["published"] > LIMIT  # 4 samples per problem, most of them correct


def test_shards_load_with_datasets_unchanged(demo_run, tmp_path):
    import datasets

    out, _ = demo_run
    cache = str(tmp_path / "hf-cache")  # a private cache: nothing from other runs can answer
    manifest = json.loads((out / "manifest.json").read_text())
    files = [str(out / s["path"]) for s in manifest["shards"]]
    assert all(s["path"].startswith(f"data/{s['bucket'] // 1024}k/train-") for s in manifest["shards"])
    ds = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=cache)
    assert ds.num_rows == manifest["counts"]["published"]
    row = ds[0]
    assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
    assert row["messages"][1]["content"].startswith("<think>\n") and "</think>" in row["messages"][1]["content"]
    assert row["curriculum_bucket"] in CURRICULUM_BUCKETS and row["total_tokens"] > 0
    assert row["total_tokens"] == row["prompt_tokens"] + row["reasoning_tokens"] + row["answer_tokens"]
    # the demo counts lengths with its ChatML template: markers and tags on top of the texts
    template = (DEMO.parent.parent / "datasets" / "demo" / "chat_template.jinja").read_bytes()
    assert manifest["chat_template_sha256"] == hashlib.sha256(template).hexdigest()
    assert row["length"] > row["total_tokens"] and row["curriculum_bucket"] == bucket_for(row["length"])
    # the dataset card's configs find the shards, and its curriculum configs the rows that fit
    via_card = datasets.load_dataset(str(out), split="train", cache_dir=cache)
    assert via_card.num_rows == ds.num_rows
    le8k = datasets.load_dataset(str(out), "le8k", split="train", cache_dir=cache)
    assert le8k.num_rows == manifest["curriculum_buckets"]["8192"] and max(le8k["length"]) <= 8192
    assert files
    for f in files:
        assert pq.read_schema(f).remove_metadata() == PUBLISHED_SCHEMA


def test_shards_train_with_trl_sft_unchanged(demo_run, tmp_path):
    """The dataset card's TRL snippet, run: two SFT steps of a tiny local model on the published shards.

    The model is built from a config (nothing downloaded), with the demo's own tokenizer and a plain
    chat template: what a training team's own script would do with the shards, outside `factory train`.
    """
    import datasets
    import torch
    import transformers
    from trl import SFTConfig, SFTTrainer

    out, _ = demo_run
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(DEMO.parent / "../datasets/demo/tokenizer.json"), eos_token="<|endoftext|>",
        pad_token="<|endoftext|>")
    tokenizer.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|endoftext|>\n"
                               "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")
    torch.manual_seed(0)
    model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8192,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id))
    args = SFTConfig(output_dir=str(tmp_path / "sft"), max_steps=2, per_device_train_batch_size=2, max_length=8192,
                     report_to=[], use_cpu=True, save_strategy="no", logging_steps=1)
    trainer = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=ds, args=args)
    result = trainer.train()
    assert result.global_step == 2 and torch.isfinite(torch.tensor(result.training_loss))
    assert len(trainer.train_dataset) == ds.num_rows  # every row tokenized, none dropped
    first = tokenizer.decode(trainer.train_dataset[0]["input_ids"])
    assert "<|assistant|>" in first and "<think>" in first and ds[0]["reasoning"][:40] in first


def test_manifest_checksums_match(demo_run):
    out, _ = demo_run
    manifest = json.loads((out / "manifest.json").read_text())
    for shard in manifest["shards"]:
        data = (out / shard["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == shard["sha256"] and len(data) == shard["bytes"]
    rows = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{out}/data/*/*.parquet')").fetchone()[0]
    assert rows == sum(s["rows"] for s in manifest["shards"]) == manifest["counts"]["published"]


def test_every_published_row_joins_its_request_and_problem(demo_run):
    out, _ = demo_run
    con = duckdb.connect(str(out / "provenance.duckdb"), read_only=True)
    con.execute(f"CREATE TEMP VIEW shard AS SELECT * FROM read_parquet('{out}/data/*/*.parquet')")
    published = con.execute("SELECT count(*) FROM shard").fetchone()[0]
    joined = con.execute("""
        SELECT count(*) FROM shard s
        JOIN requests r ON r.sample_id = s.id
        JOIN problems p ON p.problem_id = r.problem_id AND p.status = 'ok'
        WHERE p.source = s.source AND p.source_row = s.source_row""").fetchone()[0]
    assert joined == published
    assert con.execute("SELECT count(*) FROM lineage").fetchone()[0] == published
    journal_lines = sum(1 for f in (out / "journal").glob("*.jsonl") for _ in open(f))
    assert con.execute("SELECT count(*) FROM requests").fetchone()[0] == journal_lines == 4 * LIMIT
    reasons = dict(con.execute("SELECT reason, count(*) FROM outcomes WHERE status = 'rejected' GROUP BY 1").fetchall())
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(reasons.values()) == manifest["counts"]["rejected"] > 0
    assert set(reasons) <= {"wrong_answer", "truncated", "duplicate_trace", "no_answer", "hedged", "unparseable",
                            "unclosed_think", "request_failed", "over_length", "empty"}
    con.close()


def test_status_and_audit(demo_run):
    out, _ = demo_run
    status = factory("status", out)
    assert status.returncode == 0 and f"expected={4 * LIMIT}" in status.stdout and "publish" in status.stdout
    summary = factory("audit", out)
    assert summary.returncode == 0 and "requests and tokens spent" in summary.stdout
    one = factory("audit", out, "SELECT count(*) AS n FROM lineage")
    assert one.returncode == 0 and one.stdout.split()[-1].isdigit()
    bad = factory("audit", out, "SELECT nope FROM nowhere")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1


def test_rerun_asks_nothing_and_republishes_identically(demo_run):
    out, _ = demo_run
    before = json.loads((out / "manifest.json").read_text())
    journals = sorted((out / "journal").iterdir())
    again = factory("run", DEMO, "--out", out, "--limit", LIMIT)
    assert again.returncode == 0, again.stderr
    assert "nothing missing" in again.stderr
    assert sorted((out / "journal").iterdir()) == journals
    after = json.loads((out / "manifest.json").read_text())
    assert [s["sha256"] for s in after["shards"]] == [s["sha256"] for s in before["shards"]]
