"""Completion: turn target state-change events into SUCCEEDED/FAILED with final emissions.

Understood events:
- ``ECS Task State Change`` with ``lastStatus`` STOPPED (``startedBy`` is ``<prefix>-<id>``); a
  task stopped by a Fargate Spot interruption (``stopCode``) is not a completion: the
  interruptions function owns it and places the workload again (runtime.interruptions);
- ``Batch Job State Change`` SUCCEEDED/FAILED (the workload-id tag, or the job name as for ECS);
- ``Step Functions Execution Status Change`` (id in the execution input; for a task-token
  execution, derived from its ARN);
- a Lambda asynchronous invocation record (id in ``requestPayload``), delivered straight to the
  completion function by an on-success/on-failure destination, or wrapped by EventBridge when
  the destination is an event bus (``Lambda Function Invocation Result - Success``/``Failure``);
- ``Workload Completed`` from source ``carbon-aware`` sent by custom runners.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carbon_aware.engine.accounting import ComparableSource, Span, account, comparison
from carbon_aware.engine.signal_type import SignalError
from carbon_aware.runtime.oracle import oracle_due
from carbon_aware.runtime.repository import Conflict, WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.runs import (
    ECS_INTERRUPTED,
    RunState,
    batch_job_state,
    ecs_task_state,
    instant,
    lambda_record_state,
    sfn_execution_state,
)
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import workload_of
from carbon_aware.runtime.targets import (
    EVENT_SOURCE,
    WORKLOAD_TAG,
    task_token_workload_id,
    workload_of_run,
)

LAMBDA_RESULTS = frozenset(
    {"Lambda Function Invocation Result - Success", "Lambda Function Invocation Result - Failure"}
)


@dataclass(frozen=True)
class Finished:
    """What a completion event says: which workload, whether it succeeded, and when it ran."""

    workload_id: str
    succeeded: bool
    started_at: float | None
    ended_at: float | None
    detail: str

    @classmethod
    def of(cls, workload_id: str | None, state: RunState) -> Finished | None:
        """The completion of an ended run of ``workload_id``; None when either is missing."""
        if not workload_id or not isinstance(workload_id, str) or state.succeeded is None:
            return None
        return cls(workload_id, state.succeeded, state.started_at, state.ended_at, state.detail)


def parse_event(event: Mapping[str, Any], prefix: str) -> Finished | None:
    """The completion in ``event``, or None for events that are not (yet) ours or a completion."""
    if "requestContext" in event and "requestPayload" in event:
        return _lambda_record(event)
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return None
    kind = event.get("detail-type", "")
    if kind == "ECS Task State Change":
        if detail.get("stopCode") in ECS_INTERRUPTED:
            return None  # the interruptions function's (runtime.interruptions.responder)
        wid = workload_of_run(str(detail.get("startedBy") or ""), prefix)
        return Finished.of(wid, ecs_task_state(detail))
    if kind == "Batch Job State Change":
        tags = detail.get("tags") or {}
        wid = tags.get(WORKLOAD_TAG) or workload_of_run(str(detail.get("jobName") or ""), prefix)
        return Finished.of(wid, batch_job_state(detail))
    if kind == "Step Functions Execution Status Change":
        name = str(detail.get("name") or "")
        if name and workload_of_run(name, prefix) is None:
            # A task-token execution: it ran from SendTaskSuccess (the dispatch) to its stop.
            wid = task_token_workload_id(str(detail.get("executionArn") or ""))
            state = dataclasses.replace(sfn_execution_state(detail), started_at=None)
            return Finished.of(wid, state)
        wid = _json_object(detail.get("input")).get("workload_id")
        return Finished.of(wid, sfn_execution_state(detail))
    if event.get("source") == "lambda" and kind in LAMBDA_RESULTS:
        return _lambda_record(detail)
    if event.get("source") == EVENT_SOURCE and kind == "Workload Completed":
        return Finished.of(
            detail.get("workload_id"),
            RunState(
                detail.get("status") == "SUCCEEDED",
                instant(detail.get("started_at")),
                instant(detail.get("ended_at")),
                str(detail.get("message", "")),
            ),
        )
    return None


def _lambda_record(record: Mapping[str, Any]) -> Finished | None:
    """Our executor puts ``workload_id`` into the payload it invokes the function with."""
    payload = _json_object(record.get("requestPayload"))
    return Finished.of(payload.get("workload_id"), lambda_record_state(record))


def _json_object(value: object) -> Mapping[str, Any]:
    """``value`` as a JSON object (decoded when a string); empty for anything else."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class Completer:
    """Records the end of a run with its emissions and savings against the baseline."""

    repo: WorkloadRepository
    signals: ComparableSource

    def complete(self, finished: Finished, now: float) -> WorkloadRecord | None:
        """Move the workload to SUCCEEDED/FAILED; None when unknown or already final."""
        if not finished.workload_id:
            return None
        record = self.repo.get(finished.workload_id)
        if record is None or record.status.final:
            return None  # a repeated or late event (e.g. after TIMED_OUT) records nothing
        try:
            if record.status == State.DISPATCHING:
                record = self.repo.transition(
                    record, State.RUNNING, now=now, reason="completion arrived first", due_at=now
                )
            if record.status != State.RUNNING:
                return record
            result = self._result(record, finished, now)
            to = State.SUCCEEDED if finished.succeeded else State.FAILED
            reason = "completed" if finished.succeeded else f"target failed: {finished.detail}"
            # A success waits in the oracle queue until its window is observed (runtime.oracle).
            settle = oracle_due(record.spec, result) if finished.succeeded else None
            return self.repo.transition(
                record, to, now=now, reason=reason, due_at=settle, updates={"result": result}
            )
        except Conflict:
            return self.repo.get(finished.workload_id)

    def account(self, record: WorkloadRecord, started: float, ended: float) -> dict[str, Any]:
        """The result of a run that stopped without a completion event (timed out, cancelled)."""
        return self._result(record, Finished(record.workload_id, False, started, ended, ""), ended)

    def _result(self, record: WorkloadRecord, finished: Finished, now: float) -> dict[str, Any]:
        workload = workload_of(record.spec)
        dispatch = record.dispatch or {}
        region = dispatch.get("region") or (record.decision or {}).get("region")
        started = finished.started_at or dispatch.get("started_at") or now
        ended = max(finished.ended_at or now, started)
        duration = ended - started
        result: dict[str, Any] = {
            "started_at": started,
            "ended_at": ended,
            "duration_seconds": duration,
            "region": region,
        }
        if duration <= 0:
            return {**result, "emissions_g": 0.0, "baseline_g": 0.0, "saved_g": 0.0}
        run = Span(region, started, ended)
        base_start = workload.submitted_at
        baseline = Span(workload.home_region, base_start, base_start + duration)
        try:
            # One read for both sides: same signal type and provider class, or neither is used.
            ran, base = self.signals.comparable([run, baseline])
            emitted = account(ran, workload.power_watts, run.start, run.end)
            expected = account(base, workload.power_watts, baseline.start, baseline.end)
            return {**result, **comparison(emitted, expected)}
        except SignalError as exc:
            return {**result, "accounting_error": str(exc)}
