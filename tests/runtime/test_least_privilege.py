"""Least privilege the other way round: driven through every path that needs a permission, each
function uses every IAM action the module grants it (the autouse check in conftest.py makes sure
it uses no other). Together: per function, granted == called."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import boto3
import numpy as np
import pytest
from tests.fleet.fleet_env import FLEET_TABLE, TYPES, fleet_spec, fleets_table, make_group
from tests.runtime.aws_samples import put_event
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context, http, stored_spec, submission, submit
from tests.runtime.events import completion as completion_event

from carbon_aware.cli.demo_fleet import FakePlacementScores, InstanceTypeFill
from carbon_aware.cli.demo_migrations import SERVICE, create_service, create_snapshot
from carbon_aware.engine import Signal
from carbon_aware.engine.signal import SignalType
from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime import config, monitor_config, wiring
from carbon_aware.runtime.handlers import (
    api,
    completion,
    executor,
    fleet_optimizer,
    intake,
    interruptions,
    monitor,
    scheduler,
)
from carbon_aware.runtime.migrations import settings as migration_settings
from carbon_aware.runtime.planner import DISPATCH_MARGIN
from carbon_aware.runtime.repository import WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.states import State
from carbon_aware.runtime.sweeper import LOST_AFTER
from carbon_aware.runtime.tables import MIGRATIONS_TABLE
from carbon_aware.signals.cache import SignalCache, create_table
from carbon_aware.signals.catalog import load_catalog
from carbon_aware.signals.chain import Provenance
from carbon_aware.signals.reader import zone_of
from fakes.clock import FakeClock
from fakes.providers import EM_KEY, WT_PASSWORD, WT_USER
from terraform.test_drift import LOCAL_STACK_ONLY, granted_to

TARGETS = ("lambda", "ecs", "batch", "stepfunctions", "eventbridge", "task_token")
HOUR = 3600.0
RETIRED = {"type": "lambda", "arn": f"arn:aws:lambda:{HOME}:123456789012:function:retired"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())  # the fake providers answer for the handlers' real clock


@pytest.fixture
def estate(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsEnv]:
    """The deployed shape: a signals cache every reader uses, and one more allowed target."""
    create_table(boto3.client("dynamodb", region_name=HOME), "signals")
    monkeypatch.setenv(config.SIGNALS_TABLE, "signals")
    allow = [*json.loads(os.environ[config.TARGET_ALLOWLIST]), RETIRED["arn"]]
    monkeypatch.setenv(config.TARGET_ALLOWLIST, json.dumps(allow))
    wiring.reset()
    yield aws
    wiring.reset()


def retire(monkeypatch: pytest.MonkeyPatch) -> None:
    """Take the retired target off the allow-list: its dispatch fails for good (a dead letter)."""
    allow = [
        arn for arn in json.loads(os.environ[config.TARGET_ALLOWLIST]) if arn != RETIRED["arn"]
    ]
    monkeypatch.setenv(config.TARGET_ALLOWLIST, json.dumps(allow))
    wiring.reset()


@pytest.fixture
def checkpoint_buckets(estate: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A checkpoint bucket and key in each Region, as the module creates them."""
    buckets = {r: f"ckpt-{r}" for r in (HOME, OTHER)}
    keys = {}
    for region, bucket in buckets.items():
        location = {"LocationConstraint": region}
        boto3.client("s3", region_name=region).create_bucket(
            Bucket=bucket, CreateBucketConfiguration=location
        )
        keys[region] = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv(config.CHECKPOINT_BUCKETS, json.dumps(buckets))
    monkeypatch.setenv(config.CHECKPOINT_KMS_KEYS, json.dumps(keys))
    wiring.reset()
    return buckets


