"""Batch mode (`teacher.mode: batch`): the missing samples asked through the OpenAI Batch API, exactly once.

The samples are the ones the synchronous path would ask (`specs.missing_specs`), and each answer becomes
the same journal record through the same code (`teacher.client.new_record` and `reply_fields`), so
judging and publishing do not know which path asked. Only the record's `endpoint` differs: the API's
URL followed by `#batch`, which `prices.json` prices at the batch price (half the token price unless
the pipeline's `price` says otherwise).

A batch's life, and what is made durable when (`store.batches` has the ledger's format):

1. its request lines (custom_id = sample id) are cut to the API's limits (`teacher.batch.max_requests`,
   `max_bytes`), written to `RUN_DIR/batches/KEY.jsonl` and uploaded;
2. **intent** is journaled: the key (a digest of the session, a nonce and the custom_ids), the
   file id and the samples. Only then is `batches.create` called, with the key in its metadata. The
   batch id cannot be journaled before the batch exists; the key stands in for it;
3. **created** journals the batch id the create answered;
4. the batch is polled every `teacher.batch.poll_s` until it is completed, expired, failed or cancelled.
   Its output and error files are read and joined on custom_id; every answer, and every request the
   API refused (a 4xx), is journaled as a sample record (fsynced, as in sync mode); what expired,
   failed on the server's side or has no result is kept for a re-ask while the sample has been in
   fewer than `teacher.batch.max_attempts` batches, and journaled `failed` after that;
5. **done** journals the batch's status and the custom_ids left to re-ask; those go out in a new
   batch holding only them. Completed answers of an expired or partly failed batch are kept, never
   asked again.

Resuming (the same command, after a crash, a kill or Ctrl-C): every intent without `done` is an open
batch and its samples go in no new batch. One with a batch id is polled. One without (the session
stopped between the intent and the create's answer, so the create may or may not have taken effect)
is looked for among the API's batches by the key in its metadata, adopted when found, and created
from its uploaded file only when not: never twice. A batch that ended while no session watched is
read as in step 4, leaving out the answers a session journaled before it stopped (records of batch
KEY carry its intent time as `started_at`). Samples a done batch left to re-ask carry their errors
into their next batch, so `max_attempts` bounds them across sessions too.

A batch sent to a simulated teacher dies with the session that served it (its port is gone): a resume
abandons it and asks its samples again, which costs nothing. A batch of a real API is never abandoned:
a resume pointed at another URL, or told the batch is unknown (404: created with another key?), stops
with one line saying so.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from factory.config import PipelineConfig
from factory.errors import ConfigError, EndpointRefused, RunDirError
from factory.log import log
from factory.meter.cost import BATCH_SUFFIX, batch_endpoint
from factory.meter.progress import Progress
from factory.store.batches import BatchLedger
from factory.store.journal import Journal, iter_index
from factory.store.journal import ledger as journal_ledger
from factory.teacher.batch_api import TERMINAL, BatchAPI, BatchUnknown, FileMissing
from factory.teacher.client import AskSettings, check_shape, new_record, reply_fields, sampling_for
from factory.teacher.failures import MalformedResponse, describe

# statuses a request may end with in a batch's files that are worth another batch: those the chat client
# retries (5xx aside; see teacher/client.py for why each)
_RETRIED_STATUS = {408, 409, 425, 429}


@dataclass
class _Batch:
    """One batch this session watches: its intent, and what the API last said of it."""

    key: str
    at: float  # when its intent was journaled: the `started_at` of its records
    endpoint: str  # the API's public URL
    file_id: str
    model: str
    template_hash: str
    simulated: bool
    samples: dict[str, tuple[str, int, list]]  # custom_id -> (problem_id, sample_index, errors so far)
    batch_id: str | None = None
    status: str = "validating"
    counts: dict = field(default_factory=dict)
    resumed: bool = False  # an earlier session's: some of its answers may be journaled already

    @classmethod
    def from_intent(cls, e: dict) -> _Batch:
        return cls(e["key"], e["at"], e["endpoint"], e["file_id"], e["model"], e["prompt_template_hash"],
                   e["simulated"], {cid: (pid, index, errors) for cid, pid, index, errors in e["samples"]},
                   e["batch_id"], resumed=True)


def _jsonl(lines: list[dict]) -> list[bytes]:
    return [(json.dumps(line, ensure_ascii=False) + "\n").encode() for line in lines]


def split(sizes: list[int], max_requests: int, max_bytes: int) -> list[range]:
    """Consecutive groups of lines (by their sizes in bytes), each within both limits."""
    groups, start, size = [], 0, 0
    for i, n in enumerate(sizes):
        if n > max_bytes:
            raise ConfigError(f"one batch request is {n} bytes, more than teacher.batch.max_bytes {max_bytes}; "
                              "raise max_bytes (the API takes up to 200 MB)")
        if i > start and (i - start >= max_requests or size + n > max_bytes):
            groups.append(range(start, i))
            start, size = i, 0
        size += n
    if start < len(sizes):
        groups.append(range(start, len(sizes)))
    return groups


def _result(line: dict | None, batch_status: str, why: str | None = None) -> tuple[str, object, str]:
    """What one request's line of the output or error file says: ("reply", body, ""), ("rejected", error,
    class) for a 4xx aimed at it, or ("retry", error, class) for what another batch may answer. `why`: the
    batch's own error, when it failed as a whole."""
    if line is None:
        return "retry", f"batch {batch_status}: {why or 'no result for this request'}", \
            "timeout" if batch_status == "expired" else "other"
    if isinstance(line.get("error"), dict):
        code, message = line["error"].get("code"), line["error"].get("message")
        return "retry", f"batch: {code}: {message}", "timeout" if code == "batch_expired" else "other"
    response = line.get("response") if isinstance(line.get("response"), dict) else {}
    status, body = response.get("status_code"), response.get("body")
    if status == 200:
        try:
            check_shape(body)
        except MalformedResponse as exc:
            return "retry", f"batch: {describe(exc)}", "malformed"
        return "reply", body, ""
    message = body.get("error", {}).get("message") if isinstance(body, dict) and isinstance(body.get("error"), dict) \
        else None
    error = f"batch: HTTP {status}" + (f": {message}" if message else "")
    if not isinstance(status, int):
        return "retry", error, "malformed"
    if status >= 500 or status in _RETRIED_STATUS:
        return "retry", error, "429" if status == 429 else "timeout" if status == 408 else "5xx"
    return "rejected", error, "4xx"


