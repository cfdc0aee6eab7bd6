"""Where a publication goes: the destination URI, parsed and refused when it carries credentials.

Credentials come from the environment only (HF_TOKEN, AWS_*, GOOGLE_APPLICATION_CREDENTIALS): a URI
with a user or password in it, or a query string (where keys hide too), is refused before anything is
read, so no secret can reach the run directory, the destination or a log through the URI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from factory.errors import FactoryError

OBJECT_STORES = ("s3", "gs", "gcs")
HUB_PREFIX = "hf://datasets/"


class DestinationError(FactoryError):
    """A destination URI that cannot be published to or checked as written."""


@dataclass(frozen=True)
class Destination:
    """A parsed destination.

    Attributes:
        kind: 'hub' (a Hugging Face dataset repo), 'store' (an fsspec object store) or 'local'.
        uri: the URI as recorded anywhere (it never holds credentials: those are refused).
        repo_id: ORG/NAME on the hub, else None.
        path: the local directory (kind 'local'), else None.
    """

    kind: str
    uri: str
    repo_id: str | None = None
    path: Path | None = None


def _refuse_credentials(uri: str) -> None:
    parts = urlsplit(uri)
    if "@" in parts.netloc or parts.password or parts.username:
        raise DestinationError(f"{parts.scheme}://{parts.hostname or '...'}: the URI carries credentials "
                               "(user:secret@); remove them and set them in the environment (HF_TOKEN, AWS_*, "
                               "GOOGLE_APPLICATION_CREDENTIALS)")
    if parts.query:
        raise DestinationError(f"{parts.scheme}://{parts.netloc}{parts.path}: remove the query string from the URI "
                               "(options and keys come from the environment)")


def parse_destination(uri: str) -> Destination:
    """Parse a `factory publish --to` URI: hf://datasets/ORG/NAME, s3://BUCKET[/PREFIX], gs://BUCKET[/PREFIX],
    or a local path (file:// or plain).

    Raises:
        DestinationError: credentials or a query string in the URI, an unknown scheme, or a malformed hub id.
    """
    scheme = urlsplit(uri).scheme
    if scheme and len(scheme) > 1:  # a Windows drive letter is not a scheme
        _refuse_credentials(uri)
    if scheme == "hf":
        repo_id = uri.removeprefix(HUB_PREFIX).strip("/") if uri.startswith(HUB_PREFIX) else ""
        if repo_id.count("/") != 1 or "@" in repo_id or not all(repo_id.split("/")):
            raise DestinationError(f"{uri!r}: a hub destination is hf://datasets/ORG/NAME (the main branch; no "
                                   "@revision)")
        return Destination(kind="hub", uri=HUB_PREFIX + repo_id, repo_id=repo_id)
    if scheme in OBJECT_STORES:
        parts = urlsplit(uri)
        if not parts.netloc:
            raise DestinationError(f"{uri!r}: name a bucket, e.g. {scheme}://BUCKET/PREFIX")
        return Destination(kind="store", uri=f"{scheme}://{parts.netloc}{parts.path}".rstrip("/"))
    if scheme == "file":
        path = Path(urlsplit(uri).path)
    elif scheme and len(scheme) > 1:
        raise DestinationError(f"{uri!r}: unknown destination scheme {scheme!r}; use hf://datasets/ORG/NAME, "
                               "s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or a local directory")
    else:
        path = Path(uri)
    path = path.expanduser().absolute()
    return Destination(kind="local", uri=str(path), path=path)


def public_location(location: str) -> str:
    """A run directory or URI as `factory check` may print it: refused when it carries credentials."""
    if "://" in location:
        _refuse_credentials(location)
    return location


def transport_errors(location: str) -> tuple[type[BaseException], ...]:
    """What the client library behind `location` raises when its endpoint cannot be reached, where that is not an
    OSError (the hub's httpx, S3's botocore); imported only for a location that uses it."""
    scheme = urlsplit(location).scheme
    if scheme == "hf":
        from factory.publish_remote.hub import TRANSPORT_ERRORS

        return tuple(t for t in TRANSPORT_ERRORS if t is not OSError)
    if scheme in ("s3", "s3a"):
        try:  # connection refused, timeouts, connections dropped; not NoCredentialsError and its kin
            from botocore.exceptions import ConnectionError as NoConnection
            from botocore.exceptions import HTTPClientError
        except ImportError:  # no s3fs installed: opening the store fails first, in its own line
            return ()
        return (NoConnection, HTTPClientError)
    return ()


def unreachable(uri: str, e: BaseException) -> str:
    """One line for an endpoint that could not be reached (the error's class and first line)."""
    detail = str(e).splitlines()[0] if str(e) else "no detail"
    endpoint = "HF_ENDPOINT" if uri.startswith("hf://") else "the endpoint (AWS_ENDPOINT_URL for s3://)"
    what = "the hub" if uri.startswith("hf://") else "the store"
    return f"{uri}: {what} could not be reached ({type(e).__name__}: {detail}); check {endpoint} and the network"
