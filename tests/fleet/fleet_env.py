"""A fleet over three regions on moto: launch templates, mixed-instances groups, fleets table.

What moto does not check (so these tests cannot): it stores the mixed-instances policy but
launches only the first override type, ignores the allocation strategy and capacity
rebalancing, brings instances InService at once (no pending phase, no spot interruptions), and
does not implement GetSpotPlacementScores (the tests inject scores).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from carbon_aware.cli.demo_fleet import create_group
from carbon_aware.engine.signal import Signal, SignalSet
from carbon_aware.runtime.fleet.repository import FleetRepository
from carbon_aware.runtime.tables import FLEETS_TABLE
from carbon_aware.signals.renewables import ShareQuote

REGIONS = ("eu-central-1", "eu-west-1", "eu-west-2")
TYPES = ("m6i.large", "m5.large", "m6a.large")
FLEET_TABLE = "carbon-aware-fleets"
HOUR = 3600.0


def make_group(region: str, name: str, desired: int) -> None:
    """A launch template and a mixed-instances spot group in ``region`` (as the demo makes them)."""
    create_group(region, name, desired, TYPES)


def fleets_table() -> FleetRepository:
    client = boto3.client("dynamodb", region_name="eu-west-1")
    client.create_table(TableName=FLEET_TABLE, **FLEETS_TABLE)
    return FleetRepository(client, FLEET_TABLE)


def fleet_spec(groups: Mapping[str, str], **kw: Any) -> dict[str, Any]:
    """A C2 fleet entry."""
    spec: dict[str, Any] = {
        "regions": list(groups),
        "groups": dict(groups),
        "instance_types": list(TYPES),
        "min_total": 2,
        "max_total": 12,
        "desired_total": 6,
        "min_share": {},
        "max_share": {},
        "strategy": "carbon_first",
        "hysteresis": 0.05,
        "dwell_minutes": 60,
        "max_step": None,
        "renewable_threshold": 0.5,
        "scaling_tiers": [
            {"below": 100.0, "target": 60.0},
            {"below": 200.0, "target": 75.0},
            {"below": None, "target": 90.0},
        ],
        "scaling_policy_name": "carbon-target",
    }
    spec.update(kw)
    return spec


@dataclass
class Carbon:
    """Carbon per region as a function of time (the signal reader's surface)."""

    intensity: dict[str, Any] = field(default_factory=dict)

    def signal_set(self, regions: Sequence[str], start: float, end: float) -> SignalSet:
        signals = []
        for region in regions:
            if region not in self.intensity:
                continue
            times = [start + h * HOUR for h in range(int((end - start) // HOUR) or 1)]
            values = [float(self.intensity[region](t)) for t in times]
            signals.append(
                Signal.from_points(region, times, values, end=end, source="test-forecast")
            )
        return SignalSet.of(signals)


@dataclass(frozen=True)
class Quote:
    value: float | None = 0.05
    score: int = 9
    provenance: str = "test-market"


class ScoreSet(dict):
    """Scores with the flag the placement-score source sets when its budget is spent."""

    budget_exhausted = False


@dataclass
class Market:
    """Spot prices and placement scores; ``exhausted`` flags the score budget as spent."""

    prices_by_region: dict[str, float | None] = field(default_factory=dict)
    exhausted: bool = False
    calls: list[tuple] = field(default_factory=list)

    def prices(self, region: str, instance_types: Sequence[str], now: float) -> Quote:
        self.calls.append(("prices", region, tuple(instance_types)))
        return Quote(value=self.prices_by_region.get(region, 0.05))

    def type_prices(self, region: str, instance_types: Sequence[str]) -> dict[str, float]:
        price = self.prices_by_region.get(region, 0.05)
        return {} if price is None else dict.fromkeys(instance_types, price)

    def scores(
        self,
        regions: Sequence[str],
        instance_types: Sequence[str],
        target_capacity: int,
        now: float,
    ) -> ScoreSet:
        self.calls.append(("scores", tuple(regions), tuple(instance_types), target_capacity))
        found = ScoreSet({r: Quote() for r in regions})
        found.budget_exhausted = self.exhausted
        return found


@dataclass
class Renewables:
    shares: dict[str, float] = field(default_factory=dict)

    def quote(self, region: str, now: float) -> ShareQuote | None:
        share = self.shares.get(region)
        return None if share is None else ShareQuote(share, "test-renewables")
