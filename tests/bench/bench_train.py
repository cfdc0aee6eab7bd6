"""Training speed on this machine: SFT tokens/s with and without packing, and where a GRPO step's time goes.

    python tests/bench/bench_train.py [--problems 200] [--sft-steps 30] [--grpo-steps 4] [--hidden 128]

Builds a demo run in-process (the simulated teacher, no Ray), then:

- SFT: the same student (Qwen2-shaped, `--hidden` wide, built from a config with the demo's tokenizer) trains
  `--sft-steps` steps on the run's rows up to 2048 tokens, once padded to the longest row of each batch and
  once packed into 2048-token blocks; tokens/s counts real (non-pad) tokens, as TRL's `num_tokens` does.
- GRPO: `--grpo-steps` steps of 8 completions of up to 256 tokens; each step's wall time is split into
  generation (`_generate`), reward (`_calculate_rewards`: the verifier) and the rest (log-probabilities,
  loss, backward, optimizer: "update"). The verifier must stay under 5% of a step. Because the small
  student's completions are short and rarely boxed, the verifier's cost is also measured on the run's
  real teacher traces and set against the measured generation time per completion.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def demo_run(out: Path, problems: int) -> Path:
    from factory.config import load_pipeline
    from factory.executor import InProcessExecutor
    from factory.runner import Overrides, run_pipeline

    cfg = Overrides(limit=problems, concurrency=64).apply(load_pipeline(ROOT / "pipelines" / "demo.yaml"))
    cfg.teacher.simulated = cfg.teacher.simulated.model_copy(update=dict(latency_ms=1, rate_429=0, rate_5xx=0))
    run_pipeline(cfg, out, "bench", executor=InProcessExecutor(workers=2))
    return out


def student(hidden: int) -> dict:
    return {"init": {"config": dict(model_type="qwen2", hidden_size=hidden, intermediate_size=2 * hidden,
                                    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                    max_position_embeddings=4096),
                     "tokenizer": str(ROOT / "datasets" / "demo" / "tokenizer.json")}}


def bench_sft(run: Path, tmp: Path, steps: int, hidden: int) -> None:
    from factory.train.config import TrainConfig
    from factory.train.run import train

    results = {}
    for packing in (False, True):
        cfg = TrainConfig.model_validate(dict(
            name=f"bench-{packing}", method="sft", data=[{"run": str(run)}], model=student(hidden), packing=packing,
            stages=[{"max_length": 2048, "max_steps": steps}], per_device_train_batch_size=4, logging_steps=1,
            learning_rate=1e-3))
        out = tmp / f"sft-{packing}"
        train(cfg, out, "bench")
        results[packing] = json.loads((out / "training.json").read_text())
    print("\n== SFT on CPU: tokens/s with and without packing ==")
    for packing, record in results.items():
        stage = record["stages"][0]
        print(f"packing={packing!s:<5}  steps {stage['steps']}  wall {stage['wall_s']:.1f}s  "
              f"tokens/s {stage['tokens_per_s']:.0f}  (real tokens {stage['tokens']:.0f})")
    plain, packed = (results[p]["stages"][0]["tokens_per_s"] for p in (False, True))
    print(f"packing / padding: {packed / plain:.2f}x tokens/s")


def bench_grpo(run: Path, tmp: Path, steps: int, hidden: int) -> None:
    import statistics

    from factory.train.config import TrainConfig
    from factory.train.grpo import reward_functions, train_stage
    from factory.train.model import load_model, load_tokenizer
    from factory.train.prompts import grpo_prompts

    cfg = TrainConfig.model_validate(dict(
        name="bench-grpo", method="grpo", data=[{"run": str(run)}], model=student(hidden),
        stages=[{"max_length": 256, "max_steps": steps}], num_generations=4, per_device_train_batch_size=8,
        learning_rate=1e-5, beta=0.001))
    tokenizer = load_tokenizer(cfg.model)
    prompts, _, _ = grpo_prompts(cfg, tokenizer)
    spent = {"generation": 0.0, "reward": 0.0, "step": 0.0}
    from trl import GRPOTrainer

    def timed(name, method):
        def wrapper(self, *args, **kwargs):
            t = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t
        return wrapper

    timed_methods = {"_generate": "generation", "_calculate_rewards": "reward", "training_step": "step"}
    originals = {m: getattr(GRPOTrainer, m) for m in timed_methods}
    for method, original in originals.items():
        setattr(GRPOTrainer, method, timed(timed_methods[method], original))
    funcs, weights = reward_functions(cfg, record=True)
    base = tmp / "grpo-base"  # on disk: with a KL term GRPO loads its reference model from the policy's path
    load_model(cfg.model, tokenizer, 0).save_pretrained(str(base))
    model = load_model(cfg.model, tokenizer, 0, checkpoint=str(base))
    try:
        trainer = train_stage(cfg, 1, model, tokenizer, prompts, tmp / "grpo", rewards=(funcs, weights))
    finally:
        for method, original in originals.items():
            setattr(GRPOTrainer, method, original)
    total = spent["step"]
    update = total - spent["generation"] - spent["reward"]
    completions = len(funcs[0].seen)
    print(f"\n== GRPO step on CPU: {trainer.state.global_step} steps, {completions} completions of up to 256 tokens ==")
    for name, value in (("generation", spent["generation"]), ("reward (verifier)", spent["reward"]),
                        ("update (logprobs, loss, backward, optimizer)", update)):
        print(f"{name:<46} {value:7.2f}s  {100 * value / total:5.1f}% of the steps' {total:.2f}s")
    lengths = [len(text) for _, text, _ in funcs[0].seen]
    print(f"completions: mean {statistics.mean(lengths):.0f} characters, {sum(r for *_, r in funcs[0].seen):.0f} "
          "rewarded")
    # the verifier on real teacher traces: what it costs when completions are long and boxed
    import pyarrow.parquet as pq

    from factory.train.rewards import AccuracyReward

    samples = pq.read_table(run / "samples.parquet", columns=["problem_id", "reasoning", "answer"]).to_pylist()
    refs = {p["problem_id"]: p["reference_answer"] for p in pq.read_table(run / "problems.parquet").to_pylist()}
    texts = [(refs[s["problem_id"]], f"<think>\n{s['reasoning'] or ''}\n</think>\n\n{s['answer'] or ''}")
             for s in samples if refs.get(s["problem_id"])]
    reward = AccuracyReward()
    t = time.perf_counter()
    scores = [reward.score(ref, text) for ref, text in texts]
    per = (time.perf_counter() - t) / len(texts)
    generation_per = spent["generation"] / completions
    print(f"verifier on {len(texts)} real teacher traces (mean {statistics.mean(len(x) for _, x in texts):.0f} "
          f"characters): {1e3 * per:.2f} ms each, {100 * statistics.mean(scores):.0f}% rewarded; generation here: "
          f"{1e3 * generation_per:.1f} ms per completion -> the verifier would be "
          f"{100 * per / (per + generation_per):.2f}% of generation + verification")
    share = spent["reward"] / total
    print(f"verifier share of a step: {100 * share:.2f}% (target under 5%): {'ok' if share < 0.05 else 'OVER'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=200)
    ap.add_argument("--sft-steps", type=int, default=30)
    ap.add_argument("--grpo-steps", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=128)
    args = ap.parse_args()
    from factory.train.args import silence_libraries

    silence_libraries()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = demo_run(tmp / "run", args.problems)
        bench_sft(run, tmp, args.sft_steps, args.hidden)
        bench_grpo(run, tmp, args.grpo_steps, args.hidden)


if __name__ == "__main__":
    main()
