"""`factory status` cost figures, per endpoint and for the run, from a small journal priced by hand."""

import json

import pytest

from factory.config import PipelineConfig, PriceConfig
from factory.report.status import collect, render
from factory.store.journal import Journal

API, GPU = "http://api/v1", "http://gpu/v1"
S1, S2 = "20260101T000000-aaaaaa", "20260102T000000-bbbbbb"


def rec(sid, endpoint, session, start, end, prompt=None, completion=None, reasoning=None, attempts=1,
        outcome="complete"):
    return {"sample_id": sid, "problem_id": "p", "sample_index": 0, "session_id": session, "model": "m",
            "endpoint": endpoint, "messages": [{"role": "user", "content": "q"}],
            "sampling": json.dumps({"max_tokens": 10}), "prompt_template_hash": "h", "attempts": attempts,
            "outcome": outcome, "error": "RateLimitError 429: slow down" if outcome == "failed" else None,
            "finish_reason": "stop", "reasoning": "r", "answer": "a", "reasoning_source": "think_tags",
            "think_closed": True, "prompt_tokens": prompt, "completion_tokens": completion,
            "reasoning_tokens": reasoning, "started_at": start, "finished_at": end, "latency_s": end - start}


@pytest.fixture
def run_dir(tmp_path):
    cfg = PipelineConfig.model_validate(dict(
        name="t", sources=[{"name": "a", "kind": "jsonl", "path": "x.jsonl"}], tokenizer={"name": "t.json"},
        teacher={"base_url": API, "model": "m"}))
    (tmp_path / "run.json").write_text(json.dumps({"run_id": "r1", "pipeline": "t"}))
    (tmp_path / "config.resolved.json").write_text(json.dumps(cfg.stored()))
    (tmp_path / "prices.json").write_text(json.dumps({
        API: PriceConfig(input_per_mtok=2.0, output_per_mtok=10.0).model_dump(),
        GPU: PriceConfig(gpu_hour=2.0).model_dump()}))
    (tmp_path / "manifest.json").write_text(json.dumps({"counts": {"published": 3, "rejected_wrong_answer": 1},
                                                        "shards": [{"path": "data/a.parquet", "rows": 3}]}))
    j = Journal(tmp_path, S1)
    j.append([rec("a1", API, S1, 0, 10, prompt=1000, completion=5000, reasoning=4000),
              rec("a2", API, S1, 5, 20, prompt=1000, completion=3000, attempts=2),  # no reasoning count
              rec("a3", API, S1, 0, 30, attempts=3, outcome="failed"),
              # more reasoning than completion (a server's odd count): its answer is 0, not negative
              rec("g1", GPU, S1, 0, 1800, prompt=500, completion=2000, reasoning=2500)],
             started=["a1", "a2", "a3", "g1", "lost"])
    j.close()
    j = Journal(tmp_path, S2)
    j.append([rec("g2", GPU, S2, 5000, 5900, prompt=500, completion=1000, reasoning=600)])
    j.close()
    return tmp_path


def test_status_shows_tokens_by_kind_and_dollars_per_endpoint_and_per_published_sample(run_dir):
    status = collect(run_dir)
    # api: tokens 2000 x $2/M + 8000 x $10/M = $0.084; answer = (5000-4000) + 3000 (no reasoning count) + 0;
    # used from t=0 to t=30 (30 s = 0.0083 h, at no GPU-hour price)
    assert status["endpoints"][API] == dict(samples=3, attempts=6, prompt_tokens=2000, reasoning_tokens=4000,
                                            answer_tokens=4000, completion_tokens=8000, gpu_hours=0.0083, usd=0.084)
    # gpu: 1800 s in session 1 + 900 s in session 2 = 0.75 h x $2; answer = max(2000-2500, 0) + (1000-600)
    assert status["endpoints"][GPU] == dict(samples=2, attempts=2, prompt_tokens=1000, reasoning_tokens=3100,
                                            answer_tokens=400, completion_tokens=3000, gpu_hours=0.75, usd=1.5)
    assert status["cost"] == dict(requests=8, lost_requests=1, prompt_tokens=3000, reasoning_tokens=7100,
                                  answer_tokens=4400, completion_tokens=11000, gpu_hours=0.7583, usd=1.584,
                                  published=3, usd_per_published=0.528)
    assert status["reasoning_unreported"] == 1
    text = render(status).splitlines()
    assert "  tokens    prompt=3000  reasoning=7100  answer=4400  completion=11000" in text
    assert ("  cost      requests=8  lost_requests=1  gpu_hours=0.7583  usd=1.584  published=3  "
            "usd_per_published=0.528") in text
    table = text[text.index("  tokens    prompt=3000  reasoning=7100  answer=4400  completion=11000") + 2:][:3]
    assert table == [
        "  endpoint       samples  attempts  prompt  reasoning  answer  gpu_hours     usd",
        "  http://api/v1        3         6    2000       4000    4000     0.0083  0.0840",
        "  http://gpu/v1        2         2    1000       3100     400     0.7500  1.5000"]
    assert "1 replies came with no reasoning token count" in text[-1]


def test_nothing_published_yet_gives_no_dollars_per_sample(run_dir):
    (run_dir / "manifest.json").unlink()
    status = collect(run_dir)
    assert status["cost"]["usd"] == 1.584 and status["cost"]["published"] == 0
    assert status["cost"]["usd_per_published"] is None and "usd_per_published=None" in render(status)
