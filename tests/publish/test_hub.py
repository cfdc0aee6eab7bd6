"""`factory publish` to the Hugging Face Hub, at its API boundary: a real `HfApi` whose network-touching
methods keep a repo in memory and record every operation that would be sent."""

import hashlib
import json

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.hf_api import RepoFile

from factory.errors import FactoryError
from factory.publish_remote import publish
from factory.publish_remote.uri import DestinationError

from support.cli import factory, free_port

REPO = "org/math-traces"
LFS = (".parquet", ".duckdb")  # what the hub's default .gitattributes keeps in LFS


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


class RecordingHub(HfApi):
    """A dataset repo in memory. `lfs` holds the objects the hub's LFS store has (committed or only
    preuploaded), `uploaded` the files whose bytes were actually sent, as the LFS batch endpoint decides."""

    def __init__(self):
        super().__init__(token=False)
        self.files: dict[str, bytes] = {".gitattributes": b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"}
        self.lfs: set[str] = set()
        self.uploaded: list[str] = []
        self.preuploads: list[list[str]] = []
        self.commits: list[tuple[str, list]] = []
        self.repos: list[tuple[str, dict]] = []
        self.fail_after: int | None = None

    def create_repo(self, repo_id, **kwargs):
        self.repos.append((repo_id, kwargs))

    def list_repo_tree(self, repo_id, path_in_repo=None, *, recursive=False, **kwargs):
        assert repo_id == REPO and recursive and kwargs["repo_type"] == "dataset"
        for path, data in sorted(self.files.items()):
            info = {"type": "file", "path": path, "size": len(data), "oid": _git_oid(data)}
            if path.endswith(LFS):
                info["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            yield RepoFile(**info)

    def preupload_lfs_files(self, repo_id, additions, **kwargs):
        additions = list(additions)
        self.preuploads.append([op.path_in_repo for op in additions])
        for op in additions:
            sha = op.upload_info.sha256.hex()
            if not op.path_in_repo.endswith(LFS) or sha in self.lfs:
                continue  # regular files go in the commit; an object the hub holds is not sent again
            if self.fail_after is not None and len(self.uploaded) >= self.fail_after:
                raise ConnectionError("connection reset during the LFS upload")
            self.uploaded.append(op.path_in_repo)
            self.lfs.add(sha)

    def create_commit(self, repo_id, operations, *, commit_message, **kwargs):
        operations = list(operations)
        self.commits.append((commit_message, operations))
        for op in operations:
            if isinstance(op, CommitOperationDelete):
                del self.files[op.path_in_repo]
                continue
            with open(op.path_or_fileobj, "rb") as f:
                data = f.read()
            assert not op.path_in_repo.endswith(LFS) or hashlib.sha256(data).hexdigest() in self.lfs, \
                f"{op.path_in_repo} committed before it was preuploaded"
            self.files[op.path_in_repo] = data


@pytest.fixture
def hub():
    return RecordingHub()


def _order(run_dir) -> list[str]:
    shards = [s["path"] for s in json.loads((run_dir / "manifest.json").read_text())["shards"]]
    return [*shards, "provenance.duckdb", "README.md", "manifest.json"]


def test_one_commit_holds_shards_provenance_card_and_manifest(run_dir, hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_never_written")
    out = publish(run_dir, f"hf://datasets/{REPO}", hub_api=hub)
    assert hub.repos == [(REPO, {"repo_type": "dataset", "exist_ok": True})]
    ((message, ops),) = hub.commits
    assert [type(op) for op in ops] == [CommitOperationAdd] * 9
    assert [op.path_in_repo for op in ops] == _order(run_dir) == out.sent
    for op in ops:
        assert hub.files[op.path_in_repo] == (run_dir / op.path_in_repo).read_bytes()
    # the three empty buckets' shards are one LFS object (same bytes): its bytes travel once, all three are committed
    assert [p.rsplit("/", 2)[-2] for p in _order(run_dir)[3:6]] == ["16k", "24k", "32k"]
    assert hub.preuploads == [_order(run_dir)] and hub.uploaded == _order(run_dir)[:4] + ["provenance.duckdb"]
    assert out.manifest_sha256[:12] in message
    logged = (run_dir / "publications.jsonl").read_text()
    assert json.loads(logged)["destination"] == f"hf://datasets/{REPO}" and "hf_secret" not in logged


def test_an_unchanged_republication_makes_no_commit(run_dir, hub):
    publish(run_dir, f"hf://datasets/{REPO}", hub_api=hub)
    again = publish(run_dir, f"hf://datasets/{REPO}", hub_api=hub)
    assert len(hub.commits) == 1 and len(hub.preuploads) == 1
    assert again.sent == [] and again.skipped == _order(run_dir)


def test_a_rerun_after_an_interrupted_upload_sends_only_what_is_missing(run_dir, hub):
    hub.fail_after = 2
    with pytest.raises(FactoryError, match=r"could not be reached \(ConnectionError: connection reset.*resumes"):
        publish(run_dir, f"hf://datasets/{REPO}", hub_api=hub)
    assert hub.commits == [] and hub.uploaded == _order(run_dir)[:2]  # nothing visible in the repo
    hub.fail_after = None
    out = publish(run_dir, f"hf://datasets/{REPO}", hub_api=hub)
    # the third shard, the empty buckets' one object and provenance, each sent once
    assert hub.uploaded == _order(run_dir)[:4] + ["provenance.duckdb"]
    ((_, ops),) = hub.commits
    assert [op.path_in_repo for op in ops] == _order(run_dir) == out.sent


def test_files_the_repo_has_are_not_added_and_stale_ones_go_in_the_same_commit(run_dir, hub):
    order = _order(run_dir)
    for rel in order[:2]:  # an earlier publication already committed these bytes
        hub.files[rel] = (run_dir / rel).read_bytes()
    hub.files["data/train-00007-of-00009.parquet"] = b"PAR1 an old shard"  # of the layout before bucket folders
    hub.files["data/8k/train-00003-of-00004.parquet"] = b"PAR1 an old shard in a bucket folder"
    hub.files["provenance.duckdb"] = b"an older provenance"
    hub.files["README.md"] = b"an older card"
    out = publish(run_dir, f"hf://datasets/{REPO}", hub_api=hub, provenance=False)
    ((_, ops),) = hub.commits
    shards = order[:6]
    assert [(type(op).__name__, op.path_in_repo) for op in ops] == [
        *(("CommitOperationAdd", p) for p in shards[2:]), ("CommitOperationAdd", "README.md"),
        ("CommitOperationAdd", "manifest.json"),
        ("CommitOperationDelete", "data/8k/train-00003-of-00004.parquet"),
        ("CommitOperationDelete", "data/train-00007-of-00009.parquet"), ("CommitOperationDelete", "provenance.duckdb")]
    assert out.skipped == order[:2] and out.deleted == ["data/8k/train-00003-of-00004.parquet",
                                                        "data/train-00007-of-00009.parquet", "provenance.duckdb"]
    assert sorted(hub.files) == sorted([".gitattributes", *shards, "README.md", "manifest.json"])
    assert out.bytes_sent == sum((run_dir / p).stat().st_size for p in (*shards[2:], "README.md", "manifest.json"))


@pytest.mark.parametrize("uri", ["hf://datasets/org/name@dev", "hf://models/org/name", "hf://datasets/justaname"])
def test_a_hub_uri_must_name_a_dataset_repo_on_main(run_dir, hub, uri):
    with pytest.raises(DestinationError, match="hf://datasets/ORG/NAME"):
        publish(run_dir, uri, hub_api=hub)
    assert hub.repos == []


def test_a_hub_out_of_reach_is_one_line_for_publish_and_check(run_dir):
    # nothing listens on the port: the connection is refused at once, as by a hub that is down
    env = {"HF_ENDPOINT": f"http://127.0.0.1:{free_port()}", "HF_TOKEN": "hf_not_a_token", "HF_HUB_OFFLINE": "0"}
    uri = f"hf://datasets/{REPO}"
    published = factory("publish", run_dir, "--to", uri, env=env, timeout=120)
    checked = factory("check", uri, env=env, timeout=120)
    for done in (published, checked):
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith(f"error: {uri}: the hub could not be reached (ConnectError") \
            and done.stderr.count("\n") == 1, done.stderr
    assert "run the same command again" in published.stderr and "resumes" in published.stderr
    assert not (run_dir / "publications.jsonl").exists()
