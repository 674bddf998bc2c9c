"""The interruptions function on moto, fed the real AWS event samples through an SQS queue:
spot warnings mark capacity and re-place it, rebalance actions (a prepared replacement held
against the fleet optimizer until the instance stops), lifecycle actions always completed,
spot-stopped tasks re-placed away from their Region, duplicates and late events change nothing
twice, and one bad record never stops the batch."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context, sample, submission, submit
from tests.runtime.interruption_env import (
    GROUPS,
    Pipeline,
    deployed_pipeline,
    desired,
    ec2_event,
    instance_of,
    lifecycle_event,
)

from carbon_aware.cli.demo_fleet import FakePlacementScores
from carbon_aware.runtime import wiring
from carbon_aware.runtime.handlers import completion, executor, fleet_optimizer, scheduler
from carbon_aware.runtime.interruptions import responder, settings
from carbon_aware.runtime.interruptions.checkpoint import SsmCheckpoint
from carbon_aware.runtime.states import State
from carbon_aware.signals.prices.store import PriceStore
from carbon_aware.signals.prices.unavailable import CapacityMarks


@pytest.fixture
def pipeline(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    return deployed_pipeline(aws, monkeypatch)


SPOT_WARNINGS = [
    "ec2_spot_instance_interruption_warning_karpenter.json",
    "ec2_spot_instance_interruption_warning_nth.json",
    "ec2_spot_instance_interruption_warning_docs_template.json",
]


def marks() -> CapacityMarks:
    return CapacityMarks(PriceStore(boto3.client("dynamodb", region_name=HOME), "signals"))


def held(region: str) -> list[str]:
    """Instances a replacement is held for in ``region``."""
    return [p.instance_id for p in marks().prepared(region, wiring.clock().now())]


def optimizer_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The fleets the function asked the optimizer to run (the async invoke still happens)."""
    runs: list[list[str]] = []
    real = responder.invoke_optimizer

    def recording(client: object, arn: str):  # type: ignore[no-untyped-def]
        run = real(client, arn)

        def record(fleets: list[str]) -> None:
            runs.append(fleets)
            run(fleets)

        return record

    monkeypatch.setattr(responder, "invoke_optimizer", recording)
    return runs


