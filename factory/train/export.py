"""`factory export RUN_DIR --format verl|trl --out PATH`: a run's problems as an RL training Parquet.

One row per `ok` problem with a reference answer. verl's layout (as its DeepScaleR data files have it):
`data_source`, `prompt` (one user turn, the recipe's instruction appended), `ability`, `reward_model`
{`ground_truth`, `style: rule`} and `extra_info` {`index`, `split`, `problem_id`, `pass_rate`}. verl's
default scorer knows only its own data sources, so point `custom_reward_function.path` at
`factory/train/verl_reward.py` (name `compute_score`): the factory's verifier as the reward. TRL's
layout: `prompt` (the chat turns), `answer`, `problem_id`, `pass_rate`; GRPOTrainer hands every column
to the reward, and `factory train` with `method: grpo` reads either file.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory.config import RECIPE_PROMPT
from factory.errors import RunDirError
from factory.store.rundir import write_parquet_atomic

_TURN = pa.struct([("content", pa.string()), ("role", pa.string())])
VERL_SCHEMA = pa.schema([
    ("data_source", pa.string()), ("prompt", pa.list_(_TURN)), ("ability", pa.string()),
    ("reward_model", pa.struct([("ground_truth", pa.string()), ("style", pa.string())])),
    ("extra_info", pa.struct([("index", pa.int64()), ("split", pa.string()), ("problem_id", pa.string()),
                              ("pass_rate", pa.float64())])),
])
TRL_SCHEMA = pa.schema([
    ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))), ("answer", pa.string()),
    ("problem_id", pa.string()), ("pass_rate", pa.float64()), ("source", pa.string()),
])


def export(run_dir: Path, fmt: str, out: Path, prompt_template: str = RECIPE_PROMPT, split: str = "train",
           data_source: str | None = None) -> int:
    """Write the export; return how many problems it holds."""
    from factory.train.prompts import pass_rates, render_prompt

    run_dir = Path(run_dir)
    problems_path = run_dir / "problems.parquet"
    if not problems_path.is_file():
        raise RunDirError(f"{str(run_dir)!r} has no problems.parquet; pass the --out of a `factory run`")
    rates = pass_rates(run_dir) if (run_dir / "config.resolved.json").is_file() else {}
    problems = [p for p in pq.read_table(problems_path).to_pylist() if p["status"] == "ok" and p["reference_answer"]]
    if not problems:
        raise RunDirError(f"{str(run_dir)!r} has no `ok` problem with a reference answer to export")
    source = data_source or run_dir.resolve().name
    rows = []
    for index, p in enumerate(problems):
        prompt = render_prompt(prompt_template, p["problem"])
        if fmt == "verl":
            rows.append(dict(data_source=source, prompt=[dict(content=t["content"], role=t["role"]) for t in prompt],
                             ability="math", reward_model=dict(ground_truth=p["reference_answer"], style="rule"),
                             extra_info=dict(index=index, split=split, problem_id=p["problem_id"],
                                             pass_rate=rates.get(p["problem_id"]))))
        else:
            rows.append(dict(prompt=prompt, answer=p["reference_answer"], problem_id=p["problem_id"],
                             pass_rate=rates.get(p["problem_id"]), source=p["source"]))
    schema = VERL_SCHEMA if fmt == "verl" else TRL_SCHEMA
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(out, pa.Table.from_pylist(rows, schema=schema))
    return len(rows)
