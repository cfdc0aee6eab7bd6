"""Cost of counting `length` with the chat template, against the texts-only counts it replaced and the naive way.

Three ways to get a sample's prompt, reasoning, answer and templated length, on the same traces:
- texts (before): prompt, reasoning and answer each encoded on its own; no templated length at all;
- naive: those three encodes plus transformers' `apply_chat_template(tokenize=True)` on the conversation;
- ours (`Counter.lengths`): the conversation rendered and encoded once, reasoning and answer counted
  over their spans of it, plus the short templated prompt.
Prints samples/s for each and the ratios. Real long-CoT traces from ../shared/data when present
(Sky-T1's, median 7.4k characters), else synthetic ones of similar length.

    python tests/bench/bench_lengths.py [--samples 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from factory.stages.judge.tokens import TokenizerSource, count_tokens
from factory.store.records import assistant_turn

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "datasets" / "demo"
TRACES = ROOT.parent / "shared" / "data" / "traces_long_cot_skyt1.jsonl"


def traces(n: int) -> tuple[list[list[dict]], list[str], list[str], str]:
    if TRACES.is_file():
        rows = [json.loads(line) for line in TRACES.read_text().splitlines()]
        where = f"{TRACES.name} (real Sky-T1 traces)"
    else:
        rng = random.Random(0)
        words = "so we have the sum of x and y then divide by two which gives".split()
        rows = [{"question": f"Problem {i}: find x.", "response": " ".join(rng.choice(words) for _ in range(1500))}
                for i in range(200)]
        where = "synthetic traces (../shared absent)"
    rows = [rows[i % len(rows)] for i in range(n)]
    prompts = [[{"role": "user", "content": r["question"]}] for r in rows]
    reasonings = [r["response"] for r in rows]
    answers = ["The answer is $\\boxed{42}$." for _ in rows]
    return prompts, reasonings, answers, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    prompts, reasonings, answers, where = traces(args.samples)
    source = TokenizerSource.of(str(DEMO / "tokenizer.json"), chat_template=str(DEMO / "chat_template.jinja"))
    counter = source.load()
    batch = 256  # the judge stage's batches are of this order (verify.batch_size)

    def texts():
        for i in range(0, len(prompts), batch):
            for part in (["\n".join(m["content"] for m in p) for p in prompts[i:i + batch]],
                         reasonings[i:i + batch], answers[i:i + batch]):
                count_tokens(counter.tokenizer, part)

    def naive():
        texts()
        for i in range(0, len(prompts), batch):
            part = zip(prompts[i:i + batch], reasonings[i:i + batch], answers[i:i + batch], strict=True)
            convs = [[*p, {"role": "assistant", "content": assistant_turn(r, a)}] for p, r, a in part]
            counter.templated.apply_chat_template(convs, tokenize=True, return_dict=False)

    def ours():
        for i in range(0, len(prompts), batch):
            counter.lengths(prompts[i:i + batch], reasonings[i:i + batch], answers[i:i + batch])

    rates = {}
    for name, fn in (("texts only (before)", texts), ("naive templated", naive), ("ours", ours)):
        fn()  # warm
        started = time.perf_counter()
        fn()
        rates[name] = len(prompts) / (time.perf_counter() - started)
    print(f"{len(prompts)} samples of {where}, demo tokenizer + ChatML template, batches of {batch}")
    for name, rate in rates.items():
        print(f"  {name:<22} {rate:>9,.0f} samples/s")
    print(f"ours / texts only: {rates['ours'] / rates['texts only (before)']:.2f}x the rate "
          f"(the templated length costs {100 * (1 - rates['ours'] / rates['texts only (before)']):.0f}%)")
    print(f"ours / naive:      {rates['ours'] / rates['naive templated']:.2f}x")


if __name__ == "__main__":
    main()