class BatchRun:
    """Submits, watches and collects the batches of one call of the generate stage."""

    def __init__(self, cfg: PipelineConfig, settings: AskSettings, run_dir: Path, journal: Journal,
                 progress: Progress, simulated: bool):
        self.cfg, self.settings, self.run_dir = cfg, settings, Path(run_dir)
        self.journal, self.progress, self.simulated = journal, progress, simulated
        self.limits = cfg.teacher.batch
        spec = settings.endpoints[0]
        self.api = BatchAPI(spec.base_url, spec.api_key, settings.timeout_s, attempts=settings.max_attempts)
        self.ledger = BatchLedger(run_dir)
        self.open: list[_Batch] = []
        self._collected: list[str] = []  # keys of batches done in this poll round
        self._resumed_at: set[float] = set()  # intent times of the batches taken over from earlier sessions
        self._journaled: set[tuple[str, float]] | None = None

    # --- resuming -------------------------------------------------------------------------------------

    def resume(self) -> set[str]:
        """Take over the batches earlier sessions left open; the custom_ids they hold."""
        for intent in self.ledger.open_batches():
            batch = _Batch.from_intent(intent)
            if batch.endpoint != self.api.public_url:
                self._elsewhere(batch)
                continue
            if batch.batch_id is None:
                found = self.api.find(batch.key, batch.at)
                if found is None:
                    log(f"[batch] batch {batch.key} was never created (the session stopped first): creating it")
                    try:
                        found = self.api.create(batch.key, batch.file_id, batch.at)
                    except FileMissing:  # never created, so never paid for: its samples are simply asked again
                        self._abandon(batch, f"its input file {batch.file_id} is gone")
                        continue
                self._created(batch, found)
            self.open.append(batch)
            self._resumed_at.add(batch.at)
        self.ledger.drop_requests_except({b.key for b in self.open})
        pending = {cid for b in self.open for cid in b.samples}
        if self.open:
            log(f"[batch] resuming {len(self.open)} batches of earlier sessions ({len(pending)} samples): "
                "polling them, nothing is submitted again")
        return pending

    def _elsewhere(self, batch: _Batch) -> None:
        if not batch.simulated:
            raise ConfigError(f"batch {batch.batch_id or batch.key} of an earlier session was sent to "
                              f"{batch.endpoint}, not {self.api.public_url}; point teacher.base_url there to "
                              "collect its results (they are paid for)")
        self._abandon(batch, f"its simulated teacher ({batch.endpoint}) stopped with its session")

    def _abandon(self, batch: _Batch, why: str) -> None:
        """Give up a batch whose server is gone: its samples become missing again, their errors unchanged."""
        log(f"[batch] batch {batch.batch_id or batch.key} abandoned: {why}; its {len(batch.samples)} samples "
            "are asked again")
        self.ledger.append("done", batch.key, status="abandoned",
                           retry={cid: errors for cid, (_, _, errors) in batch.samples.items()})
        self.ledger.drop_requests(batch.key)

    def _already(self, batch: _Batch) -> set[str]:
        """custom_ids of an earlier session's batch whose answers are journaled already."""
        if self._journaled is None:  # one pass over the journal's index, for all of them
            self._journaled = {(e["sample_id"], e["started_at"]) for e in iter_index(self.run_dir)
                               if e["started_at"] in self._resumed_at and e["endpoint"].endswith(BATCH_SUFFIX)}
        return {cid for cid in batch.samples if (cid, batch.at) in self._journaled}

    # --- submitting -----------------------------------------------------------------------------------

    def submit(self, lines: list[dict], samples: dict[str, tuple[str, int, list]]) -> None:
        """Put request `lines` in as many batches as the limits need."""
        encoded = _jsonl(lines)
        for group in split([len(b) for b in encoded], self.limits.max_requests, self.limits.max_bytes):
            cids = [lines[i]["custom_id"] for i in group]
            self._submit_one(b"".join(encoded[i] for i in group), {cid: samples[cid] for cid in cids},
                             lines[group[0]]["body"]["model"])

    def _submit_one(self, data: bytes, samples: dict, model: str) -> None:
        # derived from its custom_ids, and never the same twice: a re-ask of the same samples (a later round,
        # a larger budget) is another batch, and `find` must not mistake an old one for it
        identity = json.dumps([self.settings.session_id, secrets.token_hex(8), list(samples)])
        key = hashlib.sha256(identity.encode()).hexdigest()[:24]
        self.ledger.write_requests(key, data)
        file_id = self.api.upload(f"{key}.jsonl", data)
        batch = _Batch(key, time.time(), self.api.public_url, file_id, model, self.settings.prompt_template_hash,
                       self.simulated, samples)
        self.ledger.append("intent", key, at=batch.at, endpoint=batch.endpoint, file_id=file_id, model=model,
                           prompt_template_hash=batch.template_hash, simulated=self.simulated,
                           samples=[[cid, pid, index, errors] for cid, (pid, index, errors) in samples.items()])
        self._created(batch, self.api.create(key, file_id, batch.at))
        self.open.append(batch)

    def _created(self, batch: _Batch, made) -> None:
        batch.batch_id, batch.status = made.id, made.status
        self.ledger.append("created", batch.key, batch_id=made.id)

    # --- watching and collecting ----------------------------------------------------------------------

    def wait(self) -> None:
        """Poll the open batches until none is left, collecting each as it ends and re-asking what it left
        (what every batch that ended in one round left goes out together)."""
        said = None
        while self.open:
            lines, samples = [], {}
            for batch in list(self.open):
                try:
                    got = self.api.retrieve(batch.batch_id)
                except BatchUnknown:
                    if not batch.simulated:
                        raise EndpointRefused(f"batch {batch.batch_id} is unknown to {batch.endpoint} (404): was it "
                                              "created with another API key? set the key it was created with and "
                                              "run again") from None
                    self.open.remove(batch)
                    self._abandon(batch, "its simulated teacher no longer knows it")
                    continue
                batch.status = got.status
                batch.counts = got.request_counts.model_dump() if got.request_counts else {}
                if got.status in TERMINAL:
                    self.open.remove(batch)
                    self._collect(batch, got, lines, samples)
            if lines:
                self.submit(lines, samples)
            for key in self._collected:
                self.ledger.drop_requests(key)  # their re-asks, if any, have their own file now
            self._collected.clear()
            line = self._status_line()
            if self.open and line != said:
                log(line)
                said = line
            if self.open:
                time.sleep(self.limits.poll_s)

    def _status_line(self) -> str:
        by = Counter(b.status for b in self.open)
        done = sum(b.counts.get("completed", 0) + b.counts.get("failed", 0) for b in self.open)
        total = sum(b.counts.get("total", 0) or len(b.samples) for b in self.open)
        states = ", ".join(f"{k} {v}" for k, v in sorted(by.items()))
        return (f"[batch] {len(self.open)} batches open ({states}): {done}/{total} requests done; "
                f"polling every {self.limits.poll_s:g}s (Ctrl-C stops watching; the same command resumes)")

    def _collect(self, batch: _Batch, got, lines: list[dict], samples: dict) -> None:
        """Journal every answer of a finished batch, then mark it done; what it left to re-ask is added to
        `lines` and `samples`."""
        results: dict[str, dict] = {}
        for file_id in (got.output_file_id, got.error_file_id):
            for line in self.api.lines(file_id) if file_id else []:
                old = results.get(line["custom_id"])
                if old is None or _result(old, got.status)[0] != "reply":
                    results[line["custom_id"]] = line
        path = self.ledger.requests_path(batch.key)
        if not path.exists():
            raise RunDirError(f"{path} (the requests of batch {batch.batch_id}) is missing; it is written before "
                              "the upload and removed only when the batch is done: restore it from a backup")
        requests = self.ledger.read_requests(batch.key)
        skip = self._already(batch) if batch.resumed else set()
        why = got.errors.data[0].message if got.errors and got.errors.data else None  # a batch that failed whole
        records, retry, finished = [], {}, time.time()
        for cid, (pid, index, errors) in batch.samples.items():
            if cid in skip:
                continue
            kind, what, klass = _result(results.get(cid), got.status, why)
            if kind == "retry" and len(errors) + 1 < self.limits.max_attempts:
                retry[cid] = errors + [[what, klass]]
                continue
            records.append(self._record(batch, cid, pid, index, errors, requests[cid]["body"], kind, what, klass,
                                        finished))
        self.journal.append(records)  # durable before the batch counts as done
        self.progress.add(records)
        self.ledger.append("done", batch.key, status=got.status, retry=retry)
        log(f"[batch] batch {batch.batch_id} {got.status}" + (f" ({why})" if why else "")
            + f": {len(records)} journaled" + (f", {len(retry)} to ask again" if retry else ""))
        for cid, errs in retry.items():
            lines.append(requests[cid])
            samples[cid] = (batch.samples[cid][0], batch.samples[cid][1], errs)
        self._collected.append(batch.key)

    def _record(self, batch: _Batch, cid: str, pid: str, index: int, errors: list, body: dict, kind: str, what,
                klass: str, finished: float) -> dict:
        sampling = {k: v for k, v in body.items() if k not in ("model", "messages")}
        spec = dict(sample_id=cid, problem_id=pid, sample_index=index, messages=body["messages"])
        record = new_record(spec, session_id=self.settings.session_id, model=body["model"],
                            endpoint=batch_endpoint(batch.endpoint), sampling=sampling,
                            prompt_template_hash=batch.template_hash)
        record["attempt_errors"] = [e for e, _ in errors]
        record["attempt_classes"] = [c for _, c in errors]
        if kind == "reply":
            record.update(reply_fields(what))
        else:
            record["attempt_errors"].append(what)
            record["attempt_classes"].append(klass)
            record.update(outcome="rejected" if kind == "rejected" else "failed", error=what, error_class=klass)
        record.update(attempts=len(errors) + 1, started_at=batch.at, finished_at=finished,
                      latency_s=finished - batch.at)
        return record


