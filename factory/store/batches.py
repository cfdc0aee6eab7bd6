"""The batch ledger: what batch mode submitted to the Batch API, so that a resume polls instead of paying twice.

`RUN_DIR/batches/ledger.jsonl` is append-only; every line is fsynced before the step it announces is
taken. Three events, one batch key each (the key also travels in the batch's `metadata`):

- `intent`  {key, at, endpoint, file_id, model, prompt_template_hash, simulated, samples}: written after
  the input file is uploaded and BEFORE `batches.create`. `samples` lists [custom_id, problem_id,
  sample_index, errors] for each request, `errors` being the [error, class] pairs of the batches the
  sample was in before (re-asks);
- `created` {key, batch_id}: right after `batches.create` answered;
- `done`    {key, status, retry}: after every answer of the batch is in the samples journal (fsynced);
  `retry` maps the custom_ids still to be asked again to their errors so far.

An intent with no `done` is an open batch: a resume polls it (or, with no batch id, looks for it by its
key) and never puts its samples in a new one. `RUN_DIR/batches/KEY.jsonl` holds the exact request lines
of batch KEY, written (fsynced) before the upload and removed once it is done: records are made from
what was sent, whatever the config says by the time the answers come back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

LEDGER = "ledger.jsonl"


class BatchLedger:
    """Append and read side of one run's batch ledger."""

    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir) / "batches"
        self.path = self.dir / LEDGER

    def append(self, event: str, key: str, **fields) -> None:
        """Write one event and fsync it: after this it survives kill -9."""
        self.dir.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"event": event, "key": key, **fields}, ensure_ascii=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def events(self) -> Iterator[dict]:
        """Every intact event in order; a torn last line (killed mid-write) was never acted on."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    return
                try:
                    yield json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    continue

    def open_batches(self) -> list[dict]:
        """The intents with no `done`, in the order they were made, each with `batch_id` (None when its
        creation was in doubt: the session stopped between the intent and the answer)."""
        intents: dict[str, dict] = {}
        for e in self.events():
            if e["event"] == "intent":
                intents[e["key"]] = e | {"batch_id": None}
            elif e["event"] == "created" and e["key"] in intents:
                intents[e["key"]]["batch_id"] = e["batch_id"]
            elif e["event"] == "done":
                intents.pop(e["key"], None)
        return list(intents.values())

    def retry_errors(self) -> dict[str, list]:
        """custom_id -> its errors so far, for samples a finished batch left to be asked again (the latest
        batch that held a sample says)."""
        out: dict[str, list] = {}
        for e in self.events():
            if e["event"] == "intent":
                for cid, *_ in e["samples"]:
                    out.pop(cid, None)
            elif e["event"] == "done":
                out.update(e.get("retry") or {})
        return out

    def requests_path(self, key: str) -> Path:
        return self.dir / f"{key}.jsonl"

    def write_requests(self, key: str, data: bytes) -> None:
        """The exact input file of batch `key`, made durable before it is uploaded."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.requests_path(key), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def read_requests(self, key: str) -> dict[str, dict]:
        """custom_id -> request line of batch `key`."""
        path = self.requests_path(key)
        lines = (json.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip())
        return {line["custom_id"]: line for line in lines}

    def drop_requests(self, key: str) -> None:
        self.requests_path(key).unlink(missing_ok=True)

    def drop_requests_except(self, keys: set[str]) -> None:
        """Remove the request files of batches not in `keys` (left by a session stopped before an upload,
        or after a batch was done and before its file was removed)."""
        for path in self.dir.glob("*.jsonl") if self.dir.exists() else []:
            if path.name != LEDGER and path.stem not in keys:
                path.unlink(missing_ok=True)
