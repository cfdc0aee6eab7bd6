"""`factory report`'s figures (report_data): each one's numbers, from runs the real publish stage wrote."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.errors import RunDirError
from factory.report import report_data
from factory.report.audit import connect
from factory.report.report_data import gather, lengths, nice_step, time_step
from factory.store.records import CURRICULUM_BUCKETS

from support import report_runs, runs


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """small_run(): its outcomes are listed one by one in support/runs.py."""
    run_dir = tmp_path_factory.mktemp("small")
    runs.provenance_run(run_dir)
    return gather(run_dir)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    return report_runs.report_run(tmp_path_factory.mktemp("full"))


def test_the_header_counts_what_provenance_and_the_manifest_say(small):
    h = small["header"]
    assert (h["run_id"], h["pipeline"], h["tokenizer"]) == ("run-1", "demo", "tok")
    assert (h["samples"], h["published"], h["rejected"], h["pending"]) == (12, 4, 7, 1)
    assert h["problems"] == 6 and h["problems_by_status"] == {"contaminated": 1, "duplicate": 1,
                                                              "no_reference": 1, "ok": 3}
    # a shard per curriculum bucket: 8k, 16k and 24k hold the published rows, 32k's is empty
    assert h["acceptance"] == pytest.approx(4 / 12) and h["shards"] == 4
    assert h["usd"] == 0 and h["usd_per_published"] == 0  # small_run records no endpoint costs


def test_acceptance_is_per_source_of_the_asked_problem_and_never_its_duplicate(small):
    # the `extra` row duplicates P_ADD and shares its problem id: its samples are demo's, asked once
    assert small["acceptance"] == dict(source=["demo"], published=[4], rejected=[7], pending=[1])


def test_rejections_are_counted_per_reason_most_frequent_first(small, full):
    assert small["rejections"] == dict(
        reason=sorted(["wrong_answer", "truncated", "duplicate_trace", "request_failed", "over_length",
                       "problem_contaminated", "request_rejected"]), samples=[1] * 7)
    d = gather(full)
    counts = d["rejections"]["samples"]
    assert counts == sorted(counts, reverse=True) and sum(counts) == d["header"]["rejected"]


def test_lengths_are_binned_alike_for_every_bucket_from_the_shards(small):
    d = small["lengths"]
    # published lengths 300 and 1200 (8k), 9000 (16k), 20000 (24k), each in its bucket's folder; 40000 was
    # over_length. small_run's `length` equals its total_tokens: which column wins is the next test's
    assert d["column"] == "length" and d["limits"] == list(CURRICULUM_BUCKETS)
    assert {k: v["rows"] for k, v in d["buckets"].items()} == {8192: 2, 16384: 1, 24576: 1}
    edges = np.array(d["edges"])
    assert edges[0] == 0 and edges[-1] >= 20000 and len(set(np.diff(edges))) == 1
    for limit, b in d["buckets"].items():
        assert sum(b["counts"]) == b["rows"] and len(b["counts"]) == len(edges) - 1
        assert b["max"] <= limit
    assert d["buckets"][16384]["p50"] == 9000


def test_lengths_prefer_the_length_column_and_follow_the_manifest_into_bucket_folders(tmp_path):
    # the per-bucket layout: data/8k/..., data/16k/...; `length` (chat-templated) beside total_tokens
    shards = {"data/8k/train-00000-of-00001.parquet": ([100, 8000], [150, 8300], 8192),
              "data/16k/train-00000-of-00001.parquet": ([9000], [9100], 16384),
              "data/24k/train-00000-of-00001.parquet": ([], [], 24576)}
    entries = []
    for path, (length, total, bucket) in shards.items():
        (tmp_path / path).parent.mkdir(parents=True)
        pq.write_table(pa.table({"length": pa.array(length, pa.int64()), "total_tokens": pa.array(total, pa.int64()),
                                 "curriculum_bucket": pa.array([bucket] * len(length), pa.int64())}), tmp_path / path)
        entries.append(dict(path=path, bucket=bucket))
    d = lengths(tmp_path, {"shards": entries})
    assert d["column"] == "length"
    assert {k: (v["rows"], v["min"], v["max"]) for k, v in d["buckets"].items()} == {8192: (2, 100, 8000),
                                                                                    16384: (1, 9000, 9000)}
    assert lengths(tmp_path, None)["buckets"] == {}  # nothing published yet


def test_pass_rates_bin_exact_fractions_by_index(small, full, tmp_path):
    # P_ADD 2 of 4 right (the duplicate trace counts), P_FRAC 3 of 3 (one over_length), P_LONG 1 of 1
    d = small["pass_rates"]
    assert d["problems"] == 3 and {i: n for i, n in enumerate(d["counts"]) if n} == {10: 1, 19: 2}
    assert d["edges"][0] == 0 and d["edges"][-1] == 1 and len(d["edges"]) == len(d["counts"]) + 1
    rates = pq.read_table(full / "problems.parquet", columns=["pass_rate"])["pass_rate"].drop_null().to_pylist()
    assert sum(gather(full)["pass_rates"]["counts"]) == len(rates)
    # 3/4 lands in [75%, 80%), not [70%, 75%) as float edges would put it
    pq.write_table(pa.table({"pass_rate": [0.75, 0.7, 0.0, 1.0, None]}), tmp_path / "p.parquet")
    counts = report_data.pass_rates(tmp_path / "p.parquet")["counts"]
    assert {i: n for i, n in enumerate(counts) if n} == {0: 1, 14: 1, 15: 1, 19: 1}


def test_throughput_bins_keep_every_request_and_token_and_the_time_in_flight(small, full):
    d = small["throughput"]
    # 12 requests from T0 to T0 + 4 x 3.5 + 2.25 s: 1-second bins, rates per minute
    assert d["step_s"] == 1 and len(d["start"]) == len(d["requests_per_min"]) == len(d["in_flight"])
    per_bin = d["step_s"] / 60
    assert sum(d["requests_per_min"]) * per_bin == pytest.approx(12)
    assert sum(d["completion_tokens_per_min"]) * per_bin == pytest.approx(10 * 300)  # 2 never got a reply
    assert sum(d["prompt_tokens_per_min"]) * per_bin == pytest.approx(10 * 40)
    assert sum(d["in_flight"]) * d["step_s"] == pytest.approx(12 * 2.25)  # request-seconds
    assert d["start"][0] == "2025-10-09 08:53:20.000"  # T0, UTC
    con = connect(full)
    latency = con.sql("SELECT sum(epoch(finished_at) - epoch(started_at)), count(*) FROM requests").fetchall()[0]
    con.close()
    f = gather(full)["throughput"]
    assert f["step_s"] == 120 and len(f["start"]) <= report_data.MAX_TIME_BINS
    assert sum(f["requests_per_min"]) * 2 == pytest.approx(latency[1])
    assert sum(f["in_flight"]) * 120 == pytest.approx(latency[0], abs=len(f["in_flight"]) * 120 * 5e-4)  # rounded


def test_steps_are_readable_and_bounded():
    assert [nice_step(s, 60) for s in (0, 59, 3459, 24000, 32768)] == [1.0, 1.0, 100, 500, 1000]
    assert [time_step(s) for s in (0, 40, 121, 3 * 3600, 30 * 86400, 100 * 86400)] == [1, 1, 2, 120, 21600, 86400]


def test_costs_and_contamination_come_from_provenance(full, monkeypatch):
    d = gather(full)
    assert [r["endpoint"] for r in d["costs"]] == [report_runs.GPU, report_runs.API]  # the dearer first
    assert d["header"]["usd"] == pytest.approx(sum(r["usd"] for r in d["costs"]))
    c = d["contamination"]
    assert c["total"] == 4 and sum(s["matches"] for s in c["summary"]) == 4
    assert all(r["problem"].startswith("numina problem") for r in c["rows"])
    monkeypatch.setattr(report_data, "CONTAMINATION_ROWS", 2)
    c = gather(full)["contamination"]
    assert c["total"] == 4 and len(c["rows"]) == 2 and [r["score"] for r in c["rows"]] == sorted(
        [r["score"] for r in c["rows"]], reverse=True)


def test_a_run_that_asked_nothing_gathers_empty_figures(tmp_path):
    d = gather(report_runs.empty_run(tmp_path))
    assert d["lengths"]["buckets"] == {} and d["acceptance"]["source"] == [] and d["rejections"]["reason"] == []
    assert d["pass_rates"]["problems"] == 0 and d["throughput"]["start"] == [] and d["costs"] == []
    assert d["header"]["samples"] == 0 and d["header"]["acceptance"] is None
    json.dumps(d)  # plain data all the way down


def test_a_damaged_shard_or_database_is_one_line_naming_the_file(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    runs.provenance_run(run_dir)
    shard = run_dir / json.loads((run_dir / "manifest.json").read_text())["shards"][0]["path"]
    with open(shard, "r+b") as f:
        f.truncate(shard.stat().st_size // 2)
    with pytest.raises(RunDirError, match=rf"^{shard}: cannot be read \(.*\); `factory check {run_dir}` names"):
        gather(run_dir)
    db = run_dir / "provenance.duckdb"
    with open(db, "r+b") as f:
        f.truncate(db.stat().st_size // 5)
    with pytest.raises(RunDirError, match=rf"^{db}: the provenance database cannot be read"):
        gather(run_dir)
