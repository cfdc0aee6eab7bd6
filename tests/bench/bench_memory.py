"""Benchmark: the driver's memory at the issue's scale, 40k problems x 16 samples, without a teacher.

Each step runs in a fresh subprocess and prints its peak RSS next to the size of the data it works
over, so "bounded" can be read off: nothing that grows with the reasoning texts may be held.

    python tests/bench/bench_memory.py [--problems 40000] [--n 16] [--reasoning-chars 2000] [--dir /tmp/x]

1. specs: `missing_specs` for every sample of a fresh run (what the teacher stage hands out).
2. ledger: `ledger` over a journal holding every sample (what a resumed run reads first).
3. compact: `compact`, the streaming pass that writes `samples.parquet` from that journal.
4. resume: `missing_specs` again with the full journal (nothing left to ask).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_STEP = r"""
import json, resource, sys, time
from pathlib import Path
import pyarrow as pa
from factory.config import load_pipeline
from factory.store.journal import compact, ledger
from factory.stages.generate.specs import missing_specs
from factory.stages.generate.stage import settings_for
from factory.teacher.endpoint import Endpoint

step, run_dir, problems, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cfg = load_pipeline(sys.argv[5])
cfg.teacher.n = n
settings = settings_for(cfg, [Endpoint("http://x/v1", "m", "k")], "s")
table = pa.table({"problem_id": [f"{i:016x}" for i in range(problems)],
                  "problem": [f"Problem {i}: how many integers x with 1 <= x <= {i + 10} make x^2 + {i} divisible "
                              f"by 7? Give the count." for i in range(problems)],
                  "status": ["ok"] * problems})
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.time()
if step in ("specs", "resume"):
    count = len(missing_specs(cfg, table, settings, run_dir)[0])
elif step == "ledger":
    count = len(ledger(run_dir))
else:
    count = compact(run_dir).stat().st_size
print(json.dumps({"count": count, "seconds": time.time() - started, "base_mb": base / 1024,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_journal(run_dir: Path, problems: int, n: int, reasoning_chars: int, pipeline: Path) -> None:
    """One session holding every sample, with the ids a real run would give them."""
    sys.path.insert(0, str(ROOT))
    from factory.config import load_pipeline
    from factory.stages.generate.identity import prompt_template_hash, sample_id, sampling_params
    from factory.store.journal import Journal

    cfg = load_pipeline(pipeline)
    cfg.teacher.n = n
    sampling, template = sampling_params(cfg.teacher), prompt_template_hash(cfg.teacher)
    session = "20260101T000000-aaaaaa"
    journal = Journal(run_dir, session)
    reasoning = ("Let me think about this step by step. " * (reasoning_chars // 38 + 1))[:reasoning_chars]
    batch = []
    for p in range(problems):
        pid = f"{p:016x}"
        for i in range(n):
            batch.append({
                "sample_id": sample_id(pid, i, "m", template, sampling), "problem_id": pid, "sample_index": i,
                "session_id": session, "model": "m", "endpoint": "http://x/v1",
                "messages": [{"role": "user", "content": f"Problem {p}"}], "sampling": json.dumps(sampling),
                "prompt_template_hash": template, "attempts": 1, "outcome": "complete", "error": None,
                "finish_reason": "stop", "reasoning": reasoning, "answer": "So the answer is $\\boxed{3}$.",
                "reasoning_source": "think_tags", "think_closed": True, "prompt_tokens": 80,
                "completion_tokens": reasoning_chars // 4 + 10, "reasoning_tokens": reasoning_chars // 4,
                "started_at": 0.0, "finished_at": 1.0, "latency_s": 1.0})
        if len(batch) >= 4096:
            journal.append(batch, [])
            batch = []
    journal.append(batch, [])
    journal.close()


def step(name: str, run_dir: Path, args, pipeline: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _STEP, name, str(run_dir), str(args.problems), str(args.n),
                          str(pipeline)], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=40_000)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--reasoning-chars", type=int, default=2000, help="per sample (R1 traces: 10-60k)")
    ap.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed after)")
    args = ap.parse_args()
    pipeline = ROOT / "pipelines" / "demo.yaml"
    samples = args.problems * args.n
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        run_dir = Path(tmp) / "run"
        fresh = step("specs", run_dir, args, pipeline)
        started = time.time()
        write_journal(run_dir, args.problems, args.n, args.reasoning_chars, pipeline)
        written = time.time() - started
        journal_mb = sum(p.stat().st_size for p in (run_dir / "journal").iterdir()) / 2**20
        rows = [("specs (fresh run)", fresh, f"{fresh['count']} specs"),
                ("ledger", step("ledger", run_dir, args, pipeline), None),
                ("compact", step("compact", run_dir, args, pipeline), None),
                ("specs (resumed, all journaled)", step("resume", run_dir, args, pipeline), None)]
    print(f"{args.problems} problems x {args.n} samples = {samples}; journal {journal_mb:.0f} MB on disk "
          f"({args.reasoning_chars} reasoning chars a sample; written in {written:.0f}s)")
    print(f"{'step':<32}{'seconds':>9}{'peak RSS MB':>13}{'over start-up':>15}{'bytes/sample':>14}{'/ journal':>11}")
    for name, r, _ in rows:
        grown = r["peak_mb"] - r["base_mb"]
        print(f"{name:<32}{r['seconds']:>9.1f}{r['peak_mb']:>13.0f}{grown:>15.0f}"
              f"{grown * 2**20 / samples:>14.0f}{grown / journal_mb:>11.3f}")
    print("`over start-up`: peak RSS minus the process's peak before the step (imports and the problem table); "
          "`/ journal`: that growth over the journal's size: well below 1 means no step holds the results")
    print(f"own process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (journal writer)")


if __name__ == "__main__":
    main()
