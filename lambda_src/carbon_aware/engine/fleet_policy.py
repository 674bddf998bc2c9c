"""Fleet policy: one optimizer decision, its launch-before-drain plan and carbon-aware scaling.

Pure and clock-free: ``now`` is passed in as epoch seconds. Three functions:

- :func:`decide` turns a :class:`FleetPolicy`, each region's :class:`RegionSignals` and its
  :class:`GroupState` into a :class:`FleetDecision` (the target allocation) via
  :func:`carbon_aware.engine.fleet.distribute`. Carbon is weighed over the hourly forecast of the
  look-ahead (:attr:`FleetPolicy.horizon_hours`: ``lookahead_hours``, or the dwell period when
  longer); the target is the best allocation on its mean. Mandatory moves are made at once; any
  other move must pay for itself: :func:`carbon_aware.engine.fleet_moves.worthwhile_moves` with
  ``hysteresis`` and a cost of ``move_cost_minutes`` of the source's score. Strategies:
  ``carbon_first``, ``balanced`` and ``cost_first`` use the weights of :mod:`engine.fleet`;
  ``follow_the_sun`` scores carbon only (plus the placement-score risk), so capacity follows the
  cleanest grid over the horizon; ``renewable_only`` scores like ``carbon_first`` among the
  regions whose renewable share is at or above ``renewable_threshold`` and excludes the others
  (unknown share included), each with its reason. An excluded region keeps only its minimum.
  **Dwell**: when the last change is younger than ``dwell_minutes``, only mandatory moves are made
  (reach the fleet total, lift regions to their minimum, empty excluded regions down to it).
- :func:`apply_plan` turns a target into this run's desired capacity per region, launch before
  drain (see its docstring).
- :func:`scaling_target` picks the target utilisation of a region's carbon tier, with hysteresis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from carbon_aware.engine.fleet import (
    DEFAULT_HYSTERESIS,
    DEFAULT_RISK_WEIGHT,
    FLEET_STRATEGIES,
    FleetError,
    FleetStrategy,
    RegionCapacity,
    distribute,
    share_cap,
)
from carbon_aware.engine.fleet_moves import RegionPath, ScorePath, score_paths, worthwhile_moves

#: Named fleet strategies and the weights they score with.
POLICY_STRATEGIES: dict[str, FleetStrategy] = {
    "carbon_first": FLEET_STRATEGIES["carbon_first"],
    "balanced": FLEET_STRATEGIES["balanced"],
    "cost_first": FLEET_STRATEGIES["cost_first"],
    "follow_the_sun": FleetStrategy("follow_the_sun", 1.0, 0.0, DEFAULT_RISK_WEIGHT),
    "renewable_only": FleetStrategy("renewable_only", 0.8, 0.2, DEFAULT_RISK_WEIGHT),
}
#: Default least time between two allocation changes.
DEFAULT_DWELL_MINUTES = 60
#: Default cost of moving one instance: running it this long in its source region.
DEFAULT_MOVE_COST_MINUTES = 30
#: Default hours of forecast a move's saving is weighed over.
DEFAULT_LOOKAHEAD_HOURS = 12
MAX_LOOKAHEAD_HOURS = 48
#: Default carbon tiers: (upper bound in g/kWh, or None for "else"; target utilisation %).
DEFAULT_SCALING_TIERS: tuple[tuple[float | None, float], ...] = (
    (100.0, 60.0),
    (200.0, 75.0),
    (None, 90.0),
)
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class FleetPolicyError(FleetError):
    """Invalid fleet policy, signals or group state; the message names the field."""


def _number(value: object, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FleetPolicyError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        raise FleetPolicyError(f"{name} must be in [{low:g}, {high:g}], got {value!r}")
    return number


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FleetPolicyError(f"{name} must be an integer >= 0, got {value!r}")
    return value


@dataclass(frozen=True)
class FleetPolicy:
    """A fleet's regions, bounds and strategy (validated on construction)."""

    name: str
    regions: tuple[str, ...]
    strategy: str
    min_total: int
    max_total: int
    min_share: Mapping[str, float] = field(default_factory=dict)
    max_share: Mapping[str, float] = field(default_factory=dict)
    hysteresis: float = DEFAULT_HYSTERESIS
    dwell_minutes: int = DEFAULT_DWELL_MINUTES
    max_step: int | None = None
    move_cost_minutes: float = DEFAULT_MOVE_COST_MINUTES
    lookahead_hours: int = DEFAULT_LOOKAHEAD_HOURS
    renewable_threshold: float = 0.5
    scaling_tiers: tuple[tuple[float | None, float], ...] = DEFAULT_SCALING_TIERS

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise FleetPolicyError(f"name must be a non-empty string, got {self.name!r}")
        where = f"fleet {self.name}"
        regions = tuple(self.regions)
        if not regions or not all(isinstance(r, str) and r for r in regions):
            raise FleetPolicyError(f"{where}: regions must be non-empty strings, got {regions!r}")
        if len(set(regions)) != len(regions):
            raise FleetPolicyError(f"{where}: regions must be unique, got {list(regions)}")
        object.__setattr__(self, "regions", regions)
        if self.strategy not in POLICY_STRATEGIES:
            known = ", ".join(POLICY_STRATEGIES)
            raise FleetPolicyError(f"{where}: unknown strategy {self.strategy!r} (known: {known})")
        low = _count(self.min_total, f"{where}: min_total")
        high = _count(self.max_total, f"{where}: max_total")
        if high < low:
            raise FleetPolicyError(f"{where}: max_total ({high}) must be >= min_total ({low})")
        for label in ("min_share", "max_share"):
            shares = dict(getattr(self, label))
            unknown = sorted(set(shares) - set(regions))
            if unknown:
                raise FleetPolicyError(f"{where}: {label} names unknown regions {unknown}")
            for region, value in shares.items():
                _number(value, f"{where}: {label}[{region}]", 0.0, 1.0)
            object.__setattr__(self, label, MappingProxyType(shares))
        for region in regions:
            if self.min_share_of(region) > self.max_share_of(region):
                raise FleetPolicyError(f"{where}: min_share[{region}] exceeds max_share[{region}]")
        if sum(self.min_share_of(r) for r in regions) > 1.0 + 1e-9:
            raise FleetPolicyError(f"{where}: min_share values add up to more than 1")
        if sum(self.max_share_of(r) for r in regions) < 1.0 - 1e-9:
            raise FleetPolicyError(f"{where}: max_share values add up to less than 1")
        _number(self.hysteresis, f"{where}: hysteresis", 0.0, 1.0)
        _count(self.dwell_minutes, f"{where}: dwell_minutes")
        if self.max_step is not None:
            _count(self.max_step, f"{where}: max_step")
        _number(self.move_cost_minutes, f"{where}: move_cost_minutes", 0.0, 1440.0)
        if _count(self.lookahead_hours, f"{where}: lookahead_hours") > MAX_LOOKAHEAD_HOURS:
            raise FleetPolicyError(
                f"{where}: lookahead_hours must be at most {MAX_LOOKAHEAD_HOURS}, "
                f"got {self.lookahead_hours}"
            )
        _number(self.renewable_threshold, f"{where}: renewable_threshold", 0.0, 1.0)
        object.__setattr__(self, "scaling_tiers", _check_tiers(self.scaling_tiers, where))

    def min_share_of(self, region: str) -> float:
        """The region's minimum share (0 unless set)."""
        return float(self.min_share.get(region, 0.0))

    def max_share_of(self, region: str) -> float:
        """The region's maximum share (1 unless set)."""
        return float(self.max_share.get(region, 1.0))

    @property
    def horizon_hours(self) -> int:
        """Hours of carbon forecast weighed: the look-ahead, or the dwell period when longer
        (a move is held that long), at least one hour."""
        return max(1, self.lookahead_hours, math.ceil(self.dwell_minutes / 60))


