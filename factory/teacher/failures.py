"""Failed attempts: described for the journal and classed, both from the exception, when they happen.

The class is what the progress line and the provenance database count by: 429, 5xx, timeout (client timeouts and 408),
connection, malformed (a 200 with an unusable body), 4xx (any other status: the request was refused),
refused (401/403/404 from one member of a pool, which is then retired), other.
"""

from __future__ import annotations

import asyncio
import json
import re

import openai

ERROR_CLASSES = ("429", "5xx", "timeout", "connection", "malformed", "4xx", "refused", "other")


class MalformedResponse(Exception):
    """A 200 response whose body holds no usable completion."""


class EndpointRetired(Exception):
    """One endpoint of a pool refused us outright; the request goes to another one."""


def describe(exc: BaseException) -> str:
    """One line for the journal: "ExceptionType[ status][: first line of the message]"."""
    status = getattr(exc, "status_code", None)
    text = str(exc).splitlines()[0][:300] if str(exc) else ""
    return f"{type(exc).__name__}" + (f" {status}" if status else "") + (f": {text}" if text else "")


def classify(exc: BaseException) -> str:
    """The class (one of ERROR_CLASSES) of the failure `exc`."""
    if isinstance(exc, EndpointRetired):
        return "refused"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return "429" if status == 429 else "5xx" if status >= 500 else "timeout" if status == 408 else "4xx"
    # before connection errors: the SDK's timeout is one of them
    if isinstance(exc, (openai.APITimeoutError, asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, (openai.APIConnectionError, ConnectionError)):
        return "connection"
    if isinstance(exc, (MalformedResponse, json.JSONDecodeError, openai.APIResponseValidationError)):
        return "malformed"
    return "other"


# How `describe` wrote an error, read back only for journal lines written before the class was recorded.
_DESCRIBED = re.compile(r"(?P<name>[\w.]+)(?: (?P<status>\d{3})\b)?")
_MALFORMED_NAMES = {"MalformedResponse", "JSONDecodeError", "APIResponseValidationError"}
_CONNECTION_NAMES = {"ConnectError", "ReadError", "RemoteProtocolError"}


def legacy_class(description: str | None) -> str | None:
    """The class of a failure from its `describe` text, for records of older journals that lack it."""
    if not description:
        return None
    if description in ERROR_CLASSES:  # already a class (as some journals recorded the final error)
        return description
    m = _DESCRIBED.match(description)
    if m is None:
        return "other"
    name = m["name"].rsplit(".", 1)[-1]
    status = int(m["status"]) if m["status"] else None
    if status == 429:
        return "429"
    if status is not None and status >= 500:
        return "5xx"
    if status == 408 or "Timeout" in name:
        return "timeout"
    if status is not None:
        return "4xx"
    if "Connection" in name or name in _CONNECTION_NAMES:
        return "connection"
    if name in _MALFORMED_NAMES:
        return "malformed"
    if name == "EndpointRetired":
        return "refused"
    return "other"
