"""Migrations on moto: a fleet over two regions, interruptible workloads running on ECS with
checkpoints in both regions' buckets, a service behind Route 53 weighted records in both regions,
and the faults the trials inject.

What moto does not do (the fault layer stands in): it never reports an instance unhealthy by
itself, its Route 53 health checks always pass, and it leaves ``startedAt`` unset on the tasks it
runs (filled here when RUNNING).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError
from tests.fleet.fleet_env import TYPES, make_group

from carbon_aware.cli.demo_migrations import (
    PREFIX,
    SERVICE,
    SOURCE,
    TARGET,
    EcsStarted,
    create_service,
    create_snapshot,
    put_checkpoint,
    start_interruptible_run,
    weights,
)
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.fleet.repository import FleetRepository
from carbon_aware.runtime.fleet.settings import parse_fleet
from carbon_aware.runtime.migrations.orchestrator import Orchestrator
from carbon_aware.runtime.migrations.repository import MigrationRepository
from carbon_aware.runtime.migrations.states import DEFAULT_TIMEOUTS, MigrationState
from carbon_aware.runtime.migrations.strategies import Strategy
from carbon_aware.runtime.migrations.strategies.blue_green import BlueGreen, parse_services
from carbon_aware.runtime.migrations.strategies.checkpoint_restore import CheckpointRestore
from carbon_aware.runtime.migrations.strategies.drain_and_shift import DrainAndShift
from carbon_aware.runtime.migrations.strategies.live import LivePreCopy
from carbon_aware.runtime.repository import WorkloadRepository
from carbon_aware.runtime.states import State
from carbon_aware.runtime.tables import FLEETS_TABLE, MIGRATIONS_TABLE, WORKLOADS_TABLE

MIGRATIONS = "migrations"
FLEETS = "fleets"
FLEET = "web"
PHASES = ("validate", "prepare", "migrate", "complete", "rollback")


class Crash(BaseException):
    """The orchestrator's process dies here (nothing after it runs, nothing is persisted)."""


@dataclass
class Faults:
    """What is broken right now."""

    failing: set[str] = field(default_factory=set)  # operations answering InternalError
    unhealthy: set[str] = field(default_factory=set)  # regions whose instances fail health checks
    crash_after: str | None = None  # a phase that dies right after doing its work
    failing_checks: set[str] = field(default_factory=set)  # regions whose Route 53 check fails
    check_regions: dict[str, str] = field(default_factory=dict)  # health check id -> region

    def clear(self) -> None:
        self.failing.clear()
        self.unhealthy.clear()
        self.failing_checks.clear()
        self.crash_after = None


class Client:
    """A boto3 client that obeys :class:`Faults`."""

    def __init__(self, inner: Any, region: str, faults: Faults, clock: Callable[[], float]):
        self._inner, self._region, self._faults, self._clock = inner, region, faults, clock

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in self._faults.failing:
                raise ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, name)
            answer = attr(*args, **kwargs)
            if name == "describe_auto_scaling_groups" and self._region in self._faults.unhealthy:
                for group in answer["AutoScalingGroups"]:
                    for instance in group.get("Instances", []):
                        instance["HealthStatus"] = "Unhealthy"
            checked = self._faults.check_regions.get(kwargs.get("HealthCheckId", ""))
            failing = self._faults.unhealthy | self._faults.failing_checks
            if name == "get_health_check_status" and checked in failing:
                for observation in answer["HealthCheckObservations"]:
                    observation["StatusReport"]["Status"] = "Failure: injected"
            return answer

        return call


class Crashing:
    """A strategy whose phase named in ``faults.crash_after`` dies after doing its work."""

    def __init__(self, inner: Strategy, faults: Faults) -> None:
        self._inner, self._faults = inner, faults

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in PHASES:
            return attr

        def phase(m: Any, now: float) -> Any:
            result = attr(m, now)
            if self._faults.crash_after == name:
                self._faults.crash_after = None
                raise Crash(name)
            return result

        return phase