@pytest.mark.parametrize("name", SPOT_WARNINGS)
def test_spot_warning_marks_the_type_and_zone_and_re_places_the_fleet(
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    runs = optimizer_runs(monkeypatch)
    instance, instance_type, zone = instance_of(OTHER)
    answer = pipeline.deliver(ec2_event(name, instance, OTHER))
    assert answer == {"batchItemFailures": []}
    now = wiring.clock().now()
    (mark,) = marks().marked(OTHER, now)
    assert (mark.instance_type, mark.zone) == (instance_type, zone)
    assert mark.until > now + 3000  # the default hour
    assert marks().marked(HOME, now) == []
    assert runs == [["web"]]
    metric = '"Kind":"SpotInterruptionWarning","Region":"eu-north-1","InterruptionEvents":[1.0]'
    assert metric in capsys.readouterr().out


def test_duplicate_and_late_events_change_nothing_twice(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = optimizer_runs(monkeypatch)
    instance, _, _ = instance_of(HOME)
    warning = ec2_event(SPOT_WARNINGS[0], instance, HOME)
    pipeline.deliver(warning)
    before = marks().marked(HOME, wiring.clock().now())
    # The same event again, in one batch with itself, then a state change that arrives first
    # for another instance and a repeat of the warning after it.
    assert pipeline.deliver(warning, warning) == {"batchItemFailures": []}
    terminated = ec2_event(
        "ec2_instance_state_change_notification_nth.json", instance, HOME, state="terminated"
    )
    pipeline.deliver(terminated, warning)
    assert runs == [["web"]]
    assert marks().marked(HOME, wiring.clock().now()) == before


def test_one_bad_record_never_stops_the_batch(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = optimizer_runs(monkeypatch)
    instance, _, _ = instance_of(HOME)
    sqs = boto3.client("sqs", region_name=HOME)
    sqs.send_message(QueueUrl=pipeline.queue_url, MessageBody="{not json")
    answer = pipeline.deliver(ec2_event(SPOT_WARNINGS[1], instance, HOME))
    assert len(answer["batchItemFailures"]) == 1  # the bad one, retried then dead-lettered
    assert runs == [["web"]]


def test_a_failed_action_is_retried_not_lost(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance, _, _ = instance_of(HOME)
    warning = ec2_event(SPOT_WARNINGS[0], instance, HOME)
    real = CapacityMarks.mark

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(CapacityMarks, "mark", broken)
    answer = pipeline.deliver(warning)
    assert len(answer["batchItemFailures"]) == 1
    monkeypatch.setattr(CapacityMarks, "mark", real)
    assert pipeline.deliver(warning) == {"batchItemFailures": []}  # the claim was released
    assert len(marks().marked(HOME, wiring.clock().now())) == 1


@pytest.mark.parametrize(
    "name",
    [
        "ec2_instance_rebalance_recommendation_nth.json",
        "ec2_instance_rebalance_recommendation_docs_template.json",
    ],
)
@pytest.mark.parametrize("action", ["ignore", "prepare", "replace"])
def test_rebalance_recommendation_follows_the_configured_action(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch, name: str, action: str
) -> None:
    monkeypatch.setenv(settings.REBALANCE_ACTION, action)
    instance, _, _ = instance_of(HOME)
    assert pipeline.deliver(ec2_event(name, instance, HOME)) == {"batchItemFailures": []}
    group = boto3.client("autoscaling", region_name=HOME).describe_auto_scaling_groups(
        AutoScalingGroupNames=[GROUPS[HOME]]
    )["AutoScalingGroups"][0]
    ids = {i["InstanceId"] for i in group["Instances"]}
    if action == "ignore":
        assert (desired(HOME), instance in ids) == (2, True)
    elif action == "prepare":  # a replacement launches, the instance keeps running
        assert (desired(HOME), instance in ids) == (3, True)
    else:  # terminated in its group, replaced
        assert (desired(HOME), instance in ids) == (2, False)
    assert held(HOME) == ([instance] if action == "prepare" else [])
    assert marks().marked(HOME, wiring.clock().now()) == []  # a recommendation is no warning


REBALANCE = "ec2_instance_rebalance_recommendation_nth.json"


def run_optimizer() -> dict:
    """One scheduled run of the fleet optimizer function; fleet "web"'s decision."""
    answer = fleet_optimizer.handler({}, Context())
    assert answer["ok"], answer
    return answer["fleets"]["web"]


@pytest.mark.parametrize("release", ["stopped", "lifecycle"])
def test_prepared_replacement_survives_the_optimizer_until_the_instance_stops(
    pipeline: Pipeline, release: str
) -> None:
    # moto has no GetSpotPlacementScores: answered in the API's shape (as in the demo).
    FakePlacementScores(time.time(), wiring.clock()).attach(wiring.client("ec2", HOME))
    plan = run_optimizer()["allocation"]
    region = max(plan, key=plan.get)  # where the fleet keeps capacity
    instance, _, _ = instance_of(region)
    assert pipeline.deliver(ec2_event(REBALANCE, instance, region)) == {"batchItemFailures": []}
    assert (desired(region), held(region)) == (plan[region] + 1, [instance])
    kept = run_optimizer()
    assert kept["applied"][region] == plan[region] + 1 and kept["prepared"][region] == 1
    assert desired(region) == plan[region] + 1
    if release == "stopped":
        stop = "ec2_instance_state_change_notification_nth.json"
        event = ec2_event(stop, instance, region, state="stopped")
    else:
        event = lifecycle_event(instance, region)
    assert pipeline.deliver(event) == {"batchItemFailures": []}
    assert held(region) == []
    after = run_optimizer()
    assert after["applied"][region] == plan[region] and after["prepared"][region] == 0
    assert desired(region) == plan[region]


def test_prepare_changes_nothing_twice_nor_for_an_instance_gone(pipeline: Pipeline) -> None:
    instance, _, _ = instance_of(HOME)
    pipeline.deliver(ec2_event(REBALANCE, instance, HOME))
    again = {**ec2_event(REBALANCE, instance, HOME), "id": "another recommendation"}
    assert pipeline.deliver(again) == {"batchItemFailures": []}
    assert (desired(HOME), held(HOME)) == (3, [instance])
    gone, _, _ = instance_of(OTHER)
    boto3.client("ec2", region_name=OTHER).terminate_instances(InstanceIds=[gone])
    late = {**ec2_event(REBALANCE, gone, OTHER), "id": "late recommendation"}
    assert pipeline.deliver(late) == {"batchItemFailures": []}
    assert (desired(OTHER), held(OTHER)) == (2, [])


def test_prepare_never_raises_a_group_above_its_max_size(pipeline: Pipeline) -> None:
    boto3.client("autoscaling", region_name=HOME).update_auto_scaling_group(
        AutoScalingGroupName=GROUPS[HOME], MaxSize=2
    )
    instance, _, _ = instance_of(HOME)
    assert pipeline.deliver(ec2_event(REBALANCE, instance, HOME)) == {"batchItemFailures": []}
    assert (desired(HOME), held(HOME)) == (2, [instance])  # held: the optimizer adds it if room


def test_rebalance_action_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.REBALANCE_ACTION, "drain")
    with pytest.raises(ValueError, match=settings.REBALANCE_ACTION):
        settings.InterruptionSettings.from_env()


def test_lifecycle_action_completes_after_the_checkpoint_with_heartbeats(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.CHECKPOINT_DOCUMENT, "checkpoint-now")
    boto3.client("ssm", region_name=HOME).create_document(
        Name="checkpoint-now",
        DocumentType="Command",
        Content=json.dumps(
            {
                "schemaVersion": "2.2",
                "description": "checkpoint",
                "mainSteps": [
                    {
                        "action": "aws:runShellScript",
                        "name": "c",
                        "inputs": {"runCommand": ["true"]},
                    }
                ],
            }
        ),
    )
    instance, _, _ = instance_of(HOME)
    assert pipeline.deliver(lifecycle_event(instance, HOME)) == {"batchItemFailures": []}
    ops = [op for op, _ in pipeline.lifecycle_calls]
    assert ops == ["RecordLifecycleActionHeartbeat", "CompleteLifecycleAction"]
    assert pipeline.lifecycle_calls[-1][1]["LifecycleActionResult"] == "CONTINUE"
    assert pipeline.lifecycle_calls[-1][1]["InstanceId"] == instance
    commands = boto3.client("ssm", region_name=HOME).list_commands()["Commands"]
    assert [c["DocumentName"] for c in commands] == ["checkpoint-now"]


def test_lifecycle_action_is_abandoned_when_draining_fails(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.CHECKPOINT_DOCUMENT, "checkpoint-now")

    def broken(*args: object) -> str:
        raise RuntimeError("injected: SSM unreachable")

    monkeypatch.setattr(SsmCheckpoint, "send", broken)
    instance, _, _ = instance_of(HOME)
    answer = pipeline.deliver(lifecycle_event(instance, HOME))
    assert len(answer["batchItemFailures"]) == 1  # the error is reported, and yet:
    assert [(op, p["LifecycleActionResult"]) for op, p in pipeline.lifecycle_calls] == [
        ("CompleteLifecycleAction", "ABANDON")
    ]


def test_lifecycle_action_of_another_group_is_left_alone(pipeline: Pipeline) -> None:
    event = sample("autoscaling_ec2_instance_terminate_lifecycle_action.json")
    assert pipeline.deliver(event) == {"batchItemFailures": []}
    assert pipeline.lifecycle_calls == []


def running_on_fargate_spot(aws: AwsEnv) -> dict:
    _, body = submit(submission(aws.targets[HOME]["ecs"], regions=[HOME, OTHER]))
    scheduler.handler({"workload_id": body["id"]}, Context())
    record = wiring.repository().get(body["id"])
    executor.handler({"workload_id": body["id"], "version": record.version}, Context())
    record = wiring.repository().get(body["id"])
    assert record.status == State.RUNNING
    return record


def spot_stop(record, last_status: str) -> dict:  # type: ignore[no-untyped-def]
    """The real Fargate task sample for the run, stopped by a spot interruption (the stop fields
    as the ECS documentation shows them: no full real sample exists)."""
    event = sample("ecs_task_state_change_running_fargate.json")
    region = record.dispatch["region"]
    event["region"] = region
    event["detail"].update(
        startedBy=f"carbon-aware-{record.workload_id}",
        taskArn=record.dispatch["handle"],
        desiredStatus="STOPPED",
        lastStatus=last_status,
        stopCode="SpotInterruption",
        stoppedReason="Your Spot Task was interrupted.",
    )
    event["id"] = f"{event['id'][:-4]}{last_status[:4]}"
    return event


def test_spot_stopped_task_is_re_placed_away_from_its_region(
    pipeline: Pipeline, aws: AwsEnv
) -> None:
    record = running_on_fargate_spot(aws)
    interrupted_in = record.dispatch["region"]
    # The completion function sees the same STOPPED event and leaves the workload to this one.
    completion.handler(spot_stop(record, "STOPPED"), Context())
    assert wiring.repository().get(record.workload_id).version == record.version
    # The warning (task still RUNNING) and, out of order, the STOPPED event after it.
    answer = pipeline.deliver(spot_stop(record, "RUNNING"))
    assert answer == {"batchItemFailures": []}
    after = wiring.repository().get(record.workload_id)
    assert after.status == State.SCHEDULED
    assert after.decision["region"] != interrupted_in
    assert after.history[-1]["reason"].startswith("re-placed after a spot interruption")
    pipeline.deliver(spot_stop(record, "STOPPED"), spot_stop(record, "RUNNING"))
    assert wiring.repository().get(record.workload_id).version == after.version


def test_a_workload_interrupted_too_often_fails(
    pipeline: Pipeline, aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(settings.MAX_REPLACEMENTS, "0")
    record = running_on_fargate_spot(aws)
    pipeline.deliver(spot_stop(record, "RUNNING"))
    after = wiring.repository().get(record.workload_id)
    assert after.status == State.FAILED and "interrupted again" in after.history[-1]["reason"]


@pytest.mark.parametrize(
    "name",
    [
        "aws_health_event_scheduled_change_ec2_nth.json",
        "ec2_instance_state_change_notification_docs.json",
        "ecs_task_state_change_container_stopped_exitcode.json",
        "aws_health_event_issue_ec2_instance_store.json",
    ],
)
def test_events_that_need_no_action_are_recorded_and_change_nothing(
    pipeline: Pipeline, name: str
) -> None:
    assert pipeline.deliver(sample(name)) == {"batchItemFailures": []}
    assert marks().marked("us-east-1", wiring.clock().now()) == []
    assert desired(HOME) == 2
