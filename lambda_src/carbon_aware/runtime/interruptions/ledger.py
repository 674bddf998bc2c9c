"""Events already handled, by event id: a conditional PutItem in the idempotency table.

Items ``id = "interruption#<event id>"`` with the table's TTL attribute (``expiration``). A claim
that fails because the item exists means the event was handled (SQS delivers at least once, and a
rule may see the same event twice); a handling that fails releases its claim so the redelivery
handles it.
"""

from __future__ import annotations

from typing import Any

from carbon_aware.runtime.tables import IDEMPOTENCY_TTL_ATTRIBUTE

PREFIX = "interruption#"
KEEP = 7 * 86400.0


class EventLedger:
    """Claims and releases event ids (boto3 DynamoDB client)."""

    def __init__(self, client: Any, table: str, keep: float = KEEP) -> None:
        self.client, self.table, self.keep = client, table, keep

    def claim(self, event_id: str, now: float) -> bool:
        """Claim ``event_id``; False when it was claimed before (a duplicate)."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    "id": {"S": PREFIX + event_id},
                    IDEMPOTENCY_TTL_ATTRIBUTE: {"N": str(int(now + self.keep))},
                },
                ConditionExpression="attribute_not_exists(id)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, event_id: str) -> None:
        """Forget ``event_id`` (its handling failed and will be retried)."""
        self.client.delete_item(TableName=self.table, Key={"id": {"S": PREFIX + event_id}})
