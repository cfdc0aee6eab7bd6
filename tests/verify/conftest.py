import pytest

from factory.verify import compare


@pytest.fixture(autouse=True)
def _strict_verifier(monkeypatch):
    """Internal errors must surface in tests, fuzz tests included: the verifier's catch-all, which turns
    them into `unparseable` in production, is tested on its own (test_safety.py)."""
    monkeypatch.setattr(compare, "STRICT", True)
