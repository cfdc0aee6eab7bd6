"""The training config (`factory train CONFIG.yaml`): one pydantic tree, validated before anything is loaded.

Every model forbids unknown keys. Paths are resolved against the config file's directory; names that
exist nowhere there are taken as Hugging Face ids. `stages` is the context-scaling curriculum: SFT stage k
trains on the rows that fit its `max_length` (counted with the chat template), GRPO stage k generates
completions of up to `max_length` tokens.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from factory.config import RECIPE_PROMPT, _Config, read_yaml, resolve_path, validated


class DataSource(_Config):
    """Where the rows (SFT) or problems (GRPO) come from: exactly one of `run`, `dataset` or `parquet`."""

    run: str | None = Field(None, description="a run directory written by `factory run`")
    dataset: str | None = Field(None, description="a Hugging Face dataset id")
    revision: str | None = Field(None, description="the dataset's commit or tag, pinned for lineage")
    subset: str | None = None
    split: str = "train"
    parquet: str | None = Field(None, description="a Parquet file or glob (shards, or an RL export)")

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in ("run", "dataset", "parquet") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(f"each data entry needs exactly one of `run`, `dataset` or `parquet`, "
                             f"got {given or 'none'}")
        return self

    def label(self) -> str:
        return self.run or self.parquet or f"{self.dataset}@{self.revision or 'main'}"


class ModelInit(_Config):
    """A small model built from a config, with no download (tests, the demo, new architectures)."""

    config: dict = Field(description="model config values, `model_type` included (e.g. qwen2)")
    tokenizer: str = Field(description="a tokenizer.json, or a directory holding one")

    @model_validator(mode="after")
    def _type(self):
        if "model_type" not in self.config:
            raise ValueError("model.init.config needs `model_type` (e.g. qwen2)")
        return self


class ModelSpec(_Config):
    """The model to start from: `name` (an HF id or a local directory) or `init`."""

    name: str | None = None
    revision: str | None = None
    init: ModelInit | None = None
    chat_template: str | None = Field(None, description="a Jinja file to use instead of the tokenizer's own; SFT "
                                      "needs {% generation %} markers around the assistant's turn")

    @model_validator(mode="after")
    def _one(self):
        if (self.name is None) == (self.init is None):
            raise ValueError("model: set exactly one of `name` (an HF id or a directory) or `init`")
        return self

    def label(self) -> str:
        if self.name:
            return self.name + (f"@{self.revision}" if self.revision else "")
        return f"init:{self.init.config['model_type']}"


class StageConfig(_Config):
    """One curriculum stage; unset values come from the top level."""

    max_length: int = Field(ge=16, description="SFT: longest row, chat template included; GRPO: longest completion")
    max_steps: int | None = Field(None, ge=1)
    num_train_epochs: float | None = Field(None, gt=0)
    learning_rate: float | None = Field(None, gt=0)
    num_generations: int | None = Field(None, ge=2, description="GRPO: completions per prompt")
    per_device_train_batch_size: int | None = Field(None, ge=1)
    gradient_accumulation_steps: int | None = Field(None, ge=1)


class VllmConfig(_Config):
    """GRPO's generation through vLLM (TRL's `use_vllm`): `colocate` shares the training GPUs, `server`
    asks a `trl vllm-serve` process. Without it completions come from transformers' `generate`."""

    mode: Literal["colocate", "server"] = "colocate"
    gpu_memory_utilization: float = Field(0.3, gt=0, le=1, description="colocate: the share vLLM may take")
    tensor_parallel_size: int = Field(1, ge=1)
    server_base_url: str | None = Field(None, description="server: e.g. http://host:8000")


class RewardConfig(_Config):
    """GRPO's reward: the verifier's verdict on the completion, 1 or 0, under a format policy."""

    format: Literal["strict", "off"] = Field("strict", description="strict: a right answer counts only when "
                                             "</think> closed the reasoning and the answer is boxed")
    format_weight: float = Field(0.0, ge=0, description="weight of a separate 0/1 format reward (0: none)")
    timeout_s: float = Field(5.0, gt=0, description="the verifier's limit per completion")
    prose_answers: bool = Field(False, description="as the pipeline's verify.prose_answers (matters only with "
                                                   "format: off, since strict needs a box)")
    ordered_lists: bool = Field(False, description="as the pipeline's verify.ordered_lists")


Scheduler = Literal["linear", "cosine", "constant", "constant_with_warmup", "cosine_with_min_lr"]


