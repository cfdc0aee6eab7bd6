"""`factory check`: re-verify a publication where it lies, a run directory or any URI publish writes to.

Every shard the manifest lists is read whole: its sha256 over the bytes as stored and its row count from
the Parquet footer, against the manifest. The card's `configs` are checked against the manifest (see
`configs`), and a Parquet file under data/ that the manifest does not list is flagged, since the card's
globs would load it. Every problem is one line naming the file; nothing stops at the first one.

Locations are opened through fsspec (local paths, s3://, gs://, hf://datasets/ORG/NAME via
HfFileSystem), with credentials from the environment only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import fsspec
import pyarrow.parquet as pq
from pydantic import ValidationError

from factory.errors import FactoryError
from factory.publish_remote.configs import config_problems, front_matter
from factory.publish_remote.uri import public_location, transport_errors, unreachable
from factory.stages.publish.shards import DATA_DIR
from factory.stages.publish.swap import CARD, MANIFEST
from factory.store.records import ShardEntry

_BLOCK = 8 * 2**20


@dataclass
class CheckReport:
    """What `check` found.

    Attributes:
        location: the run directory or URI checked.
        problems: one line per problem, each naming the file or config at fault.
        shards, rows, bytes: what the manifest lists.
        configs: card configs checked.
    """

    location: str
    problems: list[str] = field(default_factory=list)
    shards: int = 0
    rows: int = 0
    bytes: int = 0
    configs: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def render(self) -> str:
        """The problems, one a line, then a one-line summary."""
        what = (f"{self.shards} shard(s), {self.rows} rows, {self.bytes / 2**20:.1f} MiB, "
                f"{self.configs} card config(s)")
        last = (f"ok: {self.location}: {what}; checksums, row counts and configs match the manifest" if self.ok
                else f"FAILED: {self.location}: {len(self.problems)} problem(s) in {what}")
        return "\n".join([*self.problems, last])


def open_location(location: str | Path) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, root path on it) for a run directory or a URI."""
    text = public_location(str(location))
    if "://" not in text:
        return fsspec.filesystem("file"), str(Path(text).expanduser().absolute())
    try:
        fs, root = fsspec.core.url_to_fs(text)
    except (ImportError, ValueError) as e:
        raise FactoryError(f"{text}: cannot open ({e}); for s3:// and gs:// pip install -e '.[cloud]'") from None
    fs.invalidate_cache()
    return fs, root.rstrip("/")


def shard_digest(fs: fsspec.AbstractFileSystem, path: str) -> tuple[str, int]:
    """(sha256 of the bytes, rows in the Parquet footer) of one stored file, read once."""
    digest = hashlib.sha256()
    with fs.open(path, "rb", block_size=_BLOCK) as f:
        while block := f.read(_BLOCK):
            digest.update(block)
        f.seek(0)
        rows = pq.ParquetFile(f).metadata.num_rows
    return digest.hexdigest(), rows


def _read_text(fs, path: str) -> str | None:
    try:
        with fs.open(path, "rb") as f:
            return f.read().decode("utf-8")
    except FileNotFoundError:
        return None


def _present(fs, root: str) -> dict[str, int]:
    """Repo-relative path -> size of every file under data/ and at the top level."""
    found: dict[str, int] = {}
    for listing in (fs.find(f"{root}/{DATA_DIR}", detail=True), fs.ls(root, detail=True)):
        for info in (listing.values() if isinstance(listing, dict) else listing):
            if info.get("type") == "file":
                found[info["name"].rstrip("/")[len(root.rstrip("/")) + 1:]] = int(info.get("size") or 0)
    return found


def _check_shard(fs, root: str, entry: dict, present: dict[str, int]) -> list[str]:
    path = entry["path"]
    if path not in present:
        return [f"{path}: listed in the manifest but missing"]
    if present[path] != entry["bytes"]:
        return [f"{path}: {present[path]} bytes, the manifest says {entry['bytes']}"]
    try:
        sha, rows = shard_digest(fs, f"{root}/{path}")
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        return [f"{path}: not a readable Parquet file ({str(e).splitlines()[0]})"]
    out = []
    if sha != entry["sha256"]:
        out.append(f"{path}: sha256 {sha[:16]}..., the manifest says {entry['sha256'][:16]}...")
    if rows != entry["rows"]:
        out.append(f"{path}: {rows} rows in its footer, the manifest says {entry['rows']}")
    return out


