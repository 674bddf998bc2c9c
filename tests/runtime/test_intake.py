"""``intake``: "Workload Submitted" events go through the API's validation and idempotency; rejects
land on the rejects queue with their errors and nothing is stored."""

from __future__ import annotations

import time

import boto3
import pytest
from tests.runtime.aws_calls import record_calls
from tests.runtime.aws_samples import put_event
from tests.runtime.conftest import HOME, AwsEnv
from tests.runtime.events import Context, submission

from carbon_aware.runtime import wiring
from carbon_aware.runtime.handlers import intake
from carbon_aware.runtime.states import State

SOURCE = "com.example.pipelines"


def submitted(detail: dict) -> dict:
    return put_event(SOURCE, intake.DETAIL_TYPE, detail, time.time(), HOME)


def stored_ids() -> list[str]:
    items = boto3.client("dynamodb", region_name=HOME).scan(TableName="workloads")["Items"]
    return [item["workload_id"]["S"] for item in items]


def test_an_accepted_event_is_a_pending_workload_planned_at_once(
    aws: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_calls(monkeypatch)
    answer = intake.handler(submitted(submission(aws.targets[HOME]["ecs"])), Context())
    assert answer["accepted"] and answer["status"] == "PENDING"
    assert wiring.repository().get(answer["workload_id"]).status == State.PENDING
    invokes = [p for op, _, p in calls if op == "Invoke"]
    assert [i["FunctionName"] for i in invokes] == [wiring.settings().scheduler_arn]
    assert answer["workload_id"] in invokes[0]["Payload"].decode()
    assert aws.rejected_submissions() == []


def test_a_redelivered_event_stores_one_workload(aws: AwsEnv) -> None:
    event = submitted(submission(aws.targets[HOME]["lambda"]))
    first = intake.handler(event, Context())
    again = intake.handler(event, Context())  # EventBridge delivers at least once
    assert again["workload_id"] == first["workload_id"]
    assert stored_ids() == [first["workload_id"]]


def test_the_detail_idempotency_key_wins_over_the_event_id(aws: AwsEnv) -> None:
    detail = {**submission(aws.targets[HOME]["lambda"]), "idempotency_key": "nightly-2026-12-02"}
    first = intake.handler(submitted(detail), Context())
    second = intake.handler(submitted(detail), Context())  # another event, the same key
    assert second["workload_id"] == first["workload_id"]
    other = intake.handler(submitted({**detail, "idempotency_key": "other"}), Context())
    assert other["workload_id"] != first["workload_id"]
    assert sorted(stored_ids()) == sorted([first["workload_id"], other["workload_id"]])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"target": {"type": "ecs", "arn": "arn:aws:ecs:x"}}, "target.cluster"),
        ({"submitted_at": "2026-01-01T00:00:00Z"}, "submitted_at"),
        ({"idempotency_key": 7}, "detail.idempotency_key"),
    ],
)
def test_an_invalid_event_is_kept_with_its_errors_and_nothing_is_stored(
    aws: AwsEnv, change: dict, field: str
) -> None:
    event = submitted({**submission(aws.targets[HOME]["lambda"]), **change})
    answer = intake.handler(event, Context())
    assert not answer["accepted"]
    [kept] = aws.rejected_submissions()
    errors = kept.pop("errors")
    assert kept == event  # the original event, whole
    assert [e["field"] for e in errors] == [field]
    assert stored_ids() == []


def test_a_detail_that_is_not_an_object_is_rejected(aws: AwsEnv) -> None:
    event = submitted({})
    event["detail"] = "not a submission"
    intake.handler(event, Context())
    [kept] = aws.rejected_submissions()
    assert kept["errors"][0]["field"] == "detail" and kept["detail"] == "not a submission"
