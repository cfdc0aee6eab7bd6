"""The dataset card (`RUN_DIR/README.md`): YAML front matter for the HF loader, then prose for people.

The front matter's `configs` entry is what makes `datasets.load_dataset(RUN_DIR)` read only the
shards and not the run's other Parquet files (problems, verdict parts), and what gives each curriculum
stage a config of its own: `load_dataset(RUN_DIR, "le16k")` is every row that fits in 16k tokens.
`dataset_info.features` is `datasets.Features` made from PUBLISHED_SCHEMA, so the loader does not have to
infer types and the card cannot disagree with the shards.
"""

from __future__ import annotations

import re
from pathlib import PurePath

import yaml

from factory.stages.publish.shards import SPLIT, bucket_dir
from factory.store.records import CURRICULUM_BUCKETS, PUBLISHED_SCHEMA, Manifest, PublishedRow, SourceRecord

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
}

def features() -> list:
    """The card's `features`: the published Arrow schema as `datasets` reads it."""
    import datasets  # the HF loader's own mapping, not one of ours

    return datasets.Features.from_arrow_schema(PUBLISHED_SCHEMA)._to_yaml_list()


def config_name(bucket: int) -> str:
    """The card config of the rows that fit in `bucket` tokens: `le16k` for 16384."""
    return f"le{bucket // 1024}k"


def configs(manifest: Manifest) -> list[dict]:
    """`default` (every row), then one cumulative config per curriculum bucket that holds a row."""
    if any(s.bucket is None for s in manifest.shards):  # a publication of before buckets had directories
        return [{"config_name": "default", "data_files": [{"split": SPLIT, "path": f"data/{SPLIT}-*"}]}]
    def files(limit: int) -> list[dict]:
        # listed in bucket order, which the loader keeps (a glob over data/*/ would put 16k before 8k)
        return [{"split": SPLIT, "path": [f"{bucket_dir(b)}/{SPLIT}-*" for b in CURRICULUM_BUCKETS if b <= limit]}]

    # `datasets` cannot load a config whose files hold no row, so a stage with none has no config
    fits = {limit: sum(manifest.curriculum_buckets.get(str(b), 0) for b in CURRICULUM_BUCKETS if b <= limit)
            for limit in CURRICULUM_BUCKETS}
    return [{"config_name": "default", "data_files": files(CURRICULUM_BUCKETS[-1])}] + [
        {"config_name": config_name(limit), "data_files": files(limit)} for limit in CURRICULUM_BUCKETS if fits[limit]]


# what the hub takes as a license id (mit, cc-by-4.0, apache-2.0); a paragraph of terms is not one
_LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+\-]*")


def _train_sources(manifest: Manifest) -> list[SourceRecord]:
    return [s for s in manifest.sources if s.role == "train"]


def card_license(manifest: Manifest) -> dict:
    """The card's `license` keys: the sources' one license when they share one the hub knows by id,
    `unknown` when none declared one, else `other` (the card lists each source's); nothing for a
    manifest that lists no sources (written before sources were recorded)."""
    found = {s.license for s in _train_sources(manifest)}
    if not found:
        return {}
    if found == {None}:
        return {"license": "unknown"}
    if len(found) == 1 and _LICENSE_ID.fullmatch(next(iter(found))):
        return {"license": next(iter(found))}
    return {"license": "other", "license_name": "mixed-sources"} if len(found) > 1 else {"license": "other"}


def front_matter(manifest: Manifest) -> dict:
    """The card's YAML metadata as a dict."""
    return {
        "pretty_name": f"{manifest.pipeline} (distill-factory)",
        **card_license(manifest),
        "language": ["en"],
        "task_categories": ["text-generation"],
        "tags": ["math", "reasoning", "distillation", "synthetic"],
        "configs": configs(manifest),
        "dataset_info": {
            # no `splits`: the loader wants byte sizes there that only the loader itself measures
            "features": features(),
        },
    }


