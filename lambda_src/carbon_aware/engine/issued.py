"""Issued forecasts: what a forecaster (a provider's, or any) said at each issue time.

A backtest with issued forecasts decides each job on, per allowed region, the latest forecast issued
at or before the job's ``submitted_at`` (never a later one: no look-ahead). That forecast's first
value also stands for the stretch from its issue time to its first point (a forecast issued at
18:48 whose first point is 19:00 says nothing else about 18:48-19:00). Regions with no forecast
issued yet are not candidates for that decision; a job none of whose regions has one is reported
infeasible with that reason (no silent fallback to the actual series or to another forecaster).
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from carbon_aware.engine.signal import Signal, SignalError, SignalSet
from carbon_aware.engine.timeutil import iso
from carbon_aware.engine.workload import Workload


@dataclass(frozen=True, eq=False)
class IssuedForecast:
    """One forecast for one region, as issued at ``issued_at`` (POSIX seconds)."""

    region: str
    issued_at: float
    signal: Signal

    def as_seen(self) -> Signal:
        """The forecast with its first value held back to the issue time (when it starts later)."""
        sig = self.signal
        if self.issued_at >= sig.start:
            return sig
        return Signal(
            sig.region,
            np.concatenate(([self.issued_at], sig.times)),
            np.concatenate((sig.values[:1], sig.values)),
            sig.end,
            sig.source,
            sig.signal_type,
            sig.estimated,
        )


class IssuedForecasts:
    """Issued forecasts of several regions, looked up by decision time."""

    def __init__(self, forecasts: Iterable[IssuedForecast]) -> None:
        by_region: dict[str, list[IssuedForecast]] = defaultdict(list)
        for forecast in forecasts:
            by_region[forecast.region].append(forecast)
        self._forecasts: dict[str, list[IssuedForecast]] = {}
        self._issued: dict[str, list[float]] = {}
        for region, items in by_region.items():
            items.sort(key=lambda f: f.issued_at)
            issued = [f.issued_at for f in items]
            for a, b in itertools.pairwise(issued):
                if a == b:
                    raise SignalError(f"{region}: two forecasts issued at {iso(a)}")
            self._forecasts[region] = items
            self._issued[region] = issued
        if not self._forecasts:
            raise SignalError("no issued forecasts")
        self._sets: dict[tuple[int, ...], SignalSet] = {}

    @property
    def regions(self) -> list[str]:
        """Regions with at least one forecast, sorted."""
        return sorted(self._forecasts)

    def count(self, region: str) -> int:
        """Forecasts issued for ``region``."""
        return len(self._forecasts.get(region, ()))

    def latest(self, region: str, at: float) -> IssuedForecast | None:
        """The latest forecast for ``region`` issued at or before ``at``, or None."""
        issued = self._issued.get(region)
        if not issued:
            return None
        k = bisect.bisect_right(issued, at) - 1
        return self._forecasts[region][k] if k >= 0 else None

    def as_of(self, regions: Iterable[str], at: float) -> SignalSet:
        """The latest forecast of each of ``regions`` issued at or before ``at``.

        Regions without one are left out; :class:`SignalError` when none has one. Sets are shared
        between decisions that see the same forecasts (so is their resampled matrix).
        """
        chosen = {r: self.latest(r, at) for r in sorted(set(regions))}
        seen = {r: f for r, f in chosen.items() if f is not None}
        if not seen:
            raise SignalError(
                f"no forecast issued at or before {iso(at)} for {', '.join(sorted(chosen))}"
            )
        key = tuple(id(f) for f in seen.values())
        cached = self._sets.get(key)
        if cached is None:
            cached = SignalSet.of(f.as_seen() for f in seen.values())
            self._sets[key] = cached
        return cached

    def forecast_fn(self) -> Callable[[Workload], SignalSet]:
        """What a backtest decision sees: :meth:`as_of` the job's regions at its submission."""

        def seen(workload: Workload) -> SignalSet:
            return self.as_of((workload.home_region, *workload.regions), workload.submitted_at)

        return seen
