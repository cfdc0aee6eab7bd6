"""Fixtures for the publish tests: a published run directory and a local S3 server (moto)."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from support.cli import free_port
from support.published import published_run


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return published_run(tmp_path / "run")


@pytest.fixture
def s3(monkeypatch):
    """A moto S3 server on a free loopback port with one bucket, credentials and endpoint in the environment;
    yields the bucket's s3:// URI."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ACCESS_KEY_ID": "test-key-id", "AWS_SECRET_ACCESS_KEY": "test-secret-do-not-write",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    # moto keeps its buckets in process-wide state, across servers: start each test from none
    urllib.request.urlopen(urllib.request.Request(f"{env['AWS_ENDPOINT_URL']}/moto-api/reset", method="POST"))
    try:
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        s3fs.S3FileSystem().mkdir("bucket")
        yield "s3://bucket"
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        server.stop()
