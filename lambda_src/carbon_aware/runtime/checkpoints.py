"""Checkpoint storage of interruptible workloads: one bucket per Region, one prefix per workload.

Layout (written by the workload, carbon_aware.agent): immutable ``<prefix>/<seq:08d>.ckpt``
objects and the manifest ``<prefix>/latest.json`` (``sequence``, ``key``, ``sha256``, ``bytes``,
``written_at``, ``progress``), written last. Before a segment starts in a Region other than the
one holding the newest checkpoint, :meth:`CheckpointStore.carry` copies the checkpoint and then
its manifest there, re-encrypted under the destination Region's KMS key (a KMS key serves its
own Region only). A single CopyObject carries up to 5 GB (the submission's ``checkpoint_gb``).
A manifest may name an EBS snapshot (``snapshot_id``, encrypted under its Region's checkpoint
key): it is copied too (CopySnapshot, re-encrypted under the destination's key, tagged with the
workload and ``COPIED_FROM``, so a repeated carry finds its copy instead of copying twice) and
the manifest written in the destination names the copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from carbon_aware.runtime.targets import WORKLOAD_TAG, ClientFactory

MANIFEST = "latest.json"
MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
#: Tag of a snapshot copied with a checkpoint: the snapshot it was copied from.
COPIED_FROM = "carbon-aware:copied-from"


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
            if manifest.get("snapshot_id"):
                copied = self.copy_snapshot(source, region, workload_id, manifest["snapshot_id"])
                self.put_manifest(region, workload_id, {**manifest, "snapshot_id": copied})
            else:
                self.copy(source, region, prefix(workload_id) + MANIFEST)
        return self.uri(region, workload_id) + MANIFEST

    def copy_snapshot(self, source: str, region: str, workload_id: str, snapshot_id: str) -> str:
        """The copy in ``region`` of ``source``'s snapshot ``snapshot_id``, re-encrypted under
        ``region``'s key: the one already copied, else a new (pending) copy."""
        if source not in self.kms_keys or region not in self.kms_keys:
            missing = region if source in self.kms_keys else source
            raise CheckpointError(
                f"snapshot {snapshot_id}: no checkpoint KMS key in {missing} "
                "(regional_kms_key_arns) to keep it encrypted under"
            )
        found = self.copies(region, COPIED_FROM, snapshot_id)
        if found:
            return found[0]
        (original,) = self.client("ec2", source).describe_snapshots(SnapshotIds=[snapshot_id])[
            "Snapshots"
        ]
        if original.get("KmsKeyId") != self.kms_keys.get(source):
            raise CheckpointError(
                f"snapshot {snapshot_id} is not encrypted under the checkpoint key of {source}"
            )
        return self.client("ec2", region).copy_snapshot(
            SourceRegion=source,
            SourceSnapshotId=snapshot_id,
            Encrypted=True,
            KmsKeyId=self.kms_keys[region],
            Description=f"checkpoint of {workload_id} copied from {source}",
            TagSpecifications=[
                {
                    "ResourceType": "snapshot",
                    "Tags": [
                        {"Key": WORKLOAD_TAG, "Value": workload_id},
                        {"Key": COPIED_FROM, "Value": snapshot_id},
                    ],
                }
            ],
        )["SnapshotId"]

    def copies(self, region: str, tag: str, value: str) -> list[str]:
        """Snapshots of ``region`` a carry copied, whose ``tag`` (``COPIED_FROM`` or
        ``WORKLOAD_TAG``) is ``value``."""
        answer = self.client("ec2", region).describe_snapshots(
            OwnerIds=["self"], Filters=[{"Name": f"tag:{tag}", "Values": [value]}]
        )
        return sorted(s["SnapshotId"] for s in answer["Snapshots"])

    def snapshot_state(self, region: str, snapshot_id: str) -> str:
        """``pending``, ``completed``, ``error``... of a snapshot of ``region``."""
        (snapshot,) = self.client("ec2", region).describe_snapshots(SnapshotIds=[snapshot_id])[
            "Snapshots"
        ]
        return str(snapshot["State"])

    def put_manifest(self, region: str, workload_id: str, manifest: Mapping[str, Any]) -> None:
        """Write ``manifest`` as ``workload_id``'s in ``region``, encrypted under its key."""
        self.client("s3", region).put_object(
            Bucket=self.buckets[region],
            Key=prefix(workload_id) + MANIFEST,
            Body=json.dumps(dict(manifest), sort_keys=True).encode(),
            **self.encryption(region),
        )

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
        self.client("s3", region).copy_object(
            Bucket=self.buckets[region],
            Key=key,
            CopySource={"Bucket": self.buckets[source], "Key": key},
            **self.encryption(region),
        )

    def encryption(self, region: str) -> dict[str, Any]:
        """SSE-KMS under ``region``'s checkpoint key (the bucket's default without one)."""
        encryption: dict[str, Any] = {"ServerSideEncryption": "aws:kms"}
        if region in self.kms_keys:
            encryption["SSEKMSKeyId"] = self.kms_keys[region]
        return encryption
