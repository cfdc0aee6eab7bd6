"""`factory export RUN_DIR --format verl|trl --out PATH`: a run's problems as an RL training Parquet.

One row per `ok` problem with a reference answer. verl's layout (as its DeepScaleR data files have it):
`data_source`, `prompt` (one user turn, the recipe's instruction appended), `ability`, `reward_model`
{`ground_truth`, `style: rule`} and `extra_info` {`index`, `split`, `problem_id`, `pass_rate`}. verl's
default scorer knows only its own data sources, so point `custom_reward_function.path` at
`factory/train/verl_reward.py` (name `compute_score`): the factory's verifier as the reward. TRL's
layout: `prompt` (the chat turns), `answer`, `problem_id`, `pass_rate`; GRPOTrainer hands every column
to the reward, and `factory train` with `method: grpo` reads either file. `pass_rate=(lo, hi)` keeps
only problems whose teacher pass rate is within (an RL set of neither trivial nor hopeless problems).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from factory.config import RECIPE_PROMPT
from factory.errors import ConfigError, RunDirError
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
           data_source: str | None = None, pass_rate: tuple[float, float] | None = None) -> int:
    """Write the export; return how many problems it holds."""
    from factory.train.prompts import run_problems

    run_dir = Path(run_dir)
    problems = run_problems(run_dir, prompt_template)
    if not problems:
        raise RunDirError(f"{str(run_dir)!r} has no `ok` problem with a reference answer to export")
    if pass_rate is not None:
        lo, hi = pass_rate
        if not 0 <= lo <= hi <= 1:
            raise ConfigError(f"--pass-rate {lo} {hi}: give LO HI with 0 <= LO <= HI <= 1, e.g. --pass-rate 0.1 0.9")
        problems = [p for p in problems if p["pass_rate"] is not None and lo <= p["pass_rate"] <= hi]
        if not problems:
            raise RunDirError(f"no problem of {str(run_dir)!r} has a teacher pass rate within [{lo}, {hi}]; "
                              "widen --pass-rate")
    if fmt == "trl":
        rows = problems
    else:
        source = data_source or run_dir.resolve().name
        rows = [dict(data_source=source, prompt=p["prompt"], ability="math",
                     reward_model=dict(ground_truth=p["answer"], style="rule"),
                     extra_info=dict(index=index, split=split, problem_id=p["problem_id"], pass_rate=p["pass_rate"]))
                for index, p in enumerate(problems)]
    schema = VERL_SCHEMA if fmt == "verl" else TRL_SCHEMA
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(out, pa.Table.from_pylist(rows, schema=schema))
    return len(rows)
