"""SFT through context stages on a published run: the student learns, every stage is a model directory,
and the lineage leads from a stage to the shards, the rows and the teacher's requests."""

import json

import duckdb
import pyarrow.parquet as pq
import pytest

from factory.train.config import load_train_config
from factory.train.run import train

from support.train import write_config


@pytest.fixture(scope="module")
def trained(demo_run, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sft")
    cfg = load_train_config(write_config(tmp, demo_run))
    out = tmp / "out"
    record = train(cfg, out, "factory train sft.yaml")
    return cfg, out, record


def test_each_stage_is_a_model_directory_that_loads_and_the_weights_moved(trained):
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    from factory.train.model import load_model, load_tokenizer

    cfg, out, record = trained
    assert [s["name"] for s in record["stages"]] == ["stage-1-512", "stage-2-2048"]
    start = load_model(cfg.model, load_tokenizer(cfg.model), cfg.seed)  # the same seed: the weights it began with
    stages = [AutoModelForCausalLM.from_pretrained(str(out / name)) for name in ("stage-1-512", "stage-2-2048")]
    final = AutoModelForCausalLM.from_pretrained(str(out / "final"))
    for a, b in ((start, stages[0]), (stages[0], stages[1])):
        assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert all(torch.equal(p, q) for p, q in zip(stages[1].parameters(), final.parameters(), strict=True))
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(out / "final"))
    assert tokenizer.eos_token == "<|im_end|>" and "{% generation %}" in tokenizer.chat_template


def test_the_loss_falls_within_each_stage(trained):
    _, _, record = trained
    for stage in record["stages"]:
        assert stage["steps"] == 6 and stage["processes"] == 1
        assert stage["last_loss"] < stage["first_loss"], stage


def test_a_stage_trains_on_the_rows_that_fit_it_with_the_chat_template(trained, demo_run):
    from factory.train.data import sft_rows, with_lengths
    from factory.train.model import load_tokenizer

    cfg, out, record = trained
    rows = with_lengths(sft_rows(cfg)[0], load_tokenizer(cfg.model))
    lengths = dict(zip(rows["id"], rows["tokens"], strict=True))
    first = pq.read_table(out / "stage-1-512" / "training_rows.parquet").to_pylist()
    second = pq.read_table(out / "stage-2-2048" / "training_rows.parquet").to_pylist()
    assert {r["id"] for r in first} == {i for i, t in lengths.items() if t <= 512}
    assert {r["id"] for r in second} == {i for i, t in lengths.items() if t <= 2048}  # cumulative
    assert 0 < len(first) < len(second) and record["stages"][0]["rows"] == len(first)
    assert all(r["tokens"] == lengths[r["id"]] for r in second)
    assert record["left_out"] == {"too_long": sum(t > 2048 for t in lengths.values())}


def test_training_json_names_every_shard_with_its_manifest_checksum(trained, demo_run):
    _, out, record = trained
    manifest = json.loads((demo_run / "manifest.json").read_text())
    (data,) = record["data"]
    assert data["kind"] == "run" and data["run_id"] == manifest["run_id"] and data["path"] == str(demo_run)
    assert [(s["path"], s["sha256"], s["rows"]) for s in data["shards"]] == \
        [(s["path"], s["sha256"], s["rows"]) for s in manifest["shards"]]
    assert json.loads((out / "training.json").read_text()) == record and record["final"] == "final"


def test_the_documented_lineage_query_leads_from_a_stage_to_the_teacher_requests(trained, demo_run):
    _, out, _ = trained
    card = (out / "README.md").read_text()
    sql = card.split("```sql\n")[1].split("```")[0]
    sql = sql.replace("STAGE_DIR", str(out / "stage-1-512"))
    con = duckdb.connect(str(demo_run / "provenance.duckdb"), read_only=True)
    rows = con.sql(sql).fetchall()
    used = pq.read_table(out / "stage-1-512" / "training_rows.parquet").num_rows
    assert len(rows) == used > 0
    shard_rows = {(r[1], r[2]) for r in rows}  # (shard, row_index): the row in the published shard
    assert all(shard.startswith("data/") and "/train-" in shard for shard, _ in shard_rows)
    assert all(r[6] and r[8] for r in rows)  # the endpoint and the exact sampling sent to the teacher


