"""What one publication did at its destination, and its line in RUN_DIR/publications.jsonl."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

LEDGER = "publications.jsonl"


@dataclass
class Outcome:
    """Files sent, skipped (already there, same bytes) and deleted (stale: not in the new manifest)."""

    destination: str
    manifest_sha256: str = ""
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    bytes_sent: int = 0

    def summary(self) -> str:
        return (f"published to {self.destination}: {len(self.sent)} file(s) sent ({self.bytes_sent / 2**20:.1f} MiB), "
                f"{len(self.skipped)} already there, {len(self.deleted)} stale deleted; manifest sha256 "
                f"{self.manifest_sha256[:16]}...")


def record(run_dir: Path, outcome: Outcome) -> None:
    """Append the publication to RUN_DIR/publications.jsonl (the destination never holds credentials:
    parse_destination refuses those)."""
    fields = asdict(outcome)
    line = {"destination": fields.pop("destination"),
            "published_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **fields}
    with open(Path(run_dir) / LEDGER, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
        f.flush()
        os.fsync(f.fileno())
