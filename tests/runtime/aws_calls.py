"""Record the AWS calls our code makes (operation and parameters), optionally failing some."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError


def record_calls(
    monkeypatch: pytest.MonkeyPatch, fail: dict[str, str] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """Every call from now on as ``(operation, region, params)``; an operation named in ``fail``
    raises a ClientError with that code instead of reaching the (moto) service."""
    calls: list[tuple[str, str, dict[str, Any]]] = []
    original: Callable[..., Any] = BaseClient._make_api_call

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append((operation, client.meta.region_name, params))
        if fail and operation in fail:
            error = {"Code": fail[operation], "Message": f"{operation} refused"}
            raise ClientError(
                {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
            )
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", record)
    return calls
