"""Migrations as durable state machines on the runtime's conditional-write repository.

Why not Step Functions: every other lifecycle of the module (workloads, fleet decisions) lives in
DynamoDB with conditional writes and an audit history, and its steps are idempotent reads of AWS
state followed by absolute writes. A migration is the same shape: a few states, each polled until
AWS says its work is done. Kept in the migrations table it needs no second engine and no state
machine definition to deploy or version, a cancel is one conditional write, one lock item per
subject makes concurrent starts yield one migration (Step Functions would still need that lock),
the same sweep that finds work due also finds states that timed out, and the whole machine runs
in moto for the fault-injection tests.

:meth:`Orchestrator.step` advances one migration by at most one state. It is safe to re-run at any
point (a crash between two writes, two steppers racing): the strategy re-reads AWS before acting,
the transition is conditional on the version read, and the loser of a race re-reads. A state
that outlives its timeout fails (validating: nothing was touched), rolls back (preparing,
migrating) or is stepped again (the others, whose work must finish). Errors are recorded on the
migration, which stays due.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from carbon_aware.runtime.migrations.repository import (
    AlreadyMigrating,
    Conflict,
    Migration,
    MigrationRepository,
)
from carbon_aware.runtime.migrations.states import (
    DEFAULT_TIMEOUTS,
    FAIL_ON_TIMEOUT,
    NEXT,
    ROLL_BACK_ON_FAILURE,
    ROLL_BACK_ON_TIMEOUT,
    MigrationState,
)
from carbon_aware.runtime.migrations.strategies import Outcome, SpecError, StepFailed, Strategy

log = logging.getLogger(__name__)
S = MigrationState
Emit = Callable[[str, float, dict[str, str]], None]
DEFAULT_POLL_SECONDS = 30.0
PHASES = {
    S.VALIDATING: "validate",
    S.PREPARING: "prepare",
    S.MIGRATING: "migrate",
    S.COMPLETING: "complete",
    S.ROLLING_BACK: "rollback",
}

__all__ = ["AlreadyMigrating", "CannotCancel", "Orchestrator", "SpecError"]


class CannotCancel(Exception):
    """The migration is past the point where cancelling means rolling back (or already over)."""


class Orchestrator:
    """Starts, steps, sweeps and cancels migrations (see the module docstring)."""

    def __init__(
        self,
        repo: MigrationRepository,
        strategies: Mapping[str, Strategy],
        *,
        timeouts: Mapping[MigrationState, float] = DEFAULT_TIMEOUTS,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:16],
        emit: Emit | None = None,
    ) -> None:
        self.repo = repo
        self.strategies = strategies
        self.timeouts = {**DEFAULT_TIMEOUTS, **timeouts}
        self.poll_seconds = poll_seconds
        self.new_id = new_id
        self.emit = emit or (lambda name, value, dimensions: None)

    def start(
        self, request: Mapping[str, Any], now: float, *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Start a migration (pending, stepped by the next sweep), or with ``dry_run`` only
        validate it against AWS as it is now. :class:`SpecError` names a bad field,
        :class:`AlreadyMigrating` says the subject has a live migration."""
        kind = request.get("kind")
        if kind not in self.strategies:
            raise SpecError(f"kind: must be one of {', '.join(sorted(self.strategies))}")
        strategy = self.strategies[str(kind)]
        spec = strategy.check(request)
        subject = strategy.subject(spec)
        draft = Migration(self.new_id(), str(kind), subject, S.PENDING, spec)
        if dry_run:
            holder = self.repo.holder(subject)
            try:
                outcome = strategy.validate(draft, now)
            except StepFailed as exc:
                return {"dry_run": True, "ok": False, "reason": str(exc), "holder": holder}
            return {
                "dry_run": True,
                "ok": holder is None,
                "reason": outcome.note if holder is None else f"{subject} is migrating",
                "holder": holder,
                "kind": kind,
                "subject": subject,
                "spec": spec,
                "plan": dict(outcome.data),
            }
        stored = self.repo.create(
            Migration(
                draft.migration_id,
                draft.kind,
                subject,
                S.PENDING,
                spec,
                due_at=now,
                deadline=now + self.timeouts[S.PENDING],
            ),
            now,
        )
        # The migration-storm alarm sums Migrations per Region (alarms.tf).
        self.emit("Migrations", 1, {"Region": str(spec["target"])})
        return stored.to_dict()

    def step(self, migration_id: str, now: float) -> Migration | None:
        """Advance one migration by at most one state; the migration as stored after."""
        m = self.repo.get(migration_id)
        if m is None or m.state.final:
            return m
        try:
            if m.state == S.PENDING:
                return self._move(m, S.VALIDATING, now, "stepping")
            return self._phase(m, now)
        except Conflict:
            return self.repo.get(migration_id)  # another stepper (or a cancel) won

    def run(self, migration_id: str, now: float, max_steps: int = 12) -> Migration | None:
        """Step while the migration is due at ``now`` (one invocation's worth of progress)."""
        m = self.repo.get(migration_id)
        for _ in range(max_steps):
            if m is None or m.state.final or (m.due_at is not None and m.due_at > now):
                break
            m = self.step(migration_id, now)
        return m

    def sweep(self, now: float) -> dict[str, Any]:
        """Run every migration due at ``now``; one that fails is counted and never stops the
        others. ``{"stepped": n, "failed": n, "errors": {id: why}, "states": {id: state}}``."""
        states: dict[str, str] = {}
        errors: dict[str, str] = {}
        for migration_id in list(self.repo.due(now)):
            try:
                m = self.run(migration_id, now)
                if m is not None:
                    states[migration_id] = str(m.state)
            except Exception as exc:  # one bad migration never stops the sweep
                log.exception("migration %s step failed", migration_id)
                errors[migration_id] = f"{type(exc).__name__}: {exc}"
                self.emit("MigrationStepErrors", 1, {})
        return {"stepped": len(states), "failed": len(errors), "errors": errors, "states": states}

    def cancel(self, migration_id: str, now: float, reason: str = "cancelled") -> Migration:
        """Cancel: pending and validating end cancelled, preparing and migrating roll back.
        :class:`CannotCancel` once completing (or over); KeyError when there is no such id."""
        for _ in range(5):
            m = self.repo.get(migration_id)
            if m is None:
                raise KeyError(migration_id)
            if m.state in (S.PENDING, S.VALIDATING):
                to = S.CANCELLED
            elif m.state in ROLL_BACK_ON_TIMEOUT:
                to = S.ROLLING_BACK
            else:
                raise CannotCancel(f"migration {migration_id} is {m.state}: too late to cancel")
            try:
                return self._move(m, to, now, f"cancel: {reason}")
            except Conflict:
                continue
        raise Conflict(f"migration {migration_id} kept changing while cancelling")

    def _phase(self, m: Migration, now: float) -> Migration:
        strategy = self.strategies[m.kind]
        phase = getattr(strategy, PHASES[m.state])
        try:
            outcome: Outcome = phase(m, now)
        except StepFailed as exc:
            if m.state == S.VALIDATING:
                return self._move(m, S.FAILED, now, f"rejected: {exc}")
            if m.state in ROLL_BACK_ON_FAILURE:
                return self._move(m, S.ROLLING_BACK, now, f"{m.state} failed: {exc}")
            return self._wait(m, now, {"last_error": str(exc)}, str(exc))
        except Conflict:
            raise
        except Exception as exc:
            # Transient or unknown: recorded, retried at the next poll, bounded by the timeout.
            error = f"{type(exc).__name__}: {exc}"
            after = self._wait(m, now, {"last_error": error}, error)
            if after.state != m.state:
                return after
            raise
        if outcome.done:
            nxt = NEXT[m.state]
            done = replace(m, data={**m.data, **outcome.data})
            grams = None
            if nxt == S.COMPLETED:
                grams = strategy.grams(done)
            elif nxt == S.ROLLED_BACK:
                grams = strategy.rollback_grams(done, now)
            reason = outcome.note or f"{m.state} done"
            return self._move(m, nxt, now, reason, data=outcome.data, grams=grams)
        return self._wait(m, now, outcome.data, outcome.note)

    def _wait(self, m: Migration, now: float, data: Mapping[str, Any], note: str) -> Migration:
        """Not done yet: roll back when the state timed out (if it may), else poll again."""
        if m.deadline is not None and now >= m.deadline:
            why = f"{m.state} timed out" + (f" ({note})" if note else "")
            if m.state in ROLL_BACK_ON_TIMEOUT:
                return self._move(m, S.ROLLING_BACK, now, why, data=data)
            if m.state in FAIL_ON_TIMEOUT:
                return self._move(m, S.FAILED, now, why, data=data)
            self.emit("MigrationsOverdue", 1, {"State": str(m.state)})
        return self.repo.progress(m, now=now, due_at=now + self.poll_seconds, data=data)

    def _move(
        self,
        m: Migration,
        to: MigrationState,
        now: float,
        reason: str,
        *,
        data: Mapping[str, Any] | None = None,
        grams: Mapping[str, Any] | None = None,
    ) -> Migration:
        stored = self.repo.transition(
            m,
            to,
            now=now,
            reason=reason,
            due_at=now,
            deadline=now + self.timeouts.get(to, 0.0),
            data=data,
            grams=grams,
        )
        if to.final and to != S.CANCELLED:
            # The migration-success SLO: MigrationsSucceeded / MigrationsAttempted (alarms.tf).
            self.emit("MigrationsAttempted", 1, {})
            self.emit("MigrationsSucceeded", 1 if to == S.COMPLETED else 0, {})
            if grams and grams.get("net_g") is not None:
                self.emit("MigrationNetGramsSaved", float(grams["net_g"]), {"Kind": m.kind})
        return stored
