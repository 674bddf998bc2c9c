"""Fleet simulation: a spot fleet hour by hour over a year, against fixed baselines.

Pure: inputs are arrays (hourly carbon, spot price, renewable share per region; one placement
score per region), outputs are totals. The optimizer runs use the deployed optimizer's own
:func:`~carbon_aware.engine.fleet_policy.decide` and
:func:`~carbon_aware.engine.fleet_policy.apply_plan`, ``runs_per_hour`` times an hour.

**Instance model.** A run sees each region's desired capacity and InService count, decides, and
sets the new desired capacity. Instances launched by a run are InService at the next run (the
optimizer period: boot within five minutes at the default schedule); lowered regions terminate at
once. Launched instances run, and are charged for (grams and dollars), from the run that
launches them. Capacity held in a period is ``sum(min(in_service, desired))``. No interruptions are
simulated: every launch after the start is a move to another region.

**Baselines** (:func:`run_allocation` on an hourly allocation array): the home region alone, the
best static allocation (:func:`static_allocation`, on another period's mean carbon, within the
policy's shares) and the hourly oracle (:func:`oracle_allocation`: perfect knowledge, no move
limits, no launch overlap). Both rank by carbon alone.

**Forecasts.** A :data:`CarbonForecast` gives, at hour ``h``, the carbon of hours ``h .. h+n-1``
per region: :func:`perfect_forecast` reads the actual series, :func:`history_forecast` uses the
history forecaster (anchored cold start, :mod:`carbon_aware.engine.fleet_forecast`) on the hours
strictly before ``h`` (no look-ahead).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from carbon_aware.engine.fleet import RegionCapacity, distribute, share_cap
from carbon_aware.engine.fleet_forecast import fleet_forecaster
from carbon_aware.engine.fleet_policy import (
    FleetPolicy,
    GroupState,
    RegionSignals,
    apply_plan,
    decide,
)
from carbon_aware.engine.forecast import HourlyForecaster, HourlySeries

SECONDS_PER_HOUR = 3600
HOURS_PER_DAY = 24

#: ``forecast(hour, hours)``: carbon of hours ``hour .. hour + hours - 1``, shape (hours, regions).
CarbonForecast = Callable[[int, int], np.ndarray]


class FleetSimError(ValueError):
    """Invalid simulation input; the message names the field."""


@dataclass(frozen=True)
class FleetSimInputs:
    """Hourly series of one simulated period; rows are hours from ``start``, columns ``regions``.

    ``history`` holds the actual carbon of the hours just before ``start`` (what a no-look-ahead
    forecaster may learn from). ``renewable_share`` is 0..1 (None: unknown everywhere).
    """

    regions: tuple[str, ...]
    start: float
    carbon: np.ndarray
    spot_price: np.ndarray
    placement_score: tuple[int, ...]
    kwh_per_instance_hour: float
    renewable_share: np.ndarray | None = None
    history: np.ndarray | None = None

    def __post_init__(self) -> None:
        regions = tuple(self.regions)
        object.__setattr__(self, "regions", regions)
        if not regions or len(set(regions)) != len(regions):
            raise FleetSimError(f"regions must be unique and non-empty, got {list(regions)}")
        if self.start % SECONDS_PER_HOUR:
            raise FleetSimError(f"start must be on an hour boundary, got {self.start}")
        shape = (np.shape(self.carbon)[0], len(regions)) if np.ndim(self.carbon) == 2 else None
        if shape is None or shape[0] == 0:
            raise FleetSimError("carbon must be a non-empty (hours, regions) array")
        for name in ("carbon", "spot_price", "renewable_share"):
            value = getattr(self, name)
            if value is None:
                continue
            array = np.asarray(value, dtype=float)
            if array.shape != shape:
                raise FleetSimError(f"{name} must have shape {shape}, got {array.shape}")
            if not np.isfinite(array).all() or (array < 0).any():
                raise FleetSimError(f"{name} must be finite and >= 0")
            object.__setattr__(self, name, array)
        if self.renewable_share is not None and (self.renewable_share > 1).any():
            raise FleetSimError("renewable_share must be a fraction in [0, 1]")
        if self.history is not None:
            history = np.asarray(self.history, dtype=float).reshape(-1, len(regions))
            if not np.isfinite(history).all() or (history < 0).any():
                raise FleetSimError("history must be finite and >= 0")
            object.__setattr__(self, "history", history)
        scores = tuple(self.placement_score)
        if len(scores) != len(regions) or not all(s in range(1, 11) for s in scores):
            raise FleetSimError(f"placement_score must be one 1-10 integer per region: {scores}")
        object.__setattr__(self, "placement_score", scores)
        if not (math.isfinite(self.kwh_per_instance_hour) and self.kwh_per_instance_hour > 0):
            raise FleetSimError("kwh_per_instance_hour must be > 0")

    @property
    def hours(self) -> int:
        """Number of simulated hours."""
        return int(self.carbon.shape[0])


@dataclass(frozen=True)
class SimResult:
    """Totals of one run over the period.

    ``moves`` counts launches after the start (all in another region: no interruptions);
    ``min_in_service`` is the lowest capacity held in any period; ``periods_below_min`` counts
    periods where the fleet's ``min_total`` or a region's floor was not held.
    """

    name: str
    grams: float
    dollars: float
    instance_hours: float
    moves: int
    min_in_service: int
    periods_below_min: int
    mean_share: Mapping[str, float]

    @property
    def moves_per_instance_day(self) -> float:
        """Launches per instance-day held."""
        days = self.instance_hours / HOURS_PER_DAY
        return self.moves / days if days else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "name": self.name,
            "grams": round(self.grams, 3),
            "dollars": round(self.dollars, 4),
            "instance_hours": round(self.instance_hours, 3),
            "moves": self.moves,
            "moves_per_instance_day": round(self.moves_per_instance_day, 5),
            "min_in_service": self.min_in_service,
            "periods_below_min": self.periods_below_min,
            "mean_share": {r: round(v, 4) for r, v in self.mean_share.items()},
        }


def perfect_forecast(inputs: FleetSimInputs) -> CarbonForecast:
    """The actual carbon (truncated at the end of the period)."""

    def forecast(hour: int, hours: int) -> np.ndarray:
        return inputs.carbon[hour : hour + max(1, hours)]

    return forecast


def history_forecast(
    inputs: FleetSimInputs, forecaster: HourlyForecaster | None = None
) -> CarbonForecast:
    """Forecasts from the hours strictly before each hour (``history`` then the period).

    Uses :func:`~carbon_aware.engine.fleet_forecast.fleet_forecaster` (the history forecaster
    with an anchored cold start) unless another is given; needs at least one hour of ``history``.
    """
    chosen = forecaster or fleet_forecaster()
    history = inputs.history if inputs.history is not None else np.empty((0, len(inputs.regions)))
    if history.shape[0] == 0:
        raise FleetSimError(
            "history: a no-look-ahead forecast needs at least one hour before start"
        )
    first = int(inputs.start // SECONDS_PER_HOUR) - history.shape[0]
    series = [
        HourlySeries(region, first, np.concatenate((history[:, i], inputs.carbon[:, i])))
        for i, region in enumerate(inputs.regions)
    ]
    memos: list[dict[str, Any]] = [{} for _ in inputs.regions]

    def forecast(hour: int, hours: int) -> np.ndarray:
        now = first + history.shape[0] + hour
        columns = [
            chosen.predict(s.between(s.first_hour, now), now, max(1, hours), memo)
            for s, memo in zip(series, memos, strict=True)
        ]
        return np.maximum(np.stack(columns, axis=1), 0.0)

    return forecast


def _capacities(policy: FleetPolicy, carbon: Sequence[float], total: int) -> list[RegionCapacity]:
    """Carbon-only distribute() inputs within the policy's per-region shares."""
    return [
        RegionCapacity(
            region,
            float(carbon[i]),
            0.0,
            10,
            min=share_cap(policy.min_share_of(region), total),
            max=max(
                share_cap(policy.min_share_of(region), total),
                share_cap(policy.max_share_of(region), total),
            ),
        )
        for i, region in enumerate(policy.regions)
    ]


