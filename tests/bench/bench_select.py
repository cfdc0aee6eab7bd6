"""Benchmark: what near-duplicate detection and trace selection cost, in the judge workers and at publish.

    python tests/bench/bench_select.py [--problems 5000] [--n 8] [--reasoning-chars 10000]

1. signature: MinHash of one reasoning text (word 5-grams, 128 permutations) in a judge worker, per trace
   and in MB/s, next to what the judge worker already spends on that sample: counting the trace's tokens
   (the demo's BPE tokenizer, batched) and verifying its answer.
2. publish: `publish()` of P problems x n accepted samples with `publish.select` off (exact dedup only)
   and on (near duplicates at 0.8, k=4 diverse), wall time and peak RSS of each in a fresh process, and
   the per-problem step (`traces.choose`) timed alone.
   A tenth of the traces are near copies of an earlier one (one word in a hundred changed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PUBLISH = r"""
import json, random, resource, sys, tempfile, time
import pyarrow as pa
sys.path[:0] = [sys.argv[5], sys.argv[5] + "/tests"]
from factory.config import PublishConfig, SelectConfig
from factory.stages.judge.minhash import signature
from factory.stages.publish.stage import publish
from factory.stages.publish.traces import choose
from factory.store.records import PROBLEM_SCHEMA, SAMPLE_SCHEMA, VERDICT_SCHEMA
from support import runs as fx

P, N, CHARS, SELECT = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
rng = random.Random(0)
words = [f"w{i}" for i in range(5000)]
problems, samples, verdicts = [], [], []
for k in range(P):
    text = f"Problem {k}: what is {k} + {k}?"
    problems.append(fx.problem(text, str(2 * k), row=str(k)))
    traces = []
    for i in range(N):
        if i and rng.random() < 0.1:  # a near copy of an earlier trace
            trace = [w if rng.random() > 0.01 else rng.choice(words) for w in rng.choice(traces)]
        else:
            trace = [rng.choice(words) for _ in range(CHARS // 6)]
        traces.append(trace)
        s = fx.sample(text, i, reasoning=" ".join(trace), answer=f"\\boxed{{{2 * k}}}")
        v = fx.verdict(s, correct=True, reason="correct", predicted=str(2 * k), total=300 + rng.randrange(5000))
        v["minhash"] = signature(s["reasoning"])
        samples.append(s)
        verdicts.append(v)
tables = (pa.Table.from_pylist(problems, schema=PROBLEM_SCHEMA), pa.Table.from_pylist(samples, schema=SAMPLE_SCHEMA),
          pa.Table.from_pylist(verdicts, schema=VERDICT_SCHEMA))
del problems, samples, verdicts
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with tempfile.TemporaryDirectory() as out:
    started = time.perf_counter()
    result = publish(out, run_id="bench", pipeline="bench", tokenizer="bench", problems=tables[0],
                     samples=tables[1], verdicts=tables[2], cfg=PublishConfig(select=SelectConfig(**SELECT)))
    seconds = time.perf_counter() - started
started = time.perf_counter()  # the per-problem step alone (verdicts are already in problem, sample order)
if SELECT.get("near_duplicate"):
    choose(tables[2].select(["sample_id", "problem_id", "length", "minhash"]).to_batches(4096),
           SelectConfig(**SELECT))
print(json.dumps(dict(seconds=seconds, choose_s=time.perf_counter() - started,
                      peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      inputs_mb=base, counts=result.manifest.counts)))
"""


def bench_signature(chars: int, repeats: int = 200) -> None:
    import random

    from factory.stages.judge.minhash import signature
    from factory.stages.judge.tokens import count_tokens, load_tokenizer
    from factory.verify import prepare_reference, verify_prepared

    rng = random.Random(0)
    texts = [" ".join(f"w{rng.randrange(5000)}" for _ in range(chars // 6)) for _ in range(repeats)]
    started = time.perf_counter()
    for t in texts:
        signature(t)
    per_trace = (time.perf_counter() - started) / repeats
    ref = prepare_reference("\\frac{5}{6}")
    started = time.perf_counter()
    for _ in range(repeats):
        verify_prepared(ref, "so the answer is $\\boxed{\\dfrac{10}{12}}$", timeout_s=5.0)
    verify = (time.perf_counter() - started) / repeats
    tok = load_tokenizer(str(ROOT / "datasets" / "demo" / "tokenizer.json"), None)
    started = time.perf_counter()
    count_tokens(tok, texts)
    tokens = (time.perf_counter() - started) / repeats
    mb = sum(map(len, texts)) / 2**20
    print(f"signature: {per_trace * 1e3:.2f} ms per {chars}-char trace ({mb / (per_trace * repeats):.1f} MB/s); "
          f"the judge's other work on it: tokens {tokens * 1e3:.2f} ms, verifying the answer {verify * 1e3:.2f} ms")


def bench_publish(problems: int, n: int, chars: int) -> None:
    for label, select in (("select off", dict(near_duplicate=None)),
                          ("near_duplicate 0.8, k=4 diverse", dict(near_duplicate=0.8, k=4, policy="diverse"))):
        out = subprocess.run([sys.executable, "-c", _PUBLISH, str(problems), str(n), str(chars), json.dumps(select),
                              str(ROOT)],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rejected = {k: v for k, v in r["counts"].items() if k.startswith("rejected.")}
        print(f"publish, {label}: {r['seconds']:.1f} s (the per-problem step alone: {r['choose_s']:.2f} s), "
              f"peak RSS {r['peak_mb']:.0f} MB "
              f"(inputs in memory {r['inputs_mb']:.0f} MB), published {r['counts']['published']}, {rejected}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", type=int, default=5000)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--reasoning-chars", type=int, default=10000)
    args = ap.parse_args()
    bench_signature(args.reasoning_chars)
    bench_publish(args.problems, args.n, args.reasoning_chars)


if __name__ == "__main__":
    main()