def _table(header: tuple[str, str], rows: list[tuple[object, object]]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---:|"]
    lines += [f"| {a} | {b} |" for a, b in rows] or ["| (none) | 0 |"]
    return "\n".join(lines)


def _origin(src: SourceRecord) -> str:
    """Where a source came from, without the local directories of the machine that ran it."""
    if src.kind == "hf" and not PurePath(src.location).is_absolute():
        version = src.commit[:12] if src.commit else src.revision
        pin = f" @ `{version}`" if version else ""
        subset = f" ({src.subset})" if src.subset else ""
        return f"[{src.location}](https://huggingface.co/datasets/{src.location}){subset}{pin}"
    what = "local dataset" if src.kind == "hf" else f"local {src.kind} file"
    return f"{what} `{PurePath(src.location).name}`"


def _license_note(manifest: Manifest) -> str:
    found = {s.license for s in _train_sources(manifest)}
    shown = card_license(manifest).get("license")
    if shown not in ("other", "unknown"):
        text = f"Every problem comes from a source under `{shown}`."
    elif shown == "unknown":
        text = ("No source declares a license (neither the pipeline file nor the dataset itself), so the card "
                "says `unknown`: check each source's terms before redistributing.")
    elif len(found) > 1:
        text = ("The sources carry different licenses (or none declared), so the card says `license: other`. "
                "Each row's `source` column names its source, whose license is listed below; the rows under "
                "one license are a filter on `source`.")
    else:
        text = "The sources' license is not a license id the hub knows, so the card says `other`; it is below."
    return text + " The reasoning traces were written by the teacher model in each row's `model` column, " \
                  "whose terms of use may apply as well."


def _sources_section(manifest: Manifest) -> str:
    if not manifest.sources:
        return ""
    lines = ["## Sources and licenses", "", _license_note(manifest), "",
             "| source | from | split | license | rows |", "|---|---|---|---|---:|"]
    for s in _train_sources(manifest):
        license = f"`{s.license}`" + (" (declared by the dataset)" if s.license_from == "dataset" else "") \
            if s.license else "unknown"
        lines.append(f"| {s.name} | {_origin(s)} | {s.split or ''} | {license} | {s.rows} |")
    evals = [s for s in manifest.sources if s.role == "decontaminate"]
    if evals:
        c = manifest.counts
        lines += ["", "Problems of these evaluation sets were kept out (decontamination on a LaTeX-aware matching "
                  "form: n-gram containment, whole-text similarity for short problems; none of their rows is "
                  "published): " + ", ".join(f"{s.name} ({_origin(s)}, {s.rows} rows; "
                                             f"{c.get(f'contaminated.{s.name}', 0)} training rows matched it)"
                                             for s in evals) + "."]
    return "\n".join(lines) + "\n\n"


def _lengths_note(manifest: Manifest) -> str:
    tokenizer = manifest.tokenizer if not PurePath(manifest.tokenizer).is_absolute() \
        else f"{PurePath(manifest.tokenizer).name} (a local file)"
    at = f" at commit `{manifest.tokenizer_revision[:12]}`" if manifest.tokenizer_revision else ""
    if manifest.chat_template_sha256:
        how = (f"with its chat template (sha256 `{manifest.chat_template_sha256[:16]}`) applied to exactly the "
               "published `messages`, `<think>` tags included: what the student is trained on")
    else:
        how = ("on the texts of the published `messages`, `<think>` tags included; the tokenizer has no chat "
               "template, so role markers are not counted: leave the student a margin")
    return f"A row's `length` is its token count in the tokenizer `{tokenizer}`{at}, {how}."


def _buckets_table(manifest: Manifest) -> str:
    """Rows per bucket, and per config (cumulative)."""
    lines = ["| config | fits in | rows in this bucket | rows in the config |", "|---|---:|---:|---:|"]
    total = 0
    for limit in CURRICULUM_BUCKETS:
        rows = manifest.curriculum_buckets.get(str(limit), 0)
        total += rows
        name = f"`{config_name(limit)}`" if total else f"(no `{config_name(limit)}`: no row fits)"
        lines.append(f"| {name} | {limit} tokens | {rows} | {total} |")
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
samples judged). {_lengths_note(manifest)}

**{c.get("published", 0)}** rows published in {len(manifest.shards)} shard(s), out of
{c.get("samples", 0)} teacher samples for {c.get("problems_ok", 0)} problems
({c.get("rejected", 0)} rejected, {c.get("pending", 0)} not yet verified).
`manifest.json` lists each shard with its row count, size and sha256.

{_sources_section(manifest)}## Problems

{_table(("status", "problems"), problems)}

Duplicates are copies of a kept problem, exact or near ({c.get("near_duplicates", 0)} near: other wording at the
ends, other LaTeX spellings or spacing, with the same numbers and formulas); `problems.parquet` and provenance
name the copy each one duplicates and why that one was kept.

## Rejected samples

{_table(("reason", "samples"), rejected)}

## Curriculum buckets

Rows by the smallest context length that holds the row's `length`. Each stage of a context-scaling
curriculum is a config of its own, cumulative: `le16k` holds every row that fits in 16k tokens.

{_buckets_table(manifest)}

`length` per row: {stats}.

## Columns

| column | meaning |
|---|---|
{columns}

## Loading

```python
from datasets import load_dataset
ds = load_dataset("path/to/this/directory", split="train")            # every row
stage1 = load_dataset("path/to/this/directory", "le8k", split="train")  # the rows that fit in 8k tokens
```

```sql
-- DuckDB
SELECT curriculum_bucket, count(*), max(length) FROM read_parquet('data/*/train-*.parquet') GROUP BY ALL;
```

```python
# TRL: the `messages` column is the chat format SFTTrainer reads
from trl import SFTConfig, SFTTrainer
# (`length` is the column transformers' length-grouped sampling reads: train_sampling_strategy="group_by_length")
trainer = SFTTrainer(model="<student model>", train_dataset=stage1, args=SFTConfig(max_length=8192))
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
