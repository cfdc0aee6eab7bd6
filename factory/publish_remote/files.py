"""What a run directory publishes, in upload order, checked before any byte leaves.

The manifest decides: its shards first, then `provenance.duckdb` (when present and wanted), the card,
and `manifest.json` last, since it vouches for the rest. The run directory must pass `factory check`
as a whole (every shard's sha256 and rows, the card's configs, no unlisted Parquet under data/) and
no `factory run` may hold it, or publish refuses in one line. That verifies the shards, card and manifest.
`provenance.duckdb` has no such check to pass: the manifest holds no hash of it (it is written after the
manifest). It is opened read-only with duckdb, and its length checked against the blocks its header
counts, so a file that is not a DuckDB database, or a truncated one, is refused in one line; its pages
are not read, so damage inside it that keeps its length goes out as it is (`factory audit` finds it).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from factory.errors import RunDirError
from factory.publish_remote.check import check
from factory.stages.publish.swap import CARD, MANIFEST, OLD_PREFIX, STAGING_PREFIX
from factory.store.rundir import file_sha256

PROVENANCE = "provenance.duckdb"


@dataclass(frozen=True)
class LocalFile:
    """One file to publish: its path in the publication and on disk, size and digests."""

    rel: str
    path: Path
    size: int
    sha256: str

    @cached_property
    def md5(self) -> str:
        """Hex md5, what S3 (single-part ETag) and GCS (md5Hash) report; computed only when asked."""
        with open(self.path, "rb") as f:
            return hashlib.file_digest(f, "md5").hexdigest()

    @cached_property
    def git_blob_id(self) -> str:
        """The git object id the hub reports for a file kept outside LFS."""
        digest = hashlib.sha1(f"blob {self.size}\0".encode())
        with open(self.path, "rb") as f:
            while block := f.read(2**20):
                digest.update(block)
        return digest.hexdigest()

    def md5_base64(self) -> str:
        return base64.b64encode(bytes.fromhex(self.md5)).decode()


@dataclass(frozen=True)
class Publication:
    """A run directory's publication: files in upload order (manifest last) and the manifest's sha256."""

    run_dir: Path
    files: list[LocalFile]
    manifest_sha256: str

    @property
    def paths(self) -> set[str]:
        return {f.rel for f in self.files}


@contextmanager
def held(run_dir: Path) -> Iterator[None]:
    """Keep `factory run` off the run directory while its files are read (its lock, shared)."""
    lock_path = run_dir / ".lock"
    if not lock_path.exists():
        yield
        return
    with open(lock_path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirError(f"{run_dir}: a `factory run` is writing it; publish when it has finished") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _entry(run_dir: Path, rel: str, sha256: str | None = None) -> LocalFile:
    path = run_dir / rel
    return LocalFile(rel=rel, path=path, size=path.stat().st_size, sha256=sha256 or file_sha256(path))


# DuckDB's file starts with three 4 KiB headers (the file's, then two alternating database headers); the
# blocks follow, each `block_size` long
_DUCKDB_HEADERS = 3 * 4096


def _open_provenance(run_dir: Path) -> None:
    """Refuse a provenance.duckdb that duckdb cannot open read-only, or that is shorter than its blocks."""
    import duckdb

    path = run_dir / PROVENANCE
    fix = (f"rerun `factory run` on {str(run_dir)!r} to write it again, or publish without it (--no-provenance)")
    try:
        con = duckdb.connect(str(path), read_only=True, config={"enable_external_access": False})
        try:
            block_size, blocks = con.execute("SELECT block_size, total_blocks FROM pragma_database_size() "
                                             "WHERE database_name = current_database()").fetchone()
        finally:
            con.close()
    except duckdb.Error as e:
        raise RunDirError(f"{path}: not a readable DuckDB database ({str(e).splitlines()[0]}); {fix}") from None
    want = _DUCKDB_HEADERS + block_size * blocks
    if (have := path.stat().st_size) < want:
        raise RunDirError(f"{path}: truncated ({have} bytes; its {blocks} block(s) of {block_size} need {want}); "
                          f"{fix}")


def read_publication(run_dir: Path, *, provenance: bool = True) -> Publication:
    """The verified files of RUN_DIR's publication, in upload order.

    Raises:
        RunDirError: no complete publication in RUN_DIR (no manifest, a publication mid-swap, any
            problem `factory check` finds, or a provenance.duckdb that is truncated or not a database, when
            it is to be sent), named in one line.
    """
    run_dir = Path(run_dir)
    if not (run_dir / MANIFEST).is_file():
        raise RunDirError(f"{run_dir}: no {MANIFEST}, so nothing is published there yet; run `factory run` to the "
                          "end first")
    if any(run_dir.glob(STAGING_PREFIX + "*")) or any(run_dir.glob(OLD_PREFIX + "*")):
        raise RunDirError(f"{run_dir}: a publication was interrupted mid-swap; run `factory run` on it again to "
                          "finish it, then publish")
    report = check(run_dir)
    if not report.ok:
        more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        raise RunDirError(f"{run_dir}: the publication is incomplete or damaged: {report.problems[0]}{more}; "
                          f"`factory check {run_dir}` lists all, `factory run` rebuilds it")
    manifest = json.loads((run_dir / MANIFEST).read_text())
    files = [_entry(run_dir, s["path"], s["sha256"]) for s in manifest["shards"]]  # check just verified them
    if provenance and (run_dir / PROVENANCE).is_file():
        _open_provenance(run_dir)
        files.append(_entry(run_dir, PROVENANCE))
    files += [_entry(run_dir, CARD), _entry(run_dir, MANIFEST)]
    return Publication(run_dir=run_dir, files=files, manifest_sha256=files[-1].sha256)
