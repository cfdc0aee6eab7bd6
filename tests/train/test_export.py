"""`factory export`: a run's problems as verl's or TRL's RL training Parquet."""

import pyarrow.parquet as pq
import pytest

from factory.train.export import TRL_SCHEMA, VERL_SCHEMA, export
from factory.train.prompts import pass_rates
from factory.train.verl_reward import compute_score

from support.cli import ROOT, factory

SHARED_VERL = ROOT.parent / "shared" / "data" / "deepscaler_subset2k_verl.parquet"
VERL_COLUMNS = ["data_source", "prompt", "ability", "reward_model", "extra_info"]


def test_verl_layout(demo_run, tmp_path):
    out = tmp_path / "verl.parquet"
    result = factory("export", demo_run, "--format", "verl", "--out", out, "--split", "train")
    assert result.returncode == 0 and "exported 24 problems" in result.stdout
    table = pq.read_table(out)
    assert table.schema.remove_metadata() == VERL_SCHEMA
    rows = table.to_pylist()
    problems = {p["problem_id"]: p for p in pq.read_table(demo_run / "problems.parquet").to_pylist()}
    rates = pass_rates(demo_run)
    assert [r["extra_info"]["index"] for r in rows] == list(range(24))
    for r in rows:
        problem = problems[r["extra_info"]["problem_id"]]
        assert r["data_source"] == "run" and r["ability"] == "math" and r["extra_info"]["split"] == "train"
        assert r["reward_model"] == {"ground_truth": problem["reference_answer"], "style": "rule"}
        assert r["prompt"] == [{"content": problem["problem"] + " Let's think step by step and output the final "
                                "answer within \\boxed{}.", "role": "user"}]
        assert r["extra_info"]["pass_rate"] == pytest.approx(rates[problem["problem_id"]])


def test_trl_layout(demo_run, tmp_path):
    assert export(demo_run, "trl", tmp_path / "trl.parquet") == 24
    table = pq.read_table(tmp_path / "trl.parquet")
    assert table.schema.remove_metadata() == TRL_SCHEMA
    row = table.to_pylist()[0]
    assert [t["role"] for t in row["prompt"]] == ["user"] and row["answer"] and row["source"] == "demo-synth"


def test_the_verl_reward_function_is_the_verifier():
    assert compute_score("run", "<think>x</think> so $\\boxed{\\frac{1}{2}}$", "0.5") == 1.0
    assert compute_score("run", "<think>x</think> so $\\boxed{3}$", "0.5") == 0.0
    assert compute_score("run", "no reasoning, \\boxed{0.5}", "0.5") == 0.0  # the strict format policy


def test_a_run_without_problems_is_named(tmp_path):
    result = factory("export", tmp_path, "--format", "trl", "--out", tmp_path / "x.parquet")
    assert result.returncode == 1 and "has no problems.parquet" in result.stderr


@pytest.mark.shared
@pytest.mark.skipif(not SHARED_VERL.exists(), reason="../shared/data is absent")
def test_the_verl_columns_have_the_types_of_a_real_verl_training_file(demo_run, tmp_path):
    export(demo_run, "verl", tmp_path / "verl.parquet")
    ours, theirs = pq.read_schema(tmp_path / "verl.parquet"), pq.read_schema(SHARED_VERL)
    for column in ("data_source", "prompt", "ability", "reward_model"):
        assert ours.field(column).type == theirs.field(column).type, column
    ours_extra, theirs_extra = ours.field("extra_info").type, theirs.field("extra_info").type
    for name in ("index", "split"):  # what verl reads of extra_info; the rest is the exporter's own
        assert ours_extra.field(name).type == theirs_extra.field(name).type
    assert set(VERL_COLUMNS) <= set(theirs.names)


def test_pass_rate_keeps_the_problems_within(demo_run, tmp_path):
    rates = pass_rates(demo_run)
    within = {pid for pid, rate in rates.items() if 0.3 <= rate <= 0.8}
    assert 0 < len(within) < 24  # the demo has easy and hard problems, or this test proves nothing
    result = factory("export", demo_run, "--format", "trl", "--out", tmp_path / "rl.parquet", "--pass-rate", 0.3, 0.8)
    assert result.returncode == 0 and f"exported {len(within)} problems" in result.stdout
    assert set(pq.read_table(tmp_path / "rl.parquet")["problem_id"].to_pylist()) == within


def test_pass_rates_are_the_columns_publish_wrote(demo_run):
    problems = pq.read_table(demo_run / "problems.parquet").to_pylist()
    asked = [p for p in problems if p["status"] == "ok"]
    assert pass_rates(demo_run) == {p["problem_id"]: p["samples_correct"] / p["samples_judged"] for p in asked}


# with 4 samples a problem, every pass rate is a multiple of 0.25: none lies in [0.1, 0.2]
@pytest.mark.parametrize("bounds, message", [(("0.9", "0.1"), "--pass-rate 0.9 0.1: give LO HI"),
                                             (("0.1", "0.2"), "widen --pass-rate")])
def test_a_bad_or_empty_pass_rate_range_is_one_line(demo_run, tmp_path, bounds, message):
    result = factory("export", demo_run, "--format", "trl", "--out", tmp_path / "x.parquet", "--pass-rate", *bounds)
    assert result.returncode == 1 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.parquet").exists()
