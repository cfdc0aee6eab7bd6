"""One SFT stage: TRL's SFTTrainer on the rows that fit the stage, loss on the assistant's tokens only.

Rows are chosen by their length with the chat template applied (`data.with_lengths`), never cut: TRL
truncates silently and drops a row whose reply is cut away entirely, so a row that does not fit waits
for the stage whose context holds it.
"""

from __future__ import annotations

from pathlib import Path

from factory.train.args import common_args, last_checkpoint, quiet
from factory.train.config import TrainConfig


def train_stage(cfg: TrainConfig, k: int, model, tokenizer, rows, checkpoints: Path):
    """Train stage k (1-based) on `rows` (a dataset with `messages`); return the finished trainer."""
    from trl import SFTConfig, SFTTrainer

    stage = cfg.stages[k - 1]
    args = SFTConfig(
        **common_args(cfg, stage, str(checkpoints)),
        # packing needs the block length; otherwise no limit: every row fits already
        max_length=stage.max_length if cfg.packing else None,
        packing=cfg.packing,
        padding_free=cfg.padding_free,
        assistant_only_loss=True,
        dataset_num_proc=None,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=rows.select_columns(["messages"]),
                         processing_class=tokenizer)
    quiet(trainer, cfg.stage_name(k))
    trainer.train(resume_from_checkpoint=last_checkpoint(checkpoints))
    return trainer
