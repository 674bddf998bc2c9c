"""Worthwhile fleet moves: capacity moves only when its forecast saving beats the cost of a move.

Pure and deterministic. A region's **score path** is its unit score (the strategy's weights, see
:mod:`carbon_aware.engine.fleet`) for each hour of the look-ahead, all on one scale: carbon over
the largest horizon-mean carbon of the regions, price over the largest price. A move's **cost**
is running the region it leaves for ``move_cost_hours`` (launch, boot and warm-up, the
launch-before-drain overlap). Moving one instance from ``source`` to ``destination`` now is
weighed against staying, each followed by the best plan for that instance over the look-ahead,
free to switch between the two regions at any later hour at that cost (:func:`switching_costs`)::

    saving = least(start in source) - least(start in destination)

so a dip the source will share later is not chased now, waiting is chosen when moving later is
cheaper, and coming back is priced in. A move is made only when

- the destination's mean over the look-ahead is more than ``hysteresis`` better than the
  source's, and
- ``saving > cost`` with ``cost = move_cost_hours * source[0]``.

:func:`worthwhile_moves` applies the best such moves greedily (largest ``saving - cost`` first,
as many units as the bounds allow), never draining a region that received units in the same run
nor filling one it drained, within a budget of launches.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from carbon_aware.engine.fleet import FleetStrategy

#: A region's unit score per hour of the look-ahead.
ScorePath = tuple[float, ...]


@dataclass(frozen=True)
class Move:
    """``units`` instances from ``source`` to ``destination``; saving and cost in score-hours."""

    source: str
    destination: str
    units: int
    saving: float
    cost: float

    def describe(self) -> str:
        """One line for a decision's reason."""
        return (
            f"moved {self.units} from {self.source} to {self.destination}: forecast saving "
            f"{self.saving:.3f} > move cost {self.cost:.3f} score-hours"
        )


@dataclass(frozen=True)
class RegionPath:
    """A region's hourly carbon forecast over the look-ahead and its other score inputs."""

    carbon: Sequence[float]
    spot_price: float
    placement_score: int


def score_paths(
    strategy: FleetStrategy, regions: Mapping[str, RegionPath], hours: int
) -> dict[str, ScorePath]:
    """Each region's unit score per hour of the look-ahead (``hours``, at least one).

    A forecast shorter than ``hours`` is held at its last value; an empty one is left out.
    """
    hours = max(1, hours)
    carbon: dict[str, list[float]] = {}
    for region, path in regions.items():
        values = [float(v) for v in path.carbon[:hours]]
        if values:
            carbon[region] = values + [values[-1]] * (hours - len(values))
    top_carbon = max((math.fsum(path) / hours for path in carbon.values()), default=0.0)
    top_price = max((regions[r].spot_price for r in carbon), default=0.0)
    return {
        r: tuple(
            float(
                strategy.score(
                    value,
                    regions[r].spot_price,
                    regions[r].placement_score,
                    top_carbon,
                    top_price,
                )
            )
            for value in path
        )
        for r, path in carbon.items()
    }


def switching_costs(
    source: Sequence[float], destination: Sequence[float], move_cost_hours: float
) -> tuple[float, float]:
    """Least score-hours over the look-ahead for one instance starting in ``source`` and in
    ``destination``, free to switch between them on any later hour; a switch on hour ``h`` costs
    ``move_cost_hours`` of the left region's score at ``h``."""
    in_source = in_destination = 0.0
    for hour in range(len(source) - 1, -1, -1):
        if hour + 1 < len(source):
            in_source, in_destination = (
                min(in_source, move_cost_hours * source[hour + 1] + in_destination),
                min(in_destination, move_cost_hours * destination[hour + 1] + in_source),
            )
        in_source += source[hour]
        in_destination += destination[hour]
    return in_source, in_destination


@dataclass(frozen=True)
class MovePlan:
    """Result of :func:`worthwhile_moves`: the allocation, the moves made and the best refused."""

    allocation: dict[str, int]
    moves: tuple[Move, ...]
    refused: Move | None


def worthwhile_moves(
    allocation: Mapping[str, int],
    low: Mapping[str, int],
    high: Mapping[str, int],
    paths: Mapping[str, ScorePath],
    *,
    hysteresis: float,
    move_cost_hours: float,
    budget: int | None,
) -> MovePlan:
    """Moves from ``allocation`` among the regions of ``paths`` (see the module docstring).

    ``low``/``high`` bound each region's count; regions without a path never move. ``refused``
    is the best candidate whose saving did not beat its cost (None when none was close).
    """
    alloc = dict(allocation)
    left = budget
    received: set[str] = set()
    drained: set[str] = set()
    moves: list[Move] = []
    refused: Move | None = None
    names = sorted(paths)
    means = {r: math.fsum(paths[r]) / len(paths[r]) for r in names}
    while left is None or left > 0:
        best: Move | None = None
        for source in names:
            if source in received or alloc[source] <= low[source]:
                continue
            for destination in names:
                if destination == source or destination in drained:
                    continue
                if alloc[destination] >= high[destination]:
                    continue
                if means[source] - means[destination] <= hysteresis * means[source]:
                    continue
                a, b = paths[source], paths[destination]
                stay, go = switching_costs(a, b, move_cost_hours)
                cost = move_cost_hours * a[0]
                saving = stay - go
                units = min(alloc[source] - low[source], high[destination] - alloc[destination])
                candidate = Move(source, destination, units, saving, cost)
                if saving <= cost:
                    if refused is None or saving - cost > refused.saving - refused.cost:
                        refused = candidate
                elif best is None or saving - cost > best.saving - best.cost:
                    best = candidate
        if best is None:
            break
        units = best.units if left is None else min(best.units, left)
        alloc[best.source] -= units
        alloc[best.destination] += units
        moves.append(Move(best.source, best.destination, units, best.saving, best.cost))
        received.add(best.destination)
        drained.add(best.source)
        if left is not None:
            left -= units
    return MovePlan(alloc, tuple(moves), None if moves else refused)
