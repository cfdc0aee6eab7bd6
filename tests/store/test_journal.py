import json

from factory.store.journal import Journal, iter_records, latest_records


def rec(sid, outcome="complete", session="s"):
    return {"sample_id": sid, "outcome": outcome, "session_id": session}


def test_append_and_read_back(tmp_path):
    j = Journal(tmp_path, "20260101T000000-aaaaaa")
    j.append([rec("a"), rec("b")])
    j.close()
    assert [r["sample_id"] for r in iter_records(tmp_path)] == ["a", "b"]


def test_torn_last_line_is_ignored(tmp_path):
    j = Journal(tmp_path, "20260101T000000-aaaaaa")
    j.append([rec("a")])
    j.close()
    with open(j.path, "a") as f:
        f.write(json.dumps(rec("b"))[:20])  # a crash mid-write
    assert list(latest_records(tmp_path)) == ["a"]


def test_later_sessions_win(tmp_path):
    for session, outcome in (("20260101T000000-aaaaaa", "failed"), ("20260102T000000-bbbbbb", "complete")):
        j = Journal(tmp_path, session)
        j.append([rec("a", outcome, session)])
        j.close()
    assert latest_records(tmp_path)["a"]["outcome"] == "complete"


def test_empty_session_leaves_no_file(tmp_path):
    Journal(tmp_path, "20260101T000000-aaaaaa").close()
    assert list((tmp_path / "journal").iterdir()) == []


def full(sid, outcome="complete", session="s", reasoning="r"):
    return {"sample_id": sid, "problem_id": "p", "sample_index": 0, "session_id": session, "model": "m",
            "endpoint": "http://x/v1", "messages": [{"role": "user", "content": "q"}],
            "sampling": json.dumps({"max_tokens": 10}), "prompt_template_hash": "h", "attempts": 1,
            "outcome": outcome, "error": None, "finish_reason": "stop", "reasoning": reasoning, "answer": "a",
            "reasoning_source": "think_tags", "think_closed": True, "prompt_tokens": 1, "completion_tokens": 2,
            "reasoning_tokens": 1, "started_at": 0.0, "finished_at": 1.0, "latency_s": 1.0}


def test_compaction_keeps_the_latest_record_and_is_reused_until_the_journal_changes(tmp_path):
    from factory.store.journal import compact, ledger, samples_dataset

    j = Journal(tmp_path, "20260101T000000-aaaaaa")
    j.append([full("a", "truncated_reasoning", reasoning="short"), full("b")])
    j.close()
    j = Journal(tmp_path, "20260102T000000-bbbbbb")
    j.append([full("a", "complete", reasoning="long")])
    j.close()
    rows = {r["sample_id"]: r for r in samples_dataset(tmp_path).to_table().to_pylist()}
    assert set(rows) == {"a", "b"} and rows["a"]["reasoning"] == "long"
    assert ledger(tmp_path)["a"][:3] == ("complete", 10, 10)
    stamp = (tmp_path / "samples.parquet").stat().st_mtime_ns
    compact(tmp_path)
    assert (tmp_path / "samples.parquet").stat().st_mtime_ns == stamp  # unchanged journal: not rewritten


def test_read_verdicts_keeps_the_latest_per_sample(tmp_path):
    import pyarrow as pa

    from factory.stages.judge.stage import read_verdicts
    from factory.store.records import VERDICT_SCHEMA
    from factory.store.rundir import write_parquet_atomic

    def verdict(sid, reason):
        return dict(sample_id=sid, problem_id="p", correct=reason == "correct", reason=reason, predicted=None,
                    trace_hash="h", prompt_tokens=1, reasoning_tokens=1, answer_tokens=1, total_tokens=3, length=3,
                    verify_ms=0.1)
    (tmp_path / "verdicts" / "k").mkdir(parents=True)
    for name, rows in (("part-1-00000", [verdict("a", "truncated"), verdict("b", "correct")]),
                       ("part-2-00000", [verdict("a", "correct")])):
        write_parquet_atomic(tmp_path / "verdicts" / "k" / f"{name}.parquet",
                             pa.Table.from_pylist(rows, schema=VERDICT_SCHEMA))
    got = {r["sample_id"]: r["reason"] for r in read_verdicts(tmp_path, "k").to_pylist()}
    assert got == {"a": "correct", "b": "correct"}


def _two_sessions(tmp_path):
    j = Journal(tmp_path, "20260101T000000-aaaaaa")
    j.append([full("a", "truncated_reasoning"), full("b")])
    j.append([full("c", "failed")])
    j.close()
    j = Journal(tmp_path, "20260102T000000-bbbbbb")
    j.append([full("a", "complete", reasoning="é" * 50)])  # multi-byte text: offsets are bytes
    j.close()
    return j


