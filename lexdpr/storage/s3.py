"""S3 objects through boto3 (MinIO, Ceph RGW and AWS alike).

Configuration comes only from the standard AWS environment (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, `AWS_MAX_ATTEMPTS`, ...), so credentials never appear in
files or logs. The client is cached per distinct configuration: when the environment changes (a test
points at another server, a job rotates its keys), the next call builds a fresh client.

Objects of `MULTIPART_THRESHOLD` bytes or more move in parallel multipart chunks. Requests are retried
with exponential backoff (botocore's "standard" mode: throttling, 5xx and dropped connections), 5 attempts
unless `AWS_MAX_ATTEMPTS` / `AWS_RETRY_MODE` say otherwise.

Every failure becomes a `StorageError` naming the `s3://` URI and what is wrong (missing bucket, missing
object, wrong key id, wrong secret, unreachable endpoint); its message never contains a secret.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from lexdpr.errors import StorageError

MULTIPART_THRESHOLD = 16 * 1024 * 1024
MULTIPART_CHUNKSIZE = 16 * 1024 * 1024
MAX_CONCURRENCY = 8
LIST_PAGE_SIZE = 1000
BODY_ATTEMPTS = 3
DEFAULT_MAX_ATTEMPTS = 5
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 120

# The environment that decides which client we need. Secrets enter the cache key only as a hash.
_CONFIG_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_CA_BUNDLE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")

_MAX_CLIENTS = 4
_clients: dict[tuple[str | None, ...], Any] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise StorageError(f"{uri}: not an s3:// URI")
        bucket, _, key = uri[5:].partition("/")
        if not bucket:
            raise StorageError(f"{uri}: no bucket in the URI (expected s3://bucket/key)")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def _config_key() -> tuple[str | None, ...]:
    plain = tuple(os.environ.get(name) for name in _CONFIG_ENV)
    hashed = tuple(
        hashlib.sha256(value.encode()).hexdigest() if (value := os.environ.get(name)) is not None else None
        for name in _SECRET_ENV
    )
    return plain + hashed


def _client() -> Any:
    """The boto3 S3 client for the current AWS environment (built once per distinct environment)."""
    key = _config_key()
    client = _clients.get(key)
    if client is not None:
        return client
    with _clients_lock:  # boto3 sessions are not thread-safe to create; clients are safe to share
        client = _clients.get(key)
        if client is None:
            client = _new_client()
            _clients[key] = client
            while len(_clients) > _MAX_CLIENTS:  # drop the oldest configuration and its connections
                del _clients[next(iter(_clients))]
    return client


def _new_client() -> Any:
    import boto3
    from botocore.config import Config

    try:
        attempts = int(os.environ.get("AWS_MAX_ATTEMPTS") or DEFAULT_MAX_ATTEMPTS)
    except ValueError:
        raise StorageError("AWS_MAX_ATTEMPTS must be a whole number") from None
    config = Config(
        retries={
            "total_max_attempts": max(1, attempts),
            "mode": os.environ.get("AWS_RETRY_MODE") or "standard",
        },
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=max(10, MAX_CONCURRENCY * 2),
        # path-style (`host/bucket/key`) for MinIO/Ceph endpoints, which rarely have wildcard DNS
        s3={"addressing_style": "path" if _custom_endpoint() else "auto"},
    )
    try:
        return boto3.session.Session().client("s3", config=config)
    except Exception as exc:  # bad region/endpoint/profile in the environment
        raise StorageError(_scrub(f"cannot configure the S3 client: {exc}")) from None


def _custom_endpoint() -> bool:
    return bool(os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))


def clear_client_cache() -> None:
    """Forget cached clients (the next call builds one from the current environment)."""
    with _clients_lock:
        _clients.clear()


def _forget_parent_clients() -> None:
    """In a forked child, drop the clients inherited from the parent.

    Why: their pooled keep-alive sockets are the parent's (and every sibling's) too, and processes reading
    responses from one socket get each other's bytes: an object's body begins with the `HTTP/1.1 200 OK`
    of another request. A child builds its own client on first use. The lock is new too, as another
    thread of the parent may have held it at the fork.
    """
    global _clients_lock
    _clients_lock = threading.Lock()
    _clients.clear()


os.register_at_fork(after_in_child=_forget_parent_clients)


def _transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD,
        multipart_chunksize=MULTIPART_CHUNKSIZE,
        max_concurrency=MAX_CONCURRENCY,
    )


# -- errors ---------------------------------------------------------------------------------------

_REASONS = {
    "NoSuchBucket": "the bucket does not exist",
    "NoSuchKey": "no such object",
    "404": "no such object",
    "NotFound": "no such object",
    "AccessDenied": "access denied (the credentials are valid but may not do this)",
    "403": "access denied",
    "Forbidden": "access denied",
    "AllAccessDisabled": "access denied",
    "InvalidAccessKeyId": "the access key is not known to the server (check AWS_ACCESS_KEY_ID)",
    "SignatureDoesNotMatch": "the secret key is wrong (check AWS_SECRET_ACCESS_KEY)",
    "InvalidToken": "the session token is not valid (check AWS_SESSION_TOKEN)",
    "ExpiredToken": "the session token has expired (renew AWS_SESSION_TOKEN)",
    "RequestTimeTooSkewed": "the local clock is too far from the server's",
    "InvalidBucketName": "not a valid bucket name",
    "SlowDown": "the server is throttling requests (still failing after retries)",
    "ServiceUnavailable": "the server is unavailable (still failing after retries)",
    "InternalError": "the server failed (still failing after retries)",
}


def _safe_endpoint(url: str | None) -> str:
    """The scheme, host and port of a request URL: no user:password, bucket, key or query."""
    if not url:
        return "?"
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, "", "", ""))


def _scrub(text: str) -> str:
    """Remove any secret in the environment from a message (defence in depth: none should be there)."""
    for name in _SECRET_ENV:
        value = os.environ.get(name)
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text


def _unwrap(exc: BaseException) -> BaseException:
    """The botocore error under boto3's transfer wrappers (S3UploadFailedError, RetriesExceededError)."""
    seen = 0
    while seen < 5:
        seen += 1
        inner = getattr(exc, "last_exception", None) or exc.__cause__
        if inner is None or inner is exc:
            break
        exc = inner
    return exc


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _explain(uri: str, exc: BaseException) -> StorageError:
    """Turn a boto3/botocore error into a message that names the object and never the credentials."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
        ReadTimeoutError,
    )

    exc = _unwrap(exc)
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StorageError(f"{uri}: no S3 credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    if isinstance(exc, NoRegionError):
        return StorageError(f"{uri}: no AWS region (set AWS_DEFAULT_REGION)")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError):
        endpoint = _safe_endpoint(exc.kwargs.get("endpoint_url"))
        return StorageError(f"{uri}: cannot reach the S3 endpoint {endpoint} (check AWS_ENDPOINT_URL)")
    if isinstance(exc, ReadTimeoutError | ConnectionClosedError):
        endpoint = _safe_endpoint(exc.kwargs.get("endpoint_url"))
        return StorageError(
            f"{uri}: the S3 endpoint {endpoint} stopped answering (still failing after retries)"
        )
    if isinstance(exc, ParamValidationError):
        return StorageError(_scrub(f"{uri}: not a valid S3 request ({exc})"))
    if isinstance(exc, ClientError):
        code = _error_code(exc)
        reason = _REASONS.get(code)
        if reason is None:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            message = exc.response.get("Error", {}).get("Message") or ""
            reason = f"S3 error {code or '?'} (HTTP {status})" + (f": {message}" if message else "")
        return StorageError(_scrub(f"{uri}: {reason}"))
    return StorageError(_scrub(f"{uri}: S3 request failed ({type(exc).__name__}: {exc})"))


def _diagnose(loc: S3Location, exc: BaseException) -> BaseException:
    """The most telling error for a failed request on `loc`.

    A HEAD answer (403/404) has no body, so it cannot say whether the bucket or the object is missing,
    or whether the secret key is wrong; for those, list the bucket once and take that answer instead.
    """
    exc = _unwrap(exc)
    if _error_code(exc) not in {"403", "404", "Forbidden", "NotFound"}:
        return exc
    try:
        _client().list_objects_v2(Bucket=loc.bucket, Prefix=loc.key, MaxKeys=1)
    except Exception as probe:
        probe = _unwrap(probe)
        # a listing refused for lack of rights says nothing new: keep the first answer then
        if _error_code(probe) not in {"AccessDenied", "403", "Forbidden"}:
            return probe
    return exc


# -- operations -----------------------------------------------------------------------------------


def get_bytes(uri: str) -> bytes:
    """The object's content. Small objects take one GET; large ones parallel ranged GETs."""
    from botocore.exceptions import (
        ConnectionClosedError,
        IncompleteReadError,
        ReadTimeoutError,
        ResponseStreamingError,
    )

    loc = S3Location.parse(uri)
    if not loc.key:
        raise StorageError(f"{uri}: no object key in the URI")
    try:
        client = _client()
        for attempt in range(1, BODY_ATTEMPTS + 1):
            response = client.get_object(Bucket=loc.bucket, Key=loc.key)  # botocore retries the request
            body = response["Body"]
            if response.get("ContentLength", 0) >= MULTIPART_THRESHOLD:
                body.close()
                break
            try:
                return body.read()
            except (ResponseStreamingError, IncompleteReadError, ReadTimeoutError, ConnectionClosedError):
                # a dropped body is not retried by botocore; the transfer manager would, so do we
                if attempt == BODY_ATTEMPTS:
                    raise
                time.sleep(0.2 * 2**attempt)
        buffer = io.BytesIO()
        client.download_fileobj(loc.bucket, loc.key, buffer, Config=_transfer_config())
        return buffer.getvalue()
    except Exception as exc:  # botocore raises many types; all become one clear message
        raise _explain(uri, _diagnose(loc, exc)) from None


