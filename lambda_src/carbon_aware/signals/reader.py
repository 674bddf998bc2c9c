"""Reading carbon signals from the cache only: readers never wait on a provider.

:meth:`CarbonReader.signal_set` is the planner's signal source: per region, the cached
observations behind ``now`` joined to the newest cached forecast ahead, with the built-in profile
filling what the cache lacks (flagged estimated). A ranking uses one signal type only: if any
region has no signal of the configured type (e.g. ``marginal`` where WattTime has no coverage and
no history), **every** region falls back to ``average`` for that ranking, and a warning names the
regions that forced it. Every region always has an average signal (at worst its profile).

:meth:`CarbonReader.comparable` is the accounting's source (numpy-free): the same reads for a run
and its baseline, with the same signal-type rule, and one provider class too: when the two series
come from different classes (say a provider's data for the run, the profile for the baseline),
both are read from the built-in profile, so grams are compared like with like.

:meth:`CarbonReader.observed` is the oracle's source, after the fact: a provider's cached
observations that cover each span whole (no forecast, no profile filling a gap), or the built-in
profile when the accounting it is compared with was on the profile.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from carbon_aware.engine.accounting import SOURCE_SEPARATOR, ProviderClass, Series, Span
from carbon_aware.engine.signal_type import SignalType
from carbon_aware.signals.cache import SignalCache
from carbon_aware.signals.catalog import Catalog
from carbon_aware.signals.chain import Provenance
from carbon_aware.signals.clock import Clock
from carbon_aware.signals.profiles import profile_series
from carbon_aware.signals.targets import zone_of

if TYPE_CHECKING:
    from carbon_aware.engine.signal import SignalSet

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
        cached = self.cache.forecast_series(zone, self.signal_type, now)
        if cached is not None and cached[0].start <= now < cached[0].end:
            stale = point is not None
            return Current(region, zone, cached[0].value_at(now), now, cached[1], stale)
        estimate = profile_series(region, now, now + 3600.0)
        provenance = Provenance(estimate.source, str(estimate.signal_type), True, now)
        return Current(region, zone, estimate.value_at(now), now, provenance, True)

    def signal_set(self, regions: Sequence[str], start: float, end: float) -> SignalSet:
        """One signal per region on ``[start, end)``, all of one signal type."""
        from carbon_aware.engine.signal import Signal, SignalSet

        series = self._of_one_type([Span(r, start, end) for r in regions], "ranking")
        return SignalSet.of(Signal.of_series(s) for s in series if s is not None)

    def comparable(self, spans: Sequence[Span]) -> list[Series]:
        """One series per span, all of one signal type and one provider class."""
        found = self._of_one_type(spans, "comparison")
        series = [s for s in found if s is not None]
        classes = {s.provider_class for s in series}
        if len(series) == len(spans) and len(classes) == 1:
            return series
        log.warning(
            "%s: reading every side of the comparison from the built-in profile",
            "no signal for a side" if len(series) < len(spans) else "different provider classes",
        )
        return [profile_series(s.region, s.start, s.end) for s in spans]

    def observed(
        self, spans: Sequence[Span], signal_type: SignalType, provider_class: ProviderClass
    ) -> list[Series | None]:
        """Each span's intensities of ``signal_type`` and ``provider_class`` as observed: for a
        provider, its cached observations when they cover the span whole (else None: not yet
        observed); for the profile, the profile; nothing for our own forecasts."""
        if provider_class is ProviderClass.PROFILE:
            return [profile_series(s.region, s.start, s.end) for s in spans]
        found: list[Series | None] = []
        for span in spans:
            zone = zone_of(self.catalog.get(span.region), signal_type)
            since = span.start - self.max_observation_age
            series = self.cache.observation_series(zone, signal_type, since, span.end)
            if (
                series is None
                or series.provider_class is not provider_class
                or not series.start <= span.start < span.end <= series.end
            ):
                found.append(None)
                continue
            # The cache names series after the zone; the oracle places by region.
            window = series.window(span.start, span.end)
            found.append(dataclasses.replace(window, region=span.region))
        return found

    def _of_one_type(self, spans: Sequence[Span], purpose: str) -> list[Series | None]:
        """Each span's series of the configured type, or of ``average`` for all if one lacks it."""
        series = [self._series(s.region, self.signal_type, s.start, s.end) for s in spans]
        missing = sorted({s.region for s, found in zip(spans, series, strict=True) if not found})
        if not missing:
            return series
        log.warning(
            "no %s signal for %s: %s on average intensity for every region",
            self.signal_type,
            ", ".join(missing),
            purpose,
        )
        return [self._series(s.region, SignalType.AVERAGE, s.start, s.end) for s in spans]

    def _series(self, region: str, kind: SignalType, start: float, end: float) -> Series | None:
        """Observations, then the forecast; for ``average`` the profile fills the rest."""
        now = self.clock.now()
        zone = zone_of(self.catalog.get(region), kind)
        parts: list[Series] = []
        # From before start: the point in force at start began earlier.
        past = self.cache.observation_series(zone, kind, start - self.max_observation_age, now)
        if past is not None:
            parts.append(past)
        cached = self.cache.forecast_series(zone, kind, now)
        if cached is not None and cached[0].signal_type is kind:
            parts.append(cached[0])
        if kind is SignalType.AVERAGE:
            parts = _with_profile(region, parts, start, end)
        if not parts:
            return None
        joined = _concat(region, parts)
        return joined.window(start, end) if joined.start < end and joined.end > start else None


def _with_profile(region: str, parts: list[Series], start: float, end: float) -> list[Series]:
    """``parts`` with the built-in profile before and after them where they fall short."""
    if not parts:
        return [profile_series(region, start, end)]
    head = [profile_series(region, start, parts[0].start)] if parts[0].start > start else []
    tail = [profile_series(region, parts[-1].end, end)] if parts[-1].end < end else []
    return [*head, *parts, *tail]


def _concat(region: str, parts: list[Series]) -> Series:
    """One series from parts in time order; a part's points stop where the next part starts."""
    times: list[float] = []
    values: list[float] = []
    for part, following in zip(parts, [*parts[1:], None], strict=True):
        limit = following.start if following is not None else math.inf
        kept = [i for i, t in enumerate(part.times) if t < limit]
        times.extend(part.times[i] for i in kept)
        values.extend(part.values[i] for i in kept)
    return Series.from_points(
        region,
        times,
        values,
        end=parts[-1].end,
        source=SOURCE_SEPARATOR.join(dict.fromkeys(p.source for p in parts)),
        signal_type=parts[-1].signal_type,
        estimated=any(p.estimated for p in parts),
    )
