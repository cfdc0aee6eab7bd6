"""`length`: the published messages under the student's chat template, as transformers renders and counts them."""

import json
import shutil
from pathlib import Path

import pytest
from transformers import PreTrainedTokenizerFast

from factory.errors import ConfigError
from factory.stages.judge.batch import judge_batch
from factory.stages.judge.tokens import TokenizerSource
from factory.store.records import assistant_turn

DEMO = Path(__file__).resolve().parents[3] / "datasets" / "demo"
TEMPLATE = (DEMO / "chat_template.jinja").read_text()
PROMPT = [{"role": "system", "content": "Think step by step."},
          {"role": "user", "content": "What is $2 + 3$? Put the answer in \\boxed{}."}]
REASONING = "Two plus three: count up from two, three steps.\nThat gives five, so the answer is 5."
ANSWER = "The sum is $\\boxed{5}$."


def reference(template: str, messages: list[dict], **specials) -> int:
    """transformers' own count: what SFT tokenizes."""
    tok = PreTrainedTokenizerFast(tokenizer_file=str(DEMO / "tokenizer.json"), chat_template=template, **specials)
    return len(tok.apply_chat_template(messages, tokenize=True, return_dict=False))


def conversation(reasoning=REASONING, answer=ANSWER):
    return [*PROMPT, {"role": "assistant", "content": assistant_turn(reasoning, answer)}]


def test_length_is_transformers_count_of_the_templated_messages_think_tags_included():
    source = TokenizerSource.of(str(DEMO / "tokenizer.json"), chat_template=str(DEMO / "chat_template.jinja"))
    counter = source.load()
    prompts, reasonings, answers = [PROMPT, PROMPT[1:]], [REASONING, ""], [ANSWER, "5"]
    n_prompt, n_reason, n_answer, length = counter.lengths(prompts, reasonings, answers)
    assert length == [reference(TEMPLATE, conversation()), reference(TEMPLATE, [PROMPT[1], conversation("", "5")[-1]])]
    rendered = counter.render([conversation()])[0]
    assert "<|im_start|>assistant\n<think>\n" + REASONING in rendered  # the reasoning is in what is counted
    # the parts: reasoning and answer as the tokens over their spans, which here are their own counts
    assert n_reason == [counter.count([REASONING])[0], 0]
    assert n_answer == counter.count([ANSWER, "5"])
    # the prompt count includes the generation prompt the student is asked with
    assert n_prompt[0] == len(PreTrainedTokenizerFast(tokenizer_file=str(DEMO / "tokenizer.json"),
                                                      chat_template=TEMPLATE).apply_chat_template(
        PROMPT, tokenize=True, add_generation_prompt=True, return_dict=False))
    assert length[0] > n_prompt[0] + n_reason[0] + n_answer[0]  # role markers and tags are counted too
    assert source.template_sha256 and source.commit is None


def test_without_a_template_the_messages_texts_are_counted_as_they_are():
    counter = TokenizerSource.of(str(DEMO / "tokenizer.json")).load()
    _, n_reason, n_answer, length = counter.lengths([PROMPT], [REASONING], [ANSWER])
    texts = [m["content"] for m in conversation()]
    assert length == [sum(counter.count(texts))]
    assert n_reason == counter.count([REASONING]) and n_answer == counter.count([ANSWER])


def test_a_template_that_drops_the_reasoning_is_refused(tmp_path):
    # the stock R1-Distill template keeps only what follows </think> in an assistant turn
    dropping = ("{% for m in messages %}{% set c = m['content'] %}{% if m['role'] == 'assistant' and '</think>' in c %}"
                "{% set c = c.split('</think>')[-1] %}{% endif %}<|im_start|>{{ m['role'] }}\n{{ c }}<|im_end|>\n"
                "{% endfor %}")
    (tmp_path / "r1.jinja").write_text(dropping)
    with pytest.raises(ConfigError, match="drops the reasoning.*train extra.*tokenizer.chat_template"):
        TokenizerSource.of(str(DEMO / "tokenizer.json"), chat_template=str(tmp_path / "r1.jinja"))
    with pytest.raises(ConfigError, match="not found; fix `tokenizer.chat_template`"):
        TokenizerSource.of(str(DEMO / "tokenizer.json"), chat_template=str(tmp_path / "missing.jinja"))


