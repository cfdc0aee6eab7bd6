"""Benchmark: kill -9 the run at random moments, resume, and count duplicates, missing and re-paid requests.

Starts `factory sim-teacher` in its own process (500 ms latency, no faults), then starts `factory run`
against it in a new process group and kills the whole group with SIGKILL at a random moment (a seeded
random delay after the session has journaled its first sample), --kills times, resuming each time; a
final run is then left to finish. Prints the samples expected, journaled and published, duplicates in
the published shards (must be 0), missing samples (must be 0), and the requests paid again after each
kill (received by the server but never journaled) against the in-flight window. Exits 1 when anything
is duplicated or missing.

    python tests/bench/bench_crash.py [--limit 300] [--concurrency 64] [--latency-ms 500] [--kills 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from loopback import free_port, wait_up  # tests/bench/loopback.py (the script's own folder)

from factory.store.journal import read_lines
from factory.teacher.asker import TRANSIT_SHARE

ROOT = Path(__file__).resolve().parents[2]
ENV = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # never a cluster


def stats(port: int) -> dict:
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5).read())


def read_journal(path: Path) -> list[dict]:
    return list(read_lines(path))


def journal_files(run_dir: Path) -> set[Path]:
    return set((run_dir / "journal").glob("*.jsonl"))


def count_lines(paths: set[Path]) -> int:
    n = 0
    for p in paths:
        try:
            n += p.read_bytes().count(b"\n")
        except FileNotFoundError:
            pass
    return n


def descendants(pid: int) -> set[int]:
    """Every live process below pid (Ray puts its workers in their own process groups)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def kill_run(proc: subprocess.Popen, grace: float = 10.0) -> int:
    """SIGKILL the run's process group; return how many of its processes outlived it by `grace` seconds.

    Those stragglers (processes that left the group) are then killed one by one, by pid.
    """
    tree = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + grace
    alive = tree
    while alive and time.time() < deadline:
        time.sleep(0.2)
        alive = {p for p in alive if Path(f"/proc/{p}").exists() and "(Z" not in _state(p)}
    for p in alive:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(alive)


def _state(pid: int) -> str:
    try:
        return "(" + Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "(Z"


