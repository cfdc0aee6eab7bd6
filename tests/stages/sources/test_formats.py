"""Every kind of source on local files the tests write: verl-format Parquet with nested fields, CSV, a
`save_to_disk` directory, a loading-script-free dataset directory, streaming; each with its license."""

import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.config import PipelineConfig, SourceConfig
from factory.errors import SourceError
from factory.stages.sources import RawProblem, curate_pipeline, load_source, open_source

SUFFIX = " Let's think step by step and output the final answer within \\boxed{}."


def verl_parquet(path, n=3):
    """A small table in verl's RL layout: the problem is the last chat turn, the answer a struct field."""
    rows = [dict(data_source="made-up", ability="math",
                 prompt=[{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": f"What is {k}+{k}?" + SUFFIX}],
                 reward_model={"ground_truth": str(2 * k), "style": "rule"},
                 extra_info={"index": 100 + k, "split": "train", "solution": f"{k}+{k}={2 * k}"})
            for k in range(n)]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


VERL_FIELDS = {"problem": "prompt[-1].content", "answer": "reward_model.ground_truth", "id": "extra_info.index",
               "solution": "extra_info.solution"}


def test_verl_parquet_through_nested_paths(tmp_path):
    cfg = SourceConfig(name="v", kind="parquet", path=verl_parquet(tmp_path / "v.parquet"), fields=VERL_FIELDS)
    rows = list(load_source(cfg))
    assert rows[1] == RawProblem("v", "101", "What is 1+1?" + SUFFIX, "2", "1+1=2")
    assert [r.source_row for r in rows] == ["100", "101", "102"]
    first = list(load_source(SourceConfig.model_validate(
        cfg.model_dump() | {"fields": {**VERL_FIELDS, "problem": "prompt[0].content"}})))
    assert first[0].problem == "Be brief."


@pytest.mark.parametrize("path, message", [
    ("reward_model.truth", "key 'truth' not found in 'reward_model' (keys: ground_truth, style)"),
    ("rewards.ground_truth", "column 'rewards' not found (columns: data_source, ability, prompt, reward_model, "
                             "extra_info)"),
    ("prompt.content", "'prompt' is a list; index it, e.g. [-1], not a mapping"),
    ("reward_model[0]", "'reward_model' is a mapping (keys: ground_truth, style), not a list"),
    ("reward_model", "it leads to a mapping (keys: ground_truth, style), not text"),
    ("prompt", "it leads to a list of mappings (keys: role, content); pick one, e.g. [-1].role, not text"),
    ("ability.name", "'ability' is str, not a mapping"),
])
def test_a_path_that_does_not_resolve_is_one_line_naming_what_exists(tmp_path, path, message):
    cfg = SourceConfig(name="v", kind="parquet", path=verl_parquet(tmp_path / "v.parquet"),
                       fields={**VERL_FIELDS, "answer": path})
    with pytest.raises(SourceError) as e:
        open_source(cfg)
    assert str(e.value) == f"source 'v': fields.answer {path!r} does not resolve: {message}; fix `fields` in the " \
                           "pipeline file"


def test_missing_values_along_a_path_are_missing_not_errors(tmp_path):
    path = tmp_path / "gaps.jsonl"
    rows = [{"q": {"turns": [{"text": "Q1"}]}, "rm": {"gt": "1"}},
            {"q": {"turns": []}, "rm": None},          # an empty list, a null struct
            {"q": {"turns": [{"text": "Q3"}]}, "rm": {"gt": None}}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = SourceConfig(name="g", kind="jsonl", path=str(path),
                       fields={"problem": "q.turns[-1].text", "answer": "rm.gt"})
    assert [(r.problem, r.answer) for r in load_source(cfg)] == [("Q1", "1"), ("", None), ("Q3", None)]


def test_a_flat_column_with_a_dot_in_its_name_is_still_a_column(tmp_path):
    path = tmp_path / "dots.jsonl"
    path.write_text(json.dumps({"problem.text": "P", "answer": "1"}) + "\n")
    cfg = SourceConfig(name="d", kind="jsonl", path=str(path), fields={"problem": "problem.text"})
    assert [r.problem for r in load_source(cfg)] == ["P"]


def test_csv_keeps_every_value_as_written(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text('id,question,final answer,worked\n'
                    '0012,"What is 3/2, as a decimal?",1.50,"3/2 = 1.5"\n'
                    '0013,Say NA,NA,\n'
                    '0014,No answer here,,\n', encoding="utf-8")
    cfg = SourceConfig(name="c", kind="csv", path=str(path),
                       fields={"problem": "question", "answer": "final answer", "id": "id", "solution": "worked"})
    assert list(load_source(cfg)) == [RawProblem("c", "0012", "What is 3/2, as a decimal?", "1.50", "3/2 = 1.5"),
                                      RawProblem("c", "0013", "Say NA", "NA", None),
                                      RawProblem("c", "0014", "No answer here", None, None)]
    with pytest.raises(SourceError, match="column 'answer' not found .*columns: id, question, final answer, worked"):
        open_source(SourceConfig(name="c", kind="csv", path=str(path), fields={"problem": "question"}))


def test_csv_glob_of_several_files(tmp_path):
    for k in range(2):
        (tmp_path / f"part-{k}.csv").write_text(f"problem,answer\nP{k},{k}\n")
    cfg = SourceConfig(name="c", kind="csv", path=str(tmp_path / "part-*.csv"))
    assert [(r.problem, r.answer) for r in load_source(cfg)] == [("P0", "0"), ("P1", "1")]


def saved_dataset(path, license="mit", splits=("train",)):
    ds = datasets.Dataset.from_dict({"problem": ["A?", "B?", "C?"], "answer": ["1", "2", "3"]})
    ds.info.license = license
    if splits:
        datasets.DatasetDict({s: ds for s in splits}).save_to_disk(str(path))
    else:
        ds.save_to_disk(str(path))
    return str(path)


@pytest.mark.parametrize("splits", [(), ("train", "test")])
def test_save_to_disk_directory_with_its_license(tmp_path, splits):
    cfg = SourceConfig(name="s", kind="hf", dataset=saved_dataset(tmp_path / "saved", splits=splits), limit=2)
    opened = open_source(cfg)
    assert [r.problem for r in opened.rows] == ["A?", "B?"]
    assert (opened.declared.license, opened.declared.commit) == ("mit", None)
    record = opened.record("train", 2)
    assert (record.license, record.license_from, record.location, record.split) == ("mit", "dataset", cfg.dataset,
                                                                                    "train")


def test_save_to_disk_split_that_is_not_there(tmp_path):
    cfg = SourceConfig(name="s", kind="hf", dataset=saved_dataset(tmp_path / "saved", splits=("test",)))
    with pytest.raises(SourceError, match=r"split 'train' not in .*\(splits: test\); fix `split`"):
        open_source(cfg)


def dataset_repo(path, card="---\nlicense: cc-by-4.0\n---\n# A dataset\n", rows=5):
    (path / "data").mkdir(parents=True)
    (path / "data" / "train-00000-of-00001.jsonl").write_text(
        "".join(json.dumps({"problem": f"P{k}", "answer": str(k), "meta": {"id": f"r{k}"}}) + "\n"
                for k in range(rows)))
    if card is not None:
        (path / "README.md").write_text(card)
    return str(path)


def test_dataset_directory_license_comes_from_its_card_unless_the_pipeline_sets_one(tmp_path):
    cfg = SourceConfig(name="h", kind="hf", dataset=dataset_repo(tmp_path / "repo"), fields={"id": "meta.id"})
    opened = open_source(cfg)
    assert [r.source_row for r in opened.rows] == ["r0", "r1", "r2", "r3", "r4"]
    assert (opened.record("train", 5).license, opened.record("train", 5).license_from) == ("cc-by-4.0", "dataset")
    mine = open_source(cfg.model_copy(update={"license": "mit"})).record("train", 5)
    assert (mine.license, mine.license_from) == ("mit", "pipeline")
    bare = open_source(SourceConfig(name="b", kind="hf", dataset=dataset_repo(tmp_path / "bare", card=None)))
    assert (bare.record("train", 0).license, bare.record("train", 0).license_from) == (None, None)


def test_local_files_declare_nothing_but_take_the_pipeline_license(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"problem": "P", "answer": "1"}) + "\n")
    record = open_source(SourceConfig(name="a", kind="jsonl", path=str(path), license="apache-2.0")).record("train", 1)
    assert (record.license, record.license_from, record.split, record.revision) == ("apache-2.0", "pipeline", None,
                                                                                  None)
    assert open_source(SourceConfig(name="a", kind="jsonl", path=str(path))).record("train", 1).license is None


@pytest.mark.parametrize("kind", ["repo", "saved", "parquet"])
def test_streaming_reads_the_same_rows_without_materializing(tmp_path, kind, monkeypatch):
    if kind == "repo":
        cfg = SourceConfig(name="s", kind="hf", dataset=dataset_repo(tmp_path / "repo"), limit=3)
    elif kind == "saved":
        cfg = SourceConfig(name="s", kind="hf", dataset=saved_dataset(tmp_path / "saved"), limit=3)
    else:
        cfg = SourceConfig(name="s", kind="parquet", path=verl_parquet(tmp_path / "v.parquet", n=5), limit=3,
                           fields=VERL_FIELDS)
    eager = list(load_source(cfg))

    def no_materializing(*args, **kwargs):
        raise AssertionError("a streamed source was materialized")

    streamed = cfg.model_copy(update={"streaming": True})
    monkeypatch.setattr(datasets.builder.DatasetBuilder, "download_and_prepare", no_materializing)
    opened = open_source(streamed)
    assert list(opened.rows) == eager and len(eager) == 3


def test_streaming_checks_paths_before_the_first_row(tmp_path):
    cfg = SourceConfig(name="s", kind="hf", dataset=dataset_repo(tmp_path / "repo"), streaming=True,
                       fields={"id": "meta.key"})
    with pytest.raises(SourceError, match=r"fields.id 'meta.key' does not resolve: key 'key' not found in 'meta' "
                                          r"\(keys: id\)"):
        open_source(cfg)


def test_streaming_a_file_that_breaks_halfway_is_one_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps({"problem": "P", "answer": "1"}) + "\n{not json\n")
    cfg = SourceConfig(name="b", kind="jsonl", path=str(path), streaming=True)
    with pytest.raises(SourceError) as e:
        list(load_source(cfg))
    assert str(e.value).startswith(f"source 'b': cannot load {str(path)!r}: ") and "\n" not in str(e.value)


def test_curate_pipeline_records_every_source_with_its_rows(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("problem,answer\nP1,1\nP2,2\nP1,1\nP3,3\n")
    evals = tmp_path / "eval.jsonl"
    evals.write_text(json.dumps({"problem": "P2", "answer": "2"}) + "\n")
    cfg = PipelineConfig.model_validate(dict(
        name="t", limit=2, teacher={"base_url": "http://127.0.0.1:1/v1", "model": "m"}, tokenizer={"name": "t"},
        sources=[dict(name="csv", kind="csv", path=str(train), license="cc0-1.0"),
                 dict(name="repo", kind="hf", dataset=dataset_repo(tmp_path / "repo"))],
        decontaminate=[dict(name="ev", kind="jsonl", path=str(evals))]))
    cur = curate_pipeline(cfg)
    problems, records = cur.problems, cur.sources
    assert problems["status"].to_pylist() == ["ok", "contaminated", "duplicate", "ok"]
    assert [(r.name, r.role, r.rows, r.license) for r in records] == [
        ("csv", "train", 4, "cc0-1.0"), ("repo", "train", 0, "cc-by-4.0"), ("ev", "decontaminate", 1, None)]
    assert problems.schema.field("solution").nullable and problems["solution"].null_count == 4