def test_the_index_agrees_with_parsing_the_journal(tmp_path):
    from factory.store.journal import INDEX_FIELDS, iter_index

    _two_sessions(tmp_path)
    from_index = [{k: e[k] for k in INDEX_FIELDS} | {"max_tokens": e["max_tokens"]} for e in iter_index(tmp_path)]
    parsed = [{k: r[k] for k in INDEX_FIELDS} | {"max_tokens": json.loads(r["sampling"])["max_tokens"]}
              for r in iter_records(tmp_path)]
    assert from_index == parsed and [e["sample_id"] for e in from_index] == ["a", "b", "c", "a"]


def test_a_lost_or_torn_index_is_completed_from_the_journal(tmp_path):
    from factory.store.journal import ledger, read_index

    _two_sessions(tmp_path)
    first = min((tmp_path / "journal").glob("*.jsonl"))
    expected = ledger(tmp_path)
    index = first.with_suffix(".idx")
    lines = index.read_text().splitlines(keepends=True)
    index.write_text(lines[0] + lines[1][:15])  # the crash cut the index short
    assert [e["sample_id"] for e in read_index(first)] == ["a", "b", "c"]
    index.unlink()  # or it never made it to disk
    assert ledger(tmp_path) == expected


def test_index_entries_past_the_journal_end_are_dropped(tmp_path):
    from factory.store.journal import read_index

    j = Journal(tmp_path, "20260101T000000-aaaaaa")
    j.append([full("a"), full("b")])
    j.close()
    data = j.path.read_bytes()
    j.path.write_bytes(data[: data.index(b"\n") + 1 + 10])  # the second line torn (disk lost its tail)
    assert [e["sample_id"] for e in read_index(j.path)] == ["a"]


def test_a_garbled_line_does_not_shift_which_records_are_compacted(tmp_path):
    from factory.store.journal import samples_dataset

    j = Journal(tmp_path, "20260101T000000-aaaaaa")
    j.append([full("p"), full("g"), full("q", "failed", reasoning=None), full("q", reasoning="whole")])
    j.close()
    lines = j.path.read_bytes().split(b"\n")
    lines[1] = b"{garbled" + b" " * (len(lines[1]) - 8)  # same length: the index offsets stay valid
    j.path.write_bytes(b"\n".join(lines))
    for lost_index in (False, True):
        if lost_index:
            j.path.with_suffix(".idx").unlink()
        (tmp_path / "samples.parquet.sig").unlink(missing_ok=True)
        records = samples_dataset(tmp_path).to_table().to_pylist()
        rows = {r["sample_id"]: (r["outcome"], r["reasoning"]) for r in records}
        assert rows["q"] == ("complete", "whole")  # the latest line of q, not the one a line-count shift points at
        assert set(rows) <= {"p", "g", "q"} and rows["p"][0] == "complete"


def test_the_ledger_keeps_the_kept_reply_and_the_largest_budget_tried(tmp_path):
    from factory.store.journal import ledger

    cut = full("a", "truncated_answer") | {"sampling": json.dumps({"max_tokens": 1000})}
    failed_reask = full("a", "failed") | {"sampling": json.dumps({"max_tokens": 2500})}
    for session, record in (("20260101T000000-aaaaaa", cut), ("20260102T000000-bbbbbb", failed_reask)):
        j = Journal(tmp_path, session)
        j.append([record])
        j.close()
    outcome, asked_with, tried, (file_no, _) = ledger(tmp_path)["a"]
    assert (outcome, asked_with, tried, file_no) == ("truncated_answer", 1000, 2500, 0)


def test_a_run_compacted_before_error_classes_were_recorded_still_reads(tmp_path):
    """Older journals lack `error_class` and `attempt_classes`, and so does their samples.parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from factory.store.journal import compact, samples_dataset
    from factory.store.records import SAMPLE_SCHEMA

    j = Journal(tmp_path, "20260101T000000-aaaaaa")
    j.append([full("a"), dict(full("b", "failed"), error="RateLimitError 429: x", attempts=2,
                              attempt_errors=["RateLimitError 429: x", "RateLimitError 429: x"])])
    j.close()
    compact(tmp_path)
    old = SAMPLE_SCHEMA.remove(SAMPLE_SCHEMA.get_field_index("attempt_classes"))
    old = old.remove(old.get_field_index("error_class"))
    table = pq.read_table(tmp_path / "samples.parquet").select(old.names)
    pq.write_table(table, tmp_path / "samples.parquet")  # as the older code wrote it; the journal is unchanged
    rows = {r["sample_id"]: r for r in samples_dataset(tmp_path).to_table().to_pylist()}
    assert samples_dataset(tmp_path).schema == SAMPLE_SCHEMA
    assert rows["b"]["error"] == "RateLimitError 429: x" and rows["b"]["error_class"] is None
    assert rows["a"]["attempt_classes"] is None and rows["a"]["outcome"] == "complete"
    assert pa.Table.from_pylist(list(rows.values()), schema=SAMPLE_SCHEMA).num_rows == 2
