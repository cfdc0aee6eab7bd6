"""Token counts in the student's tokenizer, with its chat template: what curriculum buckets are measured in.

A name is a local `tokenizer.json`, a directory holding one (with `tokenizer_config.json` and
`chat_template.jinja` when the tokenizer has a template), or a HF hub repo id, whose files are fetched
on the driver with `huggingface_hub` just as a training job would. The files travel to the workers as
text (`TokenizerSource`), so nodes of a cluster need neither the driver's disk nor the hub.

A row's `length` is the token count of exactly the published messages under the chat template
(transformers' `apply_chat_template`), `<think>` tags included: what the student trains on. A tokenizer
without a template counts each message's text on its own and adds them up.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from factory.errors import ConfigError
from factory.store.records import assistant_turn

_CONFIG = "tokenizer_config.json"
_TEMPLATE = "chat_template.jinja"
# the special tokens a template may name (`bos_token`, `eos_token`, ...), as tokenizer_config.json gives them
_SPECIALS = ("bos_token", "eos_token", "unk_token", "pad_token")
_PROBE = "factory-probe-reasoning-kept"


@dataclass(frozen=True)
class TokenizerSource:
    """What a worker needs to count tokens as the student would, wherever it runs.

    Attributes:
        name: the pipeline's `tokenizer.name`.
        revision: the revision asked for (hub ids).
        json: the tokenizer.json text.
        chat_template: the Jinja template text, or None when the tokenizer has none.
        specials: (name, token) pairs of the special tokens the template may use.
        commit: the hub commit the files came from (None for local files).
    """

    name: str
    revision: str | None = None
    json: str | None = None
    chat_template: str | None = None
    specials: tuple[tuple[str, str], ...] = ()
    commit: str | None = None

    @classmethod
    def of(cls, name: str, revision: str | None = None, chat_template: str | None = None) -> TokenizerSource:
        """Read the tokenizer's files now, on the driver; `chat_template` (a Jinja file) replaces its own template.

        Read once per process while the local files stay the same: a run asks for it before generating, in
        every judging round and when it publishes, and all of them count with the same files.

        Raises:
            ConfigError: the tokenizer or the template cannot be read, or the template drops the reasoning.
        """
        return _read_source(name, revision, chat_template, fingerprint(name, chat_template))

    @classmethod
    def _read(cls, name: str, revision: str | None, chat_template: str | None) -> TokenizerSource:
        folder, commit = _files(name, revision)
        path = folder if folder.is_file() else folder / "tokenizer.json"
        if not path.is_file():
            raise ConfigError(f"tokenizer {name!r} has no tokenizer.json; fix `tokenizer.name` in the pipeline file")
        # a directory or a hub repo brings its config and template; a file named alone is just the tokenizer
        whole = folder.is_dir() or commit is not None
        config = _read_config(path.parent / _CONFIG) if whole else {}
        template = config.get("chat_template")
        if isinstance(template, list):  # named templates: the default one is the chat template
            template = next((t["template"] for t in template if t.get("name") == "default"), None)
        if whole and (path.parent / _TEMPLATE).is_file():  # transformers 5 saves the template beside the config
            template = (path.parent / _TEMPLATE).read_text(encoding="utf-8")
        if chat_template is not None:
            file = Path(chat_template)
            if not file.is_file():
                raise ConfigError(f"chat template {chat_template!r} not found; fix `tokenizer.chat_template` "
                                  "in the pipeline file")
            template = file.read_text(encoding="utf-8")
        specials = tuple((k, v) for k in _SPECIALS if isinstance(v := _token(config.get(k)), str))
        source = cls(name, revision, path.read_text(encoding="utf-8"), template or None, specials, commit)
        load_tokenizer(str(path))  # a broken file fails here, in one line
        if chat_template is None and not source._keeps_reasoning():
            # R1-Distill's stock template drops the reasoning; the student trains with TRL's training version of
            # it (factory.train.model.training_template), so that is the one its lengths are counted with
            source = dataclasses.replace(source, chat_template=source._training_version() or source.chat_template)
        source._check_template()
        return source

    @property
    def template_sha256(self) -> str | None:
        return hashlib.sha256(self.chat_template.encode()).hexdigest() if self.chat_template else None

    @property
    def tokenizer_sha256(self) -> str | None:
        return hashlib.sha256(self.json.encode()).hexdigest() if self.json else None

    def load(self) -> Counter:
        return _counter(self)

    def _keeps_reasoning(self) -> bool:
        """Whether the template renders the assistant's reasoning (no template: the texts are counted as they are)."""
        if not self.chat_template:
            return True
        try:
            text = self.load().render([[{"role": "user", "content": "q"},
                                        {"role": "assistant", "content": assistant_turn(_PROBE, "a")}]])[0]
        except Exception as e:  # Jinja errors come in many types; one line for the user
            raise ConfigError(f"the chat template of tokenizer {self.name!r} cannot render a conversation "
                              f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); set "
                              "`tokenizer.chat_template` to a Jinja file that can") from None
        return _PROBE in text

    def _training_version(self) -> str | None:
        """TRL's training version of the template, when TRL (the train extra) is installed and ships one."""
        try:
            from trl.chat_template_utils import get_training_chat_template
        except ImportError:
            return None
        tok = _transformers_tokenizer()(tokenizer_object=Tokenizer.from_str(self.json),
                                        chat_template=self.chat_template, **dict(self.specials))
        try:
            return get_training_chat_template(tok)
        except ValueError:  # a template TRL does not know: the check below says what to do, in one line
            return None

    def _check_template(self) -> None:
        """Refuse a template that leaves out the assistant's reasoning: counts made with it would not be what
        the student is trained on."""
        if not self._keeps_reasoning():
            raise ConfigError(f"the chat template of tokenizer {self.name!r} drops the reasoning from assistant "
                              "turns (R1-Distill's stock template does), so lengths would not be what the student "
                              "trains on; install the train extra (TRL ships training versions of the stock "
                              "templates) or set `tokenizer.chat_template` to a Jinja file that keeps it")


