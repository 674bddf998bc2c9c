"""The fleets table (runtime.tables, FLEETS_TABLE): each fleet's state and its decisions.

Values are stored as JSON strings (``state``, ``decision``) so floats round-trip unchanged. The
state write is conditional on the version read (a concurrent run loses with :class:`Conflict`);
a decision is written once (``attribute_not_exists``) and expires after ``retention`` seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from carbon_aware.runtime.tables import EXPIRES_AT, FLEETS_KEY, FLEETS_SORT_KEY

STATE = "state"
DECISION_PREFIX = "decision#"
DEFAULT_RETENTION = 30 * 86400.0


class Conflict(Exception):
    """The item changed since it was read (or the decision already exists)."""


@dataclass(frozen=True)
class FleetState:
    """What the optimizer remembers between runs; ``version`` 0 means never stored; ``running``:
    InService instances per region and instance type when it was stored (the footprint's input)."""

    fleet: str
    allocation: dict[str, int] = field(default_factory=dict)
    last_change_at: float | None = None
    scaling_targets: dict[str, float] = field(default_factory=dict)
    updated_at: float | None = None
    version: int = 0
    running: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (without the version)."""
        return {
            "fleet": self.fleet,
            "allocation": dict(self.allocation),
            "last_change_at": self.last_change_at,
            "scaling_targets": dict(self.scaling_targets),
            "updated_at": self.updated_at,
            "running": {r: dict(types) for r, types in self.running.items()},
        }


def decision_key(at: float) -> str:
    """Sort key of a decision taken at ``at`` (ISO 8601, UTC, microseconds: sorts by time)."""
    stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return DECISION_PREFIX + stamp


class FleetRepository:
    """State and decisions of fleets on a low-level DynamoDB client."""

    def __init__(self, client: Any, table: str, *, retention: float = DEFAULT_RETENTION) -> None:
        self.client = client
        self.table = table
        self.retention = retention

    def state(self, fleet: str) -> FleetState:
        """The stored state, or an empty one (version 0)."""
        response = self.client.get_item(
            TableName=self.table, Key=_key(fleet, STATE), ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return FleetState(fleet)
        body = json.loads(item["state"]["S"])
        return FleetState(
            fleet=fleet,
            allocation={k: int(v) for k, v in body.get("allocation", {}).items()},
            last_change_at=body.get("last_change_at"),
            scaling_targets={k: float(v) for k, v in body.get("scaling_targets", {}).items()},
            updated_at=body.get("updated_at"),
            version=int(item["version"]["N"]),
            running={
                r: {t: int(n) for t, n in types.items()}
                for r, types in body.get("running", {}).items()
            },
        )

    def save_state(self, state: FleetState) -> FleetState:
        """Store ``state`` if nobody stored another since it was read; the stored copy back."""
        stored = FleetState(**{**state.__dict__, "version": state.version + 1})
        condition = (
            {"ConditionExpression": "attribute_not_exists(#k)"}
            if state.version == 0
            else {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(state.version)}},
            }
        )
        if state.version == 0:
            condition["ExpressionAttributeNames"] = {"#k": FLEETS_KEY}  # type: ignore[assignment]
        item = {
            **_key(state.fleet, STATE),
            "state": {"S": json.dumps(stored.to_dict(), sort_keys=True)},
            "version": {"N": str(stored.version)},
        }
        self._put(item, condition)
        return stored

    def record(self, decision: dict[str, Any], at: float) -> str:
        """Store one decision (its inputs, result and reason); returns its sort key."""
        sort_key = decision_key(at)
        item = {
            **_key(decision["fleet"], sort_key),
            "decision": {"S": json.dumps(decision, sort_keys=True, default=str)},
            EXPIRES_AT: {"N": str(int(at + self.retention))},
        }
        self._put(
            item,
            {
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": FLEETS_KEY},
            },
        )
        return sort_key

    def decisions(self, fleet: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest ``limit`` decisions of ``fleet``, newest first."""
        page = self.client.query(
            TableName=self.table,
            KeyConditionExpression="#k = :f AND begins_with(#s, :p)",
            ExpressionAttributeNames={"#k": FLEETS_KEY, "#s": FLEETS_SORT_KEY},
            ExpressionAttributeValues={":f": {"S": fleet}, ":p": {"S": DECISION_PREFIX}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [json.loads(item["decision"]["S"]) for item in page.get("Items", [])]

    def _put(self, item: dict[str, Any], condition: dict[str, Any]) -> None:
        try:
            self.client.put_item(TableName=self.table, Item=item, **condition)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise Conflict(f"{item[FLEETS_KEY]['S']} {item[FLEETS_SORT_KEY]['S']}") from None
            raise


def _key(fleet: str, sort_key: str) -> dict[str, Any]:
    return {FLEETS_KEY: {"S": fleet}, FLEETS_SORT_KEY: {"S": sort_key}}
