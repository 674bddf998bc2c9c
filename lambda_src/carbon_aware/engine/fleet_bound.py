"""How much of the static-to-oracle gap any fleet can close within a move budget.

Pure. The hourly oracle (:func:`carbon_aware.engine.fleet_sim.oracle_allocation`) moves freely and
pays nothing for a move. A real fleet launches before it drains, so every move also runs the
source for ``overlap_hours``, and the issue allows at most one move per instance-day. With perfect
foresight, the fewest carbon-hours one instance can spend with at most ``k`` moves is

    best(k) = min over paths with <= k moves of  sum over hours of carbon[h, region(h)]
              + overlap_hours * carbon[h, source]  for each move at hour h

found exactly by a dynamic programme over (hour, region, moves used). Carbon is constant within an
hour, so moving on the hour is never worse than moving inside it: ``best`` holds whatever the
algorithm, forecast or run period. Without share limits a fleet's instances are independent, so
a fleet within ``budget`` moves per instance on average can do no better than the lower convex
hull of ``best`` at ``budget`` per instance (instances may split the budget unevenly): that is
the **floor**. ``best(floor(budget))`` is the **plan**: every instance within the budget, so
achievable. The two bracket the best any fleet can do.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

HOURS_PER_DAY = 24


class FleetBoundError(ValueError):
    """Invalid bound input; the message names the field."""


@dataclass(frozen=True)
class MoveBudgetBound:
    """Per instance: the grams floor, the best plan found within the budget and its moves.

    Grams are carbon-hours (g/kWh x h): multiply by kWh per instance-hour and the fleet size.
    """

    floor: float
    plan: float
    plan_moves: int
    budget_moves: float
    overlap_hours: float
    hours: int

    @property
    def plan_moves_per_instance_day(self) -> float:
        """The plan's moves per instance-day."""
        return self.plan_moves * HOURS_PER_DAY / self.hours


def best_by_moves(carbon: np.ndarray, overlap_hours: float, most: int) -> np.ndarray:
    """``best(k)`` for ``k = 0 .. most`` (module docstring): non-increasing in ``k``."""
    hours, regions = carbon.shape
    # value[r, k]: cheapest cost so far ending in region r having made exactly k moves
    value = np.full((regions, most + 1), np.inf)
    value[:, 0] = carbon[0]
    others = [[s for s in range(regions) if s != r] for r in range(regions)]
    for hour in range(1, hours):
        leave = value + overlap_hours * carbon[hour][:, None]  # leaving s at this hour
        arrive = np.full_like(value, np.inf)
        for r in range(regions):
            arrive[r, 1:] = leave[others[r], :-1].min(axis=0)
        value = np.minimum(value, arrive) + carbon[hour][:, None]
    return np.minimum.accumulate(value.min(axis=0))


def _hull_at(points: list[tuple[float, float]], x: float) -> float:
    """The lower convex hull of ``points`` (sorted by x, first at x = 0) at ``x``; flat after."""
    hull: list[tuple[float, float]] = []
    for point in points:
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (point[1] - y1) - (y2 - y1) * (point[0] - x1) > 0:
                break  # a left turn: hull[-1] stays on the lower hull
            hull.pop()
        hull.append(point)
    for (x1, y1), (x2, y2) in itertools.pairwise(hull):
        if x1 <= x <= x2:
            return y1 + (y2 - y1) * (x - x1) / (x2 - x1)
    return hull[-1][1]


def move_budget_bound(
    carbon: np.ndarray, *, moves_per_instance_day: float, overlap_hours: float
) -> MoveBudgetBound:
    """Floor and plan of one instance's carbon-hours within the move budget (module docstring).

    ``carbon`` is (hours, regions) g/kWh; the first hour's region is free (the initial fill).
    """
    carbon = np.asarray(carbon, dtype=float)
    if carbon.ndim != 2 or carbon.shape[0] == 0 or carbon.shape[1] == 0:
        raise FleetBoundError("carbon must be a non-empty (hours, regions) array")
    if not np.isfinite(carbon).all() or (carbon < 0).any():
        raise FleetBoundError("carbon must be finite and >= 0")
    for name, value in (
        ("moves_per_instance_day", moves_per_instance_day),
        ("overlap_hours", overlap_hours),
    ):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise FleetBoundError(f"{name} must be a number >= 0, got {value!r}")
    hours = carbon.shape[0]
    budget = moves_per_instance_day * hours / HOURS_PER_DAY
    # The hull at the budget needs costs past it. Exact costs up to twice the oracle's moves;
    # beyond, no path spends less than the hourly minimum, which keeps the floor a floor.
    oracle_moves = int((np.diff(carbon.argmin(axis=1)) != 0).sum())
    most = min(hours - 1, 2 * max(oracle_moves, math.ceil(budget)) + 1)
    costs = best_by_moves(carbon, overlap_hours, most)
    points = [(float(k), float(c)) for k, c in enumerate(costs)]
    if most < hours - 1:
        points.append((float(most + 1), float(carbon.min(axis=1).sum())))
    within = min(int(budget), most)
    plan_moves = int(np.argmax(costs <= costs[within]))  # fewest moves reaching that cost
    return MoveBudgetBound(
        floor=_hull_at(points, budget),
        plan=float(costs[within]),
        plan_moves=plan_moves,
        budget_moves=budget,
        overlap_hours=overlap_hours,
        hours=hours,
    )
