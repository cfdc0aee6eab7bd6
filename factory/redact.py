"""Keep secrets out of everything the factory writes: URLs lose credentials and query strings."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def public_endpoint(url: str) -> str:
    """The URL as recorded anywhere: no user:password, no query string (keys hide in both)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def redact_argv(argv: list[str]) -> list[str]:
    """A command line fit to store: the value of --teacher-url made public."""
    out, redact_next = [], False
    for arg in argv:
        if redact_next:
            arg, redact_next = public_endpoint(arg), False
        elif arg == "--teacher-url":
            redact_next = True
        elif arg.startswith("--teacher-url="):
            arg = "--teacher-url=" + public_endpoint(arg.split("=", 1)[1])
        out.append(arg)
    return out
