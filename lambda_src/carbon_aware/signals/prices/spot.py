"""Spot prices from EC2 DescribeSpotPriceHistory, cached per region and instance type.

One call per region (paginated) asks for the fleet's instance types, Linux/UNIX, from ``now``:
AWS then returns the price in effect in each Availability Zone. The newest record per (type, AZ)
counts; a type's price is its cheapest AZ's; the region's quote is the **cheapest type's** price
(what a price-capacity-optimized group pays at best; the detail names the type and AZ).
Cached prices younger than ``max_age`` are served without a call; when the call fails the last
known prices are served, flagged ``fallback``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.signals.prices.base import SPOT_HISTORY, PriceQuote, QuoteProvenance
from carbon_aware.signals.prices.store import Cached, PriceStore, price_item, price_partition

LINUX = ("Linux/UNIX", "Linux/UNIX (Amazon VPC)")
DEFAULT_MAX_AGE = 3600.0
UNIT = "instance-hour"


class SpotPrices:
    """Spot price per instance-hour of the cheapest of a fleet's types in a region."""

    def __init__(
        self,
        ec2: Callable[[str], Any],
        store: PriceStore,
        *,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        self.ec2 = ec2
        self.store = store
        self.max_age = max_age
        self.last_by_type: dict[str, dict[str, Cached]] = {}

    def prices(self, region: str, instance_types: Sequence[str], now: float) -> PriceQuote:
        """The region's quote: fresh cache, else one DescribeSpotPriceHistory, else last known."""
        types = sorted(set(instance_types))
        keys = {t: price_item("spot", t) for t in types}
        cached = self.store.partition(price_partition(region))
        by_type = {t: cached[k] for t, k in keys.items() if k in cached}
        self.last_by_type[region] = by_type
        if len(by_type) == len(types) and all(c.age(now) < self.max_age for c in by_type.values()):
            return _quote(by_type, fallback=False)
        try:
            fetched = self._fetch(region, types, now)
        except (BotoCoreError, ClientError) as exc:
            return _quote(by_type, fallback=True, why=f"spot price history failed: {exc}")
        for instance_type, (price, zone) in fetched.items():
            provenance = QuoteProvenance(SPOT_HISTORY, now, detail=f"{instance_type} in {zone}")
            payload = {"price": price, "zone": zone}
            self.store.put(price_partition(region), keys[instance_type], payload, provenance)
            by_type[instance_type] = Cached(payload, provenance)
        stale = any(c.age(now) >= self.max_age for c in by_type.values())
        return _quote(by_type, fallback=stale, why="some types have no fresh price")

    def type_prices(self, region: str, instance_types: Sequence[str]) -> dict[str, float]:
        """Each type's price behind the region's last :meth:`prices` quote (no call)."""
        known = self.last_by_type.get(region, {})
        return {t: float(known[t].payload["price"]) for t in instance_types if t in known}

    def _fetch(self, region: str, types: Sequence[str], now: float) -> dict[str, tuple[float, str]]:
        """Cheapest AZ's newest Linux/UNIX price per type: ``{type: (price, zone)}``."""
        pages = (
            self.ec2(region)
            .get_paginator("describe_spot_price_history")
            .paginate(
                InstanceTypes=list(types),
                ProductDescriptions=[LINUX[0]],
                StartTime=datetime.fromtimestamp(now, UTC),
            )
        )
        return cheapest_per_type(r for page in pages for r in page.get("SpotPriceHistory", []))


def cheapest_per_type(records: Any) -> dict[str, tuple[float, str]]:
    """From history records: the newest price per (type, AZ), then the cheapest AZ per type.
    Records that are not Linux/UNIX or have no readable price are skipped."""
    newest: dict[tuple[str, str], tuple[datetime, float]] = {}
    for record in records:
        if record.get("ProductDescription") not in LINUX:
            continue
        try:
            price = float(record["SpotPrice"])
            key = (record["InstanceType"], record["AvailabilityZone"])
            when = record["Timestamp"]
        except (KeyError, TypeError, ValueError):
            continue
        if key not in newest or when > newest[key][0]:
            newest[key] = (when, price)
    cheapest: dict[str, tuple[float, str]] = {}
    for (instance_type, zone), (_, price) in sorted(newest.items()):
        if instance_type not in cheapest or price < cheapest[instance_type][0]:
            cheapest[instance_type] = (price, zone)
    return cheapest


def _quote(by_type: Mapping[str, Cached], *, fallback: bool, why: str = "") -> PriceQuote:
    if not by_type:
        detail = why or "no spot price known"
        return PriceQuote(None, UNIT, QuoteProvenance(SPOT_HISTORY, 0.0, True, detail))
    instance_type, best = min(by_type.items(), key=lambda kv: (kv[1].payload["price"], kv[0]))
    p = best.provenance
    detail = f"{instance_type} in {best.payload['zone']}" + (f" ({why})" if fallback else "")
    provenance = QuoteProvenance(p.source, p.fetched_at, fallback, detail)
    return PriceQuote(float(best.payload["price"]), UNIT, provenance)
