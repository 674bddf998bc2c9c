"""Where checkpoints are kept: an S3 bucket, or a local directory for development and tests.

A store holds whole objects under keys. Two writes matter to the protocol: ``create`` (write a new
immutable object, never replacing one) and ``swap`` (replace the manifest only if it is still the
version the writer last saw: a compare-and-swap on its ETag, so two copies of one workload cannot
silently overwrite each other's commits). Both are atomic: a reader sees the whole object or none.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit


class StoreConflict(RuntimeError):
    """A conditional write lost: the object changed (or appeared) since it was read."""


@dataclass(frozen=True)
class Blob:
    """An object's bytes and its version tag (S3 ETag; the sha256 for a local file)."""

    data: bytes
    etag: str


class Store(Protocol):
    """An object store holding a workload's checkpoints."""

    def get(self, key: str) -> Blob | None:
        """The object at ``key``, or None when there is none."""
        ...

    def create(self, key: str, data: bytes) -> bool:
        """Write ``key`` unless it exists; False (and nothing written) when it does."""
        ...

    def swap(self, key: str, data: bytes, expected: str | None) -> str:
        """Replace ``key`` if its ETag is ``expected`` (None: it must not exist); the new ETag.
        Raise StoreConflict otherwise."""
        ...


@dataclass(frozen=True)
class LocalStore:
    """A directory: each object a file, written to a temporary name then linked or renamed into
    place, so a killed writer leaves at most a stray ``.tmp-*`` file that readers never see."""

    root: Path

    def get(self, key: str) -> Blob | None:
        """The file at ``key`` under the root, or None."""
        try:
            data = (self.root / key).read_bytes()
        except FileNotFoundError:
            return None
        return Blob(data, hashlib.sha256(data).hexdigest())

    def create(self, key: str, data: bytes) -> bool:
        """Link a fully written temporary file to ``key``; linking fails if ``key`` exists."""
        path = self.root / key
        tmp = self._write_tmp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        return True

    def swap(self, key: str, data: bytes, expected: str | None) -> str:
        """Rename a fully written temporary file over ``key`` under an exclusive lock."""
        path = self.root / key
        tmp = self._write_tmp(path, data)
        try:
            with open(path.with_name(f".{path.name}.lock"), "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                current = self.get(key)
                if (current.etag if current else None) != expected:
                    raise StoreConflict(f"{path}: changed since it was read")
                os.replace(tmp, path)
                _fsync_dir(path.parent)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return hashlib.sha256(data).hexdigest()

    @staticmethod
    def _write_tmp(path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        return Path(name)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(eq=True)
class S3Store:
    """One S3 bucket through boto3 (the only AWS SDK call the agent makes: Get/PutObject).

    Objects are written without encryption headers so that the bucket's default encryption (the
    module's KMS key) applies; naming ``aws:kms`` here would pick the AWS-managed key instead.
    """

    bucket: str
    client: Any = None

    def __post_init__(self) -> None:
        if self.client is None:
            self.client = default_s3_client()

    def get(self, key: str) -> Blob | None:
        """GetObject, or None on NoSuchKey."""
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        except self.client.exceptions.ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("AccessDenied", "403"):
                raise PermissionError(
                    f"s3://{self.bucket}/{key}: access denied (S3 answers 403 for a missing"
                    " object unless the role may s3:ListBucket the prefix)"
                ) from err
            raise
        return Blob(reply["Body"].read(), reply["ETag"])

    def create(self, key: str, data: bytes) -> bool:
        """PutObject with ``If-None-Match: *``."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*")
        except self.client.exceptions.ClientError as err:
            if _lost_condition(err):
                return False
            raise
        return True

    def swap(self, key: str, data: bytes, expected: str | None) -> str:
        """PutObject with ``If-Match: <expected>`` (or ``If-None-Match: *``)."""
        condition = {"IfMatch": expected} if expected else {"IfNoneMatch": "*"}
        try:
            reply = self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **condition)
        except self.client.exceptions.ClientError as err:
            if _lost_condition(err):
                raise StoreConflict(f"s3://{self.bucket}/{key}: changed since it was read") from err
            raise
        return reply["ETag"]


def _lost_condition(err: Any) -> bool:
    """PreconditionFailed (412), or ConditionalRequestConflict (409) from a concurrent write."""
    code = err.response.get("Error", {}).get("Code")
    return code in ("PreconditionFailed", "ConditionalRequestConflict")


def default_s3_client() -> Any:
    """An S3 client with standard retries (endpoint and credentials from the environment)."""
    import boto3  # only a workload that uses S3 pays for importing it
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5)
    return boto3.client("s3", config=config)


def locate(uri: str, s3_client: Any = None) -> tuple[Store, str]:
    """The store and key a ``s3://bucket/key`` or ``file:///path`` URI (or a plain path) names."""
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"{uri}: no bucket")
        return S3Store(parts.netloc, s3_client), parts.path.lstrip("/")
    if parts.scheme in ("file", ""):
        path = parts.path if parts.scheme else uri
        if not path.startswith("/"):
            raise ValueError(f"{uri}: a local checkpoint location must be an absolute path")
        return LocalStore(Path("/")), path.lstrip("/")
    raise ValueError(f"{uri}: not an s3:// or file:// URI")