def _check_tiers(tiers: object, where: str) -> tuple[tuple[float | None, float], ...]:
    name = f"{where}: scaling_tiers"
    try:
        checked = tuple((bound, target) for bound, target in tiers)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise FleetPolicyError(f"{name} must be (bound, target) pairs, got {tiers!r}") from None
    if not checked or checked[-1][0] is not None:
        raise FleetPolicyError(f"{name}: the last tier must have bound None (the 'else' tier)")
    previous = -math.inf
    for index, (bound, target) in enumerate(checked):
        _number(target, f"{name}[{index}].target", 1.0, 100.0)
        if index < len(checked) - 1:
            value = _number(bound, f"{name}[{index}].below", 0.0, math.inf)
            if value <= previous:
                raise FleetPolicyError(
                    f"{name}: bounds must increase, got {value:g} after {previous:g}"
                )
            previous = value
    return checked


@dataclass(frozen=True)
class RegionSignals:
    """A region's signals: hourly carbon forecast (index 0 = now), spot price, placement score."""

    region: str
    carbon_forecast: tuple[float, ...]
    spot_price: float
    placement_score: int
    renewable_share: float | None = None
    provenance: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"signals of {self.region}"
        forecast = tuple(self.carbon_forecast)
        for index, value in enumerate(forecast):
            _number(value, f"{where}: carbon_forecast[{index}]", 0.0, math.inf)
        object.__setattr__(self, "carbon_forecast", forecast)
        _number(self.spot_price, f"{where}: spot_price", 0.0, math.inf)
        if isinstance(self.placement_score, bool) or self.placement_score not in range(1, 11):
            raise FleetPolicyError(
                f"{where}: placement_score must be 1-10, got {self.placement_score!r}"
            )
        if self.renewable_share is not None:
            _number(self.renewable_share, f"{where}: renewable_share", 0.0, 1.0)
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))


