"""A curriculum stage no row fits has no config: `datasets` cannot load a config whose files hold no row."""

import pytest
import yaml
from datasets import load_dataset

from factory.publish_remote import check
from factory.publish_remote.configs import config_problems

from support.published import published_run


def test_a_publication_with_no_row_under_8k_has_no_le8k_config_and_loads_the_rest(tmp_path):
    run = published_run(tmp_path / "run", n_problems=3, lengths=[9000, 12000, 20000])
    meta = yaml.safe_load((run / "README.md").read_text().split("---\n")[1])
    assert [c["config_name"] for c in meta["configs"]] == ["default", "le16k", "le24k", "le32k"]
    assert "(no `le8k`: no row fits)" in (run / "README.md").read_text()
    report = check(run)
    assert report.ok, report.problems
    cache = str(tmp_path / "hf-cache")
    assert load_dataset(str(run), "le16k", split="train", cache_dir=cache).num_rows == 4
    with pytest.raises(ValueError):  # what the loader would do with an le8k config: why there is none
        load_dataset("parquet", data_files=str(run / "data/8k/*.parquet"), split="train", cache_dir=cache)


def test_check_names_a_config_without_rows_and_a_stage_with_rows_but_no_config():
    shards = [{"path": "data/8k/train-00000-of-00001.parquet", "rows": 0, "bucket": 8192},
              {"path": "data/16k/train-00000-of-00001.parquet", "rows": 3, "bucket": 16384}]
    buckets = {"8192": 0, "16384": 3}

    def config(name, *dirs):
        return {"config_name": name, "data_files": [{"split": "train", "path": [f"data/{d}/train-*" for d in dirs]}]}

    problems, _ = config_problems([config("default", "8k", "16k"), config("le8k", "8k")], shards,
                                  [s["path"] for s in shards], buckets)
    assert problems == ["config le8k: covers no row, and `datasets` cannot load a config without rows",
                        "card: no `le16k` config, though 3 rows fit in 16384 tokens"]
