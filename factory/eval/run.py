"""`factory eval`: a model's pass@1 and pass@k on each benchmark, through the factory's own machinery.

Each benchmark is a run directory of its own (DIR/runs/MODEL/BENCHMARK): its problems are read like a
pipeline's sources, the model is asked k samples of each through the teacher client into the journal
(resumable and exactly-once, so a rerun asks only what is missing), and the judge stage grades them
with the verifier. Scores go into DIR/results.json and DIR/results.md, beside every earlier model's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from factory.config import CurateConfig, NearDuplicateConfig, PipelineConfig
from factory.eval.config import EvalConfig
from factory.eval.results import merge, score
from factory.executor import Executor, ray_executor
from factory.log import log
from factory.runner import ask_and_judge
from factory.stages.generate.identity import sample_id
from factory.stages.judge.stage import judge_key, read_verdicts
from factory.stages.sources import load_problems, reference_answers
from factory.store.rundir import RunDir, utc_now
from factory.teacher.endpoint import serving_endpoints


def benchmark_pipeline(cfg: EvalConfig, index: int) -> PipelineConfig:
    """Benchmark `index` as a pipeline: its problems as the source, the model as the teacher, k samples."""
    bench = cfg.benchmarks[index]
    # a benchmark is scored row by row as published: copies of one text count once, near copies stay apart
    curate = CurateConfig(near_duplicates=NearDuplicateConfig(enabled=False))
    return PipelineConfig(name=f"eval-{bench.name}", sources=[bench], teacher=cfg.teacher(), tokenizer=cfg.tokenizer,
                          filters=cfg.filters, verify=cfg.verify, ray=cfg.ray, curate=curate)


def _benchmarks(cfg: EvalConfig) -> list[tuple[PipelineConfig, pa.Table]]:
    """Each benchmark as a pipeline, with its problems read and curated (once per evaluation)."""
    pipelines = [benchmark_pipeline(cfg, i) for i in range(len(cfg.benchmarks))]
    return [(pcfg, load_problems(pcfg)) for pcfg in pipelines]


def _answers(benchmarks: list[tuple[PipelineConfig, pa.Table]]) -> dict[str, str]:
    answers: dict[str, str] = {}
    for _, problems in benchmarks:
        answers |= reference_answers(problems)
    return answers


def eval_answers(cfg: EvalConfig) -> dict[str, str]:
    """problem text -> reference answer over every benchmark (what a simulated model is told)."""
    return _answers(_benchmarks(cfg))


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]+", "_", label).strip("_") or "model"


def _correct(pcfg: PipelineConfig, problems: pa.Table, run_dir: Path, settings) -> tuple[dict, int]:
    """problem id -> verdicts of its k samples (this model, prompt and sampling), and how many are missing."""
    verdicts = read_verdicts(run_dir, judge_key(pcfg))
    ok = dict(zip(verdicts["sample_id"].to_pylist(), verdicts["correct"].to_pylist(), strict=True))
    correct, missing = {}, 0
    for pid, status in zip(problems["problem_id"].to_pylist(), problems["status"].to_pylist(), strict=True):
        if status != "ok":
            continue
        ids = [sample_id(pid, i, settings.model, settings.prompt_template_hash, settings.sampling)
               for i in range(pcfg.teacher.n)]
        missing += sum(s not in ok for s in ids)
        correct[pid] = [bool(ok.get(s, False)) for s in ids]
    return correct, missing


def evaluate(cfg: EvalConfig, out: Path, command: str, executor: Executor | None = None,
             retry_failed: bool = False) -> dict:
    """Evaluate every benchmark into `out`; return the model's figures per benchmark."""
    out = Path(out)
    benchmarks = _benchmarks(cfg)
    scores: dict[str, dict] = {}
    with serving_endpoints(cfg.teacher(), _answers(benchmarks)) as endpoints:
        label = cfg.label or endpoints[0].model
        executor = executor or ray_executor(cfg.ray)
        for bench, (pcfg, problems) in zip(cfg.benchmarks, benchmarks, strict=True):
            rd = RunDir(out / "runs" / _slug(label) / bench.name, pcfg.name, command)
            try:
                log(f"[eval] {label} on {bench.name}: {sum(s == 'ok' for s in problems['status'].to_pylist())} "
                    f"problems x {cfg.k} samples")
                settings = ask_and_judge(pcfg, problems, endpoints, rd, executor, retry_failed)
                correct, missing = _correct(pcfg, problems, rd.path, settings)
                scores[bench.name] = score(correct, cfg.k, missing) | {"run_dir": str(rd.path)}
                rd.session["finished_at"] = utc_now()
                rd.finish()
            finally:
                rd.close()
            s = scores[bench.name]
            log(f"[eval] {label} on {bench.name}: pass@1 {100 * s['pass@1']:.1f}% (± {100 * s['stderr']:.1f}), "
                f"pass@{cfg.k} {100 * s[f'pass@{cfg.k}']:.1f}%" + (f", {missing} samples missing" if missing else ""))
    meta = dict(model=label, endpoint_model=endpoints[0].model, sampling=cfg.sampling.model_dump(), k=cfg.k,
                prompt_template=cfg.prompt_template, evaluated_at=utc_now())
    merge(out, label, scores, meta)
    return scores
