"""One GRPO stage: TRL's GRPOTrainer with the verifier as reward, completions up to the stage's length."""

from __future__ import annotations

from pathlib import Path

from factory.train.args import common_args, last_checkpoint, quiet
from factory.train.config import TrainConfig
from factory.train.rewards import AccuracyReward, FormatReward
from factory.verify import Options


def reward_functions(cfg: TrainConfig, record: bool = False) -> tuple[list, list[float]]:
    """The reward functions and their weights: accuracy (1), plus format when it has a weight."""
    options = Options(prose=cfg.reward.prose_answers, ordered_lists=cfg.reward.ordered_lists)
    funcs: list = [AccuracyReward(cfg.reward.format, cfg.reward.timeout_s, record=record, options=options)]
    weights = [1.0]
    if cfg.reward.format_weight:
        funcs.append(FormatReward())
        weights.append(cfg.reward.format_weight)
    return funcs, weights


def train_stage(cfg: TrainConfig, k: int, model, tokenizer, prompts, checkpoints: Path, rewards=None):
    """Train stage k (1-based) on `prompts`; return the finished trainer."""
    from trl import GRPOConfig, GRPOTrainer

    stage = cfg.stages[k - 1]
    funcs, weights = rewards or reward_functions(cfg)
    vllm = {} if cfg.vllm is None else dict(
        use_vllm=True, vllm_mode=cfg.vllm.mode, vllm_gpu_memory_utilization=cfg.vllm.gpu_memory_utilization,
        vllm_tensor_parallel_size=cfg.vllm.tensor_parallel_size,
        **({"vllm_server_base_url": cfg.vllm.server_base_url} if cfg.vllm.server_base_url else {}))
    args = GRPOConfig(
        **common_args(cfg, stage, str(checkpoints)),
        max_completion_length=stage.max_length,
        num_generations=stage.num_generations or cfg.num_generations,
        beta=cfg.beta,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        reward_weights=weights,
        # with a KL term TRL loads a reference model from the policy's name_or_path: the same revision
        model_init_kwargs=({"revision": cfg.model.revision}
                           if cfg.model.revision and model.config.name_or_path == cfg.model.name else None),
        **vllm,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=prompts,
                          processing_class=tokenizer)
    quiet(trainer, cfg.stage_name(k))
    trainer.train(resume_from_checkpoint=last_checkpoint(checkpoints))
    return trainer
