"""Swap a publication into the run directory atomically, and recover from a crash in the middle of it.

Shards, manifest and card are built in a hidden staging directory inside the run directory (same file
system, so renames are atomic) and then renamed into place, the manifest last: it vouches for the rest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from factory.stages.publish.shards import DATA_DIR

MANIFEST = "manifest.json"
CARD = "README.md"
STAGING_PREFIX = ".publish-tmp-"
OLD_PREFIX = ".publish-old-"


def write_durable(path: Path, text: str) -> None:
    """Write and fsync a staged file, so the rename that publishes it never exposes a partial file."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def recover(run_dir: Path) -> None:
    """Finish or undo a publication that crashed mid-swap, and drop stale staging directories.

    The only state a crash can leave without a complete publication in place is `data/` renamed
    away and the new one not yet renamed in; then the old one is put back.
    """
    for old in sorted(run_dir.glob(OLD_PREFIX + "*")):
        if not (run_dir / DATA_DIR).exists() and (old / DATA_DIR).is_dir():
            os.rename(old / DATA_DIR, run_dir / DATA_DIR)
        shutil.rmtree(old)
    for staging in run_dir.glob(STAGING_PREFIX + "*"):
        shutil.rmtree(staging)


def swap_in(run_dir: Path, staging: Path) -> None:
    """Replace the published data, card and manifest (the manifest last: it vouches for the rest)."""
    data, old = run_dir / DATA_DIR, None
    if data.exists():
        # two renames, not one: POSIX cannot rename a directory over a non-empty one. The old tree
        # waits under a name recover() knows, in case we die between the two.
        old = Path(tempfile.mkdtemp(prefix=OLD_PREFIX, dir=run_dir))
        os.rename(data, old / DATA_DIR)
    try:
        os.rename(staging / DATA_DIR, data)
    except BaseException:
        if old is not None:
            os.rename(old / DATA_DIR, data)
            old.rmdir()
        raise
    os.replace(staging / CARD, run_dir / CARD)
    os.replace(staging / MANIFEST, run_dir / MANIFEST)
    if old is not None:
        shutil.rmtree(old)