def test_only_the_rows_new_to_a_stage(demo_run, tmp_path):
    cfg = load_train_config(write_config(tmp_path, demo_run, new_rows_only=True,
                                         stages=[{"max_length": 512, "max_steps": 1}, {"max_length": 2048,
                                                                                      "max_steps": 1}]))
    train(cfg, tmp_path / "out", "t")
    first = set(pq.read_table(tmp_path / "out" / "stage-1-512" / "training_rows.parquet")["id"].to_pylist())
    second = set(pq.read_table(tmp_path / "out" / "stage-2-2048" / "training_rows.parquet")["id"].to_pylist())
    assert first and second and not first & second


@pytest.mark.parametrize("option", [dict(packing=True), dict(padding_free=True)])
def test_packing_and_padding_free_batches_train(demo_run, tmp_path, option):
    cfg = load_train_config(write_config(tmp_path, demo_run, stages=[{"max_length": 1024, "max_steps": 3}], **option))
    record = train(cfg, tmp_path / "out", "t")
    assert record["stages"][0]["steps"] == 3 and record["stages"][0]["last_loss"] is not None


def test_another_config_on_the_same_directory_is_refused(trained, tmp_path, demo_run):
    from factory.errors import RunDirError

    _, out, _ = trained
    other = load_train_config(write_config(tmp_path, demo_run, learning_rate=0.1))
    with pytest.raises(RunDirError, match="holds a training with another config"):
        train(other, out, "t")


def test_a_changed_shard_is_refused(demo_run, tmp_path):
    import shutil

    from factory.errors import SourceError

    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    shard = next((copy / "data").glob("*/*.parquet"))
    shard.write_bytes(shard.read_bytes()[:-1] + b"\x00")
    with pytest.raises(SourceError, match="does not match its manifest"):
        train(load_train_config(write_config(tmp_path, copy)), tmp_path / "out", "t")


def test_a_hugging_face_dataset_by_id_and_revision(demo_run, tmp_path):
    """`dataset:` goes through `datasets.load_dataset(id, split=, revision=)` as a hub id would; here the id
    is a local dataset directory (the run, through its dataset card), as the loader also takes one."""
    from factory.train.data import sft_rows

    cfg = load_train_config(write_config(tmp_path, demo_run, data=[{"dataset": str(demo_run), "split": "train"}]))
    rows, lineage = sft_rows(cfg)
    manifest = json.loads((demo_run / "manifest.json").read_text())
    assert len(rows) == manifest["counts"]["published"] and set(rows.column_names) == {"messages", "id", "run_id"}
    assert lineage == [dict(kind="dataset", id=str(demo_run), revision=None, subset=None, split="train",
                            fingerprint=lineage[0]["fingerprint"], rows=len(rows))]
    assert lineage[0]["fingerprint"]


def test_a_resume_on_data_that_changed_is_refused(demo_run, tmp_path):
    import shutil

    from factory.errors import RunDirError
    from factory.store.rundir import write_atomic

    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    cfg = load_train_config(write_config(tmp_path, copy, stages=[{"max_length": 512, "max_steps": 1},
                                                                 {"max_length": 2048, "max_steps": 1}]))
    out = tmp_path / "out"
    train(cfg, out, "t")
    record = json.loads((out / "training.json").read_text())
    record["stages"] = record["stages"][:1]  # as if killed after stage 1
    write_atomic(out / "training.json", json.dumps(record))
    manifest = json.loads((copy / "manifest.json").read_text())  # republished: other shards, same paths
    shard = copy / manifest["shards"][0]["path"]
    table = pq.read_table(shard)
    pq.write_table(table.slice(1), shard)
    manifest["shards"][0]["sha256"] = __import__("hashlib").sha256(shard.read_bytes()).hexdigest()
    write_atomic(copy / "manifest.json", json.dumps(manifest))
    with pytest.raises(RunDirError, match="the data changed since stage-1-512"):
        train(cfg, out, "t")
