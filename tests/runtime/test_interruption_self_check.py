"""The pipeline's self-check on moto: a wired pipeline passes; a rule without its target, a
misnamed queue or a queue policy that admits another rule is found, the self-check event fails
loudly and ``InterruptionPipelineBroken`` is emitted."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context

from carbon_aware.runtime import wiring
from carbon_aware.runtime.handlers import interruptions
from carbon_aware.runtime.interruptions import settings

RULE = "ca-interruptions"


def wire(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Rules in both Regions -> the bus -> its rule -> the queue, as interruptions.tf makes them."""
    events = boto3.client("events", region_name=HOME)
    bus = events.create_event_bus(Name="ca-interruptions")["EventBusArn"]
    pattern = json.dumps({"source": ["aws.ec2"]})
    for region in (HOME, OTHER):
        client = boto3.client("events", region_name=region)
        client.put_rule(Name=RULE, EventPattern=pattern)
        client.put_targets(Rule=RULE, Targets=[{"Id": "bus", "Arn": bus}])
    bus_rule = events.put_rule(
        Name="ca-queue", EventBusName="ca-interruptions", EventPattern=pattern
    )
    sqs = boto3.client("sqs", region_name=HOME)
    url = sqs.create_queue(QueueName="ca-interruptions")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_targets(
        Rule="ca-queue", EventBusName="ca-interruptions", Targets=[{"Id": "q", "Arn": arn}]
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": bus_rule["RuleArn"]}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    found = {
        "queue_url": url,
        "queue_arn": arn,
        "bus": "ca-interruptions",
        "bus_arn": bus,
        "bus_rule": "ca-queue",
        "bus_rule_arn": bus_rule["RuleArn"],
        "regional_rules": {HOME: RULE, OTHER: RULE},
    }
    monkeypatch.setenv(settings.WIRING, json.dumps(found))
    wiring.reset()
    return found


def self_check() -> dict:
    return interruptions.handler({"action": "self_check"}, Context())


def lose_a_target(w: dict) -> None:
    boto3.client("events", region_name=OTHER).remove_targets(Rule=RULE, Ids=["bus"])


def misname_the_queue(w: dict) -> None:
    w["queue_url"] = w["queue_url"].replace("ca-interruptions", "ca-interruption")


def admit_another_rule(w: dict) -> None:
    sqs = boto3.client("sqs", region_name=HOME)
    raw = sqs.get_queue_attributes(QueueUrl=w["queue_url"], AttributeNames=["Policy"])
    policy = raw["Attributes"]["Policy"].replace("ca-queue", "someone-else")
    sqs.set_queue_attributes(QueueUrl=w["queue_url"], Attributes={"Policy": policy})


def retarget_the_bus_rule(w: dict) -> None:
    events = boto3.client("events", region_name=HOME)
    events.remove_targets(Rule="ca-queue", EventBusName="ca-interruptions", Ids=["q"])


def test_a_wired_pipeline_passes(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    wire(monkeypatch)
    assert self_check() == {"ok": True}


@pytest.mark.parametrize(
    "breakage", [lose_a_target, misname_the_queue, admit_another_rule, retarget_the_bus_rule]
)
def test_broken_wiring_fails_loudly(
    aws: AwsEnv,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    breakage: Callable[[dict], None],
) -> None:
    w = wire(monkeypatch)
    breakage(w)
    monkeypatch.setenv(settings.WIRING, json.dumps(w))
    with pytest.raises(interruptions.PipelineBroken, match="ca-"):  # names what is broken
        self_check()
    assert '"InterruptionPipelineBroken":[1.0]' in capsys.readouterr().out


def test_the_first_batch_checks_the_wiring(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    w = wire(monkeypatch)
    lose_a_target(w)
    monkeypatch.setattr(interruptions, "_checked", [])
    assert interruptions.handler({"Records": []}, Context()) == {"batchItemFailures": []}
    assert '"InterruptionPipelineBroken":[1.0]' in capsys.readouterr().out
    interruptions.handler({"Records": []}, Context())  # once per container
    assert "InterruptionPipelineBroken" not in capsys.readouterr().out
