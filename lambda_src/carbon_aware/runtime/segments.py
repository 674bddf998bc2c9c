"""Interruptible workloads run as the engine's segments: the record's ``segments`` attribute.

``{"plan", "current", "done_seconds", "replan", "penalised", "runs": [...]}``: ``plan`` numbers
the schedules of the current plan (a schedule of an older plan is a no-op), ``current`` is the
segment being (or next to be) run, ``done_seconds`` the work checkpointed so far, ``replan`` set
when an interrupted segment waits to be re-planned from its last checkpoint (``penalised``: the
Region that interrupted it). Each run: ``region``, ``start_epoch``, ``end_epoch``, ``state``
(scheduled, running, checkpointed, done, interrupted, failed), and once started ``handle``,
``started_at``, ``resume_from``; once ended ``ended_at`` and its accounted ``result``. A run a
migration moved (runtime.migrations: checkpoint_restore, live) keeps what it ran before each move
in ``moved``: pieces with ``region``, ``handle``, ``started_at``, ``ended_at`` and ``work_seconds``
(the part of it the resumed checkpoint kept), accounted with the run (their own ``result``).

Every segment gets a schedule at its start; every segment but the last one at its end minus the
checkpoint budget, when the dispatcher stops the run (SIGTERM) so the checkpoint is written by
the planned end (the last segment runs to completion, the watchdog looks after overruns).

The contract with the workload (its environment): ``CARBON_AWARE_WORKLOAD_ID``,
``CARBON_AWARE_SEGMENT`` (0-based), ``CARBON_AWARE_CHECKPOINT_URI`` (the prefix in the segment's
Region), ``CARBON_AWARE_RESUME_FROM`` (the manifest to resume from, empty on a fresh start) and
``CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS``; exit code 75 means "checkpointed, resume me".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from carbon_aware.runtime.schedules import schedule_name

SCHEDULED = "scheduled"
RUNNING = "running"
CHECKPOINTED = "checkpointed"
DONE = "done"
INTERRUPTED = "interrupted"
FAILED = "failed"
# Runs after which a checkpoint may exist in their Region.
RAN = frozenset({CHECKPOINTED, INTERRUPTED, DONE, FAILED})
#: Set on a workload's ``dispatch`` (to the migration's id) while a live migration has paused its
#: run: the end of that run is the migration's to handle, not the next segment's.
PAUSED_BY = "paused_by"
#: A run's earlier pieces, in the Regions a migration moved it from.
MOVED = "moved"
START, END = "start", "end"


def new_runs(segments: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Scheduled runs of a decision's segments."""
    return [
        {
            "region": s["region"],
            "start_epoch": s["start_epoch"],
            "end_epoch": s["end_epoch"],
            "state": SCHEDULED,
        }
        for s in segments
    ]


def segment_schedule(workload_id: str, plan: int, index: int, action: str) -> str:
    """Name of a segment's start (``-s<k>``) or end (``-e<k>``) schedule."""
    base = schedule_name(workload_id, plan)
    return f"{base[: 64 - 6]}-{action[0]}{index}"


def schedule_times(
    runs: Sequence[Mapping[str, Any]], first: int, budget: float
) -> list[tuple[int, str, float]]:
    """``(segment, action, at)`` of every schedule of runs ``first..``: each start, and each end
    but the last one's, ``budget`` seconds early (never before its start)."""
    times = []
    for k in range(first, len(runs)):
        run = runs[k]
        times.append((k, START, float(run["start_epoch"])))
        if k < len(runs) - 1:
            stop = max(float(run["end_epoch"]) - budget, float(run["start_epoch"]))
            times.append((k, END, stop))
    return times


def pieces(runs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Everything the runs ran, in order, each accounted piece once: a moved run's earlier
    pieces, then the run itself."""
    return [p for run in runs for p in (*run.get(MOVED, ()), run) if "result" in p]


def checkpoint_sources(runs: Sequence[Mapping[str, Any]], before: int) -> list[str]:
    """Regions where runs before ``before`` may have left a checkpoint, most recent first."""
    regions: list[str] = []
    for run in reversed(runs[:before]):
        if run["state"] in RAN and run["region"] not in regions:
            regions.append(run["region"])
    return regions


def environment(
    workload_id: str, index: int, checkpoint_uri: str, resume_from: str, budget: float
) -> dict[str, str]:
    """The variables every segment's run gets."""
    return {
        "CARBON_AWARE_WORKLOAD_ID": workload_id,
        "CARBON_AWARE_SEGMENT": str(index),
        "CARBON_AWARE_CHECKPOINT_URI": checkpoint_uri,
        "CARBON_AWARE_RESUME_FROM": resume_from,
        "CARBON_AWARE_CHECKPOINT_BUDGET_SECONDS": str(int(budget)),
    }


def with_environment(target: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """``target`` with ``env`` added to its run: each named container override of an ECS task,
    the container override of a Batch job (the variables win over same-named ones)."""
    pairs = [{"name": k, "value": v} for k, v in env.items()]
    overrides = dict(target.get("overrides") or {})
    if target["type"] == "ecs":
        overrides["containerOverrides"] = [
            {**c, "environment": _merged(c.get("environment"), pairs)}
            for c in overrides.get("containerOverrides") or []
        ]
    else:
        overrides["environment"] = _merged(overrides.get("environment"), pairs)
    return {**target, "overrides": overrides}


def _merged(existing: Any, pairs: list[dict[str, str]]) -> list[dict[str, str]]:
    ours = {p["name"] for p in pairs}
    return [e for e in existing or [] if e.get("name") not in ours] + pairs
