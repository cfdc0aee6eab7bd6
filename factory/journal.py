"""The durable journal of teacher samples: append-only JSONL files under RUN_DIR/journal/.

Each `factory run` session appends to its own file, and a sample counts as done only once its line
has been written and fsynced. Reading tolerates a torn last line (a crash mid-write): that sample was
never acknowledged, so it is simply asked again. When a sample appears more than once (re-asked
later), the latest session's line wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from factory.records import SAMPLE_SCHEMA

# outcomes the teacher gave for the sample itself; `failed` (transient errors outlasted the retries)
# is stored too, but may be asked again with `factory run --retry-failed`
FINAL_OUTCOMES = ("complete", "truncated_reasoning", "truncated_answer", "empty", "filtered", "rejected")


class Journal:
    """Append side of the journal for one session."""

    def __init__(self, run_dir: Path, session_id: str):
        self.dir = Path(run_dir) / "journal"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / f"{session_id}.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")
        self.written = 0

    def append(self, records: list[dict]) -> None:
        """Write records and fsync before returning: after this they survive kill -9 and power loss."""
        if not records:
            return
        self._file.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.written += len(records)

    def close(self) -> None:
        self._file.close()
        if self.written == 0:
            self.path.unlink(missing_ok=True)  # no empty files from sessions that asked nothing


def _files(run_dir: Path) -> list[Path]:
    # session ids start with a UTC timestamp, so name order is session order
    return sorted((Path(run_dir) / "journal").glob("*.jsonl"))


def iter_records(run_dir: Path) -> Iterator[dict]:
    """Every intact journal line, oldest session first; torn lines are skipped."""
    for path in _files(run_dir):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # torn final write: never acknowledged
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def latest_records(run_dir: Path) -> dict[str, dict]:
    """sample_id -> its latest record."""
    return {r["sample_id"]: r for r in iter_records(run_dir)}


def samples_table(records: dict[str, dict]) -> pa.Table:
    """The journal as an Arrow table with the explicit SAMPLE_SCHEMA."""
    return pa.Table.from_pylist(list(records.values()), schema=SAMPLE_SCHEMA)
