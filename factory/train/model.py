"""The student: a tokenizer and model from an HF id or a directory, or built from a config with no download.

Tokenizers are always loaded as `PreTrainedTokenizerFast`: `AutoTokenizer` swaps the class by the model
type in config.json (a qwen2 directory gets `Qwen2Tokenizer`, which splits digits), so a checkpoint of
ours would reload as a different tokenizer than it trained with.
"""

from __future__ import annotations

import json
from pathlib import Path

from factory.errors import ConfigError
from factory.train.config import ModelSpec

# ChatML with TRL's {% generation %} markers around each assistant turn, <|im_end|> inside them: the loss
# is taken on the assistant's tokens only, the stop token included, so the model learns to stop
CHATML_TRAINING_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{%- else %}{{ message['content'] + '<|im_end|>' + '\\n' }}{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)
# reasoning tags stay single tokens but are not "special": generation decodes with skip_special_tokens,
# which would otherwise erase </think> before the reward sees it
_PLAIN_TAGS = ("<think>", "</think>")


def _tokenizer_file(path: str) -> Path:
    p = Path(path)
    p = p / "tokenizer.json" if p.is_dir() else p
    if not p.is_file():
        raise ConfigError(f"tokenizer {path!r} not found; model.init.tokenizer names a tokenizer.json or a "
                          "directory holding one")
    return p


def _built_tokenizer(path: str):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    data = json.loads(_tokenizer_file(path).read_text())
    for token in data.get("added_tokens", []):
        if token["content"] in _PLAIN_TAGS:
            token["special"] = False
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(json.dumps(data)))
    specials = {"additional_special_tokens": ["<|im_start|>", "<|im_end|>"], "eos_token": "<|im_end|>"}
    if "<|endoftext|>" in tokenizer.get_vocab():
        specials["pad_token"] = "<|endoftext|>"
    tokenizer.add_special_tokens(specials)
    tokenizer.chat_template = CHATML_TRAINING_TEMPLATE
    return tokenizer


def load_tokenizer(spec: ModelSpec, checkpoint: str | None = None):
    """The student's tokenizer: from a checkpoint of this run, else as `spec` names it."""
    from transformers import PreTrainedTokenizerFast

    if checkpoint is not None:
        tokenizer = PreTrainedTokenizerFast.from_pretrained(checkpoint)
    elif spec.init is not None:
        tokenizer = _built_tokenizer(spec.init.tokenizer)
    else:
        try:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(spec.name, revision=spec.revision)
        except Exception as e:  # hub and file errors come in many types; one line for the user
            raise ConfigError(f"tokenizer of model {spec.label()!r} cannot be loaded "
                              f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    if spec.chat_template and checkpoint is None:
        template = Path(spec.chat_template)
        if not template.is_file():
            raise ConfigError(f"chat template {spec.chat_template!r} not found; fix model.chat_template")
        tokenizer.chat_template = template.read_text()
    if not tokenizer.chat_template:
        raise ConfigError(f"the tokenizer of {spec.label()!r} has no chat template; set model.chat_template "
                          "to a Jinja file")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def training_template(tokenizer, spec: ModelSpec) -> None:
    """Give `tokenizer` a chat template SFT can take the assistant-only loss with, or say which to supply.

    TRL needs {% generation %} markers; for the stock templates it knows (R1-Distill's drops the
    reasoning from assistant turns, for one) it ships a training version. Lengths are then counted with
    the template the trainer uses, so a row chosen for a stage is what the stage trains on.
    """
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    if has_generation_markers(tokenizer.chat_template):
        return
    patched = get_training_chat_template(tokenizer)
    if patched is None:
        raise ConfigError(f"the chat template of {spec.label()!r} has no {{% generation %}} markers, which the "
                          "assistant-only loss needs, and TRL has no training version of it; set "
                          "model.chat_template to a Jinja file with them around the assistant's turn")
    tokenizer.chat_template = patched


def load_model(spec: ModelSpec, tokenizer, seed: int, checkpoint: str | None = None):
    """The model to train: a checkpoint of this run, the named one, or a new one built from `init.config`."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    # float32 weights whatever the checkpoint holds: bf16 training autocasts on them, while bf16 weights
    # would round most of an lr 1e-6 update away (DeepSpeed keeps fp32 masters itself; DDP does not)
    if checkpoint is not None:
        return AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    if spec.init is None:
        try:
            return AutoModelForCausalLM.from_pretrained(spec.name, revision=spec.revision, dtype=torch.float32)
        except Exception as e:
            raise ConfigError(f"model {spec.label()!r} cannot be loaded "
                              f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    values = dict(spec.init.config)
    model_type = values.pop("model_type")
    try:
        config = AutoConfig.for_model(model_type, **values)
    except ValueError as e:
        raise ConfigError(f"model.init.config: {str(e).splitlines()[0]}") from None
    config.vocab_size = len(tokenizer)
    config.pad_token_id, config.eos_token_id = tokenizer.pad_token_id, tokenizer.eos_token_id
    config.bos_token_id = tokenizer.bos_token_id
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config)
