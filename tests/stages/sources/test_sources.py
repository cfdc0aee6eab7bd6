import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.config import SourceConfig
from factory.errors import SourceError
from factory.stages.sources import RawProblem, build_problems, load_source, problem_id


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_jsonl_with_field_mapping(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", [{"q": "What is 1+1?", "a": 2, "k": "x1"}, {"q": "Two?", "a": "3", "k": "x2"}])
    cfg = SourceConfig(name="a", kind="jsonl", path=path, fields={"problem": "q", "answer": "a", "id": "k"})
    rows = list(load_source(cfg))
    assert rows == [RawProblem("a", "x1", "What is 1+1?", "2"), RawProblem("a", "x2", "Two?", "3")]


def test_parquet_float_answers_and_row_index_ids(tmp_path):
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"problem": ["p1", "p2"], "answer": [142.0, 0.5]}), path)
    rows = list(load_source(SourceConfig(name="p", kind="parquet", path=str(path))))
    assert [(r.source_row, r.answer) for r in rows] == [("0", "142"), ("1", "0.5")]


def test_hf_loader_reads_a_local_dataset_repo(tmp_path):
    # `kind: hf` goes through datasets.load_dataset(name, ...); a local directory is a valid name,
    # so the real hub code path runs without a network.
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    jsonl(repo / "data" / "train.jsonl", [{"problem": "p", "answer": "1"}])
    rows = list(load_source(SourceConfig(name="h", kind="hf", dataset=str(repo))))
    assert rows == [RawProblem("h", "0", "p", "1")]


def test_missing_file_and_missing_column_are_one_line(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        list(load_source(SourceConfig(name="a", kind="jsonl", path=str(tmp_path / "nope.jsonl"))))
    path = jsonl(tmp_path / "a.jsonl", [{"q": "x"}])
    with pytest.raises(SourceError, match="column 'problem' not found.*columns: q"):
        list(load_source(SourceConfig(name="a", kind="jsonl", path=path)))


def test_limit_per_source(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", [{"problem": f"p{i}", "answer": "1"} for i in range(5)])
    assert len(list(load_source(SourceConfig(name="a", kind="jsonl", path=path, limit=2)))) == 2


def test_ids_are_stable_under_whitespace():
    assert problem_id("Find  x.\n") == problem_id("Find x.")
    assert problem_id("Find x.") != problem_id("Find y.")


def test_build_problems_statuses_and_limit():
    rows = [
        RawProblem("a", "0", "P one", "1"),
        RawProblem("a", "1", "P  one", "1"),      # duplicate after normalisation
        RawProblem("b", "0", "Eval problem", "2"),  # in the eval set
        RawProblem("b", "1", "No answer", None),
        RawProblem("b", "2", "P two", "5"),
        RawProblem("b", "3", "P three", "6"),
    ]
    table = build_problems(rows, [RawProblem("e", "0", "Eval  problem", "2")], limit=2)
    got = [(r["source_row"], r["status"], r["duplicate_of"]) for r in table.to_pylist()]
    assert got == [("0", "ok", None), ("1", "duplicate", "a:0"), ("0", "contaminated", None),
                   ("1", "no_reference", None), ("2", "ok", None)]


def test_repeated_or_missing_row_ids_fail_before_anything_is_written(tmp_path):
    path = jsonl(tmp_path / "a.jsonl", [{"problem": "p1", "answer": "1", "k": "x"},
                                        {"problem": "p2", "answer": "2", "k": "x"}])
    cfg = SourceConfig(name="a", kind="jsonl", path=path, fields={"id": "k"})
    with pytest.raises(SourceError, match="row id 'x' appears more than once"):
        build_problems(load_source(cfg))
    path = jsonl(tmp_path / "b.jsonl", [{"problem": "p1", "answer": "1", "k": None}])
    with pytest.raises(SourceError, match="row 0 has no value in id column 'k'"):
        list(load_source(SourceConfig(name="b", kind="jsonl", path=path, fields={"id": "k"})))


def test_empty_file_is_named(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    with pytest.raises(SourceError, match="is empty"):
        list(load_source(SourceConfig(name="e", kind="jsonl", path=str(tmp_path / "e.jsonl"))))


def test_empty_problem_text_is_never_asked():
    table = build_problems([RawProblem("a", "0", "  ", "1"), RawProblem("a", "1", "", "2"),
                            RawProblem("a", "2", "real", "3")])
    assert table["status"].to_pylist() == ["empty", "empty", "ok"]


def test_list_answers_are_their_items_as_written(tmp_path):
    import json

    path = tmp_path / "olympiad.jsonl"
    rows = [{"question": "Q1", "final_answer": ["$\\frac{1}{2}$"]}, {"question": "Q2", "final_answer": ["3", "4"]},
            {"question": "Q3", "final_answer": []}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cfg = SourceConfig(name="ob", kind="jsonl", path=str(path),
                       fields={"problem": "question", "answer": "final_answer"})
    answers = [r.answer for r in load_source(cfg)]
    assert answers == ["$\\frac{1}{2}$", "3, 4", None]

    from factory.verify import verify

    assert verify(answers[0], "\\boxed{0.5}").correct and verify(answers[1], "\\boxed{3, 4}").correct
