"""Publish to a local directory: build the new set beside it, then swap the directories.

The new directory is assembled as a hidden sibling (same file system, so the renames are atomic):
files the old publication already holds with the same sha256 are hard-linked from it, the rest copied
and fsynced; files that are not ours (neither data/, the card, the manifest nor provenance.duckdb) are
carried over. Then the old directory is renamed away and the new one into its place. The swap is two
renames, not one: between them (the time of one rename system call) the destination path does not
exist, so a reader that opens a path under it then gets ENOENT (FileNotFoundError) and must retry;
a reader already holding files open keeps reading the old set, and before the first rename and after
the second every path resolves to one whole set. A crash between the two leaves the old set as
`.NAME.publish-old-*/set` beside it, which the next publish puts back before anything else. A non-empty
directory without a manifest is refused: it is not a publication, and publishing would replace it.
A file system that refuses (no permission, a file where a parent directory should be, a read-only or
virtual file system) ends the command in one line.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from factory.publish_remote.files import PROVENANCE, LocalFile, Publication
from factory.publish_remote.outcome import Outcome
from factory.publish_remote.uri import Destination, DestinationError
from factory.stages.publish.shards import DATA_DIR
from factory.stages.publish.swap import CARD, MANIFEST
from factory.store.rundir import file_sha256


def _ours(rel: str) -> bool:
    return rel.startswith(f"{DATA_DIR}/") or rel in (CARD, MANIFEST, PROVENANCE)


def _prefix(target: Path, what: str) -> str:
    return f".{target.name}.publish-{what}-"


def recover_directory(target: Path) -> None:
    """Put back a publication a crash left renamed away, and drop half-built new ones."""
    for old in sorted(target.parent.glob(_prefix(target, "old") + "*")):
        if not target.exists() and (old / "set").is_dir():
            os.rename(old / "set", target)
        shutil.rmtree(old)
    for staging in target.parent.glob(_prefix(target, "tmp") + "*"):
        shutil.rmtree(staging)


def _refuse(pub: Publication, target: Path) -> None:
    run_dir = pub.run_dir.resolve()
    if target.resolve() == run_dir or run_dir in target.resolve().parents or target.resolve() in run_dir.parents:
        raise DestinationError(f"{target}: the destination overlaps the run directory {run_dir}; publish elsewhere")
    if target.exists() and not target.is_dir():
        raise DestinationError(f"{target} is a file; publish to a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise DestinationError(f"{target}: a non-empty directory without {MANIFEST} is not a publication; "
                               "publish to a new or empty directory")


def _place(local: LocalFile, old: Path, into: Path) -> bool:
    """Put one file into the new set; True when the old set's copy could be linked instead of copied."""
    dst = into / local.rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    before = old / local.rel
    if before.is_file() and before.stat().st_size == local.size and file_sha256(before) == local.sha256:
        os.link(before, dst)
        return True
    shutil.copyfile(local.path, dst)
    with open(dst, "rb") as f:
        os.fsync(f.fileno())
    return False


def publish_to_directory(pub: Publication, dest: Destination) -> Outcome:
    """Publish `pub` into a local directory, replacing an earlier publication there in one swap.

    Raises:
        DestinationError: the destination overlaps the run directory, is a file, holds something that is
            not a publication, or the file system refuses to write there (one line naming the path).
    """
    try:
        return _publish(pub, dest)
    except OSError as e:
        where = e.filename or dest.path
        raise DestinationError(f"{dest.path}: cannot publish there ({type(e).__name__}: {e.strerror or e} at "
                               f"{where}); choose a directory you may write to, on a disk file system") from None


def _publish(pub: Publication, dest: Destination) -> Outcome:
    target = dest.path
    target.parent.mkdir(parents=True, exist_ok=True)
    recover_directory(target)
    _refuse(pub, target)
    out = Outcome(destination=dest.uri, manifest_sha256=pub.manifest_sha256)
    staging = Path(tempfile.mkdtemp(prefix=_prefix(target, "tmp"), dir=target.parent))
    os.chmod(staging, 0o755)  # mkdtemp's 0700 would make the published directory private
    try:
        for local in pub.files:
            skipped = _place(local, target, staging)
            (out.skipped if skipped else out.sent).append(local.rel)
            out.bytes_sent += 0 if skipped else local.size
        if target.is_dir():
            for path in sorted(p for p in target.rglob("*") if p.is_file()):
                rel = path.relative_to(target).as_posix()
                if not _ours(rel):
                    (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.link(path, staging / rel)
                elif rel not in pub.paths:
                    out.deleted.append(rel)
            old = Path(tempfile.mkdtemp(prefix=_prefix(target, "old"), dir=target.parent))
            os.rename(target, old / "set")
            os.rename(staging, target)
            shutil.rmtree(old)
        else:
            os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return out
