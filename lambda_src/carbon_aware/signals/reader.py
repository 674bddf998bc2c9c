"""Reading carbon signals from the cache only: readers never wait on a provider.

:meth:`CarbonReader.signal_set` is the planner's signal source: per region, the cached
observations behind ``now`` joined to the newest cached forecast ahead, with the built-in profile
filling what the cache lacks (flagged estimated). A ranking uses one signal type only: if any
region has no signal of the configured type (e.g. ``marginal`` where WattTime has no coverage and
no history), **every** region falls back to ``average`` for that ranking, and a warning names the
regions that forced it. Every region always has an average signal (at worst its profile).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from carbon_aware.engine.signal import Signal, SignalSet, SignalType
from carbon_aware.signals.cache import SignalCache
from carbon_aware.signals.catalog import Catalog
from carbon_aware.signals.chain import Provenance
from carbon_aware.signals.clock import Clock
from carbon_aware.signals.profiles import profile_signal
from carbon_aware.signals.targets import zone_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Current:
    """A region's value now, with provenance; ``stale`` when it is older than expected."""

    region: str
    zone: str
    value: float
    at: float
    provenance: Provenance
    stale: bool


class CarbonReader:
    """Cache-only access to signals for regions of the catalog."""

    def __init__(
        self,
        cache: SignalCache,
        catalog: Catalog,
        clock: Clock,
        *,
        signal_type: SignalType = SignalType.AVERAGE,
        max_observation_age: float = 2 * 3600.0,
    ) -> None:
        self.cache = cache
        self.catalog = catalog
        self.clock = clock
        self.signal_type = signal_type
        self.max_observation_age = max_observation_age

    def current(self, region: str) -> Current:
        """The newest observation if recent, else the cached forecast at now, else the profile."""
        now = self.clock.now()
        zone = zone_of(self.catalog.get(region), self.signal_type)
        point = self.cache.latest_observation(zone, self.signal_type)
        if point is not None and now - point.time <= self.max_observation_age:
            return Current(region, zone, point.value, point.time, point.provenance, False)
        cached = self.cache.forecast(zone, self.signal_type, now)
        if cached is not None and cached.signal.start <= now < cached.signal.end:
            stale = point is not None
            value = cached.signal.value_at(now)
            return Current(region, zone, value, now, cached.provenance, stale)
        estimate = profile_signal(region, now, now + 3600.0)
        provenance = Provenance(estimate.source, str(estimate.signal_type), True, now)
        return Current(region, zone, estimate.value_at(now), now, provenance, True)

    def signal_set(self, regions: Sequence[str], start: float, end: float) -> SignalSet:
        """One signal per region on ``[start, end)``, all of one signal type."""
        signals = {r: self._signal(r, self.signal_type, start, end) for r in regions}
        missing = sorted(r for r, s in signals.items() if s is None)
        if missing:
            log.warning(
                "no %s signal for %s: ranking every region on average intensity",
                self.signal_type,
                ", ".join(missing),
            )
            signals = {r: self._signal(r, SignalType.AVERAGE, start, end) for r in regions}
        return SignalSet.of(s for s in signals.values() if s is not None)

    def _signal(self, region: str, kind: SignalType, start: float, end: float) -> Signal | None:
        """Observations, then the forecast; for ``average`` the profile fills the rest."""
        now = self.clock.now()
        zone = zone_of(self.catalog.get(region), kind)
        parts: list[Signal] = []
        # From before start: the point in force at start began earlier.
        past = self.cache.observations(zone, kind, start - self.max_observation_age, now)
        if past is not None:
            parts.append(past)
        cached = self.cache.forecast(zone, kind, now)
        if cached is not None and cached.signal.signal_type is kind:
            parts.append(cached.signal)
        if kind is SignalType.AVERAGE:
            parts = _with_profile(region, parts, start, end)
        if not parts:
            return None
        joined = _concat(region, parts)
        return joined.window(start, end) if joined.start < end and joined.end > start else None


def _with_profile(region: str, parts: list[Signal], start: float, end: float) -> list[Signal]:
    """``parts`` with the built-in profile before and after them where they fall short."""
    if not parts:
        return [profile_signal(region, start, end)]
    head = [profile_signal(region, start, parts[0].start)] if parts[0].start > start else []
    tail = [profile_signal(region, parts[-1].end, end)] if parts[-1].end < end else []
    return [*head, *parts, *tail]


def _concat(region: str, parts: list[Signal]) -> Signal:
    """One signal from parts in time order; a part's points stop where the next part starts."""
    times, values = [], []
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        keep = part.times < (following.start if following is not None else np.inf)
        times.append(part.times[keep])
        values.append(part.values[keep])
    return Signal.from_points(
        region,
        np.concatenate(times),
        np.concatenate(values),
        end=parts[-1].end,
        source="+".join(dict.fromkeys(p.source for p in parts)),
        signal_type=parts[-1].signal_type,
        estimated=any(p.estimated for p in parts),
    )
