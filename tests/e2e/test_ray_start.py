"""Ray is the run's own unless a cluster is named: a stale record of another cluster never hangs a run."""

import shutil
import tempfile
from pathlib import Path

import pytest

from support.cli import DEMO, factory, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def ray_tmpdir():
    """Ray's temp dir for one run, holding the record a `ray start --head` that died leaves behind.

    Short, under /tmp: Ray puts its sockets there, and a unix socket path must fit in 107 bytes.
    """
    root = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    (root / "ray").mkdir()
    (root / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{free_port()}")  # nothing listens there
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_a_stale_cluster_record_is_ignored_and_the_run_starts_its_own_ray(tmp_path, ray_tmpdir):
    # before the fix the run attached to the dead head and waited on it forever (killed here after 150 s)
    result = factory("run", DEMO, "--out", tmp_path / "run", "--limit", 2, env={"RAY_TMPDIR": str(ray_tmpdir)},
                     timeout=150)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "[ray] embedded local instance (RAY_ADDRESS and ray.address unset): " in result.stderr
    assert "Failed to connect to GCS" not in result.stderr
    assert "published" in result.stdout
    # it really ran there: its session lives in the planted temp dir, beside the stale record
    assert any(p.name.startswith("session_") for p in (ray_tmpdir / "ray").iterdir())
