import json

from factory.journal import Journal, iter_records, latest_records


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
