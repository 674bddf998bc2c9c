"""``completion``: records target state changes (ECS, Batch, Step Functions, Lambda, custom)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbon_aware.runtime import wiring
from carbon_aware.runtime.completion import parse_event
from carbon_aware.runtime.observability import logger, metrics, tracer


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Record one completion event; events that are not completions are ignored."""
    finished = parse_event(event, wiring.settings().name_prefix)
    if finished is None:
        return {"recorded": False}
    record = wiring.completer().complete(finished, wiring.clock().now())
    if record is None or record.result is None:
        return {"recorded": False, "workload_id": finished.workload_id}
    if not record.status.final:  # a segment ended; the workload goes on (runtime.segments)
        logger.info("segment ended", extra={"workload_id": record.workload_id})
        return {"recorded": True, "workload_id": record.workload_id, "status": str(record.status)}
    result = record.result
    metrics.add_metric(name=f"Workload{record.status.title()}", unit=MetricUnit.Count, value=1)
    if "emissions_g" in result:
        metrics.add_metric(
            name="EmissionsGrams", unit=MetricUnit.Count, value=result["emissions_g"]
        )
        metrics.add_metric(
            name="EmissionsSavedGrams", unit=MetricUnit.Count, value=result["saved_g"]
        )
    logger.info("completed", extra={"workload_id": record.workload_id, "result": result})
    return {"recorded": True, "workload_id": record.workload_id, "status": str(record.status)}