def download_file(uri: str, path: str | os.PathLike[str]) -> None:
    """Download an object straight to a local file (multipart ranges in parallel for large objects)."""
    loc = S3Location.parse(uri)
    if not loc.key:
        raise StorageError(f"{uri}: no object key in the URI")
    try:
        _client().download_file(loc.bucket, loc.key, str(Path(path)), Config=_transfer_config())
    except Exception as exc:
        raise _explain(uri, _diagnose(loc, exc)) from None


def upload_file(path: str | os.PathLike[str], uri: str) -> None:
    """Store a local file as the object `uri`, streamed from disk (multipart in parallel when large): a
    model's multi-GB weights never sit in memory."""
    loc = S3Location.parse(uri)
    if not loc.key or loc.key.endswith("/"):
        raise StorageError(f"{uri}: no object key in the URI (expected s3://bucket/key)")
    try:
        _client().upload_file(str(Path(path)), loc.bucket, loc.key, Config=_transfer_config())
    except Exception as exc:
        raise _explain(uri, _diagnose(loc, exc)) from None


def put_bytes(uri: str, data: bytes) -> None:
    """Store `data`: one PUT below MULTIPART_THRESHOLD, parallel multipart upload from there on."""
    loc = S3Location.parse(uri)
    if not loc.key or loc.key.endswith("/"):
        raise StorageError(f"{uri}: no object key in the URI (expected s3://bucket/key)")
    try:
        if len(data) < MULTIPART_THRESHOLD:
            _client().put_object(Bucket=loc.bucket, Key=loc.key, Body=data)
        else:
            _client().upload_fileobj(io.BytesIO(data), loc.bucket, loc.key, Config=_transfer_config())
    except Exception as exc:
        raise _explain(uri, _diagnose(loc, exc)) from None


