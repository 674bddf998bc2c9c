"""Completion: turn target state-change events into SUCCEEDED/FAILED with final emissions.

Understood events (all via EventBridge, except the Lambda destination record):
- ``ECS Task State Change`` with ``lastStatus`` STOPPED (``startedBy`` is ``<prefix>-<id>``);
- ``Batch Job State Change`` SUCCEEDED/FAILED (the workload-id tag, or the job name as for ECS);
- ``Step Functions Execution Status Change`` (id in the execution input);
- a Lambda on-success/on-failure destination record (id in ``requestPayload``);
- ``Workload Completed`` from source ``carbon-aware`` sent by custom runners.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from carbon_aware.engine.accounting import ComparableSource, Span, account, comparison
from carbon_aware.engine.signal_type import SignalError
from carbon_aware.engine.timeutil import parse_iso, to_seconds
from carbon_aware.runtime.repository import Conflict, WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import workload_of
from carbon_aware.runtime.targets import EVENT_SOURCE, WORKLOAD_TAG, workload_of_run

SFN_FAILED = {"FAILED", "TIMED_OUT", "ABORTED"}


@dataclass(frozen=True)
class Finished:
    """What a completion event says: which workload, whether it succeeded, and when it ran."""

    workload_id: str
    succeeded: bool
    started_at: float | None
    ended_at: float | None
    detail: str


def parse_event(event: Mapping[str, Any], prefix: str) -> Finished | None:
    """The completion in ``event``, or None for events that are not (yet) ours or a completion."""
    if "requestContext" in event and "requestPayload" in event:
        return _lambda_destination(event)
    detail = event.get("detail") or {}
    kind = event.get("detail-type", "")
    if kind == "ECS Task State Change":
        wid = workload_of_run(detail.get("startedBy") or "", prefix)
        if detail.get("lastStatus") != "STOPPED" or wid is None:
            return None
        codes = [c.get("exitCode") for c in detail.get("containers", [])]
        ok = bool(codes) and all(code == 0 for code in codes)
        return Finished(
            wid,
            ok,
            _iso(detail.get("startedAt")),
            _iso(detail.get("stoppedAt")),
            detail.get("stoppedReason", ""),
        )
    if kind == "Batch Job State Change":
        if detail.get("status") not in ("SUCCEEDED", "FAILED"):
            return None
        tags = detail.get("tags") or {}
        wid = tags.get(WORKLOAD_TAG) or workload_of_run(detail.get("jobName") or "", prefix)
        return Finished(
            wid,
            detail["status"] == "SUCCEEDED",
            _millis(detail.get("startedAt")),
            _millis(detail.get("stoppedAt")),
            detail.get("statusReason", ""),
        )
    if kind == "Step Functions Execution Status Change":
        status = detail.get("status")
        if status != "SUCCEEDED" and status not in SFN_FAILED:
            return None
        wid = json.loads(detail.get("input") or "{}").get("workload_id")
        return Finished(
            wid,
            status == "SUCCEEDED",
            _millis(detail.get("startDate")),
            _millis(detail.get("stopDate")),
            status,
        )
    if event.get("source") == EVENT_SOURCE and kind == "Workload Completed":
        return Finished(
            detail.get("workload_id"),
            detail.get("status") == "SUCCEEDED",
            _iso(detail.get("started_at")),
            _iso(detail.get("ended_at")),
            detail.get("message", ""),
        )
    return None


def _lambda_destination(event: Mapping[str, Any]) -> Finished | None:
    payload = event.get("requestPayload") or {}
    if isinstance(payload, str):
        payload = json.loads(payload or "{}")
    condition = event["requestContext"].get("condition", "")
    ended = _iso(event.get("timestamp"))
    return Finished(payload.get("workload_id"), condition == "Success", None, ended, condition)


def _iso(value: object) -> float | None:
    return to_seconds(parse_iso(value)) if isinstance(value, str) and value else None


def _millis(value: object) -> float | None:
    return float(value) / 1000.0 if isinstance(value, int | float) else None


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
            return record
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
            return self.repo.transition(
                record, to, now=now, reason=reason, updates={"result": result}
            )
        except Conflict:
            return self.repo.get(finished.workload_id)

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
