"""`factory train`: the student through its context stages, each a Hugging Face model directory.

DIR holds `stage-K-LEN/` per finished stage (loadable with `from_pretrained`, with the rows or prompts it
trained on in `training_rows.parquet`), `final/` (the last stage), `training.json` (method, base model,
data lineage, per-stage metrics) and `README.md` (the model card). A stage directory appears only once
its stage is done (written aside, then renamed), so a rerun of the same command starts at the first
stage that is missing, from the previous stage's weights; with `save_steps` a stage itself resumes from
its last checkpoint. Under torchrun or `accelerate launch` every process runs this, and only the first
writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from factory.errors import ConfigError, RunDirError
from factory.log import log
from factory.store.rundir import utc_now, write_atomic
from factory.train.config import TrainConfig

TRAINING_JSON = "training.json"


def _is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _log(line: str) -> None:
    if _is_main():  # one line per event, not one per process
        log(line)


def _barrier() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def _join_processes() -> None:
    """Under torchrun or `accelerate launch`, join the process group now, before any trainer exists: the
    first process writes what the others then read (the built base model), so they must be able to wait."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch
        from accelerate import PartialState

        PartialState(cpu=not torch.cuda.is_available())  # the same state the trainers take up later


def config_hash(cfg: TrainConfig) -> str:
    """What makes two trainings the same one (data, model, stages, hyperparameters)."""
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16]


def _record(out: Path, cfg: TrainConfig, command: str) -> dict:
    path = out / TRAINING_JSON
    if path.exists():
        record = json.loads(path.read_text())
        if record["config_hash"] != config_hash(cfg):
            raise RunDirError(f"{str(out)!r} holds a training with another config ({record['name']}, "
                              f"{record['config_hash']}); use another --out, or the config it was made with")
        return record
    return dict(name=cfg.name, method=cfg.method, base_model=cfg.model.label(), config_hash=config_hash(cfg),
                config=json.loads(cfg.model_dump_json()), created_at=utc_now(), command=command, data=[],
                stages=[], final=None)


def _content(lineage: list[dict]) -> list:
    """What identifies the data a training consumed: shard and file checksums, dataset revisions."""
    def one(d: dict):
        if d["kind"] == "run":
            return d["run_id"], [s["sha256"] for s in d.get("shards", [])], d.get("problems", {}).get("sha256")
        if d["kind"] == "parquet":
            return [f["sha256"] for f in d["files"]]
        return d["id"], d["revision"], d["fingerprint"]

    return [one(d) for d in lineage]


def _losses(history: list[dict], key: str) -> tuple[float | None, float | None]:
    values = [h[key] for h in history if key in h]
    return (values[0], values[-1]) if values else (None, None)


def _finish_stage(trainer, tokenizer, stage_dir: Path, used) -> None:
    """Save the stage's model aside and rename it into place (main process), every process waiting."""
    tmp = stage_dir.with_name(f".{stage_dir.name}.tmp")
    if _is_main() and tmp.exists():
        shutil.rmtree(tmp)
    trainer.save_model(str(tmp))  # writes on the main process only
    if _is_main():
        tokenizer.save_pretrained(str(tmp))
        used.to_parquet(str(tmp / "training_rows.parquet"))
        if stage_dir.exists():
            shutil.rmtree(stage_dir)
        os.replace(tmp, stage_dir)
    _barrier()


def _data(cfg: TrainConfig, tokenizer):
    if cfg.method == "sft":
        from factory.train.data import sft_rows, with_lengths

        rows, lineage = sft_rows(cfg)
        rows = with_lengths(rows, tokenizer)
        longest = cfg.stages[-1].max_length
        return rows, lineage, {"too_long": sum(t > longest for t in rows["tokens"])}
    from factory.train.prompts import grpo_prompts

    return grpo_prompts(cfg, tokenizer)


def _stage_data(cfg: TrainConfig, k: int, data):
    """The rows (SFT: those that fit stage k, or only those new to it) or prompts (GRPO: all) of stage k."""
    if cfg.method == "grpo":
        return data
    from factory.train.data import stage_rows

    high = cfg.stages[k - 1].max_length
    low = cfg.stages[k - 2].max_length if cfg.new_rows_only and k > 1 else 0
    return stage_rows(data, low, high)


