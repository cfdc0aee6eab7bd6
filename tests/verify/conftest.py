import pytest

from factory.verify import compare


@pytest.fixture(autouse=True)
def _strict_verifier(request, monkeypatch):
    """Internal errors must surface in tests; only the fuzz tests exercise the catch-all."""
    if "never_raises" not in request.node.name and "arbitrary" not in request.node.name:
        monkeypatch.setattr(compare, "STRICT", True)
