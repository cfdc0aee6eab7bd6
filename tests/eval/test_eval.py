"""`factory eval`: pass@1 and pass@k through the teacher client, the journal and the verifier."""

import json
import signal
import subprocess
import sys

import openai
import pytest
import yaml

from factory.eval.config import load_eval_config
from factory.eval.results import score, table
from factory.eval.run import evaluate
from factory.executor import InProcessExecutor

from support.cli import ROOT, factory, free_port, wait_until_up

EVAL_SET = ROOT / "datasets" / "demo" / "eval.jsonl"
TOKENIZER = ROOT / "datasets" / "demo" / "tokenizer.json"


def write(tmp_path, rate_wrong=0.3, k=8, **changes):
    cfg = dict(name="eval-test", k=k,
               benchmarks=[{"name": "demo-eval", "kind": "jsonl", "path": str(EVAL_SET),
                            "fields": {"problem": "problem", "answer": "answer"}}],
               sampling={"temperature": 0.6, "top_p": 0.95, "max_tokens": 8192},
               model={"simulated": {"latency_ms": 1, "rate_wrong": rate_wrong, "rate_truncated": 0,
                                    "rate_duplicate": 0, "rate_429": 0, "rate_5xx": 0, "seed": 3},
                      "model": "sim-r1", "concurrency": 16},
               tokenizer={"name": str(TOKENIZER)}) | changes
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_pass_at_1_reproduces_the_simulated_models_accuracy(tmp_path):
    cfg = load_eval_config(write(tmp_path, rate_wrong=0.3))
    scores = evaluate(cfg, tmp_path / "out", "factory eval", executor=InProcessExecutor(2))
    s = scores["demo-eval"]
    assert s["problems"] == 40 and s["k"] == 8 and s["samples"] == 320 and s["missing"] == 0
    # 320 samples, each right with probability 0.7: 4 standard errors either way
    assert abs(s["pass@1"] - 0.7) < 4 * (0.7 * 0.3 / 320) ** 0.5
    assert s["pass@8"] >= s["pass@1"] and s["correct"] == round(s["pass@1"] * 320)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["models"]["sim-r1"]["benchmarks"]["demo-eval"]["pass@1"] == s["pass@1"]


def test_a_rerun_asks_nothing_and_the_table_keeps_earlier_models(tmp_path):
    out = tmp_path / "out"
    first = evaluate(load_eval_config(write(tmp_path, rate_wrong=0.0, k=2)), out, "e", executor=InProcessExecutor())
    run_dir = out / "runs" / "sim-r1" / "demo-eval"
    journals = sorted((run_dir / "journal").glob("*.jsonl"))
    again = evaluate(load_eval_config(write(tmp_path, rate_wrong=0.0, k=2)), out, "e", executor=InProcessExecutor())
    assert again["demo-eval"]["pass@1"] == first["demo-eval"]["pass@1"] == 1.0
    assert sorted((run_dir / "journal").glob("*.jsonl")) == journals  # every sample was in the journal
    other = write(tmp_path, rate_wrong=1.0, k=2, label="always-wrong")
    evaluate(load_eval_config(other), out, "e", executor=InProcessExecutor())
    md = (out / "results.md").read_text().splitlines()
    assert md[0] == "| model | demo-eval | avg |"
    assert "| always-wrong | 0.0 | 0.0 |" in md and "| sim-r1 | 100.0 | 100.0 |" in md


def test_scores_by_hand():
    s = score({"a": [True, False, False, True], "b": [False] * 4, "c": [True] * 4}, k=4, missing=1)
    assert s["pass@1"] == pytest.approx(6 / 12) and s["pass@4"] == pytest.approx(2 / 3)
    assert s["problems"] == 3 and s["correct"] == 6 and s["missing"] == 1
    rates = [0.5, 0.0, 1.0]
    assert s["stderr"] == pytest.approx((sum((r - 0.5) ** 2 for r in rates) / 2 / 3) ** 0.5, abs=1e-6)
    text = table({"models": {"m": {"benchmarks": {"x": {"pass@1": 0.25, "k": 4}, "y": {"pass@1": 0.5, "k": 4}}},
                             "n": {"benchmarks": {"x": {"pass@1": 1.0, "k": 4}}}}})
    assert "| m | 25.0 | 50.0 | 37.5 |" in text and "| n | 100.0 |  |  |" in text


