"""``scheduler``: plans a workload on submit; on its timer, sweeps the due index.

The sweep's counts become ``Sweep_<name>`` metrics: ``Sweep_planned_SCHEDULED``, …,
``Sweep_record_error`` (unexpected errors, each logged with its workload id),
``Sweep_poison_failed`` (records moved to FAILED after repeated errors) and
``Sweep_transient_error``, ``Sweep_oracle_stored`` / ``_waiting`` / ``_error`` (oracles
settled); and the service metrics of :mod:`carbon_aware.runtime.service_metrics`
(due-index lag, stuck workloads, dispatch SLI counts, carbon-efficiency SLI grams, decisions on
estimates).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from carbon_aware.runtime import wiring
from carbon_aware.runtime.observability import logger, metrics, tracer
from carbon_aware.runtime.service_metrics import SWEEP_FIGURES, decision_metrics, sweep_metrics
from carbon_aware.runtime.states import State
from carbon_aware.runtime.sweeper import Sweeper


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``{"workload_id"}`` plans that workload; anything else (the timer) runs a sweep."""
    now = wiring.clock().now()
    if "workload_id" in event:
        record = wiring.repository().get(event["workload_id"])
        if record is None or record.status != State.PENDING:
            return {"planned": False}
        record = wiring.planner().plan(record, now)
        metrics.add_metric(name=f"Planned{record.status.title()}", unit=MetricUnit.Count, value=1)
        for name, value in decision_metrics(record).items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        return {"planned": True, "status": str(record.status)}
    workers = wiring.settings().sweeper_workers
    sweeper = Sweeper(
        wiring.repository(),
        wiring.planner(),
        wiring.dispatcher(),
        workers,
        wiring.watchdog(),
        wiring.oracle_settler(),
    )
    counts = sweeper.sweep(now)
    for name, value in counts.items():
        if name not in SWEEP_FIGURES:
            metrics.add_metric(
                name=f"Sweep_{name.replace(':', '_')}", unit=MetricUnit.Count, value=value
            )
    for name, value in sweep_metrics(counts).items():
        unit = MetricUnit.Seconds if name.endswith("Seconds") else MetricUnit.Count
        metrics.add_metric(name=name, unit=unit, value=value)
    logger.info("sweep", extra={"counts": dict(counts)})
    return {"sweep": dict(counts)}
