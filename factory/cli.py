"""The `factory` command: a thin layer over the library.

Any `FactoryError` becomes one line on stderr and exit code 1; everything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import json
import os
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
@click.argument("config", type=click.Path(path_type=Path))
@_one_line_errors
def validate(config):
    """Check a pipeline, training or eval config (keys, types, values) without loading data or models."""
    from factory.config import config_kind, load_pipeline, read_yaml

    kind = config_kind(read_yaml(config, "config"))
    if kind == "train":
        from factory.train.config import load_train_config

        cfg = load_train_config(config)
        click.echo(f"{config}: ok (training {cfg.name!r}, {cfg.method}, {len(cfg.stages)} stage(s): "
                   f"{', '.join(str(s.max_length) for s in cfg.stages)})")
    elif kind == "eval":
        from factory.eval.config import load_eval_config

        cfg = load_eval_config(config)
        click.echo(f"{config}: ok (eval {cfg.name!r}, {len(cfg.benchmarks)} benchmark(s), k={cfg.k})")
    else:
        cfg = load_pipeline(config)
        click.echo(f"{config}: ok (pipeline {cfg.name!r}, {len(cfg.sources)} source(s), n={cfg.teacher.n})")


@main.command()
@click.argument("pipeline", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Directory for problems.parquet and the curation/ report.")
@click.option("--limit", type=click.IntRange(min=1), help="Keep only the first K problems (after dedup).")
@_one_line_errors
def curate(pipeline, out, limit):
    """Read, dedup and decontaminate the problems of PIPELINE without asking the teacher.

    Writes problems.parquet (every row, with its status) and curation/ (report.md, report.json,
    contamination.parquet) into --out: what `factory run` would ask, and why it would not ask the rest.
    """
    from factory.config import load_pipeline
    from factory.runner import Overrides
    from factory.stages.sources import curate_pipeline
    from factory.stages.sources.report import headline, write_curation

    cfg = Overrides(limit=limit).apply(load_pipeline(pipeline))
    report = write_curation(out, curate_pipeline(cfg))
    click.echo(f"curated {headline(report)} (report: {out}/curation/report.md)")


@main.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Training directory: stage-K-LEN/ per stage, final/, training.json, README.md. An existing one "
                   "is resumed from its last finished stage.")
@click.option("--data", "data", multiple=True,
              help="Replaces the config's `data`: a run directory, a Parquet file or glob, or HF_ID[@REVISION]. "
                   "Repeat for several.")
@_one_line_errors
def train(config, out, data):
    """Train a student on the factory's data: `method: sft` on published shards, or `method: grpo` with the
    verifier as reward, through the config's context stages (TRL; `pip install -e '.[train]'`).

    Several GPUs or nodes: launch the same command with `accelerate launch` or `torchrun`.
    """
    from factory.redact import redact_argv
    from factory.train.config import load_train_config

    cfg = load_train_config(config, list(data) or None)  # every key checked before a model or row is loaded
    _require_train_extra()
    from factory.train.run import train as run_training

    record = run_training(cfg, out, shlex.join(["factory", *redact_argv(sys.argv[1:])]))
    last = record["stages"][-1]
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun every process gets here; one says so
        click.echo(f"trained {len(record['stages'])} stage(s) into {out} (final: {out}/final, last stage "
                   f"{last['name']}: {last['steps']} steps)")


def _require_train_extra() -> None:
    import importlib.util

    missing = [m for m in ("torch", "transformers", "trl") if importlib.util.find_spec(m) is None]
    if missing:
        raise FactoryError(f"training needs {', '.join(missing)}: pip install -e '.[train]' (torch 2.13.0 is "
                           "pinned there)")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["verl", "trl"]), required=True,
              help="verl: prompt, reward_model{ground_truth, style}, data_source, ability, extra_info; "
                   "trl: prompt, answer, problem_id, pass_rate.")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="The Parquet file to write.")
@click.option("--split", default="train", show_default=True, help="extra_info.split (verl).")
@click.option("--data-source", help="data_source (verl); default: the run directory's name.")
@click.option("--pass-rate", nargs=2, type=float, metavar="LO HI",
              help="Keep only problems whose teacher pass rate is within [LO, HI], e.g. 0.1 0.9.")
@_one_line_errors
def export(run_dir, fmt, out, split, data_source, pass_rate):
    """Write RUN_DIR's problems (reference answers, teacher pass rates) as an RL training Parquet.

    verl: score with factory/train/verl_reward.py (custom_reward_function.name=compute_score).
    """
    from factory.train.export import export as write_export

    n = write_export(run_dir, fmt, out, split=split, data_source=data_source, pass_rate=pass_rate or None)
    click.echo(f"exported {n} problems to {out} ({fmt})")


@main.command("eval")
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Evaluation directory: results.json, results.md and a run directory per model and benchmark. "
                   "Earlier models' results there are kept in the table.")
@click.option("--teacher-url", help="Evaluate the model behind this OpenAI-compatible base URL (e.g. a vLLM "
              "server) instead of the config's.")
@click.option("--model", help="Model name to request (with --teacher-url), and the results row.")
@click.option("--model-dir", type=click.Path(path_type=Path),
              help="Serve this local model directory (e.g. DIR/final of `factory train`) with transformers and "
                   "evaluate it; for small models on a CPU.")
@click.option("--retry-failed", is_flag=True, help="Ask again the samples whose requests failed earlier.")
@_one_line_errors
def eval_command(config, out, teacher_url, model, model_dir, retry_failed):
    """Evaluate a model on the config's benchmarks: pass@1 (the mean over k samples) and pass@k.

    Generation goes through the factory's teacher client and journal, so a rerun asks only what is
    missing; the verifier judges. Results join earlier ones in OUT/results.md.
    """
    import contextlib

    from factory.eval.config import load_eval_config
    from factory.eval.run import evaluate
    from factory.redact import redact_argv

    cfg = load_eval_config(config)
    if teacher_url and model_dir:
        raise FactoryError("pass --teacher-url or --model-dir, not both")
    with contextlib.ExitStack() as stack:
        if model_dir is not None:
            _require_train_extra()
            from factory.eval.serve import LocalModel

            server = stack.enter_context(LocalModel(model_dir))
            teacher_url, model = server.base_url, model or server.model_name
            cfg.model.concurrency = min(cfg.model.concurrency, 2)  # one generation at a time anyway
        if teacher_url:
            cfg.model = cfg.model.model_copy(update=dict(base_url=teacher_url, base_url_env=None, endpoints=[],
                                                         simulated=None, model=model or cfg.model.model or "default",
                                                         model_env=None))
            cfg.label = model or cfg.label
        elif model:
            cfg.model.model, cfg.model.model_env = model, None
        scores = evaluate(cfg, out, shlex.join(["factory", *redact_argv(sys.argv[1:])]), retry_failed=retry_failed)
    k = cfg.k
    for name, s in scores.items():
        click.echo(f"{name}: pass@1 {100 * s['pass@1']:.1f}%  pass@{k} {100 * s[f'pass@{k}']:.1f}%  "
                   f"({s['problems']} problems x {k})")
    click.echo(f"results: {out}/results.md")


@main.command("sim-teacher")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Loopback port to listen on (0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; keep it on loopback.")
@click.option("--problems", "pipeline", type=click.Path(path_type=Path),
              help="A pipeline or eval config whose problems' (benchmarks') reference answers the teacher should "
                   "know; it answers them at its configured accuracy.")
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
@click.option("--window-requests", type=click.IntRange(1), help="Act like a naive rate-limiting proxy: accept at "
              "most this many requests per --window-s window, answer the rest 429 with no Retry-After.")
@click.option("--window-s", type=click.FloatRange(0, min_open=True),
              help="Length of that window in seconds (default 60).")
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
    from factory.config import SimulatedTeacherConfig, config_kind, load_pipeline, read_yaml
    from factory.simteacher import serve
    from factory.stages.sources import load_problems, reference_answers

    answers, base = {}, SimulatedTeacherConfig()
    if pipeline is not None and config_kind(read_yaml(pipeline)) == "eval":
        from factory.eval.config import load_eval_config
        from factory.eval.run import eval_answers

        cfg = load_eval_config(pipeline)
        base = cfg.model.simulated or base
        answers = eval_answers(cfg)
    elif pipeline is not None:
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
@click.option("--watch", is_flag=True, help="Redraw every --interval seconds while the run is going, with rates "
              "and an ETA; stops when the run finishes (or stops), or on Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.1),
              help="Seconds between redraws (with --watch; default 2).")
@click.option("--follow", is_flag=True, help="With --watch: keep watching after the run finishes or stops "
              "(e.g. for a resume); only Ctrl-C ends it.")
@_one_line_errors
def status(run_dir, watch, interval, follow):
    """Print progress and counts per stage and per rejection reason for RUN_DIR."""
    from factory.report.status import collect, render

    if watch:
        from factory.report.watch import watch as watch_run

        watch_run(run_dir, interval=interval or 2.0, follow=follow, tty=sys.stdout.isatty(), echo=click.echo)
        return
    if interval is not None or follow:
        raise click.UsageError("--interval and --follow go with --watch")
    click.echo(render(collect(run_dir)))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("query", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a question's answer, or a query's rows).")
@click.option("--export", "export_dir", type=click.Path(path_type=Path),
              help="Write every table and the lineage view to DIR/NAME.parquet, for a warehouse.")
@_one_line_errors
def audit(run_dir, query, as_json, export_dir):
    """Query RUN_DIR/provenance.duckdb read-only; with no QUERY, print a summary.

    QUERY is one read-only SQL statement, or a question:

    \b
      lineage ROW_ID   where a published row came from: shard, problem, request, verdict
      rejections       samples by final reason, share, per source, example ids
      cost             tokens, attempts, GPU hours, dollars per endpoint and in total
      contamination    training problems that copy an eval-set problem, and the match
      sessions         each `factory run`: command, times, requests sent and lost, finished

    Tables: runs, sessions, sources, problems, contaminated_by, requests, outcomes, verdicts, published,
    endpoint_costs; view: lineage.
    """
    from factory.report.audit import answer
    from factory.report.audit import audit as run_audit
    from factory.report.questions import QUESTIONS

    if export_dir is not None:
        if query:
            raise click.UsageError("--export writes every table; give it without a query or question")
        from factory.report.export import export

        written = export(run_dir, export_dir)
        click.echo(json.dumps(written, indent=2) if as_json else "\n".join(
            f"{export_dir / f'{name}.parquet'}  {rows} rows" for name, rows in written.items()))
    elif query and query[0] in QUESTIONS:
        click.echo(answer(run_dir, query[0], list(query[1:]), as_json=as_json))
    else:
        click.echo(run_audit(run_dir, " ".join(query) or None, as_json=as_json))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="where to write the page (default: RUN_DIR/report.html)")
@_one_line_errors
def report(run_dir, out):
    """Write one self-contained HTML page of RUN_DIR: lengths per curriculum bucket, acceptance by source and
    reason, pass rates, throughput over time, cost per endpoint and contamination (no network needed to view it).
    """
    from factory.report.html_page import write_report

    click.echo(f"report written to {write_report(run_dir, out)}")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--to", "to", required=True, help="hf://datasets/ORG/NAME, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or a "
              "local directory. Credentials come from the environment (HF_TOKEN, AWS_*, AWS_ENDPOINT_URL, "
              "GOOGLE_APPLICATION_CREDENTIALS), never from the URI.")
@click.option("--no-provenance", is_flag=True, help="Leave provenance.duckdb out (sent by default, beside the card).")
@_one_line_errors
def publish(run_dir, to, no_provenance):
    """Copy RUN_DIR's published shards, card and manifest to --to, the manifest last.

    The run directory must pass `factory check`. Files already at the destination with the same bytes are
    not sent again (a re-run completes an interrupted upload); shards of an earlier publication there that
    the new manifest does not list are deleted once it is in place (in the same commit on the hub). Each
    publication is recorded in RUN_DIR/publications.jsonl.
    """
    from factory.publish_remote import publish as run_publish

    click.echo(run_publish(run_dir, to, provenance=not no_provenance).summary())


@main.command()
@click.argument("location")
@_one_line_errors
def check(location):
    """Re-verify a publication at LOCATION (a run directory, or any URI publish writes to).

    Every shard's sha256 and row count (Parquet footer) against the manifest, the card's configs against
    the manifest's shards and curriculum buckets, and no unlisted Parquet file under data/. Prints each
    problem on its own line, then a summary; exits 1 when there is any.
    """
    from factory.publish_remote import check as run_check

    report = run_check(location)
    click.echo(report.render())
    if not report.ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
