"""The teacher stage's driver side: decide what is missing, hand it to workers, journal every result."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from factory.config import PipelineConfig
from factory.errors import TeacherUnreachable
from factory.executor import Chunk, Executor
from factory.log import log
from factory.meter.progress import Progress
from factory.stages.generate.batch import ask_in_batches, has_open_batches
from factory.stages.generate.identity import prompt_template_hash, sampling_params
from factory.stages.generate.specs import Specs, missing_specs
from factory.store.journal import Journal, lost_requests
from factory.teacher.client import AskSettings
from factory.teacher.endpoint import Endpoint
from factory.teacher.pool import EndpointSpec
from factory.teacher.worker import teacher_workers


def settings_for(cfg: PipelineConfig, endpoints: list[Endpoint], session_id: str) -> AskSettings:
    limits = cfg.teacher.limits
    return AskSettings(
        endpoints=tuple(EndpointSpec(e.base_url, e.api_key, e.weight) for e in endpoints),
        model=endpoints[0].model, sampling=sampling_params(cfg.teacher),
        prompt_template_hash=prompt_template_hash(cfg.teacher), timeout_s=cfg.teacher.timeout_s,
        max_attempts=cfg.teacher.max_attempts, session_id=session_id, rpm=limits.rpm, tpm=limits.tpm,
        adaptive=limits.adaptive, adaptive_start=limits.adaptive_start, max_rate_limited_s=limits.max_rate_limited_s,
    )


def _warn_if_no_reasoning(progress: Progress, final: bool = False) -> bool:
    """Warn once most complete samples carry no reasoning; True when the question was settled.

    Settled after 50 complete samples, or at the end of the stage on whatever completed (a small run
    where some samples failed or were cut never reaches its total of complete ones).
    """
    if progress.complete < (1 if final else min(50, progress.total)):
        return False
    if progress.complete_bare > progress.complete / 2:
        log(f"[generate] WARNING: {progress.complete_bare} of {progress.complete} complete samples carry no "
            "reasoning (no reasoning_content/reasoning field, no <think> tags): is the teacher a reasoning "
            "model, and is its server's reasoning parser on?")
    return True


def _ask(cfg: PipelineConfig, specs: Specs, settings: AskSettings, run_dir: Path, executor: Executor, stage: str,
         prices: dict) -> Progress:
    if cfg.teacher.mode == "batch":  # through the Batch API (batch.py): the same records, the same journal
        progress = ask_in_batches(cfg, specs, settings, run_dir, stage, prices)
        _warn_if_no_reasoning(progress, final=True)
        return _check_failures(progress, specs, stage)
    journal = Journal(run_dir, settings.session_id)
    progress = Progress(stage, len(specs), prices=prices)
    warned = False

    def on_chunks(chunks: list[Chunk]) -> None:
        nonlocal warned
        records = [r for chunk in chunks for r in chunk.results]
        journal.append(records, [s for chunk in chunks for s in chunk.notices])  # durable before it counts
        progress.add(records)
        warned = warned or _warn_if_no_reasoning(progress)

    try:
        concurrency = cfg.teacher.concurrency
        workers = teacher_workers(settings, concurrency, executor.parallelism(concurrency))
        executor.stream(workers, specs, on_chunks, cfg.teacher.batch_size)
        if not warned:
            _warn_if_no_reasoning(progress, final=True)
    finally:
        journal.close()
        progress.line(final=True)
    return _check_failures(progress, specs, stage)


def _check_failures(progress: Progress, specs: Specs, stage: str) -> Progress:
    if progress.done and progress.by.get("failed", 0) == progress.done:
        if specs.reasks == len(specs):
            # only re-asks of kept, cut replies: those stay as they were (kept and tagged) and the run
            # goes on; --retry-failed would not help, since no stored sample is "failed"
            log(f"[{stage}] WARNING: all {progress.done} re-asks failed after retries (last: {progress.last_error}); "
                "the truncated answers are kept as they were")
            return progress
        raise TeacherUnreachable(f"all {progress.done} requests failed after retries (last: {progress.last_error}); "
                                 "check the teacher, then run again with --retry-failed")
    return progress


def generate(cfg: PipelineConfig, problems: pa.Table, settings: AskSettings, run_dir: Path, executor: Executor,
             retry_failed: bool = False, prices: dict | None = None, counts: dict[str, int] | None = None,
             stage: str = "generate", notices: bool = True) -> int:
    """Ask the teacher for every missing sample, then re-ask truncated answers if the policy says so.

    Returns how many requests were made. `prices` maps public endpoint URL -> PriceConfig, for the
    live cost figure. `counts`: problem id -> samples it should have, for a round of `teacher.until`
    (see `missing_specs`); `stage`: the name progress lines carry; `notices`: say what earlier sessions
    lost or left failed (once per run, not once per round).

    Raises:
        TeacherUnreachable: when a round asked something and every request failed.
    """
    asked = 0
    for round_ in range(2):  # the second round only holds re-asks of truncated answers
        specs, failed_kept = missing_specs(cfg, problems, settings, run_dir, retry_failed, counts)
        if round_ == 0 and notices and (lost := sum(lost_requests(run_dir).values())):
            log(f"[generate] {lost} requests of earlier sessions were paid for but their results were lost "
                "(in flight when a session stopped); those samples were asked again")
        if round_ == 0 and notices and failed_kept:
            log(f"[generate] {failed_kept} stored samples failed after retries; add --retry-failed to ask them "
                "again")
        if not specs and not (cfg.teacher.mode == "batch" and has_open_batches(run_dir)):
            if round_ == 0:
                log("[generate] nothing missing: every sample is in the journal")
            break
        _ask(cfg, specs, settings, run_dir, executor, stage if round_ == 0 else "re-ask truncated", prices or {})
        asked += len(specs)
        retry_failed = False  # what failed in round one stays for the user to decide
    return asked
