"""Capacity marked unavailable after an interruption, kept beside prices in the signals table.

``pk = "unavailable#<region>"``, ``sk = "<instance type>#<Availability Zone>"``: the interruptions
function marks the instance type and Availability Zone a spot interruption warning came from, for a
TTL; the fleet optimizer reads every mark of a region in one Query and penalises that region for a
fleet by the share of its instance types marked there; the workload re-placement avoids the region.
``expires_at`` (the table's TTL) is the end of the mark; reads ignore marks already past it, since
DynamoDB deletes expired items late.
"""

from __future__ import annotations

from dataclasses import dataclass

from carbon_aware.signals.prices.base import QuoteProvenance
from carbon_aware.signals.prices.store import UNAVAILABLE, PriceStore

SOURCE = "spot-interruption"


@dataclass(frozen=True)
class Mark:
    """One instance type in one Availability Zone, unavailable until ``until``."""

    instance_type: str
    zone: str
    until: float
    reason: str


def partition(region: str) -> str:
    """Partition holding every mark of ``region``."""
    return f"{UNAVAILABLE}{region}"


class CapacityMarks:
    """Marks over the signals table's price store (one PutItem per mark, one Query per region)."""

    def __init__(self, store: PriceStore) -> None:
        self.store = store

    def mark(
        self, region: str, instance_type: str, zone: str, *, now: float, ttl: float, reason: str
    ) -> Mark:
        """Mark ``instance_type`` in ``zone`` of ``region`` unavailable for ``ttl`` seconds."""
        mark = Mark(instance_type, zone, now + ttl, reason)
        payload = {"instance_type": instance_type, "zone": zone, "until": mark.until}
        provenance = QuoteProvenance(SOURCE, now, False, reason)
        PriceStore(self.store.client, self.store.table, keep=ttl).put(
            partition(region), f"{instance_type}#{zone}", payload, provenance
        )
        return mark

    def marked(self, region: str, now: float) -> list[Mark]:
        """The marks of ``region`` still in force at ``now``."""
        found = []
        for cached in self.store.partition(partition(region)).values():
            p = cached.payload
            if float(p["until"]) > now:
                found.append(
                    Mark(p["instance_type"], p["zone"], float(p["until"]), cached.provenance.detail)
                )
        return sorted(found, key=lambda m: (m.instance_type, m.zone))
