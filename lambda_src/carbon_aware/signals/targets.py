"""Targets: what one refresh fetches, a grid zone for one signal type, with the regions it serves.

Regions that share a zone are deduplicated into one target, so a zone costs one provider call per
refresh however many regions map to it. The zone key is the Electricity Maps zone for ``average``
and the WattTime region for ``marginal`` (us-east-1 and us-east-2 share ``US-MIDA-PJM`` but not
their WattTime regions); a region with neither is its own zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from carbon_aware.engine.signal_type import SignalType
from carbon_aware.signals.catalog import Catalog, RegionInfo


@dataclass(frozen=True)
class Target:
    """One zone of one signal type; ``info`` is the catalog row of its first region."""

    zone: str
    signal_type: SignalType
    regions: tuple[str, ...]
    info: RegionInfo

    @property
    def region(self) -> str:
        """The representative AWS region (first in sort order)."""
        return self.regions[0]

    @property
    def key(self) -> str:
        """Cache partition: ``<signal type>#<zone>``."""
        return partition_key(self.zone, self.signal_type)


def partition_key(zone: str, signal_type: SignalType | str) -> str:
    """The cache partition of a zone's signal of one type."""
    return f"{SignalType(signal_type)}#{zone}"


def zone_of(info: RegionInfo, signal_type: SignalType | str) -> str:
    """The zone key of a region for a signal type."""
    if SignalType(signal_type) is SignalType.MARGINAL:
        return info.watttime_region or info.aws_region
    return info.electricitymaps_zone or info.aws_region


def plan_targets(
    regions: Iterable[str], catalog: Catalog, signal_type: SignalType | str
) -> list[Target]:
    """Deduplicated targets, sorted by zone; an unknown region raises ``UnknownRegionError``."""
    kind = SignalType(signal_type)
    groups: dict[str, list[RegionInfo]] = {}
    for region in sorted(set(regions)):
        info = catalog.get(region)
        groups.setdefault(zone_of(info, kind), []).append(info)
    return [
        Target(zone, kind, tuple(i.aws_region for i in infos), infos[0])
        for zone, infos in sorted(groups.items())
    ]
