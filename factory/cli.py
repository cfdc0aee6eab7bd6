"""The `factory` command: a thin layer over the library.

Any `FactoryError` becomes one line on stderr and exit code 1; everything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import shlex
import sys
from functools import wraps
from pathlib import Path

import click

from factory.errors import FactoryError


def _one_line_errors(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FactoryError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            # everything acknowledged is already on disk; the same command resumes
            click.echo("interrupted; run the same command again to resume", err=True)
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="distill-factory")
def main():
    """Distillation data factory: math problems in, verified reasoning shards with provenance out."""


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Run directory. Created if missing; an existing one is resumed (only missing work is done).")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first K problems (after dedup).")
@click.option("--teacher-url", help="OpenAI-compatible base URL (e.g. http://127.0.0.1:8000/v1); "
              "replaces the file's teacher, simulated or not.")
@click.option("--model", help="Teacher model name to request.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Requests in flight, all workers together.")
@click.option("--retry-failed", is_flag=True,
              help="Ask again the samples whose requests failed after all retries in earlier sessions.")
@_one_line_errors
def run(pipeline, out, limit, teacher_url, model, concurrency, retry_failed):
    """Run the pipeline described by PIPELINE (a YAML file) into --out.

    Running the same command again on the same --out resumes: samples already in the journal are
    never requested again, verified samples are not re-verified, and the shards, manifest and
    provenance database are rebuilt from what is stored. Set RAY_ADDRESS to run on a Ray cluster.
    """
    from factory.config import load_pipeline
    from factory.redact import redact_argv
    from factory.runner import Overrides, run_pipeline

    cfg = Overrides(limit, teacher_url, model, concurrency).apply(load_pipeline(pipeline))
    command = shlex.join(["factory", *redact_argv(sys.argv[1:])])
    counts = run_pipeline(cfg, out, command, retry_failed)
    click.echo(f"published {counts.get('published', 0)} samples to {out}/data "
               f"(manifest: {out}/manifest.json, provenance: {out}/provenance.duckdb)")


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
@_one_line_errors
def validate(pipeline):
    """Check a pipeline file (keys, types, values) without reading sources or calling the teacher."""
    from factory.config import load_pipeline

    cfg = load_pipeline(pipeline)
    click.echo(f"{pipeline}: ok (pipeline {cfg.name!r}, {len(cfg.sources)} source(s), n={cfg.teacher.n})")


@main.command("sim-teacher")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Loopback port to listen on (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep it on loopback.")
@click.option("--problems", "pipeline", type=click.Path(path_type=Path),
              help="A pipeline file whose problems' reference answers the teacher should know.")
@click.option("--latency-ms", type=float, help="Delay before every answer, in milliseconds.")
@click.option("--rate-wrong", type=click.FloatRange(0, 1), help="Share of answers that are wrong.")
@click.option("--rate-equivalent", type=click.FloatRange(0, 1),
              help="Share of correct answers written in an equivalent but different form.")
@click.option("--rate-truncated", type=click.FloatRange(0, 1), help="Share cut off (finish_reason=length).")
@click.option("--rate-duplicate", type=click.FloatRange(0, 1), help="Share repeating an earlier completion.")
@click.option("--rate-429", "rate_429", type=click.FloatRange(0, 1), help="Share answered 429 with Retry-After.")
@click.option("--rate-5xx", "rate_5xx", type=click.FloatRange(0, 1), help="Share answered 500/503.")
@click.option("--rate-timeout", type=click.FloatRange(0, 1), help="Share held for --hang-s before answering.")
@click.option("--rate-malformed", type=click.FloatRange(0, 1), help="Share answered with a broken JSON body.")
@click.option("--hang-s", type=float, help="How long a simulated timeout holds the request.")
@click.option("--reasoning-field", type=click.Choice(["inline", "reasoning_content", "reasoning"]),
              help="Where the reasoning goes: inline <think> tags, or a separate message field.")
@click.option("--seed", type=int, help="Random seed for outcomes and text.")
@click.option("--record-times", is_flag=True, default=None,
              help="Report every answered request's arrival and answer time in /stats (for benchmarks).")
@_one_line_errors
def sim_teacher(port, host, pipeline, **knobs):
    """Serve the simulated teacher (a test double) until stopped.

    It speaks the chat-completions protocol (/v1/chat/completions, /v1/models, /stats) and returns
    R1-style traces with configurable faults. Defaults come from the pipeline's
    `teacher.simulated` block when --problems names one, else from the built-in defaults.
    """
    from factory.config import SimulatedTeacherConfig, load_pipeline
    from factory.simteacher import serve
    from factory.stages.sources import load_problems, reference_answers

    answers, base = {}, SimulatedTeacherConfig()
    if pipeline is not None:
        cfg = load_pipeline(pipeline)
        base = cfg.teacher.simulated or base
        answers = reference_answers(load_problems(cfg))
    config = SimulatedTeacherConfig.model_validate(
        base.model_dump() | {k: v for k, v in knobs.items() if v is not None})
    click.echo(f"simulated teacher (a test double) on http://{host}:{port}/v1 "
               f"knowing {len(answers)} answers; Ctrl-C stops it", err=True)
    serve(config, answers, host=host, port=port)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@_one_line_errors
def status(run_dir):
    """Print progress and counts per stage and per rejection reason for RUN_DIR."""
    from factory.report.status import collect, render

    click.echo(render(collect(run_dir)))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("sql", required=False)
@_one_line_errors
def audit(run_dir, sql):
    """Query RUN_DIR/provenance.duckdb read-only; with no SQL, print a summary.

    Tables: runs, sessions, problems, requests, outcomes, verdicts, published, endpoint_costs; view: lineage.
    """
    from factory.report.audit import audit as run_audit

    click.echo(run_audit(run_dir, sql))


if __name__ == "__main__":
    main()
