"""Benchmark: teacher-stage throughput side by side with bespokelabs-curator, against the same simulated teacher.

For each concurrency level, starts a fresh `factory sim-teacher` (2 s latency, no faults) for each contender,
so each has its own /stats: `factory run` asks for --requests samples (4 per problem), then curator asks
for the same user messages (one request per sample, n=1, the same sampling parameters) with
max_concurrent_requests set to the same level. Both rates are measured at the server, between its first
and last request (plus one latency), and set against the ideal (in flight / latency). Also prints each
side's peak requests in flight at the server and the client CPU time per request, twice: from
getrusage(RUSAGE_CHILDREN) around the client process (it misses Ray workers, which outlive their raylet
and are reaped by init), and summed over the client's whole process tree from /proc. Both include
start-up (imports, Ray, and on our side verifying and publishing), so they overstate the per-request cost
of small runs.

Curator is never a dependency of the project: the benchmark makes its own virtual environment for it
(once; reused when it already imports) and runs it there as a subprocess, through a small driver script
written to a temporary directory. Curator POSTs one request with empty `messages` when it is built (to
read rate-limit headers); the driver answers that one from a stub on the same port, then the benchmark
starts the fresh simulated teacher there, so curator's /stats hold exactly its batch.

    python tests/bench/bench_curator.py [--requests 6000] [--concurrency 512 2048] [--latency-ms 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench_throughput import zero_overhead_ratio  # both in the script's own folder
from loopback import free_port, wait_up

ROOT = Path(__file__).resolve().parents[2]
ENV = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # never a cluster
MARK = "@@bench "  # prefix of the driver's lines meant for this script

# Runs inside curator's own venv. argv[1] is a JSON file: port, concurrency, model, working dir,
# generation params and the message lists, one per request.
DRIVER = r'''
import importlib.util, json, os, resource, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

spec = json.loads(Path(sys.argv[1]).read_text())
# litellm ships tiktoken's files; pointing tiktoken at them keeps curator from downloading a tokenizer
litellm_dir = Path(importlib.util.find_spec("litellm").origin).parent
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(litellm_dir / "litellm_core_utils" / "tokenizers"))


def say(**kw):
    print("@@bench " + json.dumps(kw), flush=True)


class Probe(BaseHTTPRequestHandler):
    """Answers curator's construction-time request (empty messages) with a 400, as a real server would."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        error = {"message": "empty messages (benchmark probe stub)", "type": "invalid_request_error"}
        body = json.dumps({"error": error}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


from importlib.metadata import version
from bespokelabs import curator



class Ask(curator.LLM):
    def prompt(self, row):
        return json.loads(row["messages"])

    def parse(self, row, response):
        return {"i": row["i"], "chars": len(response or "")}


stub = ThreadingHTTPServer(("127.0.0.1", spec["port"]), Probe)
threading.Thread(target=stub.serve_forever, daemon=True).start()
llm = Ask(
    model_name=spec["model"], backend="openai", generation_params=spec["generation_params"],
    backend_params={
        "base_url": f"http://127.0.0.1:{spec['port']}/v1", "api_key": "sk-bench",
        "max_requests_per_minute": 10**9, "max_tokens_per_minute": 10**13,
        "max_concurrent_requests": spec["concurrency"],
    },
)
stub.shutdown()
stub.server_close()
say(event="probed", curator=version("bespokelabs-curator"))
if sys.stdin.readline().strip() != "go":
    sys.exit(3)
rows = [{"i": i, "messages": json.dumps(m)} for i, m in enumerate(spec["messages"])]
cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
out = llm(rows, working_dir=spec["working_dir"])
cpu1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.time()
dataset = out.dataset if hasattr(out, "dataset") else out
failed = getattr(out, "failed_requests_path", None)
say(event="done", rows=len(dataset), call_wall_s=t1 - t0,
    call_cpu_s=cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime,
    failed=sum(1 for _ in open(failed)) if failed and os.path.exists(failed) else 0)
'''


def start_sim(port: int, latency_ms: float) -> subprocess.Popen:
    sim = subprocess.Popen(
        [sys.executable, "-m", "factory.cli", "sim-teacher", "--port", str(port), "--problems",
         str(ROOT / "pipelines/demo.yaml"), "--latency-ms", str(latency_ms), "--rate-429", "0",
         "--rate-5xx", "0", "--rate-truncated", "0"], cwd=ROOT, env=ENV, stderr=subprocess.DEVNULL)
    wait_up(f"http://127.0.0.1:{port}/health")
    return sim


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stats_of(port: int) -> dict:
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10).read())


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class TreeCpu:
    """CPU seconds of a process and every process it starts, sampled from /proc every 0.1 s.

    RUSAGE_CHILDREN only counts descendants that were waited for all the way up; Ray's workers outlive
    their raylet and are reaped by init, so their CPU never reaches it. A descendant is tracked from the
    first sample that sees it (a process that lives under 0.1 s may be missed, and each loses at most its
    last 0.1 s), and keeps being tracked once reparented.
    """

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, root: int):
        self.tracked, self.cpu = {root}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
            pid, ppid = int(entry.name), int(fields[1])
            if pid in self.tracked or ppid in self.tracked:
                self.tracked.add(pid)
                self.cpu[pid] = (int(fields[11]) + int(fields[12])) / self.TICK  # utime + stime

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def stop(self) -> float:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
        return sum(self.cpu.values())


def curator_python(venv: Path, spec: str) -> Path:
    """The python of curator's own venv, made (and curator installed) on first use."""
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([py, "-c", "import bespokelabs.curator"], capture_output=True,
                                      timeout=120).returncode == 0:
        return py
    print(f"installing {spec} into {venv} (once; reused on later runs)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([py, "-m", "pip", "install", "-q", spec], check=True, timeout=900)
    return py


def curator_env(tmp: str) -> dict:
    env = dict(ENV)
    env.update(TELEMETRY_ENABLED="false", LITELLM_LOCAL_MODEL_COST_MAP="True", HF_DATASETS_OFFLINE="1",
               HF_HUB_OFFLINE="1", CURATOR_DISABLE_RICH_DISPLAY="1", HF_DATASETS_CACHE=f"{tmp}/hf-datasets",
               CURATOR_CACHE_DIR=f"{tmp}/curator-cache", NO_PROXY="127.0.0.1,localhost",
               no_proxy="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    env.pop("OPENAI_BASE_URL", None)
    return env


def requests_to_send(n_requests: int, n: int) -> tuple[int, list[list[dict]], dict]:
    """The problem limit our run gets, and the messages it sends: n copies of each problem's messages."""
    from factory.config import load_pipeline
    from factory.stages.generate.identity import render_messages
    from factory.stages.sources import load_problems

    cfg = load_pipeline(ROOT / "pipelines/demo.yaml")
    cfg.limit = -(-n_requests // n)
    problems = [r for r in load_problems(cfg).to_pylist() if r["status"] == "ok"]
    if len(problems) < cfg.limit:
        raise SystemExit(f"the demo has {len(problems)} problems, fewer than the {cfg.limit} asked for")
    messages = [render_messages(cfg.teacher, p["problem"]) for p in problems for _ in range(n)]
    sampling = {k: v for k, v in cfg.teacher.sampling.model_dump().items() if v is not None}
    return cfg.limit, messages, sampling


def run_ours(limit: int, concurrency: int, latency_ms: float, timeout: float) -> dict:
    port, sim = free_port(), None
    try:
        sim = start_sim(port, latency_ms)
        with tempfile.TemporaryDirectory() as tmp:
            cpu0, started = child_cpu(), time.time()
            run = subprocess.Popen(
                [sys.executable, "-m", "factory.cli", "run", str(ROOT / "pipelines/demo.yaml"), "--out", f"{tmp}/run",
                 "--limit", str(limit), "--teacher-url", f"http://127.0.0.1:{port}/v1", "--model", "sim-r1",
                 "--concurrency", str(concurrency)],
                cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            tree = TreeCpu(run.pid)
            try:
                _, err = run.communicate(timeout=timeout)
            finally:
                if run.poll() is None:
                    run.kill()
                    run.wait()
                tree_cpu = tree.stop()
            time.sleep(1)  # let Ray's orphaned workers finish exiting before the next contender
            cpu, wall = child_cpu() - cpu0, time.time() - started
            if run.returncode != 0:
                raise SystemExit(f"`factory run` failed (exit {run.returncode}):\n{err[-3000:]}")
        return dict(stats_of(port), cpu_s=cpu, tree_cpu_s=tree_cpu, wall_s=wall)
    finally:
        stop(sim)


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        if line.startswith(MARK):
            into.put(json.loads(line[len(MARK):]))
    into.put(None)


def _expect(lines: queue.Queue, event: str, deadline: float, log: Path) -> dict:
    try:
        msg = lines.get(timeout=max(1.0, deadline - time.time()))
    except queue.Empty:
        msg = None
    if msg is None or msg.get("event") != event:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise SystemExit(f"curator driver: expected {event!r}, got {msg!r}; its stderr ends:\n{tail}")
    return msg


def run_curator(py: Path, messages: list[list[dict]], sampling: dict, concurrency: int, latency_ms: float,
                timeout: float) -> dict:
    port, sim, driver, tree = free_port(), None, None, None
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp, "spec.json")
        spec.write_text(json.dumps(dict(port=port, concurrency=concurrency, model="sim-r1", messages=messages,
                                        generation_params=sampling, working_dir=f"{tmp}/work")))
        Path(tmp, "driver.py").write_text(DRIVER)
        log = Path(tmp, "driver.stderr")
        try:
            cpu0, started = child_cpu(), time.time()
            with open(log, "w") as err:
                driver = subprocess.Popen([str(py), f"{tmp}/driver.py", str(spec)], cwd=tmp, env=curator_env(tmp),
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
            tree = TreeCpu(driver.pid)
            lines: queue.Queue = queue.Queue()
            threading.Thread(target=_lines, args=(driver.stdout, lines), daemon=True).start()
            deadline = started + timeout
            probed = _expect(lines, "probed", deadline, log)
            sim = start_sim(port, latency_ms)  # fresh, on the port the stub just left
            driver.stdin.write("go\n")
            driver.stdin.flush()
            done = _expect(lines, "done", deadline, log)
            driver.wait(timeout=max(1.0, deadline - time.time()))
            tree_cpu = tree.stop()
            cpu, wall = child_cpu() - cpu0, time.time() - started
            if driver.returncode != 0:
                log_tail = log.read_text(errors="replace")[-3000:]
                raise SystemExit(f"curator driver exited {driver.returncode}:\n{log_tail}")
            return dict(stats_of(port), cpu_s=cpu, tree_cpu_s=tree_cpu, wall_s=wall, version=probed["curator"], **{
                f"driver_{k}": v for k, v in done.items() if k != "event"})
        finally:
            if driver is not None and driver.poll() is None:
                driver.kill()
                driver.wait()
            if tree is not None:
                tree.stop()
            stop(sim)


def rate_of(stats: dict, latency_s: float) -> float:
    if not stats.get("completions"):
        return 0.0
    return stats["completions"] / (stats["last_request_at"] - stats["first_request_at"] + latency_s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=6000)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[512, 2048])
    ap.add_argument("--latency-ms", type=float, default=2000)
    ap.add_argument("--n", type=int, default=4, help="samples per problem (requests of n=1 each, on both sides)")
    ap.add_argument("--curator-venv", type=Path, default=Path("/tmp/curator-venv"),
                    help="curator's own virtual environment, made on first use")
    ap.add_argument("--curator-spec", default="bespokelabs-curator", help="what pip installs there")
    args = ap.parse_args()

    py = curator_python(args.curator_venv, args.curator_spec)
    limit, messages, sampling = requests_to_send(args.requests, args.n)
    latency = args.latency_ms / 1000
    rows = []
    for c in args.concurrency:
        ideal = c / latency
        # generous: ten times the ideal duration, plus start-up (Ray, imports, publishing)
        timeout = 180 + 10 * len(messages) / ideal
        ours = run_ours(limit, c, args.latency_ms, timeout)
        theirs = run_curator(py, messages, sampling, c, args.latency_ms, timeout)
        for name, s in (("ours", ours), (f"curator {theirs['version']}", theirs)):
            extra = (f"  in-call wall {s['driver_call_wall_s']:.1f}s cpu {s['driver_call_cpu_s']:.1f}s"
                     f"  rows {s['driver_rows']}  failed {s['driver_failed']}") if "driver_rows" in s else ""
            print(f"[c={c}] {name:<16} requests {s['requests']}  completions {s['completions']}  "
                  f"max in flight {s['max_in_flight']}  rate {rate_of(s, latency):.1f} req/s  "
                  f"wall {s['wall_s']:.1f}s  cpu rusage {s['cpu_s']:.1f}s tree {s['tree_cpu_s']:.1f}s{extra}",
                  flush=True)
        rows.append((c, ours, theirs, ideal))

    print()
    head = ("conc", "ours req/s", "curator req/s", "ideal", "ours/ideal", "cur/ideal", "ours/cur",
            "ours inflt", "cur inflt", "ours cpu ms/req", "cur cpu ms/req", "ours tree ms/req", "cur tree ms/req")
    print("  ".join(f"{h:>{max(len(h), 6)}}" for h in head))
    for c, ours, theirs, ideal in rows:
        ro, rc = rate_of(ours, latency), rate_of(theirs, latency)
        cells = (c, f"{ro:.1f}", f"{rc:.1f}", f"{ideal:.1f}", f"{ro / ideal:.3f}", f"{rc / ideal:.3f}",
                 f"{ro / rc:.2f}x" if rc else "n/a", ours["max_in_flight"], theirs["max_in_flight"],
                 f"{1000 * ours['cpu_s'] / max(ours['requests'], 1):.2f}",
                 f"{1000 * theirs['cpu_s'] / max(theirs['requests'], 1):.2f}",
                 f"{1000 * ours['tree_cpu_s'] / max(ours['requests'], 1):.2f}",
                 f"{1000 * theirs['tree_cpu_s'] / max(theirs['requests'], 1):.2f}")
        print("  ".join(f"{str(v):>{max(len(h), 6)}}" for v, h in zip(cells, head, strict=False)))
    print(f"\n{len(messages)} requests per side ({limit} problems x {args.n}, n=1), latency {args.latency_ms:g} ms; "
          "rates measured at the server: completions / (last - first request + latency); "
          "cpu ms/req = getrusage(RUSAGE_CHILDREN) delta around the client process (start-up included); tree = "
          "the same from /proc, every process the client started included (Ray workers reaped by init)")
    for c, ours, theirs, _ in rows:
        ratio = rate_of(ours, latency) / max(rate_of(theirs, latency), 1e-9)
        ceiling = c / latency / max(rate_of(theirs, latency), 1e-9)  # a client at the ideal rate
        # a client that costs nothing, under the teacher's latency jitter and this many requests
        free = zero_overhead_ratio(len(messages), c, latency) * ceiling
        print(f"target >= 2x at {c} in flight: {'met' if ratio >= 2 else 'NOT met'} ({ratio:.2f}x; "
              f"a zero-overhead client would score {free:.2f}x, one at the ideal rate {ceiling:.2f}x)")


if __name__ == "__main__":
    main()
