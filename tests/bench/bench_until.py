"""Benchmark: teacher tokens per accepted trace, sampling a fixed n against sampling until enough.

    python tests/bench/bench_until.py [--limit 400] [--fixed-n 8] [--n 2] [--accepted 2] [--max-n 8]
        [--workers 2] [--dir /tmp/x]

Runs the demo pipeline (pipelines/demo.yaml: its problems, its simulated teacher with 15 % wrong, 5 %
truncated and 5 % duplicate answers, its filters) on the first --limit problems in-process, twice into
fresh run directories: once with `teacher.n: FIXED_N`, once with `teacher.n: N, until: {accepted: K,
max_n: MAX_N}`; then, for reference, with a fixed n equal to the first round. For each it prints the
samples asked, the teacher's completion tokens (reasoning + answer, from the journal, as billed), the
accepted traces (`factory.stages.judge.accepted`: correct, within the largest bucket, distinct), those
up to K of each problem (what the run wanted), the published rows, the problems that reached K
accepted, completion tokens per accepted trace, per accepted trace up to K and per published row, and
wall time; then the until run's figures over the fixed run's. The executor is the in-process one:
where work runs changes no token count.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from factory.config import PipelineConfig, load_pipeline
from factory.executor import InProcessExecutor
from factory.meter.cost import cost_totals, run_costs
from factory.runner import Overrides, run_pipeline
from factory.stages.judge.accepted import accepted_per_problem
from factory.stages.judge.stage import judge_key, read_verdicts
from factory.store.journal import ledger

ROOT = Path(__file__).resolve().parents[2]


def config(limit: int | None, n: int, until: dict | None) -> PipelineConfig:
    cfg = Overrides(limit=limit).apply(load_pipeline(ROOT / "pipelines" / "demo.yaml")).model_dump()
    cfg["teacher"].update(n=n, until=until)
    return PipelineConfig.model_validate(cfg)


def measure(name: str, cfg: PipelineConfig, out: Path, workers: int, k: int) -> dict:
    started = time.perf_counter()
    counts = run_pipeline(cfg, out, f"bench_until {name}", executor=InProcessExecutor(workers=workers))
    seconds = time.perf_counter() - started
    accepted = accepted_per_problem(read_verdicts(out, judge_key(cfg)))
    tokens = cost_totals(run_costs(out, counts["published"]), counts["published"])["completion_tokens"]
    total, wanted = sum(accepted.values()), sum(min(a, k) for a in accepted.values())
    return dict(run=name, samples=len(ledger(out)), completion_tokens=tokens, accepted=total, up_to_k=wanted,
                published=counts["published"], problems_at_k=sum(a >= k for a in accepted.values()),
                problems=counts["problems_ok"], tok_per_accepted=tokens / total if total else None,
                tok_per_up_to_k=tokens / wanted if wanted else None,
                tok_per_published=tokens / counts["published"] if counts["published"] else None,
                seconds=round(seconds, 1))


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    cells = [[f"{r[c]:,.0f}" if isinstance(r[c], float) and c.startswith("tok") else
              f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=400, help="first problems of the demo (0: all of them)")
    ap.add_argument("--fixed-n", type=int, default=8)
    ap.add_argument("--n", type=int, default=2, help="the until run's first round")
    ap.add_argument("--accepted", type=int, default=2)
    ap.add_argument("--max-n", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="in-process streaming workers")
    ap.add_argument("--dir", type=Path, help="keep the run directories here (default: a temporary one, removed)")
    args = ap.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-until-"))
    limit, k = args.limit or None, args.accepted
    until = {"accepted": k, "max_n": args.max_n}
    runs = [(f"fixed n={args.fixed_n}", config(limit, args.fixed_n, None)),
            (f"until k={k} max_n={args.max_n} (n={args.n})", config(limit, args.n, until)),
            (f"fixed n={args.n}", config(limit, args.n, None))]
    try:
        rows = []
        for i, (name, cfg) in enumerate(runs):
            out = base / f"run-{i}"
            shutil.rmtree(out, ignore_errors=True)
            rows.append(measure(name, cfg, out, args.workers, k))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    print(table(rows))
    fixed, rounds = rows[0], rows[1]
    spent = rounds["completion_tokens"] / fixed["completion_tokens"]
    print(f"until / fixed n={args.fixed_n}: completion tokens x{spent:.3f}, "
          f"per accepted trace x{rounds['tok_per_accepted'] / fixed['tok_per_accepted']:.3f}, "
          f"per accepted trace up to {k} a problem x{rounds['tok_per_up_to_k'] / fixed['tok_per_up_to_k']:.3f}, "
          f"per published row x{rounds['tok_per_published'] / fixed['tok_per_published']:.3f}; "
          f"problems with {k} accepted: {rounds['problems_at_k']} against {fixed['problems_at_k']} "
          f"(fixed n={args.n}: {rows[2]['problems_at_k']})")


if __name__ == "__main__":
    main()
