"""The teacher stage's driver side: decide what is missing, hand it to workers, journal every result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from factory.config import PipelineConfig
from factory.identity import prompt_template_hash, render_messages, sample_id, sampling_params
from factory.journal import DONE_OUTCOMES, Journal, iter_records
from factory.progress import Progress, log
from factory.teacher.client import AskSettings
from factory.teacher.endpoint import Endpoint


def settings_for(cfg: PipelineConfig, endpoint: Endpoint, session_id: str) -> AskSettings:
    return AskSettings(
        base_url=endpoint.base_url, api_key=endpoint.api_key, model=endpoint.model,
        sampling=sampling_params(cfg.teacher), prompt_template_hash=prompt_template_hash(cfg.teacher),
        timeout_s=cfg.teacher.timeout_s, max_attempts=cfg.teacher.max_attempts, session_id=session_id,
    )


def missing_specs(cfg: PipelineConfig, problems: pa.Table, settings: AskSettings, run_dir: Path) -> list[dict]:
    """Every sample of every `ok` problem whose result the journal does not hold yet."""
    done = {r["sample_id"] for r in iter_records(run_dir) if r["outcome"] in DONE_OUTCOMES}
    ok = problems.filter(pc.equal(problems["status"], "ok"))
    specs = []
    for pid, text in zip(ok["problem_id"].to_pylist(), ok["problem"].to_pylist()):
        messages = render_messages(cfg.teacher, text)
        for index in range(cfg.teacher.n):
            sid = sample_id(pid, index, settings.model, settings.prompt_template_hash, settings.sampling)
            if sid not in done:
                specs.append(dict(sample_id=sid, problem_id=pid, sample_index=index, messages=messages))
    return specs


def _chunks(items: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def generate(cfg: PipelineConfig, problems: pa.Table, settings: AskSettings, run_dir: Path) -> int:
    """Ask the teacher for every missing sample; return how many were asked."""
    from factory.executor import run_teacher  # Ray is imported only by the executor

    specs = missing_specs(cfg, problems, settings, run_dir)
    if not specs:
        log("[generate] nothing missing: every sample is in the journal")
        return 0
    journal = Journal(run_dir, settings.session_id)
    progress = Progress("generate", len(specs))

    def on_chunk(records: list[dict]) -> None:
        journal.append(records)  # durable before it counts
        progress.add([r["outcome"] for r in records])

    try:
        run_teacher(settings, cfg.teacher.concurrency, _chunks(specs, cfg.teacher.batch_size), on_chunk,
                    cfg.ray, cfg.teacher.batch_size)
    finally:
        journal.close()
        progress.line(final=True)
    return len(specs)
