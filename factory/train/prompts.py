"""GRPO's prompts: the factory's problems with their reference answers, as a chat prompt dataset.

From a run directory: its `problems.parquet` (the `ok` rows), and, for the `pass_rate` filter, the
share of the teacher's samples the verifier accepted per problem, from the run's own verdicts. From a
Parquet file or an HF dataset: an RL export in verl's layout (`prompt`, `reward_model.ground_truth`) or
TRL's (`prompt`, `answer`), or plain `problem` / `answer` columns.
"""

from __future__ import annotations

import json
from pathlib import Path

from factory.errors import SourceError
from factory.stages.generate.identity import chat_prompt
from factory.store.rundir import file_sha256
from factory.train.config import DataSource, TrainConfig
from factory.train.data import load_source


def pass_rates(run_dir: Path, problems=None) -> dict[str, float]:
    """problem_id -> share of its teacher samples whose answer matched, as publish wrote it to problems.parquet
    (for a run published before that column existed: from the verdicts, under the run's own judging rules).
    `problems`: that file's table when the caller has read it already."""
    import pyarrow.parquet as pq

    from factory.config import PipelineConfig
    from factory.stages.judge.stage import judge_key, read_verdicts

    if problems is None:
        problems = pq.read_table(run_dir / "problems.parquet")
    if "pass_rate" in problems.column_names:
        return {p["problem_id"]: p["pass_rate"] for p in problems.select(["problem_id", "pass_rate"]).to_pylist()
                if p["pass_rate"] is not None}
    cfg = PipelineConfig.model_validate(json.loads((run_dir / "config.resolved.json").read_text()))
    verdicts = read_verdicts(run_dir, judge_key(cfg)).select(["problem_id", "correct", "reason"]).to_pylist()
    totals: dict[str, list[int]] = {}
    for v in verdicts:
        t = totals.setdefault(v["problem_id"], [0, 0])
        t[0] += v["correct"] or v["reason"] == "over_length"
        t[1] += 1
    return {pid: ok / n for pid, (ok, n) in totals.items()}


def run_problems(run: Path, template: str, system_prompt: str | None = None) -> list[dict]:
    """A run's `ok` problems with a reference answer: prompt, answer, problem_id, pass_rate, source."""
    import pyarrow.parquet as pq

    path = Path(run) / "problems.parquet"
    if not path.is_file():
        raise SourceError(f"{str(run)!r} has no problems.parquet; pass the --out of a `factory run`")
    problems = pq.read_table(path)
    rates = pass_rates(Path(run), problems) if (Path(run) / "config.resolved.json").is_file() else {}
    return [dict(prompt=chat_prompt(template, p["problem"], system_prompt), answer=p["reference_answer"],
                 problem_id=p["problem_id"], pass_rate=rates.get(p["problem_id"]), source=p["source"])
            for p in problems.to_pylist() if p["status"] == "ok" and p["reference_answer"]]


def _from_run(cfg: TrainConfig, source: DataSource) -> tuple[list[dict], dict]:
    run = Path(source.run)
    rows = [{k: r[k] for k in ("prompt", "answer", "problem_id", "pass_rate")}
            for r in run_problems(run, cfg.prompt_template, cfg.system_prompt)]
    info = json.loads((run / "run.json").read_text())
    lineage = dict(kind="run", path=str(run), run_id=info["run_id"], pipeline=info["pipeline"],
                   problems=dict(path="problems.parquet", sha256=file_sha256(run / "problems.parquet")))
    return rows, lineage


def _from_table(cfg: TrainConfig, source: DataSource) -> tuple[list[dict], dict]:
    ds, lineage = load_source(source)
    columns = set(ds.column_names)
    rows = []
    for i, r in enumerate(ds):
        if "prompt" in columns and "reward_model" in columns:  # verl
            extra = r.get("extra_info") or {}
            rows.append(dict(prompt=r["prompt"], answer=str(r["reward_model"]["ground_truth"]),
                             problem_id=str(extra.get("problem_id") or extra.get("index", i)),
                             pass_rate=extra.get("pass_rate")))
        elif "prompt" in columns and "answer" in columns:  # TRL
            rows.append(dict(prompt=r["prompt"], answer=str(r["answer"]), problem_id=str(r.get("problem_id", i)),
                             pass_rate=r.get("pass_rate")))
        elif {"problem", "answer"} <= columns:
            rows.append(dict(prompt=chat_prompt(cfg.prompt_template, r["problem"], cfg.system_prompt),
                             answer=str(r["answer"]),
                             problem_id=str(r.get("problem_id", i)), pass_rate=r.get("pass_rate")))
        else:
            raise SourceError(f"data {source.label()!r} has neither `prompt` with `reward_model` (verl) or "
                              f"`answer` (TRL), nor `problem` and `answer` (columns: {', '.join(sorted(columns))}); "
                              "export it with `factory export RUN_DIR --format trl`")
    return rows, lineage


def grpo_prompts(cfg: TrainConfig, tokenizer):
    """(the prompt dataset: prompt, answer, problem_id, pass_rate; lineage entries; counts of what was left out)."""
    import datasets

    rows, lineage = [], []
    for source in cfg.data:
        got, entry = _from_run(cfg, source) if source.run else _from_table(cfg, source)
        rows += got
        lineage.append(dict(entry, prompts=len(got)))
    left_out = {"no_pass_rate": 0, "pass_rate": 0, "prompt_too_long": 0}
    kept = []
    for r in rows:
        if cfg.pass_rate is not None:
            if r["pass_rate"] is None:
                left_out["no_pass_rate"] += 1
                continue
            if not cfg.pass_rate[0] <= r["pass_rate"] <= cfg.pass_rate[1]:
                left_out["pass_rate"] += 1
                continue
        kept.append(r)
    if cfg.max_prompt_length is not None and kept:
        lengths = tokenizer.apply_chat_template([r["prompt"] for r in kept], tokenize=True, add_generation_prompt=True,
                                                return_dict=False)
        fits = [len(ids) <= cfg.max_prompt_length for ids in lengths]
        left_out["prompt_too_long"] = fits.count(False)
        kept = [r for r, ok in zip(kept, fits, strict=True) if ok]
    if not kept:
        raise SourceError(f"no prompt left to train on ({len(rows)} read; left out: {left_out}); widen `pass_rate` "
                          "or `max_prompt_length`, or check `data`")
    features = datasets.Features({
        "prompt": datasets.List({"role": datasets.Value("string"), "content": datasets.Value("string")}),
        "answer": datasets.Value("string"), "problem_id": datasets.Value("string"),
        "pass_rate": datasets.Value("float64")})
    return datasets.Dataset.from_list(kept, features=features), lineage, left_out
