"""The dataset card (`RUN_DIR/README.md`): YAML front matter for the HF loader, then prose for people.

The front matter's `configs` entry is what makes `datasets.load_dataset(RUN_DIR)` read only the
shards and not the run's other Parquet files (problems, verdict parts); `dataset_info.features` is
rendered from PUBLISHED_SCHEMA so the loader does not have to infer types.
"""

from __future__ import annotations

import pyarrow as pa
import yaml

from factory.store.records import PUBLISHED_SCHEMA, Manifest, PublishedRow

# For columns whose model field has no description of its own.
_COLUMN_NOTES = {
    "source": "name of the problem source in the pipeline file",
    "source_row": "row id inside that source",
    "problem": "the problem text as sent to the teacher (inside the prompt template)",
    "reference_answer": "the source's answer the prediction was checked against",
    "model": "teacher model that wrote the trace",
    "sample_index": "which of the n samples of this problem",
    "prompt_tokens": "tokens of the prompt (system + user messages)",
    "reasoning_tokens": "tokens of `reasoning`",
    "answer_tokens": "tokens of `answer`",
    "total_tokens": "prompt + reasoning + answer tokens (texts only, no chat template)",
}

_DTYPES = {pa.string(): "string", pa.int64(): "int64", pa.float64(): "float64", pa.bool_(): "bool"}


def _feature(field: pa.Field) -> dict:
    """One HF `features` entry for an Arrow field (scalars, and lists of structs like `messages`)."""
    if pa.types.is_list(field.type) and pa.types.is_struct(field.type.value_type):
        return {"name": field.name, "list": [_feature(f) for f in field.type.value_type]}
    return {"name": field.name, "dtype": _DTYPES[field.type]}


def front_matter(manifest: Manifest) -> dict:
    """The card's YAML metadata as a dict."""
    return {
        "pretty_name": f"{manifest.pipeline} (distill-factory)",
        "language": ["en"],
        "task_categories": ["text-generation"],
        "tags": ["math", "reasoning", "distillation", "synthetic"],
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}],
        "dataset_info": {
            # no `splits`: the loader wants byte sizes there that only the loader itself measures
            "features": [_feature(f) for f in PUBLISHED_SCHEMA],
        },
    }


def _table(header: tuple[str, str], rows: list[tuple[object, object]]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {a} | {b} |" for a, b in rows] or ["| (none) | 0 |"]
    return "\n".join(lines)


def render_card(manifest: Manifest) -> str:
    """Render the whole README.md for a publication.

    Args:
        manifest: the publication's manifest; every number on the card comes from it.

    Returns:
        Markdown text with YAML front matter.
    """
    c = manifest.counts
    rejected = sorted((k.removeprefix("rejected."), v) for k, v in c.items() if k.startswith("rejected."))
    problems = [(k.removeprefix("problems_"), v) for k, v in c.items() if k.startswith("problems_")]
    buckets = [(f"≤ {k} tokens", v) for k, v in manifest.curriculum_buckets.items()]
    stats = ", ".join(f"{k} {v:g}" for k, v in manifest.token_stats.items())
    columns = "\n".join(f"| `{name}` | {info.description or _COLUMN_NOTES.get(name, '')} |"
                        for name, info in PublishedRow.model_fields.items())
    meta = yaml.safe_dump(front_matter(manifest), sort_keys=False, allow_unicode=True)
    return f"""---
{meta}---

# {manifest.pipeline}: verified reasoning traces

Teacher reasoning traces for math problems, made by the `{manifest.pipeline}` pipeline of
distill-factory (run `{manifest.run_id}`, published {manifest.created_at}).
Every row's final answer was checked against the problem's reference answer; exact duplicate traces
of the same problem were removed, keeping the lowest sample index; near duplicates, traces left out by
the selection policy and problems outside the pass-rate range are counted under their reasons below.
Each row carries its problem's teacher pass rate (`pass_rate`: answers that matched the reference over
samples judged). Token counts are measured with the tokenizer `{manifest.tokenizer}`, on the texts
alone (no chat template).

**{c.get("published", 0)}** rows published in {len(manifest.shards)} shard(s), out of
{c.get("samples", 0)} teacher samples for {c.get("problems_ok", 0)} problems
({c.get("rejected", 0)} rejected, {c.get("pending", 0)} not yet verified).
`manifest.json` lists each shard with its row count, size and sha256.

## Problems

{_table(("status", "problems"), problems)}

## Rejected samples

{_table(("reason", "samples"), rejected)}

## Curriculum buckets

Rows by the smallest context length that holds the row's `total_tokens`: the prompt, reasoning and
answer texts, each counted on its own without special tokens. A chat template's role markers and the
`<think>` tags around the reasoning are not counted, so a row near a bucket's limit may exceed it once
templated; leave the student a margin.

{_table(("bucket", "rows"), buckets)}

Total tokens per row: {stats}.

## Columns

| column | meaning |
|---|---|
{columns}

## Loading

```python
from datasets import load_dataset
ds = load_dataset("path/to/this/directory", split="train")
```

```sql
-- DuckDB
SELECT curriculum_bucket, count(*) FROM read_parquet('data/train-*.parquet') GROUP BY ALL;
```

```python
# TRL: the `messages` column is the chat format SFTTrainer reads
from trl import SFTConfig, SFTTrainer
trainer = SFTTrainer(model="<student model>", train_dataset=ds, args=SFTConfig(max_length=16384))
```

## Provenance

`provenance.duckdb` (next to this card, when the run kept it) records where every row came from:
the source row, the exact request sent to the teacher, the session that sent it and the verifier's
verdict. A row's `id` is `published.sample_id` and `requests.sample_id`; the `lineage` view joins
everything:

```sql
-- duckdb provenance.duckdb
SELECT * FROM lineage WHERE id = '<id of a row>';
```
"""
