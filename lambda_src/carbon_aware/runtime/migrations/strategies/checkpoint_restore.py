"""checkpoint_restore: move a running interruptible workload's segment to another region.

Through the checkpoint protocol (docs/checkpoint-protocol.md): preparing notes what the target
region's prefix held, then copies the newest committed checkpoint of the source and its manifest
there, re-encrypted under the target's KMS key (:meth:`CheckpointStore.carry`), and verifies the
copy against its manifest (size and SHA-256, as the agent will). migrating starts the segment in
the target with ``CARBON_AWARE_RESUME_FROM`` naming that manifest (the idempotency token is the
migration's, and a re-run first adopts a run of the workload it already started there), then
verifies it runs and the manifest it resumes from is still committed. completing points the
workload record at the target run first (so the source's end is a stale event for the
completion), then stops the source run (SIGTERM: it checkpoints and exits 75).

Launch before release: the source keeps running until the target runs. Work done by the source
after the carried checkpoint is redone in the target. Rollback stops what was started in the
target and puts the target prefix back as it was (objects newer than its old manifest deleted,
the manifest restored or deleted); the source run is left untouched (if a spot interruption took
it meanwhile, the workload's own re-planning resumes it). Segmented workloads run on ECS, so this
strategy takes ECS runs only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from carbon_aware.runtime import segments as seg
from carbon_aware.runtime.checkpoints import (
    MANIFEST,
    MISSING,
    CheckpointError,
    CheckpointStore,
    prefix,
)
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.migrations.repository import Migration
from carbon_aware.runtime.migrations.strategies import (
    Outcome,
    SpecError,
    StepFailed,
    check_basis,
    net_grams,
    overhead_grams,
)
from carbon_aware.runtime.repository import Conflict, WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.runs import RunGone, describe, instant, stop
from carbon_aware.runtime.states import State
from carbon_aware.runtime.targets import (
    WORKLOAD_TAG,
    ClientFactory,
    RunNames,
    TargetError,
    resolve_target,
    start_target,
)

KIND = "checkpoint_restore"
_FIELDS = {"kind", "workload_id", "target", "basis"}
RELEASE_REASON = "migrated to another region (carbon-aware)"
ROLLBACK_REASON = "migration rolled back (carbon-aware)"


@dataclass(frozen=True)
class CheckpointRestore:
    """The strategy for interruptible workloads (see the module docstring)."""

    repo: WorkloadRepository
    settings: WorkloadSettings
    client: ClientFactory
    kind: str = KIND

    @property
    def store(self) -> CheckpointStore:
        """The module's checkpoint buckets and keys."""
        return CheckpointStore(
            self.client, self.settings.checkpoint_buckets, self.settings.checkpoint_kms_keys
        )

    def check(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Normalised spec: workload_id, target (and the optional basis)."""
        unknown = sorted(set(request) - _FIELDS)
        if unknown:
            raise SpecError(f"{unknown[0]}: unknown field for {self.kind}")
        workload_id = request.get("workload_id")
        if not isinstance(workload_id, str) or not workload_id:
            raise SpecError("workload_id: must be a workload id")
        target = request.get("target")
        if target not in self.settings.checkpoint_buckets:
            raise SpecError(
                f"target: must be a region with a checkpoint bucket "
                f"{sorted(self.settings.checkpoint_buckets)}"
            )
        return {"workload_id": workload_id, "target": target, "basis": check_basis(request)}

    def subject(self, spec: Mapping[str, Any]) -> str:
        """One live migration per workload."""
        return f"workload:{spec['workload_id']}"

    def validate(self, m: Migration, now: float) -> Outcome:
        """The workload runs a segment on ECS in a region with a checkpoint bucket, not the
        target; its run is recorded as the source."""
        record = self.repo.get(m.spec["workload_id"])
        if record is None:
            raise StepFailed(f"no workload {m.spec['workload_id']}")
        if record.status != State.RUNNING or record.segments is None:
            raise StepFailed(f"workload is {record.status}, not a running interruptible one")
        run = dict(record.dispatch or {})
        source, target = run.get("region"), m.spec["target"]
        if run.get("type") != "ecs":
            raise StepFailed(f"its run is {run.get('type')}; only ECS segments can move")
        if source == target:
            raise StepFailed(f"it already runs in {target}")
        if source not in self.store.buckets:
            raise StepFailed(f"no checkpoint bucket in its region {source}")
        try:
            resolve_target(record.spec, target)
        except TargetError as exc:
            raise StepFailed(f"its target cannot run in {target}: {exc}") from None
        source_run = {k: run[k] for k in ("type", "region", "handle")}
        return Outcome(
            True,
            {"source": source, "source_run": source_run, "segment": record.segments["current"]},
            f"segment {record.segments['current']} from {source} to {target}",
        )

    def prepare(self, m: Migration, now: float) -> Outcome:
        """Note the target prefix's manifest, then carry the newest checkpoint and verify it;
        when it names an EBS snapshot, wait until the snapshot's copy is complete."""
        wid, target = m.spec["workload_id"], m.spec["target"]
        if "prior_manifest" not in m.data:
            return Outcome(False, {"prior_manifest": self._raw_manifest(target, wid)}, "noted")
        if "resume_from" not in m.data:
            try:
                resume = self.store.carry(wid, [m.data["source"]], target)
            except CheckpointError as exc:
                raise StepFailed(str(exc)) from None
            if not resume:
                raise StepFailed(f"no committed checkpoint in {m.data['source']} yet")
            manifest = self._verify_carried(target, wid)
            carried = {"resume_from": resume, **carried_fields(manifest)}
            note = f"checkpoint {manifest['sequence']} carried to {target}"
            if not manifest.get("snapshot_id"):
                return Outcome(True, carried, note)
            carried["snapshot_copy"] = manifest["snapshot_id"]
            return Outcome(False, carried, f"{note}, snapshot {manifest['snapshot_id']} copying")
        state = self.store.snapshot_state(target, m.data["snapshot_copy"])
        if state == "completed":
            return Outcome(True, note=f"snapshot {m.data['snapshot_copy']} copied")
        if state in {"pending", "recoverable", "recovering"}:
            return Outcome(False, note=f"snapshot {m.data['snapshot_copy']} {state}")
        raise StepFailed(f"the copy {m.data['snapshot_copy']} of the checkpoint's snapshot {state}")

    def _verify_carried(self, target: str, workload_id: str) -> dict[str, Any]:
        """The manifest carried to ``target``, once its object matches it (size and SHA-256)."""
        manifest = self.store.manifest(target, workload_id)
        if manifest is None:
            raise StepFailed(f"the manifest copied to {target} is missing")
        body = (
            self.client("s3", target)
            .get_object(Bucket=self.store.buckets[target], Key=manifest["key"])["Body"]
            .read()
        )
        digest = hashlib.sha256(body).hexdigest()
        if len(body) != manifest.get("bytes") or digest != manifest.get("sha256"):
            raise StepFailed(
                f"checkpoint {manifest['key']} in {target} does not match its manifest"
            )
        return manifest

    def migrate(self, m: Migration, now: float) -> Outcome:
        """Start the segment in the target (once), then wait until it runs."""
        record = self._running_source(m)
        target = m.spec["target"]
        spec_target = resolve_target(record.spec, target)
        run = m.data.get("target_run")
        if run is None:
            adopted = self._ours_in_target(m, record)
            if adopted:
                run = {"type": "ecs", "region": target, "handle": adopted[0]}
            else:
                run = self._start(m, record, spec_target)
            return Outcome(False, {"target_run": run, "started_at": now}, "target started")
        try:
            state = describe(run, spec_target, self.client)
        except RunGone:
            raise StepFailed(f"the target run {run['handle']} is gone") from None
        if state is None or state.succeeded is not None:
            detail = state.detail if state else "unknown"
            raise StepFailed(f"the target run stopped: {detail}")
        if state.started_at is None:
            return Outcome(False, note="target run pending")
        manifest = self.store.manifest(target, m.spec["workload_id"])
        if manifest is None or manifest["sequence"] < m.data["sequence"]:
            raise StepFailed("the checkpoint the target resumes from is no longer committed")
        return Outcome(True, note=f"target run {run['handle']} running")

    def complete(self, m: Migration, now: float) -> Outcome:
        """Point the record at the target run, then release the source run."""
        record = self.repo.get(m.spec["workload_id"])
        target_run = m.data["target_run"]
        if record is None or (record.dispatch or {}).get("handle") != target_run["handle"]:
            record = self._running_source(m)
            if not self._switch(m, record, now):
                return Outcome(False, note="workload record changed; retrying")
        source_run = m.data["source_run"]
        try:
            stop(
                source_run,
                resolve_target(record.spec, m.data["source"]),
                self.client,
                RELEASE_REASON,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"InvalidParameterException"}:
                raise
        return Outcome(True, {"released_at": m.data.get("released_at", now)}, "source released")

    def rollback(self, m: Migration, now: float) -> Outcome:
        """Stop what runs in the target, put the target prefix back as it was."""
        wid, target = m.spec["workload_id"], m.spec["target"]
        record = self.repo.get(wid)
        if record is not None and "source" in m.data:
            spec_target = resolve_target(record.spec, target)
            keep = (record.dispatch or {}).get("handle")
            for handle in self._ours_in_target(m, record):
                if handle != keep:
                    stop(
                        {"type": "ecs", "region": target, "handle": handle},
                        spec_target,
                        self.client,
                        ROLLBACK_REASON,
                    )
        if "prior_manifest" in m.data:
            self._restore_prefix(target, wid, m.data["prior_manifest"])
            self._delete_snapshot_copy(m)
        return Outcome(True, note="target released, source kept")

    def grams(self, m: Migration) -> dict[str, Any]:
        """One run moved, with the time both ran as the overhead."""
        overlap = m.data.get("released_at", 0.0) - m.data.get("started_at", 0.0)
        return net_grams(m.spec.get("basis"), 1, overlap)

    def rollback_grams(self, m: Migration, now: float) -> dict[str, Any]:
        """The target run's time beside the source, if it started."""
        overlap = now - m.data["started_at"] if "started_at" in m.data else 0.0
        return overhead_grams(m.spec.get("basis"), 1, overlap)

    def _running_source(self, m: Migration) -> WorkloadRecord:
        record = self.repo.get(m.spec["workload_id"])
        handle = (record.dispatch or {}).get("handle") if record else None
        if (
            record is None
            or record.status != State.RUNNING
            or handle != m.data["source_run"]["handle"]
        ):
            state = record.status if record else "gone"
            raise StepFailed(f"the workload left its source run ({state}) before the switch")
        return record

    def _start(
        self,
        m: Migration,
        record: WorkloadRecord,
        spec_target: Mapping[str, Any],
        region: str | None = None,
        resume_from: str | None = None,
    ) -> dict[str, str]:
        """Start the segment in ``region`` (the target) from ``resume_from`` (the carried one);
        the token names the migration and the region, so a re-run starts nothing twice."""
        wid, region = record.workload_id, region or m.spec["target"]
        env = seg.environment(
            wid,
            m.data["segment"],
            self.store.uri(region, wid),
            m.data["resume_from"] if resume_from is None else resume_from,
            self.settings.checkpoint_budget,
        )
        token = f"migration-{m.migration_id}"
        if region != m.spec["target"]:
            token += f"-{region}"
        started = start_target(
            seg.with_environment(spec_target, env),
            region=region,
            names=RunNames(self.settings.name_prefix, wid, token),
            allowlist=self.settings.target_allowlist,
            client=self.client,
            decision=record.decision,
        )
        return started.to_dict()

    def _ours_in_target(self, m: Migration, record: WorkloadRecord) -> list[str]:
        """Running tasks of this workload in the target's cluster (a start a crash forgot)."""
        target = m.spec["target"]
        cluster = resolve_target(record.spec, target)["cluster"]
        names = RunNames(self.settings.name_prefix, record.workload_id, "")
        return self.client("ecs", target).list_tasks(
            cluster=cluster, startedBy=names.run, desiredStatus="RUNNING"
        )["taskArns"]

    def _switch(
        self,
        m: Migration,
        record: WorkloadRecord,
        now: float,
        run: Mapping[str, Any] | None = None,
        resume_from: str | None = None,
    ) -> bool:
        """Point the workload's current segment at ``run`` (the target run by default), resumed
        from ``resume_from``; False when the record changed under us."""
        segmented = dict(record.segments or {})
        runs = [dict(r) for r in segmented.get("runs", [])]
        run = run or m.data["target_run"]
        region, moved = run["region"], run["region"] != m.data["source"]
        index = m.data["segment"]
        if index < len(runs):
            segment = runs[index]
            if segment.get("handle") and segment["handle"] != run["handle"]:
                segment[seg.MOVED] = [*segment.get(seg.MOVED, []), _left_piece(m, segment, now)]
            segment.update(
                region=region,
                handle=run["handle"],
                started_at=now,
                resume_from=m.data["resume_from"] if resume_from is None else resume_from,
            )
            if moved:
                segment["migrated_from"] = m.data["source"]
        dispatch = {k: v for k, v in (record.dispatch or {}).items() if k != seg.PAUSED_BY}
        dispatch.update(run, migration=m.migration_id, started_at=now)
        if moved:
            dispatch["migrated_from"] = m.data["source_run"]
        reason = f"migrated to {region}" if moved else f"resumed in {region}"
        return self._update(
            record,
            State.RUNNING,
            now,
            f"{reason} (migration {m.migration_id})",
            {"dispatch": dispatch, "segments": {**segmented, "runs": runs}},
        )

    def _update(
        self,
        record: WorkloadRecord,
        status: State,
        now: float,
        reason: str,
        updates: Mapping[str, Any],
    ) -> bool:
        """Write ``updates`` on the workload (moved to ``status``, its due time kept); False
        when the record changed under us."""
        try:
            self.repo.transition(
                record,
                status,
                now=now,
                reason=reason,
                due_at=record.due_at if record.due_at is not None else now,
                updates=dict(updates),
            )
        except Conflict:
            return False
        return True

    def _raw_manifest(self, region: str, workload_id: str) -> str | None:
        try:
            body = (
                self.client("s3", region)
                .get_object(Bucket=self.store.buckets[region], Key=prefix(workload_id) + MANIFEST)[
                    "Body"
                ]
                .read()
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return None
            raise
        return body.decode()

    def _restore_prefix(self, region: str, workload_id: str, prior: str | None) -> None:
        s3, bucket = self.client("s3", region), self.store.buckets[region]
        kept = int(json.loads(prior)["sequence"]) if prior else -1
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix(workload_id))
        for obj in listed.get("Contents", []):
            name = obj["Key"].rsplit("/", 1)[-1]
            if name.endswith(".ckpt") and int(name.split(".")[0]) > kept:
                s3.delete_object(Bucket=bucket, Key=obj["Key"])
        key = prefix(workload_id) + MANIFEST
        if prior is None:
            s3.delete_object(Bucket=bucket, Key=key)
            return
        s3.put_object(Bucket=bucket, Key=key, Body=prior.encode(), **self.store.encryption(region))

    def _delete_snapshot_copy(self, m: Migration) -> None:
        """Delete the workload's snapshot copies in the target (found by their tag, so a copy a
        crash left unrecorded goes too) but the one the restored manifest names."""
        wid, target = m.spec["workload_id"], m.spec["target"]
        if target not in self.store.kms_keys:
            return  # no key to re-encrypt under: a carry copies no snapshot there
        prior = m.data["prior_manifest"]
        kept = json.loads(prior).get("snapshot_id") if prior else None
        for copy in self.store.copies(target, WORKLOAD_TAG, wid):
            if copy != kept:
                self.client("ec2", target).delete_snapshot(SnapshotId=copy)


def carried_fields(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What a migration notes of the checkpoint it carried: its sequence, size and when it was
    written (the work the resumed segment keeps)."""
    return {
        "sequence": manifest["sequence"],
        "bytes": manifest["bytes"],
        "checkpoint_written_at": instant(manifest.get("written_at")),
    }


def _left_piece(m: Migration, segment: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The piece of ``segment`` run before the switch (runtime.segments.MOVED): from its start
    until the source ended (``source_ended_at``, else now: checkpoint_restore releases it right
    after the switch), keeping the work up to the checkpoint the segment resumes from."""
    started = float(segment.get("started_at") or now)
    ended = max(float(m.data.get("source_ended_at") or now), started)
    written = m.data.get("checkpoint_written_at")
    kept = min(max(float(written) - started, 0.0), ended - started) if written else 0.0
    return {
        "region": segment["region"],
        "handle": segment["handle"],
        "started_at": started,
        "ended_at": ended,
        "work_seconds": kept,
    }
