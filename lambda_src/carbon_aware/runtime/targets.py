"""Execution targets: what a workload starts, in the region it was placed in.

A workload's ``target`` is ``{"type": ..., "arn": ..., ...}``; any string in it may contain
``{region}``, filled with the chosen region. ``targets`` (``{region: target}``) overrides it per
region. Types and the API each calls:

| type | API | handle | idempotent |
|---|---|---|---|
| ``lambda`` | Lambda Invoke (Event) | request id | no |
| ``ecs`` | ECS RunTask (Fargate or Fargate Spot) | task ARN | yes (clientToken) |
| ``batch`` | Batch SubmitJob | job id | no |
| ``stepfunctions`` | Step Functions StartExecution | execution ARN | yes (execution name) |
| ``eventbridge`` | EventBridge PutEvents to a bus, for custom runners | event id | no |
| ``task_token`` | Step Functions SendTaskSuccess with the decision | execution ARN | no |

A ``task_token`` target lets a waiting state machine step run in the green window: ``arn`` is the
state machine (allow-listed), ``task_token`` its ``$$.Task.Token`` and ``execution`` its
``$$.Execution.Id``. One workload per execution, whose id is derived from the execution ARN
(:func:`task_token_workload_id`), so the execution's own status change finds it without a lookup.

Every target ARN must match the configured allow-list (``fnmatch`` patterns; the executor's IAM
policy grants the same resources). What is started is named ``<prefix>-<workload id>`` (ECS
``startedBy``, Batch job name) or ``<prefix>-<digest>`` (Step Functions execution), so the regional
EventBridge rules forward exactly our runs' state changes to the completion handler.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TARGET_TYPES = ("lambda", "ecs", "batch", "stepfunctions", "eventbridge", "task_token")
WORKLOAD_TAG = "carbon-aware:workload-id"
EVENT_SOURCE = "carbon-aware"
TARGET_FIELDS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "lambda": {"arn": str, "payload": dict},
    "ecs": {
        "arn": str,
        "cluster": str,
        "spot": bool,
        "subnets": list,
        "security_groups": list,
        "assign_public_ip": bool,
        "overrides": dict,
    },
    "batch": {"arn": str, "job_queue": str, "parameters": dict, "overrides": dict},
    "stepfunctions": {"arn": str, "input": dict},
    "eventbridge": {"arn": str, "detail_type": str, "detail": dict},
    "task_token": {"arn": str, "task_token": str, "execution": str},
}
TASK_TOKEN_PREFIX = "sfn-"


class TargetError(ValueError):
    """The target is malformed or not allowed: never retried."""


@dataclass(frozen=True)
class Started:
    """A started target: its type, region and the handle its completion event will carry."""

    type: str
    region: str
    handle: str

    def to_dict(self) -> dict[str, str]:
        """JSON shape stored on the workload."""
        return {"type": self.type, "region": self.region, "handle": self.handle}


def validate_target(target: object, field: str = "target") -> None:
    """Raise TargetError naming the field when ``target`` is not a well-formed target."""
    if not isinstance(target, Mapping):
        raise TargetError(f"{field}: must be an object")
    kind = target.get("type")
    if kind not in TARGET_TYPES:
        raise TargetError(f"{field}.type: must be one of {', '.join(TARGET_TYPES)}")
    allowed = TARGET_FIELDS[kind]
    for name, value in target.items():
        if name == "type":
            continue
        if name not in allowed:
            raise TargetError(f"{field}.{name}: unknown field for a {kind} target")
        if not isinstance(value, allowed[name]):
            raise TargetError(f"{field}.{name}: wrong type")
    if not isinstance(target.get("arn"), str) or not target["arn"]:
        raise TargetError(f"{field}.arn: is required")
    if kind == "ecs" and not target.get("cluster"):
        raise TargetError(f"{field}.cluster: is required for an ecs target")
    if kind == "batch" and not target.get("job_queue"):
        raise TargetError(f"{field}.job_queue: is required for a batch target")
    if kind == "task_token":
        _validate_task_token(target, field)


def _validate_task_token(target: Mapping[str, Any], field: str) -> None:
    if not target.get("task_token"):
        raise TargetError(f"{field}.task_token: is required for a task_token target")
    machine = target["arn"].split(":")
    execution = str(target.get("execution", "")).split(":")
    if len(machine) != 7 or machine[2] != "states" or machine[5] != "stateMachine":
        raise TargetError(f"{field}.arn: must be a Step Functions state machine ARN")
    ours = execution[:5] == machine[:5] and execution[5:7] == ["execution", machine[6]]
    if len(execution) != 8 or not ours:
        raise TargetError(f"{field}.execution: must be an execution ARN of {target['arn']}")


def task_token_workload_id(execution_arn: str) -> str:
    """The id of the workload a task-token execution waits for: derived from its ARN."""
    return f"{TASK_TOKEN_PREFIX}{hashlib.sha256(execution_arn.encode()).hexdigest()[:40]}"


def resolve_target(spec: Mapping[str, Any], region: str) -> dict[str, Any]:
    """The target for ``region``: a per-region entry, else the template with {region} filled."""
    per_region = spec.get("targets") or {}
    target = per_region.get(region) or spec.get("target")
    if target is None:
        raise TargetError(f"targets.{region}: no target for the chosen region")
    return _fill(target, region)


def _fill(value: Any, region: str) -> Any:
    if isinstance(value, str):
        return value.replace("{region}", region)
    if isinstance(value, Mapping):
        return {k: _fill(v, region) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, region) for v in value]
    return value


def target_resources(target: Mapping[str, Any]) -> dict[str, str]:
    """The ARNs a well-formed target starts or uses, keyed by field (``arn``, ``cluster``…)."""
    fields = {"ecs": ("arn", "cluster"), "batch": ("arn", "job_queue")}.get(
        target["type"], ("arn",)
    )
    return {name: target[name] for name in fields}


def allowed(arns: Sequence[str], allowlist: Sequence[str]) -> bool:
    """Whether every ARN matches a pattern of the allow-list."""
    return all(any(fnmatch.fnmatchcase(a, p) for p in allowlist) for a in arns)


ClientFactory = Callable[[str, str], Any]


@dataclass(frozen=True)
class RunNames:
    """How a start is named and made idempotent."""

    prefix: str
    workload_id: str
    token: str

    @property
    def run(self) -> str:
        """``<prefix>-<workload id>``: ECS startedBy and the Batch job name."""
        return f"{self.prefix}-{self.workload_id}"

    @property
    def execution(self) -> str:
        """A Step Functions execution name: stable per decision, so a retry cannot start twice."""
        return f"{self.prefix}-{hashlib.sha256(self.token.encode()).hexdigest()[:32]}"[:80]


def workload_of_run(name: str, prefix: str) -> str | None:
    """The workload id in a run name, or None when the name is not ours."""
    head = f"{prefix}-"
    return name[len(head) :] if name.startswith(head) and len(name) > len(head) else None


def start_target(
    target: Mapping[str, Any],
    *,
    region: str,
    names: RunNames,
    allowlist: Sequence[str],
    client: ClientFactory,
    decision: Mapping[str, Any] | None = None,
) -> Started:
    """Start ``target`` in ``region``; ``token`` makes retries idempotent where the API allows.

    ``client(service, region)`` returns a boto3 client; ``decision`` is what a task-token target
    reports to its waiting execution. Raises TargetError (permanent) or the boto3 error
    (classified by the caller).
    """
    validate_target(target)
    kind = target["type"]
    resources = list(target_resources(target).values())
    if not allowed(resources, allowlist):
        raise TargetError(f"target {', '.join(resources)} is not in the allow-list")
    if kind == "task_token":
        return Started(kind, region, _task_token(target, client, names, decision or {}))
    starter = _STARTERS[kind]
    return Started(kind, region, starter(target, client, region, names))


def _task_token(
    t: Mapping[str, Any], client: ClientFactory, names: RunNames, decision: Mapping[str, Any]
) -> str:
    """SendTaskSuccess in the state machine's own Region: the waiting step goes on now.

    An expired token or an ended execution (TaskTimedOut, InvalidToken, TaskDoesNotExist) is a
    client error the dispatcher treats as permanent.
    """
    output = {
        "workload_id": names.workload_id,
        "region": decision.get("region"),
        "start": decision.get("start"),
        "expected_g": decision.get("expected_g"),
        "baseline_g": decision.get("baseline_g"),
    }
    client("stepfunctions", t["arn"].split(":")[3]).send_task_success(
        taskToken=t["task_token"], output=json.dumps(output)
    )
    return t["execution"]


def _lambda(t: Mapping[str, Any], client: ClientFactory, region: str, names: RunNames) -> str:
    payload = {
        **t.get("payload", {}),
        "workload_id": names.workload_id,
        "dispatch_token": names.token,
    }
    response = client("lambda", region).invoke(
        FunctionName=t["arn"], InvocationType="Event", Payload=json.dumps(payload).encode()
    )
    return response.get("ResponseMetadata", {}).get("RequestId", names.token)


def _ecs(t: Mapping[str, Any], client: ClientFactory, region: str, names: RunNames) -> str:
    kwargs: dict[str, Any] = {
        "cluster": t["cluster"],
        "taskDefinition": t["arn"],
        "startedBy": names.run,
        "clientToken": names.token[:64],
        "tags": [{"key": WORKLOAD_TAG, "value": names.workload_id}],
        "propagateTags": "TASK_DEFINITION",
    }
    provider = "FARGATE_SPOT" if t.get("spot") else "FARGATE"
    kwargs["capacityProviderStrategy"] = [{"capacityProvider": provider, "weight": 1}]
    if t.get("subnets"):
        kwargs["networkConfiguration"] = {
            "awsvpcConfiguration": {
                "subnets": t["subnets"],
                "securityGroups": t.get("security_groups", []),
                "assignPublicIp": "ENABLED" if t.get("assign_public_ip") else "DISABLED",
            }
        }
    if t.get("overrides"):
        kwargs["overrides"] = t["overrides"]
    response = client("ecs", region).run_task(**kwargs)
    failures = response.get("failures") or []
    if not response.get("tasks"):
        reason = failures[0].get("reason", "unknown") if failures else "no task started"
        raise RuntimeError(f"ECS RunTask started nothing: {reason}")
    return response["tasks"][0]["taskArn"]


def _batch(t: Mapping[str, Any], client: ClientFactory, region: str, names: RunNames) -> str:
    kwargs: dict[str, Any] = {
        "jobName": names.run,
        "jobQueue": t["job_queue"],
        "jobDefinition": t["arn"],
        "tags": {WORKLOAD_TAG: names.workload_id},
        "parameters": {**t.get("parameters", {}), "workload_id": names.workload_id},
    }
    if t.get("overrides"):
        kwargs["containerOverrides"] = t["overrides"]
    return client("batch", region).submit_job(**kwargs)["jobId"]


def _sfn(t: Mapping[str, Any], client: ClientFactory, region: str, names: RunNames) -> str:
    response = client("stepfunctions", region).start_execution(
        stateMachineArn=t["arn"],
        name=names.execution,
        input=json.dumps({**t.get("input", {}), "workload_id": names.workload_id}),
    )
    return response["executionArn"]


def _events(t: Mapping[str, Any], client: ClientFactory, region: str, names: RunNames) -> str:
    response = client("events", region).put_events(
        Entries=[
            {
                "EventBusName": t["arn"],
                "Source": EVENT_SOURCE,
                "DetailType": t.get("detail_type", "Workload Dispatched"),
                "Detail": json.dumps(
                    {
                        **t.get("detail", {}),
                        "workload_id": names.workload_id,
                        "dispatch_token": names.token,
                    }
                ),
            }
        ]
    )
    entry = response["Entries"][0]
    if "EventId" not in entry:
        raise RuntimeError(
            f"PutEvents failed: {entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
        )
    return entry["EventId"]


_STARTERS = {
    "lambda": _lambda,
    "ecs": _ecs,
    "batch": _batch,
    "stepfunctions": _sfn,
    "eventbridge": _events,
}
