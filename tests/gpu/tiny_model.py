"""A tiny chat model built from a config (random weights, nothing downloaded), for serving tests on a GPU.

    python tests/gpu/tiny_model.py OUT_DIR

Writes a Qwen2 model directory vLLM can serve: config.json, safetensors weights, the demo's own tokenizer
(datasets/demo/tokenizer.json) with a plain chat template. What it says is noise; what it exercises is the
whole path (launch, readiness, chat completions, usage, teardown) at a real server's speed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|endoftext|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}")


def build(out: Path) -> Path:
    import torch
    import transformers

    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(ROOT / "datasets" / "demo" / "tokenizer.json"), eos_token="<|endoftext|>",
        pad_token="<|endoftext|>")
    tokenizer.chat_template = TEMPLATE
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, torch_dtype="bfloat16")
    model = transformers.Qwen2ForCausalLM(config).to(torch.bfloat16)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/gpu/tiny_model.py OUT_DIR")
    print(build(Path(sys.argv[1])))
