"""Benchmark: a run against a naive rate-limiting proxy (N requests per fixed window, 429 with no Retry-After).

Reproduces the issue's measurement as a new user would meet it: `factory sim-teacher --window-requests 3
--window-s 60` in its own process stands for a proxy allowing 3 requests a minute in front of the model, and
`factory run` asks it for 8 samples (the demo pipeline, 2 problems x n=4) with the pipeline's defaults
(`max_attempts` 6, concurrency 256). The demo teacher's own 1% of random 429s and 5xx are off, so every
refusal is the proxy's. It prints the samples' final outcomes, the requests the server received
and how many it refused (429), the windows in which it accepted requests against the ideal ceil(samples /
N), and the span from the first request to the last answer against that of a perfect client that started
at the same moment: N requests at once, then N more at each window's start (so its last answer comes at
the start of window ceil(samples / N), plus one latency). Exits 1 when a sample is unaccounted for.

    python tests/bench/bench_ratelimit.py [--samples 8] [--window-requests 3] [--window-s 60] [--latency-ms 500]

At the defaults it takes about 3 minutes (two to three windows, plus Ray's start and the run's other stages).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

from bench_faults import ENV, ROOT, pipeline_copy  # tests/bench (the script's own folder)
from loopback import free_port, wait_up

from factory.store.journal import iter_records

DEMO = ROOT / "pipelines/demo.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=8, help="a multiple of 4 (the demo asks n=4 per problem)")
    ap.add_argument("--window-requests", type=int, default=3, help="requests the proxy accepts per window")
    ap.add_argument("--window-s", type=float, default=60.0)
    ap.add_argument("--latency-ms", type=float, default=500.0, help="the model's latency behind the proxy")
    ap.add_argument("--max-attempts", type=int, default=None, help="teacher.max_attempts (default: the pipeline's)")
    args = ap.parse_args()
    if args.samples % 4:
        raise SystemExit("--samples must be a multiple of 4 (the demo pipeline asks 4 samples per problem)")

    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port), "--problems", str(DEMO),
         "--latency-ms", str(args.latency_ms), "--window-requests", str(args.window_requests),
         "--window-s", str(args.window_s), "--record-times", "--rate-429", "0", "--rate-5xx", "0"],
        cwd=ROOT, env=ENV, stderr=subprocess.DEVNULL)
    try:
        wait_up(f"http://127.0.0.1:{port}/health")
        with tempfile.TemporaryDirectory() as tmp:
            teacher = {} if args.max_attempts is None else {"max_attempts": args.max_attempts}
            pipeline = pipeline_copy(Path(tmp), **teacher)
            run_dir = Path(tmp) / "run"
            started = time.time()
            run = subprocess.run(
                [sys.executable, "-m", "factory.cli", "run", str(pipeline), "--out", str(run_dir), "--limit",
                 str(args.samples // 4), "--teacher-url", f"http://127.0.0.1:{port}/v1", "--model", "sim-r1"],
                cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=3600)
            wall = time.time() - started
            stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())
            resolved = json.loads((run_dir / "config.resolved.json").read_text())["teacher"]
            lines = list(iter_records(run_dir))
    finally:
        sim.terminate()
        sim.wait()

    latest = {r["sample_id"]: r for r in lines}
    outcomes = Counter(r["outcome"] for r in latest.values())
    refused = stats["by_outcome"]["429"]
    # requests the proxy let through: the arrivals answered with something other than its 429
    held = zip(stats["arrived_at"], stats["answered_at"], strict=True)
    through = sorted(a for a, b in held if b - a >= args.latency_ms / 2e3)  # the proxy's 429s come back at once
    windows = len({math.floor(t / args.window_s) for t in through})
    ideal_windows = math.ceil(args.samples / args.window_requests)
    first, last = min(stats["arrived_at"]), max(stats["answered_at"])
    phase = first - math.floor(first / args.window_s) * args.window_s
    ideal_span = (ideal_windows - 1) * args.window_s - phase + args.latency_ms / 1e3

    print(f"proxy: {args.window_requests} requests per {args.window_s:g}s window, no Retry-After; "
          f"{args.samples} samples, max_attempts {resolved['max_attempts']}; factory run exited {run.returncode}")
    print("final outcomes: " + "  ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
          + f"  (failed {outcomes.get('failed', 0)})")
    print(f"requests at the server {stats['requests']}  refused 429 {refused}  accepted {len(through)}  "
          f"attempts in the journal {sum(r['attempts'] for r in lines)}")
    print(f"windows with accepted requests {windows}  ideal ceil({args.samples}/{args.window_requests}) = "
          f"{ideal_windows}  ratio {windows / ideal_windows:.2f}")
    print(f"span first request -> last answer {last - first:.1f}s  perfect client from the same start "
          f"{ideal_span:.1f}s  ratio {(last - first) / ideal_span:.2f}  (first request {phase:.1f}s into its window)")
    print(f"wall time of factory run {wall:.1f}s (Ray's start, verify and publish included)")
    if run.returncode != 0:
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
    if len(latest) != args.samples:
        sys.exit(1)


if __name__ == "__main__":
    main()
