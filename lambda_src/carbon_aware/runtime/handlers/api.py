"""``api``: submit, get, cancel and list workloads (API Gateway HTTP API, IAM auth).

POST /workloads        submit; 201 with the stored workload. An ``Idempotency-Key`` header makes a
                       retried submit return the first response (Powertools idempotency).
GET /workloads/{id}    200 or 404.
DELETE /workloads/{id} cancel: 200, 404, or 409 when the workload already finished. A RUNNING
                       workload's target is stopped first (ECS, Batch, Step Functions; 502 when
                       that fails) and its grams until now are recorded; lambda and eventbridge
                       runs cannot be stopped, which its history says.
GET /workloads?status= list live workloads in one state (due index; no Scan).
GET /fleets, /fleets/{fleet}, /fleets/{fleet}/decisions: spot fleets (runtime.fleet.routes).
GET/POST /migrations, /migrations/{id}, /migrations/{id}/cancel: migrations
(runtime.migrations.routes).
Invalid input is a 400 with ``{"errors": [{"field", "message"}]}``; nothing is written. Any body,
however malformed (not JSON, not UTF-8, bad base64, nested deeply, too large), gets a 4xx.
"""

from __future__ import annotations

import json
from base64 import b64decode
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from carbon_aware.runtime import wiring
from carbon_aware.runtime.cancel import Canceller
from carbon_aware.runtime.fleet import routes as fleet_routes
from carbon_aware.runtime.http_api import Request, Response, Router, error
from carbon_aware.runtime.migrations import routes as migration_routes
from carbon_aware.runtime.observability import logger, metrics, tracer
from carbon_aware.runtime.repository import Conflict, UnreadableRecord, WorkloadRecord
from carbon_aware.runtime.states import LIVE, State
from carbon_aware.runtime.submission import SubmissionError, parse_submission

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_LIST = 100
MAX_BODY_BYTES = 64 * 1024
app = Router()
fleet_routes.register(app)
migration_routes.register(app)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


