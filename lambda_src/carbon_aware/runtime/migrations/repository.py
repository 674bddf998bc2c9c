"""Migrations in DynamoDB (runtime.tables, MIGRATIONS_TABLE): conditional writes, one lock per
subject, and the audit history of every transition.

A migration is one item whose write is conditional on the version read, so two steppers racing
on the same migration cannot both win (the loser gets :class:`Conflict` and re-reads). Starting
one is a transaction that also creates the subject's lock item (``attribute_not_exists``):
concurrent starts on the same fleet or workload yield exactly one migration, the others get
:class:`AlreadyMigrating`. The final transition deletes the lock in the same transaction.
Values live in a JSON string (``body``) so floats round-trip unchanged. The trigger pass keeps
the policy's state (per subject, and the global one) in items of their own, written conditionally
on the version read (:meth:`MigrationRepository.policy_state`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ClientError

from carbon_aware.runtime.migrations.states import MigrationState, check_transition
from carbon_aware.runtime.tables import (
    DUE_AT,
    DUE_INDEX,
    DUE_KEY,
    EXPIRES_AT,
    MIGRATIONS_KEY,
    MIGRATIONS_RECENT_INDEX,
    MIGRATIONS_RECENT_KEY,
)

LIVE = "live"
RECENT = "migration"
#: Key prefix of migration items (the table also holds ``lock#`` and ``policy#`` items).
MIGRATION_PREFIX = "migration#"
DEFAULT_RETENTION = 90 * 86400.0
#: The policy state of the whole module (the surge guard's starts), beside each subject's.
GLOBAL_POLICY = "global"
#: A subject's policy state outlives its last write by this long (its workload may be over).
POLICY_RETENTION = 30 * 86400.0


class Conflict(Exception):
    """The migration changed since it was read: another writer won."""


class AlreadyMigrating(Exception):
    """The subject already has a live migration."""

    def __init__(self, subject: str, holder: str | None) -> None:
        super().__init__(f"{subject} is already migrating (migration {holder})")
        self.subject = subject
        self.holder = holder


@dataclass(frozen=True)
class Migration:
    """A migration as stored. ``data`` is what its strategy found and did so far, ``due_at`` when
    it is next stepped, ``deadline`` when its current state times out."""

    migration_id: str
    kind: str
    subject: str
    state: MigrationState
    spec: dict[str, Any]
    version: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0
    updated_at: float = 0.0
    due_at: float | None = None
    deadline: float | None = None
    grams: dict[str, Any] | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view (API, CLI)."""
        return {
            "id": self.migration_id,
            "kind": self.kind,
            "subject": self.subject,
            "state": str(self.state),
            "version": self.version,
            "spec": self.spec,
            "data": self.data,
            "grams": self.grams,
            "reason": self.reason,
            "due_at": self.due_at,
            "deadline": self.deadline,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "history": self.history,
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Migration:
        """From a low-level DynamoDB item."""
        body = json.loads(item["body"]["S"])
        return cls(
            migration_id=item["id"]["S"],
            kind=item["kind"]["S"],
            subject=item["subject"]["S"],
            state=MigrationState(item["state"]["S"]),
            version=int(item["version"]["N"]),
            spec=body["spec"],
            data=body.get("data", {}),
            history=body.get("history", []),
            created_at=body.get("created_at", 0.0),
            updated_at=body.get("updated_at", 0.0),
            due_at=body.get("due_at"),
            deadline=body.get("deadline"),
            grams=body.get("grams"),
            reason=body.get("reason"),
        )


def fleet_subject(fleet: str) -> str:
    """The lock subject of a fleet (what ``FleetOptimizer(hold=...)`` looks up)."""
    return f"fleet:{fleet}"


def migration_key(migration_id: str) -> dict[str, Any]:
    """Key of a migration's item."""
    return {MIGRATIONS_KEY: {"S": f"{MIGRATION_PREFIX}{migration_id}"}}


def lock_key(subject: str) -> dict[str, Any]:
    """Key of a subject's lock item."""
    return {MIGRATIONS_KEY: {"S": f"lock#{subject}"}}


def policy_key(name: str) -> dict[str, Any]:
    """Key of the policy state of a subject (or :data:`GLOBAL_POLICY`)."""
    return {MIGRATIONS_KEY: {"S": f"policy#{name}"}}


@dataclass(frozen=True)
class PolicyItem:
    """A stored policy state (a plain dict) and the version its next write is conditional on
    (0: not stored yet)."""

    body: dict[str, Any]
    version: int = 0


class MigrationRepository:
    """Conditional reads and writes of the migrations table on a low-level DynamoDB client."""

    def __init__(self, client: Any, table: str, *, retention: float = DEFAULT_RETENTION) -> None:
        self.client = client
        self.table = table
        self.retention = retention

    def create(self, migration: Migration, now: float) -> Migration:
        """Store a new migration and its subject's lock in one transaction; raises
        :class:`AlreadyMigrating` when the subject has a live migration."""
        stored = replace(
            migration,
            version=1,
            created_at=now,
            updated_at=now,
            history=[{"at": now, "to": str(migration.state), "reason": "started"}],
        )
        lock = {
            **lock_key(migration.subject),
            "migration_id": {"S": migration.migration_id},
            "since": {"N": repr(now)},
        }
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": lock,
                            "ConditionExpression": "attribute_not_exists(#k)",
                            "ExpressionAttributeNames": {"#k": MIGRATIONS_KEY},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": self._item(stored),
                            "ConditionExpression": "attribute_not_exists(#k)",
                            "ExpressionAttributeNames": {"#k": MIGRATIONS_KEY},
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            raise AlreadyMigrating(migration.subject, self.holder(migration.subject)) from None
        return stored

    def get(self, migration_id: str) -> Migration | None:
        """The stored migration (strongly consistent), or None."""
        item = self.client.get_item(
            TableName=self.table, Key=migration_key(migration_id), ConsistentRead=True
        ).get("Item")
        return Migration.from_item(item) if item else None

    def holder(self, subject: str) -> str | None:
        """The id of the live migration of ``subject``, or None."""
        item = self.client.get_item(
            TableName=self.table, Key=lock_key(subject), ConsistentRead=True
        ).get("Item")
        return item["migration_id"]["S"] if item else None

    def transition(
        self,
        current: Migration,
        to: MigrationState,
        *,
        now: float,
        reason: str,
        due_at: float | None = None,
        deadline: float | None = None,
        data: Mapping[str, Any] | None = None,
        grams: Mapping[str, Any] | None = None,
    ) -> Migration:
        """Move ``current`` to ``to`` (audited) if nobody wrote it since it was read; a final
        state releases the subject's lock in the same transaction. :class:`Conflict` otherwise."""
        check_transition(current.state, to)
        entry = {"at": now, "from": str(current.state), "to": str(to), "reason": reason}
        stored = replace(
            current,
            state=to,
            version=current.version + 1,
            updated_at=now,
            due_at=None if to.final else due_at,
            deadline=None if to.final else deadline,
            data={**current.data, **(data or {})},
            grams=dict(grams) if grams is not None else current.grams,
            reason=reason,
            history=[*current.history, entry],
        )
        put = self._conditional_put(stored, current.version)
        if not to.final:
            self._write([put])
            return stored
        release = {
            "Delete": {
                "TableName": self.table,
                "Key": lock_key(current.subject),
                "ConditionExpression": "migration_id = :m",
                "ExpressionAttributeValues": {":m": {"S": current.migration_id}},
            }
        }
        self._write([put, release])
        return stored

    def progress(
        self, current: Migration, *, now: float, due_at: float, data: Mapping[str, Any]
    ) -> Migration:
        """Store what a step found or did without leaving the state (conditional on version)."""
        stored = replace(
            current,
            version=current.version + 1,
            updated_at=now,
            due_at=due_at,
            data={**current.data, **data},
        )
        self._write([self._conditional_put(stored, current.version)])
        return stored

    def due(self, now: float) -> Iterator[str]:
        """Ids of live migrations due to be stepped at ``now``."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": "#k = :k AND #a <= :t",
            "ExpressionAttributeNames": {"#k": DUE_KEY, "#a": DUE_AT},
            "ExpressionAttributeValues": {":k": {"S": LIVE}, ":t": {"N": repr(now)}},
        }
        yield from (k[MIGRATIONS_KEY]["S"].split("#", 1)[1] for k in self._query(kwargs))

    def recent(self, limit: int = 50) -> list[Migration]:
        """The newest ``limit`` migrations, newest first."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": MIGRATIONS_RECENT_INDEX,
            "KeyConditionExpression": "#k = :k",
            "ExpressionAttributeNames": {"#k": MIGRATIONS_RECENT_KEY},
            "ExpressionAttributeValues": {":k": {"S": RECENT}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        page = self.client.query(**kwargs)
        return [Migration.from_item(item) for item in page.get("Items", [])]

    def policy_state(self, name: str) -> PolicyItem:
        """The policy state of a subject (or :data:`GLOBAL_POLICY`), strongly consistent."""
        item = self.client.get_item(
            TableName=self.table, Key=policy_key(name), ConsistentRead=True
        ).get("Item")
        if not item:
            return PolicyItem({})
        return PolicyItem(json.loads(item["body"]["S"]), int(item["version"]["N"]))

    def put_policy_state(
        self, name: str, current: PolicyItem, body: Mapping[str, Any], now: float
    ) -> PolicyItem:
        """Replace the policy state read as ``current``; :class:`Conflict` if it changed since."""
        version = current.version + 1
        item = {
            **policy_key(name),
            "version": {"N": str(version)},
            "body": {"S": json.dumps(dict(body), sort_keys=True)},
            EXPIRES_AT: {"N": str(int(now + POLICY_RETENTION))},
        }
        if current.version:
            condition: dict[str, Any] = {
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(current.version)}},
            }
        else:
            condition = {
                "ConditionExpression": "attribute_not_exists(#k)",
                "ExpressionAttributeNames": {"#k": MIGRATIONS_KEY},
            }
        self._write([{"Put": {"TableName": self.table, "Item": item, **condition}}])
        return PolicyItem(dict(body), version)

    def _query(self, kwargs: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            page = self.client.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _conditional_put(self, stored: Migration, version: int) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": self._item(stored),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": {":v": {"N": str(version)}},
            }
        }

    def _write(self, items: list[dict[str, Any]]) -> None:
        try:
            if len(items) == 1:
                self.client.put_item(**items[0]["Put"])
            else:
                self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in {"ConditionalCheckFailedException", "TransactionCanceledException"}:
                raise Conflict("item changed concurrently") from None
            raise

    def _item(self, m: Migration) -> dict[str, Any]:
        body = {
            "spec": m.spec,
            "data": m.data,
            "history": m.history,
            "created_at": m.created_at,
            "updated_at": m.updated_at,
            "due_at": m.due_at,
            "deadline": m.deadline,
            "grams": m.grams,
            "reason": m.reason,
        }
        item: dict[str, Any] = {
            **migration_key(m.migration_id),
            "id": {"S": m.migration_id},
            "kind": {"S": m.kind},
            "subject": {"S": m.subject},
            "state": {"S": str(m.state)},
            "version": {"N": str(m.version)},
            "body": {"S": json.dumps(body, sort_keys=True, default=str)},
            MIGRATIONS_RECENT_KEY: {"S": RECENT},
            "created_at": {"N": repr(m.created_at)},
        }
        if m.state.final:
            item[EXPIRES_AT] = {"N": str(int(m.updated_at + self.retention))}
        elif m.due_at is not None:
            item[DUE_KEY] = {"S": LIVE}
            item[DUE_AT] = {"N": repr(m.due_at)}
        return item
