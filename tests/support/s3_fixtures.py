"""pytest plugin: a real S3 server (Ceph RGW, see `ceph_rgw.py`) for tests marked `s3`.

Fixtures:
- `s3_server` (session): the running `CephRGW`; started on first use, stopped at the end of the session
  (also when tests fail or the run is interrupted). Skips when the Ceph binaries are not installed,
  unless `LEXDPR_REQUIRE_S3=1`, which turns the skip into a failure (for CI, so S3 tests cannot vanish).
- `s3_client` (session): a boto3 client for that server, for checks behind `lexdpr.storage`'s back.
- `s3_bucket` (function): points the standard AWS variables at the server (monkeypatched, so they are
  restored afterwards), creates a fresh empty bucket and yields `"s3://<bucket>"`.

Tests that use these fixtures are marked `s3` automatically; `pytest -m "not s3"` leaves them out.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.ceph_rgw import CephRGW, CephRGWError, missing_binaries

INSTALL_HINT = "run `make setup` as root (scripts/install-ceph.sh) to enable S3 tests"
_S3_FIXTURES = {"s3_server", "s3_client", "s3_bucket"}
_started: list[CephRGW] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _S3_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.s3)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for rgw in _started:
        terminalreporter.write_line(f"Ceph RGW test server: started in {rgw.startup_seconds:.1f} s")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[CephRGW]:
    missing = missing_binaries()
    if missing:
        message = f"Ceph binaries not found ({', '.join(missing)}): {INSTALL_HINT}"
        if os.environ.get("LEXDPR_REQUIRE_S3") == "1":
            pytest.fail(f"{message} (LEXDPR_REQUIRE_S3=1)", pytrace=False)
        pytest.skip(message)
    rgw = CephRGW()
    try:
        rgw.start()
    except CephRGWError as exc:
        pytest.fail(f"could not start the local Ceph RGW S3 server:\n{exc}", pytrace=False)
    _started.append(rgw)
    try:
        yield rgw
    finally:
        rgw.stop()


@pytest.fixture(scope="session")
def s3_client(s3_server: CephRGW) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name=s3_server.region,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 3}),
    )


def _bucket_name(test_name: str) -> str:
    """A valid, unique bucket name that still says which test made it."""
    stem = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40].strip("-") or "test"
    return f"{stem}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def s3_bucket(
    s3_server: CephRGW, s3_client: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[str]:
    for name, value in s3_server.aws_env().items():
        monkeypatch.setenv(name, value)
    # nothing from the developer's own AWS setup may leak in
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = _bucket_name(request.node.name)
    s3_client.create_bucket(Bucket=bucket)
    yield f"s3://{bucket}"
    _empty_and_delete(s3_client, bucket)


def _empty_and_delete(client: Any, bucket: str) -> None:
    """Best-effort clean-up, to keep the in-memory store small; the cluster goes at session end anyway.

    (Unfinished multipart uploads are not looked for: boto3 aborts the ones that fail.)
    """
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=bucket)
    except Exception:  # a test may have deleted the bucket itself or broken nothing worth reporting here
        pass
