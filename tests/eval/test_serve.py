"""The local model server behind `factory eval --model-dir`: the chat-completions protocol over a checkpoint."""

import json
import urllib.error
import urllib.request

import pytest

from factory.errors import ConfigError
from factory.eval.serve import LocalModel

from support.cli import ROOT
from support.train import TINY


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from factory.train.config import ModelInit, ModelSpec
    from factory.train.model import load_model, load_tokenizer

    spec = ModelSpec(init=ModelInit(config=TINY, tokenizer=str(ROOT / "datasets" / "demo" / "tokenizer.json")))
    tokenizer = load_tokenizer(spec)
    out = tmp_path_factory.mktemp("local") / "final"
    load_model(spec, tokenizer, 0).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


def post(url, body: bytes):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_it_answers_with_usage_and_stops_at_the_budget(model_dir):
    with LocalModel(model_dir) as server:
        models = json.loads(urllib.request.urlopen(f"{server.base_url}/models", timeout=10).read())
        assert models["data"][0]["id"] == server.model_name
        body = {"model": "x", "messages": [{"role": "user", "content": "What is 2+3?"}], "max_tokens": 5,
                "temperature": 0.6, "top_p": 0.95, "seed": 1}
        status, reply = post(f"{server.base_url}/chat/completions", json.dumps(body).encode())
        assert status == 200 and reply["object"] == "chat.completion"
        usage = reply["usage"]
        assert usage["completion_tokens"] <= 5 and usage["total_tokens"] == usage["prompt_tokens"] + \
            usage["completion_tokens"]
        assert reply["choices"][0]["finish_reason"] in ("length", "stop")
        again = post(f"{server.base_url}/chat/completions", json.dumps(body).encode())[1]
        assert again["choices"][0]["message"] == reply["choices"][0]["message"]  # the same seed, the same reply
        status, error = post(f"{server.base_url}/chat/completions", b"{not json")
        assert status == 400 and "messages" in error["error"]["message"]


def test_a_directory_that_is_not_a_model_is_named(tmp_path):
    with pytest.raises(ConfigError, match="is not a model directory"):
        LocalModel(tmp_path)
