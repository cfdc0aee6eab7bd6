"""Trainer arguments shared by SFT and GRPO, with the choices this project makes explicit.

TRL turns on bf16 and gradient checkpointing by default; on a CPU the first halves the speed and the
second costs time for memory a small model does not need, so both are set from the config: bf16 follows
the hardware unless the config says otherwise.
"""

from __future__ import annotations

from factory.train.config import StageConfig, TrainConfig


def _cuda_bf16() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def common_args(cfg: TrainConfig, stage: StageConfig, output_dir: str) -> dict:
    """Keyword arguments for SFTConfig / GRPOConfig that both trainers read the same way."""
    import torch

    return dict(
        output_dir=output_dir,
        learning_rate=stage.learning_rate or cfg.learning_rate,
        max_steps=stage.max_steps or cfg.max_steps or -1,
        num_train_epochs=stage.num_train_epochs or cfg.num_train_epochs,
        per_device_train_batch_size=stage.per_device_train_batch_size or cfg.per_device_train_batch_size,
        gradient_accumulation_steps=stage.gradient_accumulation_steps or cfg.gradient_accumulation_steps,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_ratio,  # below 1: a share of the stage's steps
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        seed=cfg.seed,
        bf16=_cuda_bf16() if cfg.bf16 is None else cfg.bf16,
        # transformers 5.2x's name for gradient checkpointing; TRL's default on the old name warns every stage
        activation_checkpointing=cfg.gradient_checkpointing,
        logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or 500,
        save_total_limit=2,  # a checkpoint with optimizer state is twice the model: keep the last two
        report_to="none",
        use_cpu=not torch.cuda.is_available(),
        disable_tqdm=True,
        ddp_find_unused_parameters=False,
    )


def quiet(trainer, stage: str) -> None:
    """Trainer logs as one status line each on stderr (`[train] STAGE step N/M loss ...`), no progress bars."""
    from transformers import PrinterCallback, TrainerCallback

    from factory.log import log

    class LogLines(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs or "train_runtime" in logs:
                return
            shown = {k: logs[k] for k in ("loss", "reward", "rewards/accuracy/mean", "grad_norm", "learning_rate")
                     if k in logs}
            figures = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items())
            log(f"[train] {stage} step {state.global_step}/{state.max_steps}  {figures}")

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(LogLines())


def silence_libraries() -> None:
    """No progress bars from transformers and datasets (the stages print their own lines), and no
    deprecation notices about names the libraries use among themselves."""
    import warnings

    import datasets
    from transformers.utils import logging

    logging.disable_progress_bar()
    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore", message=r".* is deprecated and will be removed in v6", category=FutureWarning)


def last_checkpoint(output_dir) -> str | None:
    """The newest complete `checkpoint-N` of a stage, to resume it; None when there is none."""
    from transformers.trainer_utils import get_last_checkpoint

    try:
        return get_last_checkpoint(str(output_dir))
    except (FileNotFoundError, OSError):
        return None
