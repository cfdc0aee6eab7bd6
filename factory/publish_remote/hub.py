"""Publish to a Hugging Face dataset repo: one commit holding the shards, card and manifest.

The repo's tree (`list_repo_tree`, which carries each LFS file's sha256 and each other file's git blob
id) says what is already there; a file with the same bytes is not added again. The rest is preuploaded
(`preupload_lfs_files`) and then committed in a single `create_commit` together with the deletion of
stale files (data/ files and a provenance.duckdb the new manifest does not account for), so a reader
of the repo sees the old publication or the new one. An interrupted run leaves at most preuploaded
LFS objects and no commit; the next run adds the same files again, and the hub's LFS batch endpoint
tells huggingface_hub which of those objects it already holds, so only what is missing is sent. A hub
that refuses (HTTP 4xx/5xx) or cannot be reached (connection refused, timeout) ends the command in one
line; after the latter, running it again resumes.
The token comes from the environment (HF_TOKEN) or huggingface_hub's own login, never from us.
"""

from __future__ import annotations

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import RepoFile

from factory.errors import FactoryError
from factory.publish_remote.files import PROVENANCE, LocalFile, Publication
from factory.publish_remote.outcome import Outcome
from factory.publish_remote.uri import Destination, unreachable
from factory.stages.publish.shards import DATA_DIR

REPO_TYPE = "dataset"
# what huggingface_hub's HTTP library (httpx2 from huggingface_hub 2, httpx before) raises when the hub cannot
# be reached: not an OSError, but the base HfHubHTTPError shares with it
TRANSPORT_ERRORS = (*(b for b in HfHubHTTPError.__bases__ if b is not OSError), OSError)


def same_file(remote: RepoFile | None, local: LocalFile) -> bool:
    """Whether the repo's file already holds `local`'s bytes."""
    if remote is None:
        return False
    if remote.lfs is not None:
        return remote.lfs.size == local.size and remote.lfs.sha256 == local.sha256
    if remote.size != local.size:
        return False
    return remote.blob_id == local.git_blob_id


def plan_commit(pub: Publication, tree: dict[str, RepoFile]) -> tuple[list[CommitOperationAdd],
                                                                      list[CommitOperationDelete], list[str]]:
    """(files to add, stale files to delete, files already there) for one commit."""
    adds, skipped = [], []
    for local in pub.files:
        if same_file(tree.get(local.rel), local):
            skipped.append(local.rel)
        else:
            adds.append(CommitOperationAdd(path_in_repo=local.rel, path_or_fileobj=str(local.path)))
    stale = sorted(p for p in tree if p not in pub.paths and (p.startswith(f"{DATA_DIR}/") or p == PROVENANCE))
    return adds, [CommitOperationDelete(path_in_repo=p) for p in stale], skipped


def publish_to_hub(pub: Publication, dest: Destination, api: HfApi | None = None) -> Outcome:
    """Commit `pub` to the dataset repo `dest.repo_id` (created when missing); see the module docstring."""
    api = api or HfApi()
    out = Outcome(destination=dest.uri, manifest_sha256=pub.manifest_sha256)
    try:
        api.create_repo(dest.repo_id, repo_type=REPO_TYPE, exist_ok=True)
        tree = {f.path: f for f in api.list_repo_tree(dest.repo_id, repo_type=REPO_TYPE, recursive=True)
                if isinstance(f, RepoFile)}
        adds, deletes, out.skipped = plan_commit(pub, tree)
        if adds or deletes:
            api.preupload_lfs_files(dest.repo_id, additions=adds, repo_type=REPO_TYPE)
            api.create_commit(dest.repo_id, operations=[*adds, *deletes], repo_type=REPO_TYPE,
                              commit_message=f"factory publish: {len(adds)} file(s) added, {len(deletes)} removed "
                                             f"(manifest sha256 {pub.manifest_sha256[:12]})")
    except HfHubHTTPError as e:
        raise FactoryError(f"{dest.uri}: the hub refused ({str(e).splitlines()[0]}); check HF_TOKEN has write "
                           "access to the repo") from None
    except TRANSPORT_ERRORS as e:
        raise FactoryError(unreachable(dest.uri, e) + "; run the same command again once it can be (it "
                           "resumes)") from None
    sizes = {f.rel: f.size for f in pub.files}
    out.sent = [op.path_in_repo for op in adds]
    out.bytes_sent = sum(sizes[p] for p in out.sent)
    out.deleted = [op.path_in_repo for op in deletes]
    return out