def segment_due(env: AwsEnv, buckets: dict[str, str], kind: str) -> WorkloadRecord:
    """An interruptible workload whose first segment checkpointed in the other Region (part of
    its state in an EBS snapshot there) and whose second (home) segment was due an hour ago,
    written directly."""
    now, workload_id = time.time(), f"segmented-{kind}"
    target = {**env.targets[HOME][kind], "overrides": {"containerOverrides": [{"name": "job"}]}}
    if kind == "batch":
        target["overrides"] = {}
    spec = stored_spec(target, workload_id, interruptible=True, regions=[HOME, OTHER])
    repo = wiring.repository()
    runs = [
        {
            "region": OTHER,
            "start_epoch": now - 5400,
            "end_epoch": now - 3600,
            "state": "checkpointed",
        },
        {"region": HOME, "start_epoch": now - 3600, "end_epoch": now + 7200, "state": "scheduled"},
    ]
    segmented = {"plan": 2, "current": 1, "done_seconds": 1800.0, "replan": False, "runs": runs}
    decision = {"region": HOME, "schedule": f"wl-{workload_id}-v2-s1", "segments": []}
    record = repo.transition(
        repo.create(workload_id, spec, now - 7200),
        State.SCHEDULED,
        now=now - 7200,
        reason="planned",
        due_at=now - 3600,
        updates={"decision": decision, "segments": segmented},
    )
    s3 = boto3.client("s3", region_name=OTHER)
    key = f"checkpoints/{workload_id}/00000001.ckpt"
    s3.put_object(Bucket=buckets[OTHER], Key=key, Body=b"state")
    key_of = json.loads(os.environ[config.CHECKPOINT_KMS_KEYS])
    snapshot = create_snapshot(boto3.client("ec2", region_name=OTHER), OTHER, key_of[OTHER])
    manifest = {
        "sequence": 1,
        "key": key,
        "sha256": "",
        "bytes": 5,
        "progress": 0.5,
        "snapshot_id": snapshot,
    }
    s3.put_object(
        Bucket=buckets[OTHER],
        Key=f"checkpoints/{workload_id}/latest.json",
        Body=json.dumps(manifest).encode(),
    )
    return record


def uses_every_grant(calls: dict[str, set[str]], function: str) -> None:
    used = calls.get(function, set()) - LOCAL_STACK_ONLY
    unused = granted_to(function) - used
    assert not unused, f"{function} is granted {sorted(unused)} but never calls them"


def accepted(body: dict, key: str | None = None) -> dict:
    """Submit through the API (with an Idempotency-Key when given); the stored workload."""
    status, stored = submit(body, {"Idempotency-Key": key} if key else None)
    assert status == 201, stored
    return stored


def home_only(target: dict, deadline_hours: float, **extra: object) -> dict:
    """A one-hour submission for the home Region only, due within ``deadline_hours``."""
    deadline = iso(time.time() + deadline_hours * HOUR)
    return submission(target, regions=[HOME], deadline=deadline, **extra)


def planned(target: dict, deadline_hours: float = 1.5, **extra: object) -> WorkloadRecord:
    """A workload submitted and placed; a short deadline makes it start within 15 minutes."""
    workload_id = accepted(home_only(target, deadline_hours, **extra))["id"]
    assert scheduler.handler({"workload_id": workload_id}, Context())["status"] == "SCHEDULED"
    return wiring.repository().get(workload_id)


def every_target(env: AwsEnv) -> list[WorkloadRecord]:
    """One workload per target type, and one for the target about to be retired."""
    return [planned(t) for t in [*(env.targets[HOME][kind] for kind in TARGETS), RETIRED]]


