"""Keep the Price List prices the planner reads fresh (run by the monitor).

Per Region: Fargate and Fargate Spot per vCPU-hour and per GB-hour (what an ``ecs`` target costs),
and the on-demand price of each configured instance type (what other targets cost when a
submission names an ``instance_type``). :class:`~carbon_aware.signals.prices.pricelist.
PriceListPrices` caches each price for a day in the signals table, so most runs only read the cache.
One failing Region or price never stops the others: it is counted and reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from carbon_aware.signals.prices.pricelist import FARGATE_UNITS, PriceListPrices

MAX_ERRORS = 10


@dataclass(frozen=True)
class PriceRefresher:
    """Refreshes the Fargate prices of every Region and the on-demand prices of the types."""

    prices: PriceListPrices
    regions: Sequence[str]
    instance_types: Sequence[str] = ()

    def run(self, now: float) -> dict[str, Any]:
        """``{"priced", "unpriced", "failed", "errors"}`` over every Region and price."""
        counts = {"priced": 0, "unpriced": 0, "failed": 0}
        errors: list[str] = []
        for region in self.regions:
            for name, quote in self._quotes(region, now):
                try:
                    value = quote().value
                except Exception as exc:  # one price never stops the others
                    counts["failed"] += 1
                    if len(errors) < MAX_ERRORS:
                        errors.append(f"{region} {name}: {type(exc).__name__}: {exc}")
                    continue
                counts["priced" if value is not None else "unpriced"] += 1
        return {**counts, "errors": errors}

    def _quotes(self, region: str, now: float) -> list[tuple[str, Callable[[], Any]]]:
        quotes: list[tuple[str, Callable[[], Any]]] = [
            (
                f"{'fargate-spot' if spot else 'fargate'} {dimension}",
                lambda d=dimension, s=spot: self.prices.fargate(region, d, now, spot=s),
            )
            for dimension in FARGATE_UNITS
            for spot in (False, True)
        ]
        quotes.extend(
            (f"on-demand {t}", lambda t=t: self.prices.on_demand(region, t, now))
            for t in self.instance_types
        )
        return quotes
