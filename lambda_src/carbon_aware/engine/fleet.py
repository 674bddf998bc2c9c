"""Fleet distribution: split N spot instances across regions by carbon, price and capacity risk.

:func:`distribute` turns a requested instance count and a list of :class:`RegionCapacity` into
an integer allocation per region. It is pure and deterministic: no AWS calls, no clock, no
randomness, and the result does not depend on the order the regions are given in.

**Unit score.** Each region gets a per-instance score (lower is better)::

    score = carbon_weight * carbon / max(carbon) + cost_weight * spot_price / max(spot_price)
            + risk_weight * (10 - placement_score) / 9

Carbon and price are scaled by their largest value over the regions given (a term whose values are
all zero counts as zero), so each lies in ``[0, 1]`` and a score is proportional to the real
quantity: with ``carbon_only`` a 5 % better score is 5 % less carbon. The placement score (AWS spot
placement score, 1–10) adds a capacity-risk penalty: nothing at 10, the full ``risk_weight`` at 1,
linear in between. The blended strategies use ``risk_weight`` 0.1: under ``balanced`` a region
scored 1 is penalised as much as 20 % of the dirtiest region's carbon would add (0.1 / 0.5).
The objective of an allocation is ``sum(score[r] * allocation[r])``, reported as ``score``.

**Strategies.**

- ``carbon_only``: carbon weight 1, no price, no risk; the cleanest grid wins regardless of price
  or interruption risk.
- ``carbon_first``: carbon 0.8, price 0.2, risk 0.1. Clean regions first, price breaks near-ties.
- ``balanced`` (default): carbon 0.5, price 0.5, risk 0.1. One percent of the dirtiest region's
  carbon intensity trades against one percent of the dearest region's spot price.
- ``cost_first``: carbon 0.2, price 0.8, risk 0.1. Cheapest spot capacity first, carbon as tiebreak.
- ``cost_only``: price weight 1, no carbon, no risk; the cheapest region wins.

Any :class:`FleetStrategy` with other weights can be passed instead of a name.

**Constraints.** Every region keeps ``min <= allocation <= cap`` where
``cap = min(max, share_cap)`` and ``share_cap = ceil(max_share * requested)`` (see
:func:`share_cap`; ``max_share`` is read as its shortest decimal, so ``0.07 * 100`` gives 7, not 8).
Both bounds are hard. A region whose ``min`` exceeds ``share_cap`` is kept at its ``min`` (mins are
commitments) and the result is flagged infeasible. The allocated ``total`` is ``requested``
clamped to ``[sum(min), sum(cap)]``: when more is requested than fits, the feasible maximum is
allocated; when the mins alone exceed the request, exactly the mins are allocated. Either way
``feasible`` is False and ``reason`` explains.

**Filling.** For a fresh fleet (``current`` all zero): mins first, then the rest goes to regions
in order of (score, region name), each filled to its cap before the next gets anything. From a
non-zero ``current`` the target has the same (optimal) objective but is reached by moving units
from the worst-scored region to the best one with room, only while that strictly improves the
score, so equally scored regions never swap units (no churn on ties).

**Hysteresis.** When ``current`` is itself a valid allocation for the allocated total (right sum,
within every bound) and the target improves the objective by at most ``hysteresis`` of the
current objective (``current_score - target_score <= hysteresis * current_score``), the current
allocation is kept: ``held`` is True (only when the target differs) and ``moved`` is 0.

**max_step.** ``moved`` counts launches: ``sum(max(0, allocation[r] - current[r]))``. Some of those
are mandatory to reach the allocated total or to lift regions up to their ``min`` (units above a
cap are removed, which costs no launch). With ``max_step=N`` at most ``max(N, mandatory)`` units
move: the mandatory ones go to the best regions, and the remaining budget is spent on the most
improving swaps towards the target, so the result is the best allocation reachable within the
budget and still sums to the allocated total. With a valid ``current`` and an unchanged total,
``mandatory`` is 0 and at most N units move.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

#: Placement-score penalty weight used by the blended named strategies.
DEFAULT_RISK_WEIGHT = 0.1
#: Default hysteresis: keep the current allocation unless the target is over 5 % better.
DEFAULT_HYSTERESIS = 0.05

_TOLERANCE = 1e-12


class FleetError(ValueError):
    """Invalid fleet input: bad region capacity, strategy name or option."""


def _as_int(value: object, name: str) -> int:
    if isinstance(value, bool):
        raise FleetError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise FleetError(f"{name} must be an integer, got {value!r}") from None


def _as_number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FleetError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise FleetError(f"{name} must be finite and >= 0, got {value!r}")
    return number


@dataclass(frozen=True)
class RegionCapacity:
    """One region's signals and capacity bounds.

    ``carbon`` is gCO2e/kWh, ``spot_price`` USD/hour, ``placement_score`` the AWS spot placement
    score (1–10, higher means capacity is more likely). ``min``/``max`` bound the instance count
    and ``current`` is what runs there now.
    """

    region: str
    carbon: float
    spot_price: float
    placement_score: int
    min: int = field(default=0, kw_only=True)
    max: int = field(kw_only=True)
    current: int = field(default=0, kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.region, str) or not self.region:
            raise FleetError(f"region must be a non-empty string, got {self.region!r}")
        where = f"region {self.region}"
        _as_number(self.carbon, f"{where}: carbon")
        _as_number(self.spot_price, f"{where}: spot_price")
        score = _as_int(self.placement_score, f"{where}: placement_score")
        if not 1 <= score <= 10:
            raise FleetError(f"{where}: placement_score must be 1-10, got {score}")
        low = _as_int(self.min, f"{where}: min")
        high = _as_int(self.max, f"{where}: max")
        now = _as_int(self.current, f"{where}: current")
        if low < 0:
            raise FleetError(f"{where}: min must be >= 0, got {low}")
        if high < low:
            raise FleetError(f"{where}: max ({high}) must be >= min ({low})")
        if now < 0:
            raise FleetError(f"{where}: current must be >= 0, got {now}")


@dataclass(frozen=True)
class FleetStrategy:
    """Weights of the unit score (see the module docstring); all >= 0, not all zero."""

    name: str
    carbon_weight: float
    cost_weight: float
    risk_weight: float = DEFAULT_RISK_WEIGHT

    def __post_init__(self) -> None:
        weights = [
            _as_number(self.carbon_weight, f"strategy {self.name}: carbon_weight"),
            _as_number(self.cost_weight, f"strategy {self.name}: cost_weight"),
            _as_number(self.risk_weight, f"strategy {self.name}: risk_weight"),
        ]
        if sum(weights) <= 0:
            raise FleetError(f"strategy {self.name}: at least one weight must be > 0")

    def unit_scores(self, regions: Sequence[RegionCapacity]) -> list[float]:
        """Per-instance score of each region, in input order; lower is better."""
        top_carbon = max((r.carbon for r in regions), default=0.0)
        top_price = max((r.spot_price for r in regions), default=0.0)
        return [
            self.score(r.carbon, r.spot_price, r.placement_score, top_carbon, top_price)
            for r in regions
        ]

    def score(
        self,
        carbon: float,
        spot_price: float,
        placement_score: int,
        top_carbon: float,
        top_price: float,
    ) -> float:
        """One region's unit score on the scales ``top_carbon`` and ``top_price``."""
        scaled_carbon = carbon / top_carbon if top_carbon > 0 else 0.0
        price = spot_price / top_price if top_price > 0 else 0.0
        risk = (10 - placement_score) / 9
        return (
            self.carbon_weight * scaled_carbon + self.cost_weight * price + self.risk_weight * risk
        )


