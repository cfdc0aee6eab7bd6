"""The factory's generation rate against vLLM's own serving benchmark, on one vLLM server.

    python tests/gpu/bench_vllm.py MODEL_DIR [--requests 800] [--concurrency 64] [--max-tokens 512]

Starts `vllm serve MODEL_DIR` on a free port, runs the demo pipeline against it (`factory run` with the
server as `teacher.base_url`, `--limit requests/4`, n=4), then `vllm bench serve` (openai-chat backend,
random prompts of the demo's mean prompt length, the same output budget, requests and concurrency) on the
same server, and prints both output-token rates and their ratio. The factory's rate is the completion
tokens it journaled over the span from its first request's start to its last request's end (provenance
`requests`), so curation, judging and publishing are not counted against it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from support.cli import factory, free_port, pipeline_copy  # noqa: E402


def wait_ready(url: str, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"vllm serve exited with {proc.returncode} before it was ready")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(2)
    sys.exit(f"vllm serve was not ready at {url} within {seconds:.0f}s")


def factory_rate(run_dir: Path) -> tuple[float, int, float, float]:
    import duckdb

    con = duckdb.connect(str(run_dir / "provenance.duckdb"), read_only=True)
    tokens, prompt, span = con.execute(
        "SELECT sum(completion_tokens), avg(prompt_tokens), "
        "epoch(max(finished_at)) - epoch(min(started_at)) FROM requests").fetchone()
    return tokens / span, int(tokens), float(prompt), span


def vllm_rate(base: str, model_dir: str, requests: int, concurrency: int, prompt_len: int, max_tokens: int,
              out: Path) -> float:
    cmd = ["vllm", "bench", "serve", "--backend", "openai-chat", "--base-url", base,
           "--endpoint", "/v1/chat/completions", "--model", "tiny", "--tokenizer", model_dir,
           "--dataset-name", "random", "--random-input-len", str(prompt_len), "--random-output-len", str(max_tokens),
           "--num-prompts", str(requests), "--max-concurrency", str(concurrency), "--save-result",
           "--result-dir", str(out), "--result-filename", "vllm.json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    print(done.stdout[-3000:])
    if done.returncode != 0:
        sys.exit(f"vllm bench serve failed ({done.returncode}): {done.stderr[-2000:]}")
    return float(json.loads((out / "vllm.json").read_text())["output_throughput"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model_dir")
    ap.add_argument("--requests", type=int, default=800)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=512)
    args = ap.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(["vllm", "serve", args.model_dir, "--port", str(port), "--served-model-name", "tiny",
                               "--max-model-len", "4096"], start_new_session=True)
    try:
        wait_ready(f"{base}/v1/models", server, 900)
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            pipeline = pipeline_copy(tmp_path, simulated=None, base_url=f"{base}/v1", model="tiny", n=4,
                                     concurrency=args.concurrency, sampling={"max_tokens": args.max_tokens})
            run = factory("run", pipeline, "--out", tmp_path / "run", "--limit", args.requests // 4,
                          env={"RAY_ADDRESS": "local"}, timeout=3600)
            if run.returncode != 0:
                sys.exit(f"factory run failed: {run.stderr[-3000:]}")
            ours, tokens, prompt, span = factory_rate(tmp_path / "run")
            theirs = vllm_rate(base, args.model_dir, args.requests, args.concurrency, max(1, round(prompt)),
                               args.max_tokens, tmp_path)
        print(f"factory: {tokens} completion tokens in {span:.1f}s = {ours:.0f} tok/s "
              f"(requests {args.requests}, concurrency {args.concurrency}, mean prompt {prompt:.0f} tokens)")
        print(f"vllm bench serve: {theirs:.0f} tok/s on the same server")
        print(f"ratio factory / vllm bench: {ours / theirs:.2f}")
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server.pid, sig)
                server.wait(30)
                break
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue


if __name__ == "__main__":
    main()
