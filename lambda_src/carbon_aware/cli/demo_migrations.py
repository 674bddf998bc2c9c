"""The migrations demo on moto (in-process): one drain_and_shift, one blue_green (Route 53 weighted
records), one checkpoint_restore and one live (pre-copy, opt-in) end to end, each moved workload
then finishing in the target and accounted in both Regions, and one checkpoint_restore whose
target run dies and is rolled back. Printed by ``carbon-aware demo``; no AWS, no keys.

moto runs ECS tasks without a lifecycle of their own (it moves a task towards STOPPED at every
DescribeTasks and leaves ``startedAt`` unset): :func:`tasks_keep_running` and :class:`EcsStarted`
stand in for what ECS reports.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carbon_aware.engine.timeutil import iso

SOURCE, TARGET = "eu-west-1", "eu-north-1"
PREFIX = "carbon-aware"
FLEET = "web"
SERVICE = "api"
ZONE = "example.com"
T0 = 1_800_000_000.0
HOUR = 3600.0
POWER_WATTS = 150.0
BASIS = {
    "source_g_per_kwh": 320.0,
    "target_g_per_kwh": 30.0,
    "power_watts": POWER_WATTS,
    "hours": 6.0,
}


@contextlib.contextmanager
def tasks_keep_running() -> Iterator[None]:
    """An ECS task runs until it is stopped (moto would advance it at every DescribeTasks)."""
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
    try:
        yield
    finally:
        state_manager.unset_transition("ecs::task")


class EcsStarted:
    """A client whose DescribeTasks reports ``startedAt`` of RUNNING tasks (moto leaves it out)."""

    def __init__(self, inner: Any, clock: Callable[[], float]) -> None:
        self._inner, self._clock = inner, clock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != "describe_tasks":
            return attr

        def describe(**kwargs: Any) -> Any:
            answer = attr(**kwargs)
            for task in answer.get("tasks", []):
                if task.get("lastStatus") == "RUNNING" and not task.get("startedAt"):
                    task["startedAt"] = datetime.fromtimestamp(self._clock(), UTC)
            return answer

        return describe


def put_checkpoint(
    s3: Any,
    bucket: str,
    workload_id: str,
    sequence: int,
    written_at: float,
    snapshot_id: str | None = None,
) -> None:
    """Commit checkpoint ``sequence`` at ``written_at`` as the agent does: the object, then
    its manifest (naming ``snapshot_id`` when given)."""
    body = f"state of {workload_id} at {sequence}".encode()
    key = f"checkpoints/{workload_id}/{sequence:08d}.ckpt"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    manifest = {
        "sequence": sequence,
        "key": key,
        "sha256": hashlib.sha256(body).hexdigest(),
        "bytes": len(body),
        "written_at": iso(written_at),
        "progress": 0.5,
    }
    if snapshot_id:
        manifest["snapshot_id"] = snapshot_id
    s3.put_object(
        Bucket=bucket,
        Key=f"checkpoints/{workload_id}/latest.json",
        Body=json.dumps(manifest).encode(),
    )


def create_snapshot(ec2: Any, region: str, key: str) -> str:
    """An EBS snapshot in ``region`` encrypted under ``key``, for a checkpoint to name. moto
    sets no key on CreateSnapshot (AWS sets the volume's): a same-Region CopySnapshot does."""
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=True)
    plain = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
    return ec2.copy_snapshot(
        SourceRegion=region, SourceSnapshotId=plain, Encrypted=True, KmsKeyId=key
    )["SnapshotId"]


