"""The migrations function on moto: its scheduled sweep steps a drain_and_shift, a
checkpoint_restore and a blue_green to completed and rolls back one that cannot start, calling
AWS only with what the module grants it (the autouse least-privilege check in
tests/runtime/conftest.py)."""

from __future__ import annotations

import functools
import json
import time

import boto3
import pytest
from tests.fleet.fleet_env import FLEET_TABLE, TYPES, fleet_spec, fleets_table, make_group
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context

from carbon_aware.cli.demo_migrations import (
    SERVICE,
    EcsStarted,
    create_service,
    put_checkpoint,
    start_interruptible_run,
    tasks_keep_running,
)
from carbon_aware.runtime import config, wiring
from carbon_aware.runtime.handlers import migrations
from carbon_aware.runtime.migrations import settings
from carbon_aware.runtime.tables import MIGRATIONS_TABLE


def test_the_sweep_steps_what_is_due_with_only_the_functions_grants(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    buckets, keys = {}, {}
    for region in (HOME, OTHER):
        buckets[region] = f"ckpt-{region}"
        boto3.client("s3", region_name=region).create_bucket(
            Bucket=buckets[region], CreateBucketConfiguration={"LocationConstraint": region}
        )
        keys[region] = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
    groups = {region: f"ca-test-web-{region}" for region in (HOME, OTHER)}
    for region, name in groups.items():
        make_group(region, name, 2)
    fleets_table()
    boto3.client("dynamodb", region_name=HOME).create_table(
        TableName="migrations", **MIGRATIONS_TABLE
    )
    monkeypatch.setenv(config.CHECKPOINT_BUCKETS, json.dumps(buckets))
    monkeypatch.setenv(config.CHECKPOINT_KMS_KEYS, json.dumps(keys))
    monkeypatch.setenv(config.FLEETS, json.dumps({"web": fleet_spec(groups, desired_total=4)}))
    monkeypatch.setenv(config.FLEET_TABLE, FLEET_TABLE)
    monkeypatch.setenv(settings.MIGRATIONS_TABLE, "migrations")
    monkeypatch.setenv(settings.MIGRATION_POLL, "0.001")
    groups = {region: f"api-{region}" for region in (HOME, OTHER)}
    zone_id, services = create_service(groups, {HOME: 4, OTHER: 0}, TYPES)
    monkeypatch.setenv(settings.MIGRATION_SERVICES, json.dumps(services))
    wiring.reset()
    plain = wiring.client

    @functools.cache  # wiring.reset() clears it like the real one
    def client(service: str, region: str | None = None) -> object:
        raw = plain(service, region)
        return EcsStarted(raw, time.time) if service == "ecs" else raw

    monkeypatch.setattr(wiring, "client", client)
    now = time.time()
    ecs = boto3.client("ecs", region_name=HOME)
    with tasks_keep_running():
        for workload_id in ("train-1", "empty-1"):
            start_interruptible_run(
                wiring.repository(), ecs, aws.targets[HOME]["ecs"], workload_id, now
            )
        put_checkpoint(boto3.client("s3", region_name=HOME), buckets[HOME], "train-1", 4, now)
        orchestrator = wiring.migrations()
        ids = {
            "shift": orchestrator.start(
                {
                    "kind": "drain_and_shift",
                    "fleet": "web",
                    "source": HOME,
                    "target": OTHER,
                    "count": 1,
                },
                now,
            )["id"],
            "restore": orchestrator.start(
                {"kind": "checkpoint_restore", "workload_id": "train-1", "target": OTHER}, now
            )["id"],
            "empty": orchestrator.start(
                {"kind": "checkpoint_restore", "workload_id": "empty-1", "target": OTHER}, now
            )["id"],
            "blue_green": orchestrator.start(
                {
                    "kind": "blue_green",
                    "service": SERVICE,
                    "source": HOME,
                    "target": OTHER,
                    "healthy_checks": 1,
                    "traffic_steps": [50, 100],
                    "step_wait_seconds": 0,
                    "deregistration_delay_seconds": 0,
                },
                now,
            )["id"],
        }
        for _ in range(30):
            answer = migrations.handler({}, Context())
            assert answer["ok"], answer
            if not answer["stepped"]:
                break
            time.sleep(0.01)
    states = {k: orchestrator.repo.get(v).state for k, v in ids.items()}
    assert states == {
        "shift": "completed",
        "restore": "completed",
        "empty": "rolled_back",
        "blue_green": "completed",
    }
    weights = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id)
    assert {
        r["SetIdentifier"]: r["Weight"] for r in weights["ResourceRecordSets"] if "Weight" in r
    } == {HOME: 0, OTHER: 100}
    assert wiring.repository().get("train-1").dispatch["region"] == OTHER
