"""The verify stage's driver side: judge every journaled sample that has no verdict yet.

Verdicts land as Parquet parts under RUN_DIR/verdicts/KEY/, each written atomically, so a crash loses
at most the batches in flight and a resumed run judges only what is missing. KEY hashes what a
verdict depends on besides the sample (filters, tokenizer, verifier version): change any of them and
everything is judged afresh, never mixed with verdicts made under other rules.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory.config import PipelineConfig
from factory.journal import latest_records
from factory.progress import Progress
from factory.records import VERDICT_SCHEMA
from factory.rundir import write_parquet_atomic
from factory.stages.verdicts import JUDGE_VERSION, SLIM_FIELDS, judge_batch

JUDGED_OUTCOMES = ("complete", "truncated_reasoning", "truncated_answer", "empty", "filtered")


def judge_key(cfg: PipelineConfig) -> str:
    rules = dict(version=JUDGE_VERSION, filters=cfg.filters.model_dump(), tokenizer=cfg.tokenizer.model_dump())
    return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()[:12]


def read_verdicts(run_dir: Path, key: str) -> pa.Table:
    parts = sorted((Path(run_dir) / "verdicts" / key).glob("part-*.parquet"))
    if not parts:
        return VERDICT_SCHEMA.empty_table()
    return pa.concat_tables([pq.read_table(p, schema=VERDICT_SCHEMA) for p in parts])


def check(cfg: PipelineConfig, problems: pa.Table, run_dir: Path, session_id: str) -> int:
    """Verify missing samples through Ray tasks; return how many were judged."""
    from factory.executor import map_batches

    key = judge_key(cfg)
    have = set(read_verdicts(run_dir, key)["sample_id"].to_pylist())
    refs = dict(zip(problems["problem_id"].to_pylist(), problems["reference_answer"].to_pylist()))
    todo = [
        {k: r[k] for k in SLIM_FIELDS}
        for r in latest_records(run_dir).values()
        if r["outcome"] in JUDGED_OUTCOMES and r["sample_id"] not in have and r["problem_id"] in refs
    ]
    if not todo:
        return 0
    out = Path(run_dir) / "verdicts" / key
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress("verify", len(todo))
    size = cfg.verify.batch_size
    batches = (
        (batch, {s["problem_id"]: refs[s["problem_id"]] for s in batch}, cfg.tokenizer.name,
         cfg.tokenizer.revision, cfg.filters, cfg.verify.timeout_s)
        for batch in (todo[i:i + size] for i in range(0, len(todo), size))
    )
    written = 0

    def on_result(table: pa.Table) -> None:
        nonlocal written
        write_parquet_atomic(out / f"part-{session_id}-{written:05d}.parquet", table)
        written += 1
        progress.add(table["reason"].to_pylist())

    map_batches(judge_batch, batches, on_result, cfg.ray)
    progress.line(final=True)
    return len(todo)
