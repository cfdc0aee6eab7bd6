"""`factory publish` and `factory check`: a run's publication copied to where training teams pull it, and
re-verified there.

`files` reads and verifies what RUN_DIR publishes (the manifest's shards, provenance.duckdb unless left
out, the card, the manifest last); `directory`, `store` and `hub` send it to a local directory (built
beside it, then swapped in), an fsspec object store (s3://, gs://; the manifest is the commit point,
stale objects go after it) or a Hugging Face dataset repo (one commit); `outcome` records each
publication in RUN_DIR/publications.jsonl; `check` re-verifies any of them, and `configs` the card's
curriculum configs against the manifest. Credentials come from the environment only (`uri` refuses a
URI that carries any).
"""

from __future__ import annotations

from pathlib import Path

from factory.publish_remote.check import CheckReport, check
from factory.publish_remote.files import held, read_publication
from factory.publish_remote.outcome import Outcome, record
from factory.publish_remote.uri import parse_destination

__all__ = ["CheckReport", "Outcome", "check", "publish"]


def publish(run_dir: Path, to: str, *, provenance: bool = True, hub_api=None) -> Outcome:
    """Publish RUN_DIR's shards, card, manifest (and provenance.duckdb) to `to`, and record it.

    Args:
        run_dir: a run directory whose publication `factory check` passes.
        to: hf://datasets/ORG/NAME, s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or a local directory.
        provenance: also send provenance.duckdb (after the shards, before the card and manifest).
        hub_api: the huggingface_hub.HfApi to commit through (default: a new one, token from the environment).

    Raises:
        DestinationError: the URI carries credentials or names no destination we write to.
        RunDirError: RUN_DIR holds no complete, verified publication, or a `factory run` holds it.
    """
    dest = parse_destination(to)
    run_dir = Path(run_dir)
    with held(run_dir):
        pub = read_publication(run_dir, provenance=provenance)
        if dest.kind == "hub":
            from factory.publish_remote.hub import publish_to_hub

            outcome = publish_to_hub(pub, dest, hub_api)
        elif dest.kind == "store":
            from factory.publish_remote.store import publish_to_store

            outcome = publish_to_store(pub, dest)
        else:
            from factory.publish_remote.directory import publish_to_directory

            outcome = publish_to_directory(pub, dest)
        record(run_dir, outcome)
    return outcome
