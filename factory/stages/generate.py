"""The teacher stage's driver side: decide what is missing, hand it to workers, journal every result."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from factory.config import PipelineConfig
from factory.identity import prompt_template_hash, render_messages, sample_id, sampling_params
from factory.errors import TeacherUnreachable
from factory.journal import FINAL_OUTCOMES, Journal, latest_records
from factory.progress import Progress, log
from factory.teacher.client import AskSettings
from factory.teacher.endpoint import Endpoint
from factory.teacher.pool import EndpointSpec


def settings_for(cfg: PipelineConfig, endpoints: list[Endpoint], session_id: str) -> AskSettings:
    limits = cfg.teacher.limits
    return AskSettings(
        endpoints=tuple(EndpointSpec(e.base_url, e.api_key, e.weight) for e in endpoints),
        model=endpoints[0].model, sampling=sampling_params(cfg.teacher),
        prompt_template_hash=prompt_template_hash(cfg.teacher), timeout_s=cfg.teacher.timeout_s,
        max_attempts=cfg.teacher.max_attempts, session_id=session_id, rpm=limits.rpm, tpm=limits.tpm,
        adaptive=limits.adaptive, adaptive_start=limits.adaptive_start,
    )


def missing_specs(cfg: PipelineConfig, problems: pa.Table, settings: AskSettings, run_dir: Path,
                  retry_failed: bool = False) -> tuple[list[dict], int]:
    """Every sample of every `ok` problem whose result the journal does not hold yet.

    Returns the specs to ask and how many stored samples failed and are not being asked again.
    """
    latest = {sid: r["outcome"] for sid, r in latest_records(run_dir).items()}
    ok = problems.filter(pc.equal(problems["status"], "ok"))
    specs, failed_kept = [], 0
    for pid, text in zip(ok["problem_id"].to_pylist(), ok["problem"].to_pylist()):
        messages = render_messages(cfg.teacher, text)
        for index in range(cfg.teacher.n):
            sid = sample_id(pid, index, settings.model, settings.prompt_template_hash, settings.sampling)
            outcome = latest.get(sid)
            if outcome in FINAL_OUTCOMES or (outcome == "failed" and not retry_failed):
                failed_kept += outcome == "failed"
                continue
            specs.append(dict(sample_id=sid, problem_id=pid, sample_index=index, messages=messages))
    return specs, failed_kept


def _chunks(items: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def generate(cfg: PipelineConfig, problems: pa.Table, settings: AskSettings, run_dir: Path,
             retry_failed: bool = False) -> int:
    """Ask the teacher for every missing sample; return how many were asked.

    Raises:
        TeacherUnreachable: when this session asked something and every request failed.
    """
    from factory.executor import run_teacher  # Ray is imported only by the executor

    specs, failed_kept = missing_specs(cfg, problems, settings, run_dir, retry_failed)
    if failed_kept:
        log(f"[generate] {failed_kept} stored samples failed after retries; add --retry-failed to ask them again")
    if not specs:
        log("[generate] nothing missing: every sample is in the journal")
        return 0
    journal = Journal(run_dir, settings.session_id)
    progress = Progress("generate", len(specs))
    last_error: list[str] = []

    def on_chunk(records: list[dict]) -> None:
        journal.append(records)  # durable before it counts
        progress.add([r["outcome"] for r in records])
        last_error[:] = [r["error"] for r in records if r["error"]][-1:] or last_error

    try:
        run_teacher(settings, cfg.teacher.concurrency, _chunks(specs, cfg.teacher.batch_size), on_chunk,
                    cfg.ray, cfg.teacher.batch_size)
    finally:
        journal.close()
        progress.line(final=True)
    if progress.done and progress.by.get("failed", 0) == progress.done:
        raise TeacherUnreachable(f"all {progress.done} requests failed after retries (last: {last_error[0]}); "
                                 "check the teacher, then run again with --retry-failed")
    return len(specs)
