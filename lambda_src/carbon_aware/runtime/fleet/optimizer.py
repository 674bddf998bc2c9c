"""The fleet optimizer: per fleet, read signals and groups, decide, apply launch before drain.

One run per schedule tick. For each fleet: carbon forecasts over the dwell horizon, spot prices
and placement scores, each group's desired and InService capacity (DescribeAutoScalingGroups);
:func:`decide` on the fleet's committed target (the stored allocation, so a move in progress is
not re-decided from its transient, raised capacities); :func:`apply_plan` and SetDesiredCapacity
where the plan differs; the tier's target-tracking policy where the tier changed; the decision
stored with its inputs. Capacity the interruptions function marked unavailable (an instance type
in an Availability Zone that just sent a spot interruption warning) lowers that region's placement
score by the share of the fleet's instance types marked there (:func:`penalised_score`), so capacity
moves away from where it was just lost. A replacement the interruptions function holds for an
instance at risk (a rebalance recommendation with the ``prepare`` action) is kept on top of the
plan: each live preparation for a fleet's group adds one to that group's desired capacity, never
above its MaxSize, until the instance stops or the preparation expires. A fleet that fails (bad
configuration, missing group, API error) is logged and counted and never stops the others.

Each decision also accounts the interval since the previous run (``engine.fleet_footprint``): the
instances InService then, per region and instance type, times each type's power (its vCPUs and
memory from DescribeInstanceTypes, CCF coefficients), the mean intensity the signal reader holds
for the interval, and each type's spot price. An interval longer than :data:`MAX_ACCOUNTED_GAP`
(the optimizer did not run, or a migration held the fleet) is not guessed: the decision says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from carbon_aware.engine.fleet_footprint import FootprintError, footprint
from carbon_aware.engine.fleet_policy import (
    FleetDecision,
    GroupState,
    RegionSignals,
    apply_plan,
    decide,
    scaling_target,
)
from carbon_aware.runtime.fleet.instances import InstancePower
from carbon_aware.runtime.fleet.repository import FleetRepository, FleetState
from carbon_aware.runtime.fleet.scaling import put_target_tracking
from carbon_aware.runtime.fleet.settings import FleetConfig, FleetSettings
from carbon_aware.runtime.fleet.sources import (
    PlacementScoreSource,
    RenewableSource,
    SignalSetSource,
    SpotPriceSource,
    carbon_forecasts,
    describe,
    known_prices,
)
from carbon_aware.signals.prices.unavailable import Mark, Preparation

log = logging.getLogger(__name__)
Emit = Callable[[str, float, dict[str, str]], None]
HOUR = 3600.0
#: The longest interval between two runs that is accounted at the first run's instances.
MAX_ACCOUNTED_GAP = 3600.0
#: The type of an instance whose group does not say (its footprint cannot be computed).
UNKNOWN_TYPE = "unknown"


class MarkSource(Protocol):
    """Capacity marked unavailable and replacements held in a region
    (``signals.prices.unavailable.CapacityMarks``)."""

    def marked(self, region: str, now: float) -> list[Mark]: ...

    def prepared(self, region: str, now: float) -> list[Preparation]: ...


def penalised_score(score: int, instance_types: Sequence[str], marks: Sequence[Mark]) -> int:
    """``score`` lowered by the share of ``instance_types`` marked unavailable (any zone); every
    type marked (or any mark for a fleet that names no types) gives the worst score, 1."""
    if not marks:
        return score
    marked = {m.instance_type for m in marks}
    share = len(marked & set(instance_types)) / len(instance_types) if instance_types else 1.0
    return max(1, round(score - (score - 1) * share))


class FleetRunError(Exception):
    """A fleet cannot be run (missing group, no usable signals)."""


@dataclass
class Plan:
    """A decision and what applying it would set, before any write."""

    decision: FleetDecision
    groups: dict[str, GroupState]
    running: dict[str, dict[str, int]]
    desired: dict[str, int]
    state: FleetState
    budget_exhausted: bool = False
    carbon_now: dict[str, float] = field(default_factory=dict)
    prepared: dict[str, int] = field(default_factory=dict)


class FleetOptimizer:
    """Runs every configured fleet (see the module docstring)."""

    def __init__(
        self,
        settings: FleetSettings,
        *,
        autoscaling: Callable[[str], Any],
        repository: FleetRepository,
        carbon: SignalSetSource,
        prices: SpotPriceSource,
        scores: PlacementScoreSource,
        renewables: RenewableSource,
        marks: MarkSource | None = None,
        emit: Emit | None = None,
        hold: Callable[[str], str | None] | None = None,
        power: InstancePower | None = None,
    ) -> None:
        """``hold(fleet)`` names the migration that owns the fleet's capacity now, if any
        (runtime.migrations): such a fleet is left alone until the migration ends. ``power``
        gives watts per instance type; without it decisions carry no footprint."""
        self.settings = settings
        self.autoscaling = autoscaling
        self.repository = repository
        self.carbon = carbon
        self.prices = prices
        self.scores = scores
        self.renewables = renewables
        self.marks = marks
        self.emit = emit or (lambda name, value, dimensions: None)
        self.hold = hold or (lambda fleet: None)
        self.power = power

    def run(self, now: float, only: Sequence[str] | None = None) -> dict[str, Any]:
        """Run every fleet (or those named in ``only``); ``{"fleets": {name: summary}, "failed": n,
        "errors": {name: why}}``. A name in ``only`` that is not configured is an error."""
        errors = dict(self.settings.errors)
        fleets: dict[str, Any] = {}
        selected = dict(self.settings.fleets)
        if only is not None:
            errors = {n: e for n, e in errors.items() if n in only}
            errors.update(
                {n: "no such fleet" for n in only if n not in selected and n not in errors}
            )
            selected = {n: c for n, c in selected.items() if n in only}
        for name, config in sorted(selected.items()):
            try:
                migration = self.hold(name)
                if migration is not None:
                    fleets[name] = {"fleet": name, "held_by_migration": migration}
                    continue
                fleets[name] = self.run_fleet(config, now)
            except Exception as exc:  # one bad fleet never stops the others
                log.exception("fleet %s failed", name)
                errors[name] = f"{type(exc).__name__}: {exc}"
        for name in sorted(errors):
            log.error("fleet %s not run: %s", name, errors[name])
            self.emit("FleetFailures", 1, {"Fleet": name})
        return {"fleets": fleets, "failed": len(errors), "errors": errors}

    def plan(self, config: FleetConfig, now: float) -> Plan:
        """Read everything and decide; nothing is written."""
        policy = config.policy
        state = self.repository.state(config.name)
        described = {r: self.group_state(r, config.groups[r]) for r in policy.regions}
        groups = {r: group for r, (group, _, _) in described.items()}
        committed = {
            r: GroupState(r, state.allocation.get(r, g.desired), g.in_service)
            for r, g in groups.items()
        }
        signals, exhausted, carbon_now = self.signals(config, now)
        decision = decide(
            policy,
            signals,
            committed,
            total=config.desired_total,
            now=now,
            last_change_at=state.last_change_at,
        )
        planned = apply_plan(groups, decision.allocation, floors=decision.floors)
        prepared = self.prepared(config, now)
        desired = {
            r: value + min(prepared.get(r, 0), max(0, described[r][1] - value))
            for r, value in planned.items()
        }
        running = {r: types for r, (_, _, types) in described.items()}
        return Plan(decision, groups, running, desired, state, exhausted, carbon_now, prepared)

    def prepared(self, config: FleetConfig, now: float) -> dict[str, int]:
        """Live preparations (replacements held for instances at risk) per region of the fleet."""
        if self.marks is None:
            return {}
        return {
            r: sum(1 for p in self.marks.prepared(r, now) if p.group == config.groups[r])
            for r in config.policy.regions
        }

    def run_fleet(self, config: FleetConfig, now: float) -> dict[str, Any]:
        """Plan, apply, scale and record one fleet; the stored decision."""
        plan = self.plan(config, now)
        decision = plan.decision
        launches = 0
        for region, value in sorted(plan.desired.items()):
            before = plan.groups[region].desired
            if value != before:
                self.autoscaling(region).set_desired_capacity(
                    AutoScalingGroupName=config.groups[region],
                    DesiredCapacity=value,
                    HonorCooldown=False,
                )
                launches += max(0, value - before)
        scaling = self.scale(config, plan)
        changed = decision.changed
        stored = FleetState(
            fleet=config.name,
            allocation=dict(decision.allocation),
            last_change_at=now if changed else plan.state.last_change_at,
            scaling_targets={**plan.state.scaling_targets, **scaling},
            updated_at=now,
            version=plan.state.version,
            running=plan.running,
        )
        self.repository.save_state(stored)
        record = {
            **decision.to_dict(),
            "applied": dict(plan.desired),
            "groups": {
                r: {"desired": g.desired, "in_service": g.in_service}
                for r, g in plan.groups.items()
            },
            "launches": launches,
            "prepared": dict(plan.prepared),
            "scaling_targets": dict(stored.scaling_targets),
            "placement_score_budget_exhausted": plan.budget_exhausted,
            **self.account(config, plan.state, now),
        }
        self.repository.record(record, now)
        self.metrics(config.name, plan, launches, record)
        return record

    def account(self, config: FleetConfig, previous: FleetState, now: float) -> dict[str, Any]:
        """The footprint of ``[previous run, now)`` at the instances InService at the previous run:
        ``{"footprint": {...}, "emissions_g", "baseline_g", "saved_g", "cost_usd"}``, or
        ``{"footprint": {"skipped": why}}``. Never raises: the decision stands without it."""
        start = previous.updated_at
        if self.power is None:
            return {"footprint": {"skipped": "no instance power source configured"}}
        if start is None or not previous.running:
            return {"footprint": {"skipped": "first run: no earlier instances to account"}}
        if now - start > MAX_ACCOUNTED_GAP:
            gap = (now - start) / 60.0
            return {"footprint": {"skipped": f"{gap:.0f} min since the last run: not accounted"}}
        try:
            regions = config.policy.regions
            signals = self.carbon.signal_set(list(regions), start, now)
            intensities, sources = {}, {}
            for region in regions:
                if region not in signals:
                    continue
                signal = signals[region]
                lo, hi = max(start, signal.start), min(now, signal.end)
                if hi > lo:
                    intensities[region] = float(signal.integral(lo, hi)) * HOUR / (hi - lo)
                    sources[region] = signal.source + (" (estimated)" if signal.estimated else "")
            usages = {}
            for region, types in previous.running.items():
                if region not in regions:
                    continue
                names = sorted(t for t in types if t != UNKNOWN_TYPE)
                usages[region] = (
                    types,
                    self.power.watts(region, names),
                    self.prices.type_prices(region, names),
                )
            result = footprint(start, now, regions[0], intensities, usages)
        except (FootprintError, FleetRunError) as exc:
            return {"footprint": {"skipped": str(exc)}}
        except Exception as exc:  # a footprint never stops the decision
            log.exception("fleet %s: footprint failed", config.name)
            return {"footprint": {"skipped": f"{type(exc).__name__}: {exc}"}}
        accounted = result.to_dict()
        accounted["intensity_sources"] = sources
        accounted["signal_type"] = str(signals[regions[0]].signal_type)
        figures = ("emissions_g", "baseline_g", "saved_g", "cost_usd")
        return {"footprint": accounted, **{k: accounted[k] for k in figures}}

    def group_state(self, region: str, group: str) -> tuple[GroupState, int, dict[str, int]]:
        """Desired and InService capacity of one Auto Scaling group, its MaxSize, and its
        InService instances per instance type."""
        response = self.autoscaling(region).describe_auto_scaling_groups(
            AutoScalingGroupNames=[group]
        )
        found = response.get("AutoScalingGroups", [])
        if not found:
            raise FleetRunError(f"Auto Scaling group {group} not found in {region}")
        instances = found[0].get("Instances", [])
        running: dict[str, int] = {}
        for instance in instances:
            if instance.get("LifecycleState") == "InService":
                kind = str(instance.get("InstanceType") or UNKNOWN_TYPE)
                running[kind] = running.get(kind, 0) + 1
        return (
            GroupState(region, int(found[0]["DesiredCapacity"]), sum(running.values())),
            int(found[0]["MaxSize"]),
            running,
        )

    def signals(
        self, config: FleetConfig, now: float
    ) -> tuple[list[RegionSignals], bool, dict[str, float]]:
        """Each region's signals; whether the placement-score budget ran out; carbon now."""
        policy = config.policy
        regions = policy.regions
        forecasts = carbon_forecasts(self.carbon, regions, now, policy.horizon_hours)
        prices = known_prices(
            {r: self.prices.prices(r, config.instance_types, now) for r in regions}
        )
        scores = self.scores.scores(regions, config.instance_types, config.desired_total, now)
        exhausted = bool(getattr(scores, "budget_exhausted", False))
        found = []
        for region in regions:
            forecast = forecasts.get(region)
            if forecast is None or not forecast.values or region not in scores:
                continue  # decide() excludes it with the reason "no signals"
            score = scores[region]
            share = self.renewables.quote(region, now)
            marks = self.marks.marked(region, now) if self.marks else []
            placement = penalised_score(int(score.score), config.instance_types, marks)
            placement_provenance = describe(score.provenance)
            if marks:
                placement_provenance += f"; lowered from {int(score.score)}: " + ", ".join(
                    f"{m.instance_type} in {m.zone} interrupted" for m in marks
                )
            provenance = {
                "carbon": forecast.source,
                "spot_price": prices[region][1],
                "placement_score": placement_provenance,
                "renewable_share": "unknown" if share is None else share.source,
            }
            found.append(
                RegionSignals(
                    region,
                    forecast.values,
                    prices[region][0],
                    placement,
                    None if share is None else share.value,
                    provenance,
                )
            )
        carbon_now = {r: f.values[0] for r, f in forecasts.items() if f.values}
        return found, exhausted, carbon_now

    def scale(self, config: FleetConfig, plan: Plan) -> dict[str, float]:
        """Update target-tracking policies whose carbon tier changed; the new targets."""
        changed: dict[str, float] = {}
        for region, carbon in sorted(plan.carbon_now.items()):
            current = plan.state.scaling_targets.get(region)
            target = scaling_target(config.policy, carbon, current)
            if target != current:
                put_target_tracking(
                    self.autoscaling(region),
                    config.groups[region],
                    config.scaling_policy_name,
                    target,
                )
                changed[region] = target
        return changed

    def metrics(self, fleet: str, plan: Plan, launches: int, record: dict[str, Any]) -> None:
        """The fleet's capacity and footprint metrics (namespace CarbonAware)."""
        for region, value in sorted(plan.desired.items()):
            dimensions = {"Fleet": fleet, "Region": region}
            self.emit("FleetDesiredCapacity", value, dimensions)
            self.emit("FleetInServiceCapacity", plan.groups[region].in_service, dimensions)
        self.emit("FleetLaunches", launches, {"Fleet": fleet})
        if plan.budget_exhausted:
            self.emit("PlacementScoreBudgetExhausted", 1, {"Fleet": fleet})
        for region, usage in sorted(record["footprint"].get("regions", {}).items()):
            dimensions = {"Fleet": fleet, "Region": region}
            self.emit("FleetEmissionsGrams", usage["grams"], dimensions)
            self.emit("FleetCostUSD", usage["cost_usd"], dimensions)
        if "saved_g" in record:
            self.emit("FleetSavedGrams", record["saved_g"], {"Fleet": fleet})