def settle(port: int, timeout: float = 15.0) -> dict:
    """Server stats once nothing is in flight and the request count has stopped moving."""
    deadline = time.time() + timeout
    last = stats(port)
    while time.time() < deadline:
        time.sleep(0.5)
        now = stats(port)
        if now["in_flight"] == 0 and now["requests"] == last["requests"]:
            return now
        last = now
    return last


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=300, help="problems (the demo asks 4 samples each)")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=500)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--max-delay-s", type=float, default=2.0,
                    help="kill after a uniform random delay in [0, this] once the session journaled a sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the run directory and print its path")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port), "--problems",
         str(ROOT / "pipelines/demo.yaml"), "--latency-ms", str(args.latency_ms), "--rate-429", "0",
         "--rate-5xx", "0", "--rate-timeout", "0", "--rate-malformed", "0", "--rate-truncated", "0",
         "--seed", str(args.seed)], cwd=ROOT, env=ENV, stderr=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="bench-crash-")
    run_dir = Path(tmp) / "run"
    cmd = [sys.executable, "-m", "factory.cli", "run", str(ROOT / "pipelines/demo.yaml"), "--out", str(run_dir),
           "--limit", str(args.limit), "--teacher-url", f"http://127.0.0.1:{port}/v1", "--model", "sim-r1",
           "--concurrency", str(args.concurrency)]
    kills = []  # per killed session: when, journaled, requests received, re-paid
    try:
        wait_up(f"http://127.0.0.1:{port}/health")
        started = time.time()
        for k in range(args.kills):
            before_files, before = journal_files(run_dir), stats(port)
            log = open(Path(tmp) / f"session-{k}.log", "w")
            proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            t0 = time.time()
            while proc.poll() is None and time.time() - t0 < 300:
                if count_lines(journal_files(run_dir) - before_files) > 0:
                    break
                time.sleep(0.05)
            delay = rng.uniform(0, args.max_delay_s)
            time.sleep(delay)
            if proc.poll() is not None:  # finished (or failed) before we got to kill it
                log.close()
                if proc.returncode != 0:
                    session_log = (Path(tmp) / f"session-{k}.log").read_text()
                    raise SystemExit(f"run {k} exited {proc.returncode}:\n{session_log}")
                print(f"run {k} finished before its kill; {len(kills)} kills done")
                break
            killed_at = time.time() - t0
            strays = kill_run(proc)
            log.close()
            after = settle(port)
            new = journal_files(run_dir) - before_files
            records = [r for p in sorted(new) for r in read_journal(p)]
            received = after["requests"] - before["requests"]
            attempts = sum(r["attempts"] for r in records)
            kills.append({"session": ",".join(p.stem for p in sorted(new)), "at": killed_at, "delay": delay,
                          "journaled": len(records), "received": received, "repaid": received - attempts,
                          "strays": strays})

        before_files, before = journal_files(run_dir), stats(port)
        final = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
        wall = time.time() - started
        if final.returncode != 0:
            raise SystemExit(f"final run exited {final.returncode}:\n{final.stdout}\n{final.stderr}")
        end = settle(port)
        final_received = end["requests"] - before["requests"]
        final_records = [r for p in sorted(journal_files(run_dir) - before_files) for r in read_journal(p)]

        # what the run should hold: n samples for each `ok` problem
        n = json.loads((run_dir / "config.resolved.json").read_text())["teacher"]["n"]
        problems = pq.read_table(run_dir / "problems.parquet", columns=["problem_id", "status"]).to_pylist()
        ok = {p["problem_id"] for p in problems if p["status"] == "ok"}
        expected = {(pid, i) for pid in ok for i in range(n)}

        lines = [r for p in sorted(journal_files(run_dir)) for r in read_journal(p)]
        latest = {r["sample_id"]: r for r in lines}  # later sessions win
        final_ok = {(r["problem_id"], r["sample_index"]) for r in latest.values() if r["outcome"] != "failed"}

        ids = Counter()
        for shard in sorted((run_dir / "data").rglob("*.parquet")):  # data/8k/, data/16k/, ...
            ids.update(pq.read_table(shard, columns=["id"]).column("id").to_pylist())
        duplicates = sum(c - 1 for c in ids.values() if c > 1)

        con = duckdb.connect(str(run_dir / "provenance.duckdb"), read_only=True)
        decided = {(pid, i) for pid, i in con.sql(
            "SELECT r.problem_id, r.sample_index FROM outcomes o JOIN requests r USING (sample_id) "
            "WHERE o.status IN ('published', 'rejected')").fetchall()}
        lost_by_session = {}
        try:
            lost_by_session = dict(con.sql("SELECT session_id, lost_requests FROM sessions").fetchall())
        except duckdb.Error:
            pass
        con.close()
        missing = expected - final_ok - decided
        extra = final_ok - expected

        total_requests = end["requests"]
        attempts = sum(r["attempts"] for r in latest.values())
        repaid = total_requests - attempts
    finally:
        sim.terminate()
        sim.wait()

    # requests in flight plus results on their way to the journal (see factory/teacher/asker.py)
    window = args.concurrency + int(args.concurrency * TRANSIT_SHARE)
    print(f"samples expected {len(expected)}  journaled (unique) {len(latest)}  journal lines {len(lines)}  "
          f"published rows {sum(ids.values())}")
    print(f"duplicates in published shards {duplicates}  missing {len(missing)}  "
          f"journaled but not expected {len(extra)}")
    print(f"requests at the server {total_requests}  attempts in the final journal records {attempts}  "
          f"re-paid {repaid}  window {window} (in flight {args.concurrency} + in transit)")
    print(f"{'kill':>4} {'session':>24} {'killed at':>9} {'delay':>6} {'journaled':>9} {'received':>8} "
          f"{'re-paid':>7} {'window':>6} {'factory lost_requests':>21} {'survivors':>9}")
    for i, k in enumerate(kills):
        lost = sum(lost_by_session.get(s, 0) for s in k["session"].split(",") if s)
        print(f"{i + 1:>4} {k['session']:>24} {k['at']:>8.1f}s {k['delay']:>5.2f}s {k['journaled']:>9} "
              f"{k['received']:>8} {k['repaid']:>7} {window:>6} {lost if lost_by_session else '-':>21} "
              f"{k['strays']:>9}")
    final_repaid = final_received - sum(r["attempts"] for r in final_records)
    print(f"final run: journaled {len(final_records)}  received {final_received}  re-paid {final_repaid}")
    print(f"re-paid per kill: mean {sum(k['repaid'] for k in kills) / max(len(kills), 1):.1f}  "
          f"max {max((k['repaid'] for k in kills), default=0)}  (window {window})  "
          f"whole bench wall {wall:.1f}s")
    if args.keep:
        print(f"run directory kept: {run_dir}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if duplicates or missing:
        sys.exit(1)


if __name__ == "__main__":
    main()
