"""Benchmark: the recipe's size end to end, 40k problems x 8 samples, on this machine's cores.

    python tests/bench/bench_scale.py [--problems 40000] [--n 8] [--teacher process|embedded] [--dir /tmp/x]

Problems come from the demo generator (`factory.demo.problems`) scaled up: the demo's topic mix, each topic
drawn until it runs out of distinct problems (then the others fill in). The pipeline is the demo's (same
filters, tokenizer, publish settings) with n samples per problem and a teacher at 0 ms latency without
faults (429/5xx/timeouts/malformed bodies off; wrong, equivalent, truncated and repeated answers kept at
the demo's rates, so the verifier and publish see the usual mix).

`--teacher process` (the default) runs `factory sim-teacher` in its own process and `factory run
--teacher-url` against it: the factory's own figures then exclude the teacher, as they would against a real
endpoint, while the teacher's CPU still comes out of the same cores. `--teacher embedded` uses the
pipeline's `teacher.simulated` block instead, which serves it from a thread of the driver (the demo's way).

It prints the wall time, the peak memory of the `factory run` process tree (driver, raylet, GCS, Ray
workers, sampled from /proc every 0.25 s: the sum of RSS, which counts pages shared between processes,
such as Ray's object store, once per process, and the sum of PSS, which splits them), the largest
processes at that peak, and each stage's time and peak, read from the timestamps of the run's log lines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from loopback import free_port, wait_up  # tests/bench/loopback.py (the script's own folder)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from factory.demo.problems import TEMPLATES, draw  # noqa: E402

# The last log line of a stage: `[generate] 320000/320000 ... in 301.2s`.
STAGE_END = re.compile(r"^\[(\w+)\] .* in ([0-9.]+)s$")


def scaled_problems(count: int, seed: int = 0) -> list[dict]:
    """`count` distinct demo problems in the demo's topic proportions, topics that run dry left out."""
    rng = random.Random(f"bench-scale:{seed}")
    weights = {topic: c for topic, (_, _, c) in TEMPLATES.items()}
    seen: set[str] = set()
    rows = []
    while len(rows) < count:
        topic = rng.choices(list(weights), list(weights.values()))[0]
        try:
            problem, answer = draw(rng, topic, seen, max_tries=2000)
        except RuntimeError:  # the template has no distinct problem left
            del weights[topic]
            continue
        rows.append({"id": f"scale-{len(rows):06d}", "problem": problem, "answer": answer})
    return rows


def write_inputs(tmp: Path, problems: int, n: int) -> Path:
    path = tmp / "problems.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in scaled_problems(problems)))
    # `sim-teacher --problems` takes its settings from this block too; `--teacher-url` then replaces it
    teacher = ("  simulated: {latency_ms: 0, rate_429: 0, rate_5xx: 0, rate_timeout: 0, rate_malformed: 0,\n"
               "              rate_wrong: 0.15, rate_equivalent: 0.2, rate_truncated: 0.05, rate_duplicate: 0.05,\n"
               "              mean_reasoning_tokens: 500}\n")
    source = f"{{name: scale, kind: jsonl, path: {path}, fields: {{problem: problem, answer: answer, id: id}}}}"
    demo = (ROOT / "pipelines" / "demo.yaml").read_text()
    tail = demo[demo.index("tokenizer:"):].replace("../datasets", str(ROOT / "datasets"))
    pipeline = tmp / "scale.yaml"
    pipeline.write_text(
        "name: scale\n"
        f"sources:\n  - {source}\n"
        f"teacher:\n{teacher}  model: sim-r1\n  n: {n}\n"
        "  sampling: {temperature: 0.6, top_p: 0.95, max_tokens: 8192}\n"
        "  concurrency: 256\n  batch_size: 512\n  timeout_s: 30\n" + tail)
    return pipeline


class TreeMemory:
    """The summed RSS and PSS of a process and its descendants, sampled from /proc.

    Ray's workers outlive their raylet and are reparented to init, so a process stays tracked once seen.
    """

    def __init__(self, root: int, every_s: float = 0.25):
        self.tracked, self.every_s, self.samples = {root}, every_s, []  # (time, rss, pss, {pid: (name, rss)})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _discover(self) -> None:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and int(entry.name) not in self.tracked:
                try:
                    raw = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                if int(raw[raw.rindex(")") + 2:].split()[1]) in self.tracked:
                    self.tracked.add(int(entry.name))

    def _sample(self) -> None:
        self._discover()
        rss = pss = 0
        procs = {}
        for pid in list(self.tracked):
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
                name = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:90].decode(errors="replace")
            except OSError:
                continue
            fields = {ln.split(":")[0]: ln.split()[1] for ln in text.splitlines()[1:] if ln.split()[1].isdigit()}
            r, p = int(fields.get("Rss", 0)) * 1024, int(fields.get("Pss", 0)) * 1024
            rss, pss = rss + r, pss + p
            procs[pid] = (name, r)
        self.samples.append((time.time(), rss, pss, procs))

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def read_log(stream, lines: list) -> None:
    for line in stream:
        lines.append((time.time(), line.rstrip("\n")))


