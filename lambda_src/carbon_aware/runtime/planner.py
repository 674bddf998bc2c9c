"""Planning: place pending workloads with the engine, persist the decision, schedule the executor.

Re-planning moves a not-yet-started workload only when the fresh forecast says the new placement
beats the current one by more than ``replan_threshold`` (hysteresis), so schedules do not churn.
A blended-strategy workload submitted without prices is priced from the price cache when it holds
prices for what the workload runs (:mod:`carbon_aware.runtime.pricing`).

An interruptible workload is planned as the engine's segments, with a schedule at each segment's
start and end (:mod:`carbon_aware.runtime.segments`); its moves between Regions pay the
strategy's ``migration_penalty_g`` plus the checkpoint's transfer, in grams at the module's
carbon price when one is set, and always in the decision's ``cost_usd``. It is not re-planned by
hysteresis; an interrupted segment is re-planned from its last checkpoint by
:meth:`Planner.resume_segments` (the sweep, or the interruptions function, calls it).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from carbon_aware.engine import Placement, SignalError, SignalSet
from carbon_aware.engine.backtest import actual_emissions_g
from carbon_aware.engine.placement import Segment
from carbon_aware.engine.strategies import BLEND_WEIGHTS, FollowTheSun, Strategy
from carbon_aware.engine.timeutil import iso
from carbon_aware.engine.workload import Workload
from carbon_aware.runtime.config import WorkloadSettings
from carbon_aware.runtime.pricing import CachedPrices, PriceBook
from carbon_aware.runtime.repository import WorkloadRecord, WorkloadRepository
from carbon_aware.runtime.schedules import ScheduleGateway, schedule_name
from carbon_aware.runtime.segments import new_runs, schedule_times, segment_schedule
from carbon_aware.runtime.states import State
from carbon_aware.runtime.submission import (
    DEFAULT_CHECKPOINT_GB,
    SubmissionError,
    check_regions,
    cost_notes,
    strategy_of,
    workload_of,
)
from carbon_aware.signals.catalog import UnknownRegionError

MIN_SCHEDULE_LEAD = 60.0
DISPATCH_MARGIN = 900.0
REPLAN_LEAD = 300.0


class SignalSource(Protocol):
    """Carbon signals (forecast ahead, observations behind) for regions over a time range."""

    def signal_set(self, regions: Sequence[str], start: float, end: float) -> SignalSet: ...


class SweepSignals:
    """Reads each set of regions once per sweep, over one wide window, and serves slices of it:
    planning thousands of workloads costs a handful of cache queries, not one per workload.
    Safe to share between the sweep's worker threads."""

    def __init__(self, source: SignalSource, start: float, end: float) -> None:
        self.source, self.start, self.end = source, start, end
        self.read: dict[tuple[str, ...], SignalSet] = {}
        self.lock = threading.Lock()

    def signal_set(self, regions: Sequence[str], start: float, end: float) -> SignalSet:
        """The signals on ``[start, end)``, from the sweep's read when it covers them."""
        if start < self.start or end > self.end:
            return self.source.signal_set(regions, start, end)
        key = tuple(sorted(set(regions)))
        with self.lock:
            if key not in self.read:
                self.read[key] = self.source.signal_set(key, self.start, self.end)
            wide = self.read[key]
        return SignalSet.of(wide[r].window(start, end) for r in wide.regions)


