"""A checkpoint whose state includes an EBS snapshot moves with it (moto): checkpoint_restore
copies the snapshot to the target re-encrypted under the target's checkpoint key, starts the
target only once the copy is complete, and names the copy in the target's manifest; a rollback
deletes the copy; a snapshot under another key is refused; live refuses such workloads.

moto's copies complete at once: the target's DescribeSnapshots reports the copy ``pending`` a few
times first.
"""

from __future__ import annotations

from typing import Any

from tests.runtime.migrations.migration_env import (
    Env,
    drive,
)

from carbon_aware.cli.demo_migrations import (
    SOURCE,
    TARGET,
    create_snapshot,
    put_checkpoint,
    start_interruptible_run,
)
from carbon_aware.runtime.checkpoints import COPIED_FROM, CheckpointStore
from carbon_aware.runtime.migrations.states import MigrationState
from carbon_aware.runtime.targets import WORKLOAD_TAG

S = MigrationState
T0 = 1_800_000_000.0
WORKLOAD = "train-snap"


def workload_with_snapshot(env: Env, key: str | None = None) -> str:
    start_interruptible_run(
        env.workloads, env.raw("ecs", SOURCE), env.targets[SOURCE], WORKLOAD, env.now()
    )
    snap = create_snapshot(env.raw("ec2", SOURCE), SOURCE, key or env.keys[SOURCE])
    put_checkpoint(env.raw("s3", SOURCE), env.buckets[SOURCE], WORKLOAD, 4, env.now(), snap)
    return snap


def copies(env: Env) -> list[dict[str, Any]]:
    return env.raw("ec2", TARGET).describe_snapshots(
        OwnerIds=["self"], Filters=[{"Name": f"tag:{WORKLOAD_TAG}", "Values": [WORKLOAD]}]
    )["Snapshots"]


def copy_pending_for(env: Env, polls: int) -> None:
    """The target reports every snapshot ``pending`` for its first ``polls`` descriptions."""
    seen = [0]

    def pending(parsed: dict[str, Any], **_: Any) -> None:
        seen[0] += 1
        if seen[0] <= polls:
            for described in parsed.get("Snapshots", []):
                described["State"] = "pending"

    env.raw("ec2", TARGET).meta.events.register("after-call.ec2.DescribeSnapshots", pending)


def test_the_snapshot_is_copied_reencrypted_and_the_target_waits_for_it(env: Env) -> None:
    original = workload_with_snapshot(env)
    copy_pending_for(env, 3)
    started = env.orchestrator.start(
        {"kind": "checkpoint_restore", "workload_id": WORKLOAD, "target": TARGET}, env.now()
    )
    waited: list[str] = []

    def nothing_starts_while_pending(m: Any) -> None:
        if m.state == S.PREPARING and "snapshot_copy" in m.data:
            waited.append(m.history[-1]["reason"])
            assert "target_run" not in m.data and env.running_tasks(TARGET, WORKLOAD) == []

    m = drive(env, started["id"], nothing_starts_while_pending)
    assert m.state == S.COMPLETED, m.history
    (copy,) = copies(env)
    assert copy["Encrypted"] and copy["KmsKeyId"] == env.keys[TARGET]
    assert {"Key": COPIED_FROM, "Value": original} in copy["Tags"]
    assert (
        env.manifest(TARGET, WORKLOAD)["snapshot_id"]
        == copy["SnapshotId"]
        == m.data["snapshot_copy"]
    )
    assert len(waited) >= 2  # polled while the copy was pending, started once complete
    # A second carry (a crash after the copy) finds the copy instead of copying again.
    store = CheckpointStore(env.raw, env.buckets, env.keys)
    store.carry(WORKLOAD, [SOURCE], TARGET)
    assert [c["SnapshotId"] for c in copies(env)] == [copy["SnapshotId"]]


def test_a_rollback_deletes_the_snapshot_copy(env: Env) -> None:
    original = workload_with_snapshot(env)
    started = env.orchestrator.start(
        {"kind": "checkpoint_restore", "workload_id": WORKLOAD, "target": TARGET}, env.now()
    )

    def target_dies(m: Any) -> None:
        if m.state == S.MIGRATING and "target_run" in m.data:
            env.raw("ecs", TARGET).stop_task(
                cluster=env.targets[TARGET]["cluster"], task=m.data["target_run"]["handle"]
            )

    m = drive(env, started["id"], target_dies)
    assert m.state == S.ROLLED_BACK, m.history
    assert "snapshot_copy" in m.data and copies(env) == []
    source = env.raw("ec2", SOURCE).describe_snapshots(SnapshotIds=[original])["Snapshots"]
    assert source[0]["State"] == "completed"  # the source's snapshot is untouched


def test_a_snapshot_under_another_key_is_refused_naming_it(env: Env) -> None:
    other_key = env.raw("kms", SOURCE).create_key()["KeyMetadata"]["Arn"]
    original = workload_with_snapshot(env, other_key)
    started = env.orchestrator.start(
        {"kind": "checkpoint_restore", "workload_id": WORKLOAD, "target": TARGET}, env.now()
    )
    m = drive(env, started["id"])
    assert m.state == S.ROLLED_BACK
    assert any(
        f"snapshot {original} is not encrypted under the checkpoint key" in h["reason"]
        for h in m.history
    ), m.history
    assert copies(env) == []


def test_live_refuses_a_checkpoint_with_a_snapshot(env: Env) -> None:
    workload_with_snapshot(env)
    started = env.orchestrator.start(
        {"kind": "live", "workload_id": WORKLOAD, "target": TARGET}, env.now()
    )
    m = drive(env, started["id"])
    assert m.state == S.FAILED and "EBS snapshot" in m.history[-1]["reason"], m.history
    assert copies(env) == []
