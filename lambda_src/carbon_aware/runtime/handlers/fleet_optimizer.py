"""``fleet_optimizer``: on its schedule, run every configured spot fleet once. Never raises."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbon_aware.runtime import wiring
from carbon_aware.runtime.config import ConfigError
from carbon_aware.runtime.fleet.optimizer import FleetOptimizer
from carbon_aware.runtime.observability import logger, metrics, tracer

copy_config_to_registered_loggers(source_logger=logger, include={"carbon_aware"})


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Run every fleet (or the fleets named in ``event["fleets"]``: the interruptions function
    asks for a run of the fleet that lost capacity); ``{"ok", "fleets", "failed", "errors"}`` or
    ``{"ok": false, "error"}``."""
    try:
        optimizer: FleetOptimizer = wiring.fleet_optimizer(emit)
    except (ConfigError, ValueError) as exc:
        logger.error("fleet optimizer not configured", extra={"error": str(exc)})
        metrics.add_metric(name="FleetFailures", unit=MetricUnit.Count, value=1)
        return {"ok": False, "error": f"configuration: {exc}"}
    only = event.get("fleets") if isinstance(event, dict) else None
    if only is not None and not (isinstance(only, list) and all(isinstance(n, str) for n in only)):
        logger.error("bad fleets filter", extra={"fleets": only})
        return {"ok": False, "error": "fleets must be a list of fleet names"}
    summary = optimizer.run(wiring.clock().now(), only)
    logger.info("fleets run", extra={"failed": summary["failed"], "errors": summary["errors"]})
    return {"ok": summary["failed"] == 0, **summary}


def emit(name: str, value: float, dimensions: dict[str, str]) -> None:
    """One metric in the CarbonAware namespace with its own dimensions."""
    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=metrics.namespace
    ) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