@dataclass(frozen=True)
class Planner:
    """Turns PENDING workloads into SCHEDULED ones, and re-plans them when it pays."""

    repo: WorkloadRepository
    signals: SignalSource
    schedules: ScheduleGateway
    settings: WorkloadSettings
    prices: PriceBook | None = None

    def plan(self, record: WorkloadRecord, now: float, reason: str = "planned") -> WorkloadRecord:
        """Place a PENDING workload (or an interrupted RUNNING one); invalid and infeasible ones end
        FAILED (or EXPIRED) with the reason. Records stored before validation at the door are
        checked here the same way."""
        try:
            submitted = workload_of(record.spec)
            check_regions(record.spec, self.settings)
            strategy_of(record.spec, self.settings)
        except SubmissionError as exc:
            return self.repo.transition(record, State.FAILED, now=now, reason=f"invalid: {exc}")
        if submitted.latest_start < max(now, submitted.start_after):
            return self.repo.transition(
                record, State.EXPIRED, now=now, reason="deadline can no longer be met"
            )
        spec, cached = self._priced(record.spec, submitted)
        workload = self._workload(spec, now)
        try:
            signals = self._signals(workload)
        except UnknownRegionError as exc:
            return self.repo.transition(record, State.FAILED, now=now, reason=f"invalid: {exc}")
        placement = self._strategy(spec).place(workload, signals)
        if not placement.placed:
            return self.repo.transition(
                record, State.FAILED, now=now, reason=f"infeasible: {placement.reason}"
            )
        if workload.interruptible:
            return self._schedule_segments(record, spec, workload, placement, signals, now, [])
        return self._schedule(record, spec, cached, workload, placement, signals, now, reason)

    def resume_segments(
        self, record: WorkloadRecord, now: float, penalised: str | None = None
    ) -> WorkloadRecord:
        """Re-plan an interrupted segmented workload's remaining work from its last checkpoint,
        from ``now``, away from ``penalised`` (default: the Region that interrupted it) when it
        has other Regions. A no-op unless the record waits for it (SCHEDULED with ``replan``);
        FAILED when the rest no longer fits before the deadline."""
        segmented = record.segments or {}
        if record.status != State.SCHEDULED or not segmented.get("replan"):
            return record
        submitted = workload_of(record.spec)
        remaining = max(submitted.duration - float(segmented.get("done_seconds", 0.0)), 60.0)
        avoid = penalised or segmented.get("penalised")
        regions = [r for r in submitted.regions if r != avoid] or list(submitted.regions)
        if now + remaining > submitted.deadline:
            return self.repo.transition(
                record,
                State.FAILED,
                now=now,
                reason=f"infeasible to resume: {remaining / 60:.0f} min of work left after the "
                "last checkpoint no longer fit before the deadline",
            )
        rest = dataclasses.replace(submitted, duration=remaining, regions=tuple(regions))
        workload = self._workload_of(rest, now)
        signals = self._signals(workload)
        placement = self._strategy(record.spec).place(workload, signals)
        if not placement.placed:
            return self.repo.transition(
                record, State.FAILED, now=now, reason=f"infeasible to resume: {placement.reason}"
            )
        done = segmented["runs"][: segmented["current"] + 1]
        return self._schedule_segments(record, record.spec, workload, placement, signals, now, done)

    def replan(self, record: WorkloadRecord, now: float) -> WorkloadRecord:
        """Move a SCHEDULED workload if the fresh forecast beats its decision by the threshold."""
        decision = record.decision or {}
        start = decision.get("start_epoch", 0.0)
        if record.status != State.SCHEDULED or start < now + REPLAN_LEAD or record.segments:
            return record
        submitted = workload_of(record.spec)
        if submitted.latest_start < now:
            return record
        spec, cached = self._priced(record.spec, submitted)
        workload = self._workload(spec, now)
        signals = self._signals(workload)
        placement = strategy_of(spec, self.settings).place(workload, signals)
        if not placement.placed:
            return record
        segments = [
            Segment(s["region"], s["start_epoch"], s["end_epoch"]) for s in decision["segments"]
        ]
        try:
            current = actual_emissions_g(segments, workload.power_watts, signals)
        except SignalError:
            current = float("inf")
        if placement.emissions_g >= current * (1.0 - self.settings.replan_threshold):
            return record
        old_schedule = record.decision.get("schedule")
        updated = self._schedule(
            record, spec, cached, workload, placement, signals, now, "re-planned"
        )
        if old_schedule:
            self.schedules.delete(old_schedule)
        return updated

    def _priced(
        self, spec: Mapping[str, Any], workload: Workload
    ) -> tuple[Mapping[str, Any], CachedPrices | None]:
        """The spec with prices from the cache when a blended strategy would otherwise rank it
        on carbon alone (no submitted prices), and the cache's answer."""
        name = spec.get("strategy", self.settings.default_strategy)
        if self.prices is None or spec.get("prices") or name not in BLEND_WEIGHTS:
            return spec, None
        regions = sorted({workload.home_region, *workload.regions})
        cached = self.prices.lookup(spec, regions)
        if cached is None:
            return spec, None
        return {**spec, "prices": cached.prices}, cached

    def _workload(self, spec: Mapping[str, Any], now: float) -> Workload:
        """The workload as planned now: not before ``now``, and finishing ``DISPATCH_MARGIN``
        before its deadline when the slack allows, so a schedule that fires a little late (or a
        retried dispatch) still meets the deadline."""
        return self._workload_of(workload_of(spec), now)

    def _workload_of(self, workload: Workload, now: float) -> Workload:
        start = max(now, workload.start_after)
        deadline = max(workload.deadline - DISPATCH_MARGIN, start + workload.duration)
        return dataclasses.replace(workload, earliest_start=start, deadline=deadline)

    def _strategy(self, spec: Mapping[str, Any]) -> Strategy:
        """The workload's strategy; follow_the_sun's migration penalty also pays the checkpoint's
        transfer, in grams at the module's carbon price when one is set."""
        strategy = strategy_of(spec, self.settings)
        price = self.settings.blend_options.get("carbon_price_usd_per_tonne")
        if not isinstance(strategy, FollowTheSun) or not price:
            return strategy
        grams = self._transfer_usd(spec) / price * 1e6
        return dataclasses.replace(
            strategy, migration_penalty_g=strategy.migration_penalty_g + grams
        )

    def _transfer_usd(self, spec: Mapping[str, Any]) -> float:
        """What carrying the workload's checkpoint to another Region costs."""
        size = float(spec.get("checkpoint_gb", DEFAULT_CHECKPOINT_GB))
        return size * self.settings.transfer_usd_per_gb

    def _schedule_segments(
        self,
        record: WorkloadRecord,
        spec: Mapping[str, Any],
        workload: Workload,
        placement: Placement,
        signals: SignalSet,
        now: float,
        done: list[dict[str, Any]],
    ) -> WorkloadRecord:
        """SCHEDULED with the new segments after the ``done`` ones, and their schedules."""
        start = max(placement.start, now + MIN_SCHEDULE_LEAD)
        decision = _decision(workload, placement, signals, now, start)
        runs = done + new_runs(decision["segments"])
        regions = [r["region"] for r in runs]
        moves = sum(a != b for a, b in itertools.pairwise(regions))
        strategy = self._strategy(spec)
        # Other strategies keep a plan in one Region (moves only come from re-plans).
        penalty = strategy.migration_penalty_g if isinstance(strategy, FollowTheSun) else 0.0
        transfer = moves * self._transfer_usd(spec)
        decision["migration"] = {
            "moves": moves,
            "penalty_g": penalty,
            "objective_g": placement.emissions_g + moves * penalty,
            "transfer_usd": transfer,
            "transfer_usd_per_gb": self.settings.transfer_usd_per_gb,
        }
        decision["cost_usd"] = (placement.cost_usd or 0.0) + transfer
        plan = record.version + 1
        decision["schedule"] = segment_schedule(record.workload_id, plan, len(done), "start")
        segmented = {
            "plan": plan,
            "current": len(done),
            "done_seconds": (record.segments or {}).get("done_seconds", 0.0),
            "replan": False,
            "runs": runs,
        }
        reason = "re-planned from the last checkpoint" if done else "planned"
        updated = self.repo.transition(
            record,
            State.SCHEDULED,
            now=now,
            reason=f"{reason}: {len(runs) - len(done)} segments from {placement.region} at "
            f"{iso(start)}",
            due_at=start,
            updates={"decision": decision, "segments": segmented},
        )
        for k, action, at in schedule_times(runs, len(done), self.settings.checkpoint_budget):
            payload = {"workload_id": record.workload_id, "plan": plan, "segment": k}
            name = segment_schedule(record.workload_id, plan, k, action)
            self.schedules.create_at(name, at, {**payload, "action": action})
        return updated

    def _signals(self, workload: Workload) -> SignalSet:
        regions = sorted({workload.home_region, *workload.regions})
        return self.signals.signal_set(regions, workload.start_after, workload.deadline)

    def _schedule(
        self,
        record: WorkloadRecord,
        spec: Mapping[str, Any],
        cached: CachedPrices | None,
        workload: Workload,
        placement: Placement,
        signals: SignalSet,
        now: float,
        reason: str,
    ) -> WorkloadRecord:
        start = max(placement.start, now + MIN_SCHEDULE_LEAD)
        decision = _decision(workload, placement, signals, now, start)
        decision.update(cost_notes(spec, self.settings, cached.sources if cached else None))
        decision["schedule"] = schedule_name(record.workload_id, record.version + 1)
        updated = self.repo.transition(
            record,
            State.SCHEDULED,
            now=now,
            reason=f"{reason}: {placement.region} at {iso(start)}",
            due_at=start,
            updates={"decision": decision},
        )
        self.schedules.create(updated.workload_id, updated.version, start)
        return updated


def _decision(
    workload: Workload, placement: Placement, signals: SignalSet, now: float, start: float
) -> dict[str, Any]:
    shift = start - placement.start
    segments = [
        {
            "region": s.region,
            "start": iso(s.start + shift),
            "end": iso(s.end + shift),
            "start_epoch": s.start + shift,
            "end_epoch": s.end + shift,
        }
        for s in placement.segments
    ]
    baseline = None
    home = workload.home_region
    if home in signals and signals[home].covers(
        workload.start_after, workload.start_after + workload.duration
    ):
        baseline = signals[home].emissions_g(
            workload.power_watts, workload.start_after, workload.start_after + workload.duration
        )
    return {
        "strategy": placement.strategy,
        "region": placement.region,
        "start": iso(start),
        "start_epoch": start,
        "segments": segments,
        "expected_g": placement.emissions_g,
        "baseline_g": baseline,
        "cost_usd": placement.cost_usd,
        "planned_at": iso(now),
        "signals": {
            r: {
                "source": signals[r].source,
                "signal_type": str(signals[r].signal_type),
                "estimated": signals[r].estimated,
            }
            for r in signals.regions
        },
    }
