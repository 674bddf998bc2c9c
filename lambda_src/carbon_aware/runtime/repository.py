"""Workloads in DynamoDB: create once, read, and move through the lifecycle with conditional writes.

Every transition is one UpdateItem conditioned on the expected status and version, bumps the
version, and appends to the item's ``history`` (the audit trail) in the same write, so two racing
invocations can never both win and the trail never misses a step.

A record that keeps failing in a sweep counts its failures on itself (``poison``, a conditional
ADD that leaves the version alone; every transition clears it), so the bound on retries holds
across sweeps and invocations.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from carbon_aware.runtime.states import State, check_transition
from carbon_aware.runtime.tables import (
    AWAITING_ORACLE,
    DUE_AT,
    DUE_INDEX,
    DUE_KEY,
    DUE_SHARDS,
    EXPIRES_AT,
    WORKLOADS_KEY,
)

# How long a finished workload stays in the table unless the deployment says otherwise.
FINAL_RETENTION_SECONDS = 90 * 86400
POISON = "poison"


class Conflict(Exception):
    """The workload changed (or does not exist) since it was read: another writer won."""


class UnreadableRecord(ValueError):
    """A stored item that is not a workload record (written by hand, or by an older version)."""


@dataclass(frozen=True)
class WorkloadRecord:
    """A workload as stored: its submitted spec and everything the lifecycle added."""

    workload_id: str
    status: State
    version: int
    spec: dict[str, Any]
    due_at: float | None = None
    decision: dict[str, Any] | None = None
    dispatch: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    # An interruptible workload's segment runs (runtime.segments); None for uninterrupted ones.
    segments: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> WorkloadRecord:
        """Build from a DynamoDB item (numbers arrive as Decimal); UnreadableRecord if malformed."""
        plain = _plain(item)
        try:
            return cls._of(plain)
        except (KeyError, TypeError, ValueError) as exc:
            raise UnreadableRecord(f"unreadable record: {exc!r}") from None

    @classmethod
    def _of(cls, plain: Mapping[str, Any]) -> WorkloadRecord:
        if not isinstance(plain["spec"], dict):
            raise TypeError("spec is not a map")
        return cls(
            workload_id=plain[WORKLOADS_KEY],
            status=State(plain["status"]),
            version=int(plain["version"]),
            spec=plain["spec"],
            due_at=plain.get(DUE_AT),
            decision=plain.get("decision"),
            dispatch=plain.get("dispatch"),
            result=plain.get("result"),
            segments=plain.get("segments"),
            history=plain.get("history", []),
            created_at=plain.get("created_at", 0.0),
            updated_at=plain.get("updated_at", 0.0),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view for the API."""
        return {
            "id": self.workload_id,
            "status": str(self.status),
            "version": self.version,
            "spec": self.spec,
            "decision": self.decision,
            "dispatch": self.dispatch,
            "result": self.result,
            "segments": self.segments,
            "history": self.history,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def due_shard(workload_id: str) -> int:
    """Stable shard of a workload in the due index."""
    return int(hashlib.sha256(workload_id.encode()).hexdigest()[:8], 16) % DUE_SHARDS


def _due_key(status: str, workload_id: str) -> str:
    return f"{status}#{due_shard(workload_id)}"


class WorkloadRepository:
    """Conditional reads and writes of the workloads table."""

    def __init__(self, table: Any, retention_seconds: float = FINAL_RETENTION_SECONDS) -> None:
        """``table`` is a boto3 ``dynamodb.Table`` resource; a finished workload expires
        ``retention_seconds`` after its final transition."""
        self.table = table
        self.retention_seconds = retention_seconds

    def create(self, workload_id: str, spec: Mapping[str, Any], now: float) -> WorkloadRecord:
        """Store a new PENDING workload; raises :class:`Conflict` if the id exists."""
        item = {
            WORKLOADS_KEY: workload_id,
            "status": str(State.PENDING),
            "version": 1,
            "spec": dict(spec),
            DUE_KEY: _due_key(State.PENDING, workload_id),
            DUE_AT: now,
            "history": [{"at": now, "to": str(State.PENDING), "reason": "submitted"}],
            "created_at": now,
            "updated_at": now,
        }
        try:
            self.table.put_item(
                Item=_dynamo(item), ConditionExpression="attribute_not_exists(workload_id)"
            )
        except ClientError as exc:
            raise _conflict_or(exc, f"workload {workload_id} already exists") from None
        return WorkloadRecord.from_item(_dynamo(item))

    def get(self, workload_id: str) -> WorkloadRecord | None:
        """The stored workload, read with strong consistency, or None."""
        item = self.table.get_item(Key={WORKLOADS_KEY: workload_id}, ConsistentRead=True)
        return WorkloadRecord.from_item(item["Item"]) if "Item" in item else None

    def transition(
        self,
        current: WorkloadRecord,
        to: State,
        *,
        now: float,
        reason: str,
        due_at: float | None = None,
        updates: Mapping[str, Any] | None = None,
    ) -> WorkloadRecord:
        """Move ``current`` to ``to`` if nobody changed it since it was read.

        ``due_at`` places the workload in the due index under its new status; final states leave
        the index and get a retention TTL, or with ``due_at`` wait in the oracle queue
        (:meth:`settle_oracle`) until then. Raises :class:`Conflict` when another writer won.
        """
        check_transition(current.status, to)
        if not to.final and due_at is None:
            raise ValueError(
                f"a transition to {to} needs due_at (live work stays in the due index)"
            )
        item = self._write(
            current.workload_id,
            str(current.status),
            current.version,
            to,
            now,
            reason,
            due_at,
            updates,
        )
        return WorkloadRecord.from_item(item)

    def count_failure(self, workload_id: str, status: str, version: int) -> int:
        """Add one to the record's ``poison`` count if it is still in ``status`` at ``version``;
        returns the new count. Raises :class:`Conflict` when it has moved on."""
        try:
            response = self.table.update_item(
                Key={WORKLOADS_KEY: workload_id},
                UpdateExpression=f"ADD {POISON} :one",
                ConditionExpression="#s = :s AND #v = :v",
                ExpressionAttributeNames={"#s": "status", "#v": "version"},
                ExpressionAttributeValues={":one": 1, ":s": status, ":v": version},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            raise _conflict_or(exc, f"workload {workload_id} changed concurrently") from None
        return int(response["Attributes"][POISON])

    def give_up(
        self, workload_id: str, status: str, version: int, *, now: float, reason: str
    ) -> None:
        """Move a live record that keeps failing to FAILED, whatever its state, with the reason."""
        self._write(workload_id, status, version, State.FAILED, now, reason, None, None)

    def _write(
        self,
        workload_id: str,
        status: str,
        version: int,
        to: State,
        now: float,
        reason: str,
        due_at: float | None,
        updates: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """The conditional transition write; returns the item as written."""
        names = {"#s": "status", "#v": "version", "#h": "history"}
        values: dict[str, Any] = {
            ":from": status,
            ":to": str(to),
            ":v0": version,
            ":v1": version + 1,
            ":now": now,
            ":none": [],
            ":entry": [{"at": now, "from": status, "to": str(to), "reason": reason}],
        }
        sets = [
            "#s = :to",
            "#v = :v1",
            "updated_at = :now",
            "#h = list_append(if_not_exists(#h, :none), :entry)",
        ]
        removes = [POISON]  # a new state starts with a clean count
        if to.final:
            sets.append(f"{EXPIRES_AT} = :ttl")
            values[":ttl"] = int(now + self.retention_seconds)
            if due_at is None:
                removes += [DUE_KEY, DUE_AT]
            else:
                sets += [f"{DUE_KEY} = :dk", f"{DUE_AT} = :da"]
                values[":dk"], values[":da"] = _due_key(AWAITING_ORACLE, workload_id), due_at
        else:
            sets += [f"{DUE_KEY} = :dk", f"{DUE_AT} = :da"]
            values[":dk"], values[":da"] = _due_key(to, workload_id), due_at
        for i, (name, value) in enumerate((updates or {}).items()):
            names[f"#u{i}"] = name
            values[f":u{i}"] = value
            sets.append(f"#u{i} = :u{i}")
        expression = "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes)
        return self._update(
            workload_id,
            expression,
            "#s = :from AND #v = :v0",
            names,
            values,
            f"workload {workload_id} changed concurrently",
        )

    def _update(
        self,
        workload_id: str,
        expression: str,
        condition: str,
        names: Mapping[str, str],
        values: Mapping[str, Any],
        conflict: str,
    ) -> dict[str, Any]:
        """One conditional UpdateItem; the item as written, or :class:`Conflict` (``conflict``)."""
        try:
            response = self.table.update_item(
                Key={WORKLOADS_KEY: workload_id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=_dynamo(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            raise _conflict_or(exc, conflict) from None
        return response["Attributes"]

    def settle_oracle(
        self, record: WorkloadRecord, fields: Mapping[str, Any], *, requeue_at: float | None = None
    ) -> WorkloadRecord:
        """Add ``fields`` to the result of a final record waiting in the oracle queue and take it
        out of the queue (or, with ``requeue_at``, keep it queued until then). One conditional
        write on the status, the version and the queue entry, so a repeated or racing settlement
        raises :class:`Conflict` and changes nothing. ``updated_at`` is left alone: it stays
        the time the record became final (what the accounting read its intensities at)."""
        names = {"#s": "status", "#v": "version", "#dk": DUE_KEY}
        values: dict[str, Any] = {
            ":s": str(record.status),
            ":v0": record.version,
            ":v1": record.version + 1,
            ":dk": _due_key(AWAITING_ORACLE, record.workload_id),
        }
        sets = ["#v = :v1"]
        for i, (name, value) in enumerate(fields.items()):
            names["#r"], names[f"#f{i}"] = "result", name
            values[f":f{i}"] = value
            sets.append(f"#r.#f{i} = :f{i}")
        expression = "SET " + ", ".join(sets)
        if requeue_at is None:
            expression += f" REMOVE #dk, {DUE_AT}"
        else:
            expression += f", {DUE_AT} = :da"
            values[":da"] = requeue_at
        item = self._update(
            record.workload_id,
            expression,
            "#s = :s AND #v = :v0 AND #dk = :dk",
            names,
            values,
            f"workload {record.workload_id} is not awaiting its oracle",
        )
        return WorkloadRecord.from_item(item)

    def due(self, status: State, before: float | None = None) -> Iterator[WorkloadRecord]:
        """Workloads in ``status`` whose due time is at or before ``before`` (all when None)."""
        for item in self.due_items(status, before):
            yield WorkloadRecord.from_item(item)

    def due_items(
        self, status: str, before: float | None = None, shards: Iterable[int] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The raw items behind :meth:`due` (numbers as int/float), of some shards or all: for
        loops that must survive an item :meth:`WorkloadRecord.from_item` cannot read. ``status``
        is a state or :data:`~carbon_aware.runtime.tables.AWAITING_ORACLE`."""
        for shard in range(DUE_SHARDS) if shards is None else shards:
            condition = f"{DUE_KEY} = :k" + (f" AND {DUE_AT} <= :t" if before is not None else "")
            values: dict[str, Any] = {":k": f"{status}#{shard}"}
            if before is not None:
                values[":t"] = before
            kwargs: dict[str, Any] = {
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": _dynamo(values),
            }
            while True:
                page = self.table.query(**kwargs)
                yield from (_plain(item) for item in page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _conflict_or(exc: ClientError, message: str) -> Exception:
    if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
        return Conflict(message)
    return exc


def _dynamo(value: Any) -> Any:
    """Floats to Decimal (DynamoDB numbers), recursively; NaN/inf are not storable."""
    if isinstance(value, float):
        return Decimal(json.dumps(value))
    if isinstance(value, Mapping):
        return {k: _dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Decimals back to int or float, recursively."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
