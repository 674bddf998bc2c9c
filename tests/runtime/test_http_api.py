"""The api function's router on real payload 2.0 requests (../shared/data/aws_events)."""

from __future__ import annotations

import json

import pytest
from tests.runtime.events import sample

from carbon_aware.runtime.http_api import Request, Response, Router, error

IAM_REQUEST = "apigw_http_v2_iam_authorizer_powertools_ts.json"


def request_event(method: str, path: str, **extra: object) -> dict:
    """The real IAM-authorised HTTP API request, sent to ``method path``."""
    event = sample(IAM_REQUEST)
    event["rawPath"] = path
    event["requestContext"]["http"].update(method=method, path=path)
    return {**event, **extra}


@pytest.fixture
def router() -> Router:
    app = Router()

    @app.route("GET", "/workloads/{workload_id}")
    def get(request: Request, workload_id: str) -> Response:
        return Response(200, {"id": workload_id, "agent": request.headers.get("user-agent")})

    @app.route("POST", "/workloads")
    def post(request: Request) -> Response:
        return Response(201, {"body": request.body, "key": request.headers.get("idempotency-key")})

    return app


def test_routes_by_method_and_path_with_parameters(router: Router) -> None:
    response = router.resolve(request_event("GET", "/workloads/etl-42"))
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    body = json.loads(response["body"])
    assert body["id"] == "etl-42"
    assert body["agent"] == sample(IAM_REQUEST)["headers"]["user-agent"]


def test_header_names_are_case_insensitive(router: Router) -> None:
    event = request_event("POST", "/workloads", body="{}", headers={"Idempotency-Key": "k1"})
    response = router.resolve(event)
    assert (response["statusCode"], json.loads(response["body"])) == (
        201,
        {"body": "{}", "key": "k1"},
    )


def test_unknown_path_is_404_and_other_method_405(router: Router) -> None:
    missing = router.resolve(request_event("GET", "/nothing"))
    assert missing["statusCode"] == 404
    assert json.loads(missing["body"])["errors"][0]["field"] == "path"
    wrong = router.resolve(request_event("DELETE", "/workloads"))
    assert wrong["statusCode"] == 405
    assert json.loads(wrong["body"])["errors"][0]["field"] == "method"


def test_a_path_parameter_never_spans_segments(router: Router) -> None:
    assert router.resolve(request_event("GET", "/workloads/a/b"))["statusCode"] == 404


def test_error_shape() -> None:
    assert error(409, "status", "already SUCCEEDED").to_event()["body"] == json.dumps(
        {"errors": [{"field": "status", "message": "already SUCCEEDED"}]}
    )
