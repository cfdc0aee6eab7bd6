"""Trace selection at publish: near-duplicate traces, k per problem by policy, the teacher's pass rate and its
filter; verdicts made by the real judge batch (verifier, tokenizer, MinHash), decisions by real DuckDB."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.config import FilterConfig, PublishConfig, SelectConfig, load_pipeline
from factory.stages.judge.batch import SLIM_FIELDS, judge_batch
from factory.stages.publish import stage as pub
from factory.stages.publish.traces import near_duplicates, pick, similarity
from factory.store.records import PROBLEM_SCHEMA, SAMPLE_SCHEMA

from support import runs as fx
from support.cli import DEMO

BASE = ("First I add the two numbers together carefully. Two plus three gives five because counting up "
        "from two by three steps lands on five. Let me double check by counting down: five minus three is "
        "two, which matches the first number. I could also picture two apples and three more apples on a "
        "table, and counting all of them gives five apples in total. So the sum is five and I am confident.")
NEAR = BASE.replace("I am confident", "I am sure")  # 5 of its 71 shingles differ: Jaccard about 0.87
OTHER = ("Think of a number line. Start at 2 and take 3 unit hops to the right, arriving at 5. Alternatively "
         "use the commutative law: 3 + 2 is the successor of the successor of the successor of 2, i.e. 5. "
         "Both methods agree on the total, hence the result is 5 with no doubt remaining at all here.")
SHORT = "2 + 3 = 5 by direct addition of small integers, nothing more to it."
SHORT_TOO = SHORT + " Done."  # 9 of its 10 shingles are SHORT's
HARD = "Which integer n with 0 < n < 10 satisfies $n^2 = 49$?"


@pytest.fixture(scope="module")
def tokenizer() -> str:
    return load_pipeline(DEMO).tokenizer.name


def judged_run(tokenizer: str) -> tuple[pa.Table, pa.Table, pa.Table]:
    """P_ADD: [0] BASE, [1] NEAR (a near copy of [0]), [2] OTHER, [3] SHORT, [4] wrong, [5] SHORT_TOO (a near
    copy of [3]); pass rate 5/6.
    HARD: [0] right, [1] wrong; pass rate 1/2. P_NOREF is never asked."""
    problems = pa.Table.from_pylist([fx.problem(fx.P_ADD, "5", row="0"), fx.problem(HARD, "7", row="1"),
                                     fx.problem(fx.P_NOREF, None, status="no_reference", row="2")],
                                    schema=PROBLEM_SCHEMA)
    texts = [BASE, NEAR, OTHER, SHORT, "Two plus three is six.", SHORT_TOO]
    samples = [fx.sample(fx.P_ADD, i, reasoning=t, answer=f"\\boxed{{{6 if i == 4 else 5}}}")
               for i, t in enumerate(texts)]
    samples += [fx.sample(HARD, 0, reasoning="7 squared is 49.", answer="\\boxed{7}"),
                fx.sample(HARD, 1, reasoning="8 squared is 49.", answer="\\boxed{8}")]
    slim = [{k: s[k] for k in SLIM_FIELDS} for s in samples]
    verdicts = judge_batch(slim, {fx.pid(fx.P_ADD): "5", fx.pid(HARD): "7"}, tokenizer, FilterConfig(), 5.0)
    return problems, pa.Table.from_pylist(samples, schema=SAMPLE_SCHEMA), verdicts


def publish(tmp_path, tokenizer, **select) -> pub.PublishResult:
    problems, samples, verdicts = judged_run(tokenizer)
    return pub.publish(tmp_path, run_id="run-1", pipeline="demo", tokenizer=tokenizer, problems=problems,
                       samples=samples, verdicts=verdicts, cfg=PublishConfig(select=SelectConfig(**select)))


def fates(result: pub.PublishResult, text: str = fx.P_ADD) -> dict[int, tuple]:
    """sample index -> (status, reason, duplicate_of as a sample index) for the samples of problem `text`."""
    index = {fx.sid(fx.pid(text), i): i for i in range(8)}
    return {index[r["sample_id"]]: (r["status"], r["reason"], index.get(r["duplicate_of"]))
            for r in result.outcomes.to_pylist() if r["sample_id"] in index}


def test_a_near_copy_of_an_earlier_trace_is_not_published_and_names_it(tmp_path, tokenizer):
    result = publish(tmp_path, tokenizer)
    assert fates(result) == {0: ("published", "correct", None), 1: ("rejected", "near_duplicate_trace", 0),
                             2: ("published", "correct", None), 3: ("published", "correct", None),
                             4: ("rejected", "wrong_answer", None), 5: ("rejected", "near_duplicate_trace", 3)}
    assert result.manifest.counts["rejected.near_duplicate_trace"] == 2
    assert "near_duplicate_trace" in (tmp_path / "README.md").read_text()


def test_near_duplicate_detection_can_be_turned_off(tmp_path, tokenizer):
    result = publish(tmp_path, tokenizer, near_duplicate=None)
    assert fates(result)[1] == fates(result)[5] == ("published", "correct", None)
    assert "rejected.near_duplicate_trace" not in result.manifest.counts


def test_shortest_keeps_the_k_traces_with_fewest_tokens(tmp_path, tokenizer):
    result = publish(tmp_path, tokenizer, k=1, policy="shortest")
    assert {i: f[1] for i, f in fates(result).items()} == {0: "not_selected", 1: "near_duplicate_trace",
                                                           2: "not_selected", 3: "correct", 4: "wrong_answer",
                                                           5: "near_duplicate_trace"}
    assert result.manifest.counts["rejected.not_selected"] == 2


def test_diverse_starts_from_the_shortest_and_adds_the_least_similar(tmp_path, tokenizer):
    # without near-duplicate rejection the two shortest are SHORT and its near copy: `shortest` keeps both,
    # `diverse` keeps SHORT, then the shortest of the traces sharing nothing with it (OTHER), then BASE or NEAR
    def kept(**select):
        return {i for i, f in fates(publish(tmp_path, tokenizer, near_duplicate=None, **select)).items()
                if f[0] == "published"}
    assert kept(k=2, policy="shortest") == {3, 5}
    assert kept(k=2, policy="diverse") == {3, 2}
    chosen = kept(k=3, policy="diverse")
    assert {2, 3} < chosen and len(chosen & {0, 1}) == 1


def test_pass_rate_is_a_column_of_the_rows_and_of_problems_parquet(tmp_path, tokenizer):
    publish(tmp_path, tokenizer)
    rows = pq.read_table(tmp_path / "data").to_pylist()
    stats = {(r["problem_id"], r["samples_judged"], r["samples_correct"], r["pass_rate"]) for r in rows}
    assert stats == {(fx.pid(fx.P_ADD), 6, 5, 5 / 6), (fx.pid(HARD), 2, 1, 0.5)}
    problems = pq.read_table(tmp_path / "problems.parquet")
    assert problems.schema == PROBLEM_SCHEMA
    got = {p["problem_id"]: (p["samples_judged"], p["pass_rate"]) for p in problems.to_pylist()}
    assert got == {fx.pid(fx.P_ADD): (6, 5 / 6), fx.pid(HARD): (2, 0.5), fx.pid(fx.P_NOREF): (None, None)}


def test_the_pass_rate_filter_publishes_nothing_of_problems_outside(tmp_path, tokenizer):
    result = publish(tmp_path, tokenizer, pass_rate=(0.25, 0.75))
    assert fates(result, HARD) == {0: ("published", "correct", None), 1: ("rejected", "wrong_answer", None)}
    assert {f[1] for f in fates(result).values()} == {"pass_rate_out_of_range", "wrong_answer"}
    assert result.manifest.counts["rejected.pass_rate_out_of_range"] == 5


def test_similarity_is_the_share_of_equal_values_and_zero_without_a_signature():
    a = np.arange(128, dtype="<u4")
    b = a.copy()
    b[:32] += 1000
    sim = similarity([a.tobytes(), b.tobytes(), None])
    assert sim[0, 1] == sim[1, 0] == 0.75 and sim[0, 2] == 0 and list(np.diag(sim)) == [1, 1, 1]


def test_near_duplicates_point_at_the_most_similar_earlier_kept_trace():
    sim = np.array([[1, .2, .9, .85], [.2, 1, .1, .95], [.9, .1, 1, .99], [.85, .95, .99, 1]])
    # [2] copies [0]; [3] is closest to [2] but [2] was dropped, so it copies [1] (0.95 > 0.85)
    assert near_duplicates(sim, 0.8) == {2: 0, 3: 1}
    assert near_duplicates(sim, 0.999) == {}


def test_pick_policies():
    sim = np.array([[1, .9, .1], [.9, 1, .5], [.1, .5, 1]])
    tokens = [300, 100, 200]
    assert pick([0, 1, 2], tokens, sim, 2, "shortest") == [1, 2]
    assert pick([0, 1, 2], tokens, sim, 2, "diverse") == [1, 2]  # from [1], [2] (0.5) beats [0] (0.9)
    assert pick([0, 2], tokens, sim, 1, "diverse") == [2]
    assert pick([0, 1, 2], tokens, sim, None, "diverse") == [0, 1, 2]
    assert pick([0, 1, 2], tokens, sim, 1, "all") == [0, 1, 2]


@pytest.mark.parametrize("select, message", [
    (dict(k=2), "k: 2 with policy: all"),
    (dict(pass_rate=(0.9, 0.1)), "pass_rate [0.9, 0.1] must be"),
    (dict(near_duplicate=1.5), "less than or equal to 1"),
])
def test_select_config_refuses_incoherent_values(select, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        SelectConfig(**select)
