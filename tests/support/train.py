"""Training configs for tests: a tiny model built from a config with the demo's tokenizer, no download."""

from __future__ import annotations

from pathlib import Path

import yaml

from support.cli import ROOT

TOKENIZER = str(ROOT / "datasets" / "demo" / "tokenizer.json")
TINY = dict(model_type="qwen2", hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
            num_key_value_heads=1, max_position_embeddings=4096)


def write_config(tmp_path: Path, run_dir: Path, method: str = "sft", **overrides) -> Path:
    """A training config on `run_dir`, two stages, small enough for a test; keys in `overrides` replace."""
    cfg = dict(name=f"test-{method}", method=method, data=[{"run": str(run_dir)}],
               model={"init": {"config": TINY, "tokenizer": TOKENIZER}},
               stages=[{"max_length": 512, "max_steps": 6}, {"max_length": 2048, "max_steps": 6}],
               learning_rate=0.005, per_device_train_batch_size=4, logging_steps=1)
    if method == "grpo":
        cfg.update(stages=[{"max_length": 24, "max_steps": 2}, {"max_length": 48, "max_steps": 1}],
                   num_generations=4, learning_rate=1e-4)
    cfg.update(overrides)
    path = tmp_path / f"{method}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
