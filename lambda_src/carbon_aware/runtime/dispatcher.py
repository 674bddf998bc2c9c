"""Dispatch: claim a due workload with a conditional write, then start its target.

Only the invocation whose SCHEDULED -> DISPATCHING write succeeds starts the target, so racing
executors and sweepers dispatch each decision exactly once. Transient failures hand the workload
back (SCHEDULED, due after an exponential backoff with jitter) for the sweeper; permanent ones and
exhausted retries end FAILED with a message on the dead-letter queue.

A segmented (interruptible) workload is started one segment at a time by its segment schedules
(:meth:`Dispatcher.start_segment`): the newest checkpoint is carried to the segment's Region first
and the run gets the checkpoint environment. At a segment's end schedule,
:meth:`Dispatcher.end_segment` stops the run (SIGTERM: the workload checkpoints within its budget
and exits 75); the completion records it and schedules the next segment.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime import segments as seg
from carbon_aware.runtime.checkpoints import CheckpointStore
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.repository import Conflict, WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.runs import stop
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import workload_of
from carbon_aware.runtime.targets import (
    ClientFactory,
    RunNames,
    TargetError,
    resolve_target,
    start_target,
)

SEGMENT_END_REASON = "segment ended: checkpoint and stop (carbon-aware)"

MAX_ATTEMPTS = 5
BACKOFF_BASE = 30.0
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ServiceException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServerException",
        "EC2ThrottledException",
        "ResourceConflictException",
    }
)


def is_transient(exc: Exception) -> bool:
    """Whether retrying later may succeed (throttling, 5xx, network, capacity)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in TRANSIENT_CODES or status >= 500
    return isinstance(exc, BotoCoreError | RuntimeError | TimeoutError | ConnectionError)


