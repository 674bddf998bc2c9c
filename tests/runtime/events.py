"""Event builders for the runtime tests: HTTP API requests, Lambda contexts, completion events,
and submissions through the api handler."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.runtime.conftest import HOME, OTHER

from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime.handlers import api
from carbon_aware.runtime.targets import WORKLOAD_TAG


@dataclass
class Context:
    """The parts of a LambdaContext that Powertools reads."""

    function_name: str = "test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:test"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def http(
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event."""
    text = raw_body if raw_body is not None else (None if body is None else json.dumps(body))
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/json", **(headers or {})},
        "queryStringParameters": query,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": "r",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2030:00:00:00 +0000",
            "timeEpoch": 0,
        },
        "body": text,
        "isBase64Encoded": False,
    }


AWS_EVENTS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "aws_events"
PREFIX = "carbon-aware"


def sample(name: str) -> dict[str, Any]:
    """A real AWS event from ../shared/data/aws_events; the test skips when the data is absent."""
    path = AWS_EVENTS / name
    if not path.exists():
        pytest.skip(f"real AWS event samples not found at {AWS_EVENTS} (../shared/data is absent)")
    return json.loads(path.read_text())


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def ecs_stopped(
    workload_id: str, start: float, end: float, exit_code: int = 0, stop_code: str | None = None
) -> dict[str, Any]:
    """The real Fargate task event moved to STOPPED. No real STOPPED sample exists: the stop
    fields (stoppedAt, stopCode, stoppedReason, exitCode) follow the ECS documentation."""
    event = sample("ecs_task_state_change_running_fargate.json")
    task = event["detail"]
    task_arn = f"arn:aws:ecs:{HOME}:123456789012:task/jobs/{workload_id}"
    event.update(time=iso(end), region=HOME, resources=[task_arn])
    task.update(
        startedBy=f"{PREFIX}-{workload_id}",
        taskArn=task_arn,
        lastStatus="STOPPED",
        desiredStatus="STOPPED",
        createdAt=iso(start),
        startedAt=iso(start),
        stoppingAt=iso(end),
        stoppedAt=iso(end),
        stopCode=stop_code or "EssentialContainerExited",
        stoppedReason="Essential container in task exited",
    )
    for container in task["containers"]:
        container.update(lastStatus="STOPPED", exitCode=exit_code, taskArn=task_arn)
    return event


def batch_finished(workload_id: str, start: float, end: float, ok: bool = True) -> dict[str, Any]:
    """The real FAILED Batch job event, for our job. No real SUCCEEDED sample exists: success
    is the same event with status SUCCEEDED and exit code 0."""
    event = sample("batch_job_state_change_failed.json")
    job = event["detail"]
    job.update(
        jobName=f"{PREFIX}-{workload_id}",
        jobId=workload_id,
        tags={WORKLOAD_TAG: workload_id},
        createdAt=_ms(start) - 1000,
        startedAt=_ms(start),
        stoppedAt=_ms(end),
    )
    attempt = job["attempts"][-1]
    attempt.update(startedAt=_ms(start), stoppedAt=_ms(end))
    if ok:
        job.update(status="SUCCEEDED", statusReason="Essential container in task exited")
        job["container"]["exitCode"] = attempt["container"]["exitCode"] = 0
    event.update(time=iso(end), region=HOME)
    return event


SFN_SAMPLES = {
    "RUNNING": "stepfunctions_execution_status_change_running.json",
    "SUCCEEDED": "stepfunctions_execution_status_change_succeeded.json",
    "FAILED": "stepfunctions_execution_status_change_failed.json",
    "TIMED_OUT": "stepfunctions_execution_status_change_timed_out.json",
    "ABORTED": "stepfunctions_execution_status_change_aborted.json",
}


def sfn_status(workload_id: str, status: str, start: float, end: float) -> dict[str, Any]:
    """The real execution status change for ``status``, for our execution and input."""
    event = sample(SFN_SAMPLES[status])
    execution = event["detail"]
    name = f"{PREFIX}-{workload_id}"
    arn = f"arn:aws:states:{HOME}:123456789012:execution:job:{name}"
    execution.update(
        name=name,
        executionArn=arn,
        stateMachineArn=f"arn:aws:states:{HOME}:123456789012:stateMachine:job",
        input=json.dumps({"workload_id": workload_id}),
        startDate=_ms(start),
        stopDate=None if status == "RUNNING" else _ms(end),
    )
    event.update(time=iso(end), region=HOME, resources=[arn])
    return event


