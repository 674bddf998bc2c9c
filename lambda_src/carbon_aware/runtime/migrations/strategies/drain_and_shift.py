"""drain_and_shift: move ``count`` instances of a fleet from one region's group to another's.

Launch before drain, always: preparing raises the target group's desired capacity; migrating
waits until the target has that many InService, healthy instances and only then lowers the
source (never below its floor, the fleet's ``min_share`` of its desired total); the source's
instances drain through the group's terminate lifecycle hook, which the interruptions function
already handles (runtime.interruptions.lifecycle: heartbeats, always completed). migrating is
done once the source has no more InService instances than its goal. completing hands the new
split to the fleet optimizer: the fleet's stored allocation (its committed target) becomes the
migration's goal, so the optimizer carries on from it instead of undoing it.

The optimizer owns desired capacity; while a migration holds the fleet's lock the optimizer
leaves the fleet alone (``FleetOptimizer(hold=...)``), so the two never write the same group.

Rollback raises the source back to its original desired capacity first, then lowers the target
back once the source is healthy again (or the rollback timed out): desired capacity of the fleet
never drops below what it was before the migration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from carbon_aware.engine.fleet import share_cap
from carbon_aware.runtime.fleet.repository import Conflict as FleetConflict
from carbon_aware.runtime.fleet.repository import FleetRepository
from carbon_aware.runtime.fleet.settings import FleetConfig
from carbon_aware.runtime.migrations.repository import Migration, fleet_subject
from carbon_aware.runtime.migrations.strategies import (
    Outcome,
    SpecError,
    StepFailed,
    check_basis,
    check_move,
    net_grams,
    overhead_grams,
)
from carbon_aware.runtime.migrations.strategies.groups import Group, read_group, set_desired

KIND = "drain_and_shift"
_FIELDS = {"kind", "fleet", "source", "target", "count", "basis"}


@dataclass(frozen=True)
class DrainAndShift:
    """The strategy for fleets (see the module docstring); ``autoscaling(region)`` clients."""

    fleets: Mapping[str, FleetConfig]
    autoscaling: Callable[[str], Any]
    fleet_repo: FleetRepository
    kind: str = KIND

    def check(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Normalised spec: fleet, source, target, count (and the optional basis)."""
        regions = {name: config.policy.regions for name, config in self.fleets.items()}
        fleet, source, target = check_move(request, KIND, _FIELDS, "fleet", regions)
        count = request.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SpecError("count: must be an integer >= 1")
        return {
            "fleet": fleet,
            "source": source,
            "target": target,
            "count": count,
            "basis": check_basis(request),
        }

    def subject(self, spec: Mapping[str, Any]) -> str:
        """One live migration per fleet."""
        return fleet_subject(spec["fleet"])

    def validate(self, m: Migration, now: float) -> Outcome:
        """Read both groups: the source can give ``count`` above its floor, the target can take
        them; the original and goal capacities are recorded before anything changes."""
        config = self.fleets.get(m.spec["fleet"])
        if config is None:
            raise StepFailed(f"fleet {m.spec['fleet']} is no longer configured")
        source, target, count = m.spec["source"], m.spec["target"], m.spec["count"]
        src, tgt = self._group(config, source), self._group(config, target)
        floor = share_cap(config.policy.min_share_of(source), config.desired_total)
        if src.desired - count < floor:
            raise StepFailed(
                f"{source} has desired {src.desired}; moving {count} would go below its "
                f"floor {floor}"
            )
        if tgt.desired + count > tgt.max_size:
            raise StepFailed(f"{target} group max size {tgt.max_size} < {tgt.desired + count}")
        return Outcome(
            True,
            {
                "original": {source: src.desired, target: tgt.desired},
                "goal": {source: src.desired - count, target: tgt.desired + count},
                "floor": floor,
            },
            f"move {count} from {source} ({src.desired}) to {target} ({tgt.desired})",
        )

    def prepare(self, m: Migration, now: float) -> Outcome:
        """Launch first: raise the target to its goal."""
        target = m.spec["target"]
        goal = m.data["goal"][target]
        group = self._group(self._config(m), target)
        if group.desired < goal:
            self._set(m, target, goal)
        return Outcome(True, {"launched_at": m.data.get("launched_at", now)}, f"{target} -> {goal}")

    def migrate(self, m: Migration, now: float) -> Outcome:
        """Once the target is healthy at its goal, drain the source down to its goal."""
        config = self._config(m)
        source, target = m.spec["source"], m.spec["target"]
        goal = m.data["goal"]
        tgt = self._group(config, target)
        if tgt.desired < goal[target]:
            raise StepFailed(f"{target} desired capacity changed to {tgt.desired} under us")
        if tgt.healthy < goal[target]:
            return Outcome(False, note=f"{target} healthy {tgt.healthy}/{goal[target]}")
        src = self._group(config, source)
        lowest = max(goal[source], m.data["floor"])
        if src.desired > lowest:
            self._set(m, source, lowest)
        if src.healthy > lowest:
            return Outcome(False, note=f"{source} draining: {src.healthy} > {lowest}")
        return Outcome(True, {"released_at": m.data.get("released_at", now)}, "source drained")

    def complete(self, m: Migration, now: float) -> Outcome:
        """Commit the new split as the fleet's allocation (the optimizer's committed target)."""
        goal = m.data["goal"]
        state = self.fleet_repo.state(m.spec["fleet"])
        if all(state.allocation.get(r) == n for r, n in goal.items()):
            return Outcome(True, note="allocation committed")
        try:
            self.fleet_repo.save_state(
                replace(
                    state,
                    allocation={**state.allocation, **goal},
                    last_change_at=now,
                    updated_at=now,
                )
            )
        except FleetConflict:
            return Outcome(False, note="fleet state changed; retrying")
        return Outcome(True, note="allocation committed")

    def rollback(self, m: Migration, now: float) -> Outcome:
        """Restore the source first, then lower the target back."""
        original = m.data.get("original")
        if not original:
            return Outcome(True, note="nothing was changed")
        config = self._config(m)
        source, target = m.spec["source"], m.spec["target"]
        src = self._group(config, source)
        if src.desired < original[source]:
            self._set(m, source, original[source])
        source_back = src.healthy >= original[source]
        timed_out = m.deadline is not None and now >= m.deadline
        if not (source_back or timed_out):
            return Outcome(False, note=f"{source} healthy {src.healthy}/{original[source]}")
        tgt = self._group(config, target)
        if tgt.desired > original[target]:
            self._set(m, target, original[target])
        return Outcome(True, note=f"{source} -> {original[source]}, {target} -> {original[target]}")

    def grams(self, m: Migration) -> dict[str, Any]:
        """Moved instances, with the time both regions ran them as the overhead."""
        overlap = m.data.get("released_at", 0.0) - m.data.get("launched_at", 0.0)
        return net_grams(m.spec.get("basis"), m.spec["count"], overlap)

    def rollback_grams(self, m: Migration, now: float) -> dict[str, Any]:
        """The launched instances' time beside the source, if they were launched."""
        overlap = now - m.data["launched_at"] if "launched_at" in m.data else 0.0
        return overhead_grams(m.spec.get("basis"), m.spec["count"], overlap)

    def _config(self, m: Migration) -> FleetConfig:
        config = self.fleets.get(m.spec["fleet"])
        if config is None:
            raise StepFailed(f"fleet {m.spec['fleet']} is no longer configured")
        return config

    def _group(self, config: FleetConfig, region: str) -> Group:
        return read_group(self.autoscaling(region), config.groups[region], region)

    def _set(self, m: Migration, region: str, desired: int) -> None:
        set_desired(self.autoscaling(region), self._config(m).groups[region], desired)