def start_interruptible_run(
    workloads: Any,
    ecs: Any,
    target: dict[str, Any],
    workload_id: str,
    now: float,
    extra: dict[str, Any] | None = None,
) -> str:
    """A RUNNING interruptible workload whose first segment runs on ECS in ``SOURCE`` (the
    records the scheduler and executor would write; ``extra`` spec fields); the task's ARN."""
    from carbon_aware.runtime.states import State

    template = {
        k: v.replace(SOURCE, "{region}") if k in ("arn", "cluster") else v
        for k, v in target.items()
    }
    spec = {
        "id": workload_id,
        "submitted_at": iso(now),
        "deadline": iso(now + 86400.0),
        "duration_minutes": 120,
        "home_region": SOURCE,
        "regions": [SOURCE, TARGET],
        "power_watts": POWER_WATTS,
        "interruptible": True,
        "target": template,
    }
    spec.update(extra or {})
    record = workloads.create(workload_id, spec, now)
    record = workloads.transition(
        record,
        State.SCHEDULED,
        now=now,
        reason="planned",
        due_at=now,
        updates={"decision": {"region": SOURCE}},
    )
    record = workloads.transition(
        record, State.DISPATCHING, now=now, reason="claimed", due_at=now + 60
    )
    task = ecs.run_task(
        cluster=target["cluster"],
        taskDefinition=target["arn"],
        startedBy=f"{PREFIX}-{workload_id}",
        capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
    )["tasks"][0]["taskArn"]
    run = {
        "region": SOURCE,
        "start_epoch": now,
        "end_epoch": now + 7200,
        "state": "running",
        "handle": task,
        "started_at": now,
    }
    workloads.transition(
        record,
        State.RUNNING,
        now=now,
        reason="started",
        due_at=now + 7200,
        updates={
            "dispatch": {
                "type": "ecs",
                "region": SOURCE,
                "handle": task,
                "attempts": 1,
                "started_at": now,
            },
            "segments": {"plan": 0, "current": 0, "done_seconds": 0, "runs": [run]},
        },
    )
    return task


