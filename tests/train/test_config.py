"""Training configs: every key checked before a row or a model is loaded, with one-line errors."""

import pytest
import yaml

from factory.errors import ConfigError
from factory.train.config import load_train_config

from support.cli import ROOT, factory

BASE = dict(name="t", method="sft", data=[{"run": "runs/x"}], model={"name": "org/model"},
            stages=[{"max_length": 1024}, {"max_length": 2048}])


def write(tmp_path, **changes):
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(BASE | changes))
    return path


@pytest.mark.parametrize("changes, message", [
    (dict(learnin_rate=1e-5), "learnin_rate: unknown key"),
    (dict(stages=[{"max_length": 2048}, {"max_length": 1024}]), "max_length must grow"),
    (dict(stages=[{"max_length": 1024, "max_stepz": 3}]), "stages.0.max_stepz: unknown key"),
    (dict(data=[{"run": "a", "parquet": "b.parquet"}]), "exactly one of `run`, `dataset` or `parquet`"),
    (dict(model={"name": "x", "init": {"config": {"model_type": "qwen2"}, "tokenizer": "t.json"}}),
     "exactly one of `name`"),
    (dict(model={"init": {"config": {"hidden_size": 8}, "tokenizer": "t.json"}}), "needs `model_type`"),
    (dict(method="grpo", num_generations=3, per_device_train_batch_size=4), "multiple of num_generations"),
    (dict(method="grpo", per_device_train_batch_size=8, pass_rate=[0.9, 0.1]), "pass_rate [0.9, 0.1] must be"),
    (dict(method="grpo", per_device_train_batch_size=8, prompt_template="no placeholder"), "must contain {problem}"),
    (dict(method="ppo"), "method"),
    (dict(method="grpo", per_device_train_batch_size=8, vllm={"mode": "remote"}), "vllm.mode"),
    (dict(packing=True, padding_free=True), "not both"),
])
def test_bad_keys_and_values_are_named_in_one_line(tmp_path, changes, message):
    with pytest.raises(ConfigError) as err:
        load_train_config(write(tmp_path, **changes))
    assert message in str(err.value) and "\n" not in str(err.value) and "train.yaml" in str(err.value)


def test_paths_resolve_against_the_file_and_ids_stay_ids(tmp_path):
    (tmp_path / "runs" / "x").mkdir(parents=True)
    cfg = load_train_config(write(tmp_path))
    assert cfg.data[0].run == str(tmp_path / "runs" / "x") and cfg.model.name == "org/model"
    assert cfg.stage_name(1) == "stage-1-1024" and cfg.stage_name(2) == "stage-2-2048"


def test_data_on_the_command_line_replaces_the_files(tmp_path):
    (tmp_path / "a").mkdir()
    cfg = load_train_config(write(tmp_path), data=[str(tmp_path / "a"), "org/set@abc123", "x/*.parquet"])
    assert [(d.run, d.dataset, d.revision, d.parquet) for d in cfg.data] == [
        (str(tmp_path / "a"), None, None, None), (None, "org/set", "abc123", None), (None, None, None, "x/*.parquet")]


def test_every_shipped_config_validates_through_the_cli():
    shipped = sorted((ROOT / "pipelines").glob("*.yaml"))
    assert {p.name for p in shipped} >= {"train-sft-demo.yaml", "train-grpo-demo.yaml", "eval-demo.yaml",
                                          "train-sft-deepscaler.yaml", "train-grpo-deepscaler.yaml",
                                          "eval-deepscaler.yaml"}
    for path in shipped:
        one = factory("validate", path)
        assert one.returncode == 0 and ": ok (" in one.stdout, (path, one.stderr)


def test_an_unknown_key_fails_before_anything_is_loaded(tmp_path):
    bad = write(tmp_path, data=[{"run": str(tmp_path / "nowhere")}], warmup=3)
    result = factory("train", bad, "--out", tmp_path / "out")
    assert result.returncode == 1 and "warmup: unknown key" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_the_group_check_counts_the_processes_a_launcher_started(tmp_path, monkeypatch):
    config = write(tmp_path, method="grpo", per_device_train_batch_size=1, num_generations=8)
    with pytest.raises(ConfigError, match="must be a multiple of num_generations"):
        load_train_config(config)
    monkeypatch.setenv("WORLD_SIZE", "8")  # 1 per device x 8 processes: whole groups of 8
    assert load_train_config(config).per_device_train_batch_size == 1
