"""The monitor: refresh the carbon cache for every configured region and report what it did.

One run plans deduplicated zone targets, lets :func:`carbon_aware.signals.refresh.refresh` fetch
what is due through the fallback chain, then reads each region's current value back from the
cache (what readers will see) and emits metrics: intensity per region, provider used, fallbacks
taken, provider errors, provider calls and the Regions left on estimates. With every live
provider failing the chain still ends in a labelled estimate, so every region gets a value. Then,
where the Price List API is configured, it refreshes the prices the planner reads
(:mod:`carbon_aware.runtime.price_refresh`), and with Electricity Maps configured the Regions'
renewable shares (:mod:`carbon_aware.signals.renewables`, metric ``RenewableSharePercent``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.engine.timeutil import iso
from carbon_aware.runtime.monitor_config import MonitorSettings
from carbon_aware.runtime.price_refresh import PriceRefresher
from carbon_aware.signals.cache import SignalCache
from carbon_aware.signals.catalog import Catalog, load_catalog
from carbon_aware.signals.chain import Provenance
from carbon_aware.signals.clock import Clock
from carbon_aware.signals.prices.pricelist import PriceListPrices
from carbon_aware.signals.prices.store import PriceStore
from carbon_aware.signals.profiles import profile_signal
from carbon_aware.signals.reader import CarbonReader, Current
from carbon_aware.signals.refresh import ZoneResult, refresh
from carbon_aware.signals.renewables import refresh_renewables
from carbon_aware.signals.secrets import SecretResolver
from carbon_aware.signals.settings import Providers, build_providers
from carbon_aware.signals.targets import Target, plan_targets

Emit = Callable[[str, float, dict[str, str]], None]


@dataclass
class Monitor:
    """Long-lived per Lambda container: token caches, buckets and breakers survive warm runs."""

    settings: MonitorSettings
    cache: SignalCache
    providers: Providers
    reader: CarbonReader
    targets: list[Target]
    clock: Clock
    prices: PriceRefresher | None = None

    @classmethod
    def build(
        cls,
        settings: MonitorSettings,
        *,
        dynamodb: Any,
        secrets: SecretResolver,
        clock: Clock,
        catalog: Catalog | None = None,
        pricing: Any = None,
    ) -> Monitor:
        """Wire the cache, the provider chain, the targets and (given a Price List ``pricing``
        client) the price refresher."""
        catalog = catalog or load_catalog()
        cache = SignalCache(
            dynamodb,
            settings.table,
            observation_ttl=settings.observation_ttl,
            forecast_ttl=settings.forecast_ttl,
        )
        targets = plan_targets(settings.regions, catalog, settings.signal_type)
        providers = build_providers(
            settings.provider_settings(secrets),
            clock=clock,
            observations=cache.observations,
            history_lookback=settings.observation_ttl,
            history_peers=[t.zone for t in targets],
        )
        reader = CarbonReader(cache, catalog, clock, signal_type=settings.signal_type)
        prices = None
        if pricing is not None:
            store = PriceStore(dynamodb, settings.table)
            prices = PriceRefresher(
                PriceListPrices(pricing, store), settings.regions, settings.priced_instance_types
            )
        return cls(settings, cache, providers, reader, targets, clock, prices)

    def run(self, emit: Emit) -> dict[str, Any]:
        """One refresh; ``emit(metric, value, dimensions)`` receives the metrics."""
        calls = self.providers.calls
        results = refresh(
            self.targets,
            chain=self.providers.chain,
            cache=self.cache,
            clock=self.clock,
            policy=self.settings.policy,
        )
        regions = []
        used: Counter[str] = Counter()
        estimated = 0
        for result in results:
            for region in result.target.regions:
                current = self._current(region, result)
                used[current.provenance.provider] += 1
                estimated += current.provenance.estimated
                emit("CarbonIntensity", current.value, {"Region": region})
                regions.append(_row(current))
        errors: Counter[str] = Counter(a.provider for r in results for a in r.attempts if a.live)
        for provider, count in sorted(used.items()):
            emit("ProviderUsed", count, {"Provider": provider})
        for provider, count in sorted(errors.items()):
            emit("ProviderErrors", count, {"Provider": provider})
        fallbacks = sum(len(r.attempts) for r in results)
        emit("FallbacksTaken", fallbacks, {})
        # Regions whose current value is an estimate: the provider-outage alarm's metric.
        emit("EstimatedRegions", estimated, {})
        prices = self.prices.run(self.clock.now()) if self.prices else None
        if prices is not None:
            emit("PriceRefreshFailures", prices["failed"], {})
        renewables = None
        if self.providers.renewables is not None:
            store = PriceStore(self.cache.client, self.settings.table)
            renewables = refresh_renewables(
                self.providers.renewables,
                self.targets,
                store,
                self.clock.now(),
                emit,
                interval=self.settings.policy.interval,
            )
        emit("ProviderCalls", self.providers.calls - calls, {})
        return {
            "regions": regions,
            "zones": len(results),
            "refreshed": sum(1 for r in results if r.action),
            "provider_calls": self.providers.calls - calls,
            "fallbacks": fallbacks,
            "errors": [f"{r.target.key}: {r.error}" for r in results if r.error],
            "prices": prices,
            "renewables": renewables,
        }

    def _current(self, region: str, result: ZoneResult) -> Current:
        """The cached value readers see; what this run fetched if the cache cannot be read."""
        try:
            return self.reader.current(region)
        except (BotoCoreError, ClientError):
            now = self.clock.now()
            answer = result.answer
            if answer is not None and answer.signal.start <= now < answer.signal.end:
                value = answer.signal.value_at(now)
                return Current(region, result.target.zone, value, now, answer.provenance, True)
            estimate = profile_signal(region, now, now + 3600.0)
            provenance = Provenance(estimate.source, str(estimate.signal_type), True, now)
            return Current(region, result.target.zone, estimate.values[0], now, provenance, True)


def _row(current: Current) -> dict[str, Any]:
    return {
        "region": current.region,
        "zone": current.zone,
        "carbon_intensity": round(current.value, 3),
        "datetime": iso(current.at),
        "stale": current.stale,
        **current.provenance.to_dict(),
    }
