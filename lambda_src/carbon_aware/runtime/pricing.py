"""Prices for the blended strategies from the price cache, for submissions that bring none.

What an hour of a run costs depends on what its target starts in each Region:

- an ``ecs`` target: Fargate (Fargate Spot when the target's ``spot`` is true) for the workload's
  ``vcpus`` and ``memory_gb`` (both needed): ``vcpus * vCPU-hour + memory_gb * GB-hour``;
- any other target: the EC2 ``instance_type`` the submission names, on-demand and spot
  (``use_spot`` chooses, as for submitted prices).

A Region without such a cached price stays unpriced (the blended strategies count it the most
expensive). Only the cache is read, one Query per Region (reused for ``reuse_seconds``): the fleet
optimizer fills the spot prices of its fleets' instance types, the monitor the Fargate and
on-demand prices (:mod:`carbon_aware.runtime.price_refresh`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime.targets import TargetError, resolve_target
from carbon_aware.signals.prices.store import Cached, PriceStore, price_item, price_partition

REUSE_SECONDS = 300.0


@dataclass(frozen=True)
class CachedPrices:
    """Prices in the submission's shape (``{region: {"on_demand", "spot"}}``) and where each
    came from (``{region: {kind: {source, fetched_at, fallback, detail, priced}}}``)."""

    prices: dict[str, dict[str, float]]
    sources: dict[str, dict[str, dict[str, Any]]]


class PriceBook:
    """Reads the price cache for a workload's Regions (safe to share between threads)."""

    def __init__(self, store: PriceStore, *, reuse_seconds: float = REUSE_SECONDS) -> None:
        self.store = store
        self.reuse_seconds = reuse_seconds
        self._read: dict[str, tuple[float, dict[str, Cached]]] = {}
        self._lock = threading.Lock()

    def lookup(self, spec: Mapping[str, Any], regions: Sequence[str]) -> CachedPrices | None:
        """Cached prices of what ``spec`` runs in each Region, or None when none is known."""
        prices: dict[str, dict[str, float]] = {}
        sources: dict[str, dict[str, dict[str, Any]]] = {}
        for region in regions:
            parts = self._parts(spec, region)
            if not parts:
                continue
            cached = self._region(region)
            for kind, needs in parts.items():
                found = _price(cached, needs)
                if found is None:
                    continue
                usd, used = found
                prices.setdefault(region, {})[kind] = usd
                sources.setdefault(region, {})[kind] = used
        return CachedPrices(prices, sources) if prices else None

    def _parts(self, spec: Mapping[str, Any], region: str) -> dict[str, dict[str, float]]:
        """Per price kind (on_demand, spot): cache items and the quantity each is needed in."""
        try:
            target = resolve_target(spec, region)
        except TargetError:
            return {}
        if target.get("type") == "ecs":
            vcpus, memory = spec.get("vcpus"), spec.get("memory_gb")
            if not vcpus or not memory:
                return {}
            kind = "fargate-spot" if target.get("spot") else "fargate"
            items = {price_item(kind, "vcpu"): vcpus, price_item(kind, "memory"): memory}
            return {"on_demand": items}
        instance_type = spec.get("instance_type")
        if not instance_type:
            return {}
        return {
            "on_demand": {price_item("ondemand", instance_type): 1.0},
            "spot": {price_item("spot", instance_type): 1.0},
        }

    def _region(self, region: str) -> dict[str, Cached]:
        with self._lock:
            read = self._read.get(region)
        if read is not None and time.monotonic() - read[0] < self.reuse_seconds:
            return read[1]
        cached = self.store.partition(price_partition(region))
        with self._lock:
            self._read[region] = (time.monotonic(), cached)
        return cached


def _price(
    cached: Mapping[str, Cached], needs: Mapping[str, float]
) -> tuple[float, dict[str, Any]] | None:
    """Sum of quantity x cached price over ``needs``; None when any item is missing."""
    if any(sk not in cached for sk in needs):
        return None
    usd = sum(float(cached[sk].payload["price"]) * qty for sk, qty in needs.items())
    used = [cached[sk].provenance for sk in needs]
    oldest = min(p.fetched_at for p in used)
    return usd, {
        "usd_per_hour": usd,
        "priced": sorted(needs),
        "source": ", ".join(sorted({p.source for p in used})),
        "fetched_at": iso(oldest),
        "fallback": any(p.fallback for p in used),
    }