FLEET_STRATEGIES: dict[str, FleetStrategy] = {
    s.name: s
    for s in (
        FleetStrategy("carbon_only", 1.0, 0.0, 0.0),
        FleetStrategy("carbon_first", 0.8, 0.2),
        FleetStrategy("balanced", 0.5, 0.5),
        FleetStrategy("cost_first", 0.2, 0.8),
        FleetStrategy("cost_only", 0.0, 1.0, 0.0),
    )
}


def get_fleet_strategy(strategy: str | FleetStrategy) -> FleetStrategy:
    """The named strategy (or the one given); FleetError for an unknown name."""
    if isinstance(strategy, FleetStrategy):
        return strategy
    try:
        return FLEET_STRATEGIES[strategy]
    except (KeyError, TypeError):
        known = ", ".join(FLEET_STRATEGIES)
        raise FleetError(f"unknown fleet strategy {strategy!r} (known: {known})") from None


def share_cap(max_share: float, requested: int) -> int:
    """``ceil(max_share * requested)``, with ``max_share`` read as its shortest decimal."""
    return math.ceil(Fraction(repr(float(max_share))) * requested)


@dataclass(frozen=True)
class Distribution:
    """Result of :func:`distribute`.

    ``allocation`` covers every region (input order); ``total`` is what was allocated, which
    differs from ``requested`` only when ``feasible`` is False. ``score`` is the objective
    (``sum(unit_scores[r] * allocation[r])``, lower is better); ``target`` is the unconstrained
    optimum (what the allocation would be without hysteresis and max_step) and ``target_score``
    its objective. ``reason`` explains infeasibility, a hold or a step limit, else None.
    """

    allocation: dict[str, int]
    total: int
    requested: int
    feasible: bool
    reason: str | None
    moved: int
    score: float
    held: bool
    strategy: str
    target: dict[str, int]
    target_score: float
    unit_scores: dict[str, float]

    @property
    def at_target(self) -> bool:
        """Whether the allocation is the unconstrained optimum."""
        return self.allocation == self.target

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "strategy": self.strategy,
            "requested": self.requested,
            "total": self.total,
            "feasible": self.feasible,
            "reason": self.reason,
            "allocation": dict(self.allocation),
            "target": dict(self.target),
            "moved": self.moved,
            "held": self.held,
            "score": round(self.score, 9),
            "target_score": round(self.target_score, 9),
        }