def test_api_uses_every_grant(estate: AwsEnv, least_privilege: dict, monkeypatch) -> None:
    body = home_only(estate.targets[HOME]["lambda"], 20)
    first = accepted(body, key="k1")  # the scheduler invoked
    again = accepted(body, key="k1")  # the stored response
    assert again["id"] == first["id"]
    get = api.handler(http("GET", f"/workloads/{first['id']}"), Context())
    assert get["statusCode"] == 200
    listed = api.handler(http("GET", "/workloads", query={"status": "PENDING"}), Context())
    assert listed["statusCode"] == 200
    scheduler.handler({"workload_id": first["id"]}, Context())
    cancelled = api.handler(http("DELETE", f"/workloads/{first['id']}"), Context())
    assert json.loads(cancelled["body"])["status"] == State.CANCELLED  # schedule deleted
    for kind in ("ecs", "batch", "stepfunctions"):  # running: the target is stopped
        record = planned(estate.targets[HOME][kind])
        executor.handler({"workload_id": record.workload_id, "version": record.version}, Context())
        stopped = api.handler(http("DELETE", f"/workloads/{record.workload_id}"), Context())
        assert json.loads(stopped["body"])["result"]["target_stopped"] is True
    # Migrations: a dry run reads the groups, a start and a cancel write the table.
    groups = {region: f"ca-test-web-{region}" for region in (HOME, OTHER)}
    for region, name in groups.items():
        make_group(region, name, 2)
    fleets_table()
    boto3.client("dynamodb", region_name=HOME).create_table(
        TableName="migrations", **MIGRATIONS_TABLE
    )
    monkeypatch.setenv(config.FLEETS, json.dumps({"web": fleet_spec(groups, desired_total=4)}))
    monkeypatch.setenv(config.FLEET_TABLE, FLEET_TABLE)
    monkeypatch.setenv(migration_settings.MIGRATIONS_TABLE, "migrations")
    # blue_green's dry run also reads the service's weighted records and health checks.
    service_groups = {region: f"api-{region}" for region in (HOME, OTHER)}
    _, services = create_service(service_groups, {HOME: 4, OTHER: 0}, TYPES)
    monkeypatch.setenv(migration_settings.MIGRATION_SERVICES, json.dumps(services))
    wiring.reset()
    shift = {"kind": "drain_and_shift", "fleet": "web", "source": HOME, "target": OTHER, "count": 1}
    dry = api.handler(http("POST", "/migrations", {**shift, "dry_run": True}), Context())
    assert json.loads(dry["body"])["ok"], dry
    move = {"kind": "blue_green", "service": SERVICE, "source": HOME, "target": OTHER}
    dry = api.handler(http("POST", "/migrations", {**move, "dry_run": True}), Context())
    assert json.loads(dry["body"])["plan"]["goal"] == 4, dry
    started = json.loads(api.handler(http("POST", "/migrations", shift), Context())["body"])
    cancel = api.handler(http("POST", f"/migrations/{started['id']}/cancel"), Context())
    assert json.loads(cancel["body"])["state"] == "cancelled"
    assert api.handler(http("GET", "/migrations"), Context())["statusCode"] == 200

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("table unavailable")

    # A submit that fails releases its idempotency key, so a retry can succeed.
    monkeypatch.setattr(WorkloadRepository, "create", broken)
    with pytest.raises(RuntimeError):
        accepted(body, key="k2")
    uses_every_grant(least_privilege, "api")


def test_intake_uses_every_grant(estate: AwsEnv, least_privilege: dict, monkeypatch) -> None:
    body = home_only(estate.targets[HOME]["lambda"], 20)
    event = put_event("com.example", intake.DETAIL_TYPE, body, time.time(), HOME)
    first = intake.handler(event, Context())  # stored, the scheduler invoked
    assert intake.handler(event, Context())["workload_id"] == first["workload_id"]
    invalid = put_event("com.example", intake.DETAIL_TYPE, {}, time.time(), HOME)
    assert not intake.handler(invalid, Context())["accepted"]  # on the rejects queue

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("table unavailable")

    # A submit that fails releases its idempotency key, so EventBridge's retry can succeed.
    monkeypatch.setattr(WorkloadRepository, "create", broken)
    with pytest.raises(RuntimeError):
        intake.handler(put_event("com.example", intake.DETAIL_TYPE, body, 0, HOME), Context())
    uses_every_grant(least_privilege, "intake")


