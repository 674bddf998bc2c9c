"""Loopback fakes of the EC2 Query API (DescribeSpotPriceHistory, GetSpotPlacementScores) and the
AWS Price List Query API (GetProducts), in their real wire formats, behind SigV4 checks
(:class:`fakes.signed_api.SignedApi`): EC2 answers form-encoded POSTs with namespaced XML (errors
as ``<Response><Errors>``), the Price List answers JSON 1.1 with ``PriceList`` as JSON strings.
moto implements neither GetSpotPlacementScores nor GetProducts, and answers spot price history
with one fixed price."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def _members(params: Mapping[str, str], name: str) -> list[str]:
    """``Name.1``, ``Name.2``... of an EC2 Query request, in order."""
    found = sorted(
        (int(k.split(".")[1]), v)
        for k, v in params.items()
        if k.startswith(name + ".") and k.count(".") == 1
    )
    return [v for _, v in found]


def _items(rows: list[dict[str, Any]]) -> str:
    return "".join(
        "<item>" + "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in row.items()) + "</item>"
        for row in rows
    )


@dataclass
class Ec2App:
    """EC2: spot price records ``{instanceType, availabilityZone, productDescription, spotPrice,
    timestamp}``, scores by Region, ``page_size`` rows a page, and ``refuse`` (action -> error
    code) to answer that action with an EC2 error instead."""

    spot_prices: list[dict[str, Any]] = field(default_factory=list)
    scores: dict[str, int] = field(default_factory=dict)
    page_size: int = 2
    refuse: dict[str, str] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, method: str, path: str, query: dict, headers: dict, body: str | None):
        params = dict(parse_qsl(body or ""))
        action = params.get("Action", "")
        self.calls.append(params)
        if action in self.refuse:
            return self._error(self.refuse[action])
        if action == "DescribeSpotPriceHistory":
            wanted = set(_members(params, "InstanceType"))
            rows = [r for r in self.spot_prices if not wanted or r["instanceType"] in wanted]
            return self._page(action, "spotPriceHistorySet", rows, params)
        if action == "GetSpotPlacementScores":
            rows = [
                {"region": r, "score": self.scores[r]}
                for r in _members(params, "RegionName")
                if r in self.scores
            ]
            return self._page(action, "spotPlacementScoreSet", rows, params)
        return self._error("InvalidAction")

    def actions(self, name: str, *, pages: bool = False) -> list[dict[str, Any]]:
        """Requests of one action: first pages only (one per call), or every page."""
        return [
            c for c in self.calls if c.get("Action") == name and (pages or "NextToken" not in c)
        ]

    def _page(self, action: str, tag: str, rows: list, params: Mapping[str, str]):
        start = int(params.get("NextToken", "0"))
        page = rows[start : start + self.page_size]
        more = start + self.page_size < len(rows)
        token = f"<nextToken>{start + self.page_size}</nextToken>" if more else ""
        xml = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}">'
            f"<requestId>req-{len(self.calls)}</requestId><{tag}>{_items(page)}</{tag}>"
            f"{token}</{action}Response>"
        )
        return 200, xml

    def _error(self, code: str):
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{code}</Code><Message>{code}</Message></Error></Errors><RequestID>req-x</RequestID></Response>"
        )
        return 400, xml


def price_list_product(service: str, attributes: dict[str, str], usd: str) -> str:
    """One ``PriceList`` entry as the API sends it: a JSON string with product and terms."""
    sku = "SKU" + str(abs(hash(json.dumps(attributes, sort_keys=True))) % 10**8)
    return json.dumps(
        {
            "product": {"productFamily": "Compute", "attributes": attributes, "sku": sku},
            "serviceCode": service,
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "description": "per hour",
                                "appliesTo": [],
                                "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2026-11-01T00:00:00Z",
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261101000000",
            "publicationDate": "2026-11-01T00:00:00Z",
        }
    )


@dataclass
class PricingApp:
    """Price List GetProducts over ``products`` (``(service, attributes, usd)``), TERM_MATCH
    filters on attributes, ``page_size`` entries a page; ``fail`` answers a 500 instead."""

    products: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    page_size: int = 2
    fail: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, method: str, path: str, query: dict, headers: dict, body: str | None):
        request = json.loads(body or "{}")
        self.calls.append(request)
        if headers.get("x-amz-target") != "AWSPriceListService.GetProducts":
            return 400, json.dumps({"__type": "InvalidParameterException", "Message": "target"})
        if self.fail:
            return 500, json.dumps({"__type": "InternalErrorException", "Message": "down"})
        filters = {f["Field"]: f["Value"] for f in request.get("Filters", [])}
        matching = [
            price_list_product(service, attributes, usd)
            for service, attributes, usd in self.products
            if service == request.get("ServiceCode")
            and all(attributes.get(k) == v for k, v in filters.items())
        ]
        start = int(request.get("NextToken") or 0)
        reply: dict[str, Any] = {
            "FormatVersion": "aws_v1",
            "PriceList": matching[start : start + self.page_size],
        }
        if start + self.page_size < len(matching):
            reply["NextToken"] = str(start + self.page_size)
        return 200, json.dumps(reply)


def ec2_product(
    region: str, instance_type: str, usd: str, *, prefix: str = "EU", **overrides: str
) -> tuple[str, dict[str, str], str]:
    """An on-demand Linux EC2 price in :class:`PricingApp`'s ``(service, attributes, usd)`` form
    (``prefix``: the Region's usage-type prefix; ``overrides`` change attributes)."""
    attributes = {
        "regionCode": region,
        "instanceType": instance_type,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "operation": "RunInstances",
        "usagetype": f"{prefix}-BoxUsage:{instance_type}",
        **overrides,
    }
    return ("AmazonEC2", attributes, usd)


def fargate_product(region: str, usage: str, usd: str) -> tuple[str, dict[str, str], str]:
    """A Fargate price (``usage``: the whole usage type) in :class:`PricingApp`'s form."""
    return ("AmazonECS", {"regionCode": region, "usagetype": usage}, usd)
