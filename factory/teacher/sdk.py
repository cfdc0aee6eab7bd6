"""What the teacher client takes from the `openai` SDK beyond its documented API, in one place.

Requests go through the SDK's own client (base URL, auth, headers, status errors, the exception types)
but come back as the raw HTTP response: at hundreds of replies a second, the SDK's parameter transform
and pydantic parse cost more CPU than the request itself. Two things here are SDK internals: the HTTP
library it is built on (for the raw response type) and its connection-limit type. pyproject.toml
declares the SDK releases they were tested with, and tests/teacher/test_sdk_contract.py fails when a
release changes either of them or what `post(..., cast_to=RawResponse)` returns.
"""

from __future__ import annotations

import openai
from openai import _base_client, _constants

# the raw response type for `cast_to`: that of the HTTP library the SDK is built on (its own httpx fork,
# httpx2, from 3.x; httpx before), not of whichever happens to be installed
RawResponse = (getattr(_base_client, "httpx2", None) or _base_client.httpx).Response


def aiohttp_client(connections: int) -> openai.DefaultAioHttpClient:
    """The SDK's aiohttp transport (measured far faster than httpx at high concurrency) with a pool of
    `connections`: the SDK's default pool stops at 1000, which would cap a worker's requests in flight."""
    limits = type(_constants.DEFAULT_CONNECTION_LIMITS)(max_connections=connections,
                                                        max_keepalive_connections=connections)
    return openai.DefaultAioHttpClient(limits=limits)