def exists(uri: str) -> bool:
    """Whether the object exists (for `s3://bucket` alone: whether the bucket exists).

    A missing bucket under an object URI is an error, not `False`: it is almost always a typo.
    """
    loc = S3Location.parse(uri)
    try:
        if loc.key:
            _client().head_object(Bucket=loc.bucket, Key=loc.key)
        else:
            _client().head_bucket(Bucket=loc.bucket)
        return True
    except Exception as exc:
        cause = _diagnose(loc, exc)
        if _error_code(cause) in {"404", "NoSuchKey", "NotFound"} or (
            not loc.key and _error_code(cause) == "NoSuchBucket"
        ):
            return False
        raise _explain(uri, cause) from None


def delete_uris(uris: list[str]) -> None:
    """Delete objects, in batches of 1,000 keys per request (the S3 limit); missing keys are no error."""
    by_bucket: dict[str, list[str]] = {}
    for uri in uris:
        loc = S3Location.parse(uri)
        by_bucket.setdefault(loc.bucket, []).append(loc.key)
    for bucket, keys in by_bucket.items():
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            try:
                response = _client().delete_objects(
                    Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True}
                )
            except Exception as exc:
                raise _explain(f"s3://{bucket}/{chunk[0]}", exc) from None
            errors = response.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(
                    f"s3://{bucket}/{first.get('Key')}: not deleted ({first.get('Code')}: {first.get('Message')})"
                    + (f" and {len(errors) - 1} more" if len(errors) > 1 else "")
                )


def list_uris(prefix_uri: str, recursive: bool = True) -> list[str]:
    """Object URIs under a prefix: all of them, or (`recursive=False`) only those not in a sub-"folder"."""
    loc = S3Location.parse(prefix_uri)
    out: list[str] = []
    kwargs: dict[str, str] = {"Bucket": loc.bucket, "Prefix": loc.key}
    if not recursive:
        kwargs["Delimiter"] = "/"
    try:
        paginator = _client().get_paginator("list_objects_v2")
        for page in paginator.paginate(**kwargs, PaginationConfig={"PageSize": LIST_PAGE_SIZE}):
            out.extend(f"s3://{loc.bucket}/{obj['Key']}" for obj in page.get("Contents", []))
    except Exception as exc:
        raise _explain(prefix_uri, exc) from None
    return out