LAMBDA_SAMPLES = {
    "Success": "lambda_destination_record_success.json",
    "Handled": "lambda_destination_record_failure_handled.json",
    "RetriesExhausted": "lambda_destination_record_failure_retries_exhausted_docs.json",
}


def lambda_record(workload_id: str, outcome: str, end: float) -> dict[str, Any]:
    """A real destination record (``Success``, ``Handled`` or ``RetriesExhausted`` failure) for
    the payload our executor sends."""
    record = sample(LAMBDA_SAMPLES[outcome])
    record["timestamp"] = iso(end)
    record["requestPayload"] = {"workload_id": workload_id, "dispatch_token": "wl-v2"}
    record["requestContext"]["functionArn"] = (
        f"arn:aws:lambda:{HOME}:123456789012:function:job:$LATEST"
    )
    return record


def lambda_on_bus(workload_id: str, end: float, ok: bool = True) -> dict[str, Any]:
    """The real EventBridge-wrapped success record for our payload. No real Failure sample
    exists: the failure is the same envelope with the Failure detail-type and a failure record."""
    event = sample("lambda_destination_eventbridge_success.json")
    event.update(account="123456789012", region=HOME, time=iso(end))
    if ok:
        record = event["detail"]
        record["requestPayload"] = {"workload_id": workload_id, "dispatch_token": "wl-v2"}
        record["timestamp"] = iso(end)
    else:
        event["detail-type"] = "Lambda Function Invocation Result - Failure"
        event["detail"] = lambda_record(workload_id, "RetriesExhausted", end)
    return event


def runner_completed(workload_id: str, start: float, end: float, ok: bool = True) -> dict:
    """A custom runner's ``Workload Completed`` event (our own format: no AWS sample applies)."""
    detail = {
        "workload_id": workload_id,
        "status": "SUCCEEDED" if ok else "FAILED",
        "started_at": iso(start),
        "ended_at": iso(end),
    }
    return {"source": "carbon-aware", "detail-type": "Workload Completed", "detail": detail}


def completion(kind: str, workload_id: str, start: float, end: float, ok: bool = True) -> dict:
    """The event each target type emits when its run ends (real samples where AWS has one)."""
    if kind == "lambda":
        return lambda_record(workload_id, "Success" if ok else "RetriesExhausted", end)
    if kind == "ecs":
        return ecs_stopped(workload_id, start, end, exit_code=0 if ok else 1)
    if kind == "batch":
        return batch_finished(workload_id, start, end, ok)
    if kind == "stepfunctions":
        return sfn_status(workload_id, "SUCCEEDED" if ok else "FAILED", start, end)
    return runner_completed(workload_id, start, end, ok)


def submission(target: dict, **extra: object) -> dict:
    """A workload submission (20 h of slack, home and one other Region); ``extra`` overrides."""
    now = time.time()
    return {
        "duration_minutes": 60,
        "deadline": iso(now + 20 * 3600),
        "home_region": HOME,
        "regions": [HOME, OTHER],
        "vcpus": 8,
        "memory_gb": 32,
        "target": target,
        **extra,
    }


def submit(body: dict, headers: dict | None = None) -> tuple[int, dict]:
    """POST a submission to the api handler: its status code and JSON body."""
    response = api.handler(http("POST", "/workloads", body, headers), Context())
    return response["statusCode"], json.loads(response["body"])


def stored_spec(target: dict, workload_id: str, **extra: object) -> dict:
    """A spec as the API stores it (with ``id`` and ``submitted_at``), for writing directly."""
    now = time.time()
    return {
        "id": workload_id,
        "submitted_at": iso(now),
        "duration_minutes": 60,
        "deadline": iso(now + 12 * 3600),
        "home_region": HOME,
        "power_watts": 100,
        "target": target,
        **extra,
    }
