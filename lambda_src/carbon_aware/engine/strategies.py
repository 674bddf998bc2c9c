"""Placement strategies, pluggable by name.

- ``time_shift``: stay in the home region and pick the start (before the deadline) with the lowest
  emissions. Interruptible work is split into the lowest-carbon segments of at least min_segment.
- ``location_shift``: start now and pick the allowed region with the lowest emissions.
- ``combined``: pick the best (region, start) pair over every allowed region and start time.
  Interruptible work is segmented within the chosen region.
- ``carbon_time``: home region; like GAIA's Carbon-Time policy, pick the start that maximises carbon
  saved (against starting now) per hour of completion time (delay + duration); start now when no
  delay saves anything. Wins most of the saving of ``time_shift`` while waiting far less.
- ``carbon_first`` / ``balanced`` / ``cost_first``: minimise ``w_carbon * carbon + w_cost * cost``
  over every (region, start), as one uninterrupted run. Both terms are either min-max normalised
  over the candidates or, with a ``carbon_price_usd_per_tonne``, both in dollars. Default weights
  0.8/0.2, 0.5/0.5 and 0.2/0.8.
  Optional constraints: ``max_carbon`` (mean gCO2e/kWh over the run) and ``max_cost`` (USD/hour).
  A region without a known price counts as the most expensive, and is excluded under ``max_cost``.
- ``follow_the_sun``: for interruptible work, a dynamic programme chooses segments over
  (time, region), charging ``migration_penalty_g`` per move, so long jobs follow clean energy around
  the globe without thrashing. Non-interruptible work is placed as by ``combined``.

Every strategy returns :class:`~carbon_aware.engine.placement.Placement`; a workload that cannot be
placed gets an ``infeasible`` result with the reason instead of an exception.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from carbon_aware.engine.placement import PLACED, Placement, Segment
from carbon_aware.engine.signal_type import SECONDS_PER_HOUR
from carbon_aware.engine.workload import Workload

# numpy and the numpy-backed modules are imported where a placement runs, not here: submission
# validation builds strategies (checking their options) in functions that ship without numpy.
if TYPE_CHECKING:
    import numpy as np

    from carbon_aware.engine.signal import SignalSet
    from carbon_aware.engine.windows import WindowTable


class StrategyError(ValueError):
    """Unknown strategy name or invalid strategy option."""


class Infeasible(Exception):
    """Raised inside a strategy to return an ``infeasible`` placement with this reason."""


@dataclass(frozen=True)
class Strategy:
    """Base: subclasses implement :meth:`_place`; :meth:`place` turns Infeasible into a result."""

    name = "base"

    def place(self, workload: Workload, signals: SignalSet) -> Placement:
        """Place one workload on these signals (forecast or actual)."""
        try:
            return self._place(workload, signals)
        except Infeasible as exc:
            return Placement.infeasible(workload.id, self.name, str(exc))

    def _place(self, workload: Workload, signals: SignalSet) -> Placement:
        raise NotImplementedError

    def _regions(self, workload: Workload, signals: SignalSet) -> list[str]:
        return usable_regions(workload, signals, workload.regions)

    def _placement(
        self, workload: Workload, segments: Sequence[Segment], emissions_g: float
    ) -> Placement:
        cost = _cost(workload, segments)
        return Placement(workload.id, self.name, PLACED, tuple(segments), emissions_g, cost)


def usable_regions(workload: Workload, signals: SignalSet, regions: Sequence[str]) -> list[str]:
    """Allowed regions that have data, sorted by name; Infeasible when there are none."""
    with_data = sorted({r for r in regions if r in signals})
    if not with_data:
        raise Infeasible(f"no allowed region has carbon data: {', '.join(regions)}")
    return with_data


def _cost(workload: Workload, segments: Sequence[Segment]) -> float | None:
    total = 0.0
    for seg in segments:
        price = workload.price_per_hour(seg.region)
        if price is None:
            return None
        total += price * (seg.end - seg.start) / SECONDS_PER_HOUR
    return total


def _require_window(workload: Workload) -> None:
    if workload.latest_start < workload.start_after:
        raise Infeasible("deadline too close: the run cannot finish in time")


def _no_coverage(regions: Sequence[str]) -> Infeasible:
    return Infeasible(f"carbon data does not cover the run window in {', '.join(regions)}")


@dataclass(frozen=True)
class _WindowStrategy(Strategy):
    """Uninterrupted runs chosen from the exact candidate table (segmented when interruptible)."""

    only_home = False
    only_now = False
    segments_interruptible = True

    def _regions(self, workload: Workload, signals: SignalSet) -> list[str]:
        allowed = [workload.home_region] if self.only_home else workload.regions
        return usable_regions(workload, signals, allowed)

    def _place(self, workload: Workload, signals: SignalSet) -> Placement:
        _require_window(workload)
        regions = self._regions(workload, signals)
        if workload.interruptible and self.segments_interruptible and not self.only_now:
            return self._segmented(workload, signals, regions, math.inf)
        from carbon_aware.engine.windows import best_cell

        table = self._table(workload, signals, regions)
        cell = best_cell(self._score(workload, table), table.home)
        if cell is None:
            raise self._nothing_fits(regions)
        return self._from_cell(workload, table, *cell)

    def _table(self, workload: Workload, signals: SignalSet, regions: list[str]) -> WindowTable:
        from carbon_aware.engine.windows import window_table

        return window_table(
            signals.matrix,
            regions,
            workload.home_region,
            workload.start_after,
            workload.latest_start,
            workload.duration,
            only_earliest=self.only_now,
        )

    def _score(self, workload: Workload, table: WindowTable) -> np.ndarray:
        return table.integral

    def _nothing_fits(self, regions: Sequence[str]) -> Infeasible:
        return _no_coverage(regions)

    def _from_cell(self, workload: Workload, table: WindowTable, row: int, col: int) -> Placement:
        start = float(table.starts[row])
        segment = Segment(table.regions[col], start, start + workload.duration)
        grams = float(table.integral[row, col]) * workload.power_watts / 1000.0
        return self._placement(workload, [segment], grams)

    def _segmented(
        self, workload: Workload, signals: SignalSet, regions: list[str], penalty_g: float
    ) -> Placement:
        from carbon_aware.engine.segments import plan_segments

        plan = plan_segments(
            signals.matrix,
            regions,
            workload.start_after,
            workload.deadline,
            workload.duration,
            workload.min_segment,
            workload.power_watts,
            penalty_g,
        )
        if plan is None:
            raise _no_coverage(regions)
        return self._placement(workload, plan.segments, plan.emissions_g)


@dataclass(frozen=True)
class TimeShift(_WindowStrategy):
    """Home region, best start."""

    name = "time_shift"
    only_home = True


@dataclass(frozen=True)
class LocationShift(_WindowStrategy):
    """Start now, best region."""

    name = "location_shift"
    only_now = True


@dataclass(frozen=True)
class Combined(_WindowStrategy):
    """Best (region, start) pair."""

    name = "combined"


@dataclass(frozen=True)
class CarbonTime(_WindowStrategy):
    """Home region, most carbon saved per hour of completion time."""

    name = "carbon_time"
    only_home = True

    def _place(self, workload: Workload, signals: SignalSet) -> Placement:
        import numpy as np

        from carbon_aware.engine.windows import best_cell

        _require_window(workload)
        regions = self._regions(workload, signals)
        table = self._table(workload, signals, regions)
        integral = table.integral[:, 0]
        now = integral[0]
        if not np.isfinite(now):
            cell = best_cell(table.integral, table.home)
            if cell is None:
                raise _no_coverage(regions)
            return self._from_cell(workload, table, *cell)
        hours = (table.starts - workload.start_after + workload.duration) / SECONDS_PER_HOUR
        rate = np.where(np.isfinite(integral), (now - integral) / hours, -np.inf)
        row = int(np.argmax(rate)) if rate.max() > 0 else 0
        return self._from_cell(workload, table, row, 0)


@dataclass(frozen=True)
class Blended(_WindowStrategy):
    """Weighted carbon and cost over every (region, start)."""

    name = "balanced"
    segments_interruptible = False
    carbon_weight: float = 0.5
    carbon_price_usd_per_tonne: float | None = None
    max_carbon: float | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.carbon_weight <= 1.0:
            raise StrategyError("carbon_weight must be between 0 and 1")
        for option in ("carbon_price_usd_per_tonne", "max_carbon", "max_cost"):
            value = getattr(self, option)
            if value is not None and not value > 0:
                raise StrategyError(f"{option} must be positive")

    def _nothing_fits(self, regions: Sequence[str]) -> Infeasible:
        limits = []
        if self.max_carbon is not None:
            limits.append(f"max_carbon {self.max_carbon:g} gCO2e/kWh")
        if self.max_cost is not None:
            limits.append(f"max_cost {self.max_cost:g} USD/h")
        if not limits:
            return _no_coverage(regions)
        return Infeasible(f"no (region, start) meets {' and '.join(limits)}")

    def _score(self, workload: Workload, table: WindowTable) -> np.ndarray:
        import numpy as np

        hours = workload.duration / SECONDS_PER_HOUR
        prices = np.array([workload.price_per_hour(r) for r in table.regions], dtype=float)
        known = np.isfinite(prices)
        allowed = table.feasible()
        if self.max_carbon is not None:
            allowed &= table.mean_intensity() <= self.max_carbon
        if self.max_cost is not None:
            allowed &= (known & (np.nan_to_num(prices, nan=np.inf) <= self.max_cost))[None, :]
        if not allowed.any():
            return np.full(table.integral.shape, np.inf)
        grams = table.integral * workload.power_watts / 1000.0
        if self.carbon_price_usd_per_tonne is not None:
            carbon = grams * self.carbon_price_usd_per_tonne / 1e6
            dollars = np.where(known, prices, np.nanmax(prices) if known.any() else 0.0) * hours
            cost = np.broadcast_to(dollars[None, :], grams.shape)
        else:
            carbon = _normalise(grams, allowed)
            cost = np.broadcast_to(_normalise_prices(prices, known)[None, :], grams.shape)
        score = self.carbon_weight * carbon + (1.0 - self.carbon_weight) * cost
        return np.where(allowed, score, np.inf)


def _normalise(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import numpy as np

    lo, hi = values[mask].min(), values[mask].max()
    if hi - lo <= 0:
        return np.zeros_like(values)
    return (values - lo) / (hi - lo)


def _normalise_prices(prices: np.ndarray, known: np.ndarray) -> np.ndarray:
    import numpy as np

    if not known.any():
        return np.zeros_like(prices)
    scaled = _normalise(prices, known)
    return np.where(known, scaled, 1.0)


@dataclass(frozen=True)
class FollowTheSun(_WindowStrategy):
    """Interruptible work moves between regions; each move costs ``migration_penalty_g``."""

    name = "follow_the_sun"
    migration_penalty_g: float = 0.0

    def __post_init__(self) -> None:
        if not self.migration_penalty_g >= 0:
            raise StrategyError("migration_penalty_g must be zero or positive")

    def _place(self, workload: Workload, signals: SignalSet) -> Placement:
        if not workload.interruptible:
            return super()._place(workload, signals)
        _require_window(workload)
        regions = self._regions(workload, signals)
        return self._segmented(workload, signals, regions, self.migration_penalty_g)


BLEND_WEIGHTS = {"carbon_first": 0.8, "balanced": 0.5, "cost_first": 0.2}


def _blended(name: str) -> Callable[..., Strategy]:
    def make(**options: float) -> Strategy:
        options.setdefault("carbon_weight", BLEND_WEIGHTS[name])
        strategy = Blended(**options)
        object.__setattr__(strategy, "name", name)
        return strategy

    return make


STRATEGIES: dict[str, Callable[..., Strategy]] = {
    "time_shift": TimeShift,
    "location_shift": LocationShift,
    "combined": Combined,
    "carbon_time": CarbonTime,
    **{name: _blended(name) for name in BLEND_WEIGHTS},
    "follow_the_sun": FollowTheSun,
}


def get_strategy(name: str, **options: float) -> Strategy:
    """Instantiate a strategy by name with its options."""
    try:
        factory = STRATEGIES[name]
    except KeyError:
        raise StrategyError(
            f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None
    try:
        return factory(**options)
    except TypeError as exc:
        raise StrategyError(f"{name}: {exc}") from None