@dataclass
class Env:
    """Everything a trial needs."""

    clock: list[float]
    faults: Faults
    repo: MigrationRepository
    orchestrator: Orchestrator
    fleet_repo: FleetRepository
    workloads: WorkloadRepository
    buckets: dict[str, str]
    groups: dict[str, str]
    targets: dict[str, dict[str, Any]]
    fleet_spec: dict[str, Any]
    service_groups: dict[str, str] = field(default_factory=dict)
    zone_id: str = ""
    services: dict[str, Any] = field(default_factory=dict)  # as var.migrations.services renders
    clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # each region's checkpoint KMS key

    def client(self, service: str, region: str) -> Client:
        raw = self.raw(service, region)
        inner = EcsStarted(raw, self.now) if service == "ecs" else raw
        return Client(inner, region, self.faults, self.now)

    def raw(self, service: str, region: str) -> Any:
        """A cached boto3 client (creating one costs more than most moto calls)."""
        key = (service, region)
        if key not in self.clients:
            self.clients[key] = boto3.client(service, region_name=region)
        return self.clients[key]

    def now(self) -> float:
        return self.clock[0]

    def desired(self) -> dict[str, int]:
        return {r: n for r, (n, _) in self.capacity().items()}

    def capacity(self, groups: Mapping[str, str] | None = None) -> dict[str, tuple[int, int]]:
        """(desired, InService) per region of ``groups`` (the fleet's by default)."""
        out = {}
        for region, name in (groups or self.groups).items():
            group = self.group(region, name)
            in_service = sum(1 for i in group["Instances"] if i["LifecycleState"] == "InService")
            out[region] = (group["DesiredCapacity"], in_service)
        return out

    def group(self, region: str, name: str | None = None) -> dict[str, Any]:
        client = self.raw("autoscaling", region)
        return client.describe_auto_scaling_groups(
            AutoScalingGroupNames=[name or self.groups[region]]
        )["AutoScalingGroups"][0]

    def weights(self) -> dict[str, int]:
        """The service's weighted records: weight per region (set identifier)."""
        return weights(self.zone_id)

    def running_tasks(self, region: str, workload_id: str) -> list[str]:
        return self.raw("ecs", region).list_tasks(
            cluster=self.targets[region]["cluster"],
            startedBy=f"{PREFIX}-{workload_id}",
            desiredStatus="RUNNING",
        )["taskArns"]

    def manifest(self, region: str, workload_id: str) -> dict[str, Any]:
        """The workload's committed manifest in ``region`` ({} when there is none)."""
        body = self.prefix_objects(region, workload_id).get(
            f"checkpoints/{workload_id}/latest.json"
        )
        return json.loads(body) if body else {}

    def prefix_objects(self, region: str, workload_id: str) -> dict[str, bytes]:
        s3 = self.raw("s3", region)
        listed = s3.list_objects_v2(
            Bucket=self.buckets[region], Prefix=f"checkpoints/{workload_id}/"
        )
        return {
            o["Key"]: s3.get_object(Bucket=self.buckets[region], Key=o["Key"])["Body"].read()
            for o in listed.get("Contents", [])
        }


def ecs_targets() -> dict[str, dict[str, Any]]:
    """An ECS cluster and task definition in both regions (as the runtime's targets)."""
    targets = {}
    for region in (SOURCE, TARGET):
        ecs = boto3.client("ecs", region_name=region)
        cluster = ecs.create_cluster(clusterName="jobs", capacityProviders=["FARGATE"])
        task = ecs.register_task_definition(
            family="job",
            containerDefinitions=[{"name": "job", "image": "busybox", "memory": 512}],
        )
        targets[region] = {
            "type": "ecs",
            "arn": task["taskDefinition"]["taskDefinitionArn"],
            "cluster": cluster["cluster"]["clusterArn"],
        }
    return targets