def train(cfg: TrainConfig, out: Path, command: str) -> dict:
    """Train (or resume) into `out`; return the training record (what training.json holds)."""
    from factory.train.args import silence_libraries
    from factory.train.model import load_model, load_tokenizer, training_template

    silence_libraries()
    _join_processes()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {str(out)!r} is a file; pass a directory for the training")
    record = _record(out, cfg, command)
    tokenizer = load_tokenizer(cfg.model)
    if cfg.method == "sft":
        training_template(tokenizer, cfg.model)
    data, lineage, left_out = _data(cfg, tokenizer)
    if record["stages"] and _content(record["data"]) != _content(lineage):
        raise RunDirError(f"the data changed since {record['stages'][-1]['name']} of {str(out)!r} was trained on it "
                          "(its shards or files are not the ones training.json lists); train into another --out")
    record["data"], record["left_out"] = lineage, left_out
    if _is_main():
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(out / TRAINING_JSON, json.dumps(record, indent=2))
    done = {s["name"] for s in record["stages"]}
    previous = _built_base(cfg, tokenizer, out) if cfg.model.init else None
    record["base"] = "base" if previous else None  # a model built from `init`, as it was before training
    for k, stage in enumerate(cfg.stages, 1):
        name = cfg.stage_name(k)
        stage_dir = out / name
        if name in done and (stage_dir / "config.json").is_file():
            _log(f"[train] {name}: done in an earlier session, kept")
            previous = stage_dir
            continue
        used = _stage_data(cfg, k, data)
        if len(used) == 0:
            raise ConfigError(f"stage {k} ({name}) has no rows: none of {len(data)} fits max_length "
                              f"{stage.max_length}{' beyond the previous stage' if cfg.new_rows_only else ''}; "
                              "raise max_length or check `data`")
        _log(f"[train] {name}: {cfg.method} on {len(used)} {'rows' if cfg.method == 'sft' else 'prompts'}"
            + f" from {previous.name if previous else cfg.model.label()}")
        started = time.time()
        model = load_model(cfg.model, tokenizer, cfg.seed, checkpoint=str(previous) if previous else None)
        model.config.name_or_path = str(previous) if previous else cfg.model.name  # where GRPO loads its reference
        checkpoints = out / "checkpoints" / name
        if cfg.method == "sft":
            from factory.train.sft import train_stage
        else:
            from factory.train.grpo import train_stage
        trainer = train_stage(cfg, k, model, tokenizer, used, checkpoints)
        history = trainer.state.log_history
        first, last = _losses(history, "loss" if cfg.method == "sft" else "reward")
        _finish_stage(trainer, tokenizer, stage_dir, used.remove_columns([c for c in ("messages", "prompt")
                                                                           if c in used.column_names]))
        if _is_main():  # published: the stage's checkpoints (optimizer state and all) are no longer needed
            shutil.rmtree(checkpoints, ignore_errors=True)
        entry = dict(name=name, path=name, max_length=stage.max_length, rows=len(used), steps=trainer.state.global_step,
                     processes=trainer.args.world_size, wall_s=round(time.time() - started, 2), finished_at=utc_now())
        if cfg.method == "sft":
            tokens = next((h["num_tokens"] for h in reversed(history) if "num_tokens" in h), None)
            runtime = next((h["train_runtime"] for h in reversed(history) if "train_runtime" in h), None)
            entry |= dict(first_loss=first, last_loss=last, tokens=tokens,
                          tokens_per_s=round(tokens / runtime, 1) if tokens and runtime else None)
        else:
            first_ok, last_ok = _losses(history, "rewards/accuracy/mean")
            entry |= dict(first_reward=first, last_reward=last, first_accuracy=first_ok, last_accuracy=last_ok)
        record["stages"] = [s for s in record["stages"] if s["name"] != name] + [entry]
        if _is_main():
            write_atomic(out / TRAINING_JSON, json.dumps(record, indent=2))
        _log(f"[train] {name}: {entry['steps']} steps in {entry['wall_s']:.1f}s, "
            + (f"loss {first:.4f} -> {last:.4f}" if cfg.method == "sft" and first is not None else
               f"mean reward {first} -> {last}"))
        previous = stage_dir
    if _is_main():
        _publish_final(out, previous, record, cfg)
    _barrier()
    return record


def _built_base(cfg: TrainConfig, tokenizer, out: Path) -> Path:
    """A model built from `init` is saved once as DIR/base (its seed fixes it), so every stage, GRPO's
    reference model and a resumed run start from the same weights on disk."""
    from factory.train.model import load_model

    base = out / "base"
    if _is_main() and not (base / "config.json").is_file():
        tmp = out / ".base.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        load_model(cfg.model, tokenizer, cfg.seed).save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        os.replace(tmp, base)
    _barrier()
    return base


def _publish_final(out: Path, last_stage: Path, record: dict, cfg: TrainConfig) -> None:
    from factory.train.card import render_card

    final, tmp = out / "final", out / ".final.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(last_stage, tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    record["final"] = "final"
    record["finished_at"] = utc_now()
    with contextlib.suppress(OSError):  # empty once every stage is published
        (out / "checkpoints").rmdir()
    write_atomic(out / TRAINING_JSON, json.dumps(record, indent=2))
    write_atomic(out / "README.md", render_card(record))
