"""The model card (`DIR/README.md`) of a training: base model, data lineage, stages and their metrics."""

from __future__ import annotations

import yaml


def _num(value, places: int = 4) -> str:
    return "" if value is None else f"{value:.{places}f}" if isinstance(value, float) else str(value)


def _data_lines(record: dict) -> list[str]:
    lines = []
    for d in record["data"]:
        if d["kind"] == "run":
            shards = d.get("shards")
            what = f"{len(shards)} shard(s)" if shards else "its problems.parquet"
            lines.append(f"- run `{d['run_id']}` (pipeline `{d['pipeline']}`, `{d['path']}`): {what}")
            for s in shards or []:
                lines.append(f"  - `{s['path']}`: {s['rows']} rows, sha256 `{s['sha256']}`")
        elif d["kind"] == "dataset":
            lines.append(f"- dataset `{d['id']}` revision `{d['revision'] or 'main'}`, split `{d['split']}`")
        else:
            for f in d["files"]:
                lines.append(f"- `{f['path']}`, sha256 `{f['sha256']}`")
    return lines


def render_card(record: dict) -> str:
    """The card's Markdown, every figure from the training record."""
    sft = record["method"] == "sft"
    meta = yaml.safe_dump({"library_name": "transformers", "tags": ["math", "reasoning", "distillation",
                                                                    "trl", record["method"]],
                           "pipeline_tag": "text-generation"}, sort_keys=False)
    head = "| stage | max length | rows | steps | first loss | last loss | wall s |" if sft else \
        "| stage | max completion | prompts | steps | first mean reward | last mean reward | wall s |"
    first, last = ("first_loss", "last_loss") if sft else ("first_reward", "last_reward")
    rows = [f"| `{s['name']}` | {s['max_length']} | {s['rows']} | {s['steps']} | {_num(s[first])} | "
            f"{_num(s[last])} | {s['wall_s']} |" for s in record["stages"]]
    data = "\n".join(_data_lines(record))
    return f"""---
{meta}---

# {record['name']}

A student trained by distill-factory with `{record['method']}` from `{record['base_model']}`, in context
stages; `final/` is the last stage. The command: `{record['command']}`.

## Data

{data}

## Stages

{head}
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Each stage starts from the previous stage's weights and is a model directory of its own
(`AutoModelForCausalLM.from_pretrained("<stage>")`). {"A stage trains on the rows whose length, counted "
"with the chat template, fits its max length." if sft else "A stage generates completions up to its max "
"length; the reward is the verifier's verdict (1 or 0) under the format policy."}

## Lineage

{LINEAGE_SFT if sft else LINEAGE_GRPO}
"""


LINEAGE_SFT = """`training.json` lists every run and shard consumed, with the sha256 the run's manifest gives; each
stage directory's `training_rows.parquet` lists the rows it trained on (`id`, `run_id`). A row's `id` is the
sample id of the run's provenance database, whose `lineage` view gives the shard and row, the source
problem, the exact request sent to the teacher and the verifier's verdict:

```sql
-- duckdb RUN_DIR/provenance.duckdb
SELECT l.id, l.shard, l.row_index, l.source, l.source_row, l.model, l.endpoint, l.messages, l.sampling,
       l.verdict_reason
FROM lineage l
JOIN read_parquet('STAGE_DIR/training_rows.parquet') t ON t.id = l.id;
```"""

LINEAGE_GRPO = """`training.json` lists every run consumed (its problems.parquet and that file's sha256); each stage
directory's `training_rows.parquet` lists the problems it trained on (`problem_id`, `answer`, `pass_rate`).
The run's provenance database gives each problem's source row, and the teacher's samples of it with
their verdicts (what `pass_rate` was read from):

```sql
-- duckdb RUN_DIR/provenance.duckdb
SELECT p.problem_id, p.source, p.source_row, p.reference_answer, r.sample_id, r.model, r.outcome, v.correct
FROM problems p
JOIN read_parquet('STAGE_DIR/training_rows.parquet') t ON t.problem_id = p.problem_id AND p.status = 'ok'
LEFT JOIN requests r ON r.problem_id = p.problem_id
LEFT JOIN verdicts v ON v.sample_id = r.sample_id;
```"""