def check(location: str | Path) -> CheckReport:
    """Re-verify the publication at a run directory or URI.

    Raises:
        FactoryError: the location has credentials in it or its filesystem cannot be opened.
    """
    fs, root = open_location(location)
    report = CheckReport(location=public_location(str(location)))
    try:
        return _check(fs, root, report)
    except OSError as e:  # the store refused or was unreachable; a missing file is a problem line instead
        raise FactoryError(f"{report.location}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}; "
                           "check the location and the credentials in the environment") from None
    except transport_errors(report.location) as e:  # an endpoint out of reach: httpx's, botocore's errors
        raise FactoryError(unreachable(report.location, e)) from None


def _manifest_parts(manifest) -> tuple[list[dict], dict[str, int]]:
    """(shard entries, curriculum_buckets) of a parsed manifest, each entry validated as a `ShardEntry`
    (strictly: "8192" is not a bucket), so `configs` compares only ints.

    Raises:
        ValueError, KeyError, TypeError: the manifest is not one the factory writes.
    """
    if not isinstance(manifest, dict):
        raise TypeError(f"a JSON {type(manifest).__name__}, not an object")
    shards = manifest["shards"]
    if not isinstance(shards, list):
        raise TypeError(f"`shards` is {json.dumps(shards)[:40]}, not a list")
    entries = []
    for i, entry in enumerate(shards):
        try:
            entries.append(ShardEntry.model_validate(entry, strict=True).model_dump())
        except ValidationError as e:
            raise ValueError(f"shards[{i}]: {_first_error(e)}") from None
    buckets = manifest.get("curriculum_buckets", {})
    if not isinstance(buckets, dict) or not all(
            str(k).isdigit() and type(v) is int for k, v in buckets.items()):
        raise TypeError("`curriculum_buckets` is not an object of token limit -> rows")
    return entries, buckets


def _first_error(e: Exception) -> str:
    if isinstance(e, ValidationError):
        err = e.errors()[0]
        where = ".".join(map(str, err["loc"]))
        return f"{where}: {err['msg']}" if where else err["msg"]
    if isinstance(e, KeyError):
        return f"no {e.args[0]!r}"
    return str(e).splitlines()[0] if str(e) else type(e).__name__


def _check(fs: fsspec.AbstractFileSystem, root: str, report: CheckReport) -> CheckReport:
    text = _read_text(fs, f"{root}/{MANIFEST}")
    if text is None:
        report.problems.append(f"{MANIFEST}: missing (nothing published here, or a publication is under way)")
        return report
    try:
        shards, buckets = _manifest_parts(json.loads(text))
    except (ValueError, KeyError, TypeError) as e:  # pydantic's ValidationError is a ValueError
        report.problems.append(f"{MANIFEST}: not a factory manifest ({_first_error(e)})")
        return report
    present = _present(fs, root)
    report.shards, report.rows = len(shards), sum(s["rows"] for s in shards)
    report.bytes = sum(s["bytes"] for s in shards)
    for entry in shards:
        report.problems += _check_shard(fs, root, entry, present)
    listed = {s["path"] for s in shards}
    unlisted = "a Parquet file the manifest does not list (a reader globbing data/ would load it; delete it)"
    report.problems += [f"{p}: {unlisted}"
                        for p in sorted(present) if p.startswith(f"{DATA_DIR}/") and p.endswith(".parquet")
                        and p not in listed]
    card = _read_text(fs, f"{root}/{CARD}")
    if card is None:
        report.problems.append(f"{CARD}: missing (the dataset card and its configs)")
    else:
        problems, report.configs = config_problems(front_matter(card).get("configs"), shards, present, buckets)
        report.problems += problems
    return report
