"""The student's tokenizer, loaded as a pipeline names it, and token counts measured in it."""

import pytest

from factory.errors import ConfigError
from factory.stages.judge.tokens import count_tokens, load_tokenizer

from support.cli import ROOT

DEMO_TOKENIZER = ROOT / "datasets" / "demo" / "tokenizer.json"


def test_a_local_file_or_the_directory_holding_it():
    by_file = load_tokenizer(str(DEMO_TOKENIZER))
    by_dir = load_tokenizer(str(DEMO_TOKENIZER.parent))
    assert by_file.get_vocab_size() == by_dir.get_vocab_size() > 1000
    assert load_tokenizer(str(DEMO_TOKENIZER)) is by_file  # loaded once per process


def test_counts_are_per_text_and_add_no_special_tokens():
    tok = load_tokenizer(str(DEMO_TOKENIZER))
    texts = ["", "What is 2 + 3?", "What is 2 + 3? What is 2 + 3?"]
    counts = count_tokens(tok, texts)
    assert counts[0] == 0 and 0 < counts[1] < len(texts[1]) and counts[2] >= 2 * counts[1]
    assert counts == [len(tok.encode(t, add_special_tokens=False).ids) for t in texts]
    assert count_tokens(tok, ["<think>"]) == [1]  # the think tag is one token of its own
    assert count_tokens(tok, []) == []


@pytest.mark.parametrize("name", ["./no/such/tokenizer.json", "/nowhere/tokenizer.json", "missing.json"])
def test_a_missing_local_tokenizer_is_named_in_one_line(name):
    with pytest.raises(ConfigError) as err:
        load_tokenizer(name)
    assert name in str(err.value) and "tokenizer.name" in str(err.value) and "\n" not in str(err.value)


def test_an_unreadable_file_is_a_config_error(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        load_tokenizer(str(bad))
