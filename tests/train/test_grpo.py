"""GRPO with the verifier as reward: prompts from the factory's problems, rewards that are the verifier's."""

import json

import pyarrow.parquet as pq
import pytest

from factory.train.config import load_train_config
from factory.train.grpo import reward_functions, train_stage
from factory.train.model import load_model, load_tokenizer
from factory.train.prompts import grpo_prompts, pass_rates
from factory.train.rewards import well_formed
from factory.train.run import train
from factory.verify import verify

from support.train import write_config

PROMPT = "What is 2 plus 3? Put the answer in \\boxed{}."
REPLY = "<think>\n2 plus 3 is 5.\n</think>\n\nThe answer is $\\boxed{5}$."


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    """A tiny student taught one reply by heart (SFT), and a GRPO set asking it twice: once where that
    reply is right (answer 5), once where it is wrong (answer 6)."""
    import pyarrow as pa

    tmp = tmp_path_factory.mktemp("taught")
    rows = [{"messages": [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": REPLY}]}] * 16
    pq.write_table(pa.Table.from_pylist(rows), tmp / "sft.parquet")
    # 60 steps: the reply learnt well enough (loss ~0.16) that most samples at temperature 0.6 repeat it
    sft = load_train_config(write_config(tmp, tmp, data=[{"parquet": str(tmp / "sft.parquet")}],
                                         stages=[{"max_length": 256, "max_steps": 60}], learning_rate=0.01))
    train(sft, tmp / "student", "t")
    prompt = [{"role": "user", "content": PROMPT}]
    pq.write_table(pa.Table.from_pylist([dict(prompt=prompt, answer="5", problem_id="right"),
                                         dict(prompt=prompt, answer="6", problem_id="wrong")]), tmp / "grpo.parquet")
    return tmp


def test_the_logged_rewards_are_the_verifiers_a_right_answer_1_a_wrong_one_0(taught, tmp_path):
    cfg = load_train_config(write_config(tmp_path, taught, "grpo", data=[{"parquet": str(taught / "grpo.parquet")}],
                                         model={"name": str(taught / "student" / "final")},
                                         stages=[{"max_length": 40, "max_steps": 3}], num_generations=4,
                                         per_device_train_batch_size=8, learning_rate=1e-6, temperature=0.6))
    tokenizer = load_tokenizer(cfg.model)
    prompts, _, _ = grpo_prompts(cfg, tokenizer)
    funcs, weights = reward_functions(cfg, record=True)
    trainer = train_stage(cfg, 1, load_model(cfg.model, tokenizer, 0, checkpoint=cfg.model.name), tokenizer,
                          prompts, tmp_path / "ck", rewards=(funcs, weights))
    (accuracy,) = funcs
    logged = [h["rewards/accuracy/mean"] for h in trainer.state.log_history if "rewards/accuracy/mean" in h]
    per_step = 8  # completions scored per step (two prompts x four), one process
    assert len(logged) == 3 and len(accuracy.seen) == 3 * per_step
    for step, mean in enumerate(logged):
        scored = accuracy.seen[step * per_step:(step + 1) * per_step]
        assert mean == pytest.approx(sum(r for _, _, r in scored) / per_step)
        # each reward is what the verifier itself says of that completion against that reference
        assert all(r == float(well_formed(text) and verify(ref, text).correct) for ref, text, r in scored)
    # the student answers 5 either way: right where the reference is 5, wrong where it is 6
    right = [r for ref, _, r in accuracy.seen if ref == "5"]
    wrong = [r for ref, _, r in accuracy.seen if ref == "6"]
    assert sum(right) >= len(right) / 2 and wrong == [0.0] * len(wrong)
    assert max(logged) > 0


def test_two_stages_of_completion_length_each_a_model_directory(demo_run, tmp_path):
    # with a KL term TRL loads a reference model from the policy's path: a built model is saved as base/
    cfg = load_train_config(write_config(tmp_path, demo_run, "grpo", beta=0.001))
    record = train(cfg, tmp_path / "out", "factory train grpo.yaml")
    assert [(s["name"], s["steps"]) for s in record["stages"]] == [("stage-1-24", 2), ("stage-2-48", 1)]
    assert record["base"] == "base" and (tmp_path / "out" / "base" / "model.safetensors").is_file()
    assert all(s["first_reward"] is not None for s in record["stages"])
    used = pq.read_table(tmp_path / "out" / "stage-1-24" / "training_rows.parquet")
    assert set(used.column_names) == {"answer", "problem_id", "pass_rate"} and used.num_rows == 24
    (data,) = record["data"]
    assert data["kind"] == "run" and data["prompts"] == 24 and len(data["problems"]["sha256"]) == 64
    card = (tmp_path / "out" / "README.md").read_text()
    assert "first mean reward" in card and "stage-2-48" in card


def test_the_pass_rate_filter_reads_the_teachers_verdicts(demo_run, tmp_path):
    rates = pass_rates(demo_run)
    assert len(rates) == 24 and all(0 <= r <= 1 for r in rates.values())
    low, high = 0.3, 0.9
    cfg = load_train_config(write_config(tmp_path, demo_run, "grpo", pass_rate=[low, high]))
    prompts, _, left_out = grpo_prompts(cfg, load_tokenizer(cfg.model))
    expected = sorted(pid for pid, r in rates.items() if low <= r <= high)
    assert sorted(prompts["problem_id"]) == expected
    assert left_out["pass_rate"] == 24 - len(expected) and 0 < len(expected) < 24


def test_prompts_longer_than_allowed_are_left_out_and_counted(demo_run, tmp_path):
    cfg = load_train_config(write_config(tmp_path, demo_run, "grpo", max_prompt_length=40))
    prompts, _, left_out = grpo_prompts(cfg, load_tokenizer(cfg.model))
    assert left_out["prompt_too_long"] > 0 and len(prompts) + left_out["prompt_too_long"] == 24


def test_an_export_feeds_grpo_in_either_layout(demo_run, tmp_path):
    from factory.train.export import export

    for fmt in ("verl", "trl"):
        path = tmp_path / f"{fmt}.parquet"
        assert export(demo_run, fmt, path) == 24
        cfg = load_train_config(write_config(tmp_path, demo_run, "grpo", data=[{"parquet": str(path)}]))
        prompts, lineage, _ = grpo_prompts(cfg, load_tokenizer(cfg.model))
        assert len(prompts) == 24 and lineage[0]["kind"] == "parquet"
        assert prompts[0]["prompt"][-1]["content"].endswith("output the final answer within \\boxed{}.")
        problems = {r["problem_id"]: r["reference_answer"] for r in pq.read_table(demo_run / "problems.parquet")
                    .to_pylist()}
        assert all(problems[r["problem_id"]] == r["answer"] for r in prompts)
    assert json.loads((demo_run / "run.json").read_text())["run_id"]


def test_the_grpo_cards_lineage_query_leads_from_a_stage_to_the_problems_and_the_teachers_samples(demo_run,
                                                                                                  tmp_path):
    import duckdb

    cfg = load_train_config(write_config(tmp_path, demo_run, "grpo", pass_rate=[0.5, 1.0],
                                         stages=[{"max_length": 24, "max_steps": 1}]))
    train(cfg, tmp_path / "out", "t")
    sql = (tmp_path / "out" / "README.md").read_text().split("```sql\n")[1].split("```")[0]
    stage = tmp_path / "out" / "stage-1-24"
    rows = duckdb.connect(str(demo_run / "provenance.duckdb"), read_only=True).sql(
        sql.replace("STAGE_DIR", str(stage))).fetchall()
    used = set(pq.read_table(stage / "training_rows.parquet")["problem_id"].to_pylist())
    assert used and {r[0] for r in rows} == used
    assert all(r[4] is not None for r in rows)  # every problem's teacher samples are there
    rate = {pid: [r[7] for r in rows if r[0] == pid and r[7] is not None] for pid in used}
    assert all(0.5 <= sum(v) / len(v) <= 1.0 for v in rate.values())  # the filter, read back from provenance
    assert not (tmp_path / "out" / "checkpoints" / "stage-1-24").exists()  # published: checkpoints dropped
