"""Smoke agreement with the Qwen2.5-Math grader labels on shared real traces (skipped without data)."""

import json
from pathlib import Path

import pytest

from factory.verify import verify

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "traces_short_cot_qwen_gemma.jsonl"


@pytest.mark.shared
@pytest.mark.skipif(not DATA.exists(), reason="../shared/data is absent")
def test_agreement_with_reference_grader():
    rows = [json.loads(line) for line in DATA.open()][:600]
    agree = 0
    for row in rows:
        v = verify(str(row["gt"]), row["response"], timeout_s=2.0)
        agree += v.correct == bool(row["correct"])
    rate = agree / len(rows)
    print(f"agreement with reference grader: {agree}/{len(rows)} = {rate:.3f}")
    assert rate > 0.8
