"""The run directory: identity, lock, sessions and atomic writes.

RUN_DIR/run.json fixes the run's id and pipeline name on first use; a later `factory run` on the same
directory resumes it. A lock file keeps two drivers from writing one run at once. Each invocation is
a session, logged to sessions.jsonl when it starts and when it ends.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import factory
from factory.errors import RunDirError


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_session_id() -> str:
    # a timestamp prefix makes lexical order session order (the journal relies on it)
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def code_version() -> str:
    """The git commit of the factory's source when it runs from a checkout, else the package version."""
    src = Path(factory.__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        if out.returncode == 0:
            return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return f"v{factory.__version__}"


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks (shards and checkpoints run to gigabytes)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file so that readers see the old or the new content, never a torn one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_parquet_atomic(path: Path, table) -> None:
    """An Arrow table as a zstd Parquet file, written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    write_atomic(path, sink.getvalue().to_pybytes())


class RunDir:
    """An opened, locked run directory."""

    def __init__(self, path: Path, pipeline: str, command: str):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"--out {str(self.path)!r} is a file; pass a directory for the run")
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.path / ".lock", "w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirError(f"run directory {str(self.path)!r} is in use by another `factory run`; "
                              "wait for it or use another --out") from None
        self.info = self._identity(pipeline)
        self.session = dict(session_id=new_session_id(), started_at=utc_now(), finished_at=None,
                            command=command, code_version=code_version(), factory_version=factory.__version__)
        self._log_session()

    def _identity(self, pipeline: str) -> dict:
        run_json = self.path / "run.json"
        if run_json.exists():
            info = json.loads(run_json.read_text())
            if info["pipeline"] != pipeline:
                raise RunDirError(
                    f"run directory {str(self.path)!r} belongs to pipeline {info['pipeline']!r}, not "
                    f"{pipeline!r}; use another --out")
            return info
        info = dict(run_id=secrets.token_hex(8), pipeline=pipeline, created_at=utc_now())
        write_atomic(run_json, json.dumps(info, indent=2))
        return info

    def _log_session(self) -> None:
        with open(self.path / "sessions.jsonl", "a") as f:
            f.write(json.dumps(self.session) + "\n")

    def finish(self) -> None:
        """Log the session as finished; call it only once everything it wrote is in place."""
        self._log_session()

    def sessions(self) -> list[dict]:
        """One row per session (its latest line), this one as it stands in memory."""
        rows: dict[str, dict] = {}
        for line in (self.path / "sessions.jsonl").read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[row["session_id"]] = row
        rows[self.session["session_id"]] = self.session
        return list(rows.values())

    def close(self) -> None:
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()
