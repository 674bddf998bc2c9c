"""``executor``: invoked by a one-time EventBridge Scheduler schedule to dispatch one workload."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbon_aware.runtime import wiring
from carbon_aware.runtime.dispatcher import Dispatcher
from carbon_aware.runtime.observability import logger, metrics, tracer
from carbon_aware.runtime.segments import END
from carbon_aware.runtime.service_metrics import dispatch_latency, dispatch_outcome


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Dispatch ``{"workload_id", "version"}``, or start or end a segment (``{"workload_id",
    "plan", "segment", "action"}``); a lost race or stale schedule is a no-op."""
    dispatcher: Dispatcher = wiring.dispatcher()
    now = wiring.clock().now()
    if event.get("action") == END:
        record = dispatcher.end_segment(event["workload_id"], event["plan"], event["segment"], now)
        stopping = (
            record is not None
            and "stop_requested_at"
            in (
                (record.segments or {}).get("runs", [{}] * (event["segment"] + 1))[event["segment"]]
            )
        )
        metrics.add_metric(name="SegmentStops", unit=MetricUnit.Count, value=int(stopping))
        return {"workload_id": event["workload_id"], "status": record and str(record.status)}
    if "segment" in event:
        record = dispatcher.start_segment(
            event["workload_id"], event["plan"], event["segment"], now
        )
    else:
        record = dispatcher.dispatch(event["workload_id"], event.get("version"), now)
    if record is None:
        metrics.add_metric(name="DispatchRaceLost", unit=MetricUnit.Count, value=1)
        return {"workload_id": event["workload_id"], "status": None}
    metrics.add_metric(name=f"Dispatch{record.status.title()}", unit=MetricUnit.Count, value=1)
    for name, value in dispatch_outcome(record.status).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    latency = dispatch_latency(record)
    if latency is not None:
        metrics.add_metric(name="DispatchLatencySeconds", unit=MetricUnit.Seconds, value=latency)
    logger.info("dispatch", extra={"workload_id": record.workload_id, "status": record.status})
    return {"workload_id": record.workload_id, "status": str(record.status)}
