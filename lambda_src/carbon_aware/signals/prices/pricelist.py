"""On-demand EC2, Fargate and Fargate Spot prices from the AWS Price List Query API (GetProducts).

The API answers from a few endpoints only (us-east-1, eu-central-1, ap-south-1): pass a
``pricing`` client made for one of them. Each entry of ``PriceList`` is a JSON *string* holding
``product.attributes`` and ``terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD``.

- EC2: ``AmazonEC2`` filtered on the Region code, instance type, Linux, shared tenancy, no
  pre-installed software, ``capacitystatus`` Used; the cheapest ``RunInstances`` rate.
- Fargate: ``AmazonECS`` filtered on the Region code; x86 Linux rates are told apart by usage type
  (``Fargate-vCPU-Hours:perCPU`` per vCPU-hour, ``Fargate-GB-Hours`` per GB-hour; a ``SpotUsage``
  usage type is Fargate Spot); ARM and Windows rates are left out.

Prices younger than ``max_age`` (default a day: list prices change rarely) come from the cache;
when the API fails, the last known price is served, flagged ``fallback``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.signals.prices.base import (
    PRICE_LIST,
    PriceQuote,
    PriceSourceError,
    QuoteProvenance,
)
from carbon_aware.signals.prices.store import PriceStore, price_item, price_partition

DAY = 86400.0
DEFAULT_MAX_AGE = DAY
FARGATE_UNITS = {"vcpu": "vcpu-hour", "memory": "gb-hour"}
EC2_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
}


class PriceListPrices:
    """On-demand EC2 and Fargate (Spot) prices, cached in the signals table."""

    def __init__(self, pricing: Any, store: PriceStore, *, max_age: float = DEFAULT_MAX_AGE):
        self.pricing = pricing
        self.store = store
        self.max_age = max_age

    def on_demand(self, region: str, instance_type: str, now: float) -> PriceQuote:
        """On-demand Linux price of ``instance_type`` in ``region`` per instance-hour."""
        filters = {"regionCode": region, "instanceType": instance_type, **EC2_FILTERS}
        return self._quote(
            region,
            price_item("ondemand", instance_type),
            "instance-hour",
            now,
            lambda: _ec2_rate(self._products("AmazonEC2", filters)),
        )

    def fargate(self, region: str, dimension: str, now: float, *, spot: bool = False) -> PriceQuote:
        """Fargate (``spot``: Fargate Spot) price in ``region`` per vCPU-hour (``dimension``
        ``vcpu``) or per GB-hour (``memory``)."""
        if dimension not in FARGATE_UNITS:
            raise ValueError(f"dimension must be one of {', '.join(FARGATE_UNITS)}")
        kind = "fargate-spot" if spot else "fargate"
        return self._quote(
            region,
            price_item(kind, dimension),
            FARGATE_UNITS[dimension],
            now,
            lambda: _fargate_rate(
                self._products("AmazonECS", {"regionCode": region}), dimension, spot
            ),
        )

    def _quote(self, region: str, key: str, unit: str, now: float, fetch: Any) -> PriceQuote:
        cached = self.store.get(price_partition(region), key)
        if cached is not None and cached.age(now) < self.max_age:
            return PriceQuote(float(cached.payload["price"]), unit, cached.provenance)
        try:
            price, detail = fetch()
        except (BotoCoreError, ClientError, PriceSourceError) as exc:
            if cached is None:
                return PriceQuote(None, unit, QuoteProvenance(PRICE_LIST, 0.0, True, str(exc)))
            p = cached.provenance
            fallback = QuoteProvenance(p.source, p.fetched_at, True, f"last known: {exc}")
            return PriceQuote(float(cached.payload["price"]), unit, fallback)
        provenance = QuoteProvenance(PRICE_LIST, now, detail=detail)
        self.store.put(price_partition(region), key, {"price": price}, provenance)
        return PriceQuote(price, unit, provenance)

    def _products(self, service: str, filters: Mapping[str, str]) -> list[dict[str, Any]]:
        pages = self.pricing.get_paginator("get_products").paginate(
            ServiceCode=service,
            FormatVersion="aws_v1",
            Filters=[{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in filters.items()],
        )
        products = []
        for page in pages:
            for entry in page.get("PriceList", []):
                try:
                    products.append(json.loads(entry) if isinstance(entry, str) else entry)
                except json.JSONDecodeError:
                    continue
        return products


def on_demand_usd(product: Mapping[str, Any]) -> float | None:
    """The first positive hourly USD rate of the product's on-demand terms, or None."""
    terms = product.get("terms", {}).get("OnDemand", {})
    for offer in terms.values() if isinstance(terms, dict) else ():
        for rate in offer.get("priceDimensions", {}).values():
            try:
                usd = float(rate["pricePerUnit"]["USD"])
            except (KeyError, TypeError, ValueError):
                continue
            if usd > 0:
                return usd
    return None


def _attributes(product: Mapping[str, Any]) -> Mapping[str, str]:
    attributes = product.get("product", {}).get("attributes", {})
    return attributes if isinstance(attributes, dict) else {}


def _ec2_rate(products: Iterable[Mapping[str, Any]]) -> tuple[float, str]:
    rates = [
        (usd, _attributes(p).get("usagetype", ""))
        for p in products
        if _attributes(p).get("operation", "RunInstances") == "RunInstances"
        and (usd := on_demand_usd(p)) is not None
    ]
    if not rates:
        raise PriceSourceError("the Price List has no on-demand Linux rate for it")
    return min(rates)


def _fargate_rate(
    products: Iterable[Mapping[str, Any]], dimension: str, spot: bool
) -> tuple[float, str]:
    marker = "Fargate-vCPU-Hours:perCPU" if dimension == "vcpu" else "Fargate-GB-Hours"
    rates = []
    for product in products:
        usage = _attributes(product).get("usagetype", "")
        if marker not in usage or "ARM" in usage or "Windows" in usage:
            continue
        if ("SpotUsage" in usage) != spot:
            continue
        usd = on_demand_usd(product)
        if usd is not None:
            rates.append((usd, usage))
    if not rates:
        raise PriceSourceError(f"the Price List has no Fargate{' Spot' * spot} {dimension} rate")
    return min(rates)
