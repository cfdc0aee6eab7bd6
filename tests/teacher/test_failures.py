"""Failed attempts are classed from the exception itself; older journals' descriptions still read the same."""

import importlib
import json

import openai
import pytest

from factory.teacher.failures import ERROR_CLASSES, EndpointRetired, MalformedResponse, classify, describe, legacy_class
from factory.teacher.sdk import RawResponse

request = importlib.import_module(RawResponse.__module__).Request("POST", "http://x/v1/chat/completions")


def status(cls, code):
    return cls("boom", response=RawResponse(code, request=request), body=None)


CASES = [
    (status(openai.RateLimitError, 429), "429"), (status(openai.InternalServerError, 503), "5xx"),
    (status(openai.InternalServerError, 500), "5xx"), (status(openai.BadRequestError, 400), "4xx"),
    (status(openai.NotFoundError, 404), "4xx"), (status(openai.APIStatusError, 408), "timeout"),
    (openai.APITimeoutError(request=request), "timeout"), (TimeoutError(), "timeout"),
    (openai.APIConnectionError(request=request), "connection"), (ConnectionResetError(), "connection"),
    (MalformedResponse("response has no choices"), "malformed"),
    (json.JSONDecodeError("Expecting value", "<html>", 0), "malformed"),
    (EndpointRetired("http://a/v1 answered 401; retired from the pool"), "refused"),
    (KeyError("x"), "other"),
]


@pytest.mark.parametrize("exc, expected", CASES, ids=[f"{type(e).__name__}-{c}" for e, c in CASES])
def test_the_class_comes_from_the_exception(exc, expected):
    assert classify(exc) == expected
    assert expected in ERROR_CLASSES


@pytest.mark.parametrize("exc, expected", [c for c in CASES if not isinstance(c[0], (TimeoutError, OSError))],
                         ids=lambda c: str(c) if isinstance(c, str) else type(c).__name__)
def test_an_older_journals_description_reads_as_the_same_class(exc, expected):
    assert legacy_class(describe(exc)) == expected


def test_descriptions_keep_type_status_and_the_first_line():
    assert describe(status(openai.RateLimitError, 429)) == "RateLimitError 429: boom"
    assert describe(KeyError("x")) == "KeyError: 'x'"
    assert describe(ValueError("a\nb")) == "ValueError: a"


def test_legacy_edge_cases():
    assert legacy_class(None) is None and legacy_class("") is None
    assert legacy_class("HTTP 502 after 3 attempts") == "5xx"
    assert legacy_class("??") == "other"
    for cls in ERROR_CLASSES:  # a value recorded already classed reads as itself
        assert legacy_class(cls) == cls