def test_a_local_model_directory_is_served_and_evaluated(tmp_path):
    from factory.train.config import ModelInit, ModelSpec
    from factory.train.model import load_model, load_tokenizer

    from support.train import TINY

    spec = ModelSpec(init=ModelInit(config=TINY, tokenizer=str(TOKENIZER)))
    tokenizer = load_tokenizer(spec)
    model_dir = tmp_path / "student" / "final"
    load_model(spec, tokenizer, 0).save_pretrained(str(model_dir))
    tokenizer.save_pretrained(str(model_dir))
    config = write(tmp_path, k=1, sampling={"temperature": 0.6, "top_p": 0.95, "max_tokens": 8},
                   benchmarks=[{"name": "demo-eval", "kind": "jsonl", "path": str(EVAL_SET), "limit": 5,
                                "fields": {"problem": "problem", "answer": "answer"}}])
    result = factory("eval", config, "--out", tmp_path / "out", "--model-dir", model_dir, timeout=280)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "demo-eval: pass@1 0.0%" in result.stdout  # an untrained model: right by no chance
    from factory.eval.serve import weights_digest

    label = f"student/final@{weights_digest(model_dir)}"  # another checkpoint there would be another model
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    entry = results["models"][label]["benchmarks"]["demo-eval"]
    assert entry["problems"] == 5 and entry["missing"] == 0
    run_dir = tmp_path / "out" / "runs" / label.replace("/", "_").replace("@", "_") / "demo-eval"
    journal = [json.loads(line) for p in (run_dir / "journal").glob("*.jsonl") for line in p.read_text().splitlines()]
    assert len(journal) == 5 and all(r["completion_tokens"] <= 8 for r in journal)


def test_the_simulated_teacher_knows_an_eval_configs_answers(tmp_path):
    config = write(tmp_path, rate_wrong=0.0)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port), "--problems",
                             str(config), "--latency-ms", "0", "--rate-equivalent", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health")
        first = json.loads(EVAL_SET.read_text().splitlines()[0])
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0)
        reply = client.chat.completions.create(model="sim-r1", messages=[{"role": "user", "content": first["problem"]}])
        assert f"\\boxed{{{first['answer']}}}" in reply.choices[0].message.content
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert "knowing 40 answers" in proc.stderr.read()


def test_bad_eval_configs_are_one_line(tmp_path):
    path = write(tmp_path, samples=3)
    result = factory("eval", path, "--out", tmp_path / "out")
    assert result.returncode == 1 and "samples: unknown key" in result.stderr and result.stderr.count("\n") == 1
    both = write(tmp_path, model={"model": "m"})
    result = factory("validate", both)
    assert result.returncode == 1 and "set exactly one of" in result.stderr


def test_grading_is_deepscalers_the_last_boxed_answer(tmp_path):
    from factory.stages.judge.batch import judge_batch

    cfg = load_eval_config(write(tmp_path))
    long = "<think>\n" + "step " * 40000 + "\n</think>\n\n\\boxed{7}"  # far beyond 32k tokens, and right
    samples = [dict(sample_id=str(i), problem_id="p", messages=[{"role": "user", "content": "q"}], reasoning=None,
                    answer=text, finish_reason="stop", think_closed=True, outcome="complete")
               for i, text in enumerate(["The answer is 7.", "\\boxed{3} or maybe \\boxed{7}", long, "\\boxed{7}"])]
    verdicts = judge_batch(samples, {"p": "7"}, str(TOKENIZER), cfg.filters, 5.0).to_pylist()
    assert [(v["correct"], v["reason"]) for v in verdicts] == [
        (False, "no_answer"), (True, "correct"), (True, "correct"), (True, "correct")]