def create_service(
    groups: dict[str, str], desired: dict[str, int], instance_types: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """Service ``api`` on a group per region (``desired`` instances; the source, SOURCE, keeps a
    minimum of 1) behind weighted A records ``api.example.com``, all traffic on SOURCE, with a
    Route 53 health check per region: (hosted zone id, the services as
    ``var.migrations.services`` renders them)."""
    import boto3

    from carbon_aware.cli.demo_fleet import create_group
    from carbon_aware.runtime.migrations.strategies.blue_green import ROUTE53_REGION

    for region, name in groups.items():
        create_group(region, name, desired[region], instance_types)
    boto3.client("autoscaling", region_name=SOURCE).update_auto_scaling_group(
        AutoScalingGroupName=groups[SOURCE], MinSize=1
    )
    route53 = boto3.client("route53", region_name=ROUTE53_REGION)
    zone = route53.create_hosted_zone(Name=ZONE, CallerReference=SERVICE)["HostedZone"]["Id"]
    zone_id = zone.rsplit("/", 1)[-1]
    record_name = f"{SERVICE}.{ZONE}"
    regions, changes = {}, []
    for n, region in enumerate(groups):
        check = route53.create_health_check(
            CallerReference=f"{SERVICE}-{region}",
            HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": f"{region}.{ZONE}"},
        )["HealthCheck"]["Id"]
        regions[region] = {
            "group": groups[region],
            "set_identifier": region,
            "health_check_id": check,
        }
        record = {
            "Name": record_name,
            "Type": "A",
            "SetIdentifier": region,
            "Weight": 100 if region == SOURCE else 0,
            "TTL": 60,
            "ResourceRecords": [{"Value": f"192.0.2.{n + 1}"}],
        }
        changes.append({"Action": "CREATE", "ResourceRecordSet": record})
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    return zone_id, {SERVICE: {"zone_id": zone_id, "record_name": record_name, "regions": regions}}


def weights(zone_id: str) -> dict[str, int]:
    """The weight of each weighted record of ``zone_id``, by set identifier."""
    import boto3

    from carbon_aware.runtime.migrations.strategies.blue_green import ROUTE53_REGION

    listed = boto3.client("route53", region_name=ROUTE53_REGION).list_resource_record_sets(
        HostedZoneId=zone_id
    )["ResourceRecordSets"]
    return {r["SetIdentifier"]: int(r["Weight"]) for r in listed if "Weight" in r}


@dataclass
class _Demo:
    clock: list[float]
    clients: dict[tuple[str, str], Any]
    orchestrator: Any
    workloads: Any
    targets: dict[str, dict[str, Any]]
    buckets: dict[str, str]
    groups: dict[str, str]
    service_groups: dict[str, str]
    zone_id: str
    keys: dict[str, str]

    def client(self, service: str, region: str | None = None) -> Any:
        import boto3

        key = (service, region or SOURCE)
        if key not in self.clients:
            raw = boto3.client(service, region_name=key[1])
            self.clients[key] = EcsStarted(raw, lambda: self.clock[0]) if service == "ecs" else raw
        return self.clients[key]

    def desired(self, groups: dict[str, str] | None = None) -> dict[str, int]:
        return {
            r: self.client("autoscaling", r).describe_auto_scaling_groups(
                AutoScalingGroupNames=[g]
            )["AutoScalingGroups"][0]["DesiredCapacity"]
            for r, g in (groups or self.groups).items()
        }

    def drive(self, migration_id: str, each: Callable[[Any], None] = lambda m: None) -> Any:
        while True:
            m = self.orchestrator.step(migration_id, self.clock[0])
            each(m)
            if m.state.final:
                return m
            self.clock[0] += 30.0


def _setup(clock: list[float]) -> _Demo:
    import boto3

    from carbon_aware.cli.demo_fleet import create_group
    from carbon_aware.runtime.config import WorkloadSettings
    from carbon_aware.runtime.fleet.repository import FleetRepository
    from carbon_aware.runtime.fleet.settings import parse_fleet
    from carbon_aware.runtime.migrations.orchestrator import Orchestrator
    from carbon_aware.runtime.migrations.repository import MigrationRepository
    from carbon_aware.runtime.migrations.strategies.blue_green import BlueGreen, parse_services
    from carbon_aware.runtime.migrations.strategies.checkpoint_restore import CheckpointRestore
    from carbon_aware.runtime.migrations.strategies.drain_and_shift import DrainAndShift
    from carbon_aware.runtime.migrations.strategies.live import LivePreCopy
    from carbon_aware.runtime.repository import WorkloadRepository
    from carbon_aware.runtime.tables import FLEETS_TABLE, MIGRATIONS_TABLE, WORKLOADS_TABLE

    ddb = boto3.client("dynamodb", region_name=SOURCE)
    for name, definition in (
        ("migrations", MIGRATIONS_TABLE),
        ("fleets", FLEETS_TABLE),
        ("workloads", WORKLOADS_TABLE),
    ):
        ddb.create_table(TableName=name, **definition)
    groups = {SOURCE: f"{PREFIX}-{FLEET}-{SOURCE}", TARGET: f"{PREFIX}-{FLEET}-{TARGET}"}
    create_group(SOURCE, groups[SOURCE], 6, ("m6i.large",))
    create_group(TARGET, groups[TARGET], 2, ("m6i.large",))
    service_groups = {r: f"{PREFIX}-{SERVICE}-{r}" for r in (SOURCE, TARGET)}
    zone_id, services = create_service(service_groups, {SOURCE: 4, TARGET: 0}, ("m6i.large",))
    buckets, keys, targets = {}, {}, {}
    for region in (SOURCE, TARGET):
        buckets[region] = f"{PREFIX}-checkpoints-{region}"
        boto3.client("s3", region_name=region).create_bucket(
            Bucket=buckets[region], CreateBucketConfiguration={"LocationConstraint": region}
        )
        keys[region] = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
        ecs = boto3.client("ecs", region_name=region)
        cluster = ecs.create_cluster(clusterName="jobs", capacityProviders=["FARGATE"])
        task = ecs.register_task_definition(
            family="job", containerDefinitions=[{"name": "job", "image": "busybox", "memory": 512}]
        )
        targets[region] = {
            "type": "ecs",
            "arn": task["taskDefinition"]["taskDefinitionArn"],
            "cluster": cluster["cluster"]["clusterArn"],
        }
    fleet = parse_fleet(
        FLEET,
        {
            "regions": [SOURCE, TARGET],
            "groups": groups,
            "instance_types": ["m6i.large"],
            "min_total": 6,
            "max_total": 12,
            "desired_total": 8,
            "min_share": {SOURCE: 0.25},
        },
    )
    workloads = WorkloadRepository(
        boto3.resource("dynamodb", region_name=SOURCE).Table("workloads")
    )
    demo = _Demo(
        clock, {}, None, workloads, targets, buckets, groups, service_groups, zone_id, keys
    )
    settings = WorkloadSettings(
        workloads_table="workloads",
        regions=(SOURCE, TARGET),
        home_region=SOURCE,
        target_allowlist=tuple(v for t in targets.values() for v in (t["arn"], t["cluster"])),
        name_prefix=PREFIX,
        checkpoint_buckets=buckets,
        checkpoint_kms_keys=keys,
        checkpoint_budget=90,
    )
    demo.orchestrator = Orchestrator(
        MigrationRepository(ddb, "migrations"),
        {
            "drain_and_shift": DrainAndShift(
                {FLEET: fleet},
                lambda r: demo.client("autoscaling", r),
                FleetRepository(ddb, "fleets"),
            ),
            "checkpoint_restore": CheckpointRestore(workloads, settings, demo.client),
            "live": LivePreCopy(workloads, settings, demo.client, enabled=True),
            "blue_green": BlueGreen(parse_services(services), demo.client),
        },
    )
    return demo


def run_migration_demo(export_to: Path | None = None, t0: float = T0) -> list[str]:
    """Run the five migrations from ``t0``; the lines to print. With ``export_to``, the finished
    migrations are written there in the exporter's layout, for the carbon report to read."""
    from moto import mock_aws

    lines: list[str] = []
    with mock_aws(), tasks_keep_running():
        demo = _setup([t0])
        lines += _drain_and_shift(demo)
        lines += _blue_green(demo)
        lines += _workload_migration(demo, "checkpoint_restore", "train-1", dies=False)
        lines += _workload_migration(demo, "checkpoint_restore", "train-2", dies=True)
        lines += _workload_migration(demo, "live", "train-3", dies=False)
        if export_to is not None:
            lines.append(_export(demo, export_to))
    return lines


def _export(demo: _Demo, directory: Path) -> str:
    import boto3

    from carbon_aware.cli.export import scan_table, write_export
    from carbon_aware.cli.report_cmd import DEFAULT_MIGRATION_TABLE
    from carbon_aware.runtime.migrations.repository import MIGRATION_PREFIX
    from carbon_aware.runtime.migrations.states import MigrationState

    finished = [
        item
        for item in scan_table("migrations", boto3.client("dynamodb", region_name=SOURCE))
        if str(item["pk"]).startswith(MIGRATION_PREFIX) and MigrationState(item["state"]).final
    ]
    write_export(
        finished,
        directory,
        DEFAULT_MIGRATION_TABLE,
        day_of=lambda item: float(json.loads(item["body"])["updated_at"]),
        exported_at=demo.clock[0],
    )
    return (
        f"  {len(finished)} finished migrations exported to {directory / DEFAULT_MIGRATION_TABLE}"
    )


def _path(m: Any) -> str:
    return " -> ".join(h["to"] for h in m.history)


def _grams(m: Any) -> str:
    g = m.grams or {}
    if g.get("net_g") is None:
        return "grams: none"
    return (
        f"{g['gross_g']:.0f} g gross - {g['overhead_g']:.1f} g overhead "
        f"= {g['net_g']:.1f} g saved net"
    )


def _drain_and_shift(demo: _Demo) -> list[str]:
    request = {
        "kind": "drain_and_shift",
        "fleet": FLEET,
        "source": SOURCE,
        "target": TARGET,
        "count": 3,
        "basis": BASIS,
    }
    plan = demo.orchestrator.start(request, demo.clock[0], dry_run=True)
    started = demo.orchestrator.start(request, demo.clock[0])
    seen: list[str] = [f"  desired {demo.desired()} (before)"]

    def watch(m: Any) -> None:
        seen.append(f"  {m.state:<11} desired {demo.desired()}")

    m = demo.drive(started["id"], watch)
    return [
        f"migration {m.migration_id} drain_and_shift {FLEET}: 3 from {SOURCE} to {TARGET} "
        f"(dry run: {plan['reason']})",
        *seen,
        f"  {_path(m)}; {_grams(m)}",
    ]


def _blue_green(demo: _Demo) -> list[str]:
    request = {
        "kind": "blue_green",
        "service": SERVICE,
        "source": SOURCE,
        "target": TARGET,
        "healthy_checks": 2,
        "traffic_steps": [10, 50, 100],
        "step_wait_seconds": 60,
        "deregistration_delay_seconds": 60,
        "basis": BASIS,
    }
    started = demo.orchestrator.start(request, demo.clock[0])
    seen: list[str] = []

    def watch(m: Any) -> None:
        line = (
            f"  {m.state:<11} weights {weights(demo.zone_id)} "
            f"desired {demo.desired(demo.service_groups)}"
        )
        if not seen or seen[-1] != line:
            seen.append(line)

    watch(demo.orchestrator.repo.get(started["id"]))
    m = demo.drive(started["id"], watch)
    return [
        f"migration {m.migration_id} blue_green {SERVICE}: traffic from {SOURCE} to {TARGET} "
        "in 10/50/100 % steps after 2 healthy checks",
        *seen,
        f"  {_path(m)}; {_grams(m)}",
    ]


def _workload_migration(demo: _Demo, kind: str, workload_id: str, *, dies: bool) -> list[str]:
    """A checkpoint_restore or live migration of a segment running for an hour in SOURCE; when
    it completes, the segment runs its last hour in TARGET and the completion accounts both."""
    from carbon_aware.runtime.migrations.strategies.live import PAUSE_REASON

    now = demo.clock[0]
    source_task = start_interruptible_run(
        demo.workloads, demo.client("ecs", SOURCE), demo.targets[SOURCE], workload_id, now - HOUR
    )
    s3 = demo.client("s3", SOURCE)
    # The end-to-end checkpoint_restore keeps part of its state on an EBS volume.
    snapshot = (
        create_snapshot(demo.client("ec2", SOURCE), SOURCE, demo.keys[SOURCE])
        if kind == "checkpoint_restore" and not dies
        else None
    )
    put_checkpoint(s3, demo.buckets[SOURCE], workload_id, 7, now - 600.0, snapshot)

    def agent_checkpoints_on_pause(params: dict[str, Any], **_: Any) -> None:
        body = json.loads(params["body"])
        if body.get("task") == source_task and body.get("reason") == PAUSE_REASON:
            put_checkpoint(s3, demo.buckets[SOURCE], workload_id, 8, demo.clock[0])

    demo.client("ecs", SOURCE).meta.events.register(
        "before-call.ecs.StopTask", agent_checkpoints_on_pause
    )
    request = {"kind": kind, "workload_id": workload_id, "target": TARGET, "basis": BASIS}
    started = demo.orchestrator.start(request, now)
    ecs = demo.client("ecs", TARGET)

    def target_fails_health_check(m: Any) -> None:
        run = m.data.get("target_run")
        if dies and run and str(m.state) == "migrating":
            ecs.stop_task(
                cluster=demo.targets[TARGET]["cluster"],
                task=run["handle"],
                reason="essential container exited 1 (health check)",
            )

    m = demo.drive(started["id"], target_fails_health_check)
    record = demo.workloads.get(workload_id)
    listed = demo.client("s3", TARGET).list_objects_v2(
        Bucket=demo.buckets[TARGET], Prefix=f"checkpoints/{workload_id}/"
    )
    source = demo.client("ecs", SOURCE).describe_tasks(
        cluster=demo.targets[SOURCE]["cluster"], tasks=[source_task]
    )["tasks"][0]["lastStatus"]
    what = "rolled back: target run died" if dies else "end to end"
    lines = [
        f"migration {m.migration_id} {kind} {workload_id} {SOURCE} -> {TARGET} ({what})",
        f"  {_path(m)}; {_grams(m)}",
    ]
    if snapshot and "snapshot_copy" in m.data:
        lines.append(
            f"  snapshot {snapshot} copied to {TARGET} as {m.data['snapshot_copy']}, "
            "re-encrypted under its checkpoint key"
        )
    if kind == "live" and "pause_seconds" in m.data:
        rounds, paused = len(m.data["rounds"]), m.data["pause_seconds"]
        lines.append(
            f"  {rounds} pre-copy round(s), then paused {paused:.0f} s for the final delta "
            f"({m.data['final_delta_bytes']} B)"
        )
    lines.append(
        f"  workload runs in {record.dispatch['region']} ({record.status}); source task "
        f"{source}; checkpoint objects in {TARGET}: {listed.get('KeyCount', 0)}"
    )
    if not dies:
        lines.append(_finish(demo, m, workload_id))
    return lines


def _finish(demo: _Demo, m: Any, workload_id: str) -> str:
    """The moved segment ends an hour on in TARGET; its grams, piece by piece."""
    from carbon_aware.runtime.completion import Completer, Finished
    from carbon_aware.runtime.segments import pieces
    from carbon_aware.runtime.wiring import ProfileSignalSource

    demo.clock[0] += HOUR
    run = m.data["target_run"]
    ended = Finished(workload_id, True, m.data["started_at"], demo.clock[0], "", run["handle"])
    done = Completer(demo.workloads, ProfileSignalSource()).complete(ended, demo.clock[0])
    ran = " + ".join(
        f"{p['region']} {(p['ended_at'] - p['started_at']) / 60:.0f} min "
        f"{p['result']['emissions_g']:.1f} g"
        for p in pieces(done.segments["runs"])
    )
    result = done.result
    return (
        f"  then {done.status}: {ran} = {result['emissions_g']:.1f} g against "
        f"{result['baseline_g']:.1f} g unshifted in {SOURCE} ({result['provider']})"
    )
