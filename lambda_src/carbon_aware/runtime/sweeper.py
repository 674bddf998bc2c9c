"""The periodic sweep: plan what is pending, re-plan what is scheduled, recover what was lost.

- PENDING workloads are placed (in case the on-submit planning did not happen);
- SCHEDULED workloads whose start passed by more than ``LOST_AFTER`` are dispatched directly (their
  schedule was lost or failed); later ones are re-planned when the forecast changed enough;
- DISPATCHING workloads past their dispatch timeout (the executor died between claim and start)
  go back to SCHEDULED and are dispatched again at once. Targets with idempotent starts (ECS client
  token, Step Functions execution name) cannot run twice even if the dead executor had started
  them; the others may, which the README states;
- RUNNING workloads past their expected end plus a grace period go to the watchdog.
Every step goes through the same conditional writes, so a sweep racing an executor is harmless.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

from carbon_aware.runtime.dispatcher import Dispatcher
from carbon_aware.runtime.planner import Planner, SweepSignals
from carbon_aware.runtime.repository import Conflict, WorkloadRepository
from carbon_aware.runtime.states import State
from carbon_aware.runtime.watchdog import Watchdog

LOST_AFTER = 120.0
SIGNAL_WINDOW = 7 * 86400.0


@dataclass(frozen=True)
class Sweeper:
    """One pass over the due index."""

    repo: WorkloadRepository
    planner: Planner
    dispatcher: Dispatcher
    watchdog: Watchdog | None = None

    def sweep(self, now: float, *, replan: bool = True) -> Counter:
        """Run every step once; returns counts of what happened."""
        counts: Counter = Counter()
        memo = SweepSignals(self.planner.signals, now, now + SIGNAL_WINDOW)
        planner = dataclasses.replace(self.planner, signals=memo)
        for record in self.repo.due(State.PENDING, now):
            try:
                counts[f"planned:{planner.plan(record, now).status}"] += 1
            except Conflict:
                counts["conflict"] += 1
        for record in self.repo.due(State.DISPATCHING, now):
            try:
                back = self.repo.transition(
                    record,
                    State.SCHEDULED,
                    now=now,
                    reason="recovered: dispatch did not finish in time",
                    due_at=now,
                )
            except Conflict:
                counts["conflict"] += 1
                continue
            counts["recovered"] += 1
            self.dispatcher.dispatch(back.workload_id, back.version, now)
        for record in self.repo.due(State.SCHEDULED, now - LOST_AFTER):
            result = self.dispatcher.dispatch(record.workload_id, None, now)
            counts[f"dispatched:{result.status if result else 'lost-race'}"] += 1
        if self.watchdog is not None:
            for record in self.repo.due(State.RUNNING, now):
                counts[self.watchdog.check(record, now)] += 1
        if replan:
            for record in self.repo.due(State.SCHEDULED):
                if record.due_at is None or record.due_at <= now:
                    continue
                try:
                    updated = planner.replan(record, now)
                except Conflict:
                    counts["conflict"] += 1
                    continue
                counts["replanned" if updated.version != record.version else "kept"] += 1
        return counts
