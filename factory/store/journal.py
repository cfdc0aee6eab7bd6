"""The durable journal of teacher samples: append-only JSONL files under RUN_DIR/journal/.

Each `factory run` session appends to its own file, and a sample counts as done only once its line
has been written and fsynced. Reading tolerates a torn last line (a crash mid-write): that sample was
never acknowledged, so it is simply asked again. When a sample appears more than once (re-asked
later), the latest session's line wins.

Beside each session's file, `<session>.idx` holds a small line per record (its ids, outcome, tokens,
times and where it ends in the journal), written after the records are fsynced. Resuming, status and
cost read that instead of parsing every reasoning text again; whatever the index lacks after a crash
is read from the journal itself, so the index can only be behind, never wrong.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from factory.store.records import SAMPLE_SCHEMA

# outcomes the teacher gave for the sample itself; `failed` (transient errors outlasted the retries)
# is stored too, but may be asked again with `factory run --retry-failed`
FINAL_OUTCOMES = ("complete", "truncated_reasoning", "truncated_answer", "empty", "filtered", "rejected")
# outcomes that carry a reply; a later attempt that got none (failed, rejected) never replaces one, so a
# re-ask with a larger budget that fails leaves the kept, tagged sample as it was
REPLIED = ("complete", "truncated_reasoning", "truncated_answer", "empty", "filtered")


def supersedes(new_outcome: str, old_outcome: str | None) -> bool:
    """Whether a later journal line for a sample replaces the earlier one."""
    return old_outcome is None or new_outcome in REPLIED or old_outcome not in REPLIED


class Journal:
    """Append side of the journal for one session."""

    def __init__(self, run_dir: Path, session_id: str):
        self.dir = Path(run_dir) / "journal"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / f"{session_id}.jsonl"
        self.started_path = self.dir / f"{session_id}.started"
        self._file = open(self.path, "ab")
        self._index = open(self.path.with_suffix(".idx"), "a", encoding="utf-8")
        self._started = open(self.started_path, "a", encoding="utf-8")
        self._end = self._file.tell()
        self.written = 0

    def append(self, records: list[dict], started: list[str] = ()) -> None:
        """Write records (and ids of requests just sent) and fsync: after this they survive kill -9.

        The started ids are what lets a later session count requests that were paid for but whose
        results were lost in a crash. They are flushed (which survives kill -9) but not fsynced: a
        count lost to a power cut is not worth a second fsync per chunk on the hot path.
        """
        if started:
            self._started.write("".join(f"{sid}\n" for sid in started))
            self._started.flush()
        if records:
            lines = [(json.dumps(r, ensure_ascii=False) + "\n").encode() for r in records]
            self._file.write(b"".join(lines))
            self._file.flush()
            os.fsync(self._file.fileno())
            self.written += len(records)
            entries = []
            for r, line in zip(records, lines, strict=True):
                self._end += len(line)
                entries.append(json.dumps(_entry(r, self._end)) + "\n")
            # not fsynced: an index line lost in a crash is rebuilt from the journal, which is
            self._index.write("".join(entries))
            self._index.flush()

    def close(self) -> None:
        self._file.close()
        self._index.close()
        self._started.close()
        if self.written == 0:  # no empty files from sessions that asked nothing
            self.path.unlink(missing_ok=True)
            self.path.with_suffix(".idx").unlink(missing_ok=True)
        if self.started_path.stat().st_size == 0:
            self.started_path.unlink()


# what the index keeps of a record: enough for the ledger, lost requests and cost
INDEX_FIELDS = ("sample_id", "outcome", "session_id", "endpoint", "attempts", "prompt_tokens",
                "completion_tokens", "reasoning_tokens", "started_at", "finished_at")


def _entry(record: dict, end: int) -> dict:
    entry = {k: record.get(k) for k in INDEX_FIELDS}
    entry["max_tokens"] = json.loads(record.get("sampling") or "{}").get("max_tokens")
    entry["end"] = end
    return entry


def _files(run_dir: Path) -> list[Path]:
    # session ids start with a UTC timestamp, so name order is session order
    return sorted((Path(run_dir) / "journal").glob("*.jsonl"))


def iter_records(run_dir: Path) -> Iterator[dict]:
    """Every intact journal line, oldest session first; torn lines are skipped."""
    for path in _files(run_dir):
        yield from read_lines(path)


def lost_requests(run_dir: Path) -> dict[str, int]:
    """Per session: requests it sent whose result it never journaled (in flight at a crash or kill)."""
    lost = {}
    for started_path in sorted((Path(run_dir) / "journal").glob("*.started")):
        # counters, not sets: one session may ask a sample twice (a re-ask round)
        started = Counter(started_path.read_text().split())
        path = started_path.with_suffix(".jsonl")
        finished = Counter(e["sample_id"] for e in read_index(path)) if path.exists() else Counter()
        lost[started_path.stem] = sum((started - finished).values())
    return lost


def read_index(path: Path) -> Iterator[dict]:
    """The index entries (see INDEX_FIELDS) of one journal file, one per intact line, in order.

    Entries pointing past the journal's end are dropped; journal lines past the index's last entry
    (the index write was lost in a crash) are parsed from the journal. Lazy: a session of 640k
    samples held as a list of entries took over a gigabyte.
    """
    size = path.stat().st_size
    end = 0
    index = path.with_suffix(".idx")
    if index.exists():
        with open(index, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    break
                if entry["end"] > size:
                    break
                yield entry
                end = entry["end"]
    for at, record in _records(path, end):
        yield _entry(record, at)


def _records(path: Path, start: int = 0) -> Iterator[tuple[int, dict]]:
    """(byte offset where the line ends, record) for the intact lines from `start`; a torn last line ends it."""
    with open(path, "rb") as f:
        f.seek(start)
        end = start
        for raw in f:
            end += len(raw)
            record = _parse(raw)
            if record is _TORN:
                return  # never acknowledged
            if record is not None:
                yield end, record


_TORN = object()


def _parse(raw: bytes):
    """A journal line's record; None for a garbled line; _TORN for a final write cut short."""
    if not raw.endswith(b"\n"):
        return _TORN  # never acknowledged
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def read_lines(path: Path) -> Iterator[dict]:
    """The intact lines of one journal file; a torn last line (killed mid-write) ends it."""
    for _, record in _records(path):
        yield record


