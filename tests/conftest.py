"""Session fixtures shared across the suite."""

import pytest


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """A small published run of the demo pipeline (24 problems x 4 samples), made in-process, no Ray."""
    from factory.config import load_pipeline
    from factory.executor import InProcessExecutor
    from factory.runner import Overrides, run_pipeline

    from support.cli import DEMO

    cfg = Overrides(limit=24, concurrency=16).apply(load_pipeline(DEMO))
    cfg.teacher.simulated = cfg.teacher.simulated.model_copy(update=dict(latency_ms=1, rate_429=0, rate_5xx=0))
    out = tmp_path_factory.mktemp("demo-run") / "run"
    run_pipeline(cfg, out, "factory run demo", executor=InProcessExecutor(workers=2))
    return out