@dataclass(frozen=True)
class GroupState:
    """An Auto Scaling group's desired capacity and how many of its instances are InService."""

    region: str
    desired: int
    in_service: int

    def __post_init__(self) -> None:
        _count(self.desired, f"group in {self.region}: desired")
        _count(self.in_service, f"group in {self.region}: in_service")


@dataclass(frozen=True)
class FleetDecision:
    """Result of :func:`decide`.

    ``allocation`` is the target of this run (what :func:`apply_plan` works towards), ``target``
    the unconstrained optimum, ``current`` the groups' desired capacity before, ``floors`` each
    region's minimum count. ``held`` says the current allocation was kept (hysteresis or dwell),
    ``moved`` counts launches towards ``allocation``, ``changed`` whether it differs from
    ``current``, ``mandatory`` whether the change was required (bounds, total, exclusion).
    """

    fleet: str
    strategy: str
    at: float
    total: int
    requested: int
    allocation: Mapping[str, int]
    target: Mapping[str, int]
    current: Mapping[str, int]
    floors: Mapping[str, int]
    excluded: Mapping[str, str]
    inputs: Mapping[str, Mapping[str, Any]]
    reason: str | None
    held: bool
    moved: int
    changed: bool
    mandatory: bool
    feasible: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "fleet": self.fleet,
            "strategy": self.strategy,
            "at": self.at,
            "total": self.total,
            "requested": self.requested,
            "allocation": dict(self.allocation),
            "target": dict(self.target),
            "current": dict(self.current),
            "floors": dict(self.floors),
            "excluded": dict(self.excluded),
            "inputs": {r: dict(v) for r, v in self.inputs.items()},
            "reason": self.reason,
            "held": self.held,
            "moved": self.moved,
            "changed": self.changed,
            "mandatory": self.mandatory,
            "feasible": self.feasible,
        }


def horizon_carbon(forecast: Sequence[float], hours: int) -> float | None:
    """Mean of the first ``hours`` values of a forecast (all if shorter); None if empty."""
    window = list(forecast[:hours])
    return math.fsum(window) / len(window) if window else None


