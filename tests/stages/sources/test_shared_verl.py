"""The real verl-format DeepScaleR Parquet in ../shared/data, read through a pipeline file (skipped without it)."""

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from factory.config import load_pipeline
from factory.stages.sources import curate_pipeline

VERL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "deepscaler_subset2k_verl.parquet"
RECIPE_SUFFIX = "Let's think step by step and output the final answer within \\boxed{}."

PIPELINE = """
name: verl
sources:
  - name: deepscaler-verl
    kind: parquet
    path: {path}
    license: apache-2.0
    fields: {{problem: "prompt[-1].content", answer: reward_model.ground_truth, id: extra_info.index}}
teacher: {{base_url: "http://127.0.0.1:1/v1", model: m}}
tokenizer: {{name: tok.json}}
"""


@pytest.mark.shared
@pytest.mark.skipif(not VERL.exists(), reason="../shared/data is absent")
def test_the_real_verl_parquet_loads_through_a_pipeline_file(tmp_path):
    path = tmp_path / "verl.yaml"
    path.write_text(PIPELINE.format(path=VERL))
    cur = curate_pipeline(load_pipeline(path))
    problems, [source] = cur.problems, cur.sources

    truth = pq.read_table(VERL, columns=["prompt", "reward_model", "extra_info"]).to_pylist()
    assert problems.num_rows == source.rows == len(truth) == 2000
    assert problems["source_row"].to_pylist() == [str(t["extra_info"]["index"]) for t in truth]
    assert problems["reference_answer"].to_pylist() == [t["reward_model"]["ground_truth"].strip() or None
                                                        for t in truth]
    assert problems["problem"].to_pylist() == [t["prompt"][-1]["content"].strip() for t in truth]
    assert all(p.endswith(RECIPE_SUFFIX) for p in problems["problem"].to_pylist())
    assert problems["status"].to_pylist().count("ok") > 1900
    assert (source.license, source.license_from, source.kind) == ("apache-2.0", "pipeline", "parquet")
