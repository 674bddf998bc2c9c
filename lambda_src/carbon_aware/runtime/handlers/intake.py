"""``intake``: "Workload Submitted" events from the control bus, submitted like ``POST /workloads``.

The event's ``detail`` is a submission (the API's body) plus an optional ``idempotency_key``; the
key defaults to the event ``id``, so a redelivered event stores one workload. Validation,
idempotency and planning are the API's own (:func:`carbon_aware.runtime.handlers.api.accept`). A
rejected event goes to the rejects queue as the original event plus ``errors``: never lost.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbon_aware.runtime import wiring
from carbon_aware.runtime.config import REJECTS_QUEUE_URL, ConfigError
from carbon_aware.runtime.handlers.api import IDEMPOTENCY, IN_PROGRESS, accept
from carbon_aware.runtime.observability import logger, metrics, tracer

DETAIL_TYPE = "Workload Submitted"
KEY_FIELD = "idempotency_key"


class SubmissionInProgress(RuntimeError):
    """The same key is being submitted right now: raised so EventBridge retries the event."""


def submit_event(event: dict[str, Any]) -> dict[str, Any]:
    """Submit the event's detail: ``{"status", "body"}`` as the API would answer."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return _rejected("detail", "must be a JSON object (the submission)")
    body = {k: v for k, v in detail.items() if k != KEY_FIELD}
    key = detail.get(KEY_FIELD, event.get("id"))
    if not isinstance(key, str) or not key:
        return _rejected(f"detail.{KEY_FIELD}", "must be a non-empty string")
    return accept(body, key)


def _rejected(field: str, message: str) -> dict[str, Any]:
    return {"status": 400, "body": {"errors": [{"field": field, "message": message}]}}


def reject(event: dict[str, Any], errors: list[dict[str, Any]]) -> None:
    """Keep a rejected event with its errors on the rejects queue."""
    queue_url = wiring.settings().rejects_queue_url
    if not queue_url:
        raise ConfigError(f"environment variable {REJECTS_QUEUE_URL} is required to reject")
    wiring.client("sqs").send_message(
        QueueUrl=queue_url, MessageBody=json.dumps({**event, "errors": errors}, default=str)
    )


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Submit one "Workload Submitted" event; a reject goes to the rejects queue."""
    IDEMPOTENCY.register_lambda_context(context)
    outcome = submit_event(event)
    body = outcome["body"]
    if outcome["status"] == 201:
        logger.info("submitted", extra={"event_id": event.get("id"), "workload_id": body["id"]})
        return {"accepted": True, "workload_id": body["id"], "status": body["status"]}
    errors = body["errors"]
    if IN_PROGRESS in errors:
        raise SubmissionInProgress(f"event {event.get('id')}: a submission with its key is running")
    reject(event, errors)
    metrics.add_metric(name="SubmissionRejected", unit=MetricUnit.Count, value=1)
    logger.warning("rejected", extra={"event_id": event.get("id"), "errors": errors})
    return {"accepted": False, "errors": errors}
