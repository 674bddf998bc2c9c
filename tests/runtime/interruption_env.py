"""A deployed interruption pipeline on moto: a fleet over the two test Regions, the signals
table, the interruptions queue, and the real AWS event samples rewritten for its instances."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from tests.fleet.fleet_env import FLEET_TABLE, fleet_spec, fleets_table, make_group
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import sample

from carbon_aware.runtime import config, wiring
from carbon_aware.runtime.handlers import interruptions
from carbon_aware.runtime.interruptions import settings
from carbon_aware.signals.cache import create_table

GROUPS = {HOME: f"carbon-aware-web-{HOME}", OTHER: f"carbon-aware-web-{OTHER}"}


@dataclass
class Pipeline:
    """The queue the events go through and what the fake lifecycle API was told."""

    queue_url: str
    lifecycle_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def deliver(self, *events: dict[str, Any]) -> dict[str, Any]:
        """Send ``events`` into the queue as EventBridge does, receive them as the event source
        mapping does, and hand the batch to the handler; its answer."""
        sqs = boto3.client("sqs", region_name=HOME)
        for event in events:
            sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(event))
        records = []
        while len(records) < len(events):
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            for m in got.get("Messages", []):
                records.append(
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "attributes": {},
                        "messageAttributes": {},
                        "eventSource": "aws:sqs",
                        "awsRegion": HOME,
                    }
                )
        from tests.runtime.events import Context

        return interruptions.handler({"Records": records}, Context())


def instance_of(region: str) -> tuple[str, str, str]:
    """An InService instance of the fleet's group in ``region``: id, type, zone."""
    group = boto3.client("autoscaling", region_name=region).describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUPS[region]]
    )["AutoScalingGroups"][0]
    found = group["Instances"][0]
    return found["InstanceId"], found["InstanceType"], found["AvailabilityZone"]


def desired(region: str) -> int:
    group = boto3.client("autoscaling", region_name=region).describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUPS[region]]
    )["AutoScalingGroups"][0]
    return int(group["DesiredCapacity"])


def ec2_event(name: str, instance_id: str, region: str, **detail: Any) -> dict[str, Any]:
    """A real EC2 event sample for ``instance_id`` in ``region`` (its own id kept)."""
    event = sample(name)
    event["region"] = region
    event["resources"] = [f"arn:aws:ec2:{region}:123456789012:instance/{instance_id}"]
    event["detail"] = {**event["detail"], "instance-id": instance_id, **detail}
    return event


def lifecycle_event(instance_id: str, region: str) -> dict[str, Any]:
    """The real terminate lifecycle action sample (NTH capture) for a fleet instance."""
    event = sample("autoscaling_ec2_instance_terminate_lifecycle_action_nth.json")
    event["region"] = region
    event["detail"] = {
        **event["detail"],
        "AutoScalingGroupName": GROUPS[region],
        "LifecycleHookName": "terminate",
        "EC2InstanceId": instance_id,
        "LifecycleActionToken": str(uuid.uuid4()),
    }
    return event


def fake_lifecycle_api(calls: list[tuple[str, dict[str, Any]]], fail: bool = False) -> None:
    """moto has no lifecycle-action calls: answer them as Auto Scaling does (empty 200), on
    the clients the function uses, and record them."""

    class Ok:
        status_code = 200

    for region in (HOME, OTHER):
        client = wiring.client("autoscaling", region)
        for op in ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat"):

            def answer(params: dict[str, Any], op: str = op, **_: Any) -> tuple[Ok, dict]:
                calls.append((op, dict(params["body"])))  # the query-protocol form
                return Ok(), {}

            client.meta.events.register(f"before-call.autoscaling.{op}", answer)


def deployed_pipeline(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """The fleet, the signals table, the queue and the function's settings (a fixture's body)."""
    ddb = boto3.client("dynamodb", region_name=HOME)
    if "signals" not in ddb.list_tables()["TableNames"]:
        create_table(ddb, "signals")
    monkeypatch.setenv(config.SIGNALS_TABLE, "signals")
    for region, name in GROUPS.items():
        make_group(region, name, 2)
    fleets_table()
    monkeypatch.setenv(config.FLEETS, json.dumps({"web": fleet_spec(GROUPS, desired_total=4)}))
    monkeypatch.setenv(config.FLEET_TABLE, FLEET_TABLE)
    monkeypatch.setenv(settings.FLEET_OPTIMIZER_ARN, aws.executor_arn)  # any function: async
    queue = boto3.client("sqs", region_name=HOME).create_queue(QueueName="interruptions")
    monkeypatch.setattr(interruptions, "_checked", [True])  # the self-check has its own tests
    wiring.reset()
    found = Pipeline(queue["QueueUrl"])
    fake_lifecycle_api(found.lifecycle_calls)
    return found