def test_scheduler_uses_every_grant(
    estate: AwsEnv, least_privilege: dict, monkeypatch, checkpoint_buckets: dict
) -> None:
    now = time.time()
    lost = every_target(estate)  # their schedules never fire here: the sweeper recovers them
    # A segment whose start schedule found the previous one still checkpointing: swept.
    segment_due(estate, checkpoint_buckets, "ecs")
    # Starts in 2 h or later, so the sweep below may still move it.
    later = planned(estate.targets[HOME]["lambda"], 20, earliest_start=iso(now + 2 * HOUR))
    dip_at = cleaner_hour_than(later.decision["start_epoch"], now + 2 * HOUR, now + 20 * HOUR)
    cache_forecast(HOME, now, dip_at)
    retire(monkeypatch)
    overdue = max(w.due_at for w in lost) + LOST_AFTER + 60
    wiring.reset(FakeClock(overdue))
    counts = scheduler.handler({}, Context())["sweep"]
    assert counts["dispatched:RUNNING"] == len(TARGETS) + 1, counts
    assert counts["dispatched:FAILED"] == 1, counts  # the retired target: a dead letter
    assert counts["replanned"] == 1, counts  # and its old schedule deleted
    assert wiring.repository().get(later.workload_id).decision["start_epoch"] == dip_at
    assert len(estate.dead_letters()) == 1
    # Past their expected end, the watchdog asks the targets that can be asked.
    started = [wiring.repository().get(w.workload_id) for w in lost]
    wiring.reset(FakeClock(max(w.due_at for w in started if w.status == State.RUNNING)))
    counts = scheduler.handler({}, Context())["sweep"]
    assert counts["watchdog:rearmed"] + counts.get("watchdog:SUCCEEDED", 0) == len(TARGETS)
    uses_every_grant(least_privilege, "scheduler")


def test_executor_uses_every_grant(
    estate: AwsEnv, least_privilege: dict, monkeypatch, checkpoint_buckets: dict
) -> None:
    workloads = every_target(estate)
    segmented = [segment_due(estate, checkpoint_buckets, kind) for kind in ("ecs", "batch")]
    retire(monkeypatch)
    for record in workloads:
        executor.handler({"workload_id": record.workload_id, "version": record.version}, Context())
    assert len(estate.dead_letters()) == 1
    for record in segmented:  # started in the home Region, then stopped at the segment's end
        for action in ("start", "end"):
            event = {"workload_id": record.workload_id, "plan": 2, "segment": 1, "action": action}
            assert executor.handler(event, Context())["status"] == "RUNNING"
    uses_every_grant(least_privilege, "executor")


def test_completion_uses_every_grant(estate: AwsEnv, least_privilege: dict) -> None:
    record = planned(estate.targets[HOME]["ecs"])
    executor.handler({"workload_id": record.workload_id, "version": record.version}, Context())
    start = time.time()
    event = completion_event("ecs", record.workload_id, start, start + 60)
    assert completion.handler(event, Context())["status"] == "SUCCEEDED"
    uses_every_grant(least_privilege, "completion")


def test_monitor_uses_every_grant(
    estate: AwsEnv,
    least_privilege: dict,
    em_server,
    wt_server,
    neso_server,
    price_list_server,
    monkeypatch,
) -> None:
    secret = boto3.client("secretsmanager", region_name=HOME).create_secret(
        Name="carbon/em", SecretString=EM_KEY
    )["ARN"]
    parameter = "/carbon/watttime"
    boto3.client("ssm", region_name=HOME).put_parameter(
        Name=parameter,
        Type="SecureString",
        Value=json.dumps({"username": WT_USER, "password": WT_PASSWORD}),
    )
    for name, value in {
        monitor_config.REGIONS: f"{HOME},{OTHER},us-east-1",
        monitor_config.ELECTRICITYMAPS_SECRET: secret,
        monitor_config.WATTTIME_SECRET: parameter,
        monitor_config.ELECTRICITYMAPS_URL: f"{em_server.url}/v3",
        monitor_config.WATTTIME_URL: wt_server.url,
        monitor_config.UKCI_URL: neso_server.url,
    }.items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    answer = monitor.handler({}, Context())
    assert answer["ok"] and answer["prices"]["priced"] > 0, answer
    uses_every_grant(least_privilege, "monitor")


def cleaner_hour_than(start: float, earliest: float, deadline: float) -> float:
    """An hour boundary where a one-hour job fits in the window, 2 h or more from ``start``."""
    latest = deadline - DISPATCH_MARGIN - HOUR
    candidates = np.arange(np.ceil(earliest / HOUR) * HOUR, latest, HOUR)
    return float(candidates[np.abs(candidates - start) >= 2 * HOUR][-1])


