"""`factory run`: the stages in order, each resumable, on one run directory.

Order matters for "nothing half-written": sources are read, the teacher is resolved and reached,
and only then does the run directory change. Every stage after that skips what earlier sessions
finished (journal for the teacher, verdict parts for the verifier); publish and provenance are
rebuilt from those files each time, atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory.config import PipelineConfig
from factory.journal import latest_records, samples_table
from factory.progress import log
from factory.rundir import RunDir, write_atomic
from factory.sources import build_problems, load_source
from factory.stages.check import check, read_verdicts
from factory.stages.generate import generate, settings_for
from factory.teacher.endpoint import Endpoint, preflight, resolve


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
            if not (self.model or cfg.teacher.model or cfg.teacher.model_env):
                cfg.teacher.model = "default"
        if self.model is not None:
            cfg.teacher.model, cfg.teacher.model_env = self.model, None
        if self.concurrency is not None:
            cfg.teacher.concurrency = self.concurrency
        return PipelineConfig.model_validate(cfg.model_dump())


def load_problems(cfg: PipelineConfig) -> pa.Table:
    rows = (row for src in cfg.sources for row in load_source(src))
    eval_rows = [row for src in cfg.decontaminate for row in load_source(src)]
    return build_problems(rows, eval_rows, cfg.limit)


@contextlib.contextmanager
def teacher_endpoint(cfg: PipelineConfig, problems: pa.Table):
    """Yield the endpoint to ask; for a simulated teacher, serve it for the duration of the run."""
    sim = cfg.teacher.simulated
    if sim is None:
        endpoint = resolve(cfg.teacher)
        preflight(endpoint)
        yield endpoint
        return
    from factory.simteacher import SimTeacher

    answers = {p: a for p, a in zip(problems["problem"].to_pylist(), problems["reference_answer"].to_pylist()) if a}
    with SimTeacher(sim, answers) as server:
        log(f"[teacher] simulated teacher (a test double) serving on {server.base_url}")
        yield Endpoint(server.base_url, cfg.teacher.model or sim.model, "")


def _write_problems(run_dir: Path, problems: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(problems, sink, compression="zstd")
    write_atomic(run_dir / "problems.parquet", sink.getvalue().to_pybytes())


def _publish(cfg: PipelineConfig, rd: RunDir, problems: pa.Table) -> dict:
    from factory.provenance import write_provenance
    from factory.publish import publish

    samples = samples_table(latest_records(rd.path))
    verdicts = read_verdicts(rd.path)
    result = publish(rd.path, run_id=rd.info["run_id"], pipeline=cfg.name, tokenizer=cfg.tokenizer.name,
                     problems=problems, samples=samples, verdicts=verdicts, cfg=cfg.publish)
    rd.finish()
    config_json = cfg.fingerprint()
    run = dict(rd.info, config_json=config_json, config_hash=hashlib.sha256(config_json.encode()).hexdigest()[:16])
    write_provenance(rd.path, run=run, sessions=rd.sessions(), problems=problems, samples=samples,
                     verdicts=verdicts, placements=result.placements, outcomes=result.outcomes)
    return result.manifest.counts


def run_pipeline(cfg: PipelineConfig, out: Path, command: str) -> dict:
    """Run (or resume) the whole pipeline into `out`; return the manifest counts."""
    problems = load_problems(cfg)
    with teacher_endpoint(cfg, problems) as endpoint:
        rd = RunDir(out, cfg.name, command)
        try:
            write_atomic(rd.path / "config.resolved.json", json.dumps(cfg.model_dump(mode="json"), indent=2))
            _write_problems(rd.path, problems)
            settings = settings_for(cfg, endpoint, rd.session["session_id"])
            generate(cfg, problems, settings, rd.path)
            check(cfg, problems, rd.path, rd.session["session_id"])
            return _publish(cfg, rd, problems)
        finally:
            rd.close()
