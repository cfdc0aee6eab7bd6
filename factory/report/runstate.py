"""Whether a run is going, from its directory alone: the sessions it logged and the lock `factory run` holds.

A session logs a line when it starts and another when it has finished (`sessions.jsonl`, see
`factory.store.rundir`); a run whose latest session never logged its finish is going if a process holds
the run directory's lock, and stopped (crashed or killed) if none does. The lock is read from
/proc/locks, never taken, so looking never keeps a run from starting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def latest_session(run_dir: Path) -> dict | None:
    """The latest session's latest line in `sessions.jsonl` (its finish, once logged); None before any."""
    path = Path(run_dir) / "sessions.jsonl"
    sessions: dict[str, dict] = {}  # a session's later line (its finish) replaces its first
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line being written
        sessions[row["session_id"]] = row
    # session ids start with their UTC start time, so the greatest is the latest
    return sessions[max(sessions)] if sessions else None


def run_state(run_dir: Path) -> str:
    """`finished` (the latest session logged its finish), `going`, `stopped` (it never finished and nothing
    holds the lock: crashed or killed), or `starting` (no session logged yet)."""
    latest = latest_session(run_dir)
    if latest is None:
        return "starting"
    if latest.get("finished_at"):
        return "finished"
    return "stopped" if lock_held(run_dir) is False else "going"


def lock_held(run_dir: Path) -> bool | None:
    """Whether a process holds the run directory's lock (`factory run` does, for its whole session): read from
    /proc/locks without taking the lock, so a watch never keeps a run from starting; None where unknown."""
    try:
        inode = os.stat(Path(run_dir) / ".lock").st_ino
    except FileNotFoundError:
        return False
    try:
        locks = Path("/proc/locks").read_text()
    except OSError:
        return None
    # e.g. "3: FLOCK  ADVISORY  WRITE 4242 00:2d:1234567 0 EOF": the third part of the id is the inode
    return any(part.count(":") == 2 and part.rsplit(":", 1)[1] == str(inode)
               for line in locks.splitlines() for part in line.split()[4:7])