class BodyError(ValueError):
    """The request body cannot be read as JSON; ``status`` is the 4xx to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_body(raw: str | None, base64_encoded: bool) -> object:
    """The JSON document in a request body (base64-decoded when API Gateway says so)."""
    text = raw or ""
    if len(text) > MAX_BODY_BYTES * 4 // 3 + 4:
        raise BodyError(413, f"must be at most {MAX_BODY_BYTES} bytes")
    try:
        data = b64decode(text, validate=True) if base64_encoded else text.encode("utf-8")
    except ValueError:
        raise BodyError(400, "must be valid base64 of UTF-8 JSON") from None
    if len(data) > MAX_BODY_BYTES:
        raise BodyError(413, f"must be at most {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise BodyError(400, "must be UTF-8") from None
    except (ValueError, RecursionError):
        raise BodyError(400, "must be valid JSON") from None


def submit(request: dict[str, Any]) -> dict[str, Any]:
    """Validate and store one submission; returns ``{"status", "body"}`` for the response."""
    now = wiring.clock().now()
    try:
        spec = parse_submission(request["body"], now, wiring.settings())
    except SubmissionError as exc:
        return {"status": 400, "body": {"errors": [{"field": exc.field, "message": exc.message}]}}
    try:
        record = wiring.repository().create(spec["id"], spec, now)
    except Conflict:
        return {"status": 409, "body": {"errors": [{"field": "id", "message": "already exists"}]}}
    scheduler_arn = wiring.settings().scheduler_arn
    if scheduler_arn:
        wiring.client("lambda").invoke(
            FunctionName=scheduler_arn,
            InvocationType="Event",
            Payload=json.dumps({"workload_id": record.workload_id}).encode(),
        )
    metrics.add_metric(name="WorkloadSubmitted", unit="Count", value=1)
    return {"status": 201, "body": record.to_dict()}


# One per container, as Powertools documents: each invocation registers its Lambda context so that
# an in-progress key expires with the invocation that holds it.
IDEMPOTENCY = IdempotencyConfig(
    event_key_jmespath="key", payload_validation_jmespath="body", expires_after_seconds=86400
)


@cache
def _idempotent_submit(client: Any) -> Any:
    """``submit`` made idempotent over ``client`` (keyed on it: a rewired client, a new store)."""
    store = DynamoDBPersistenceLayer(
        table_name=wiring.settings().idempotency_table, boto3_client=client
    )
    return idempotent_function(
        submit, data_keyword_argument="request", persistence_store=store, config=IDEMPOTENCY
    )


IN_PROGRESS = {"field": "Idempotency-Key", "message": "a request with this key is in progress"}


def accept(body: object, key: str | None) -> dict[str, Any]:
    """Submit ``body``, idempotently under ``key`` when given: ``{"status", "body"}``.

    The one submit path: the API's POST and the ``intake`` function's events both come here.
    """
    request = {"key": key, "body": body}
    try:
        if key and wiring.settings().idempotency_table:
            return _idempotent_submit(wiring.client("dynamodb"))(request=request)
        return submit(request)
    except IdempotencyValidationError:
        reused = {"field": "Idempotency-Key", "message": "reused with a different body"}
        return {"status": 422, "body": {"errors": [reused]}}
    except IdempotencyAlreadyInProgressError:
        return {"status": 409, "body": {"errors": [IN_PROGRESS]}}


@app.route("POST", "/workloads")
def post_workload(request: Request) -> Response:
    """Submit a workload."""
    try:
        body = read_body(request.body, request.base64_encoded)
    except BodyError as exc:
        return error(exc.status, "body", str(exc))
    outcome = accept(body, request.headers.get(IDEMPOTENCY_HEADER))
    return Response(outcome["status"], outcome["body"])


@app.route("GET", "/workloads/{workload_id}")
def get_workload(request: Request, workload_id: str) -> Response:
    """One workload with its decision, dispatch, result and history."""
    record = wiring.repository().get(workload_id)
    if record is None:
        return error(404, "id", "no such workload")
    return Response(200, record.to_dict())


@app.route("DELETE", "/workloads/{workload_id}")
def cancel_workload(request: Request, workload_id: str) -> Response:
    """Cancel a workload that has not finished; a running one has its target stopped."""
    repo = wiring.repository()
    for _ in range(3):
        record = repo.get(workload_id)
        if record is None:
            return error(404, "id", "no such workload")
        if record.status.final:
            return error(409, "status", f"already {record.status}")
        try:
            canceller: Canceller = wiring.canceller()
            cancelled = canceller.cancel(record, wiring.clock().now())
        except Conflict:
            continue
        except (ClientError, BotoCoreError) as exc:
            return error(502, "target", f"could not stop the running target: {exc}")
        schedule = (record.decision or {}).get("schedule")
        if schedule:
            wiring.schedules().delete(schedule)
        return Response(200, cancelled.to_dict())
    return error(409, "status", "changed concurrently; retry")


@app.route("GET", "/workloads")
def list_workloads(request: Request) -> Response:
    """Live workloads in one state: ``?status=PENDING`` (default) … ``RUNNING``."""
    status = request.query.get("status", "PENDING")
    if status not in LIVE:
        return error(400, "status", f"must be one of {', '.join(LIVE)}")
    records = []
    for item in wiring.repository().due_items(State(status)):
        try:
            records.append(WorkloadRecord.from_item(item).to_dict())
        except UnreadableRecord:
            logger.warning(
                "list: unreadable record", extra={"workload_id": item.get("workload_id")}
            )
            metrics.add_metric(name="UnreadableRecord", unit="Count", value=1)
            continue
        if len(records) >= MAX_LIST:
            break
    return Response(200, {"workloads": records})


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway HTTP API (payload v2) entry point."""
    IDEMPOTENCY.register_lambda_context(context)
    return app.resolve(event)