def decide(
    policy: FleetPolicy,
    signals: Sequence[RegionSignals],
    groups: Mapping[str, GroupState],
    *,
    total: int,
    now: float,
    last_change_at: float | None,
) -> FleetDecision:
    """Target allocation of ``total`` instances (clamped to the policy's bounds) for this run."""
    requested = _count(total, f"fleet {policy.name}: total")
    allocated = min(max(requested, policy.min_total), policy.max_total)
    by_region = {s.region: s for s in signals}
    current = {r: groups[r].desired if r in groups else 0 for r in policy.regions}
    excluded: dict[str, str] = {}
    inputs: dict[str, dict[str, Any]] = {}
    carbon: dict[str, float] = {}
    for region in policy.regions:
        state = groups.get(region)
        entry: dict[str, Any] = {
            "desired": current[region],
            "in_service": state.in_service if state else 0,
        }
        inputs[region] = entry
        signal = by_region.get(region)
        if signal is None:
            excluded[region] = "no signals"
            continue
        mean = horizon_carbon(signal.carbon_forecast, policy.horizon_hours)
        entry.update(
            carbon_now=signal.carbon_forecast[0] if signal.carbon_forecast else None,
            carbon_horizon=mean,
            horizon_hours=min(policy.horizon_hours, len(signal.carbon_forecast)),
            spot_price=signal.spot_price,
            placement_score=signal.placement_score,
            renewable_share=signal.renewable_share,
            provenance=dict(signal.provenance),
        )
        if mean is None:
            excluded[region] = "no carbon forecast"
        elif policy.strategy == "renewable_only" and signal.renewable_share is None:
            excluded[region] = "renewable share unknown"
        elif (
            policy.strategy == "renewable_only"
            and signal.renewable_share < policy.renewable_threshold
        ):
            excluded[region] = (
                f"renewable share {signal.renewable_share:.0%} below the threshold "
                f"{policy.renewable_threshold:.0%}"
            )
        else:
            carbon[region] = mean
    floors = {r: share_cap(policy.min_share_of(r), allocated) for r in policy.regions}
    capacities = _capacities(policy, by_region, carbon, floors, current, allocated)
    strategy = POLICY_STRATEGIES[policy.strategy]
    mandatory_only = distribute(allocated, capacities, strategy, hysteresis=0.0, max_step=0)
    mandatory = mandatory_only.allocation != current
    result = distribute(allocated, capacities, strategy, hysteresis=0.0)  # the target
    allocation = dict(mandatory_only.allocation)
    notes: list[str] = [result.reason] if result.reason else []
    dwelling = last_change_at is not None and now - last_change_at < policy.dwell_minutes * 60
    if dwelling:
        age = (now - last_change_at) / 60  # type: ignore[operator]
        notes.append(
            f"dwell: last change {age:.0f} min ago (< {policy.dwell_minutes} min); "
            + ("mandatory moves only" if mandatory else "kept the current allocation")
        )
    else:
        budget = None
        if policy.max_step is not None:
            budget = max(0, policy.max_step - mandatory_only.moved)
        plan = worthwhile_moves(
            allocation,
            {c.region: c.min for c in capacities},
            {c.region: min(c.max, allocated) for c in capacities},
            _score_paths(policy, strategy, by_region, carbon),
            hysteresis=policy.hysteresis,
            move_cost_hours=policy.move_cost_minutes / 60,
            budget=budget,
        )
        allocation = plan.allocation
        notes.extend(move.describe() for move in plan.moves)
        if plan.refused is not None:
            notes.append(
                f"kept: moving {plan.refused.source} to {plan.refused.destination} would save "
                f"{plan.refused.saving:.3f}, not more than the move cost "
                f"{plan.refused.cost:.3f} score-hours over {policy.horizon_hours} h"
            )
        if budget is not None and allocation != result.target and not plan.refused:
            notes.append(f"max_step {policy.max_step}: more moves wait for the next run")
    if requested != allocated:
        notes.append(
            f"requested total {requested} clamped to [{policy.min_total}, {policy.max_total}]"
        )
    notes.extend(f"{r} excluded: {why}" for r, why in sorted(excluded.items()))
    for region, score in result.unit_scores.items():
        if region in carbon:
            inputs[region]["unit_score"] = round(score, 9)
    return FleetDecision(
        fleet=policy.name,
        strategy=policy.strategy,
        at=now,
        total=result.total,
        requested=requested,
        allocation=allocation,
        target=dict(result.target),
        current=current,
        floors=floors,
        excluded=excluded,
        inputs=inputs,
        reason="; ".join(notes) or None,
        held=allocation != result.target,
        moved=sum(max(0, allocation[r] - current[r]) for r in policy.regions),
        changed=allocation != current,
        mandatory=mandatory and allocation != current,
        feasible=result.feasible,
    )


def _score_paths(
    policy: FleetPolicy,
    strategy: FleetStrategy,
    signals: Mapping[str, RegionSignals],
    carbon: Mapping[str, float],
) -> dict[str, ScorePath]:
    """Per-hour unit scores over the look-ahead of the regions that may take capacity."""
    return score_paths(
        strategy,
        {
            r: RegionPath(
                signals[r].carbon_forecast, signals[r].spot_price, signals[r].placement_score
            )
            for r in carbon
        },
        policy.horizon_hours,
    )


