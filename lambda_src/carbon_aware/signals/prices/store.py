"""Prices, placement scores and the placement-score budget in the signals table.

The carbon cache (:mod:`carbon_aware.signals.cache`) keys its partitions ``"<signal type>#<zone>"``
(``average#DE``); signal types never start with ``price`` or ``score``, so these partitions cannot
collide with carbon keys (a test checks it against every signal type). One item per partition,
``sk = "latest"``:

- ``price#spot#<region>#<instance type>``: newest Linux/UNIX spot price of the type in the region
  (cheapest Availability Zone), from DescribeSpotPriceHistory;
- ``price#ondemand#<region>#<instance type>``: on-demand Linux price from the Price List;
- ``price#fargate#<region>#<vcpu|memory>`` and ``price#fargate-spot#<region>#<vcpu|memory>``:
  Fargate (Spot) price per vCPU-hour and per GB-hour from the Price List;
- ``score#<digest of the canonical request>``: the scores of every region of one placement-score
  request (see :mod:`.placement`);
- ``score-budget#<UTC day>``, ``sk = "count"``: placement-score calls made that day (conditional
  counter).

Every item carries its provenance (``source``, ``fetched_at``, ``fallback``, ``detail``) and
``expires_at``: ``fetched_at`` + the keep time (default 7 days), long after the sources stop calling
a value fresh (their ``max_age``), so the last known value stays available as a fallback.

Access patterns: one GetItem per read, BatchGetItem for the types of one region, PutItem per
write, one conditional UpdateItem per budgeted call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from carbon_aware.engine.timeutil import iso
from carbon_aware.signals.cache import BATCH_GET, DAY, PK, SK, TTL_ATTRIBUTE
from carbon_aware.signals.prices.base import QuoteProvenance

LATEST = "latest"
COUNT = "count"
PRICE = "price#"
SCORE = "score#"
BUDGET = "score-budget#"
PREFIXES = (PRICE, SCORE, BUDGET)
DEFAULT_KEEP = 7 * DAY
BATCH_ATTEMPTS = 5


@dataclass(frozen=True)
class Cached:
    """A cached value (JSON payload) and its provenance."""

    payload: Any
    provenance: QuoteProvenance

    def age(self, now: float) -> float:
        """Seconds since it was fetched."""
        return now - self.provenance.fetched_at


def price_key(kind: str, region: str, item: str) -> str:
    """Partition key of one price (``kind``: spot, ondemand, fargate, fargate-spot)."""
    return f"{PRICE}{kind}#{region}#{item}"


def utc_day(now: float) -> str:
    """The UTC day of ``now`` (``YYYY-MM-DD``): the budget's period."""
    return iso(now)[:10]


class PriceStore:
    """Repository of prices, scores and the score budget over the signals table (boto3 client)."""

    def __init__(self, client: Any, table: str, *, keep: float = DEFAULT_KEEP) -> None:
        self.client = client
        self.table = table
        self.keep = keep

    def put(self, key: str, payload: Any, provenance: QuoteProvenance) -> None:
        """Store ``payload`` (JSON-ready) as the latest value of ``key``."""
        self.client.put_item(TableName=self.table, Item=self._item(key, payload, provenance))

    def get(self, key: str) -> Cached | None:
        """The latest value of ``key``, or None."""
        item = self.client.get_item(
            TableName=self.table, Key={PK: {"S": key}, SK: {"S": LATEST}}, ConsistentRead=True
        ).get("Item")
        return _cached(item) if item else None

    def get_many(self, keys: Iterable[str]) -> dict[str, Cached]:
        """The latest values of ``keys`` (missing ones are absent)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Cached] = {}
        for start in range(0, len(wanted), BATCH_GET):
            chunk = wanted[start : start + BATCH_GET]
            request = {self.table: {"Keys": [{PK: {"S": k}, SK: {"S": LATEST}} for k in chunk]}}
            for attempt in range(BATCH_ATTEMPTS):
                if attempt:
                    time.sleep(0.05 * 2**attempt)
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    found[item[PK]["S"]] = _cached(item)
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
        return found

    def spend(self, now: float, limit: int) -> bool:
        """Count one placement-score call against today's budget; False (nothing counted) when
        ``limit`` calls were already made today. Atomic across concurrent callers."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key={PK: {"S": BUDGET + utc_day(now)}, SK: {"S": COUNT}},
                UpdateExpression="ADD calls :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(calls) OR calls < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":expires": {"N": str(int(now + 2 * DAY))},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def spent(self, now: float) -> int:
        """Placement-score calls counted today."""
        item = self.client.get_item(
            TableName=self.table,
            Key={PK: {"S": BUDGET + utc_day(now)}, SK: {"S": COUNT}},
            ConsistentRead=True,
        ).get("Item")
        return int(item["calls"]["N"]) if item else 0

    def _item(self, key: str, payload: Any, p: QuoteProvenance) -> dict[str, Any]:
        return {
            PK: {"S": key},
            SK: {"S": LATEST},
            "payload": {"S": json.dumps(payload, separators=(",", ":"), sort_keys=True)},
            "source": {"S": p.source},
            "fetched_at": {"N": repr(p.fetched_at)},
            "fallback": {"BOOL": p.fallback},
            "detail": {"S": p.detail},
            TTL_ATTRIBUTE: {"N": str(int(p.fetched_at + self.keep))},
        }


def _cached(item: dict[str, Any]) -> Cached:
    provenance = QuoteProvenance(
        item["source"]["S"],
        float(item["fetched_at"]["N"]),
        item["fallback"]["BOOL"],
        item["detail"]["S"],
    )
    return Cached(json.loads(item["payload"]["S"]), provenance)