def test_r1_distills_stock_template_is_replaced_by_trls_training_version_the_student_trains_with(tmp_path):
    # the stock template as TRL ships it (read from the installed package, not copied here)
    trl = pytest.importorskip("trl")
    templates = Path(trl.__file__).parent / "chat_templates"
    stock = (templates / "deepseek_r1_distill.jinja").read_text()
    shutil.copy(DEMO / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": stock, "bos_token": "<|endoftext|>"}))
    source = TokenizerSource.of(str(tmp_path))
    assert source.chat_template == (templates / "deepseek_r1_distill_training.jinja").read_text()
    assert "<think>\n" + REASONING in source.load().render([conversation()])[0]
    # what factory train gives the same tokenizer: lengths counted with the template the trainer uses
    from factory.train.model import training_template

    tok = PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json"), chat_template=stock,
                                  bos_token="<|endoftext|>")
    training_template(tok, None)
    (length,) = source.load().lengths([PROMPT], [REASONING], [ANSWER])[3]
    assert length == len(tok.apply_chat_template(conversation(), tokenize=True, return_dict=False))


def test_a_tokenizer_directory_brings_its_template_and_special_tokens(tmp_path):
    shutil.copy(DEMO / "tokenizer.json", tmp_path / "tokenizer.json")
    template = "{{ bos_token }}" + TEMPLATE
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(
        {"chat_template": template, "bos_token": {"content": "<|endoftext|>", "special": True}}))
    source = TokenizerSource.of(str(tmp_path))
    assert source.chat_template == template and dict(source.specials) == {"bos_token": "<|endoftext|>"}
    (length,) = source.load().lengths([PROMPT], [REASONING], [ANSWER])[3]
    assert length == reference(template, conversation(), bos_token="<|endoftext|>")
    # transformers 5 writes the template to its own file, which wins over the config's
    (tmp_path / "chat_template.jinja").write_text(TEMPLATE)
    assert TokenizerSource.of(str(tmp_path)).chat_template == TEMPLATE


def test_a_hub_tokenizer_is_read_from_the_hub_cache_with_its_commit(tmp_path, monkeypatch):
    # the hub's cache layout, as huggingface_hub leaves it after a download; offline, it is all there is
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--student-org--student-1.5b"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    shutil.copy(DEMO / "tokenizer.json", snapshot / "tokenizer.json")
    (snapshot / "chat_template.jinja").write_text(TEMPLATE)
    (snapshot / "tokenizer_config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub

    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)
    source = TokenizerSource.of("student-org/student-1.5b")
    assert source.commit == commit and source.chat_template == TEMPLATE
    assert source.json == (DEMO / "tokenizer.json").read_text()
    with pytest.raises(ConfigError, match="'student-org/missing' cannot be loaded"):
        TokenizerSource.of("student-org/missing")


def test_over_length_is_measured_on_the_templated_length():
    source = TokenizerSource.of(str(DEMO / "tokenizer.json"), chat_template=str(DEMO / "chat_template.jinja"))
    sample = dict(sample_id="s", problem_id="p", messages=PROMPT, reasoning=REASONING, answer=ANSWER,
                  finish_reason="stop", think_closed=True, outcome="complete")
    from factory.config import FilterConfig

    (row,) = judge_batch([sample], {"p": "5"}, source, FilterConfig(), 5.0).to_pylist()
    assert row["correct"] and row["length"] == reference(TEMPLATE, conversation())
    # a limit between the texts' sum and the templated length: the template's tokens count against it
    limit = row["total_tokens"] + 1
    assert limit < row["length"]
    (row,) = judge_batch([sample], {"p": "5"}, source, FilterConfig(max_total_tokens=limit), 5.0).to_pylist()
    assert row["reason"] == "over_length"


def test_a_changed_template_or_tokenizer_file_changes_the_judging_key(tmp_path):
    # stored verdicts carry lengths: a template edited in place must re-count them, not reuse them
    from factory.config import PipelineConfig
    from factory.stages.judge.stage import judge_key

    shutil.copy(DEMO / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "chat_template.jinja").write_text(TEMPLATE)
    cfg = PipelineConfig.model_validate({"name": "t", "sources": [{"name": "s", "kind": "jsonl", "path": "x.jsonl"}],
                                         "teacher": {"model": "m", "base_url": "http://127.0.0.1:1/v1"},
                                         "tokenizer": {"name": str(tmp_path)}})
    before = judge_key(cfg)
    (tmp_path / "chat_template.jinja").write_text("You are helpful. " + TEMPLATE)
    assert judge_key(cfg) != before
    again = judge_key(cfg)
    (tmp_path / "tokenizer_config.json").write_text("{}")
    assert judge_key(cfg) != again


def test_an_unknown_template_that_drops_the_reasoning_is_one_line_even_with_trl(tmp_path):
    pytest.importorskip("trl")
    shutil.copy(DEMO / "tokenizer.json", tmp_path / "tokenizer.json")
    (tmp_path / "chat_template.jinja").write_text(
        "{% for m in messages %}{{ m['content'].split('</think>')[-1] }}{% endfor %}")
    with pytest.raises(ConfigError, match="drops the reasoning"):
        TokenizerSource.of(str(tmp_path))
