"""Prices, placement scores and the placement-score budget in the signals table.

The carbon cache (:mod:`carbon_aware.signals.cache`) keys its partitions ``"<signal type>#<zone>"``
(``average#DE``); signal types never start with ``price`` or ``score``, so these partitions cannot
collide with carbon keys (a test checks it against every signal type):

- ``pk = "price#<region>"``: every price of one Region, one item per ``sk``:
  ``spot#<instance type>`` (newest Linux/UNIX spot price, cheapest Availability Zone, from
  DescribeSpotPriceHistory), ``ondemand#<instance type>`` (on-demand Linux, Price List),
  ``fargate#vcpu`` / ``fargate#memory`` and ``fargate-spot#vcpu`` / ``fargate-spot#memory``
  (Fargate and Fargate Spot per vCPU-hour and GB-hour, Price List);
- ``pk = "score#<digest of the canonical request>"``, ``sk = "latest"``: the scores of every
  Region of one placement-score request (see :mod:`.placement`);
- ``pk = "score-budget#<UTC day>"``, ``sk = "count"``: placement-score calls made that day
  (conditional counter);
- ``pk = "unavailable#<region>"``, ``sk = "<instance type>#<zone>"``: capacity marked unavailable
  after a spot interruption (:mod:`.unavailable`);
- ``pk = "prepared#<region>"``, ``sk = "<instance id>"``: a replacement held for an instance that
  got a rebalance recommendation, until it stops (:mod:`.unavailable`).

Every price and score item carries its provenance (``source``, ``fetched_at``, ``fallback``,
``detail``) and ``expires_at``: ``fetched_at`` + the keep time (default 7 days), long after the
sources stop calling a value fresh (their ``max_age``), so the last known value stays available as
a fallback.

Access patterns: every read is one Query (all prices of a Region: the planner and the spot source
read a Region at once; a score item; the budget item), every write one PutItem, every budgeted
call one conditional UpdateItem, every release one DeleteItem. Readers need ``dynamodb:Query``
only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from carbon_aware.engine.timeutil import iso
from carbon_aware.signals.cache import DAY, PK, SK, TTL_ATTRIBUTE
from carbon_aware.signals.prices.base import QuoteProvenance

LATEST = "latest"
COUNT = "count"
PRICE = "price#"
SCORE = "score#"
BUDGET = "score-budget#"
UNAVAILABLE = "unavailable#"
PREPARED = "prepared#"
PREFIXES = (PRICE, SCORE, BUDGET, UNAVAILABLE, PREPARED)
DEFAULT_KEEP = 7 * DAY


@dataclass(frozen=True)
class Cached:
    """A cached value (JSON payload) and its provenance."""

    payload: Any
    provenance: QuoteProvenance

    def age(self, now: float) -> float:
        """Seconds since it was fetched."""
        return now - self.provenance.fetched_at


def price_partition(region: str) -> str:
    """Partition holding every price of ``region``."""
    return f"{PRICE}{region}"


def price_item(kind: str, item: str) -> str:
    """Sort key of one price (``kind``: spot, ondemand, fargate, fargate-spot)."""
    return f"{kind}#{item}"


def utc_day(now: float) -> str:
    """The UTC day of ``now`` (``YYYY-MM-DD``): the budget's period."""
    return iso(now)[:10]


class PriceStore:
    """Repository of prices, scores and the score budget over the signals table (boto3 client)."""

    def __init__(self, client: Any, table: str, *, keep: float = DEFAULT_KEEP) -> None:
        self.client = client
        self.table = table
        self.keep = keep

    def put(self, pk: str, sk: str, payload: Any, provenance: QuoteProvenance) -> None:
        """Store ``payload`` (JSON-ready) under ``(pk, sk)``."""
        self.client.put_item(TableName=self.table, Item=self._item(pk, sk, payload, provenance))

    def delete(self, pk: str, sk: str) -> bool:
        """Delete the value under ``(pk, sk)``; whether there was one."""
        response = self.client.delete_item(
            TableName=self.table, Key={PK: {"S": pk}, SK: {"S": sk}}, ReturnValues="ALL_OLD"
        )
        return "Attributes" in response

    def get(self, pk: str, sk: str = LATEST) -> Cached | None:
        """The value under ``(pk, sk)``, or None."""
        return self.partition(pk, sk).get(sk)

    def partition(self, pk: str, sk: str | None = None) -> dict[str, Cached]:
        """Every value of partition ``pk`` (or only ``sk``) by sort key: one Query."""
        condition = "pk = :pk" + (" AND sk = :sk" if sk is not None else "")
        values = {":pk": {"S": pk}, **({":sk": {"S": sk}} if sk is not None else {})}
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        found: dict[str, Cached] = {}
        while True:
            response = self.client.query(**query)
            for item in response.get("Items", []):
                found[item[SK]["S"]] = _cached(item)
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

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
        items = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": BUDGET + utc_day(now)}},
            ConsistentRead=True,
        ).get("Items", [])
        return int(items[0]["calls"]["N"]) if items else 0

    def _item(self, pk: str, sk: str, payload: Any, p: QuoteProvenance) -> dict[str, Any]:
        return {
            PK: {"S": pk},
            SK: {"S": sk},
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