def static_allocation(policy: FleetPolicy, mean_carbon: Sequence[float], total: int) -> np.ndarray:
    """The carbon-best allocation of ``total`` for one carbon value per region (policy order)."""
    result = distribute(total, _capacities(policy, mean_carbon, total), "carbon_only", hysteresis=0)
    return np.array([result.allocation[r] for r in policy.regions])


def oracle_allocation(policy: FleetPolicy, carbon: np.ndarray, total: int) -> np.ndarray:
    """The carbon-best allocation of every hour (perfect knowledge, no move limits)."""
    names = policy.regions
    by_rank: dict[tuple[int, ...], np.ndarray] = {}
    out = np.empty(carbon.shape, dtype=int)
    for hour, row in enumerate(carbon):
        rank = tuple(sorted(range(len(names)), key=lambda k: (row[k], names[k])))
        if rank not in by_rank:  # the carbon-best allocation depends only on the ranking
            by_rank[rank] = static_allocation(policy, row, total)
        out[hour] = by_rank[rank]
    return out


def home_allocation(inputs: FleetSimInputs, home: str, total: int) -> np.ndarray:
    """Everything in ``home`` every hour."""
    if home not in inputs.regions:
        raise FleetSimError(f"home: {home!r} is not one of the regions {list(inputs.regions)}")
    out = np.zeros((inputs.hours, len(inputs.regions)), dtype=int)
    out[:, inputs.regions.index(home)] = total
    return out


