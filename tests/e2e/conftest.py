"""Fixtures for end-to-end tests: the real `factory` CLI runs in a subprocess (support.cli), as a user runs it."""

import pytest


@pytest.fixture
def clean_sim():
    """A simulated teacher with no faults and no wrong answers, for exact request accounting."""
    from factory.config import SimulatedTeacherConfig
    from factory.simteacher import SimTeacher

    def start(answers, **kw):
        cfg = SimulatedTeacherConfig(**({"latency_ms": 5, "rate_429": 0, "rate_5xx": 0} | kw))
        return SimTeacher(cfg, answers)

    return start
