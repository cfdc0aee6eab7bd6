"""A pool of teacher endpoints from the pipeline file (`teacher.endpoints`), through the CLI."""

import duckdb
import pytest

from factory.config import load_pipeline
from factory.stages.sources import load_problems

from support.cli import DEMO, factory, pipeline_copy

pytestmark = pytest.mark.e2e
KEY_A, KEY_B = "sk-pool-a-secret-111", "sk-pool-b-secret-222"


def test_endpoints_from_the_pipeline_share_the_work_by_weight_and_are_costed_each(tmp_path, clean_sim):
    table = load_problems(load_pipeline(DEMO))
    answers = dict(zip(table["problem"].to_pylist(), table["reference_answer"].to_pylist(), strict=True))
    out = tmp_path / "run"
    with clean_sim(answers, latency_ms=50) as a, clean_sim(answers, latency_ms=50) as b:
        endpoints = [
            {"url_env": "POOL_A_URL", "api_key_env": "POOL_A_KEY",
             "price": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}},
            {"url": b.base_url, "weight": 3, "price": {"gpu_hour": 7.0}},  # key: teacher.api_key_env
        ]
        pipeline = pipeline_copy(tmp_path, simulated=None, endpoints=endpoints, api_key_env="POOL_B_KEY",
                                 concurrency=16)
        env = {"POOL_A_URL": a.base_url, "POOL_A_KEY": KEY_A, "POOL_B_KEY": KEY_B}
        result = factory("run", pipeline, "--out", out, "--limit", 30, env=env)
        assert result.returncode == 0, result.stderr
        served_a, served_b = a.stats()["requests"], b.stats()["requests"]
    assert served_a + served_b == 120 and served_b > served_a > 0  # least loaded per unit of weight
    con = duckdb.connect(str(out / "provenance.duckdb"), read_only=True)
    rows = {e: (samples, usd, hours) for e, samples, usd, hours in con.execute(
        "SELECT endpoint, samples, usd, gpu_hours FROM endpoint_costs").fetchall()}
    assert rows[a.base_url][0] == served_a and rows[b.base_url][0] == served_b
    prompt, completion, reasoning, answer = con.execute(
        "SELECT prompt_tokens, completion_tokens, reasoning_tokens, answer_tokens FROM endpoint_costs "
        "WHERE endpoint = ?", [a.base_url]).fetchone()
    assert 0 < reasoning < completion and answer == completion - reasoning
    assert rows[a.base_url][1] == pytest.approx((prompt * 1.0 + completion * 2.0) / 1e6)
    assert rows[b.base_url][1] == pytest.approx(rows[b.base_url][2] * 7.0) and rows[b.base_url][2] > 0
    written = b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert KEY_A.encode() not in written and KEY_B.encode() not in written


def test_an_endpoint_whose_url_variable_is_unset_is_named_in_one_line(tmp_path):
    pipeline = pipeline_copy(tmp_path, simulated=None, endpoints=[{"url_env": "POOL_UNSET_URL"}])
    result = factory("run", pipeline, "--out", tmp_path / "run", "--limit", 2)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "POOL_UNSET_URL" in lines[0] and "export" in lines[0]
    assert not (tmp_path / "run").exists()
