"""`factory eval --model-dir PATH`: a local checkpoint served over the chat-completions protocol.

For small models on a CPU (a student from `factory train`, tests): transformers' `generate`, one request
at a time, on loopback. Real evaluations point `factory eval` at a vLLM server instead; the client, the
journal and the judging are the same either way.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from aiohttp import web

from factory.errors import ConfigError
from factory.serving import BackgroundServer
from factory.store.rundir import file_sha256


def weights_digest(model_dir: str | Path) -> str:
    """The first 8 hex digits of the sha256 over the directory's weight files."""
    import hashlib

    files = sorted(Path(model_dir).glob("*.safetensors")) or sorted(Path(model_dir).glob("*.bin"))
    return hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()[:8]


class LocalModel(BackgroundServer):
    """A model directory (`from_pretrained`) answering /v1/chat/completions on a background thread."""

    name = "local model server"

    def __init__(self, model_dir: str | Path, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise ConfigError(f"--model-dir {str(model_dir)!r} is not a model directory (no config.json); pass "
                              "a stage directory or final/ of a `factory train`")
        from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

        self.tokenizer = PreTrainedTokenizerFast.from_pretrained(str(self.model_dir))
        self.model = AutoModelForCausalLM.from_pretrained(str(self.model_dir)).eval()
        # the name says which weights: a retrained model in the same directory is another model, whose
        # samples must not be taken from the journal of the one before it (sample ids hash the name)
        self.model_name = f"{self.model_dir.resolve().parent.name}/{self.model_dir.name}@{weights_digest(model_dir)}"
        self._lock = threading.Lock()  # one generation at a time: the model is not re-entrant

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        return app

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model_name, "object": "model",
                                                                "owned_by": "local"}]})

    async def _chat(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            messages = body["messages"]
            assert isinstance(messages, list) and messages
        except Exception:  # a malformed request, answered as an API would
            return web.json_response({"error": {"message": "expected JSON with a non-empty `messages` list",
                                                "type": "invalid_request_error"}}, status=400)
        reply = await asyncio.get_running_loop().run_in_executor(None, self._generate, body)
        return web.json_response(reply)

    def _generate(self, body: dict) -> dict:
        import torch

        tok, model = self.tokenizer, self.model
        ids = tok.apply_chat_template(body["messages"], tokenize=True, add_generation_prompt=True,
                                      return_dict=False)
        room = getattr(model.config, "max_position_embeddings", 4096) - len(ids)
        budget = max(1, min(int(body.get("max_tokens") or 1024), room))
        temperature = float(body.get("temperature", 1.0))
        sampling = dict(do_sample=True, temperature=temperature, top_p=float(body.get("top_p", 1.0))) \
            if temperature > 0 else dict(do_sample=False)
        with self._lock, torch.no_grad():
            if body.get("seed") is not None:
                torch.manual_seed(int(body["seed"]))
            out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=budget, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id,
                                 **sampling)
        new = out[0, len(ids):].tolist()
        stopped = bool(new) and new[-1] == tok.eos_token_id
        text = tok.decode(new, skip_special_tokens=True)
        return {
            "id": f"chatcmpl-local-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
            "model": self.model_name,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop" if stopped or len(new) < budget else "length"}],
            "usage": {"prompt_tokens": len(ids), "completion_tokens": len(new), "total_tokens": len(ids) + len(new)},
        }
