"""A boto3 ``Table`` surface on moto's DynamoDB backend, without HTTP: for fast race trials.

Conditions and updates are evaluated by moto's own DynamoDB model (the same code that answers the
HTTP API in the lifecycle tests); only botocore's request/response round-trip is skipped. Each
call holds one lock, as DynamoDB applies each request atomically.
"""

from __future__ import annotations

import threading
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.exceptions import ConditionalCheckFailed
from moto.dynamodb.models import dynamodb_backends

_to = TypeSerializer().serialize
_from = TypeDeserializer().deserialize


def _wire(values: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {k: _to(v) for k, v in values.items()}


def _plain(item: Any) -> dict[str, Any]:
    return {k: _from(v) for k, v in item.to_json()["Attributes"].items()}


class DirectTable:
    """``get_item``, ``put_item`` and ``update_item`` as the repository calls them."""

    def __init__(self, name: str, region: str) -> None:
        self.name = name
        self.backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
        self.lock = threading.Lock()

    def get_item(self, Key: dict[str, Any], ConsistentRead: bool = False) -> dict[str, Any]:
        with self.lock:
            item = self.backend.get_item(self.name, _wire(Key))
        return {"Item": _plain(item)} if item is not None else {}

    def put_item(self, Item: dict[str, Any], ConditionExpression: str | None = None) -> dict:
        with self.lock, _client_errors("PutItem"):
            self.backend.put_item(self.name, _wire(Item), condition_expression=ConditionExpression)
        return {}

    def update_item(self, **kwargs: Any) -> dict[str, Any]:
        with self.lock, _client_errors("UpdateItem"):
            item = self.backend.update_item(
                self.name,
                _wire(kwargs["Key"]),
                kwargs["UpdateExpression"],
                kwargs.get("ExpressionAttributeNames", {}),
                _wire(kwargs.get("ExpressionAttributeValues", {})),
                condition_expression=kwargs.get("ConditionExpression"),
            )
        return {"Attributes": _plain(item)}


class _client_errors:
    """Turn moto's condition failure into the ClientError boto3 raises."""

    def __init__(self, operation: str) -> None:
        self.operation = operation

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        if isinstance(exc, ConditionalCheckFailed):
            error = {"Code": "ConditionalCheckFailedException", "Message": str(exc)}
            raise ClientError({"Error": error}, self.operation) from None
        return False
