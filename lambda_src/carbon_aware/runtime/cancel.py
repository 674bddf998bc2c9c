"""Cancelling a workload: a running one has its target stopped and its grams counted until now."""

from __future__ import annotations

from dataclasses import dataclass

from carbon_aware.runtime.completion import Completer
from carbon_aware.runtime.repository import WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.runs import stop
from carbon_aware.runtime.states import State
from carbon_aware.runtime.targets import ClientFactory, resolve_target


@dataclass(frozen=True)
class Canceller:
    """Moves live workloads to CANCELLED, stopping what already runs."""

    repo: WorkloadRepository
    completer: Completer
    client: ClientFactory

    def cancel(self, record: WorkloadRecord, now: float) -> WorkloadRecord:
        """CANCELLED; raises Conflict when the workload changed, or the boto3 error of a stop."""
        if record.status != State.RUNNING:
            return self.repo.transition(record, State.CANCELLED, now=now, reason="cancelled")
        dispatch = record.dispatch or {}
        run = f"{dispatch.get('type')} {dispatch.get('handle')}"
        stopped = stop(
            dispatch, resolve_target(record.spec, str(dispatch.get("region"))), self.client
        )
        if stopped:
            reason = f"cancelled; stopped {run}"
        else:
            reason = (
                f"cancelled; {dispatch.get('type')} targets cannot be stopped, so {run} runs on"
                " and its grams are counted until the cancel"
            )
        started = float(dispatch.get("started_at") or now)
        updates = self.completer.stopped(record, started, now)
        updates["result"]["target_stopped"] = stopped
        return self.repo.transition(
            record, State.CANCELLED, now=now, reason=reason, updates=updates
        )
