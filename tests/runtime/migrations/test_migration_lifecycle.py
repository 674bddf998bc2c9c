"""A drain_and_shift migration drains its source through the group's terminate lifecycle hook:
the interruptions function completes the action of the instance the migration let go (heartbeat,
then CONTINUE), the fleet optimizer that action wakes leaves the held fleet alone, and healthy
capacity never drops below the fleet's total while capacity moves."""

from __future__ import annotations

import time

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context
from tests.runtime.interruption_env import GROUPS, deployed_pipeline, desired, lifecycle_event

from carbon_aware.cli.demo_fleet import FakePlacementScores
from carbon_aware.runtime import wiring
from carbon_aware.runtime.handlers import fleet_optimizer, migrations
from carbon_aware.runtime.interruptions import settings as interruption_settings
from carbon_aware.runtime.migrations import settings
from carbon_aware.runtime.tables import MIGRATIONS_TABLE

TOTAL = 4  # the pipeline's fleet: 2 + 2


def in_service(region: str) -> set[str]:
    group = boto3.client("autoscaling", region_name=region).describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUPS[region]]
    )["AutoScalingGroups"][0]
    return {i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"}


def test_the_source_drains_through_its_lifecycle_hook_while_the_migration_holds_the_fleet(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    boto3.client("dynamodb", region_name=HOME).create_table(
        TableName="migrations", **MIGRATIONS_TABLE
    )
    monkeypatch.setenv(settings.MIGRATIONS_TABLE, "migrations")
    monkeypatch.setenv(settings.MIGRATION_POLL, "0.001")
    monkeypatch.setenv(interruption_settings.CHECKPOINT_DOCUMENT, "checkpoint-now")
    pipeline = deployed_pipeline(aws, monkeypatch)
    boto3.client("ssm", region_name=HOME).create_document(
        Name="checkpoint-now",
        DocumentType="Command",
        Content='{"schemaVersion": "2.2", "description": "checkpoint", "mainSteps": [{"action":'
        ' "aws:runShellScript", "name": "c", "inputs": {"runCommand": ["true"]}}]}',
    )
    # moto has no GetSpotPlacementScores: answered in the API's shape, so that the optimizer
    # would plan (and undo the migration's split) were the fleet not held.
    FakePlacementScores(time.time(), wiring.clock()).attach(wiring.client("ec2", HOME))
    orchestrator = wiring.migrations()
    spec = {"kind": "drain_and_shift", "fleet": "web", "source": HOME, "target": OTHER, "count": 1}
    migration_id = orchestrator.start(spec, time.time())["id"]
    before = in_service(HOME)
    drained: set[str] = set()
    delivered: list[tuple[str, str]] = []  # instance, the migration's state then
    for _ in range(30):
        answer = migrations.handler({}, Context())
        assert answer["ok"], answer
        assert len(in_service(HOME)) + len(in_service(OTHER)) >= TOTAL  # launch before drain
        drained |= before - in_service(HOME)
        for instance in sorted(before - in_service(HOME) - {i for i, _ in delivered}):
            # Auto Scaling holds the instance in Terminating:Wait and sends this event.
            assert pipeline.deliver(lifecycle_event(instance, HOME)) == {"batchItemFailures": []}
            delivered.append((instance, orchestrator.repo.get(migration_id).state))
        run = fleet_optimizer.handler({"fleets": ["web"]}, Context())
        if orchestrator.repo.get(migration_id).state != "completed":
            assert run["fleets"]["web"] == {"fleet": "web", "held_by_migration": migration_id}
        if not answer["stepped"]:
            break
        time.sleep(0.01)
    assert orchestrator.repo.get(migration_id).state == "completed"
    assert (desired(HOME), desired(OTHER)) == (1, 3)
    (instance,) = drained
    assert delivered == [(instance, "migrating")]
    assert [(op, call["InstanceId"]) for op, call in pipeline.lifecycle_calls] == [
        ("RecordLifecycleActionHeartbeat", instance),
        ("CompleteLifecycleAction", instance),
    ]
    assert pipeline.lifecycle_calls[-1][1]["LifecycleActionResult"] == "CONTINUE"
    assert wiring.fleet_repository().state("web").allocation == {HOME: 1, OTHER: 3}
