"""``exporter``: DynamoDB Streams records of final and expired items to S3 as JSON lines.

See :mod:`carbon_aware.runtime.export` for the layout. Counts become metrics ``ExportedRecords``,
``ExportSkipped`` and ``ExportUnreadable`` (dimension ``Table``: the first table of the batch).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbon_aware.runtime import wiring
from carbon_aware.runtime.export import collect, write
from carbon_aware.runtime.observability import logger, metrics, tracer

METRICS = {
    "exported": "ExportedRecords",
    "skipped": "ExportSkipped",
    "unreadable": "ExportUnreadable",
}


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Export one batch of stream records; returns the object keys written and the counts."""
    current = wiring.export_settings()
    batch = collect(event.get("Records", []), wiring.clock().now())
    keys = write(batch, wiring.client("s3"), current.bucket, current.prefix)
    for name, metric in METRICS.items():
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=batch.counts[name])
    logger.info("exported", extra={"objects": keys, "counts": dict(batch.counts)})
    return {"objects": keys, **{k: batch.counts[k] for k in METRICS}}
