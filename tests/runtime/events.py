"""Event builders for the runtime tests: HTTP API requests, Lambda contexts, completion events,
and submissions through the api handler."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

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


def completion(kind: str, workload_id: str, start: float, end: float, ok: bool = True) -> dict:
    """The state-change event each target type emits when its run ends."""
    if kind == "lambda":
        return {
            "version": "1.0",
            "timestamp": iso(end),
            "requestContext": {"condition": "Success" if ok else "RetriesExhausted"},
            "requestPayload": {"workload_id": workload_id},
        }
    if kind == "ecs":
        detail = {
            "lastStatus": "STOPPED",
            "startedBy": f"carbon-aware-{workload_id}",
            "containers": [{"exitCode": 0 if ok else 1}],
            "startedAt": iso(start),
            "stoppedAt": iso(end),
        }
        return {"source": "aws.ecs", "detail-type": "ECS Task State Change", "detail": detail}
    if kind == "batch":
        detail = {
            "status": "SUCCEEDED" if ok else "FAILED",
            "jobName": f"carbon-aware-{workload_id}",
            "tags": {WORKLOAD_TAG: workload_id},
            "startedAt": int(start * 1000),
            "stoppedAt": int(end * 1000),
        }
        return {"source": "aws.batch", "detail-type": "Batch Job State Change", "detail": detail}
    if kind == "stepfunctions":
        detail = {
            "status": "SUCCEEDED" if ok else "FAILED",
            "input": json.dumps({"workload_id": workload_id}),
            "startDate": int(start * 1000),
            "stopDate": int(end * 1000),
        }
        return {
            "source": "aws.states",
            "detail-type": "Step Functions Execution Status Change",
            "detail": detail,
        }
    detail = {
        "workload_id": workload_id,
        "status": "SUCCEEDED" if ok else "FAILED",
        "started_at": iso(start),
        "ended_at": iso(end),
    }
    return {"source": "carbon-aware", "detail-type": "Workload Completed", "detail": detail}


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
