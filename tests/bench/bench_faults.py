"""Benchmark: a run against a faulty teacher completes, accounts for every sample, and says what retries saved.

Starts `factory sim-teacher` in its own process with 20% 5xx, 10% 429 with Retry-After, 5% timeouts
(requests held for --hang-s, longer than the pipeline's teacher timeout) and 2% malformed bodies, runs
`factory run` once against it with a copy of the demo pipeline whose `teacher.timeout_s` is short, and
prints the final outcome of every sample, the share of samples that hit a fault and were recovered by
retries, those that failed after all retries, the requests the server received against the attempts
the journal records (they must match), the server's outcome counts and the wall time. Exits 1 when a
sample is unaccounted for, a published id repeats, the request counts differ, or the run fails.

    python tests/bench/bench_faults.py [--limit 250] [--concurrency 128] [--timeout-s 3] [--hang-s 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import yaml
from loopback import free_port, wait_up  # tests/bench/loopback.py (the script's own folder)

from factory.store.journal import iter_records

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "pipelines/demo.yaml"
ENV = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # never a cluster


def pipeline_copy(directory: Path, **teacher: object) -> Path:
    """The demo pipeline with absolute paths and some teacher keys replaced."""
    cfg = yaml.safe_load(DEMO.read_text())
    for src in cfg["sources"] + cfg["decontaminate"]:
        src["path"] = str((DEMO.parent / src["path"]).resolve())
    for key in ("name", "chat_template"):
        cfg["tokenizer"][key] = str((DEMO.parent / cfg["tokenizer"][key]).resolve())
    cfg["teacher"].update(teacher)
    path = directory / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=250, help="problems (the demo asks 4 samples each)")
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--latency-ms", type=float, default=200)
    ap.add_argument("--rate-5xx", type=float, default=0.20)
    ap.add_argument("--rate-429", type=float, default=0.10)
    ap.add_argument("--rate-timeout", type=float, default=0.05)
    ap.add_argument("--rate-malformed", type=float, default=0.02)
    ap.add_argument("--timeout-s", type=float, default=3.0, help="the pipeline's teacher.timeout_s")
    ap.add_argument("--hang-s", type=float, default=10.0, help="how long a simulated timeout holds a request")
    ap.add_argument("--max-attempts", type=int, default=None, help="teacher.max_attempts (default: the pipeline's)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.hang_s <= args.timeout_s:
        raise SystemExit("--hang-s must be longer than --timeout-s, or simulated timeouts are just slow answers")

    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port), "--problems", str(DEMO),
         "--latency-ms", str(args.latency_ms), "--rate-5xx", str(args.rate_5xx), "--rate-429", str(args.rate_429),
         "--rate-timeout", str(args.rate_timeout), "--rate-malformed", str(args.rate_malformed),
         "--hang-s", str(args.hang_s), "--seed", str(args.seed)], cwd=ROOT, env=ENV, stderr=subprocess.DEVNULL)
    try:
        wait_up(f"http://127.0.0.1:{port}/health")
        with tempfile.TemporaryDirectory() as tmp:
            teacher = {"timeout_s": args.timeout_s}
            if args.max_attempts is not None:
                teacher["max_attempts"] = args.max_attempts
            pipeline = pipeline_copy(Path(tmp), **teacher)
            run_dir = Path(tmp) / "run"
            started = time.time()
            run = subprocess.run(
                [sys.executable, "-m", "factory.cli", "run", str(pipeline), "--out", str(run_dir), "--limit",
                 str(args.limit), "--teacher-url", f"http://127.0.0.1:{port}/v1", "--model", "sim-r1",
                 "--concurrency", str(args.concurrency)],
                cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=900)
            wall = time.time() - started
            if run.returncode != 0:
                raise SystemExit(f"factory run exited {run.returncode}:\n{run.stdout}\n{run.stderr}")
            stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())

            resolved = json.loads((run_dir / "config.resolved.json").read_text())["teacher"]
            problems = pq.read_table(run_dir / "problems.parquet", columns=["problem_id", "status"]).to_pylist()
            expected = {(p["problem_id"], i) for p in problems if p["status"] == "ok" for i in range(resolved["n"])}
            lines = list(iter_records(run_dir))
            latest = {r["sample_id"]: r for r in lines}
            ids = Counter()
            for shard in sorted((run_dir / "data").rglob("*.parquet")):  # data/8k/, data/16k/, ...
                ids.update(pq.read_table(shard, columns=["id"]).column("id").to_pylist())
            con = duckdb.connect(str(run_dir / "provenance.duckdb"), read_only=True)
            outcomes = dict(con.sql("SELECT sample_id, status FROM outcomes").fetchall())
            reasons = Counter(dict(con.sql("SELECT status || '.' || reason, count(*) FROM outcomes GROUP BY ALL")
                                   .fetchall()))
            db_requests = con.sql("SELECT count(*), sum(attempts) FROM requests").fetchall()[0]
            con.close()
    finally:
        sim.terminate()
        sim.wait()

    journaled = {(r["problem_id"], r["sample_index"]) for r in latest.values()}
    # every expected sample has a journal record whose outcome the run then published or rejected
    unaccounted = expected - journaled
    unaccounted |= {(r["problem_id"], r["sample_index"]) for r in latest.values()
                    if outcomes.get(r["sample_id"]) not in ("published", "rejected")}
    by_class = Counter(r["outcome"] for r in latest.values())
    failed = by_class.get("failed", 0)
    hit_fault = [r for r in latest.values() if r["attempts"] > 1 or r["outcome"] == "failed"]
    recovered = [r for r in hit_fault if r["outcome"] != "failed"]
    attempts = sum(r["attempts"] for r in lines)
    duplicates = sum(c - 1 for c in ids.values() if c > 1)
    faults = {k: stats["by_outcome"][k] for k in ("5xx", "429", "timeout", "malformed", "bad_request")}

    print(f"samples expected {len(expected)}  journaled {len(latest)}  journal lines {len(lines)}  "
          f"published rows {sum(ids.values())}  duplicate ids {duplicates}  unaccounted {len(unaccounted)}")
    print("final outcomes (journal): " + "  ".join(f"{k} {v}" for k, v in sorted(by_class.items())))
    print("final outcomes (provenance): " + "  ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    share = len(recovered) / len(hit_fault) if hit_fault else 0.0
    print(f"hit a fault {len(hit_fault)}  recovered by retries {len(recovered)} ({share:.1%} of those)  "
          f"failed after all {resolved['max_attempts']} attempts {failed}  "
          f"retry attempts {attempts - len(lines)}")
    match = "match" if stats["requests"] == attempts else "MISMATCH"
    print(f"requests at the server {stats['requests']}  attempts in the journal {attempts}  "
          f"(provenance: {db_requests[1]} over {db_requests[0]} samples)  {match}")
    total = sum(faults.values())
    print("server faults: " + "  ".join(f"{k} {v} ({v / max(stats['requests'], 1):.1%})" for k, v in faults.items())
          + f"  all {total} ({total / max(stats['requests'], 1):.1%})")
    print("server choices: " + "  ".join(f"{k} {v}" for k, v in stats["by_outcome"].items() if k not in faults))
    print(f"teacher timeout {args.timeout_s:g}s  hang {args.hang_s:g}s  latency {args.latency_ms:g}ms  "
          f"concurrency {args.concurrency}  max in flight {stats['max_in_flight']}  wall {wall:.1f}s")
    if unaccounted or duplicates or stats["requests"] != attempts:
        sys.exit(1)


if __name__ == "__main__":
    main()
