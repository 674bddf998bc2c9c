"""DynamoDB tables of the runtime, shared by the local stack and checked against Terraform.

Workloads table access patterns (no Scan anywhere):
- get / conditional update one workload: GetItem / UpdateItem on ``workload_id``;
- "due by status and time" (scheduler, dispatch sweeper, expiry): Query on the ``due`` index with
  ``due_key = "<STATUS>#<shard>"`` and ``due_at <= now``, over every shard. Final states drop both
  attributes, so the index is sparse and holds only live work. Shards spread a popular status
  over several partitions.
- list by status (API): the same index and key, without the time bound.
- "final records awaiting their oracle" (the sweep; runtime.oracle): the same index with
  ``due_key = "ORACLE#<shard>"`` and ``due_at`` = when the workload's window is fully observed; a
  SUCCEEDED record is queued there by its completion and leaves once its oracle is stored.

Fleets table access patterns (runtime.fleet.repository; no Scan, no index):
- a fleet's state (allocation, last change, scaling target per region): GetItem / conditional
  PutItem on ``fleet`` + ``sk = "state"`` (the write is conditional on the version read);
- record a decision: conditional PutItem on ``sk = "decision#<iso8601 time>"`` (TTL
  ``expires_at``);
- a fleet's latest decisions (API, CLI): Query on ``fleet`` with ``begins_with(sk, "decision#")``,
  newest first.

Migrations table access patterns (runtime.migrations.repository; no Scan):
- get / conditional update one migration: GetItem / PutItem on ``pk = "migration#<id>"``, the
  write conditional on the version read; every transition appends to the item's history;
- one live migration per subject (a fleet, a workload): ``pk = "lock#<subject>"`` created with
  ``attribute_not_exists`` in the same TransactWriteItems as the migration, deleted (conditional
  on naming it) in the same transaction as its final transition;
- "due to be stepped" (the sweep): Query on the ``due`` index with ``due_key = "live"`` and
  ``due_at <= now``; final migrations drop both attributes, so the index holds live ones only;
- recent migrations (API, CLI): Query on the ``recent`` index with ``kind_key = "migration"``,
  newest ``created_at`` first; final migrations expire (TTL ``expires_at``).
- the migration policy's state (the trigger pass; runtime.migrations.triggers): GetItem /
  PutItem on ``pk = "policy#<subject>"`` per subject and ``pk = "policy#global"`` for the surge
  guard, the write conditional on the version read (``attribute_not_exists`` for the first);
  items expire (TTL ``expires_at``) 30 days after their last write.
"""

from __future__ import annotations

from typing import Any

WORKLOADS_KEY = "workload_id"
DUE_INDEX = "due"
DUE_KEY = "due_key"
DUE_AT = "due_at"
EXPIRES_AT = "expires_at"
DUE_SHARDS = 8
# The due-index key prefix of final records awaiting their oracle (not a lifecycle state).
AWAITING_ORACLE = "ORACLE"

WORKLOADS_TABLE: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": WORKLOADS_KEY, "AttributeType": "S"},
        {"AttributeName": DUE_KEY, "AttributeType": "S"},
        {"AttributeName": DUE_AT, "AttributeType": "N"},
    ],
    "KeySchema": [{"AttributeName": WORKLOADS_KEY, "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": DUE_INDEX,
            "KeySchema": [
                {"AttributeName": DUE_KEY, "KeyType": "HASH"},
                {"AttributeName": DUE_AT, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
WORKLOADS_TTL_ATTRIBUTE = EXPIRES_AT

# Powertools idempotency persistence layer defaults (key "id", TTL "expiration").
IDEMPOTENCY_TABLE: dict[str, Any] = {
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "BillingMode": "PAY_PER_REQUEST",
}
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"

FLEETS_KEY = "fleet"
FLEETS_SORT_KEY = "sk"
FLEETS_TABLE: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": FLEETS_KEY, "AttributeType": "S"},
        {"AttributeName": FLEETS_SORT_KEY, "AttributeType": "S"},
    ],
    "KeySchema": [
        {"AttributeName": FLEETS_KEY, "KeyType": "HASH"},
        {"AttributeName": FLEETS_SORT_KEY, "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
FLEETS_TTL_ATTRIBUTE = EXPIRES_AT

MIGRATIONS_KEY = "pk"
MIGRATIONS_RECENT_INDEX = "recent"
MIGRATIONS_RECENT_KEY = "kind_key"
MIGRATIONS_TABLE: dict[str, Any] = {
    "AttributeDefinitions": [
        {"AttributeName": MIGRATIONS_KEY, "AttributeType": "S"},
        {"AttributeName": DUE_KEY, "AttributeType": "S"},
        {"AttributeName": DUE_AT, "AttributeType": "N"},
        {"AttributeName": MIGRATIONS_RECENT_KEY, "AttributeType": "S"},
        {"AttributeName": "created_at", "AttributeType": "N"},
    ],
    "KeySchema": [{"AttributeName": MIGRATIONS_KEY, "KeyType": "HASH"}],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": DUE_INDEX,
            "KeySchema": [
                {"AttributeName": DUE_KEY, "KeyType": "HASH"},
                {"AttributeName": DUE_AT, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},  # as the module projects every index
        },
        {
            "IndexName": MIGRATIONS_RECENT_INDEX,
            "KeySchema": [
                {"AttributeName": MIGRATIONS_RECENT_KEY, "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        },
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
MIGRATIONS_TTL_ATTRIBUTE = EXPIRES_AT
