"""Emissions accounting: the grams a run emitted, from a step series of intensity, with provenance.

Pure Python (no numpy): the completion function accounts each finished run with it, and the
backtest accounts its decisions with the same arithmetic. A series holds points ``(t_i, v_i)`` in
gCO2eq/kWh; ``v_i`` holds on ``[t_i, t_{i+1})`` and the last one until ``end``, as for
:class:`~carbon_aware.engine.signal.Signal` (which satisfies :class:`StepSeries` too).

A comparison (a run against its baseline) must use one signal type and one *provider class*:

- ``provider``: data of a live provider (observed or its own forecast);
- ``forecast``: our forecast from cached history (the ``history`` estimator);
- ``profile``: the built-in regional profile or a catalog static factor.

A series joined from several sources belongs to the weakest class among them.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from itertools import pairwise
from typing import Any, Protocol

from carbon_aware.engine.signal_type import SECONDS_PER_HOUR, SignalError, SignalType

SOURCE_SEPARATOR = "+"


class ProviderClass(IntEnum):
    """Where grams came from, weakest first (a joined series takes the minimum)."""

    PROFILE = 0
    FORECAST = 1
    PROVIDER = 2

    def __str__(self) -> str:
        return self.name.lower()


# Sources that are not a live provider's data; any other source name is a provider's.
ESTIMATE_SOURCES = {
    "history": ProviderClass.FORECAST,
    "profile": ProviderClass.PROFILE,
    "static-factor": ProviderClass.PROFILE,
}


def provider_class(source: str) -> ProviderClass:
    """The class of a source name, or of the weakest part of a ``"a+b"`` joined one."""
    parts = source.split(SOURCE_SEPARATOR)
    return min(ESTIMATE_SOURCES.get(part, ProviderClass.PROVIDER) for part in parts)


class StepSeries(Protocol):
    """A step series of carbon intensity with provenance (a :class:`Series` or a ``Signal``)."""

    region: str
    end: float
    source: str
    signal_type: SignalType
    estimated: bool

    @property
    def times(self) -> Sequence[float]: ...

    @property
    def values(self) -> Sequence[float]: ...


@dataclass(frozen=True)
class Series:
    """A validated step series in plain tuples: what accounting reads without numpy."""

    region: str
    times: tuple[float, ...]
    values: tuple[float, ...]
    end: float
    source: str
    signal_type: SignalType
    estimated: bool

    @classmethod
    def from_points(
        cls,
        region: str,
        times: Sequence[float],
        values: Sequence[float],
        *,
        end: float | None = None,
        source: str = "unknown",
        signal_type: SignalType | str = SignalType.AVERAGE,
        estimated: bool = False,
    ) -> Series:
        """Validate and build a series; ``end`` defaults to the last point plus the median step."""
        t = tuple(float(x) for x in times)
        v = tuple(float(x) for x in values)
        if not t or len(t) != len(v):
            raise SignalError(f"{region}: times and values must be equal-length and non-empty")
        if not all(math.isfinite(x) for x in v):
            raise SignalError(f"{region}: carbon intensity has missing or non-finite values")
        if any(x < 0 for x in v):
            raise SignalError(f"{region}: carbon intensity must not be negative")
        steps = [b - a for a, b in pairwise(t)]
        if any(step <= 0 for step in steps):
            raise SignalError(f"{region}: times must be strictly increasing")
        if end is None:
            end = t[-1] + (_median(steps) if steps else SECONDS_PER_HOUR)
        if not end > t[-1]:
            raise SignalError(f"{region}: end must be after the last point")
        return cls(region, t, v, float(end), source, SignalType(signal_type), estimated)

    @property
    def start(self) -> float:
        """First instant covered by the series."""
        return self.times[0]

    @property
    def provider_class(self) -> ProviderClass:
        """The class of the weakest source the series is joined from."""
        return provider_class(self.source)

    def value_at(self, t: float) -> float:
        """Intensity in force at ``t``."""
        if not self.start <= t < self.end:
            raise SignalError(f"{self.region}: no value at {t}")
        return self.values[bisect_right(self.times, t) - 1]

    def window(self, a: float, b: float) -> Series:
        """The part of the series on ``[a, b)`` (clipped to the span)."""
        a, b = max(a, self.start), min(b, self.end)
        if b <= a:
            raise SignalError(f"{self.region}: empty window")
        first = bisect_right(self.times, a) - 1
        last = bisect_left(self.times, b)
        times = (a, *self.times[first + 1 : last])
        values = self.values[first:last]
        return Series(self.region, times, values, b, self.source, self.signal_type, self.estimated)


def _median(values: Sequence[float]) -> float:
    # Not statistics.median: importing statistics costs the completion's cold start.
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class Span:
    """An interval of one region to account."""

    region: str
    start: float
    end: float


class ComparableSource(Protocol):
    """Series for spans that are compared with each other (a run and its baseline)."""

    def comparable(self, spans: Sequence[Span]) -> list[Series]:
        """One series per span, all of one signal type and one provider class."""
        ...


@dataclass(frozen=True)
class Emissions:
    """Grams over an interval and the provenance of the series they were read from."""

    grams: float
    source: str
    signal_type: SignalType
    estimated: bool

    @property
    def provider_class(self) -> ProviderClass:
        """The class of the series' weakest source."""
        return provider_class(self.source)


def comparison(run: Emissions, baseline: Emissions) -> dict[str, Any]:
    """The result fields of a run against its baseline, which must share signal type and
    provider class: ``emissions_g``, ``baseline_g``, ``saved_g``, ``provider`` (and
    ``baseline_provider`` when the baseline's differs), ``provider_class``, ``signal_type``,
    ``estimated``."""
    if run.signal_type != baseline.signal_type or run.provider_class != baseline.provider_class:
        raise SignalError(
            "cannot compare a run on "
            f"{run.signal_type} {run.provider_class} data with a baseline on "
            f"{baseline.signal_type} {baseline.provider_class} data"
        )
    fields: dict[str, Any] = {
        "emissions_g": run.grams,
        "baseline_g": baseline.grams,
        "saved_g": baseline.grams - run.grams,
        "provider": run.source,
        "provider_class": str(run.provider_class),
        "signal_type": str(run.signal_type),
        "estimated": run.estimated or baseline.estimated,
    }
    if baseline.source != run.source:
        fields["baseline_provider"] = baseline.source
    return fields


def emissions_g(series: StepSeries, power_watts: float, start: float, end: float) -> float:
    """Grams CO2e of drawing ``power_watts`` over ``[start, end)``, duration-weighted.

    Raises :class:`SignalError` when the series does not cover the interval.
    """
    times, values = series.times, series.values
    if not (times[0] <= start <= end <= series.end):
        raise SignalError(f"{series.region}: signal does not cover the interval")
    i = bisect_right(times, start) - 1
    total, at = 0.0, start
    while at < end:
        following = times[i + 1] if i + 1 < len(times) else series.end
        until = min(following, end)
        total += float(values[i]) * (until - at)
        at, i = until, i + 1
    return total / SECONDS_PER_HOUR * power_watts / 1000.0


def account(series: StepSeries, power_watts: float, start: float, end: float) -> Emissions:
    """:func:`emissions_g` with the series' provenance."""
    grams = emissions_g(series, power_watts, start, end)
    return Emissions(grams, series.source, series.signal_type, series.estimated)
