"""Watchdog: nothing stays RUNNING.

A dispatched workload is due again at its expected end plus ``running_grace``. If no completion
arrived by then, the sweeper hands it to :meth:`Watchdog.check`, which asks the target (ECS
DescribeTasks, Batch DescribeJobs, Step Functions DescribeExecution, in the run's Region):

- the target says the run ended: recorded like a completion event (times from the target);
- it is still running: checked again a grace period later, never past the run timeout;
- it cannot be asked (lambda, eventbridge), does not know the run any more, or still runs at
  ``run_timeout`` past the expected end: TIMED_OUT, with the grams of the run accounted up to
  when it is known (or assumed) to have ended.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime.completion import Completer, Finished
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.observability import logger
from carbon_aware.runtime.repository import Conflict, WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.runs import ASKABLE, RunGone, describe
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import workload_of
from carbon_aware.runtime.targets import ClientFactory, resolve_target


@dataclass(frozen=True)
class Watchdog:
    """Settles RUNNING workloads whose completion is overdue."""

    repo: WorkloadRepository
    completer: Completer
    settings: WorkloadSettings
    client: ClientFactory

    def check(self, record: WorkloadRecord, now: float) -> str:
        """Settle or re-arm one overdue RUNNING workload; never raises. Returns what happened."""
        try:
            return self._check(record, now)
        except Conflict:
            return "watchdog:conflict"  # a completion or a cancel won
        except Exception:
            logger.exception("watchdog check failed", extra={"workload_id": record.workload_id})
            return "watchdog:error"

    def _check(self, record: WorkloadRecord, now: float) -> str:
        dispatch = record.dispatch or {}
        started = float(dispatch.get("started_at") or record.updated_at)
        expected_end = float(
            dispatch.get("expected_end") or started + workload_of(record.spec).duration
        )
        timeout_at = expected_end + self.settings.run_timeout
        try:
            target = resolve_target(record.spec, str(dispatch.get("region")))
            state = describe(dispatch, target, self.client)
        except RunGone:
            return self._time_out(record, now, started, expected_end, "the target forgot the run")
        except (ClientError, BotoCoreError) as exc:
            why = f"the target could not be asked: {exc}"
            if now < timeout_at:
                return self._rearm(record, now, timeout_at, why)
            return self._time_out(record, now, started, expected_end, why)
        if state is not None and state.ended:
            finished = Finished.of(record.workload_id, state)
            done = self.completer.complete(finished, now) if finished else None
            return f"watchdog:{done.status if done else 'gone'}"
        if state is None:
            why = "no completion arrived and this target type cannot be asked"
        else:
            why = f"the target still runs ({state.detail or 'no detail'})"
        if now < timeout_at:
            return self._rearm(record, now, timeout_at, why)
        # A run known to go on has emitted at least until now; otherwise assume the planned end.
        ended = now if state is not None else expected_end
        return self._time_out(record, now, started, ended, why, estimated=state is None)

    def _rearm(self, record: WorkloadRecord, now: float, timeout_at: float, why: str) -> str:
        """Look again a grace period later (or at the timeout when the target cannot be asked)."""
        askable = (record.dispatch or {}).get("type") in ASKABLE
        due = min(now + self.settings.running_grace, timeout_at) if askable else timeout_at
        self.repo.transition(
            record,
            State.RUNNING,
            now=now,
            reason=f"{why}; next look at {iso(due)}, timeout at {iso(timeout_at)}",
            due_at=due,
        )
        return "watchdog:rearmed"

    def _time_out(
        self,
        record: WorkloadRecord,
        now: float,
        started: float,
        ended: float,
        why: str,
        *,
        estimated: bool = True,
    ) -> str:
        """TIMED_OUT with the grams of ``[started, ended)``; ``estimated``: the end is assumed."""
        updates = self.completer.stopped(record, started, max(ended, started))
        updates["result"]["ended_at_estimated"] = estimated
        self.repo.transition(
            record, State.TIMED_OUT, now=now, reason=f"timed out: {why}", updates=updates
        )
        return "watchdog:TIMED_OUT"
