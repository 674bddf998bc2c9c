"""``interruptions``: SQS batches of interruption events (partial batch failures), and the
pipeline's self-check (``{"action": "self_check"}``, daily, and on the first batch)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbon_aware.runtime import wiring
from carbon_aware.runtime.interruptions.events import NotAnInterruption, parse
from carbon_aware.runtime.interruptions.ledger import EventLedger
from carbon_aware.runtime.interruptions.responder import Responder
from carbon_aware.runtime.interruptions.selfcheck import problems
from carbon_aware.runtime.interruptions.settings import InterruptionSettings
from carbon_aware.runtime.observability import logger, metrics, tracer

copy_config_to_registered_loggers(source_logger=logger, include={"carbon_aware"})
DRAIN_MARGIN_MS = 10_000
_checked: list[bool] = []


class PipelineBroken(RuntimeError):
    """The self-check found the pipeline not wired."""


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A batch: ``{"batchItemFailures": [...]}``; a self-check: ``{"ok": true}`` or raises."""
    settings = InterruptionSettings.from_env()
    if event.get("action") == "self_check":
        found = self_check(settings)
        if found:
            raise PipelineBroken("; ".join(found))
        return {"ok": True}
    if not _checked:
        _checked.append(True)
        self_check(settings)
    responder = wiring.interruption_responder(
        settings,
        emit,
        lambda: max(0.0, (context.get_remaining_time_in_millis() - DRAIN_MARGIN_MS) / 1000),
    )
    ledger = EventLedger(wiring.client("dynamodb"), wiring.settings().idempotency_table)
    failures = []
    for record in event.get("Records", []):
        try:
            outcome = handle(record, responder, ledger)
            logger.info(
                "interruption", extra={"message_id": record.get("messageId"), "outcome": outcome}
            )
        except Exception:  # one bad record never stops the batch: it is retried, then dead-lettered
            logger.exception("interruption failed", extra={"message_id": record.get("messageId")})
            emit("InterruptionFailures", 1, {})
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}


def handle(record: dict[str, Any], responder: Responder, ledger: EventLedger) -> str:
    """One SQS message: parse, claim the event id, act (releasing the claim on failure)."""
    try:
        event = parse(json.loads(record["body"]))
    except NotAnInterruption as exc:
        emit("InterruptionsIgnored", 1, {})
        return f"ignored: {exc}"
    now = wiring.clock().now()
    if not ledger.claim(event.event_id, now):
        emit("InterruptionDuplicates", 1, {})
        return "duplicate"
    try:
        return responder.handle(event, now)
    except Exception:
        ledger.release(event.event_id)
        raise


def self_check(settings: InterruptionSettings) -> list[str]:
    """Run the wiring check; log and emit ``InterruptionPipelineBroken`` (1 when broken)."""
    home = wiring.settings().home_region
    found = problems(
        settings.wiring, lambda r: wiring.client("events", r), wiring.client("sqs"), home
    )
    emit("InterruptionPipelineBroken", 1 if found else 0, {})
    if found:
        logger.error("interruption pipeline not wired", extra={"problems": found})
    return found


def emit(name: str, value: float, dimensions: dict[str, str]) -> None:
    """One metric in the CarbonAware namespace with its own dimensions."""
    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=metrics.namespace
    ) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
