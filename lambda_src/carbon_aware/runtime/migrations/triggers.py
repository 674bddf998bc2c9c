"""The trigger pass: propose migrations of running work from the policy, before each sweep.

For each running interruptible workload on ECS (what checkpoint_restore moves) in a region with a
checkpoint bucket, the pass builds a :class:`~carbon_aware.engine.migration.Subject` from its
spec, reads its policy state and the global one (:meth:`MigrationRepository.policy_state`), reads
the hourly carbon forecast of its region and of every allowed region with a checkpoint bucket over
the policy's horizon (the signals cache, as the fleet optimizer reads it) and its region's
renewable share when known, calls :func:`~carbon_aware.engine.migration.evaluate`, and on ``go``
starts a checkpoint_restore whose ``basis`` is the forecast (so the migration records its grams
net of the overhead). The states are written back conditionally on the version read.

A subject with a live migration is not evaluated (it counts as migrating for the fleet cap); once
its migration is over the pass applies the outcome to its state: ``completed`` resets the
consecutive rollbacks, ``rolled_back`` and ``failed`` put it back in its source with a doubled
cooldown (:func:`~carbon_aware.engine.migration.rolled_back`), ``cancelled`` only puts it back.
One subject that fails (an unreadable record, a spec the engine rejects, a write conflict) is
logged and counted and never stops the others.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from carbon_aware.engine.migration import (
    Decision,
    GlobalState,
    MigrationPolicy,
    Subject,
    SubjectState,
    completed,
    evaluate,
    rolled_back,
)
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.fleet.sources import RenewableSource, SignalSetSource, carbon_forecasts
from carbon_aware.runtime.migrations.orchestrator import AlreadyMigrating, Orchestrator
from carbon_aware.runtime.migrations.repository import GLOBAL_POLICY, MigrationRepository
from carbon_aware.runtime.migrations.states import MigrationState
from carbon_aware.runtime.migrations.strategies.checkpoint_restore import KIND
from carbon_aware.runtime.repository import WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import DEFAULT_CHECKPOINT_GB, workload_of

log = logging.getLogger(__name__)
Emit = Callable[[str, float, dict[str, str]], None]
#: Minutes both copies run: the target starts, then the next steps (one sweep tick or two) verify
#: it and stop the source.
OVERLAP_MINUTES = 5.0


@dataclass
class Candidate:
    """A running workload checkpoint_restore may move, and its lock subject."""

    record: WorkloadRecord
    subject: str
    migrating: bool


@dataclass
class PassResult:
    """What one pass did: subjects evaluated, migrations started, failures and surges."""

    evaluated: int = 0
    started: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    surge: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "evaluated": self.evaluated,
            "started": self.started,
            "failed": len(self.errors),
            "errors": self.errors,
            "surge": self.surge,
        }


class Triggers:
    """The proposal pass (see the module docstring)."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        repo: MigrationRepository,
        workloads: WorkloadRepository,
        settings: WorkloadSettings,
        policy: MigrationPolicy,
        carbon: SignalSetSource,
        renewables: RenewableSource,
        emit: Emit | None = None,
    ) -> None:
        self.orchestrator = orchestrator
        self.repo = repo
        self.workloads = workloads
        self.settings = settings
        self.policy = policy
        self.carbon = carbon
        self.renewables = renewables
        self.emit = emit or (lambda name, value, dimensions: None)

    def run(self, now: float) -> dict[str, Any]:
        """One pass over every running workload checkpoint_restore may move."""
        result = PassResult()
        stored = self.repo.policy_state(GLOBAL_POLICY)
        glob = GlobalState.from_dict(stored.body)
        candidates = self._candidates(now, result)
        migrating = sum(c.migrating for c in candidates)
        for candidate in candidates:
            wid = candidate.record.workload_id
            try:
                glob = self._subject(candidate, glob, now, len(candidates), migrating, result)
            except Exception as exc:  # one bad subject never stops the pass
                self._failed(wid, exc, result)
                continue
            migrating += wid in result.started
        if glob.to_dict() != stored.body:
            self.repo.put_policy_state(GLOBAL_POLICY, stored, glob.to_dict(), now)
        for _ in result.started:
            self.emit("MigrationsProposed", 1, {})
        return result.to_dict()

    def _candidates(self, now: float, result: PassResult) -> list[Candidate]:
        """Running interruptible ECS workloads in a region with a checkpoint bucket."""
        strategy = self.orchestrator.strategies[KIND]
        found = []
        for item in self.workloads.due_items(State.RUNNING):
            wid = str(item.get("workload_id", "?"))
            try:
                record = WorkloadRecord.from_item(item)
                run = record.dispatch or {}
                if record.segments is None or run.get("type") != "ecs":
                    continue
                if run.get("region") not in self.settings.checkpoint_buckets:
                    continue
                subject = strategy.subject({"workload_id": wid})
                held = self.repo.holder(subject) is not None
                found.append(Candidate(record, subject, held))
            except Exception as exc:  # an unreadable record is one failed subject
                self._failed(wid, exc, result)
        return found

    def _subject(
        self,
        candidate: Candidate,
        glob: GlobalState,
        now: float,
        fleet_size: int,
        fleet_migrating: int,
        result: PassResult,
    ) -> GlobalState:
        """Evaluate one subject, persist its state, start its migration on go; the global state
        after it."""
        if candidate.migrating:
            return glob
        record = candidate.record
        stored = self.repo.policy_state(candidate.subject)
        region = str((record.dispatch or {})["region"])
        body = dict(stored.body)
        state = SubjectState.from_dict(body) if body else SubjectState(region)
        state = self._settle(state, body, now)
        if state.region != region:  # moved outside the policy (re-planned after an interruption)
            state = replace(state, region=region, pending=None, confirmed=0)
        subject = self._subject_of(record, now)
        hours = math.ceil(self.policy.horizon_hours)
        regions = sorted({region, *subject.regions})
        found = carbon_forecasts(self.carbon, regions, now, hours)
        forecast = {r: f.values for r, f in found.items()}
        share = self.renewables.quote(region, now)
        evaluation = evaluate(
            self.policy,
            state,
            glob,
            subject,
            now,
            forecast,
            renewable_share=None if share is None else share.value,
            fleet_migrating=fleet_migrating,
            fleet_size=fleet_size,
        )
        decision = evaluation.decision
        result.evaluated += 1
        if "surge:" in decision.reason and not result.surge:
            result.surge = True
            log.warning("migration surge: threshold raised", extra={"reason": decision.reason})
            self.emit("MigrationSurge", 1, {})
        log.info(
            "migration policy evaluated",
            extra={"workload_id": record.workload_id, "decision": decision.to_dict()},
        )
        if not decision.go:
            self.repo.put_policy_state(candidate.subject, stored, evaluation.state.to_dict(), now)
            return evaluation.global_state
        request = {
            "kind": KIND,
            "workload_id": record.workload_id,
            "target": decision.target,
            "basis": basis(decision, subject, forecast, self.policy),
        }
        try:
            migration = self.orchestrator.start(request, now)
        except AlreadyMigrating:
            return glob  # a start by API or CLI won the lock: nothing to record
        body = {
            **evaluation.state.to_dict(),
            "migration_id": migration["id"],
            "source": decision.source,
        }
        self.repo.put_policy_state(candidate.subject, stored, body, now)
        result.started[record.workload_id] = migration["id"]
        return evaluation.global_state

    def _settle(self, state: SubjectState, body: Mapping[str, Any], now: float) -> SubjectState:
        """Apply the outcome of the subject's last migration once it is over."""
        migration_id = body.get("migration_id")
        if not migration_id:
            return state
        m = self.repo.get(str(migration_id))
        if m is not None and not m.state.final:
            return state
        source = str(body.get("source", state.region))
        if m is None or m.state == MigrationState.CANCELLED:
            return replace(state, region=source, pending=None, confirmed=0)
        if m.state == MigrationState.COMPLETED:
            return completed(state)
        return rolled_back(self.policy, state, source, m.updated_at or now)

    def _subject_of(self, record: WorkloadRecord, now: float) -> Subject:
        """The policy's view of a running workload: its power, checkpoint, allowed regions (those
        with a checkpoint bucket) and the hours to its deadline."""
        workload = workload_of(record.spec)
        allowed = dict.fromkeys((workload.home_region, *workload.regions))
        return Subject(
            workload_id=record.workload_id,
            power_kw=workload.power_watts / 1000.0,
            checkpoint_gb=float(record.spec.get("checkpoint_gb", DEFAULT_CHECKPOINT_GB)),
            overlap_minutes=OVERLAP_MINUTES,
            regions=tuple(r for r in allowed if r in self.settings.checkpoint_buckets),
            remaining_hours=max(0.0, workload.deadline - now) / 3600.0,
        )

    def _failed(self, wid: str, exc: Exception, result: PassResult) -> None:
        log.exception("migration trigger failed", extra={"workload_id": wid})
        result.errors[wid] = f"{type(exc).__name__}: {exc}"
        self.emit("MigrationTriggerErrors", 1, {})


def basis(
    decision: Decision,
    subject: Subject,
    forecast: Mapping[str, Any],
    policy: MigrationPolicy,
) -> dict[str, float]:
    """The start request's ``basis``: mean forecast intensities of source and target over the
    hours the decision counted, and the workload's power."""
    hours = policy.horizon_hours
    if subject.remaining_hours is not None:
        hours = min(hours, subject.remaining_hours)
    source, target = forecast[decision.source], forecast[str(decision.target)]
    whole = max(1, min(len(source), len(target), math.ceil(hours)))
    return {
        "source_g_per_kwh": math.fsum(source[:whole]) / whole,
        "target_g_per_kwh": math.fsum(target[:whole]) / whole,
        "power_watts": subject.power_kw * 1000.0,
        "hours": min(hours, float(whole)),
    }
