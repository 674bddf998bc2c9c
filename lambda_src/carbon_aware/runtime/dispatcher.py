"""Dispatch: claim a due workload with a conditional write, then start its target.

Only the invocation whose SCHEDULED -> DISPATCHING write succeeds starts the target, so racing
executors and sweepers dispatch each decision exactly once. Transient failures hand the workload
back (SCHEDULED, due after an exponential backoff with jitter) for the sweeper; permanent ones and
exhausted retries end FAILED with a message on the dead-letter queue.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.repository import Conflict, WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import workload_of
from carbon_aware.runtime.targets import (
    ClientFactory,
    RunNames,
    TargetError,
    resolve_target,
    start_target,
)

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
        if version is not None and record.version != version:
            return record  # a stale schedule from before a re-plan
        workload = workload_of(record.spec)
        try:
            if now > workload.latest_start:
                return self.repo.transition(
                    record, State.EXPIRED, now=now, reason="start window missed before dispatch"
                )
            attempts = (record.dispatch or {}).get("attempts", 0) + 1
            claimed = self.repo.transition(
                record,
                State.DISPATCHING,
                now=now,
                reason=f"claimed (attempt {attempts})",
                due_at=now + self.settings.dispatch_timeout,
                updates={"dispatch": {**(record.dispatch or {}), "attempts": attempts}},
            )
        except Conflict:
            return None
        return self._start(claimed, workload.duration, now)

    def _start(self, record: WorkloadRecord, duration: float, now: float) -> WorkloadRecord:
        decision = record.decision or {}
        region = decision["region"]
        attempts = record.dispatch["attempts"]
        try:
            target = resolve_target(record.spec, region)
            names = RunNames(
                self.settings.name_prefix,
                record.workload_id,
                decision.get("schedule", record.workload_id),
            )
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
        return self.repo.transition(
            record,
            State.RUNNING,
            now=now,
            reason=f"started {started.type} {started.handle}",
            due_at=expected_end + self.settings.running_grace,
            updates={
                "dispatch": {
                    **record.dispatch,
                    **started.to_dict(),
                    "started_at": now,
                    "expected_end": expected_end,
                },
            },
        )

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
