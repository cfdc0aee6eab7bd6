"""The OpenAI Batch API through the `openai` SDK: upload a file, create a batch, find it again, poll it, read it.

Control calls are retried here (tenacity; the SDK's own retries are off, as for chat requests) on the
transient errors the chat client retries, and a create also on the 400 "Cannot find file" that may
come right after its upload. A create whose answer was lost (a timeout, a dropped connection, a 5xx)
may still have taken effect, so before it is sent again the batch is looked for by the key in its
metadata (`find`): one intent never becomes two batches. The caller journals that key before the
first create; a resumed run uses `find` the same way for a create that a crash left in doubt.
"""

from __future__ import annotations

import json

import openai
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from factory.errors import EndpointRefused, TeacherUnreachable
from factory.redact import public_endpoint
from factory.teacher.client import is_transient
from factory.teacher.failures import describe

KEY = "factory_batch_key"  # the metadata entry that names a batch's intent
ENDPOINT = "/v1/chat/completions"
TERMINAL = ("completed", "expired", "failed", "cancelled")
_FIND_SLACK_S = 3600.0  # batches listed newest first: stop an hour (of clock skew) before the intent


class BatchUnknown(Exception):
    """The API does not know a batch id (404): another key, or a server that forgot it."""


class FileMissing(TeacherUnreachable):
    """A create still answered "Cannot find file" after every try: the input file is gone (or never came)."""


def _file_not_ready(exc: BaseException) -> bool:
    return isinstance(exc, openai.BadRequestError) and "cannot find file" in str(exc).lower()


class BatchAPI:
    """The Batch API of one OpenAI-compatible endpoint (synchronous: the driver calls it between polls)."""

    def __init__(self, base_url: str, api_key: str, timeout_s: float, attempts: int = 6, backoff_max_s: float = 30.0):
        self.public_url = public_endpoint(base_url)
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or "unused", max_retries=0, timeout=timeout_s)
        self.attempts = attempts
        self._wait = wait_random_exponential(multiplier=0.5, max=backoff_max_s)

    def _call(self, what: str, fn, retry_if=is_transient):
        try:
            for attempt in Retrying(stop=stop_after_attempt(self.attempts), wait=self._wait,
                                    retry=retry_if_exception(retry_if), reraise=True):
                with attempt:
                    return fn()
        except openai.APIStatusError as exc:
            self._refused(what, exc)
            if exc.status_code == 404 or _file_not_ready(exc):
                raise  # the caller's to read: an unknown batch, a file not processed yet
            raise TeacherUnreachable(f"teacher at {self.public_url} answered {what} with {describe(exc)}; check "
                                     "the teacher, then run again (open batches are polled, not resubmitted)") from None
        except (openai.APIConnectionError, openai.APIResponseValidationError) as exc:
            raise TeacherUnreachable(f"teacher at {self.public_url} did not answer {what} after {self.attempts} tries "
                                     f"({describe(exc)}); check the teacher, then run again (open batches are "
                                     "polled, not resubmitted)") from None

    def _refused(self, what: str, exc: openai.APIStatusError) -> None:
        """401/403 say the key is wrong, a 404 on the Files or Batches route that the server has no Batch API."""
        if exc.status_code in (401, 403):
            raise EndpointRefused(f"teacher at {self.public_url} refused {what} ({describe(exc)}); check the API "
                                  "key's environment variable") from None
        if exc.status_code == 404 and what in ("an upload", "a batch"):
            raise EndpointRefused(f"teacher at {self.public_url} has no Batch API ({what} answered 404); "
                                  "teacher.mode: batch needs OpenAI's /v1/files and /v1/batches (vLLM has "
                                  "neither): set teacher.mode: sync") from None

    def upload(self, name: str, data: bytes) -> str:
        """Upload one input file (purpose `batch`); its file id."""
        made = self._call("an upload", lambda: self.client.files.create(file=(name, data), purpose="batch"))
        return made.id

    def create(self, key: str, file_id: str, since: float):
        """Create the batch of `file_id` under `key`, or return the one a lost answer already made."""
        def once():
            try:
                return self.client.batches.create(input_file_id=file_id, endpoint=ENDPOINT, completion_window="24h",
                                                  metadata={KEY: key})
            except Exception as exc:
                if is_transient(exc) and (found := self.find(key, since)) is not None:
                    return found  # the create took effect; its answer was lost
                raise

        try:
            return self._call("a batch", once, retry_if=lambda e: is_transient(e) or _file_not_ready(e))
        except openai.BadRequestError as exc:
            if _file_not_ready(exc):
                raise FileMissing(f"teacher at {self.public_url} cannot find the uploaded batch file {file_id} "
                                  f"after {self.attempts} tries ({describe(exc)}); run again later") from None
            raise

    def find(self, key: str, since: float):
        """The batch whose metadata holds `key`, created after `since` (wall-clock, less an hour); None if none.

        The API lists batches newest first and cannot filter by metadata, so pages are read until the
        batches are older than the intent.
        """
        def scan():
            for batch in self.client.batches.list(limit=100):
                if (batch.metadata or {}).get(KEY) == key:
                    return batch
                if batch.created_at < since - _FIND_SLACK_S:
                    return None
            return None

        return self._call("the list of batches", scan)

    def retrieve(self, batch_id: str):
        try:
            return self._call("a batch's status", lambda: self.client.batches.retrieve(batch_id))
        except openai.NotFoundError:
            raise BatchUnknown(batch_id) from None

    def lines(self, file_id: str) -> list[dict]:
        """The JSON lines of an output or error file (unreadable lines are skipped: their requests count as
        unanswered and are asked again)."""
        text = self._call("a result file", lambda: self.client.files.content(file_id).text)
        out = []
        for raw in text.splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and isinstance(line.get("custom_id"), str):
                out.append(line)
        return out

    def close(self) -> None:
        self.client.close()