def fingerprint(name: str, chat_template: str | None) -> str | None:
    """sha256 over the local files lengths are counted with (tokenizer.json, the directory's config and template,
    the pipeline's template file), so that a changed file re-counts; None for a hub id, whose files are named by
    `revision` (pin it: an unpinned revision that moves on the hub is not noticed by stored verdicts)."""
    path = Path(name)
    local = [path] if path.is_file() else [path / f for f in ("tokenizer.json", _CONFIG, _TEMPLATE)]
    files = (local if path.exists() else []) + ([Path(chat_template)] if chat_template else [])
    if not files:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes() if file.is_file() else b"\0absent")
    return digest.hexdigest()


@lru_cache(maxsize=8)
def _read_source(name: str, revision: str | None, chat_template: str | None, files: str | None) -> TokenizerSource:
    # `files` (the local files' fingerprint) is only part of the key: an edited file is read again
    return TokenizerSource._read(name, revision, chat_template)


def _token(value) -> str | None:
    return value.get("content") if isinstance(value, dict) else value  # AddedToken dicts, or plain strings


def _read_config(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{str(path)!r} is not JSON ({e}); fix or remove it") from None


def _files(name: str, revision: str | None) -> tuple[Path, str | None]:
    """A local path as it is, or a hub repo's tokenizer files fetched (or found in the cache) with their commit."""
    path = Path(name)
    if path.exists():
        return path, None
    if name.endswith(".json") or name.startswith((".", "/")):
        raise ConfigError(f"tokenizer file {name!r} not found; fix `tokenizer.name` in the pipeline file")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        main = Path(hf_hub_download(name, "tokenizer.json", revision=revision))
        for optional in (_CONFIG, _TEMPLATE):
            try:
                hf_hub_download(name, optional, revision=revision)
            except EntryNotFoundError:
                pass
    except Exception as e:  # hub errors come in many types; one line for the user
        raise ConfigError(
            f"tokenizer {name!r} cannot be loaded ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
            "name a HF repo id with a tokenizer.json, or a local tokenizer.json") from None
    # the cache keeps files under snapshots/<commit>/: the commit the revision pointed at
    return main, main.parent.name


@lru_cache(maxsize=4)
def load_tokenizer(name: str, revision: str | None = None) -> Tokenizer:
    """The `tokenizers` tokenizer of a local tokenizer.json (or directory) or hub id, once per process."""
    path, _ = _files(name, revision)
    if path.is_dir():
        path = path / "tokenizer.json"
    try:
        return Tokenizer.from_file(str(path))
    except Exception as e:
        raise ConfigError(
            f"tokenizer {name!r} cannot be loaded ({str(e).splitlines()[0] if str(e) else type(e).__name__}); "
            "name a HF repo id with a tokenizer.json, or a local tokenizer.json") from None


class Counter:
    """Counts tokens of texts and of whole conversations, with the chat template when there is one."""

    def __init__(self, source: TokenizerSource):
        self.tokenizer = Tokenizer.from_str(source.json)
        self.templated = None
        if source.chat_template:
            PreTrainedTokenizerFast = _transformers_tokenizer()  # only a template needs transformers
            self.templated = PreTrainedTokenizerFast(tokenizer_object=self.tokenizer,
                                                     chat_template=source.chat_template, **dict(source.specials))

    def render(self, conversations: list[list[dict]]) -> list[str]:
        return self.templated.apply_chat_template(conversations, tokenize=False)

    def count(self, texts: list[str]) -> list[int]:
        return count_tokens(self.tokenizer, texts)

    def lengths(self, prompts: list[list[dict]], reasonings: list[str], answers: list[str]
                ) -> tuple[list[int], list[int], list[int], list[int]]:
        """Per sample: tokens of the prompt turns, the reasoning, the answer, and the whole conversation
        (`length`) as published: prompt turns, then the assistant turn with the reasoning in <think> tags.

        The conversation is tokenized once; reasoning and answer are the tokens over their spans of it (texts
        cut apart would tokenize a little differently at the edges, and long reasoning is costly to tokenize
        twice). With a template, the prompt count includes the generation prompt.
        """
        turns = [assistant_turn(r, a) for r, a in zip(reasonings, answers, strict=True)]
        if self.templated is not None:
            n_prompt = self.count(self.templated.apply_chat_template(prompts, tokenize=False,
                                                                      add_generation_prompt=True))
            texts = self.render([[*p, {"role": "assistant", "content": t}] for p, t in zip(prompts, turns,
                                                                                             strict=True)])
        else:
            # every prompt message in one batch (one Rust call, not one per sample), then summed per sample
            counts = iter(self.count([m["content"] for p in prompts for m in p]))
            n_prompt = [sum(itertools.islice(counts, len(p))) for p in prompts]
            texts = turns
        encodings = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        n_reason, n_answer, length = [], [], []
        for i, (text, turn, enc) in enumerate(zip(texts, turns, encodings, strict=True)):
            at = text.rfind(turn)
            if at < 0:  # the template rewrote the reply: count its parts on their own
                n_reason.extend(self.count([reasonings[i]]))
                n_answer.extend(self.count([answers[i]]))
            else:
                start = at + turn.index(reasonings[i]) if reasonings[i] else at
                n_reason.append(_span(enc, start, len(reasonings[i])))
                n_answer.append(_span(enc, at + len(turn) - len(answers[i]), len(answers[i])))
            length.append(len(enc.ids) + (0 if self.templated is not None else n_prompt[i]))
        return n_prompt, n_reason, n_answer, length


def _span(encoding, start: int, size: int) -> int:
    """Tokens that start within text[start:start + size] (0 for an empty span)."""
    if size == 0:
        return 0
    first, last = encoding.char_to_token(start), encoding.char_to_token(start + size - 1)
    if first is None or last is None:  # a character no token covers (normalizers may drop some)
        return len([o for o in encoding.offsets if start <= o[0] < start + size])
    return last - first + 1


def _transformers_tokenizer():
    """transformers' fast tokenizer class, imported without its advice that PyTorch is missing: the factory uses
    transformers for chat templates only, and a data machine has no torch."""
    quiet = os.environ.get("TRANSFORMERS_NO_ADVISORY_WARNINGS")
    os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] = "1"
    try:
        from transformers import PreTrainedTokenizerFast
    finally:
        if quiet is None:
            del os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"]
    return PreTrainedTokenizerFast


@lru_cache(maxsize=4)
def _counter(source: TokenizerSource) -> Counter:
    return Counter(source)


def count_tokens(tokenizer: Tokenizer, texts: list[str]) -> list[int]:
    """Token count of each text, without special tokens (batched in Rust, parallel)."""
    if not texts:
        return []
    return [len(enc.ids) for enc in tokenizer.encode_batch(texts, add_special_tokens=False)]
