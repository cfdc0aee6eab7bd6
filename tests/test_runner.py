"""`factory run` as a library call, on the in-process executor: the stages in order on one run directory,
a resume that asks nothing, and a run directory that changes only after sources and teacher are good."""

import json

import duckdb
import pytest

from factory.config import load_pipeline
from factory.errors import SourceError
from factory.executor import InProcessExecutor
from factory.runner import Overrides, run_pipeline

from support.cli import DEMO


@pytest.fixture
def cfg():
    c = Overrides(limit=5, concurrency=8).apply(load_pipeline(DEMO))
    c.teacher.simulated = c.teacher.simulated.model_copy(update=dict(latency_ms=5, rate_429=0, rate_5xx=0))
    return c


def test_a_run_publishes_and_a_resume_republishes_the_same_rows(cfg, tmp_path):
    out = tmp_path / "run"
    counts = run_pipeline(cfg, out, "factory run demo", executor=InProcessExecutor(workers=2))
    assert counts["samples"] == 5 * cfg.teacher.n and 0 < counts["published"] <= counts["samples"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == counts
    for name in ("run.json", "config.resolved.json", "problems.parquet", "samples.parquet", "provenance.duckdb",
                 "README.md", "prices.json"):
        assert (out / name).exists(), name
    # where the problems came from, under which license: in provenance, the manifest and on the card
    with duckdb.connect(str(out / "provenance.duckdb"), read_only=True) as con:
        sources = con.sql("SELECT name, role, kind, license, license_from, rows FROM sources ORDER BY name").fetchall()
        listed = dict(con.sql("SELECT source, count(*) FROM problems GROUP BY ALL").fetchall())
    assert sources == [("demo-eval", "decontaminate", "jsonl", "apache-2.0", "pipeline", 40),
                       ("demo-extra", "train", "jsonl", "apache-2.0", "pipeline", listed.get("demo-extra", 0)),
                       ("demo-synth", "train", "jsonl", "apache-2.0", "pipeline", listed["demo-synth"])]
    assert [s["name"] for s in manifest["sources"]] == ["demo-synth", "demo-extra", "demo-eval"]
    assert "\nlicense: apache-2.0\n" in (out / "README.md").read_text()
    again = run_pipeline(cfg, out, "factory run demo", executor=InProcessExecutor(workers=2))
    assert again == counts
    resumed = json.loads((out / "manifest.json").read_text())
    assert [s["sha256"] for s in resumed["shards"]] == [s["sha256"] for s in manifest["shards"]]
    assert len(list((out / "journal").glob("*.jsonl"))) == 1  # the resume asked nothing: no second journal
    sessions = [json.loads(line) for line in (out / "sessions.jsonl").read_text().splitlines()]
    assert len({s["session_id"] for s in sessions}) == 2 and all(s["finished_at"] for s in sessions[1::2])


def test_nothing_is_written_when_no_problem_can_be_asked(cfg, tmp_path):
    cfg.sources[0].fields.answer = "no_such_column"
    cfg.sources = cfg.sources[:1]
    out = tmp_path / "run"
    with pytest.raises(SourceError):
        run_pipeline(cfg, out, "factory run demo", executor=InProcessExecutor())
    assert not out.exists()


def test_a_run_curates_first_and_provenance_names_the_matched_eval_row(cfg, tmp_path):
    # a drifted copy of an eval problem (other delimiters, an instruction) and a near copy of a training one,
    # put in a third source: the run must not ask either, and provenance must say why
    eval_rows = [json.loads(line) for line in (DEMO.parent / "../datasets/demo/eval.jsonl").read_text().splitlines()]
    train_rows = [json.loads(line) for line in
                  (DEMO.parent / "../datasets/demo/problems.jsonl").read_text().splitlines()][:5]
    planted = tmp_path / "planted.jsonl"
    planted.write_text(
        json.dumps({"problem": "Solve the following math problem. " + eval_rows[0]["problem"].replace("$", "$$"),
                    "answer": eval_rows[0]["answer"]}) + "\n" +
        json.dumps({"problem": train_rows[0]["problem"].replace(" ", "  ") + " Show your work.",
                    "answer": train_rows[0]["answer"]}) + "\n")
    cfg.sources.append(cfg.sources[0].model_copy(update=dict(name="planted", path=str(planted), limit=None,
                                                             fields=cfg.sources[0].fields.model_copy(
                                                                 update=dict(id=None)))))
    cfg.limit = None
    cfg.sources[0].limit, cfg.sources[1].limit = 5, 1
    out = tmp_path / "run"
    run_pipeline(cfg, out, "factory run demo", executor=InProcessExecutor(workers=2))
    import duckdb

    con = duckdb.connect(str(out / "provenance.duckdb"), read_only=True)
    rows = con.sql("SELECT source_row, status, duplicate_of, contaminated_by FROM problems "
                   "WHERE source = 'planted' ORDER BY source_row").fetchall()
    assert rows == [("0", "contaminated", None, "demo-eval:0"), ("1", "duplicate", "demo-synth:synth-00000", None)]
    # the demo's eval problems are short: they are compared whole
    assert con.sql("SELECT benchmark, eval_row, method, score FROM contaminated_by "
                   "WHERE source = 'planted'").fetchall() == [("demo-eval", "0", "fuzzy", 1.0)]
    asked = {r[0] for r in con.sql("SELECT DISTINCT problem_id FROM requests").fetchall()}
    planted_ids = {r[0] for r in con.sql("SELECT problem_id FROM problems WHERE source = 'planted'").fetchall()}
    assert not asked & planted_ids
    report = json.loads((out / "curation" / "report.json").read_text())
    assert report["by_source"]["planted"] == {"contaminated": 1, "duplicate": 1}
    counts = json.loads((out / "manifest.json").read_text())["counts"]
    assert counts["contaminated.demo-eval"] == con.sql(
        "SELECT count(*) FROM problems WHERE status = 'contaminated'").fetchall()[0][0] >= 1
    card = (out / "README.md").read_text()
    assert f"{counts['contaminated.demo-eval']} training rows matched it" in card
