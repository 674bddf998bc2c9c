"""Capacity marked unavailable after an interruption, and replacements held for instances at risk,
kept beside prices in the signals table.

``pk = "unavailable#<region>"``, ``sk = "<instance type>#<Availability Zone>"``: the interruptions
function marks the instance type and Availability Zone a spot interruption warning came from, for a
TTL; the fleet optimizer reads every mark of a region in one Query and penalises that region for a
fleet by the share of its instance types marked there; the workload re-placement avoids the region.
``expires_at`` (the table's TTL) is the end of the mark; reads ignore marks already past it, since
DynamoDB deletes expired items late.

``pk = "prepared#<region>"``, ``sk = "<instance id>"``: a rebalance recommendation with the
``prepare`` action holds one replacement for the instance in its Auto Scaling group; the fleet
optimizer keeps that group's desired capacity one above its plan for each live preparation, until
the interruptions function releases it (the instance stopped or its terminate lifecycle action
came) or it expires.
"""

from __future__ import annotations

from dataclasses import dataclass

from carbon_aware.signals.prices.base import QuoteProvenance
from carbon_aware.signals.prices.store import PREPARED, UNAVAILABLE, PriceStore

SOURCE = "spot-interruption"
PREPARE_SOURCE = "rebalance-recommendation"


@dataclass(frozen=True)
class Mark:
    """One instance type in one Availability Zone, unavailable until ``until``."""

    instance_type: str
    zone: str
    until: float
    reason: str


@dataclass(frozen=True)
class Preparation:
    """A replacement held in ``group`` (of ``fleet``) for ``instance_id``, until ``until``."""

    instance_id: str
    group: str
    fleet: str
    until: float


def partition(region: str) -> str:
    """Partition holding every mark of ``region``."""
    return f"{UNAVAILABLE}{region}"


def prepared_partition(region: str) -> str:
    """Partition holding every preparation of ``region``."""
    return f"{PREPARED}{region}"


class CapacityMarks:
    """Marks and preparations over the signals table's price store (one PutItem per mark or
    preparation, one DeleteItem per release, one Query per region)."""

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

    def prepare(
        self, region: str, instance_id: str, group: str, fleet: str, *, now: float, ttl: float
    ) -> Preparation:
        """Hold one replacement in ``group`` for ``instance_id`` for ``ttl`` seconds."""
        held = Preparation(instance_id, group, fleet, now + ttl)
        payload = {"group": group, "fleet": fleet, "until": held.until}
        provenance = QuoteProvenance(PREPARE_SOURCE, now, False, f"replacement for {instance_id}")
        PriceStore(self.store.client, self.store.table, keep=ttl).put(
            prepared_partition(region), instance_id, payload, provenance
        )
        return held

    def release(self, region: str, instance_id: str) -> bool:
        """Stop holding a replacement for ``instance_id``; whether one was held."""
        return self.store.delete(prepared_partition(region), instance_id)

    def prepared(self, region: str, now: float) -> list[Preparation]:
        """The preparations of ``region`` still in force at ``now``."""
        found = []
        for instance_id, cached in self.store.partition(prepared_partition(region)).items():
            p = cached.payload
            if float(p["until"]) > now:
                found.append(Preparation(instance_id, p["group"], p["fleet"], float(p["until"])))
        return sorted(found, key=lambda held: held.instance_id)