def _capacities(
    policy: FleetPolicy,
    signals: Mapping[str, RegionSignals],
    carbon: Mapping[str, float],
    floors: Mapping[str, int],
    current: Mapping[str, int],
    total: int,
) -> list[RegionCapacity]:
    """distribute() inputs. An excluded region scores worst and is capped at its floor, unless
    the other regions cannot hold the total: then it keeps (up to) its current capacity, so an
    exclusion never shrinks the fleet below its total."""
    worst_carbon = max(carbon.values(), default=0.0)
    worst_price = max((signals[r].spot_price for r in carbon), default=0.0)
    caps = {r: max(floors[r], share_cap(policy.max_share_of(r), total)) for r in policy.regions}
    room = {r: caps[r] if r in carbon else floors[r] for r in policy.regions}
    deficit = total - sum(room.values())
    for region in policy.regions:
        if region not in carbon and deficit > 0:
            kept = min(max(0, min(current[region], caps[region]) - floors[region]), deficit)
            room[region] += kept
            deficit -= kept
    capacities = []
    for region in policy.regions:
        cap = room[region]
        if region in carbon:
            signal = signals[region]
            capacities.append(
                RegionCapacity(
                    region,
                    carbon[region],
                    signal.spot_price,
                    signal.placement_score,
                    min=floors[region],
                    max=cap,
                    current=current[region],
                )
            )
        else:
            capacities.append(
                RegionCapacity(
                    region,
                    worst_carbon,
                    worst_price,
                    1,
                    min=floors[region],
                    max=cap,
                    current=current[region],
                )
            )
    return capacities


def apply_plan(
    groups: Mapping[str, GroupState],
    target: Mapping[str, int],
    *,
    floors: Mapping[str, int],
) -> dict[str, int]:
    """This run's desired capacity per region, launch before drain.

    Regions below their target are raised to it now. Regions above it are lowered only as far as
    the capacity already InService allows: lowering a region by ``x`` removes at most
    ``max(0, x - pending)`` InService instances (``pending = desired - in_service``), and all
    lowerings together remove at most ``max(0, in_service_total - sum(target))``, so total
    InService never drops below ``min(sum(target), in_service_total)``. Sources are lowered
    largest excess first (then by name); nothing goes below its target or its floor, and no region
    is both raised and lowered.
    """
    regions = sorted(set(groups) | set(target))
    desired = {r: groups[r].desired if r in groups else 0 for r in regions}
    in_service = {r: groups[r].in_service if r in groups else 0 for r in regions}
    goal = {r: _count(target.get(r, desired[r]), f"target[{r}]") for r in regions}
    plan = dict(desired)
    for region in regions:
        if goal[region] > desired[region]:
            plan[region] = goal[region]
    budget = max(0, sum(in_service.values()) - sum(goal.values()))
    sources = sorted(
        (r for r in regions if goal[r] < desired[r]),
        key=lambda r: (-(desired[r] - goal[r]), r),
    )
    for region in sources:
        lowest = max(goal[region], floors.get(region, 0))
        if lowest >= desired[region]:
            continue
        pending = max(0, desired[region] - in_service[region])
        cut = min(desired[region] - lowest, pending + budget)
        budget -= max(0, cut - pending)
        plan[region] = desired[region] - cut
    return plan


def scaling_target(
    policy: FleetPolicy,
    carbon_now: float,
    current_target: float | None,
    *,
    hysteresis_g: float = 10.0,
) -> float:
    """Target utilisation % of the carbon tier of ``carbon_now``.

    A tier holds intensities below its bound (the last, bound None, holds the rest). From the
    tier of ``current_target`` the target moves only to a tier whose boundary ``carbon_now`` is
    more than ``hysteresis_g`` past; if the nearest tier is not, the target stays. A
    ``current_target`` that is no tier's target (None, or the tiers changed) takes the tier of
    ``carbon_now`` outright.
    """
    carbon = _number(carbon_now, "carbon_now", 0.0, math.inf)
    tiers = policy.scaling_tiers
    wanted = next(i for i, (bound, _) in enumerate(tiers) if bound is None or carbon < bound)
    held = [i for i, (_, target) in enumerate(tiers) if target == current_target]
    if not held:
        return tiers[wanted][1]
    start = held[0]
    while wanted != start:
        if wanted > start and carbon - tiers[wanted - 1][0] > hysteresis_g:  # type: ignore[operator]
            break
        if wanted < start and tiers[wanted][0] - carbon > hysteresis_g:  # type: ignore[operator]
            break
        wanted += -1 if wanted > start else 1
    return tiers[wanted][1]
