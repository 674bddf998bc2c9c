"""Re-placing a workload whose run a spot interruption stopped: through the planner, avoiding
the Region that interrupted it. An interruptible (segmented) workload is not re-placed here: the
completion function ends its segment on the same event and the sweep resumes it from its last
checkpoint away from that Region (runtime.planner.Planner.resume_segments)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from carbon_aware.runtime.planner import Planner
from carbon_aware.runtime.repository import WorkloadRecord
from carbon_aware.runtime.states import State

REASON = "re-placed after a spot interruption"


def avoiding(spec: Mapping[str, Any], region: str) -> dict[str, Any]:
    """``spec`` without ``region`` among its candidate Regions, unless it is the only one."""
    home = spec.get("home_region")
    regions = [r for r in spec.get("regions", [home]) if r != region]
    return {**spec, "regions": regions} if regions else dict(spec)


def replacements(record: WorkloadRecord) -> int:
    """How often the workload was re-placed after an interruption (its history)."""
    return sum(1 for h in record.history if str(h.get("reason", "")).startswith(REASON))


def replan_interrupted(
    planner: Planner, record: WorkloadRecord, *, region: str, now: float, max_replacements: int
) -> WorkloadRecord:
    """Plan a RUNNING workload again, away from ``region``; FAILED once it was re-placed
    ``max_replacements`` times. Anything not RUNNING (a duplicate, a late event) or segmented is
    unchanged."""
    if record.status != State.RUNNING or record.segments is not None:
        return record
    count = replacements(record)
    if count >= max_replacements:
        return planner.repo.transition(
            record,
            State.FAILED,
            now=now,
            reason=f"interrupted again in {region} after {count} re-placements",
        )
    moved = dataclasses.replace(record, spec=avoiding(record.spec, region))
    return planner.plan(moved, now, reason=f"{REASON} in {region}")
