"""Runs already started: what their target says about them, and stopping them.

The same reading serves the state-change events (completion) and the Describe* calls (watchdog):
an ECS event's ``detail`` is a task as DescribeTasks returns it, a Batch event's ``detail`` is
a job as DescribeJobs returns it, a Step Functions event's ``detail`` is an execution as
DescribeExecution returns it. Only the time formats differ (ISO strings or epoch milliseconds in
events, datetimes from boto3), which :func:`instant` absorbs.

Lambda and EventBridge runs cannot be asked or stopped: nothing keeps their state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from carbon_aware.engine.timeutil import parse_iso, to_seconds
from carbon_aware.runtime.targets import ClientFactory

# Fargate Spot reclaims a task with SIGTERM: its containers may still exit 0.
ECS_INTERRUPTED = frozenset({"SpotInterruption", "TerminationNotice"})
SFN_FAILED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})
ASKABLE = frozenset({"ecs", "batch", "stepfunctions"})
# An interruptible workload's "checkpointed, resume me" (runtime.segments).
CHECKPOINTED_EXIT = 75
# A Batch job whose Spot host was reclaimed.
BATCH_HOST_GONE = "Host EC2"
STOP_REASON = "cancelled through the carbon-aware API"


@dataclass(frozen=True)
class RunState:
    """A run as its target reports it; ``succeeded`` is None while it has not ended."""

    succeeded: bool | None
    started_at: float | None
    ended_at: float | None
    detail: str
    checkpointed: bool = False
    interrupted: bool = False

    @property
    def ended(self) -> bool:
        """Whether the target reports a final state."""
        return self.succeeded is not None


class RunGone(LookupError):
    """The target no longer knows the run (ECS keeps stopped tasks for about an hour)."""


def instant(value: object) -> float | None:
    """POSIX seconds of an ISO string, a datetime or epoch milliseconds; None otherwise."""
    if isinstance(value, datetime):
        return to_seconds(value)
    if isinstance(value, str) and value:
        return to_seconds(parse_iso(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    return None


def ecs_task_state(task: Mapping[str, Any]) -> RunState:
    """An ECS task: ended once STOPPED; succeeded unless interrupted or a container exited non-0."""
    stop_code = task.get("stopCode") or ""
    codes = [c.get("exitCode") for c in task.get("containers") or []]
    detail = "; ".join(
        part
        for part in (
            task.get("stoppedReason") or "",
            f"stopCode {stop_code}" if stop_code else "",
            f"exit codes {codes}" if codes else "",
        )
        if part
    )
    if task.get("lastStatus") != "STOPPED":
        return RunState(None, instant(task.get("startedAt")), None, detail)
    interrupted = stop_code in ECS_INTERRUPTED
    ok = not interrupted and bool(codes) and all(code == 0 for code in codes)
    checkpointed = CHECKPOINTED_EXIT in codes and all(c in (0, CHECKPOINTED_EXIT) for c in codes)
    return RunState(
        ok,
        instant(task.get("startedAt")),
        instant(task.get("stoppedAt")),
        detail,
        checkpointed=checkpointed,
        interrupted=interrupted,
    )


def batch_job_state(job: Mapping[str, Any]) -> RunState:
    """A Batch job: ended once SUCCEEDED or FAILED; the last attempt's exit code in the detail."""
    status = job.get("status")
    attempts = job.get("attempts") or []
    container = job.get("container") or (attempts[-1].get("container") if attempts else None)
    exit_code = (container or {}).get("exitCode")
    reason = job.get("statusReason") or ""
    detail = f"{reason} (exit code {exit_code})" if exit_code is not None else reason
    succeeded = {"SUCCEEDED": True, "FAILED": False}.get(str(status))
    ended = instant(job.get("stoppedAt")) if succeeded is not None else None
    return RunState(
        succeeded,
        instant(job.get("startedAt")),
        ended,
        detail or str(status),
        checkpointed=succeeded is False and exit_code == CHECKPOINTED_EXIT,
        interrupted=succeeded is False and reason.startswith(BATCH_HOST_GONE),
    )


def sfn_execution_state(execution: Mapping[str, Any]) -> RunState:
    """A Step Functions execution: ended once SUCCEEDED, FAILED, TIMED_OUT or ABORTED."""
    status = str(execution.get("status"))
    succeeded = True if status == "SUCCEEDED" else False if status in SFN_FAILED else None
    why = ": ".join(str(execution[k]) for k in ("error", "cause") if execution.get(k))
    return RunState(
        succeeded,
        instant(execution.get("startDate")),
        instant(execution.get("stopDate")) if succeeded is not None else None,
        f"{status} {why}".strip(),
    )


def lambda_record_state(record: Mapping[str, Any]) -> RunState:
    """A Lambda asynchronous invocation record (destination): ``Success`` or a failure condition."""
    context = record.get("requestContext") or {}
    condition = str(context.get("condition") or "")
    response = record.get("responseContext") or {}
    payload = record.get("responsePayload")
    message = payload.get("errorMessage") if isinstance(payload, Mapping) else None
    detail = ": ".join(
        str(part) for part in (condition, response.get("functionError"), message) if part
    )
    return RunState(condition == "Success", None, instant(record.get("timestamp")), detail)


def describe(
    dispatch: Mapping[str, Any], target: Mapping[str, Any], client: ClientFactory
) -> RunState | None:
    """Ask the target about the run in ``dispatch``; None when its type cannot be asked.

    Raises :class:`RunGone` when the target does not know the run, or the boto3 error.
    """
    kind, region, handle = dispatch.get("type"), dispatch.get("region"), dispatch.get("handle")
    if kind not in ASKABLE or not region or not handle:
        return None
    if kind == "ecs":
        tasks = client("ecs", region).describe_tasks(cluster=target["cluster"], tasks=[handle])
        return ecs_task_state(_only(tasks.get("tasks"), handle))
    if kind == "batch":
        jobs = client("batch", region).describe_jobs(jobs=[handle])
        return batch_job_state(_only(jobs.get("jobs"), handle))
    try:
        execution = client("stepfunctions", region).describe_execution(executionArn=handle)
    except client("stepfunctions", region).exceptions.ExecutionDoesNotExist:
        raise RunGone(handle) from None
    return sfn_execution_state(execution)


def stop(
    dispatch: Mapping[str, Any],
    target: Mapping[str, Any],
    client: ClientFactory,
    reason: str = STOP_REASON,
) -> bool:
    """Stop the run in ``dispatch``; False when its type cannot be stopped (lambda, eventbridge)."""
    kind, region, handle = dispatch.get("type"), dispatch.get("region"), dispatch.get("handle")
    if kind not in ASKABLE or not region or not handle:
        return False
    if kind == "ecs":
        client("ecs", region).stop_task(cluster=target["cluster"], task=handle, reason=reason)
    elif kind == "batch":
        client("batch", region).terminate_job(jobId=handle, reason=reason)
    else:
        client("stepfunctions", region).stop_execution(executionArn=handle, cause=reason)
    return True


def _only(items: list[Mapping[str, Any]] | None, handle: str) -> Mapping[str, Any]:
    if not items:
        raise RunGone(handle)
    return items[0]