def request_line(settings: AskSettings, spec: dict) -> dict:
    """The Batch API input line asking `spec`: the body the synchronous client would POST."""
    body = {"model": settings.model, "messages": spec["messages"], **sampling_for(settings, spec)}
    return {"custom_id": spec["sample_id"], "method": "POST", "url": "/v1/chat/completions", "body": body}


def has_open_batches(run_dir: Path) -> bool:
    """Whether earlier sessions left batches to poll (a resume must poll them even when nothing is missing)."""
    return bool(BatchLedger(run_dir).open_batches())


def ask_in_batches(cfg: PipelineConfig, specs, settings: AskSettings, run_dir: Path, stage: str,
                   prices: dict) -> Progress:
    """Ask `specs` (and collect what earlier sessions left open) through the Batch API; the stage's progress."""
    journal = Journal(run_dir, settings.session_id)
    ledger = BatchLedger(run_dir)
    progress = Progress(stage, 0, prices=prices)
    run = BatchRun(cfg, settings, run_dir, journal, progress, simulated=cfg.teacher.simulated is not None)
    try:
        pending = run.resume()
        carried = ledger.retry_errors()
        fresh = [s for s in specs if s["sample_id"] not in pending]
        if carried:
            # errors carry over only to a sample never journaled: one journaled `failed` and asked again
            # under --retry-failed starts afresh
            stored = journal_ledger(run_dir)
            carried = {cid: errs for cid, errs in carried.items() if cid not in stored}
        progress.total = len(fresh) + len(pending)
        if fresh:
            log(f"[batch] submitting {len(fresh)} requests to {run.api.public_url}")
            run.submit([request_line(settings, s) for s in fresh],
                       {s["sample_id"]: (s["problem_id"], s["sample_index"], carried.get(s["sample_id"], []))
                        for s in fresh})
        run.wait()
    except KeyboardInterrupt:
        if run.open:
            log(f"[batch] interrupted: {len(run.open)} batches keep running on the server; run the same command "
                "again to resume polling them (nothing is submitted twice)")
        raise
    finally:
        journal.close()
        run.api.close()
        progress.line(final=True)
    return progress
