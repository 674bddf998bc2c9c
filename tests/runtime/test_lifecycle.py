"""Full lifecycle through the real handlers, for every target type, in moto."""

from __future__ import annotations

import json

import boto3
import pytest
from tests.runtime.conftest import HOME, OTHER, AwsEnv
from tests.runtime.events import Context, http, lambda_on_bus, submission, submit
from tests.runtime.events import completion as completion_event

from carbon_aware.runtime.handlers import api, completion, executor, scheduler
from carbon_aware.runtime.states import State

TARGETS = ("lambda", "ecs", "batch", "stepfunctions", "eventbridge")


def get(workload_id: str) -> dict:
    response = api.handler(http("GET", f"/workloads/{workload_id}"), Context())
    assert response["statusCode"] == 200
    return json.loads(response["body"])


def started(kind: str, region: str, handle: str) -> bool:
    """Ask the (moto) service whether the target really started."""
    if kind == "ecs":
        tasks = boto3.client("ecs", region_name=region).list_tasks(cluster="jobs")["taskArns"]
        return handle in tasks
    if kind == "batch":
        return bool(boto3.client("batch", region_name=region).describe_jobs(jobs=[handle])["jobs"])
    if kind == "stepfunctions":
        sfn = boto3.client("stepfunctions", region_name=region)
        return sfn.describe_execution(executionArn=handle)["status"] in ("RUNNING", "SUCCEEDED")
    return bool(handle)


@pytest.mark.parametrize("kind", TARGETS)
def test_submit_plan_dispatch_complete(aws: AwsEnv, kind: str) -> None:
    template = dict(aws.targets[HOME][kind])
    template["arn"] = template["arn"].replace(HOME, "{region}")
    for key in ("cluster", "job_queue"):
        if key in template:
            template[key] = template[key].replace(HOME, "{region}")
    status, body = submit(submission(template))
    assert status == 201, body
    workload_id = body["id"]
    assert body["status"] == "PENDING"

    assert scheduler.handler({"workload_id": workload_id}, Context())["status"] == "SCHEDULED"
    planned = get(workload_id)
    decision = planned["decision"]
    assert decision["region"] in (HOME, OTHER)
    assert decision["expected_g"] > 0 and decision["baseline_g"] >= decision["expected_g"] - 1e-6
    assert all(s["estimated"] for s in decision["signals"].values())
    schedules = boto3.client("scheduler", region_name=HOME).get_schedule(
        Name=decision["schedule"], GroupName="carbon-aware"
    )
    assert json.loads(schedules["Target"]["Input"]) == {
        "workload_id": workload_id,
        "version": planned["version"],
    }

    fired = executor.handler(json.loads(schedules["Target"]["Input"]), Context())
    assert fired["status"] == "RUNNING"
    running = get(workload_id)
    dispatch = running["dispatch"]
    assert (dispatch["type"], dispatch["region"]) == (kind, decision["region"])
    assert started(kind, dispatch["region"], dispatch["handle"])

    start = dispatch["started_at"]
    event = completion_event(kind, workload_id, start, start + 3600)
    assert completion.handler(event, Context())["status"] == "SUCCEEDED"
    done = get(workload_id)
    result = done["result"]
    assert abs(result["duration_seconds"] - 3600) < 1
    assert result["emissions_g"] > 0
    assert result["saved_g"] == pytest.approx(result["baseline_g"] - result["emissions_g"])
    # EventBridge delivers at least once: the same event again records (and counts) nothing.
    assert completion.handler(event, Context()) == {"recorded": False, "workload_id": workload_id}
    assert get(workload_id)["version"] == done["version"]
    trail = [(h.get("from"), h["to"]) for h in done["history"]]
    assert trail == [
        (None, "PENDING"),
        ("PENDING", "SCHEDULED"),
        ("SCHEDULED", "DISPATCHING"),
        ("DISPATCHING", "RUNNING"),
        ("RUNNING", "SUCCEEDED"),
    ]


def test_failed_run_is_recorded_as_failed(aws: AwsEnv) -> None:
    _, body = submit(submission(aws.targets[HOME]["ecs"], regions=[HOME]))
    scheduler.handler({"workload_id": body["id"]}, Context())
    executor.handler({"workload_id": body["id"], "version": get(body["id"])["version"]}, Context())
    start = get(body["id"])["dispatch"]["started_at"]
    completion.handler(completion_event("ecs", body["id"], start, start + 60, ok=False), Context())
    assert get(body["id"])["status"] == State.FAILED


@pytest.mark.parametrize("ok", [True, False])
def test_lambda_completion_through_an_event_bus(aws: AwsEnv, ok: bool) -> None:
    _, body = submit(submission(aws.targets[HOME]["lambda"], regions=[HOME]))
    scheduler.handler({"workload_id": body["id"]}, Context())
    executor.handler({"workload_id": body["id"], "version": get(body["id"])["version"]}, Context())
    end = round(get(body["id"])["dispatch"]["started_at"]) + 600  # ISO times: whole seconds
    recorded = completion.handler(lambda_on_bus(body["id"], end, ok), Context())
    assert recorded["status"] == (State.SUCCEEDED if ok else State.FAILED)
    result = get(body["id"])["result"]
    assert result["ended_at"] == end and result["emissions_g"] > 0


def test_idempotency_key_returns_the_same_workload(aws: AwsEnv) -> None:
    body = submission(aws.targets[HOME]["lambda"])
    first = submit(body, {"idempotency-key": "abc"})
    again = submit(body, {"idempotency-key": "abc"})
    assert first == again and first[0] == 201
    other = submit({**body, "duration_minutes": 30}, {"idempotency-key": "abc"})
    assert other[0] == 422
    listed = api.handler(http("GET", "/workloads", query={"status": "PENDING"}), Context())
    assert [w["id"] for w in json.loads(listed["body"])["workloads"]] == [first[1]["id"]]


def test_cancel_stops_a_scheduled_workload_and_deletes_its_schedule(aws: AwsEnv) -> None:
    _, body = submit(submission(aws.targets[HOME]["lambda"]))
    scheduler.handler({"workload_id": body["id"]}, Context())
    schedule = get(body["id"])["decision"]["schedule"]
    response = api.handler(http("DELETE", f"/workloads/{body['id']}"), Context())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "CANCELLED"
    names = boto3.client("scheduler", region_name=HOME).list_schedules(GroupName="carbon-aware")
    assert schedule not in [s["Name"] for s in names["Schedules"]]
    again = api.handler(http("DELETE", f"/workloads/{body['id']}"), Context())
    assert again["statusCode"] == 409
    # The stale schedule firing anyway does nothing.
    assert executor.handler({"workload_id": body["id"], "version": 2}, Context())["status"] == (
        "CANCELLED"
    )


def test_unknown_workload_is_404(aws: AwsEnv) -> None:
    response = api.handler(http("GET", "/workloads/nope"), Context())
    assert response["statusCode"] == 404