def iter_index(run_dir: Path) -> Iterator[dict]:
    """Every journal line's index entry, oldest session first (what cost and status need)."""
    for path in _files(run_dir):
        yield from read_index(path)


def latest_records(run_dir: Path) -> dict[str, dict]:
    """sample_id -> its current record, texts included (for small runs and tests; see `ledger`)."""
    out: dict[str, dict] = {}
    for r in iter_records(run_dir):
        old = out.get(r["sample_id"])
        if supersedes(r["outcome"], old and old["outcome"]):
            out[r["sample_id"]] = r
    return out


def ledger(run_dir: Path) -> dict[str, tuple[str, int | None, int | None, tuple[int, int]]]:
    """sample_id -> (outcome, max_tokens its kept line was asked with, largest max_tokens any attempt
    was asked with, (file number, byte offset where its kept line ends)).

    Only these small fields are kept, so the ledger of a 40k x 16 run fits in a few hundred MB
    where the records themselves (reasoning text) would take gigabytes.
    """
    out: dict = {}
    for f, path in enumerate(_files(run_dir)):
        for e in read_index(path):
            old = out.get(e["sample_id"])
            # kept or not: a re-ask with a larger budget that failed was still paid for, and the re-ask
            # policy must not repeat it on every later run
            tried = max((b for b in (e["max_tokens"], old and old[2]) if b is not None), default=None)
            if supersedes(e["outcome"], old and old[0]):
                # by byte offset, not line number: a garbled line is skipped, so numbers could shift;
                # the outcome interned: one string per class, not one per sample
                out[e["sample_id"]] = (sys.intern(e["outcome"]), e["max_tokens"], tried, (f, e["end"]))
            else:
                out[e["sample_id"]] = (*old[:2], tried, old[3])
    return out


def _signature(run_dir: Path) -> str:
    return json.dumps([(p.name, p.stat().st_size) for p in _files(run_dir)])


def compact(run_dir: Path, rows_per_group: int = 1000) -> Path:
    """The latest record of every sample as `RUN_DIR/samples.parquet`, streamed in bounded memory.

    Later stages read this file (lazily, through DuckDB or Arrow scanners) instead of the JSON
    lines. It is rebuilt only when the journal has changed, and swapped in atomically.
    """
    run_dir = Path(run_dir)
    target, sig_path = run_dir / "samples.parquet", run_dir / "samples.parquet.sig"
    signature = _signature(run_dir)
    if target.exists() and sig_path.exists() and sig_path.read_text() == signature:
        return target
    latest = {pos for *_, pos in ledger(run_dir).values()}
    tmp = run_dir / f".samples.parquet.tmp-{os.getpid()}"
    with pq.ParquetWriter(tmp, SAMPLE_SCHEMA, compression="zstd") as writer:
        rows: list[dict] = []
        for f, path in enumerate(_files(run_dir)):
            for end, r in _records(path):
                if (f, end) in latest:
                    rows.append(r)
                if len(rows) >= rows_per_group:
                    writer.write_table(pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA))
                    rows = []
        if rows:
            writer.write_table(pa.Table.from_pylist(rows, schema=SAMPLE_SCHEMA))
    os.replace(tmp, target)
    sig_path.write_text(signature)
    return target


def samples_dataset(run_dir: Path) -> ds.Dataset:
    """The compacted samples, scanned lazily (Arrow dataset; DuckDB can register it as a table)."""
    return ds.dataset(compact(run_dir), schema=SAMPLE_SCHEMA, format="parquet")
