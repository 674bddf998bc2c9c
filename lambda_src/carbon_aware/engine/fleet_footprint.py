"""A fleet's grams and dollars over one optimizer interval, recomputable from what it records.

Between two optimizer runs each region's instances are those its group had InService at the
first run (per instance type). For the interval ``[start, end)``:

- grams = sum over regions and types of instances x watts per instance x hours x mean intensity
  (g/kWh) over the interval / 1000;
- dollars = instances x the type's spot price (USD per instance-hour) x hours, where the price is
  known; instance-hours without a price are counted as ``unpriced_instance_hours``, never as 0 $;
- baseline = the same instances in the fleet's home region (its first), for the saving.

:meth:`FleetFootprint.to_dict` holds every input, so an auditor recomputes each figure from the
record alone (and checks each intensity against the stored series).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HOUR = 3600.0


class FootprintError(ValueError):
    """Inputs that cannot give a footprint (the message names the field)."""


@dataclass(frozen=True)
class RegionUsage:
    """What ran in one region over the interval and what it cost per hour there."""

    region: str
    instances: Mapping[str, int]
    watts: Mapping[str, float]
    intensity: float
    prices: Mapping[str, float]

    def instance_hours(self, hours: float) -> float:
        """Instance-hours of every type."""
        return sum(self.instances.values()) * hours

    def grams(self, hours: float, intensity: float | None = None) -> float:
        """Grams at this region's intensity (or ``intensity``)."""
        g_per_kwh = self.intensity if intensity is None else intensity
        watts = sum(n * self.watts[t] for t, n in self.instances.items())
        return watts * hours * g_per_kwh / 1000.0

    def dollars(self, hours: float) -> tuple[float, float]:
        """Dollars of the priced types, and instance-hours of the unpriced ones."""
        cost = sum(
            n * self.prices[t] * hours for t, n in self.instances.items() if t in self.prices
        )
        unpriced = sum(n * hours for t, n in self.instances.items() if t not in self.prices)
        return cost, unpriced


@dataclass(frozen=True)
class FleetFootprint:
    """Grams, dollars and the home-region baseline of a fleet over ``[start, end)``."""

    start: float
    end: float
    home: str
    home_intensity: float
    usages: tuple[RegionUsage, ...]

    @property
    def hours(self) -> float:
        """Length of the interval in hours."""
        return (self.end - self.start) / HOUR

    @property
    def emissions_g(self) -> float:
        """Grams emitted where the instances ran."""
        return sum(u.grams(self.hours) for u in self.usages)

    @property
    def baseline_g(self) -> float:
        """Grams the same instances would have emitted in the home region."""
        return sum(u.grams(self.hours, self.home_intensity) for u in self.usages)

    @property
    def cost_usd(self) -> float:
        """Dollars of the instance-hours whose spot price is known."""
        return sum(u.dollars(self.hours)[0] for u in self.usages)

    @property
    def unpriced_instance_hours(self) -> float:
        """Instance-hours with no known price (not in ``cost_usd``)."""
        return sum(u.dollars(self.hours)[1] for u in self.usages)

    def to_dict(self) -> dict[str, Any]:
        """Every input and figure, JSON-ready."""
        return {
            "start": self.start,
            "end": self.end,
            "hours": self.hours,
            "home": self.home,
            "home_intensity_g_per_kwh": self.home_intensity,
            "regions": {
                u.region: {
                    "instances": dict(u.instances),
                    "watts_per_instance": dict(u.watts),
                    "intensity_g_per_kwh": u.intensity,
                    "spot_usd_per_instance_hour": dict(u.prices),
                    "grams": u.grams(self.hours),
                    "cost_usd": u.dollars(self.hours)[0],
                }
                for u in self.usages
            },
            "emissions_g": self.emissions_g,
            "baseline_g": self.baseline_g,
            "saved_g": self.baseline_g - self.emissions_g,
            "cost_usd": self.cost_usd,
            "unpriced_instance_hours": self.unpriced_instance_hours,
        }


def footprint(
    start: float,
    end: float,
    home: str,
    intensities: Mapping[str, float],
    usages: Mapping[str, tuple[Mapping[str, int], Mapping[str, float], Mapping[str, float]]],
) -> FleetFootprint:
    """The footprint from per-region ``(instances by type, watts by type, prices by type)`` and
    mean intensities; FootprintError names what is missing or invalid."""
    if not (math.isfinite(start) and math.isfinite(end) and end > start):
        raise FootprintError(f"interval must be finite and end after start, got [{start}, {end})")
    if home not in intensities:
        raise FootprintError(f"intensity of the home region {home} is unknown")
    built = []
    for region, (instances, watts, prices) in sorted(usages.items()):
        if not any(instances.values()):
            continue
        if region not in intensities:
            raise FootprintError(f"intensity of {region} is unknown")
        missing = sorted(t for t, n in instances.items() if n and t not in watts)
        if missing:
            raise FootprintError(f"watts per instance of {missing} in {region} are unknown")
        for name, value in (("intensity", intensities[region]), *watts.items()):
            if not math.isfinite(value) or value < 0:
                raise FootprintError(f"{name} in {region} must be finite and >= 0, got {value}")
        ran = {t: int(n) for t, n in instances.items() if n}
        built.append(
            RegionUsage(
                region,
                ran,
                {t: float(watts[t]) for t in ran},
                float(intensities[region]),
                {t: float(prices[t]) for t in ran if t in prices and math.isfinite(prices[t])},
            )
        )
    return FleetFootprint(start, end, home, float(intensities[home]), tuple(built))


def recompute(record: Mapping[str, Any]) -> dict[str, float]:
    """``emissions_g``, ``baseline_g`` and ``cost_usd`` recomputed from a :meth:`to_dict` record's
    inputs alone (what an auditor does)."""
    hours = (float(record["end"]) - float(record["start"])) / HOUR
    grams = baseline = dollars = 0.0
    for region in record["regions"].values():
        for instance_type, count in region["instances"].items():
            watts = float(region["watts_per_instance"][instance_type])
            grams += count * watts * hours * float(region["intensity_g_per_kwh"]) / 1000.0
            baseline += count * watts * hours * float(record["home_intensity_g_per_kwh"]) / 1000.0
            price = region["spot_usd_per_instance_hour"].get(instance_type)
            if price is not None:
                dollars += count * float(price) * hours
    return {"emissions_g": grams, "baseline_g": baseline, "cost_usd": dollars}