def stage_spans(started: float, ended: float, lines: list) -> list[tuple[str, float, float]]:
    """(stage, start, end) from the lines that close a stage (`[stage] ... in 12.3s`), which is when it ended;
    the time between stages (start-up, sources, Ray, compaction, exit) is listed as `other`."""
    spans = []
    for t, line in lines:
        found = STAGE_END.match(line)
        if found:
            spans.append((found[1], t - float(found[2]), t))
    out, at = [], started
    for name, a, b in spans:
        if a - at > 0.5:
            out.append(("other", at, a))
        out.append((name, a, b))
        at = b
    out.append(("other", at, ended))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=40_000)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--teacher", choices=["process", "embedded"], default="process")
    ap.add_argument("--dir", type=Path, help="work directory (default: a temporary one, removed after)")
    ap.add_argument("--keep", action="store_true", help="leave the run directory and print where it is")
    args = ap.parse_args()
    embedded = args.teacher == "embedded"
    print(f"load before: {os.getloadavg()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-", dir=args.dir))
    try:
        t0 = time.time()
        pipeline = write_inputs(tmp, args.problems, args.n)
        print(f"{args.problems} problems written in {time.time() - t0:.1f}s", flush=True)
        cmd = [sys.executable, "-m", "factory.cli", "run", str(pipeline), "--out", str(tmp / "run")]
        sim = None
        if not embedded:
            port = free_port()
            sim = subprocess.Popen(
                [sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port), "--problems", str(pipeline),
                 "--latency-ms", "0"], cwd=ROOT, stderr=subprocess.DEVNULL)
            wait_up(f"http://127.0.0.1:{port}/health")
            cmd += ["--teacher-url", f"http://127.0.0.1:{port}/v1", "--model", "sim-r1"]
            sim_memory = TreeMemory(sim.pid, every_s=1.0)
        try:
            lines: list = []
            started = time.time()
            run = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
            memory = TreeMemory(run.pid)
            reader = threading.Thread(target=read_log, args=(run.stderr, lines), daemon=True)
            reader.start()
            run.wait()
            ended = time.time()
            reader.join()
            memory.stop()
        finally:
            if sim is not None:
                sim_memory.stop()
                sim.terminate()
                sim.wait()
        if run.returncode != 0:
            raise SystemExit("\n".join(line for _, line in lines[-20:]))
        report(args, started, ended, lines, memory, None if sim is None else sim_memory)
    finally:
        if args.keep:
            print(f"run directory kept: {tmp / 'run'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"load after: {os.getloadavg()}")


def report(args, started: float, ended: float, lines: list, memory: TreeMemory, sim: TreeMemory | None) -> None:
    spans = stage_spans(started, ended, lines)
    peak = max(memory.samples, key=lambda s: s[1])
    peak_pss = max(s[2] for s in memory.samples)
    samples = args.problems * args.n
    print(f"{args.problems} problems x {args.n} = {samples} samples, teacher: {args.teacher}")
    print(f"wall {ended - started:.1f}s  peak RSS (tree sum) {peak[1] / 2**30:.2f} GiB  "
          f"peak PSS (tree sum) {peak_pss / 2**30:.2f} GiB  (processes seen: {len(memory.tracked)})")
    if sim is not None and sim.samples:
        print(f"teacher process (not in the figures above): peak RSS {max(s[1] for s in sim.samples) / 2**20:.0f} MB")
    print(f"{'stage':<20}{'seconds':>9}{'samples/s':>11}{'peak RSS MB':>13}{'peak PSS MB':>13}")
    for name, a, b in spans:
        inside = [s for s in memory.samples if a <= s[0] <= b] or [min(memory.samples, key=lambda s: abs(s[0] - a))]
        rate = f"{samples / (b - a):.0f}" if name in ("generate", "verify") and b > a else ""
        print(f"{name:<20}{b - a:>9.1f}{rate:>11}{max(s[1] for s in inside) / 2**20:>13.0f}"
              f"{max(s[2] for s in inside) / 2**20:>13.0f}")
    print("largest processes at the peak:")
    for _pid, (name, rss) in sorted(peak[3].items(), key=lambda kv: -kv[1][1])[:6]:
        print(f"  {rss / 2**20:8.0f} MB  {name}")
    for _, line in lines:
        if STAGE_END.match(line) or line.startswith("published "):
            print(f"  log: {line}")


if __name__ == "__main__":
    main()
