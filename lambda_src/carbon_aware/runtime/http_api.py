"""A small router for API Gateway HTTP API / Lambda function URL events (payload format 2.0).

The api function serves four routes; Powertools' event handler package would import every
resolver it ships (AppSync, Bedrock agents, VPC Lattice, ...) on each cold start, which measured
as the largest share of the api function's import time after boto3 itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Request:
    """The parts of a payload 2.0 event a route reads."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    base64_encoded: bool = False

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Request:
        """Read a payload 2.0 event; header names are case-insensitive (kept lower case)."""
        http = (event.get("requestContext") or {}).get("http") or {}
        headers = event.get("headers") or {}
        return cls(
            method=str(http.get("method", "")).upper(),
            path=str(event.get("rawPath") or http.get("path") or "/"),
            headers={str(k).lower(): str(v) for k, v in headers.items()},
            query=dict(event.get("queryStringParameters") or {}),
            body=event.get("body"),
            base64_encoded=bool(event.get("isBase64Encoded")),
        )


@dataclass(frozen=True)
class Response:
    """A JSON response."""

    status: int
    body: object

    def to_event(self) -> dict[str, Any]:
        """The payload 2.0 response Lambda returns to API Gateway."""
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps(self.body, default=str),
            "isBase64Encoded": False,
        }


def error(status: int, field_name: str, message: str) -> Response:
    """The API's error shape: ``{"errors": [{"field", "message"}]}``."""
    return Response(status, {"errors": [{"field": field_name, "message": message}]})


Handler = Callable[..., Response]


class Router:
    """Routes by method and path template (``/workloads/{workload_id}``); path parameters are
    passed to the handler as keyword arguments, after the request."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        """Register a handler for ``method`` and ``template``."""
        pattern = re.compile(
            "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/")) + "/?$"
        )

        def register(handler: Handler) -> Handler:
            self.routes.append((method.upper(), pattern, handler))
            return handler

        return register

    def resolve(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The response event for ``event``: 404 for an unknown path, 405 for a known path with
        another method."""
        request = Request.from_event(event)
        path_known = False
        for method, pattern, handler in self.routes:
            match = pattern.match(request.path)
            if match is None:
                continue
            path_known = True
            if method == request.method:
                return handler(request, **match.groupdict()).to_event()
        if path_known:
            return error(405, "method", f"{request.method} is not allowed here").to_event()
        return error(404, "path", f"no route {request.path}").to_event()