class TrainConfig(_Config):
    """A training run: `method: sft` or `method: grpo`, over context stages."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    method: Literal["sft", "grpo"]
    data: list[DataSource] = Field(min_length=1)
    model: ModelSpec
    stages: list[StageConfig] = Field(min_length=1)
    # SFT
    new_rows_only: bool = Field(False, description="stage k trains only on rows longer than stage k-1's limit")
    packing: bool = Field(False, description="pack rows into max_length blocks (TRL's best-fit decreasing)")
    padding_free: bool = Field(False, description="flatten each batch into one sequence, no padding")
    # GRPO
    prompt_template: str = Field(RECIPE_PROMPT, description="the user turn; {problem} is replaced, nothing else")
    system_prompt: str | None = None
    max_prompt_length: int | None = Field(1024, ge=1, description="longer prompts are left out (counted)")
    pass_rate: tuple[float, float] | None = Field(None, description="keep problems the teacher solved in "
                                                  "[lo, hi] of its samples (from the run's verdicts)")
    num_generations: int = Field(8, ge=2)
    beta: float = Field(0.0, ge=0, description="KL coefficient (DeepScaleR: 0.001)")
    temperature: float = Field(0.6, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    reward: RewardConfig = RewardConfig()
    vllm: VllmConfig | None = Field(None, description="generate with vLLM (on GPUs; `pip install vllm`)")
    # both
    learning_rate: float = Field(1e-5, gt=0)
    max_steps: int | None = Field(None, ge=1, description="per stage, unless the stage says otherwise")
    num_train_epochs: float = Field(1.0, gt=0)
    per_device_train_batch_size: int = Field(4, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    lr_scheduler_type: Scheduler = "cosine"
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    seed: int = 0
    bf16: bool | None = Field(None, description="None: on where a GPU supports it")
    gradient_checkpointing: bool = False
    logging_steps: int = Field(1, ge=1)
    save_steps: int | None = Field(None, ge=1, description="checkpoint inside a stage every N steps (resumable)")

    @model_validator(mode="after")
    def _consistent(self):
        lengths = [s.max_length for s in self.stages]
        if lengths != sorted(set(lengths)):
            raise ValueError(f"stages: max_length must grow from stage to stage, got {lengths}")
        if self.method == "grpo":
            # the processes a launcher started (torchrun and accelerate set WORLD_SIZE); one when validating
            processes = int(os.environ.get("WORLD_SIZE", "1"))
            for k, stage in enumerate(self.stages, 1):
                gens = stage.num_generations or self.num_generations
                batch = (stage.per_device_train_batch_size or self.per_device_train_batch_size) * processes * \
                    (stage.gradient_accumulation_steps or self.gradient_accumulation_steps)
                if batch % gens:
                    raise ValueError(f"stage {k}: per_device_train_batch_size x processes ({processes}) x "
                                     f"gradient_accumulation_steps = {batch} must be a multiple of num_generations "
                                     f"({gens}): a batch holds whole groups of completions")
            if self.pass_rate and not 0 <= self.pass_rate[0] <= self.pass_rate[1] <= 1:
                raise ValueError(f"pass_rate {list(self.pass_rate)} must be [lo, hi] with 0 <= lo <= hi <= 1")
            if "{problem}" not in self.prompt_template:
                raise ValueError("prompt_template must contain {problem}")
        elif self.packing and self.padding_free:
            raise ValueError("packing already trains without padding; set `packing` or `padding_free`, not both")
        return self

    def stage_name(self, k: int) -> str:
        """The directory of stage k (1-based): stage-1-8192, stage-2-16384, ..."""
        return f"stage-{k}-{self.stages[k - 1].max_length}"


def load_train_config(path: str | os.PathLike, data: list[str] | None = None) -> TrainConfig:
    """Read and validate a training config; `data` (from --data) replaces its `data` entries.

    A --data value is a run directory, a Parquet file or glob, or `HF_ID[@REVISION]`.
    """
    path = Path(path)
    raw = read_yaml(path, "training config")
    cfg: TrainConfig = validated(TrainConfig, raw, path)
    base = path.parent
    if data:
        cfg.data = [_data_arg(d) for d in data]
    else:
        for d in cfg.data:
            d.run, d.parquet = resolve_path(d.run, base), resolve_path(d.parquet, base)
    if cfg.model.name:
        cfg.model.name = resolve_path(cfg.model.name, base)
    if cfg.model.init:
        cfg.model.init.tokenizer = resolve_path(cfg.model.init.tokenizer, base)
    cfg.model.chat_template = resolve_path(cfg.model.chat_template, base)
    return cfg


def _data_arg(value: str) -> DataSource:
    p = Path(value)
    if p.is_dir():
        return DataSource(run=str(p.resolve()))
    if value.endswith(".parquet") or any(c in value for c in "*?["):
        return DataSource(parquet=str(p.resolve()) if p.exists() else value)
    name, _, revision = value.partition("@")
    return DataSource(dataset=name, revision=revision or None)
