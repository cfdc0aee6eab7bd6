"""Publish to an object store through fsspec (s3://, gs://): resumable, the manifest as the commit point.

Order: shards, provenance.duckdb, README.md, manifest.json, then the stale objects (data/ files and a
provenance.duckdb the new manifest does not account for) are deleted. A reader that goes by the manifest
sees the old set or the new one, never half of each: when the upload would overwrite a file the old
manifest vouches for (same name, other bytes), the old manifest is withdrawn first, so that reader sees
no publication for that window rather than a broken one. Readers that glob (the card's configs) can see
old and new shards side by side until the stale ones are gone; `factory check` says when a destination
is whole.

Resume: an object is skipped when its size matches and a checksum the store gives cheaply does too
(S3's single-part ETag or GCS's md5Hash against the local md5, else the `sha256` metadata this module
sets on every upload); with neither, it is sent again. Credentials and endpoints come from the
environment (AWS_*, AWS_ENDPOINT_URL, GOOGLE_APPLICATION_CREDENTIALS).
"""

from __future__ import annotations

import json

import fsspec

from factory.errors import FactoryError
from factory.publish_remote.files import PROVENANCE, LocalFile, Publication
from factory.publish_remote.outcome import Outcome
from factory.publish_remote.uri import Destination, transport_errors, unreachable
from factory.stages.publish.shards import DATA_DIR
from factory.stages.publish.swap import CARD, MANIFEST


def _filesystem(dest: Destination) -> tuple[fsspec.AbstractFileSystem, str]:
    try:
        fs, root = fsspec.core.url_to_fs(dest.uri)
    except ImportError:
        raise FactoryError(f"{dest.uri}: the store's fsspec driver is not installed; pip install -e '.[cloud]'") \
            from None
    fs.invalidate_cache()
    return fs, root.rstrip("/")


def _metadata_kwargs(fs: fsspec.AbstractFileSystem, local: LocalFile) -> dict:
    """The store's own way of attaching our sha256 to an object."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    if protocol in ("s3", "s3a"):
        return {"Metadata": {"sha256": local.sha256}}
    if protocol in ("gs", "gcs"):
        return {"metadata": {"sha256": local.sha256}}
    return {}


def _stored_sha256(fs: fsspec.AbstractFileSystem, path: str, info: dict) -> str | None:
    meta = info.get("metadata")
    if not isinstance(meta, dict) and hasattr(fs, "metadata"):
        try:
            meta = fs.metadata(path)
        except (OSError, NotImplementedError):
            meta = None
    return meta.get("sha256") if isinstance(meta, dict) else None


def same_object(fs: fsspec.AbstractFileSystem, path: str, info: dict | None, local: LocalFile) -> bool:
    """Whether the stored object already holds `local`'s bytes (size, then the cheapest checksum there is)."""
    if info is None or int(info.get("size") or -1) != local.size:
        return False
    etag = str(info.get("ETag") or info.get("etag") or "").strip('"')
    if etag and "-" not in etag and len(etag) == 32:
        return etag == local.md5
    if info.get("md5Hash"):
        return info["md5Hash"] == local.md5_base64()
    return _stored_sha256(fs, path, info) == local.sha256


def _old_manifest(fs, root: str) -> dict | None:
    try:
        with fs.open(f"{root}/{MANIFEST}", "rb") as f:
            return json.loads(f.read())
    except (FileNotFoundError, ValueError):
        return None


def publish_to_store(pub: Publication, dest: Destination) -> Outcome:
    """Upload `pub` to an object store prefix; see the module docstring for order, atomicity and resume.

    Raises:
        FactoryError: the store refused or could not be reached (one line; running again resumes).
    """
    fs, root = _filesystem(dest)
    try:
        return _upload(fs, root, pub, dest)
    except OSError as e:  # s3fs and gcsfs raise PermissionError, FileNotFoundError, ConnectionError...
        raise FactoryError(f"{dest.uri}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'}; "
                           "check the bucket exists and the credentials in the environment may write to it, then run "
                           "the same command again (it resumes)") from None
    except transport_errors(dest.uri) as e:  # botocore's EndpointConnectionError is not an OSError
        raise FactoryError(unreachable(dest.uri, e) + "; run the same command again once it can be (it "
                           "resumes)") from None


def _upload(fs: fsspec.AbstractFileSystem, root: str, pub: Publication, dest: Destination) -> Outcome:
    out = Outcome(destination=dest.uri, manifest_sha256=pub.manifest_sha256)
    existing = {info["name"][len(root) + 1:]: info for info in fs.find(root, detail=True).values()} \
        if fs.exists(root) else {}
    todo = []
    for local in pub.files:
        # the manifest is sent again whenever anything else is: it may have been withdrawn below
        if (local.rel != MANIFEST or not todo) and same_object(fs, f"{root}/{local.rel}", existing.get(local.rel),
                                                               local):
            out.skipped.append(local.rel)
        else:
            todo.append(local)
    old = _old_manifest(fs, root)
    vouched = {s.get("path") for s in old.get("shards", [])} | {PROVENANCE, CARD} if isinstance(old, dict) else set()
    if MANIFEST in existing and any(f.rel in vouched for f in todo):
        fs.rm_file(f"{root}/{MANIFEST}")  # withdraw the old set before any of its files changes
    for local in todo:
        fs.put_file(str(local.path), f"{root}/{local.rel}", **_metadata_kwargs(fs, local))
        out.sent.append(local.rel)
        out.bytes_sent += local.size
    stale = sorted(rel for rel in existing if rel not in pub.paths
                   and (rel.startswith(f"{DATA_DIR}/") or rel == PROVENANCE))
    for rel in stale:
        fs.rm_file(f"{root}/{rel}")
        out.deleted.append(rel)
    return out
