"""`factory run`: the stages in order, each resumable, on one run directory.

Order matters for "nothing half-written": sources are read, the teacher is resolved and reached,
and only then does the run directory change. Every stage after that skips what earlier sessions
finished (journal for the teacher, verdict parts for the verifier); publish and provenance are
rebuilt from those files each time, atomically.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from factory.config import PipelineConfig
from factory.errors import SourceError, TeacherUnreachable
from factory.executor import Executor, ray_executor
from factory.log import log
from factory.meter.cost import record_prices, record_replicas, run_costs
from factory.stages.generate.stage import generate, settings_for
from factory.stages.generate.until import plan_round
from factory.stages.judge.accepted import accepted_per_problem
from factory.stages.judge.stage import judge, judge_key, read_verdicts
from factory.stages.judge.tokens import TokenizerSource
from factory.stages.sources import curate_pipeline, reference_answers
from factory.stages.sources.report import headline, write_curation
from factory.store.journal import lost_requests, samples_dataset
from factory.store.records import SourceRecord, asked_statuses
from factory.store.rundir import RunDir, utc_now, write_atomic, write_parquet_atomic
from factory.teacher.client import AskSettings
from factory.teacher.endpoint import serving_endpoints


@dataclass
class Overrides:
    """Command-line flags that override the pipeline file for quick tries."""

    limit: int | None = None
    teacher_url: str | None = None
    model: str | None = None
    concurrency: int | None = None

    def apply(self, cfg: PipelineConfig) -> PipelineConfig:
        cfg = cfg.model_copy(deep=True)
        if self.limit is not None:
            cfg.limit = self.limit
        if self.teacher_url is not None:
            cfg.teacher.base_url, cfg.teacher.base_url_env, cfg.teacher.simulated = self.teacher_url, None, None
            cfg.teacher.serve = None
            cfg.teacher.endpoints = []
            if not (self.model or cfg.teacher.model or cfg.teacher.model_env):
                cfg.teacher.model = "default"
        if self.model is not None:
            cfg.teacher.model, cfg.teacher.model_env = self.model, None
        if self.concurrency is not None:
            cfg.teacher.concurrency = self.concurrency
        return PipelineConfig.model_validate(cfg.model_dump())


def _publish(cfg: PipelineConfig, rd: RunDir, problems: pa.Table, contamination: pa.Table,
             sources: list[SourceRecord], tok: TokenizerSource) -> dict:
    from factory.stages.publish.stage import publish
    from factory.store.provenance import write_provenance

    started = time.monotonic()
    samples = samples_dataset(rd.path)
    lost = lost_requests(rd.path)
    verdicts = read_verdicts(rd.path, judge_key(cfg))
    result = publish(rd.path, run_id=rd.info["run_id"], pipeline=cfg.name, tokenizer=cfg.tokenizer.name,
                     problems=problems, samples=samples, verdicts=verdicts, cfg=cfg.publish, sources=sources,
                     tokenizer_files=dict(tokenizer_revision=tok.commit, tokenizer_sha256=tok.tokenizer_sha256,
                                          chat_template_sha256=tok.template_sha256))
    log(f"[publish] {result.placements.num_rows} rows in {time.monotonic() - started:.1f}s")
    started = time.monotonic()
    rd.session["finished_at"] = utc_now()
    sessions = [s | {"lost_requests": lost.get(s["session_id"], 0)} for s in rd.sessions()]
    costs = run_costs(rd.path, result.manifest.counts.get("published", 0))
    config_json = cfg.fingerprint()
    run = dict(rd.info, config_json=config_json, config_hash=hashlib.sha256(config_json.encode()).hexdigest()[:16])
    write_provenance(rd.path, run=run, sessions=sessions, problems=problems, samples=samples,
                     verdicts=verdicts, placements=result.placements, outcomes=result.outcomes, costs=costs,
                     contamination=contamination, sources=sources)
    log(f"[provenance] written in {time.monotonic() - started:.1f}s")
    rd.finish()
    return result.manifest.counts


def _check_askable(problems: pa.Table, cfg: PipelineConfig) -> None:
    statuses = problems["status"].to_pylist()
    if not set(asked_statuses(cfg.verify.majority_vote.enabled)) & set(statuses):
        counts = ", ".join(f"{s} {statuses.count(s)}" for s in sorted(set(statuses))) or "no rows"
        raise SourceError(f"no problem to ask: every row is excluded ({counts}); check `fields` (problem and "
                          "answer columns) and the sources in the pipeline file")


def ask_and_judge(cfg: PipelineConfig, problems: pa.Table, endpoints, rd: RunDir, executor: Executor,
                  retry_failed: bool = False) -> AskSettings:
    """Store the config and problems in the run directory, ask the teacher what is missing, judge what has no
    verdict; return the settings the samples were asked with (a `factory run` and each `factory eval`
    benchmark alike)."""
    write_atomic(rd.path / "config.resolved.json", json.dumps(cfg.stored(), indent=2))
    write_parquet_atomic(rd.path / "problems.parquet", problems)
    settings = settings_for(cfg, endpoints, rd.session["session_id"])
    prices = record_prices(rd.path, endpoints, batch=cfg.teacher.mode == "batch")
    if cfg.teacher.until is not None:
        _ask_in_rounds(cfg, problems, settings, rd, executor, retry_failed, prices)
        return settings
    generate(cfg, problems, settings, rd.path, executor, retry_failed, prices)
    judge(cfg, problems, rd.path, rd.session["session_id"], executor)
    return settings


def _ask_in_rounds(cfg: PipelineConfig, problems: pa.Table, settings: AskSettings, rd: RunDir, executor: Executor,
                   retry_failed: bool, prices: dict) -> None:
    """`teacher.until`: judge what is journaled, plan the next round from that, ask it; until no problem is short.

    Judging comes first in each pass so a resumed run counts the replies an earlier session journaled
    but never judged before it plans what is still missing.
    """
    until, last = cfg.teacher.until, None
    for round_ in itertools.count(1):
        judge(cfg, problems, rd.path, rd.session["session_id"], executor)
        accepted = accepted_per_problem(read_verdicts(rd.path, judge_key(cfg)))
        plan = plan_round(cfg, problems, settings, rd.path, accepted)
        log(plan.line(round_, until.accepted, until.max_n))
        if not plan.counts:
            return
        if plan.counts == last:  # every request of the last round went unjournaled: asking again would loop
            raise TeacherUnreachable(f"round {round_ - 1} of teacher.until journaled nothing; check the teacher, "
                                     "then run again")
        generate(cfg, problems, settings, rd.path, executor, retry_failed, prices, counts=plan.counts,
                 stage=f"generate round {round_}", notices=round_ == 1)
        retry_failed, last = False, plan.counts  # what failed in the first round stays for the user to decide


def run_pipeline(cfg: PipelineConfig, out: Path, command: str, retry_failed: bool = False,
                 executor: Executor | None = None) -> dict:
    """Run (or resume) the whole pipeline into `out`; return the manifest counts.

    `executor`: where parallel work runs; Ray (embedded, or the cluster `RAY_ADDRESS` names) by default.
    """
    curation = curate_pipeline(cfg)
    problems = curation.problems
    _check_askable(problems, cfg)
    # the tokenizer and its template are read (and a template that drops the reasoning refused) before the
    # teacher is paid, not after; the manifest records what was read here
    tok = TokenizerSource.of(cfg.tokenizer.name, cfg.tokenizer.revision, cfg.tokenizer.chat_template)
    with serving_endpoints(cfg.teacher, reference_answers(problems), cfg.ray) as endpoints:
        rd = RunDir(out, cfg.name, command)
        try:
            log(f"[curate] {headline(write_curation(rd.path, curation))}")
            try:
                ask_and_judge(cfg, problems, endpoints, rd, executor or ray_executor(cfg.ray), retry_failed)
            finally:
                # servers the run started (teacher.serve) stop as soon as nothing more is asked (idle GPUs cost
                # the same), and how long they held their GPUs goes where the cost report reads it
                record_replicas(rd.path, rd.session["session_id"], endpoints.release())
            return _publish(cfg, rd, problems, curation.contamination, curation.sources, tok)
        finally:
            rd.close()
