"""Helpers for end-to-end tests: run the real `factory` CLI in a subprocess, as a user would."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
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
    cfg["tokenizer"]["name"] = str((DEMO.parent / cfg["tokenizer"]["name"]).resolve())
    cfg["teacher"].update(teacher_overrides)
    cfg["teacher"] = {k: v for k, v in cfg["teacher"].items() if v is not None}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def clean_sim():
    """A simulated teacher with no faults and no wrong answers, for exact request accounting."""
    from factory.config import SimulatedTeacherConfig
    from factory.simteacher import SimTeacher

    def start(answers, **kw):
        cfg = SimulatedTeacherConfig(**({"latency_ms": 5, "rate_429": 0, "rate_5xx": 0} | kw))
        return SimTeacher(cfg, answers)

    return start