def create_env(
    clock: list[float],
    targets: Mapping[str, Mapping[str, Any]],
    timeouts: Mapping[MigrationState, float] | None = None,
) -> Env:
    """Tables, groups, buckets and the orchestrator (``targets``: each region's ECS target)."""
    faults = Faults()
    ddb = boto3.client("dynamodb", region_name=SOURCE)
    ddb.create_table(TableName=MIGRATIONS, **MIGRATIONS_TABLE)
    ddb.create_table(TableName=FLEETS, **FLEETS_TABLE)
    ddb.create_table(
        TableName="workloads-migrations",
        **WORKLOADS_TABLE,
    )
    groups = {SOURCE: "web-source", TARGET: "web-target"}
    make_group(SOURCE, groups[SOURCE], 4)
    make_group(TARGET, groups[TARGET], 2)
    buckets, keys = {}, {}
    for region in (SOURCE, TARGET):
        buckets[region] = f"ckpt-{region}"
        boto3.client("s3", region_name=region).create_bucket(
            Bucket=buckets[region], CreateBucketConfiguration={"LocationConstraint": region}
        )
        keys[region] = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
    spec = {
        "regions": [SOURCE, TARGET],
        "groups": groups,
        "instance_types": list(TYPES),
        "min_total": 4,
        "max_total": 12,
        "desired_total": 6,
        "min_share": {SOURCE: 0.2},
    }
    fleet = parse_fleet(FLEET, spec)
    service_groups = {SOURCE: "api-source", TARGET: "api-target"}
    zone_id, services = create_service(service_groups, {SOURCE: 4, TARGET: 0}, TYPES)
    for region, endpoint in services[SERVICE]["regions"].items():
        faults.check_regions[endpoint["health_check_id"]] = region
    repo = MigrationRepository(ddb, MIGRATIONS)
    fleet_repo = FleetRepository(ddb, FLEETS)
    workloads = WorkloadRepository(
        boto3.resource("dynamodb", region_name=SOURCE).Table("workloads-migrations")
    )
    env = Env(
        clock,
        faults,
        repo,
        None,  # type: ignore[arg-type]
        fleet_repo,
        workloads,
        buckets,
        groups,
        {r: dict(t) for r, t in targets.items()},
        spec,
        service_groups,
        zone_id,
        services,
        keys=keys,
    )
    settings = WorkloadSettings(
        workloads_table="workloads-migrations",
        regions=(SOURCE, TARGET),
        home_region=SOURCE,
        target_allowlist=tuple(a for t in targets.values() for a in (t["arn"], t["cluster"])),
        name_prefix=PREFIX,
        checkpoint_buckets=buckets,
        checkpoint_kms_keys=keys,
        checkpoint_budget=90,
    )
    strategies = {
        "drain_and_shift": Crashing(
            DrainAndShift(
                {FLEET: fleet}, lambda region: env.client("autoscaling", region), fleet_repo
            ),
            faults,
        ),
        "checkpoint_restore": Crashing(CheckpointRestore(workloads, settings, env.client), faults),
        "live": Crashing(LivePreCopy(workloads, settings, env.client, enabled=True), faults),
        "blue_green": Crashing(
            BlueGreen(
                parse_services(services), env.client, {**DEFAULT_TIMEOUTS, **(timeouts or {})}, 30.0
            ),
            faults,
        ),
    }
    env.orchestrator = Orchestrator(
        repo,
        strategies,  # type: ignore[arg-type]
        timeouts=timeouts or {},
        poll_seconds=30.0,
    )
    return env


def drive(env: Env, migration_id: str, each: Callable[[Any], None] = lambda m: None) -> Any:
    """Step the migration every 30 s until it ends (``each`` sees it after every step)."""
    for _ in range(60):
        m = env.orchestrator.step(migration_id, env.now())
        each(m)
        if m.state.final:
            return m
        env.clock[0] += 30.0
    raise AssertionError(f"never ended: {env.repo.get(migration_id)}")


def running_workload(
    env: Env, workload_id: str, sequence: int, stale_target: bool, snapshot: bool = False
) -> str:
    """A RUNNING interruptible workload on ECS in SOURCE with checkpoint ``sequence`` committed
    there (naming an EBS snapshot with ``snapshot``; and, with ``stale_target``, an older one
    left in TARGET); the source task's ARN."""
    task = start_interruptible_run(
        env.workloads, env.raw("ecs", SOURCE), env.targets[SOURCE], workload_id, env.now()
    )
    snap = create_snapshot(env.raw("ec2", SOURCE), SOURCE, env.keys[SOURCE]) if snapshot else None
    put_checkpoint(
        env.raw("s3", SOURCE), env.buckets[SOURCE], workload_id, sequence, env.now(), snap
    )
    if stale_target:
        put_checkpoint(
            env.raw("s3", TARGET), env.buckets[TARGET], workload_id, sequence - 2, env.now()
        )
    return task


def interrupt_source(env: Env, workload_id: str) -> None:
    """A spot interruption of the source run: the task stops and the workload waits to be
    re-planned from its last checkpoint (what runtime.segments records)."""
    record = env.workloads.get(workload_id)
    handle = (record.dispatch or {}).get("handle")
    if record.status != State.RUNNING or (record.dispatch or {}).get("region") != SOURCE:
        return
    env.raw("ecs", SOURCE).stop_task(
        cluster=env.targets[SOURCE]["cluster"], task=handle, reason="SpotInterruption"
    )
    segmented = dict(record.segments or {})
    runs = [dict(r) for r in segmented["runs"]]
    runs[0]["state"] = "interrupted"
    env.workloads.transition(
        record,
        State.SCHEDULED,
        now=env.now(),
        reason="interrupted",
        due_at=env.now(),
        updates={
            "segments": {**segmented, "runs": runs, "replan": True},
        },
    )
