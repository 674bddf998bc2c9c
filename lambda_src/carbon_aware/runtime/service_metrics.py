"""The service-level metrics the handlers emit for the alarms, SLOs and dashboard.

- ``DispatchWindowMet`` / ``DispatchWindowTotal``: due work dispatched within its start window
  (RUNNING after a dispatch) out of all due work settled at dispatch time (also EXPIRED because
  the window passed, or FAILED at dispatch): the dispatch availability SLI;
- ``DispatchLatencySeconds``: from the planned start to the target's start;
- ``DueIndexLagSeconds``: how long the oldest due PENDING or SCHEDULED record has been due;
- ``StuckWorkloads``: RUNNING workloads past their expected end plus the grace period (each goes
  to the watchdog);
- ``Decisions`` / ``DecisionsOnEstimates``: plans, and plans whose chosen Region's carbon data was
  an estimate (a static profile or a labelled estimate, not a live provider);
- ``RealisedSavedGrams`` / ``OracleSavedGrams``: the carbon-efficiency SLI of the workloads whose
  oracle the sweep settled (runtime.oracle): each one's saving clipped to ``[0, its oracle
  saving]`` and its oracle saving, emitted together so both sides cover the same workloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from carbon_aware.runtime.repository import WorkloadRecord
from carbon_aware.runtime.states import State

# The sweep's count of seconds the oldest due record waited (runtime.sweeper sets it).
DUE_LAG = "due_lag_seconds"
# The sweep's sums of the carbon-efficiency SLI's grams (runtime.sweeper adds them).
ORACLE_GOOD = "oracle_good_g"
ORACLE_TOTAL = "oracle_total_g"
# Entries of the sweep's counts that are not counts of outcomes.
SWEEP_FIGURES = (DUE_LAG, ORACLE_GOOD, ORACLE_TOTAL)
DISPATCH_MET = "DispatchWindowMet"
DISPATCH_TOTAL = "DispatchWindowTotal"
MISSED = (State.EXPIRED, State.FAILED)


def dispatch_outcome(status: State) -> dict[str, float]:
    """The SLI counts of one dispatch ending in ``status`` (nothing for a hand-back or a race)."""
    if status == State.RUNNING:
        return {DISPATCH_MET: 1, DISPATCH_TOTAL: 1}
    if status in MISSED:
        return {DISPATCH_MET: 0, DISPATCH_TOTAL: 1}
    return {}


def dispatch_latency(record: WorkloadRecord) -> float | None:
    """Seconds from the planned start to the target's start; None before the start."""
    started = (record.dispatch or {}).get("started_at")
    planned = (record.decision or {}).get("start_epoch")
    if record.status != State.RUNNING or started is None or planned is None:
        return None
    return max(float(started) - float(planned), 0.0)


def sweep_metrics(counts: Mapping[str, int]) -> dict[str, float]:
    """Lag, stuck workloads, the dispatch SLI counts and the carbon-efficiency SLI grams of one
    sweep's counts."""
    met = counts.get(f"dispatched:{State.RUNNING}", 0)
    missed = sum(counts.get(f"dispatched:{s}", 0) for s in MISSED)
    missed += counts.get(f"planned:{State.EXPIRED}", 0)
    return {
        "DueIndexLagSeconds": counts.get(DUE_LAG, 0),
        "StuckWorkloads": sum(v for k, v in counts.items() if k.startswith("watchdog:")),
        DISPATCH_MET: met,
        DISPATCH_TOTAL: met + missed,
        "RealisedSavedGrams": counts.get(ORACLE_GOOD, 0),
        "OracleSavedGrams": counts.get(ORACLE_TOTAL, 0),
    }


def decision_metrics(record: WorkloadRecord) -> dict[str, float]:
    """``Decisions`` and ``DecisionsOnEstimates`` of one plan (nothing without a decision)."""
    decision: Mapping[str, Any] = record.decision or {}
    region = decision.get("region")
    if region is None:
        return {}
    chosen = (decision.get("signals") or {}).get(region) or {}
    return {"Decisions": 1, "DecisionsOnEstimates": 1 if chosen.get("estimated", True) else 0}
