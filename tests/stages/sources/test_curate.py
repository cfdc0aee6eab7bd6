import json

import pyarrow.parquet as pq

from factory.config import CurateConfig
from factory.stages.sources import RawProblem, curate
from factory.stages.sources.report import write_curation

P = r"A circle has radius $6$. A chord of length $8$ is drawn. How far is the chord from the centre of the circle?"


def statuses(cur):
    return [(r["source"], r["source_row"], r["status"], r["duplicate_of"], r["kept_because"])
            for r in cur.problems.to_pylist()]


def test_the_kept_copy_has_a_reference_then_priority_then_came_first():
    rows = [RawProblem("low", "0", P.replace("$", ""), None),              # first seen, no reference
            RawProblem("high", "0", "Solve the following math problem. " + P, "2\\sqrt{5}"),
            RawProblem("low", "1", P.replace("radius", "radius  "), "2\\sqrt{5}"),
            RawProblem("high", "1", P.replace("$6$", "$7$"), "\\sqrt{33}")]  # one number: another problem
    cur = curate(rows, [], CurateConfig(), source_order=["high", "low"])
    assert statuses(cur) == [("low", "0", "duplicate", "high:0", "has_reference"),
                             ("high", "0", "ok", None, None),
                             ("low", "1", "duplicate", "high:0", "source_priority"),
                             ("high", "1", "ok", None, None)]
    assert cur.problems["duplicate_similarity"].to_pylist() == [1.0, None, 1.0, None]


def test_near_copies_record_their_similarity():
    rows = [RawProblem("a", "0", P, "2\\sqrt{5}"),
            RawProblem("a", "1", P + " Give an exact answer in simplest radical form.", "2\\sqrt{5}")]
    cur = curate(rows, [], CurateConfig(), ["a"])
    dup = cur.problems.to_pylist()[1]
    assert (dup["status"], dup["duplicate_of"], dup["kept_because"]) == ("duplicate", "a:0", "first_seen")
    assert 0.5 <= dup["duplicate_similarity"] < 1.0
    off = CurateConfig.model_validate({"near_duplicates": {"enabled": False}})
    assert curate(rows, [], off, ["a"]).problems["status"].to_pylist() == ["ok", "ok"]


def test_a_group_with_one_contaminated_member_is_contaminated_whole():
    evals = [RawProblem("aime", "7", P, "2\\sqrt{5}")]
    rows = [RawProblem("a", "0", P.replace(r"radius $6$", r"radius \(6\)"), "x"),
            RawProblem("a", "1", "Problem: " + P + " Give an exact answer in simplest radical form.", "x"),
            RawProblem("a", "2", "What is $2+2$?", "4")]
    cur = curate(rows, evals, CurateConfig(), ["a"])
    got = cur.problems.select(["status", "contaminated_by"]).to_pylist()
    assert [g["status"] for g in got] == ["contaminated", "contaminated", "ok"]
    assert got[0]["contaminated_by"] == "aime:7"
    assert got[1]["contaminated_by"] == "aime:7"
    matches = cur.contamination.to_pylist()
    assert {(m["source_row"], m["benchmark"], m["eval_row"]) for m in matches} == {("0", "aime", "7"),
                                                                                   ("1", "aime", "7")}
    assert all(m["score"] > 0.5 for m in matches)


def test_limit_counts_ok_rows_after_curation():
    rows = [RawProblem("a", str(i), f"Compute ${i} + {i + 1}$ and write it in binary.", "1") for i in range(6)]
    rows.insert(1, RawProblem("a", "dup", rows[0].problem.replace("Compute", "compute"), "1"))
    cur = curate(rows, [], CurateConfig(), ["a"], limit=3)
    assert [r["source_row"] for r in cur.problems.to_pylist()] == ["0", "dup", "1", "2"]


def test_the_report_lists_groups_and_matches(tmp_path):
    evals = [RawProblem("bench", "3", P, "1")]
    rows = [RawProblem("a", "0", "Compute $7 \\cdot 8$.", "56"), RawProblem("b", "0", "compute $7\\cdot8$ .", "56"),
            RawProblem("a", "1", P, "1"), RawProblem("a", "2", " ", "1")]
    report = write_curation(tmp_path, curate(rows, evals, CurateConfig(), ["a", "b"]))
    assert report["by_source"] == {"a": {"contaminated": 1, "empty": 1, "ok": 1}, "b": {"duplicate": 1}}
    assert report["duplicate_groups"] == [{"kept": "a:0", "size": 2, "members": [
        {"row": "b:0", "status": "duplicate", "similarity": 1.0, "kept_because": "source_priority"}]}]
    assert json.loads((tmp_path / "curation" / "report.json").read_text()) == report
    assert pq.read_table(tmp_path / "curation" / "contamination.parquet").to_pylist()[0]["benchmark"] == "bench"
    md = (tmp_path / "curation" / "report.md").read_text()
    assert "| a | 1 | 0 | 1 | 1 |" in md and "kept `a:0`" in md and "| `a:1` | bench | 3 | ngram |" in md
    assert pq.read_table(tmp_path / "problems.parquet").num_rows == 4
