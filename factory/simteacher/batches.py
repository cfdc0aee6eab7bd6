"""The simulated teacher's Batch API: `/v1/files` and `/v1/batches`, answered by the same simulation.

Files live in memory. A batch runs in a background task on the server's loop, through the statuses the
OpenAI Batch API reports: `validating` -> `in_progress` (for `batch_delay_s`, and while `batch_hold`
holds it) -> `finalizing` -> `completed`; or `failed` (an input file that does not validate), `expired`,
`cancelling` -> `cancelled`. Each request line is answered by the chat simulation (`answer(body)`), its
200s go to the output file and everything else to the error file, in an order that is not the input's
(clients must join on `custom_id`).

Faults (SimulatedTeacherConfig): `batch_expire: N` makes the first N batches expire with every other
request unfinished (`batch_expired` in the error file, the others answered and kept, as the real API
does); `batch_fail_rate` answers that share of requests with a 500 in the error file;
`batch_file_not_found_once` answers the first create after each upload with 400 "Cannot find file";
`batch_create_hang_s` registers a batch, then holds the create's answer (a create that times out after
it took effect).

`snapshot()` (the `batch` part of `/stats`) counts uploads, batches created and by status, requests
answered, and per custom_id how often it was asked and answered with a 200: what tests of
exactly-once spend assert on.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable

from aiohttp import web

from factory.config import SimulatedTeacherConfig

ENDPOINT = "/v1/chat/completions"  # the only endpoint the simulation answers
_LIST_MAX = 100


def _error(status: int, message: str, code: str | None = None) -> web.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}
    return web.json_response(body, status=status)


class BatchStore:
    """Files, batches and counters of one simulated teacher (kept across its stop and start)."""

    def __init__(self, config: SimulatedTeacherConfig, answer: Callable[[dict], tuple[int, dict]]):
        self.config = config
        self.answer = answer  # request body -> (status, response body)
        self.files: dict[str, tuple[dict, bytes]] = {}  # id -> (FileObject, content)
        self.batches: dict[str, dict] = {}  # id -> Batch object, in creation order
        self.hold = config.batch_hold  # cleared by SimTeacher.release_batches()
        self._refuse_once: set[str] = set()  # uploads whose first create answers "Cannot find file"
        self._rng = random.Random(config.seed * 7919 + 1)  # fault draws, in the order requests are answered
        self._tasks: set[asyncio.Task] = set()
        self.uploads = self.created = 0
        self.asked: Counter = Counter()  # custom_id -> requests of it answered in any way
        self.answered: Counter = Counter()  # custom_id -> requests of it answered with a 200

    def snapshot(self) -> dict:
        return {"uploads": self.uploads, "created": self.created,
                "by_status": dict(Counter(b["status"] for b in self.batches.values())),
                "requests": sum(self.asked.values()), "asked": dict(self.asked), "answered": dict(self.answered)}

    def add_file(self, content: bytes, filename: str, purpose: str) -> dict:
        file_id = f"file-sim{secrets.token_hex(8)}"
        obj = {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
               "filename": filename, "purpose": purpose, "status": "processed", "expires_at": None,
               "status_details": None}
        self.files[file_id] = (obj, content)
        return obj

    def create(self, input_file_id: str, metadata: dict | None) -> dict:
        now = int(time.time())
        batch = {"id": f"batch_sim{secrets.token_hex(8)}", "object": "batch", "endpoint": ENDPOINT, "errors": None,
                 "input_file_id": input_file_id, "completion_window": "24h", "status": "validating",
                 "output_file_id": None, "error_file_id": None, "created_at": now, "in_progress_at": None,
                 "expires_at": now + 86400, "finalizing_at": None, "completed_at": None, "failed_at": None,
                 "expired_at": None, "cancelling_at": None, "cancelled_at": None,
                 "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": metadata or None,
                 "model": None}
        self.created += 1
        self.batches[batch["id"]] = batch
        expire = self.created <= self.config.batch_expire
        task = asyncio.get_running_loop().create_task(self._run(batch, self.files[input_file_id][1], expire))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return batch

    async def _run(self, batch: dict, content: bytes, expire: bool) -> None:
        await asyncio.sleep(0)
        lines, problem = _parse(content)
        if problem is not None:
            batch.update(status="failed", failed_at=int(time.time()),
                         errors={"object": "list", "data": [{"code": "invalid_request", "message": problem,
                                                             "param": None, "line": None}]})
            return
        batch.update(status="in_progress", in_progress_at=int(time.time()), model=lines[0]["body"].get("model"))
        batch["request_counts"]["total"] = len(lines)
        await asyncio.sleep(self.config.batch_delay_s)
        while self.hold and batch["status"] == "in_progress":
            await asyncio.sleep(0.02)
        output, errors = [], []
        for i, line in enumerate(lines):
            cid = line["custom_id"]
            if batch["status"] == "cancelling" or (expire and i % 2 == 1):
                code = "batch_cancelled" if batch["status"] == "cancelling" else "batch_expired"
                errors.append({"id": f"batch_req_{secrets.token_hex(6)}", "custom_id": cid, "response": None,
                               "error": {"code": code, "message": f"This request was not executed ({code})."}})
                continue
            self.asked[cid] += 1
            if self._rng.random() < self.config.batch_fail_rate:
                status, body = 500, {"error": {"message": "Simulated server error (simulated teacher).",
                                               "type": "server_error", "param": None, "code": None}}
            else:
                status, body = self.answer(line["body"])
            if status == 200:
                self.answered[cid] += 1
            out = {"id": f"batch_req_{secrets.token_hex(6)}", "custom_id": cid,
                   "response": {"status_code": status, "request_id": secrets.token_hex(8), "body": body},
                   "error": None}
            (output if status == 200 else errors).append(out)
            if i % 64 == 63:
                await asyncio.sleep(0)  # a long batch does not hold the loop
        self._rng.shuffle(output)  # results come in any order: clients must join on custom_id
        ending = batch["status"]
        batch.update(status="finalizing", finalizing_at=int(time.time()))
        batch["request_counts"].update(completed=len(output), failed=len(errors))
        if output:
            batch["output_file_id"] = self.add_file(_jsonl(output), f"{batch['id']}_output.jsonl", "batch_output")["id"]
        if errors:
            batch["error_file_id"] = self.add_file(_jsonl(errors), f"{batch['id']}_error.jsonl", "batch_output")["id"]
        now = int(time.time())
        if ending == "cancelling":
            batch.update(status="cancelled", cancelled_at=now)
        elif expire:
            batch.update(status="expired", expired_at=now)
        else:
            batch.update(status="completed", completed_at=now)


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _parse(content: bytes) -> tuple[list[dict], str | None]:
    """The request lines of a batch input file, or the reason it does not validate."""
    lines, seen, models = [], set(), set()
    for n, raw in enumerate(content.decode("utf-8", "replace").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            return [], f"line {n} is not valid JSON"
        if not isinstance(line, dict) or not isinstance(line.get("body"), dict) or not line.get("custom_id"):
            return [], f"line {n} needs custom_id and body"
        if line.get("method") != "POST" or line.get("url") != ENDPOINT:
            return [], f"line {n}: method must be POST and url {ENDPOINT}"
        if line["custom_id"] in seen:
            return [], f"line {n}: custom_id {line['custom_id']!r} is not unique"
        seen.add(line["custom_id"])
        models.add(line["body"].get("model"))
        lines.append(line)
    if not lines:
        return [], "the input file holds no requests"
    if len(models) > 1:
        return [], f"a batch file holds one model only, found {sorted(map(str, models))}"
    return lines, None


_STORE = web.AppKey("batch_store", BatchStore)


async def _upload(request: web.Request) -> web.Response:
    store = request.app[_STORE]
    if not request.content_type.startswith("multipart/"):
        return _error(400, "upload a file as multipart/form-data (fields `file` and `purpose`)")
    fields, content, filename = {}, None, "upload.jsonl"
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if part.name == "file":
            filename, content = part.filename or filename, await part.read()
        else:
            fields[part.name] = await part.text()
    if content is None or fields.get("purpose") != "batch":
        return _error(400, "the simulated teacher takes files with `file` and purpose=batch only")
    store.uploads += 1
    obj = store.add_file(bytes(content), filename, "batch")
    if store.config.batch_file_not_found_once:
        store._refuse_once.add(obj["id"])
    return web.json_response(obj)


def _file(request: web.Request) -> tuple[dict, bytes] | None:
    return request.app[_STORE].files.get(request.match_info["file_id"])


async def _file_object(request: web.Request) -> web.Response:
    found = _file(request)
    return web.json_response(found[0]) if found else _error(404, "No such file", "file_not_found")


async def _file_content(request: web.Request) -> web.Response:
    found = _file(request)
    if not found:
        return _error(404, "No such file", "file_not_found")
    return web.Response(body=found[1], content_type="application/octet-stream")


async def _create(request: web.Request) -> web.Response:
    store = request.app[_STORE]
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "request body is not valid JSON")
    file_id = body.get("input_file_id") if isinstance(body, dict) else None
    if file_id not in store.files or file_id in store._refuse_once:
        store._refuse_once.discard(file_id)
        return _error(400, f"Cannot find file {file_id}.")
    if body.get("endpoint") != ENDPOINT:
        return _error(400, f"the simulated teacher batches {ENDPOINT} only, not {body.get('endpoint')!r}")
    if body.get("completion_window") != "24h":
        return _error(400, "completion_window must be '24h'")
    metadata = body.get("metadata")
    if metadata is not None and (not isinstance(metadata, dict) or len(metadata) > 16):
        return _error(400, "metadata holds at most 16 key-value pairs")
    batch = store.create(file_id, metadata)
    if store.config.batch_create_hang_s:
        await asyncio.sleep(store.config.batch_create_hang_s)  # the batch exists; its answer is late
    return web.json_response(batch)


async def _retrieve(request: web.Request) -> web.Response:
    batch = request.app[_STORE].batches.get(request.match_info["batch_id"])
    return web.json_response(batch) if batch else _error(404, "No such batch", "batch_not_found")


async def _list(request: web.Request) -> web.Response:
    """Newest first, `limit` per page, `after` an id (the real API's cursor)."""
    store = request.app[_STORE]
    newest = list(reversed(store.batches.values()))
    after = request.query.get("after")
    if after:
        ids = [b["id"] for b in newest]
        newest = newest[ids.index(after) + 1:] if after in ids else []
    try:
        limit = min(max(int(request.query.get("limit", 20)), 1), _LIST_MAX)
    except ValueError:
        return _error(400, "limit must be an integer")
    page = newest[:limit]
    return web.json_response({"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                              "last_id": page[-1]["id"] if page else None, "has_more": len(newest) > limit})


async def _cancel(request: web.Request) -> web.Response:
    batch = request.app[_STORE].batches.get(request.match_info["batch_id"])
    if not batch:
        return _error(404, "No such batch", "batch_not_found")
    if batch["status"] in ("validating", "in_progress"):
        batch.update(status="cancelling", cancelling_at=int(time.time()))
    return web.json_response(batch)


def add_batch_routes(app: web.Application, store: BatchStore) -> None:
    """The Files and Batches routes, under /v1 and at the root (as the chat route is)."""
    app[_STORE] = store
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/files", _upload)
        app.router.add_get(f"{prefix}/files/{{file_id}}", _file_object)
        app.router.add_get(f"{prefix}/files/{{file_id}}/content", _file_content)
        app.router.add_post(f"{prefix}/batches", _create)
        app.router.add_get(f"{prefix}/batches", _list)
        app.router.add_get(f"{prefix}/batches/{{batch_id}}", _retrieve)
        app.router.add_post(f"{prefix}/batches/{{batch_id}}/cancel", _cancel)