def cache_forecast(region: str, now: float, dip_at: float) -> None:
    """A fresh cached forecast for the region: dirty all day but for one clean hour."""
    times = np.arange(now, now + 24 * HOUR, HOUR)
    values = np.where((times >= dip_at) & (times < dip_at + HOUR), 10.0, 900.0)
    times[1:] = np.floor(times[1:] / HOUR) * HOUR
    signal = Signal.from_points(region, times, values, end=now + 24 * HOUR)
    zone = zone_of(load_catalog().get(region), SignalType.AVERAGE)
    cache = SignalCache(boto3.client("dynamodb", region_name=HOME), "signals")
    cache.put_forecast(zone, SignalType.AVERAGE, signal, Provenance("test", "average", False, now))


def test_fleet_optimizer_uses_every_grant(
    estate: AwsEnv, least_privilege: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = {region: f"ca-test-web-{region}" for region in (HOME, OTHER)}
    for region, name in groups.items():
        make_group(region, name, 2)
    fleets_table()
    monkeypatch.setenv(config.FLEETS, json.dumps({"web": fleet_spec(groups, desired_total=4)}))
    monkeypatch.setenv(config.FLEET_TABLE, FLEET_TABLE)
    wiring.reset()
    # moto does not implement GetSpotPlacementScores: answered in the API's shape (as in the demo).
    FakePlacementScores(time.time(), wiring.clock()).attach(wiring.client("ec2", HOME))
    for region in groups:  # moto records no instance types: filled as AWS shows them
        InstanceTypeFill.attach(wiring.client("autoscaling", region))
    answer = fleet_optimizer.handler({}, Context())
    assert answer["ok"], answer
    # Launch before drain: the cleaner Region is raised now, the other lowered on a later run.
    assert answer["fleets"]["web"]["applied"] == {OTHER: 4, HOME: 2}
    # The next run accounts the interval since the first: DescribeInstanceTypes for the watts.
    answer = fleet_optimizer.handler({}, Context())
    assert answer["fleets"]["web"]["emissions_g"] > 0, answer["fleets"]["web"]["footprint"]
    uses_every_grant(least_privilege, "fleet_optimizer")


def test_interruptions_uses_every_grant(
    estate: AwsEnv, least_privilege: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.runtime.interruption_env import (
        deployed_pipeline,
        ec2_event,
        fake_lifecycle_api,
        instance_of,
        lifecycle_event,
    )
    from tests.runtime.test_interruption_self_check import wire
    from tests.runtime.test_interruptions import running_on_fargate_spot, spot_stop

    from carbon_aware.runtime.interruptions import settings as interruption_settings
    from carbon_aware.signals.prices.unavailable import CapacityMarks

    pipeline = deployed_pipeline(estate, monkeypatch)
    wire(monkeypatch)  # builds new clients: the fake lifecycle API again
    fake_lifecycle_api(pipeline.lifecycle_calls)
    monkeypatch.setenv(interruption_settings.CHECKPOINT_DOCUMENT, "checkpoint-now")
    assert interruptions.handler({"action": "self_check"}, Context()) == {"ok": True}
    instance, _, _ = instance_of(HOME)
    rebalance = "ec2_instance_rebalance_recommendation_nth.json"
    warning = ec2_event("ec2_spot_instance_interruption_warning_nth.json", instance, HOME)
    with monkeypatch.context() as injected:
        injected.setattr(CapacityMarks, "mark", lambda *a, **k: 1 / 0)
        assert len(pipeline.deliver(warning)["batchItemFailures"]) == 1  # its claim released
    assert pipeline.deliver(warning) == {"batchItemFailures": []}
    assert pipeline.deliver(ec2_event(rebalance, instance, HOME)) == {"batchItemFailures": []}
    monkeypatch.setenv(interruption_settings.REBALANCE_ACTION, "replace")
    event = {**ec2_event(rebalance, instance, HOME), "id": "another"}
    assert pipeline.deliver(event) == {"batchItemFailures": []}
    other, _, _ = instance_of(OTHER)
    assert pipeline.deliver(lifecycle_event(other, OTHER)) == {"batchItemFailures": []}
    record = running_on_fargate_spot(estate)
    assert pipeline.deliver(spot_stop(record, "RUNNING")) == {"batchItemFailures": []}
    assert wiring.repository().get(record.workload_id).status == State.SCHEDULED
    uses_every_grant(least_privilege, "interruptions")
