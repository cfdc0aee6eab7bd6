"""Benchmark: teacher-stage throughput against the ideal rate.

Starts `factory sim-teacher` in its own process (2 s latency, no faults), runs `factory run` against
it with 512 requests in flight, and prints achieved requests/s over the ideal (in flight / latency),
measured at the server between its first and last request, plus the driver's peak memory.

    python tests/bench/bench_throughput.py [--requests 6000] [--concurrency 512] [--latency-ms 2000]
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from loopback import free_port, wait_up  # tests/bench/loopback.py (the script's own folder)

ROOT = Path(__file__).resolve().parents[2]


def idle_shares(arrived: list[float], answered: list[float], concurrency: int, latency_s: float) -> dict:
    """Where the slot-time went idle, as shares of concurrency x span (the ratio is 1 minus their sum,
    give or take the jitter in the server's holds).

    ramp: the first `latency` after the first request (slots not yet filled); tail: from `latency`
    before the last request to the end (workers running dry, then the unavoidable drain); steady:
    between them (the turnaround between an answer and the next request).
    """
    t0, last = min(arrived), max(arrived)  # listed in the order answered, not arrived
    end = last + latency_s
    edges = ((t0, t0 + latency_s, "ramp"),
             (t0 + latency_s, last - latency_s, "steady"),
             (last - latency_s, end, "tail"))
    events = sorted([(t, 1) for t in arrived] + [(t, -1) for t in answered])
    idle = dict.fromkeys(("ramp", "steady", "tail"), 0.0)
    busy, prev = 0, t0
    for t, step in [*events, (end, 0)]:
        t = min(t, end)
        for lo, hi, phase in edges:
            span = min(t, hi) - max(prev, lo)
            if span > 0:
                idle[phase] += (concurrency - busy) * span
        busy, prev = busy + step, max(prev, t)
    total = concurrency * (end - t0)
    return {phase: seconds / total for phase, seconds in idle.items()}


def zero_overhead_ratio(requests: int, concurrency: int, latency_s: float, seed: int = 0) -> float:
    """The score of a client that costs nothing, under this formula and the simulated teacher's jitter.

    The teacher sleeps latency x uniform(0.9, 1.1), so even a perfect client's last request starts
    after the slowest chain of replies: the ceiling is below 1.
    """
    rng = random.Random(seed)
    finishing = [latency_s * rng.uniform(0.9, 1.1) for _ in range(min(concurrency, requests))]
    heapq.heapify(finishing)
    last_start = 0.0
    for _ in range(requests - len(finishing)):
        last_start = heapq.heappop(finishing)  # a slot frees and is refilled at once
        heapq.heappush(finishing, last_start + latency_s * rng.uniform(0.9, 1.1))
    return requests / (last_start + latency_s) / (concurrency / latency_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--concurrency", type=int, default=512)
    ap.add_argument("--latency-ms", type=float, default=2000)
    ap.add_argument("--n", type=int, default=4, help="samples per problem")
    args = ap.parse_args()

    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port), "--problems",
         str(ROOT / "pipelines/demo.yaml"), "--latency-ms", str(args.latency_ms), "--rate-429", "0",
         "--rate-5xx", "0", "--rate-truncated", "0", "--record-times"], cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_up(f"http://127.0.0.1:{port}/health")
        with tempfile.TemporaryDirectory() as tmp:
            limit = -(-args.requests // args.n)
            started = time.time()
            run = subprocess.run(
                [sys.executable, "-m", "factory.cli", "run", str(ROOT / "pipelines/demo.yaml"), "--out",
                 f"{tmp}/run", "--limit", str(limit), "--teacher-url", f"http://127.0.0.1:{port}/v1",
                 "--model", "sim-r1", "--concurrency", str(args.concurrency)],
                cwd=ROOT, capture_output=True, text=True)
            wall = time.time() - started
            if run.returncode != 0:
                raise SystemExit(run.stderr)
        stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())
    finally:
        sim.terminate()
        sim.wait()
    span = stats["last_request_at"] - stats["first_request_at"] + args.latency_ms / 1000
    rate = stats["completions"] / span
    ideal = args.concurrency / (args.latency_ms / 1000)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"requests {stats['requests']}  completions {stats['completions']}  max in flight {stats['max_in_flight']}")
    ceiling = zero_overhead_ratio(stats["completions"], args.concurrency, args.latency_ms / 1000)
    print(f"achieved {rate:.1f} req/s  ideal {ideal:.1f} req/s  ratio {rate / ideal:.3f}  "
          f"(a zero-overhead client would score {ceiling:.3f} under this teacher's latency jitter)")
    ours = idle_shares(stats["arrived_at"], stats["answered_at"], args.concurrency, args.latency_ms / 1000)
    print("idle slot-time, share of concurrency x span: " + "  ".join(f"{k} {v:.4f}" for k, v in ours.items())
          + f"  (a zero-overhead client: tail about {1 - ceiling:.4f}, the rest 0)")
    held = [b - a for a, b in zip(stats["arrived_at"], stats["answered_at"], strict=False)]
    print(f"mean time the server held a request {sum(held) / len(held):.3f}s "
          f"(configured {args.latency_ms / 1000:g}s x uniform(0.9, 1.1))")
    print(f"whole `factory run` wall {wall:.1f}s  peak RSS of the largest child process {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