@dataclass(frozen=True)
class Dispatcher:
    """Claims and starts workloads; ``client(service, region)`` gives boto3 clients."""

    repo: WorkloadRepository
    settings: WorkloadSettings
    client: ClientFactory
    dead_letters: Callable[[dict[str, Any]], None]
    jitter: Callable[[], float] = field(default=random.random)

    def dispatch(self, workload_id: str, version: int | None, now: float) -> WorkloadRecord | None:
        """Start the workload if it is still SCHEDULED at ``version``; None when another won."""
        record = self.repo.get(workload_id)
        if record is None or record.status != State.SCHEDULED:
            return record
        if record.segments is not None:  # the sweep found a segment due
            return self._claim_segment(record, record.segments["current"], now)
        if version is not None and record.version != version:
            return record  # a stale schedule from before a re-plan
        return self._claim(record, now, workload_of(record.spec).latest_start)

    def start_segment(
        self, workload_id: str, plan: int, index: int, now: float
    ) -> WorkloadRecord | None:
        """Start segment ``index`` of plan ``plan`` if the workload waits for it."""
        record = self.repo.get(workload_id)
        if record is None or record.status != State.SCHEDULED or record.segments is None:
            return record
        if record.segments["plan"] != plan or record.segments["current"] != index:
            return record  # a schedule of an older plan, or a segment already started
        return self._claim_segment(record, index, now)

    def end_segment(
        self, workload_id: str, plan: int, index: int, now: float
    ) -> WorkloadRecord | None:
        """Tell segment ``index``'s run to checkpoint and stop (SIGTERM, within the budget)."""
        record = self.repo.get(workload_id)
        segmented = (record.segments if record else None) or {}
        if (
            record is None
            or record.status != State.RUNNING
            or segmented.get("plan") != plan
            or segmented.get("current") != index
            or segmented["runs"][index]["state"] != seg.RUNNING
            or "stop_requested_at" in segmented["runs"][index]
        ):
            return record
        dispatch = record.dispatch or {}
        target = resolve_target(record.spec, str(dispatch.get("region")))
        stop(dispatch, target, self.client, reason=SEGMENT_END_REASON)
        runs = [dict(r) for r in segmented["runs"]]
        runs[index]["stop_requested_at"] = now
        try:
            return self.repo.transition(
                record,
                State.RUNNING,
                now=now,
                reason=f"segment {index} told to checkpoint and stop",
                due_at=now + self.settings.checkpoint_budget + self.settings.running_grace,
                updates={"segments": {**segmented, "runs": runs}},
            )
        except Conflict:
            return None  # the run ended meanwhile: its completion was recorded

    def _claim_segment(
        self, record: WorkloadRecord, index: int, now: float
    ) -> WorkloadRecord | None:
        if record.segments is None or record.segments.get("replan"):
            return record  # waits for Planner.resume_segments
        return self._claim(record, now, workload_of(record.spec).deadline, index)

    def _claim(
        self, record: WorkloadRecord, now: float, latest: float, segment: int | None = None
    ) -> WorkloadRecord | None:
        workload = workload_of(record.spec)
        try:
            if now > latest:
                return self.repo.transition(
                    record, State.EXPIRED, now=now, reason="start window missed before dispatch"
                )
            previous = record.dispatch or {}
            if segment is not None and previous.get("segment") != segment:
                previous = {"segment": segment}  # each segment counts its own attempts
            attempts = previous.get("attempts", 0) + 1
            claimed = self.repo.transition(
                record,
                State.DISPATCHING,
                now=now,
                reason=f"claimed (attempt {attempts})",
                due_at=now + self.settings.dispatch_timeout,
                updates={"dispatch": {**previous, "attempts": attempts}},
            )
        except Conflict:
            return None
        return self._start(claimed, workload.duration, now, segment)

    def _start(
        self, record: WorkloadRecord, duration: float, now: float, segment: int | None = None
    ) -> WorkloadRecord:
        decision = record.decision or {}
        region = decision["region"]
        token = decision.get("schedule", record.workload_id)
        attempts = record.dispatch["attempts"]
        updates: dict[str, Any] = {}
        try:
            target = resolve_target(record.spec, region)
            if segment is not None:
                run = record.segments["runs"][segment]
                region, duration = run["region"], run["end_epoch"] - run["start_epoch"]
                token = seg.segment_schedule(
                    record.workload_id, record.segments["plan"], segment, seg.START
                )
                target, updates = self._segment_target(record, segment, region, now)
            names = RunNames(self.settings.name_prefix, record.workload_id, token)
            started = start_target(
                target,
                region=region,
                names=names,
                allowlist=self.settings.target_allowlist,
                client=self.client,
                decision=decision,
            )
        except TargetError as exc:
            return self._fail(record, f"target rejected: {exc}", now)
        except Exception as exc:
            if not is_transient(exc):
                return self._fail(record, f"target failed: {_describe(exc)}", now)
            if attempts >= MAX_ATTEMPTS:
                return self._fail(
                    record, f"gave up after {attempts} attempts: {_describe(exc)}", now
                )
            delay = BACKOFF_BASE * 2 ** (attempts - 1) * (0.5 + self.jitter())
            return self.repo.transition(
                record,
                State.SCHEDULED,
                now=now,
                reason=f"transient failure, retry at {iso(now + delay)}: {_describe(exc)}",
                due_at=now + delay,
            )
        expected_end = now + duration
        if segment is not None:
            updates["segments"]["runs"][segment]["handle"] = started.handle
        return self.repo.transition(
            record,
            State.RUNNING,
            now=now,
            reason=f"started {started.type} {started.handle}"
            + ("" if segment is None else f" (segment {segment})"),
            due_at=expected_end + self.settings.running_grace,
            updates={
                **updates,
                "dispatch": {
                    **record.dispatch,
                    **started.to_dict(),
                    "started_at": now,
                    "expected_end": expected_end,
                },
            },
        )

    def _segment_target(
        self, record: WorkloadRecord, index: int, region: str, now: float
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The segment's target with the checkpoint environment (its newest checkpoint carried
        to ``region`` first), and the record's segments as they will be once it runs."""
        segmented = record.segments or {}
        runs = [dict(r) for r in segmented["runs"]]
        store = CheckpointStore(
            self.client, self.settings.checkpoint_buckets, self.settings.checkpoint_kms_keys
        )
        if region not in store.buckets:
            raise TargetError(f"no checkpoint bucket in {region} (the module's checkpoints)")
        resume = store.carry(record.workload_id, seg.checkpoint_sources(runs, index), region)
        env = seg.environment(
            record.workload_id,
            index,
            store.uri(region, record.workload_id),
            resume,
            self.settings.checkpoint_budget,
        )
        runs[index].update(state=seg.RUNNING, started_at=now, resume_from=resume)
        target = seg.with_environment(resolve_target(record.spec, region), env)
        return target, {"segments": {**segmented, "runs": runs}}

    def _fail(self, record: WorkloadRecord, reason: str, now: float) -> WorkloadRecord:
        self.dead_letters(
            {
                "workload_id": record.workload_id,
                "reason": reason,
                "attempts": (record.dispatch or {}).get("attempts", 0),
                "decision": record.decision,
                "at": iso(now),
            }
        )
        return self.repo.transition(record, State.FAILED, now=now, reason=reason)


def sqs_dead_letters(sqs: Any, queue_url: str) -> Callable[[dict[str, Any]], None]:
    """Send dead letters to an SQS queue."""

    def send(message: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message, default=str))

    return send


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