def distribute(
    total: int,
    regions: Sequence[RegionCapacity],
    strategy: str | FleetStrategy = "balanced",
    *,
    max_share: float = 1.0,
    hysteresis: float = DEFAULT_HYSTERESIS,
    max_step: int | None = None,
) -> Distribution:
    """Allocate ``total`` instances over ``regions`` (see the module docstring for the rules)."""
    requested = _as_int(total, "total")
    if requested < 0:
        raise FleetError(f"total must be >= 0, got {requested}")
    chosen = get_fleet_strategy(strategy)
    share = _as_number(max_share, "max_share")
    if not 0 < share <= 1:
        raise FleetError(f"max_share must be in (0, 1], got {max_share!r}")
    slack = _as_number(hysteresis, "hysteresis")
    step = None if max_step is None else _as_int(max_step, "max_step")
    if step is not None and step < 0:
        raise FleetError(f"max_step must be >= 0, got {step}")
    regions = tuple(regions)
    for r in regions:
        if not isinstance(r, RegionCapacity):
            raise FleetError(f"regions must be RegionCapacity, got {r!r}")
    names = [r.region for r in regions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FleetError(f"duplicate region: {', '.join(duplicates)}")

    scores = chosen.unit_scores(regions)
    cap = share_cap(share, requested)
    low = [r.min for r in regions]
    high = [min(r.max, max(r.min, cap)) for r in regions]
    current = [r.current for r in regions]
    allocated = min(max(requested, sum(low)), sum(high))
    problems = _infeasibility(regions, requested, allocated, low, high, cap)
    rank = sorted(range(len(regions)), key=lambda k: (scores[k], names[k]))

    target = _optimise(scores, rank, low, high, current, allocated, None)
    target_score = _objective(scores, target)
    current_score = _objective(scores, current)
    current_valid = sum(current) == allocated and all(
        lo <= c <= hi for lo, c, hi in zip(low, current, high, strict=True)
    )
    held = False
    notes = list(problems)
    if current_valid and target != current:
        gain = current_score - target_score
        if gain <= slack * current_score + _TOLERANCE * (1 + abs(current_score)):
            held = True
            relative = gain / current_score if current_score > 0 else 0.0
            notes.append(
                f"hysteresis: target improves the score by {relative:.2%} "
                f"(<= {slack:.2%}); kept the current allocation"
            )
    if held:
        result = list(current)
    elif step is None:
        result = target
    else:
        result = _optimise(scores, rank, low, high, current, allocated, step)
        if result != target:
            left = _launches(result, target)
            notes.append(
                f"max_step {step}: moved {_launches(current, result)} units; "
                f"{left} more to reach the target"
            )
    return Distribution(
        allocation=dict(zip(names, result, strict=True)),
        total=sum(result),
        requested=requested,
        feasible=not problems,
        reason="; ".join(notes) or None,
        moved=_launches(current, result),
        score=_objective(scores, result),
        held=held,
        strategy=chosen.name,
        target=dict(zip(names, target, strict=True)),
        target_score=target_score,
        unit_scores=dict(zip(names, scores, strict=True)),
    )


def _infeasibility(
    regions: Sequence[RegionCapacity],
    requested: int,
    allocated: int,
    low: Sequence[int],
    high: Sequence[int],
    cap: int,
) -> list[str]:
    problems = [
        f"min of {r.region} ({r.min}) exceeds the max_share cap of {cap} units; kept at its min"
        for r in regions
        if r.min > cap
    ]
    if requested < sum(low):
        problems.append(
            f"the regions' minimums alone need {sum(low)} units, more than the {requested} "
            f"requested; allocated the minimums"
        )
    elif allocated < requested:
        problems.append(
            f"only {allocated} of the {requested} requested units fit within the regions' max "
            f"and the max_share cap of {cap} units per region; allocated {allocated}"
        )
    return problems


def _objective(scores: Sequence[float], allocation: Sequence[int]) -> float:
    return math.fsum(s * a for s, a in zip(scores, allocation, strict=True))


def _launches(before: Sequence[int], after: Sequence[int]) -> int:
    """Units added to regions going from ``before`` to ``after``."""
    return sum(max(0, a - b) for b, a in zip(before, after, strict=True))


def _optimise(
    scores: Sequence[float],
    rank: Sequence[int],
    low: Sequence[int],
    high: Sequence[int],
    current: Sequence[int],
    total: int,
    budget: int | None,
) -> list[int]:
    """Best allocation summing to ``total`` reachable from ``current`` within ``budget`` launches.

    First the mandatory part: clamp ``current`` into its bounds, then add the missing units to the
    best regions or remove the surplus from the worst (in ``rank`` order). Then, while budget is
    left, move units from the worst region above its min to the best region below its cap, as long
    as that strictly lowers the objective. Each such unit costs one launch.
    """
    alloc = [min(max(c, lo), hi) for c, lo, hi in zip(current, low, high, strict=True)]
    missing = total - sum(alloc)
    if missing > 0:
        for k in rank:
            added = min(missing, high[k] - alloc[k])
            alloc[k] += added
            missing -= added
    else:
        for k in reversed(rank):
            removed = min(-missing, alloc[k] - low[k])
            alloc[k] -= removed
            missing += removed
    left = math.inf if budget is None else budget - _launches(current, alloc)
    best, worst = 0, len(rank) - 1
    while left > 0:
        while best < len(rank) and alloc[rank[best]] >= high[rank[best]]:
            best += 1
        while worst >= 0 and alloc[rank[worst]] <= low[rank[worst]]:
            worst -= 1
        if best >= len(rank) or worst < 0:
            break
        i, j = rank[best], rank[worst]
        if scores[j] - scores[i] <= _TOLERANCE:  # equal within rounding: moving gains nothing
            break
        amount = min(high[i] - alloc[i], alloc[j] - low[j])
        if budget is not None:
            amount = min(amount, int(left))
        alloc[i] += amount
        alloc[j] -= amount
        left -= amount
    return alloc