def run_allocation(
    name: str, inputs: FleetSimInputs, allocation: np.ndarray, *, policy: FleetPolicy | None = None
) -> SimResult:
    """Totals of a fixed hourly allocation (moves: launches between consecutive hours)."""
    allocation = np.asarray(allocation)
    if allocation.shape != inputs.carbon.shape:
        raise FleetSimError(f"allocation must have shape {inputs.carbon.shape}")
    held = allocation.sum(axis=1)
    below = 0
    if policy is not None:
        floors = np.array([_floors(policy, int(t)) for t in held])
        below = int(((allocation < floors).any(axis=1) | (held < policy.min_total)).sum())
    launches = np.maximum(np.diff(allocation, axis=0), 0).sum()
    return SimResult(
        name=name,
        grams=float((allocation * inputs.carbon).sum() * inputs.kwh_per_instance_hour),
        dollars=float((allocation * inputs.spot_price).sum()),
        instance_hours=float(held.sum()),
        moves=int(launches),
        min_in_service=int(held.min()),
        periods_below_min=below,
        mean_share=_mean_share(inputs.regions, allocation.sum(axis=0)),
    )


def _floors(policy: FleetPolicy, total: int) -> list[int]:
    return [share_cap(policy.min_share_of(r), total) for r in policy.regions]


def _mean_share(regions: Sequence[str], instance_hours: np.ndarray) -> dict[str, float]:
    whole = float(instance_hours.sum())
    return {r: float(instance_hours[i]) / whole if whole else 0.0 for i, r in enumerate(regions)}


def run_optimizer(
    name: str,
    inputs: FleetSimInputs,
    policy: FleetPolicy,
    total: int,
    forecast: CarbonForecast,
    *,
    runs_per_hour: int = 1,
) -> SimResult:
    """The optimizer's decide/apply_plan every ``3600 / runs_per_hour`` seconds for the period.

    The fleet starts at the first run's target, all InService (the initial fill is no move).
    ``last_change_at`` is the time of the last run whose decision changed the allocation for a
    reason other than a mandatory move.
    """
    if policy.regions != inputs.regions:
        raise FleetSimError(f"policy regions {policy.regions} differ from {inputs.regions}")
    if not isinstance(runs_per_hour, int) or not 1 <= runs_per_hour <= 60:
        raise FleetSimError(f"runs_per_hour must be an integer 1-60, got {runs_per_hour!r}")
    regions = inputs.regions
    period = SECONDS_PER_HOUR / runs_per_hour
    fraction = 1.0 / runs_per_hour
    desired = dict.fromkeys(regions, 0)
    in_service = dict.fromkeys(regions, 0)
    last_change: float | None = None
    grams = dollars = held_hours = 0.0
    moves = below = 0
    min_held: int | None = None
    region_hours = np.zeros(len(regions))
    for hour in range(inputs.hours):
        carbon = forecast(hour, policy.horizon_hours)
        signals = [
            RegionSignals(
                region,
                tuple(float(v) for v in carbon[:, i]),
                float(inputs.spot_price[hour, i]),
                inputs.placement_score[i],
                None if inputs.renewable_share is None else float(inputs.renewable_share[hour, i]),
            )
            for i, region in enumerate(regions)
        ]
        for run in range(runs_per_hour):
            now = inputs.start + hour * SECONDS_PER_HOUR + run * period
            groups = {r: GroupState(r, desired[r], in_service[r]) for r in regions}
            decision = decide(
                policy, signals, groups, total=total, now=now, last_change_at=last_change
            )
            if hour == 0 and run == 0:
                plan = dict(decision.allocation)
                in_service = dict(plan)
            else:
                plan = apply_plan(groups, decision.allocation, floors=decision.floors)
                moves += sum(max(0, plan[r] - desired[r]) for r in regions)
            if decision.changed and not decision.mandatory:
                last_change = now
            in_service = {r: min(in_service[r], plan[r]) for r in regions}
            held = sum(in_service.values())
            min_held = held if min_held is None else min(min_held, held)
            if held < policy.min_total or any(in_service[r] < decision.floors[r] for r in regions):
                below += 1
            running = np.array([plan[r] for r in regions], dtype=float)
            grams += float(running @ inputs.carbon[hour]) * fraction
            dollars += float(running @ inputs.spot_price[hour]) * fraction
            held_hours += held * fraction
            region_hours += running * fraction
            desired = plan
            in_service = dict(plan)  # launched instances are InService by the next run
    return SimResult(
        name=name,
        grams=grams * inputs.kwh_per_instance_hour,
        dollars=dollars,
        instance_hours=held_hours,
        moves=moves,
        min_in_service=min_held or 0,
        periods_below_min=below,
        mean_share=_mean_share(regions, region_hours),
    )
