"""Token counts in the student's tokenizer, which is what curriculum buckets are measured in.

A name is either a local `tokenizer.json` (or a directory holding one) or a HF hub repo id, loaded
with `tokenizers.Tokenizer.from_pretrained(name, revision=...)` just as a training job would.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from factory.errors import ConfigError


@dataclass(frozen=True)
class TokenizerSource:
    """What a worker needs to load the pipeline's tokenizer, wherever it runs.

    A local file is read on the driver and travels as its JSON text (workers on other nodes cannot read the
    driver's files); a hub repo id travels as the id, and each node loads it from the hub (or its cache).
    """

    name: str
    revision: str | None = None
    json: str | None = None  # the local tokenizer.json's text

    @classmethod
    def of(cls, name: str, revision: str | None = None) -> TokenizerSource:
        """Read a local tokenizer file now (on the driver); a hub id stays an id."""
        path = Path(name)
        if path.is_dir():
            path = path / "tokenizer.json"
        if path.is_file():
            return cls(name, revision, path.read_text(encoding="utf-8"))
        load_tokenizer(name, revision)  # a missing file or a bad id fails here, on the driver, in one line
        return cls(name, revision)

    def load(self) -> Tokenizer:
        return _from_json(self.json) if self.json is not None else load_tokenizer(self.name, self.revision)


@lru_cache(maxsize=4)
def _from_json(text: str) -> Tokenizer:
    return Tokenizer.from_str(text)


@lru_cache(maxsize=4)
def load_tokenizer(name: str, revision: str | None = None) -> Tokenizer:
    """Load (once per process) the tokenizer a pipeline names."""
    path = Path(name)
    if path.is_dir():
        path = path / "tokenizer.json"
    try:
        if path.is_file():
            return Tokenizer.from_file(str(path))
        if name.endswith(".json") or name.startswith((".", "/")):
            raise ConfigError(f"tokenizer file {name!r} not found; fix `tokenizer.name` in the pipeline file")
        return Tokenizer.from_pretrained(name, revision=revision or "main")
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(
            f"tokenizer {name!r} cannot be loaded ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
            "name a HF repo id with a tokenizer.json, or a local tokenizer.json"
        ) from None


def count_tokens(tokenizer: Tokenizer, texts: list[str]) -> list[int]:
    """Token count of each text, without special tokens (batched in Rust, parallel)."""
    if not texts:
        return []
    return [len(enc.ids) for enc in tokenizer.encode_batch(texts, add_special_tokens=False)]
