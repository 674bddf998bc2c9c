"""Checkpoint storage of interruptible workloads: one bucket per Region, one prefix per workload.

Layout (written by the workload, carbon_aware.agent): immutable ``<prefix>/<seq:08d>.ckpt``
objects and the manifest ``<prefix>/latest.json`` (``sequence``, ``key``, ``sha256``, ``bytes``,
``written_at``, ``progress``), written last. Before a segment starts in a Region other than the
one holding the newest checkpoint, :meth:`CheckpointStore.carry` copies the checkpoint and then
its manifest there, re-encrypted under the destination Region's KMS key (a KMS key serves its
own Region only). A single CopyObject carries up to 5 GB (the submission's ``checkpoint_gb``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from carbon_aware.runtime.targets import ClientFactory

MANIFEST = "latest.json"
MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class CheckpointError(RuntimeError):
    """A manifest that cannot be read or names no checkpoint object (transient: retried)."""


def prefix(workload_id: str) -> str:
    """The key prefix of a workload's checkpoints (same in every Region)."""
    return f"checkpoints/{workload_id}/"


@dataclass(frozen=True)
class CheckpointStore:
    """Checkpoint buckets and KMS keys keyed by Region; ``client(service, region)``."""

    client: ClientFactory
    buckets: Mapping[str, str]
    kms_keys: Mapping[str, str]

    def uri(self, region: str, workload_id: str) -> str:
        """``CARBON_AWARE_CHECKPOINT_URI``: where the workload writes in ``region``."""
        return f"s3://{self.buckets[region]}/{prefix(workload_id)}"

    def carry(self, workload_id: str, sources: Sequence[str], region: str) -> str:
        """``CARBON_AWARE_RESUME_FROM`` for a run in ``region``: the manifest of the newest
        checkpoint among ``sources`` (copied to ``region`` first when it lives elsewhere); empty
        when no source holds one."""
        newest: tuple[int, str, dict[str, Any]] | None = None
        for source in sources:
            manifest = self.manifest(source, workload_id)
            if manifest is not None and (newest is None or manifest["sequence"] > newest[0]):
                newest = (manifest["sequence"], source, manifest)
        if newest is None:
            return ""
        _, source, manifest = newest
        if source != region:
            self.copy(source, region, manifest["key"])
            self.copy(source, region, prefix(workload_id) + MANIFEST)
        return self.uri(region, workload_id) + MANIFEST

    def manifest(self, region: str, workload_id: str) -> dict[str, Any] | None:
        """The committed manifest of ``workload_id`` in ``region`` (None when there is none)."""
        key = prefix(workload_id) + MANIFEST
        try:
            body = self.client("s3", region).get_object(Bucket=self.buckets[region], Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return None
            raise
        try:
            manifest = json.loads(body["Body"].read())
            sequence, ckpt = int(manifest["sequence"]), str(manifest["key"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"unreadable manifest s3://{self.buckets[region]}/{key}") from exc
        if not ckpt.startswith(prefix(workload_id)):
            raise CheckpointError(f"manifest {key} names {ckpt}, outside {prefix(workload_id)}")
        return {**manifest, "sequence": sequence, "key": ckpt}

    def copy(self, source: str, region: str, key: str) -> None:
        """Server-side copy into ``region``'s bucket, encrypted under its key."""
        encryption: dict[str, Any] = {"ServerSideEncryption": "aws:kms"}
        if region in self.kms_keys:
            encryption["SSEKMSKeyId"] = self.kms_keys[region]
        self.client("s3", region).copy_object(
            Bucket=self.buckets[region],
            Key=key,
            CopySource={"Bucket": self.buckets[source], "Key": key},
            **encryption,
        )
