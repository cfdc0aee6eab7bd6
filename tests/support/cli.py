"""The real `factory` command in a subprocess, as a user runs it, and the demo pipeline it runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "pipelines" / "demo.yaml"


def factory(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    """Run `factory ARGS...` with this interpreter; never inherit a cluster address."""
    full_env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"} | (env or {})
    return subprocess.run([sys.executable, "-m", "factory.cli", *map(str, args)], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def pipeline_copy(tmp_path: Path, **teacher_overrides) -> Path:
    """The demo pipeline with absolute paths and some teacher keys replaced, written to tmp_path."""
    cfg = yaml.safe_load(DEMO.read_text())
    for src in cfg["sources"] + cfg["decontaminate"]:
        src["path"] = str((DEMO.parent / src["path"]).resolve())
    for key in ("name", "chat_template"):
        cfg["tokenizer"][key] = str((DEMO.parent / cfg["tokenizer"][key]).resolve())
    cfg["teacher"].update(teacher_overrides)
    cfg["teacher"] = {k: v for k, v in cfg["teacher"].items() if v is not None}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def demo_answers() -> dict[str, str]:
    """problem text -> reference answer for the demo's problems (what a simulated teacher should know)."""
    from factory.config import load_pipeline
    from factory.stages.sources import load_problems

    table = load_problems(load_pipeline(DEMO))
    return dict(zip(table["problem"].to_pylist(), table["reference_answer"].to_pylist(), strict=True))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, seconds: float = 20.0) -> None:
    """Poll `url` until it answers (a server started in another process)."""
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
