"""The boto3 ``Table`` calls the repository makes, on a low-level DynamoDB client.

boto3 resources are not thread-safe and clients are: the sweeper plans with a pool of threads that
share one repository, so the repository talks to DynamoDB through this adapter. Items and values
go in and come out as plain Python (numbers as Decimal), exactly as with a ``Table`` resource.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serialise = TypeSerializer().serialize
_deserialise = TypeDeserializer().deserialize


def _wire(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serialise(v) for k, v in values.items()}


def _python(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserialise(v) for k, v in item.items()}


class ClientTable:
    """``get_item``, ``put_item``, ``update_item`` and ``query`` of one table."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def get_item(self, *, Key: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = self.client.get_item(TableName=self.name, Key=_wire(Key), **kwargs)
        return {"Item": _python(response["Item"])} if "Item" in response else {}

    def put_item(self, *, Item: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        self.client.put_item(TableName=self.name, Item=_wire(Item), **kwargs)
        return {}

    def update_item(self, *, Key: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if "ExpressionAttributeValues" in kwargs:
            kwargs["ExpressionAttributeValues"] = _wire(kwargs["ExpressionAttributeValues"])
        response = self.client.update_item(TableName=self.name, Key=_wire(Key), **kwargs)
        return {"Attributes": _python(response.get("Attributes", {}))}

    def query(self, **kwargs: Any) -> dict[str, Any]:
        if "ExpressionAttributeValues" in kwargs:
            kwargs["ExpressionAttributeValues"] = _wire(kwargs["ExpressionAttributeValues"])
        if "ExclusiveStartKey" in kwargs:
            kwargs["ExclusiveStartKey"] = _wire(kwargs["ExclusiveStartKey"])
        page = self.client.query(TableName=self.name, **kwargs)
        out: dict[str, Any] = {"Items": [_python(i) for i in page.get("Items", [])]}
        if "LastEvaluatedKey" in page:
            out["LastEvaluatedKey"] = _python(page["LastEvaluatedKey"])
        return out
